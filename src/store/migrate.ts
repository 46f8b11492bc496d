/**
 * Schema migrations: numbered plain SQL files in the package's `migrations/` folder, found relative to
 * this module (src/store/ and dist/store/ both sit two levels below the package root), never the working
 * directory. `NNNN_name.up.sql` applies version NNNN, `NNNN_name.down.sql` reverts it. The applied
 * versions live in `lnmux.schema_migrations`, each with the SHA-256 of the up file it was applied from.
 * Each migration runs in its own transaction together with its bookkeeping row. A session advisory lock
 * keeps two migrators apart: the second gets MigrationLockedError and changes nothing. A database newer
 * than this code is refused, and so is one whose history differs from the files (a migration renamed or
 * edited after it was applied) or that lacks a table its applied migrations create. A database migrated
 * before checksums were kept gets them recorded by the next `migrate init` or `migrate up`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Db, Session } from './db.js';
import { MigrationLockedError, SchemaVersionError, StoreError, StoreUnavailableError } from './errors.js';

/** The package's migrations folder. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Advisory lock key of the migrator: the bytes of "lnmux" as a bigint. */
const MIGRATION_LOCK_KEY = '465709135224';

/** One schema version. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** SQL that applies it. */
  readonly up: string;
  /** SQL that reverts it. */
  readonly down: string;
  /** SHA-256 (hex) of the up file, line endings as LF: what the database records when it is applied. */
  readonly checksum: string;
}

/** An applied migration, as recorded in the database. */
export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly appliedAt: Date;
  /** The checksum of the up file it was applied from; null if applied before lnmux kept checksums. */
  readonly checksum: string | null;
}

/** How the database differs from what its applied migrations should have made. */
export type SchemaProblem =
  /** An applied migration has another name than this code's file of that version. */
  | { readonly kind: 'renamed'; readonly version: number; readonly databaseName: string; readonly codeName: string }
  /** An applied migration was applied from other SQL than this code's file of that version. */
  | { readonly kind: 'edited'; readonly version: number; readonly name: string; readonly databaseChecksum: string; readonly codeChecksum: string }
  /** Tables the applied migrations create are not there. */
  | { readonly kind: 'tablesMissing'; readonly tables: readonly string[] };

/** Where the database stands relative to this code. */
export interface MigrationStatus {
  /** False before `migrate init` (or the first `migrate up`): no lnmux.schema_migrations table. */
  readonly initialized: boolean;
  /** The newest applied version (0: none). */
  readonly databaseVersion: number;
  /** The newest version this code knows. */
  readonly codeVersion: number;
  readonly applied: readonly AppliedMigration[];
  /** 'current' is the only state in which a store opens (and then only without problems). */
  readonly state: 'uninitialized' | 'behind' | 'current' | 'ahead';
  /** Where the database differs from its applied migrations (see {@link describeSchemaProblem}); empty when it does not. */
  readonly problems: readonly SchemaProblem[];
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/;

/**
 * Reads and checks the migration files: versions 1, 2, ... without gaps, each with an up and a down file.
 * @throws StoreError when the folder is unreadable or the files are inconsistent (a packaging bug).
 */
export function loadMigrations(dir: string = MIGRATIONS_DIR): readonly Migration[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (error) {
    throw new StoreError(`cannot read the migrations folder ${dir}`, { cause: error });
  }
  const byVersion = new Map<number, { name: string; up?: string; down?: string }>();
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (match === null) continue;
    const version = Number(match[1]);
    const name = match[2]!;
    const entry = byVersion.get(version) ?? { name };
    if (entry.name !== name) throw new StoreError(`migration ${version} has two names: ${entry.name} and ${name}`);
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    if (match[3] === 'up') entry.up = sql;
    else entry.down = sql;
    byVersion.set(version, entry);
  }
  const migrations: Migration[] = [];
  for (let version = 1; version <= byVersion.size; version++) {
    const entry = byVersion.get(version);
    if (entry === undefined) throw new StoreError(`migration ${version} is missing from ${dir}`);
    if (entry.up === undefined || entry.down === undefined) {
      throw new StoreError(`migration ${version} (${entry.name}) needs both an .up.sql and a .down.sql file`);
    }
    migrations.push(Object.freeze({ version, name: entry.name, up: entry.up, down: entry.down, checksum: checksumOf(entry.up) }));
  }
  return Object.freeze(migrations);
}

