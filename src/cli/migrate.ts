/** `lnmux migrate init|up [target]|down [target]|version`: the database schema. */
import type { Command } from 'commander';
import { loadConfigFile, storeConfigOf } from '../mux/config.js';
import { migrateDown, migrateInit, migrateUp, migrateVersion, type MigrationStatus } from '../store/index.js';
import { positiveInteger } from './flags.js';

export function migrateCommand(cli: Command, configPath: () => string): void {
  const migrate = cli.command('migrate').description('manage the database schema');
  const report = (status: MigrationStatus): void => {
    const out = { state: status.state, database_version: status.databaseVersion, code_version: status.codeVersion };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  };
  const store = () => storeConfigOf(loadConfigFile(configPath()));

  migrate
    .command('init')
    .description('create the lnmux schema and its migration table')
    .action(async () => report(await migrateInit(store())));
  migrate
    .command('up')
    .argument('[target]', 'version to migrate up to (default: the newest)', (v: string) => Number(positiveInteger(v)))
    .description('apply pending migrations')
    .action(async (target?: number) => report(await migrateUp(store(), target)));
  migrate
    .command('down')
    .argument('[target]', 'version to migrate down to (default: one step)', (v: string) => Number(/^\d+$/.test(v) ? v : positiveInteger(v)))
    .description('revert migrations')
    .action(async (target?: number) => report(await migrateDown(store(), target)));
  migrate
    .command('version')
    .description("print the database's schema version and the code's")
    .action(async () => report(await migrateVersion(store())));
}
