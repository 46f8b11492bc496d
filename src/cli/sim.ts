/** `lnmux sim`: runs a simulated LND cluster until SIGINT / SIGTERM, and writes how to reach it. */
import { Option, type Command } from 'commander';
import { runSimulator } from '../sim/index.js';
import { positiveInteger } from './flags.js';

export function simCommand(cli: Command): void {
  cli
    .command('sim')
    .description('run a simulated LND cluster (for trying lnmux without a Lightning network)')
    .addOption(new Option('--nodes <n>', 'number of nodes').argParser(positiveInteger).default(3n, '3'))
    .option('--dir <dir>', 'folder for the nodes\' certificates, macaroons and cluster.json')
    .option('--block-interval <seconds>', 'mine a block every this many seconds', positiveInteger)
    .action(async (flags: { nodes: bigint; dir?: string; blockInterval?: bigint }) => {
      const sim = await runSimulator({
        nodes: Number(flags.nodes),
        ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
        ...(flags.blockInterval !== undefined ? { blockIntervalMs: Number(flags.blockInterval) * 1000 } : {}),
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`cluster description: ${sim.infoFile}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sim.stop();
    });
}