/** SHA-256 (hex) of a migration's SQL, CRLF read as LF (a checkout that converts line endings is no edit). */
export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

let cached: readonly Migration[] | undefined;

/** The package's migrations, read once. */
export function packagedMigrations(): readonly Migration[] {
  cached ??= loadMigrations();
  return cached;
}

/** The schema version this code needs. */
export function codeSchemaVersion(): number {
  return packagedMigrations().length;
}

/**
 * Creates the `lnmux` schema and the bookkeeping table (idempotent). Applies no migration.
 * @throws MigrationLockedError, SchemaVersionError ('ahead'), StoreUnavailableError, StoreError.
 */
export async function migrateInit(db: Db, migrations = packagedMigrations()): Promise<MigrationStatus> {
  return withMigrationLock(db, 'migrate init', async (session) => {
    await initialize(session);
    check(await status(session, migrations));
    await recordChecksums(session, migrations);
    return status(session, migrations);
  });
}

/**
 * Applies the migrations above the database's version up to `target` (default: the newest), each in its
 * own transaction; initializes first if needed. A no-op when already there.
 * @throws RangeError for a target outside 0 .. codeVersion or below the database's version;
 *   MigrationLockedError; SchemaVersionError when the database is newer than the code or its history
 *   differs; StoreError naming the migration whose SQL failed (the database stays at the version before it).
 */
export async function migrateUp(db: Db, target?: number, migrations = packagedMigrations()): Promise<MigrationStatus> {
  return withMigrationLock(db, 'migrate up', async (session) => {
    await initialize(session);
    const before = check(await status(session, migrations));
    await recordChecksums(session, migrations);
    const goal = target ?? migrations.length;
    checkTarget(goal, migrations.length);
    if (goal < before.databaseVersion) {
      throw new RangeError(
        `migrate up: target ${goal} is below the database version ${before.databaseVersion}; use migrate down`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= before.databaseVersion || migration.version > goal) continue;
      await apply(session, migration, 'up');
    }
    return status(session, migrations);
  });
}

/**
 * Reverts migrations, newest first, down to `target` (default: one step below the database's version),
 * each in its own transaction. 0 reverts everything (the bookkeeping table stays).
 * @throws RangeError for a target above the database's version or below 0; SchemaVersionError when the
 *   database is uninitialized, newer than the code, or its history differs; MigrationLockedError;
 *   StoreError naming the migration whose SQL failed.
 */
export async function migrateDown(db: Db, target?: number, migrations = packagedMigrations()): Promise<MigrationStatus> {
  return withMigrationLock(db, 'migrate down', async (session) => {
    const before = check(await status(session, migrations));
    if (!before.initialized) {
      throw new SchemaVersionError(
        'migrate down: the database has no lnmux schema (nothing to revert)',
        'notInitialized',
        0,
        migrations.length,
      );
    }
    const goal = target ?? Math.max(0, before.databaseVersion - 1);
    checkTarget(goal, migrations.length);
    if (goal > before.databaseVersion) {
      throw new RangeError(`migrate down: target ${goal} is above the database version ${before.databaseVersion}; use migrate up`);
    }
    for (const migration of [...migrations].reverse()) {
      if (migration.version > before.databaseVersion || migration.version <= goal) continue;
      await apply(session, migration, 'down');
    }
    return status(session, migrations);
  });
}

/**
 * Where the database stands (does not take the migration lock, changes nothing).
 * @throws StoreUnavailableError, StoreError.
 */
export async function migrateVersion(
  db: Db,
  migrations = packagedMigrations(),
  operation = 'migrate version',
): Promise<MigrationStatus> {
  return db.withSession(operation, (session) => status(session, migrations));
}

/**
 * Throws SchemaVersionError unless the database is exactly at the code's version and its history and
 * tables are what its migrations made, with the command that fixes it or what is wrong.
 */
