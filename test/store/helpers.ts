/**
 * Test databases. Every store test runs on the embedded PGlite, and also on the real PostgreSQL named by
 * LNMUX_TEST_DATABASE_URL when it is set. Each test file gets its own database: on PostgreSQL a uniquely
 * named database created from that URL's server and dropped at the end; on PGlite an in-process instance
 * loaded from a template data directory (a fresh initdb costs seconds; the template is built once and
 * kept in .tmp/). Each test then starts from an empty `lnmux` schema (dropped and migrated again).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { resolveStoreConfig, type StoreConfig } from '../../src/store/config.js';
import { connectEmbedded, connectPostgres } from '../../src/store/connect.js';
import type { Db } from '../../src/store/db.js';
import { migrateUp } from '../../src/store/migrate.js';
import { createStore } from '../../src/store/store.js';
import type { Store } from '../../src/store/types.js';
import { waitUntil } from '../support/wait.js';

export type BackendName = 'pglite' | 'postgres';

/** The URL of the real PostgreSQL for the tests, if any. */
export const TEST_DATABASE_URL = process.env.LNMUX_TEST_DATABASE_URL;

/** Every backend a store test can run on: pglite always, postgres when LNMUX_TEST_DATABASE_URL is set. */
export const BACKENDS: readonly BackendName[] = ['pglite', 'postgres'];

/** Why a PostgreSQL-only block is skipped, appended to its name (so a run without the database lists it). */
export const WITHOUT_POSTGRES = ' [skipped: PostgreSQL only, LNMUX_TEST_DATABASE_URL is not set]';

/** Whether tests of `backend` cannot run here (postgres without LNMUX_TEST_DATABASE_URL). */
export function backendMissing(backend: BackendName): boolean {
  return backend === 'postgres' && TEST_DATABASE_URL === undefined;
}

/**
 * A describe block per backend (`%s` in `title` is the backend's name), as describe.each would make.
 * Without LNMUX_TEST_DATABASE_URL the postgres block is still declared, skipped, its name saying why:
 * `vitest run` lists its tests as skipped rather than leaving them out.
 */
export function describeEachBackend(
  title: string,
  body: (backend: BackendName) => void,
  backends: readonly BackendName[] = BACKENDS,
): void {
  for (const backend of backends) {
    const skip = backendMissing(backend);
    describe.skipIf(skip)(`${title.replace('%s', backend)}${skip ? WITHOUT_POSTGRES : ''}`, () => body(backend));
  }
}

/** A describe block that needs PostgreSQL: skipped (listed, its name saying why) without LNMUX_TEST_DATABASE_URL. */
export function describeOnPostgres(title: string, body: () => void): void {
  const skip = backendMissing('postgres');
  describe.skipIf(skip)(`${title}${skip ? WITHOUT_POSTGRES : ''}`, body);
}

const quiet = (): void => {};

/** A test database of one backend, for one test file. */
export interface TestDatabase {
  readonly name: BackendName;
  /** The file's Db (closed at the end of the file). */
  db(): Db;
  /** Drops the lnmux schema: the database is as new. */
  reset(): Promise<void>;
  /**
   * A store on the file's Db with an empty, current schema (migrated on first use, emptied after).
   * The store shares the file's Db: do not close it.
   */
  freshStore(settings?: { maxBatchSize?: number }): Promise<Store>;
  /** PostgreSQL only: the StoreConfig of this file's database (for more connections, e.g. a race). */
  config(overrides?: Partial<StoreConfig>): StoreConfig;
  /** PostgreSQL only: another Db on the same database (closed at the end of the file). */
  otherDb(overrides?: Partial<StoreConfig>): Db;
}

/**
 * Sets up `name`'s database for the calling test file (beforeAll / afterAll) and returns it.
 */
