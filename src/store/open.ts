/**
 * Entry points: open a store (refusing a schema that is not the code's version), and the four migration
 * commands (`lnmux migrate init|up|down|version`), each opening and closing its own connection.
 */
import { resolveStoreConfig, type StoreConfig } from './config.js';
import { connect, type EmbeddedOptions } from './connect.js';
import type { Db } from './db.js';
import { bindNodeIdentity, NODE_IDENTITY_SCHEMA_VERSION, requireNodeIdentity } from './identity.js';
import * as migrations from './migrate.js';
import type { MigrationStatus } from './migrate.js';
import { createStore } from './store.js';
import type { Store } from './types.js';

/**
 * Opens the store: PostgreSQL when `config.databaseUrl` is set, else the embedded PGlite (which warns
 * through `onWarning`: not for money in production). Checks that the database answers and that its
 * schema is exactly this code's version (or migrates first when `config.migrate` is true).
 * @throws TypeError / RangeError for a bad config field; StoreUnavailableError when the database cannot be
 *   reached within connectTimeoutMs; SchemaVersionError (says which `lnmux migrate` command fixes it).
 */
export async function openStore(config: StoreConfig, options: EmbeddedOptions = {}): Promise<Store> {
  const resolved = resolveStoreConfig(config);
  const db = await connect(resolved, options);
  try {
    const status = resolved.migrate
      ? await migrations.migrateUp(db)
      : await migrations.migrateVersion(db, migrations.packagedMigrations(), 'open store (schema check)');
    migrations.requireCurrent(status);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
  return createStore(db, resolved.databaseUrl !== undefined ? 'postgres' : 'embedded', resolved);
}

async function withDb<T>(config: StoreConfig, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await connect(resolveStoreConfig(config));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** What `migrate init` and `migrate up` may do besides the schema. */
export interface MigrateOptions {
  /**
   * The virtual node's 33-byte public key (from the configured identity key; never the private key). Once
   * the schema has `lnmux.node_identity` (version 3 on), the database is bound to it if it is not bound
   * yet, or checked against it (docs/architecture.md, invariant 8).
   */
  readonly nodePubkey?: Uint8Array;
}

/** Binds or checks the identity when asked and the schema has the table. */
async function bindIfAsked(db: Db, status: MigrationStatus, options: MigrateOptions): Promise<MigrationStatus> {
  if (options.nodePubkey !== undefined && status.databaseVersion >= NODE_IDENTITY_SCHEMA_VERSION) {
    await requireNodeIdentity({ bindNodeIdentity: (pubkey) => bindNodeIdentity(db, pubkey) }, options.nodePubkey);
  }
  return status;
}

/**
 * `lnmux migrate init`: creates the lnmux schema and its migration table; applies nothing. With
 * `options.nodePubkey`, binds (or checks) the identity of a database that already has version 3 or newer.
 * @throws see migrate.ts migrateInit; IdentityKeyMismatchError.
 */
export function migrateInit(config: StoreConfig, options: MigrateOptions = {}): Promise<MigrationStatus> {
  return withDb(config, async (db) => bindIfAsked(db, await migrations.migrateInit(db), options));
}

/**
 * `lnmux migrate up [target]`: applies pending migrations up to `target` (default: the newest). With
 * `options.nodePubkey`, then binds (or checks) the database's identity (from version 3 on).
 * @throws see migrate.ts migrateUp; IdentityKeyMismatchError (the migrations were applied).
 */
export function migrateUp(config: StoreConfig, target?: number, options: MigrateOptions = {}): Promise<MigrationStatus> {
  return withDb(config, async (db) => bindIfAsked(db, await migrations.migrateUp(db, target), options));
}

/**
 * `lnmux migrate down [target]`: reverts migrations down to `target` (default: one step).
 * @throws see migrate.ts migrateDown.
 */
export function migrateDown(config: StoreConfig, target?: number): Promise<MigrationStatus> {
  return withDb(config, (db) => migrations.migrateDown(db, target));
}

/**
 * `lnmux migrate version`: the database's schema version and this code's.
 * @throws StoreUnavailableError, StoreError.
 */
export function migrateVersion(config: StoreConfig): Promise<MigrationStatus> {
  return withDb(config, (db) => migrations.migrateVersion(db));
}