export function requireCurrent(s: MigrationStatus): void {
  switch (s.state) {
    case 'current':
      refuseProblems(s);
      return;
    case 'uninitialized':
      throw new SchemaVersionError(
        `the database has no lnmux schema: run \`lnmux migrate init\` then \`lnmux migrate up\``,
        'notInitialized',
        0,
        s.codeVersion,
      );
    case 'behind':
      throw new SchemaVersionError(
        `the database schema is at version ${s.databaseVersion}, this lnmux needs ${s.codeVersion}: run \`lnmux migrate up\``,
        'behind',
        s.databaseVersion,
        s.codeVersion,
      );
    case 'ahead':
      throw aheadError(s);
    default: {
      const never: never = s.state;
      throw new Error(`unexpected migration state ${String(never)}`);
    }
  }
}

function aheadError(s: MigrationStatus): SchemaVersionError {
  return new SchemaVersionError(
    `the database schema is at version ${s.databaseVersion}, newer than this lnmux knows (${s.codeVersion}): ` +
      'upgrade lnmux (or run `lnmux migrate down` with the newer version)',
    'ahead',
    s.databaseVersion,
    s.codeVersion,
  );
}

/** One line saying what is wrong and what to do. */
export function describeSchemaProblem(problem: SchemaProblem): string {
  switch (problem.kind) {
    case 'renamed':
      return (
        `the database's migration ${problem.version} is "${problem.databaseName}" but this lnmux's is "${problem.codeName}": ` +
        'the database was migrated by a different lnmux'
      );
    case 'edited':
      return (
        `the database's migration ${problem.version} (${problem.name}) was applied from other SQL than this lnmux's ` +
        `${fileName(problem.version, problem.name, 'up')} (checksum ${problem.databaseChecksum.slice(0, 12)}… recorded, ` +
        `${problem.codeChecksum.slice(0, 12)}… in the file): the file was edited after it was applied, or the database was ` +
        'migrated by a different lnmux'
      );
    case 'tablesMissing':
      return (
        `the database lacks the tables ${problem.tables.map((t) => `lnmux.${t}`).join(', ')} that its applied migrations create: ` +
        'it was changed by hand or restored in part; restore it from a backup'
      );
    default: {
      const never: never = problem;
      return String(never);
    }
  }
}

function refuseProblems(s: MigrationStatus): void {
  const [first] = s.problems;
  if (first === undefined) return;
  throw new SchemaVersionError(
    s.problems.map(describeSchemaProblem).join('; '),
    first.kind === 'tablesMissing' ? 'tablesMissing' : 'historyMismatch',
    s.databaseVersion,
    s.codeVersion,
  );
}

/** Refuses a database newer than the code, or whose history or tables differ from its migrations. */
function check(s: MigrationStatus): MigrationStatus {
  if (s.state === 'ahead') throw aheadError(s);
  refuseProblems(s);
  return s;
}

/** Records the checksum of each applied migration that has none (applied before lnmux kept them). */
async function recordChecksums(session: Session, migrations: readonly Migration[]): Promise<void> {
  for (const migration of migrations) {
    await session.query('UPDATE lnmux.schema_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL', [
      migration.version,
      migration.checksum,
    ]);
  }
}

function fileName(version: number, name: string, direction: 'up' | 'down'): string {
  return `${String(version).padStart(4, '0')}_${name}.${direction}.sql`;
}

/**
 * The tables (in schema lnmux, unqualified names) that `migrations`, applied in order, leave: each
 * `CREATE TABLE lnmux.x` adds one, `DROP TABLE lnmux.x` removes it, `ALTER TABLE lnmux.x RENAME TO y`
 * renames it. Read from the files, so a new migration needs nothing here.
 */
export function tablesCreatedBy(migrations: readonly Migration[]): ReadonlySet<string> {
  const tables = new Set<string>();
  const statement =
    /\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?lnmux\.(\w+)|\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?((?:lnmux\.\w+\s*,\s*)*lnmux\.\w+)|\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?lnmux\.(\w+)\s+RENAME\s+TO\s+(\w+)/gi;
  for (const migration of migrations) {
    // Comments out, so that a table named in one is not taken for a statement.
    const sql = migration.up.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const m of sql.matchAll(statement)) {
      if (m[1] !== undefined) tables.add(m[1].toLowerCase());
      else if (m[2] !== undefined) for (const t of m[2].split(',')) tables.delete(t.trim().slice('lnmux.'.length).toLowerCase());
      else if (m[3] !== undefined && m[4] !== undefined) {
        tables.delete(m[3].toLowerCase());
        tables.add(m[4].toLowerCase());
      }
    }
  }
  return tables;
}