export function useTestDatabase(name: BackendName): TestDatabase {
  let db: Db | undefined;
  let migrated = false;
  let url: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  const others: Db[] = [];

  beforeAll(async () => {
    if (name === 'pglite') {
      db = await connectEmbedded(resolveStoreConfig({ onWarning: quiet }), { loadDataDir: await pgliteTemplate() });
    } else {
      const created = await createTestDatabase();
      url = created.url;
      dropDatabase = created.drop;
      db = connectPostgres({ ...resolveStoreConfig({ onWarning: quiet }), databaseUrl: url });
    }
  });

  afterAll(async () => {
    await Promise.all(others.map((o) => o.close()));
    await db?.close();
    await dropDatabase?.();
  });

  const self: TestDatabase = {
    name,
    db: () => {
      if (db === undefined) throw new Error('test database not ready');
      return db;
    },
    reset: async () => {
      migrated = false;
      await self.db().withSession('test reset', (s) => s.query('DROP SCHEMA IF EXISTS lnmux CASCADE'));
    },
    freshStore: async (settings = {}) => {
      if (migrated) {
        // Emptying the tables is much cheaper than migrating again (PGlite: DDL touches many files).
        await self
          .db()
          .withSession('test reset', (s) =>
            s.query('DELETE FROM lnmux.invoice_events; DELETE FROM lnmux.htlc_log; DELETE FROM lnmux.htlcs; DELETE FROM lnmux.invoices; DELETE FROM lnmux.leases'),
          );
        // Not bound to any identity key yet (a new database is not).
        await self.db().withSession('test reset', (s) => s.query('DELETE FROM lnmux.node_identity'));
      } else {
        await self.reset();
        await migrateUp(self.db());
        migrated = true;
      }
      return createStore(self.db(), name === 'pglite' ? 'embedded' : 'postgres', {
        maxBatchSize: settings.maxBatchSize ?? 100,
      });
    },
    config: (overrides = {}) => {
      if (url === undefined) throw new Error('config() is for the postgres backend');
      return { databaseUrl: url, onWarning: quiet, ...overrides };
    },
    otherDb: (overrides = {}) => {
      const other = connectPostgres({ ...resolveStoreConfig(self.config(overrides)), databaseUrl: url! });
      others.push(other);
      return other;
    },
  };
  return self;
}

/** Creates a uniquely named database on the test server; `drop` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (TEST_DATABASE_URL === undefined) throw new Error('LNMUX_TEST_DATABASE_URL is not set');
  const name = `lnmux_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A dump of a fresh PGlite data directory, built once (about 2-5 s) and cached in .tmp/ keyed by the
 * PGlite version; concurrent test processes may both build it, the rename keeps the file whole.
 */
export async function pgliteTemplate(): Promise<Blob> {
  const manifest = readFileSync(`${ROOT}node_modules/@electric-sql/pglite/package.json`, 'utf8');
  const version = (JSON.parse(manifest) as { version: string }).version;
  const dir = `${ROOT}.tmp`;
  const file = `${dir}/pglite-template-${version}.tar.gz`;
  if (!existsSync(file)) {
    const { PGlite } = await import('@electric-sql/pglite');
    const fresh = new PGlite();
    await fresh.waitReady;
    const dump = await fresh.dumpDataDir('gzip');
    await fresh.close();
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
    renameSync(partial, file);
  }
  return new Blob([readFileSync(file)], { type: 'application/x-gzip' });
}

/** How many sessions of `db`'s database wait on a lock now (pg_stat_activity). */
export async function lockWaiters(db: Db): Promise<number> {
  const result = await db.withSession('test waiters', (s) =>
    s.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    ),
  );
  return result.rows[0]?.n ?? 0;
}

/** Resolves once at least `count` sessions of `db`'s database wait on a lock. */
export async function waitForLockWaiters(db: Db, count: number): Promise<void> {
  await waitUntil(async () => (await lockWaiters(db)) >= count, { what: `${count} sessions waiting on a lock`, intervalMs: 10 });
}

/** 32 random bytes (a payment hash, set id, payment_addr). */
export function bytes32(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** A 33-byte compressed-pubkey-shaped node id (02 || 32 random bytes). */
export function nodePubkey(): Uint8Array {
  const key = new Uint8Array(33);
  key[0] = 0x02;
  key.set(randomBytes(32), 1);
  return key;
}

/** A valid NewInvoice (random hash and payment_addr, 10,000 msat, one hour), with overrides. */
export function newInvoice<O extends Partial<import('../../src/store/types.js').NewInvoice>>(overrides: O = {} as O) {
  const createdAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  return {
    hash: bytes32(),
    amountMsat: 10_000n,
    paymentAddr: bytes32(),
    description: { kind: 'text' as const, text: 'coffee' },
    paymentRequest: 'lnbcrt100n1ptest',
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 3_600_000),
    ...overrides,
  };
}

/** A set of `parts` HTLCs adding up to `totalMsat`, on random nodes, with a random set id. */
export function htlcSet(totalMsat: bigint, parts = 1) {
  const each = totalMsat / BigInt(parts);
  const htlcs = Array.from({ length: parts }, (_, i) => ({
    nodePubkey: nodePubkey(),
    chanId: (1n << 63n) | BigInt(i + 1),
    htlcId: BigInt(i),
    amountMsat: i === parts - 1 ? totalMsat - each * BigInt(parts - 1) : each,
  }));
  return { setId: bytes32(), htlcs };
}
