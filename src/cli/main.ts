/**
 * The `lnmux` command line: thin over the library. Every command reads the same config file
 * (`-c multiplexer.yml`); errors name the flag or the config field and exit with status 2 (usage) or 1.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../mux/config.js';
import { UsageError } from './flags.js';
import { addInvoiceCommand } from './addinvoice.js';
import { demoCommand } from './demo.js';
import { initCommand } from './init.js';
import { invoiceCommand } from './invoice.js';
import { migrateCommand } from './migrate.js';
import { packageVersion } from './package-version.js';
import { runCommand } from './run.js';
import { setCommand } from './set.js';
import { simCommand } from './sim.js';
import { statusCommand } from './status.js';
import { subscribeCommand } from './subscribe.js';

export { packageVersion } from './package-version.js';

export function program(): Command {
  const cli = new Command('lnmux')
    .description('Lightning multiplexer: fail-over for incoming Lightning payments across a cluster of LND nodes')
    .version(packageVersion(), '-V, --version', 'print the version of lnmux')
    .option('-c, --config <file>', 'configuration file', 'multiplexer.yml')
    .showHelpAfterError()
    .exitOverride();
  const configPath = () => cli.opts<{ config: string }>().config;

  initCommand(cli, configPath);
  migrateCommand(cli, configPath);
  runCommand(cli, configPath);
  addInvoiceCommand(cli, configPath);
  invoiceCommand(cli, configPath);
  setCommand(cli, configPath);
  statusCommand(cli, configPath);
  subscribeCommand(cli, configPath);
  demoCommand(cli);
  simCommand(cli);
  return cli;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has printed its own parse errors already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      process.stderr.write(`lnmux: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`lnmux: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`lnmux: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
