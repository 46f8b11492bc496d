import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { MigrationLockedError, SchemaVersionError, StoreError } from '../../src/store/errors.js';
import {
  MIGRATIONS_DIR,
  checksumOf,
  loadMigrations,
  migrateDown,
  migrateInit,
  migrateUp,
  migrateVersion,
  packagedMigrations,
  requireCurrent,
  tablesCreatedBy,
  type MigrationStatus,
} from '../../src/store/migrate.js';
import * as open from '../../src/store/open.js';
import { describeEachBackend, useTestDatabase } from './helpers.js';

const LATEST = packagedMigrations().length;

/** The lnmux schema as the catalog describes it: tables, columns, constraints, indexes. */
async function fingerprint(db: Db): Promise<string[]> {
  return db.withSession('fingerprint', async (s) => {
    const columns = await s.query<{ line: string }>(
      `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
              coalesce(column_default, '') || ' ' || is_identity AS line
       FROM information_schema.columns WHERE table_schema = 'lnmux' ORDER BY 1`,
    );
    const constraints = await s.query<{ line: string }>(
      `SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line
       FROM pg_constraint WHERE connamespace = 'lnmux'::regnamespace ORDER BY 1`,
    );
    const indexes = await s.query<{ line: string }>(
      `SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'lnmux' ORDER BY 1`,
    );
    return [...columns.rows, ...constraints.rows, ...indexes.rows].map((r) => r.line);
  });
}

