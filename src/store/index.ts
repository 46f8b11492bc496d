/**
 * Persistence: PostgreSQL (the system of record) and the embedded PGlite default, one `pg` code path,
 * SQL migrations in the package's `migrations/` folder. See docs/store.md.
 */
export { openStore, migrateInit, migrateUp, migrateDown, migrateVersion, type MigrateOptions } from './open.js';
export { codeSchemaVersion, describeSchemaProblem, type MigrationStatus, type AppliedMigration, type SchemaProblem } from './migrate.js';
export { STORE_DEFAULTS, type StoreConfig } from './config.js';
export { EMBEDDED_WARNING } from './connect.js';
export {
  StoreError,
  StoreUnavailableError,
  SchemaVersionError,
  MigrationLockedError,
  StoreClosedError,
  IdentityKeyMismatchError,
  DataDirLockedError,
} from './errors.js';
export { requireNodeIdentity } from './identity.js';
export * from './types.js';
export type {
  Leadership,
  LeadershipOptions,
  LeadershipLostCause,
  TakeLeadershipOptions,
  TakeLeadershipOutcome,
} from './leadership.js';
