/**
 * `lnmux migrate init|up [target]|down [target]|version`: the database schema. `init` and `up` also bind
 * the database to the configured identity key's public key (from schema version 3 on), or check it: a
 * database made for another key is refused here already, not first at `lnmux run` (docs/architecture.md, invariant 8).
 */
import type { Command } from 'commander';
import { identityKeyBytes, loadConfigFile, storeConfigOf, type MuxConfig } from '../mux/config.js';
import { deriveKeyring } from '../protocol/index.js';
import {
  describeSchemaProblem,
  migrateDown,
  migrateInit,
  migrateUp,
  migrateVersion,
  type MigrateOptions,
  type MigrationStatus,
} from '../store/index.js';
import { positiveInteger } from './flags.js';

export function migrateCommand(cli: Command, configPath: () => string): void {
  const migrate = cli.command('migrate').description('manage the database schema');
  const report = (status: MigrationStatus): void => {
    const out = {
      state: status.state,
      database_version: status.databaseVersion,
      code_version: status.codeVersion,
      // What `run` would refuse the database for besides its version (a history that differs, tables missing).
      ...(status.problems.length > 0 ? { problems: status.problems.map(describeSchemaProblem) } : {}),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  };
  const config = () => loadConfigFile(configPath());

  migrate
    .command('init')
    .description('create the lnmux schema and its migration table')
    .action(async () => {
      const c = config();
      report(await migrateInit(storeConfigOf(c), identityOf(c)));
    });
  migrate
    .command('up')
    .argument('[target]', 'version to migrate up to (default: the newest)', (v: string) => Number(positiveInteger(v)))
    .description('apply pending migrations and bind the database to the identity key')
    .action(async (target?: number) => {
      const c = config();
      report(await migrateUp(storeConfigOf(c), target, identityOf(c)));
    });
  migrate
    .command('down')
    .argument('[target]', 'version to migrate down to (default: one step)', (v: string) => Number(/^\d+$/.test(v) ? v : positiveInteger(v)))
    .description('revert migrations')
    .action(async (target?: number) => report(await migrateDown(storeConfigOf(config()), target)));
  migrate
    .command('version')
    .description("print the database's schema version and the code's")
    .action(async () => report(await migrateVersion(storeConfigOf(config()))));
}

/**
 * The identity key's public key, to bind the database to. A key named by an environment variable that is
 * not set here (migrations often run elsewhere than the daemon) is skipped, with a note: the first
 * `lnmux run` binds it. Only the public key leaves this function.
 */
function identityOf(config: MuxConfig): MigrateOptions {
  if (config.identityKeyEnv !== undefined && process.env[config.identityKeyEnv] === undefined) {
    process.stderr.write(
      `lnmux: environment variable ${config.identityKeyEnv} is not set: the database is not bound to the identity key yet; the first \`lnmux run\` binds it\n`,
    );
    return {};
  }
  return { nodePubkey: deriveKeyring(identityKeyBytes(config)).nodePubkey };
}