async function tables(db: Db): Promise<string[]> {
  return db.withSession('tables', async (s) => {
    const result = await s.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'lnmux' ORDER BY 1`,
    );
    return result.rows.map((r) => r.name);
  });
}

const TABLES_AT: Record<number, string[]> = {
  0: ['schema_migrations'],
  1: ['htlcs', 'invoices', 'schema_migrations'],
  2: ['htlcs', 'invoices', 'leases', 'schema_migrations'],
  3: ['htlcs', 'invoices', 'leases', 'node_identity', 'schema_migrations'],
  4: ['htlc_log', 'htlcs', 'invoices', 'leases', 'node_identity', 'schema_migrations'],
  5: ['htlc_log', 'htlcs', 'invoices', 'leases', 'node_identity', 'schema_migrations'],
  6: ['htlc_log', 'htlcs', 'invoices', 'leases', 'node_identity', 'schema_migrations'],
  7: ['htlc_log', 'htlcs', 'invoice_events', 'invoices', 'leases', 'node_identity', 'schema_migrations'],
};

function versionOf(status: MigrationStatus): number {
  return status.databaseVersion;
}

/** A migrations folder with the given files (name -> SQL). */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe('migration files', () => {
  it('are found relative to the code, in the package root’s migrations folder', () => {
    expect(MIGRATIONS_DIR).toBe(fileURLToPath(new URL('../../migrations/', import.meta.url)));
    expect(packagedMigrations().map((m) => `${m.version}_${m.name}`)).toEqual(['1_init', '2_leases', '3_node_identity', '4_htlc_log', '5_settle_committed', '6_invoice_kinds', '7_invoice_events']);
    expect(TABLES_AT[LATEST]).toBeDefined();
  });

  it('refuses a folder with a gap in the versions', () => {
    const dir = folder({ '0001_a.up.sql': '', '0001_a.down.sql': '', '0003_c.up.sql': '', '0003_c.down.sql': '' });
    expect(() => loadMigrations(dir)).toThrow(/migration 2 is missing/);
  });

  it('refuses a migration without its down file', () => {
    const dir = folder({ '0001_a.up.sql': 'SELECT 1' });
    expect(() => loadMigrations(dir)).toThrow(/needs both/);
  });

  it('name the tables they create, read from the SQL (the tables each version has, but the bookkeeping)', () => {
    for (const [version, expected] of Object.entries(TABLES_AT)) {
      const created = [...tablesCreatedBy(packagedMigrations().slice(0, Number(version)))].sort();
      expect({ version, created }).toEqual({ version, created: expected.filter((t) => t !== 'schema_migrations') });
    }
    const dir = folder({
      '0001_a.up.sql': '-- CREATE TABLE lnmux.in_a_comment\nCREATE TABLE lnmux.a (x int); CREATE TABLE IF NOT EXISTS lnmux.b (x int);',
      '0001_a.down.sql': '',
      '0002_b.up.sql': 'ALTER TABLE lnmux.a RENAME TO c; DROP TABLE IF EXISTS lnmux.b;',
      '0002_b.down.sql': '',
    });
    expect([...tablesCreatedBy(loadMigrations(dir))]).toEqual(['c']);
  });

  it('refuses an unreadable folder with a StoreError', () => {
    expect(() => loadMigrations('/nonexistent/lnmux/migrations')).toThrow(StoreError);
  });
});

describe('requireCurrent', () => {
  const status = (state: MigrationStatus['state'], databaseVersion: number): MigrationStatus => ({
    initialized: state !== 'uninitialized',
    databaseVersion,
    codeVersion: 2,
    applied: [],
    problems: [],
    state,
  });

  it('accepts only a database at the code’s version and names the command that fixes the others', () => {
    expect(() => requireCurrent(status('current', 2))).not.toThrow();
    expect(() => requireCurrent(status('uninitialized', 0))).toThrow(/lnmux migrate init/);
    expect(() => requireCurrent(status('behind', 1))).toThrow(/version 1, this lnmux needs 2: run `lnmux migrate up`/);
    expect(() => requireCurrent(status('ahead', 3))).toThrow(/newer than this lnmux knows/);
    try {
      requireCurrent(status('ahead', 3));
    } catch (error) {
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect(error).toMatchObject({ kind: 'ahead', databaseVersion: 3, codeVersion: 2 });
    }
  });
});

describeEachBackend('migrations on %s', (backend) => {
  const database = useTestDatabase(backend);

  it('reports an empty database as uninitialized, init creates only the bookkeeping', async () => {
    await database.reset();
    const db = database.db();
    expect(await migrateVersion(db)).toMatchObject({ initialized: false, databaseVersion: 0, state: 'uninitialized' });
    const initialized = await migrateInit(db);
    expect(initialized).toMatchObject({ initialized: true, databaseVersion: 0, codeVersion: LATEST, state: 'behind' });
    expect(await tables(db)).toEqual(TABLES_AT[0]);
    expect(versionOf(await migrateInit(db))).toBe(0);
  });

  it('migrates up from empty to the newest version, then up again is a no-op', async () => {
    await database.reset();
    const db = database.db();
    const status = await migrateUp(db);
    expect(status).toMatchObject({ databaseVersion: LATEST, state: 'current' });
    expect(status.applied.map((a) => a.name)).toEqual(packagedMigrations().map((m) => m.name));
    expect(await tables(db)).toEqual(TABLES_AT[LATEST]);
    expect(versionOf(await migrateUp(db))).toBe(LATEST);
  });

  it('migrates up and down one version at a time, from every version, to the same schema', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db);
    const latest = await fingerprint(db);
    const fingerprints: string[][] = [];
    for (let v = LATEST; v >= 0; v--) {
      if (v < LATEST) expect(versionOf(await migrateDown(db))).toBe(v);
      expect(await tables(db)).toEqual(TABLES_AT[v]);
      fingerprints[v] = await fingerprint(db);
    }
    for (let from = 0; from <= LATEST; from++) {
      // Start at `from`, go up to the newest, then all the way down and back to `from`.
      await database.reset();
      await migrateUp(db, from);
      expect(await fingerprint(db)).toEqual(fingerprints[from]);
      for (let v = from + 1; v <= LATEST; v++) {
        expect(versionOf(await migrateUp(db, v))).toBe(v);
        expect(await fingerprint(db)).toEqual(fingerprints[v]);
      }
      expect(await fingerprint(db)).toEqual(latest);
      expect(versionOf(await migrateDown(db, 0))).toBe(0);
      expect(await tables(db)).toEqual(TABLES_AT[0]);
      expect(versionOf(await migrateUp(db, from))).toBe(from);
      expect(await fingerprint(db)).toEqual(fingerprints[from]);
    }
  });

  it('keeps the invoices when the leases migration is reverted and applied again', async () => {
    const store = await database.freshStore();
    const db = database.db();
    const { newInvoice } = await import('./helpers.js');
    const invoice = newInvoice();
    await store.recordInvoice(invoice);
    await migrateDown(db, 1);
    await migrateUp(db);
    expect((await store.getInvoice(invoice.hash))?.paymentRequest).toBe(invoice.paymentRequest);
    await database.reset();
  });

  it('renames a committed decision to settleCommitted (migration 5) and back, keeping its set and time', async () => {
    const store = await database.freshStore();
    const db = database.db();
    const { htlcSet, newInvoice } = await import('./helpers.js');
    const invoice = newInvoice();
    await store.recordInvoice(invoice);
    const set = htlcSet(invoice.amountMsat, 2);
    expect(await store.commitSettle(invoice.hash, set.setId, set.htlcs)).toMatchObject({ kind: 'committed' });
    const committed = await store.getInvoice(invoice.hash);
    const stateRows = (): Promise<string[]> =>
      db.withSession('test', async (s) => {
        const invoices = await s.query<{ state: string }>('SELECT state FROM lnmux.invoices');
        const htlcs = await s.query<{ state: string }>('SELECT state FROM lnmux.htlcs ORDER BY htlc_id');
        return [...invoices.rows, ...htlcs.rows].map((r) => r.state);
      });
    expect(await stateRows()).toEqual(['settleCommitted', 'settleCommitted', 'settleCommitted']);
    await migrateDown(db, 4);
    expect(await stateRows()).toEqual(['settleRequested', 'settleRequested', 'settleRequested']);
    await migrateUp(db);
    expect(await stateRows()).toEqual(['settleCommitted', 'settleCommitted', 'settleCommitted']);
    expect(await store.getInvoice(invoice.hash)).toEqual(committed);
    expect((await store.listUnfinalizedHtlcs()).length).toBe(2);
    await database.reset();
  });

  it('refuses targets outside the known versions and in the wrong direction', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db, 1);
    await expect(migrateUp(db, LATEST + 1)).rejects.toThrow(RangeError);
    await expect(migrateUp(db, 0)).rejects.toThrow(/use migrate down/);
    await expect(migrateDown(db, 2)).rejects.toThrow(/use migrate up/);
    await expect(migrateDown(db, -1)).rejects.toThrow(RangeError);
    expect(versionOf(await migrateVersion(db))).toBe(1);
  });

  it('refuses to migrate down a database that has no lnmux schema', async () => {
    await database.reset();
    await expect(migrateDown(database.db())).rejects.toMatchObject({ kind: 'notInitialized' });
  });

  it('refuses a database newer than the code, in every command, changing nothing', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db);
    await db.withSession('test', (s) =>
      s.query(`INSERT INTO lnmux.schema_migrations (version, name) VALUES ($1, 'from_the_future')`, [LATEST + 1]),
    );
    const status = await migrateVersion(db);
    expect(status).toMatchObject({ state: 'ahead', databaseVersion: LATEST + 1 });
    for (const command of [() => migrateUp(db), () => migrateDown(db), () => migrateInit(db)]) {
      await expect(command()).rejects.toMatchObject({ name: 'SchemaVersionError', kind: 'ahead' });
    }
    expect(await tables(db)).toEqual(TABLES_AT[LATEST]);
    expect(() => requireCurrent(status)).toThrow(/newer than this lnmux/);
    await database.reset();
  });

  it('refuses a database whose applied migrations have other names', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db, 1);
    await db.withSession('test', (s) => s.query(`UPDATE lnmux.schema_migrations SET name = 'something_else'`));
    await expect(migrateUp(db)).rejects.toMatchObject({ kind: 'historyMismatch' });
    await database.reset();
  });

  it('records the checksum of the file each migration was applied from', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db);
    const status = await migrateVersion(db);
    expect(status.applied.map((a) => a.checksum)).toEqual(packagedMigrations().map((m) => checksumOf(m.up)));
    expect(status.problems).toEqual([]);
    expect(() => requireCurrent(status)).not.toThrow();
  });

  it('refuses at open, and to migrate, a database whose applied migration was renamed or edited, saying which', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db);
    const edited = checksumOf('-- edited\n');
    await db.withSession('test', (s) => s.query(`UPDATE lnmux.schema_migrations SET checksum = $1 WHERE version = 2`, [edited]));
    const status = await migrateVersion(db);
    expect(status.state).toBe('current');
    expect(status.problems).toEqual([
      { kind: 'edited', version: 2, name: 'leases', databaseChecksum: edited, codeChecksum: packagedMigrations()[1]!.checksum },
    ]);
    expect(() => requireCurrent(status)).toThrow(SchemaVersionError);
    expect(() => requireCurrent(status)).toThrow(
      `the database's migration 2 (leases) was applied from other SQL than this lnmux's 0002_leases.up.sql (checksum ${edited.slice(0, 12)}… recorded, ` +
        `${packagedMigrations()[1]!.checksum.slice(0, 12)}… in the file): the file was edited after it was applied, or the database was migrated by a different lnmux`,
    );
    await expect(migrateUp(db)).rejects.toMatchObject({ kind: 'historyMismatch' });
    await db.withSession('test', (s) => s.query(`UPDATE lnmux.schema_migrations SET name = 'renamed' WHERE version = 3`));
    expect(() => requireCurrent(status)).toThrow(SchemaVersionError);
    const renamed = await migrateVersion(db);
    expect(renamed.problems.map((p) => p.kind)).toEqual(['edited', 'renamed']);
    expect(() => requireCurrent(renamed)).toThrow(/migration 3 is "renamed" but this lnmux's is "node_identity"/);
    await database.reset();
  });

  it('keeps a database migrated before checksums were kept, and records them at the next migrate up', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db, LATEST - 1);
    // As an lnmux before checksums left it: no checksum column.
    await db.withSession('test', (s) => s.query('ALTER TABLE lnmux.schema_migrations DROP COLUMN checksum'));
    const before = await migrateVersion(db);
    expect(before.applied.map((a) => a.checksum)).toEqual(Array(LATEST - 1).fill(null));
    expect(before.problems).toEqual([]);
    await migrateUp(db);
    const after = await migrateVersion(db);
    expect(after.applied.map((a) => a.checksum)).toEqual(packagedMigrations().map((m) => m.checksum));
    expect(() => requireCurrent(after)).not.toThrow();
    await database.reset();
  });

  it('refuses at open a database at the current version whose tables are missing, naming them', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db);
    await db.withSession('test', (s) => s.query('DROP TABLE lnmux.leases; DROP TABLE lnmux.node_identity'));
    const status = await migrateVersion(db);
    expect(status).toMatchObject({ state: 'current', problems: [{ kind: 'tablesMissing', tables: ['leases', 'node_identity'] }] });
    expect(() => requireCurrent(status)).toThrow(
      'the database lacks the tables lnmux.leases, lnmux.node_identity that its applied migrations create: it was changed by hand or restored in part; restore it from a backup',
    );
    try {
      requireCurrent(status);
    } catch (error) {
      expect(error).toMatchObject({ name: 'SchemaVersionError', kind: 'tablesMissing' });
    }
    await database.reset();
  });

  it('rolls back a migration whose SQL fails, leaving the database at the version before it', async () => {
    await database.reset();
    const db = database.db();
    const dir = folder({
      '0001_one.up.sql': 'CREATE TABLE lnmux.one (x int);',
      '0001_one.down.sql': 'DROP TABLE lnmux.one;',
      '0002_two.up.sql': 'CREATE TABLE lnmux.two (x int); SELECT * FROM lnmux.no_such_table;',
      '0002_two.down.sql': 'DROP TABLE lnmux.two;',
    });
    const migrations = loadMigrations(dir);
    await expect(migrateUp(db, undefined, migrations)).rejects.toThrow(/migration 0002_two.up.sql failed and was rolled back/);
    expect(versionOf(await migrateVersion(db, migrations))).toBe(1);
    expect(await tables(db)).toEqual(['one', 'schema_migrations']);
    await database.reset();
  });
});

describeEachBackend('concurrent migrators on %s', (backend) => {
  const database = useTestDatabase(backend);

  it('refuses a second migrator while the first holds the migration lock, changing nothing', async () => {
    await database.reset();
    const first = database.otherDb({ poolSize: 1 });
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    // The first migrator, stopped while it holds the lock (its first migration has not started).
    const running = first.withSession('first migrator', async (s) => {
      await s.query('SELECT pg_advisory_lock(465709135224)');
      entered();
      await hold;
      await s.query('SELECT pg_advisory_unlock(465709135224)');
    });
    await inside;
    await expect(migrateUp(database.db())).rejects.toBeInstanceOf(MigrationLockedError);
    await expect(migrateDown(database.db())).rejects.toBeInstanceOf(MigrationLockedError);
    expect(await migrateVersion(database.db())).toMatchObject({ state: 'uninitialized' });
    release();
    await running;
    expect(versionOf(await migrateUp(database.db()))).toBe(LATEST);
  });

  it('lets one of two migrators started together apply everything; the other applies nothing', async () => {
    await database.reset();
    const results = await Promise.allSettled([
      migrateUp(database.otherDb({ poolSize: 1 })),
      migrateUp(database.otherDb({ poolSize: 1 })),
    ]);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(MigrationLockedError);
      else expect(versionOf(r.value)).toBe(LATEST);
    }
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    const status = await migrateVersion(database.db());
    expect(status.applied.map((a) => a.version)).toEqual(packagedMigrations().map((m) => m.version));
  });

  it('runs the migrate commands from a config, each on its own connection', async () => {
    await database.reset();
    const config = database.config();
    expect(await open.migrateVersion(config)).toMatchObject({ state: 'uninitialized' });
    expect(await open.migrateInit(config)).toMatchObject({ state: 'behind', databaseVersion: 0 });
    expect(await open.migrateUp(config, 1)).toMatchObject({ databaseVersion: 1 });
    await expect(open.openStore(config)).rejects.toThrow(/run `lnmux migrate up`/);
    expect(await open.migrateUp(config)).toMatchObject({ state: 'current' });
    const store = await open.openStore(config);
    expect(store.backend).toBe('postgres');
    await store.close();
    expect(await open.migrateDown(config)).toMatchObject({ databaseVersion: LATEST - 1 });
    expect(await open.migrateDown(config, 0)).toMatchObject({ databaseVersion: 0 });
  });
}, ['postgres']);
