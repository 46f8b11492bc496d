/** `lnmux demo`: flags and exit status over the demo scenario (src/demo/scenario.ts). */
import type { Command } from 'commander';
import { runDemo } from '../demo/scenario.js';

export function demoCommand(cli: Command): void {
  cli
    .command('demo')
    .description('run lnmux against a simulated 3-node cluster with an embedded database, and pay invoices')
    .option('--verbose', "show lnmux's own logs on stderr")
    .action(async (flags: { verbose?: boolean }) => {
      const ok = await runDemo({ verbose: flags.verbose === true });
      if (!ok) throw new Error('demo failed: see the lines above');
    });
}