function checkTarget(target: number, codeVersion: number): void {
  if (!Number.isInteger(target) || target < 0 || target > codeVersion) {
    throw new RangeError(`migration target must be an integer from 0 to ${codeVersion}, got ${target}`);
  }
}

async function withMigrationLock<T>(db: Db, operation: string, fn: (session: Session) => Promise<T>): Promise<T> {
  return db.withSession(operation, async (session) => {
    const locked = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
      MIGRATION_LOCK_KEY,
    ]);
    if (locked.rows[0]?.locked !== true) {
      throw new MigrationLockedError(`${operation}: another migrator is running (advisory lock held); nothing was changed`);
    }
    try {
      return await fn(session);
    } finally {
      await session.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => session.discard());
    }
  });
}

async function initialize(session: Session): Promise<void> {
  await session.query(`
    CREATE SCHEMA IF NOT EXISTS lnmux;
    CREATE TABLE IF NOT EXISTS lnmux.schema_migrations (
      version    integer     PRIMARY KEY CHECK (version > 0),
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
    -- The SHA-256 of the up file a migration was applied from (added after version 5 shipped: null in
    -- rows written before it, until the next migrate init/up records them).
    ALTER TABLE lnmux.schema_migrations ADD COLUMN IF NOT EXISTS checksum text CHECK (checksum ~ '^[0-9a-f]{64}$');`);
}

async function status(session: Session, migrations: readonly Migration[]): Promise<MigrationStatus> {
  const exists = await session.query<{ reg: string | null }>(
    `SELECT to_regclass('lnmux.schema_migrations')::text AS reg`,
  );
  const codeVersion = migrations.length;
  if (exists.rows[0]?.reg == null) {
    return { initialized: false, databaseVersion: 0, codeVersion, applied: [], state: 'uninitialized', problems: [] };
  }
  // to_jsonb reads the checksum column whether or not this database has it yet (opened, not migrated,
  // since it was added).
  const rows = await session.query<{ version: number; name: string; applied_at: Date; checksum: string | null }>(
    `SELECT version, name, applied_at, to_jsonb(m) ->> 'checksum' AS checksum FROM lnmux.schema_migrations m ORDER BY version`,
  );
  const applied = rows.rows.map((r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at, checksum: r.checksum }));
  const databaseVersion = applied.at(-1)?.version ?? 0;
  const state = databaseVersion > codeVersion ? 'ahead' : databaseVersion < codeVersion ? 'behind' : 'current';
  const problems: SchemaProblem[] = [];
  for (const a of applied) {
    const known = migrations[a.version - 1];
    if (known === undefined) continue;
    if (known.name !== a.name) problems.push({ kind: 'renamed', version: a.version, databaseName: a.name, codeName: known.name });
    else if (a.checksum !== null && a.checksum !== known.checksum) {
      problems.push({ kind: 'edited', version: a.version, name: a.name, databaseChecksum: a.checksum, codeChecksum: known.checksum });
    }
  }
  if (problems.length === 0 && state !== 'ahead') {
    const present = await session.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'lnmux' AND c.relkind IN ('r', 'p')`,
    );
    const there = new Set(present.rows.map((r) => r.name));
    const expected = tablesCreatedBy(migrations.slice(0, databaseVersion));
    const missing = [...expected].filter((t) => !there.has(t)).sort();
    if (missing.length > 0) problems.push({ kind: 'tablesMissing', tables: missing });
  }
  return { initialized: true, databaseVersion, codeVersion, applied, state, problems };
}

async function apply(session: Session, migration: Migration, direction: 'up' | 'down'): Promise<void> {
  const label = fileName(migration.version, migration.name, direction);
  await session.query('BEGIN');
  try {
    // Simple query protocol (no parameters): the file may hold several statements.
    await session.query(direction === 'up' ? migration.up : migration.down);
    if (direction === 'up') {
      await session.query('INSERT INTO lnmux.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
    } else {
      await session.query('DELETE FROM lnmux.schema_migrations WHERE version = $1', [migration.version]);
    }
  } catch (error) {
    await session.query('ROLLBACK').catch(() => session.discard());
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreError(`migration ${label} failed and was rolled back: ${(error as Error).message}`, { cause: error });
  }
  await session.query('COMMIT');
}
