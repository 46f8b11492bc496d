/**
 * Store configuration: which database, how many connections, how long to wait. Checked once, eagerly;
 * an error names the field, what was expected and what was given.
 */

/** How to reach the database and how to use it. Durations in milliseconds. */
export interface StoreConfig {
  /**
   * PostgreSQL connection string (`postgres://user:password@host:5432/database`). Absent: the embedded
   * PGlite database (demo, tests, development: it never fsyncs, so not for money in production).
   */
  readonly databaseUrl?: string;
  /** Embedded only: the folder of the database files (created if absent). Absent: in memory, lost at exit. */
  readonly dataDir?: string;
  /** PostgreSQL only: most connections open at once. Default 10. */
  readonly poolSize?: number;
  /**
   * Longest wait for a connection: to open one, or for a free one when all are busy. A server that does
   * not answer fails the operation with StoreUnavailableError after this long. Default 5000.
   */
  readonly connectTimeoutMs?: number;
  /**
   * PostgreSQL only: longest a statement may run (server `statement_timeout`, also bounding a wait for a
   * row lock). The client stops waiting for an answer after this plus connectTimeoutMs (a dead network).
   * Default 10000.
   */
  readonly statementTimeoutMs?: number;
  /** Group commit: most requests in one transaction (1 turns grouping off). Default 100. */
  readonly maxBatchSize?: number;
  /**
   * Group commit: most transactions in flight at once per write path (record, settle, final), each on its
   * own connection; requests arriving meanwhile form the next batch. Default 2 (one committing while the
   * next one fills: larger batches, fewer commits). Capped by poolSize; the embedded store uses 1.
   */
  readonly maxBatchesInFlight?: number;
  /** Apply pending migrations when the store opens (demo, tests). Default false: refuse an old schema. */
  readonly migrate?: boolean;
  /** Receives warnings (the embedded store's durability warning). Default: process.emitWarning. */
  readonly onWarning?: (message: string) => void;
}

/** A StoreConfig with every default filled in. */
export interface ResolvedStoreConfig {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string | undefined;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchesInFlight: number;
  readonly migrate: boolean;
  readonly onWarning: (message: string) => void;
}

export const STORE_DEFAULTS = Object.freeze({
  poolSize: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
  maxBatchSize: 100,
  maxBatchesInFlight: 2,
});

function integer(config: StoreConfig, field: keyof typeof STORE_DEFAULTS, min: number, max: number): number {
  const value = config[field] ?? STORE_DEFAULTS[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`store config: ${field} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * Fills in defaults and checks every field.
 * @throws TypeError / RangeError naming the field.
 */
export function resolveStoreConfig(config: StoreConfig): ResolvedStoreConfig {
  if (typeof config !== 'object' || config === null) throw new TypeError('store config must be an object');
  const { databaseUrl, dataDir } = config;
  if (databaseUrl !== undefined && (typeof databaseUrl !== 'string' || databaseUrl.trim() === '')) {
    throw new TypeError('store config: databaseUrl must be a non-empty string (or absent for the embedded database)');
  }
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir === '')) {
    throw new TypeError('store config: dataDir must be a non-empty string');
  }
  if (databaseUrl !== undefined && dataDir !== undefined) {
    throw new TypeError('store config: give databaseUrl (PostgreSQL) or dataDir (embedded), not both');
  }
  if (config.onWarning !== undefined && typeof config.onWarning !== 'function') {
    throw new TypeError('store config: onWarning must be a function');
  }
  return {
    databaseUrl,
    dataDir,
    poolSize: integer(config, 'poolSize', 1, 1000),
    connectTimeoutMs: integer(config, 'connectTimeoutMs', 1, 600_000),
    statementTimeoutMs: integer(config, 'statementTimeoutMs', 1, 3_600_000),
    maxBatchSize: integer(config, 'maxBatchSize', 1, 10_000),
    maxBatchesInFlight: integer(config, 'maxBatchesInFlight', 1, 1000),
    migrate: config.migrate === true,
    onWarning: config.onWarning ?? ((message) => process.emitWarning(message, { code: 'LNMUX_STORE' })),
  };
}

/** host:port/database of a DSN, for messages; never the password. */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
    return `PostgreSQL at ${url.hostname || 'localhost'}:${url.port || '5432'}/${database}`;
  } catch {
    return 'PostgreSQL (connection string not shown)';
  }
}
