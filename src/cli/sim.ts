/**
 * `lnmux sim`: runs a simulated LND cluster until SIGINT / SIGTERM, and writes how to reach it
 * (cluster.json) and a ready multiplexer.yml. `lnmux sim pay` pays an invoice from the running
 * simulator's payer, through the control endpoint the simulator serves on loopback (its address is in
 * cluster.json): the payer's channels live in the simulator's process.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { runSimulator, type SimClusterDescription, type SimPayOutcome } from '../sim/index.js';
import { positiveInteger } from './flags.js';

const DEFAULT_DIR = 'lnmux-sim';

export function simCommand(cli: Command): void {
  const sim = cli
    .command('sim')
    .description('run a simulated LND cluster (for trying lnmux without a Lightning network)')
    .addOption(new Option('--nodes <n>', 'number of nodes').argParser(positiveInteger).default(3n, '3'))
    .option('--dir <dir>', 'folder for the nodes\' certificates, macaroons, cluster.json and multiplexer.yml (kept)', DEFAULT_DIR)
    .option('--seed <seed>', 'derive every key from this seed: the same pubkeys (and lnmux identity key) on every run')
    .addOption(new Option('--base-port <port>', 'node i listens on port+i, the control endpoint on port+100 (default: free ports)').argParser(positiveInteger))
    .option('--block-interval <seconds>', 'mine a block every this many seconds', positiveInteger)
    .action(async (flags: { nodes: bigint; dir: string; seed?: string; basePort?: bigint; blockInterval?: bigint }) => {
      const running = await runSimulator({
        nodes: Number(flags.nodes),
        dir: resolve(flags.dir),
        ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
        ...(flags.basePort !== undefined ? { basePort: Number(flags.basePort) } : {}),
        controlPort: flags.basePort !== undefined ? Number(flags.basePort) + 100 : 0,
        ...(flags.blockInterval !== undefined ? { blockIntervalMs: Number(flags.blockInterval) * 1000 } : {}),
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`cluster description: ${running.infoFile}\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await running.stop();
    });
  sim
    .command('pay <payment_request>')
    .description('pay an invoice from the running simulator\'s payer; prints the outcome as JSON (exit 1 if it failed)')
    .option('--via <node>', 'enter the cluster through this node (its name, e.g. node-0, or pubkey)')
    .option('--dir <dir>', 'the simulator\'s folder (its cluster.json)', DEFAULT_DIR)
    .action(async (paymentRequest: string, flags: { via?: string; dir: string }) => {
      // `sim` has a --dir of its own: commander gives a --dir after `pay` to it.
      const dir = flags.dir !== DEFAULT_DIR ? flags.dir : (sim.opts() as { dir: string }).dir;
      const file = join(resolve(dir), 'cluster.json');
      let description: SimClusterDescription;
      try {
        description = JSON.parse(readFileSync(file, 'utf8')) as SimClusterDescription;
      } catch (error) {
        throw new Error(`cannot read ${file} (is lnmux sim running with --dir ${dir}?): ${(error as Error).message}`, { cause: error });
      }
      if (description.control === undefined) throw new Error(`${file} names no control endpoint: restart lnmux sim`);
      const response = await fetch(`http://${description.control}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ paymentRequest, ...(flags.via !== undefined ? { via: flags.via } : {}) }),
      }).catch((error: unknown) => {
        throw new Error(`the simulator does not answer at ${description.control} (is lnmux sim running?): ${(error as Error).message}`, { cause: error });
      });
      const outcome = (await response.json()) as SimPayOutcome;
      process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
      if (outcome.status !== 'succeeded') process.exitCode = 1;
    });
}
