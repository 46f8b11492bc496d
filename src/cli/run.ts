/** `lnmux run`: intercepts on every node until SIGINT / SIGTERM. */
import type { Command } from 'commander';
import { loadConfigFile } from '../mux/config.js';
import { Mux } from '../mux/mux.js';

export function runCommand(cli: Command, configPath: () => string): void {
  cli
    .command('run')
    .description('run the multiplexer: intercept HTLCs on every node and settle invoices')
    .action(async () => {
      // Listen first: a ctrl-c during start-up still stops cleanly.
      const stopRequested = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      const mux = await Mux.open(loadConfigFile(configPath()));
      await mux.start();
      process.stderr.write('lnmux running; press ctrl-c to exit\n');
      await stopRequested;
      await mux.stop();
      process.stderr.write('lnmux stopped\n');
    });
}
