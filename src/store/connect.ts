/**
 * Connections for both backends behind one Db (db.ts):
 * - PostgreSQL: a pg.Pool with the configured size, connect timeout, server statement_timeout and a client
 *   read timeout (a dead network is reported, not waited on forever).
 * - Embedded: PGlite (PostgreSQL compiled to WebAssembly, in this process) reached through its
 *   node-postgres adapter, so the same `pg` queries serve both. PGlite is one backend with one session:
 *   one pg.Client, and a queue so that one transaction at a time has it. It never fsyncs.
 */
import pg from 'pg';
import { describeDatabaseUrl, type ResolvedStoreConfig } from './config.js';
import { lockDataDir } from './data-dir-lock.js';
import { Db, type ConnectionSource, type Lease } from './db.js';

/** The warning the embedded store gives when it opens. */
export const EMBEDDED_WARNING =
  'lnmux: the embedded database (PGlite) never fsyncs: a crash or power loss can lose committed settle ' +
  'decisions. Use it for the demo, tests and development, not for money in production: configure a ' +
  'PostgreSQL database instead (database.dsn in multiplexer.yml).';

/** A Db on PostgreSQL. Opens no connection yet (the first operation does). */
export function connectPostgres(config: ResolvedStoreConfig & { databaseUrl: string }): Db {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'lnmux',
    statement_timeout: config.statementTimeoutMs,
    // A transaction left open by a client that hung must not keep its row locks for long.
    idle_in_transaction_session_timeout: Math.max(60_000, 2 * config.statementTimeoutMs),
    query_timeout: config.statementTimeoutMs + config.connectTimeoutMs,
    // Send a transaction's statements without waiting for each answer (BEGIN with the first statement,
    // the last one with COMMIT): fewer round trips per transaction (db.ts).
    pipeline: true,
  });
  // An idle pooled connection that breaks (server restart) emits 'error' on the pool; the pool drops it
  // and the next checkout opens a new one. Without a listener the process would exit.
  pool.on('error', () => {});
  const source: ConnectionSource = {
    size: config.poolSize,
    acquire: async (): Promise<Lease> => {
      const client = await pool.connect();
      return { client, release: (destroy) => client.release(destroy) };
    },
    end: () => pool.end(),
    dedicated: (settings) =>
      new pg.Client({
        connectionString: config.databaseUrl,
        connectionTimeoutMillis: config.connectTimeoutMs,
        keepAlive: true,
        keepAliveInitialDelayMillis: 1_000,
        application_name: 'lnmux-leader',
        // Startup parameters: the server applies them before the first query (no extra round trip).
        options: Object.entries(settings)
          .map(([name, value]) => `-c ${name}=${value}`)
          .join(' '),
      }),
  };
  return new Db(source, describeDatabaseUrl(config.databaseUrl));
}

/** Options of the embedded database beyond the store config. */
export interface EmbeddedOptions {
  /** Start from this data directory dump (`PGlite.dumpDataDir()`), e.g. a prepared template. */
  readonly loadDataDir?: Blob;
}

/**
 * A Db on an embedded PGlite, started and ready. Warns through `config.onWarning`. A data directory is
 * locked for this process until the Db closes (data-dir-lock.ts).
 * @throws DataDirLockedError when another process holds the directory.
 */
export async function connectEmbedded(config: ResolvedStoreConfig, options: EmbeddedOptions = {}): Promise<Db> {
  config.onWarning(EMBEDDED_WARNING);
  const unlock = config.dataDir !== undefined ? await lockDataDir(config.dataDir) : async () => {};
  try {
    return await openEmbedded(config, options, unlock);
  } catch (error) {
    await unlock();
    throw error;
  }
}

async function openEmbedded(config: ResolvedStoreConfig, options: EmbeddedOptions, unlock: () => Promise<void>): Promise<Db> {
  // Loaded on demand: a PostgreSQL-only deployment never pays for the WebAssembly module.
  const [{ PGlite }, { createPgConfig }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/node-postgres'),
  ]);
  const pglite = new PGlite({
    ...(config.dataDir !== undefined ? { dataDir: config.dataDir } : {}),
    ...(options.loadDataDir !== undefined ? { loadDataDir: options.loadDataDir } : {}),
  });
  await pglite.waitReady;
  // One client for the one session: the adapter's connection object cannot be shared by several
  // clients (a pg.Pool would create new ones after an error and interleave their protocol streams).
  const client = new pg.Client({ ...createPgConfig(pglite) } as unknown as pg.ClientConfig);
  client.on('error', () => {});
  await client.connect();
  let tail: Promise<void> = Promise.resolve();
  const source: ConnectionSource = {
    size: 1,
    acquire: async (): Promise<Lease> => {
      let release!: () => void;
      const turn = new Promise<void>((resolve) => (release = resolve));
      const previous = tail;
      tail = previous.then(() => turn);
      await previous;
      // `destroy` is ignored: there is no network to break, and no second session to switch to.
      return { client, release: () => release() };
    },
    end: async () => {
      try {
        await tail;
        await client.end();
        await pglite.close();
      } finally {
        await unlock();
      }
    },
  };
  return new Db(source, config.dataDir === undefined ? 'embedded PGlite (in memory)' : `embedded PGlite at ${config.dataDir}`);
}

/** A Db for the config: PostgreSQL when databaseUrl is set, embedded otherwise. */
export async function connect(config: ResolvedStoreConfig, options: EmbeddedOptions = {}): Promise<Db> {
  const { databaseUrl } = config;
  return databaseUrl !== undefined ? connectPostgres({ ...config, databaseUrl }) : connectEmbedded(config, options);
}
