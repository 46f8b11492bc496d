/**
 * What the store throws. Expected conditions are outcomes (types.ts); these classes are for I/O failures
 * (retryable), an unusable schema, and broken invariants. Classification reads SQLSTATE codes and Node's
 * socket error codes, never message text.
 */

/** Base class of every error the store throws. `cause` keeps the driver's error. */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The database could not be reached or did not answer in time (connection refused or lost, connect or
 * statement timeout, server shutting down, too many connections, a serialization failure). Retryable:
 * hold the work and try again later. Nothing is known to be committed; if `mayHaveCommitted` is true the
 * connection failed during COMMIT, so the transaction may or may not have committed: retry the same
 * (idempotent) operation to learn which.
 */
export class StoreUnavailableError extends StoreError {
  override readonly name = 'StoreUnavailableError';
  readonly retryable = true;
  constructor(
    message: string,
    readonly mayHaveCommitted: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The database schema is not the version this code needs (or is not there). Says which command fixes it. */
export class SchemaVersionError extends StoreError {
  override readonly name = 'SchemaVersionError';
  constructor(
    message: string,
    readonly kind: 'notInitialized' | 'behind' | 'ahead' | 'historyMismatch' | 'tablesMissing',
    /** The database's version (0: no migration applied). */
    readonly databaseVersion: number,
    /** The newest version this code knows. */
    readonly codeVersion: number,
  ) {
    super(message);
  }
}

/** Another migrator holds the migration lock (a PostgreSQL advisory lock): nothing was changed. */
export class MigrationLockedError extends StoreError {
  override readonly name = 'MigrationLockedError';
}

/** The store was closed. */
export class StoreClosedError extends StoreError {
  override readonly name = 'StoreClosedError';
}

/**
 * The database belongs to another virtual node: it was bound (`lnmux.node_identity`) to the public key of
 * another identity key than the one configured. lnmux refuses to run it (docs/architecture.md, invariant 8): with
 * another key the onions of its open invoices would not peel, and the held parts of a set it committed
 * as settled would be failed.
 *
 * What to do: configure the identity key this database was made with (its public key is
 * `databasePubkey`), or give the new key a new database (`lnmux migrate init`, `lnmux migrate up`).
 * The node key is not rotated by swapping it: rotate the derived invoice keys through the payment_addr
 * key id instead. Only public keys are in the message, never the private key.
 */
export class IdentityKeyMismatchError extends StoreError {
  override readonly name = 'IdentityKeyMismatchError';
  constructor(
    /** Hex of the 33-byte public key the database is bound to. */
    readonly databasePubkey: string,
    /** Hex of the 33-byte public key of the configured identity key. */
    readonly configuredPubkey: string,
    /** When the database was bound to `databasePubkey`. */
    readonly recordedAt: Date,
  ) {
    super(
      `identity key mismatch: this database belongs to virtual node ${databasePubkey} (bound ${recordedAt.toISOString()}), ` +
        `but the configured identityKey is the key of ${configuredPubkey}. ` +
        `Configure the identity key this database was made with, or use a new database for the new key ` +
        '(`lnmux migrate init`, `lnmux migrate up`). With another key lnmux cannot peel the onions of this database\'s ' +
        'payments: its open invoices could not be paid and the held parts of sets it committed as settled would be failed. ' +
        'To rotate keys, use a new payment_addr key id, not a new node key.',
    );
  }
}

/**
 * The embedded database's data directory is in use by another process (or another store in this one):
 * PGlite is one PostgreSQL backend per directory, and a second one would write invoices the first never
 * sees (or corrupt the files). Names the directory and the holder's pid (and host).
 */
export class DataDirLockedError extends StoreError {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    /** The lock file, `<dataDir>/lnmux.lock`. */
    readonly lockFile: string,
    readonly holderPid: number,
    readonly holderHost: string,
  ) {
    super(
      `the embedded database ${dataDir} is in use by process ${holderPid} on ${holderHost} (lock file ${lockFile}): ` +
        'one process at a time may open it. Stop that process first (with `lnmux run` running, use its API), or use ' +
        'PostgreSQL (database.dsn) to share a database. If no such process is running, delete the lock file',
    );
  }
}

/** Node socket error codes that mean the server is unreachable or the connection broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that a retry may cure: 08 connection exceptions, 53 insufficient resources, 57P01..57P05
 * (admin shutdown, crash shutdown, cannot connect now, database dropped, idle session timeout), 57014
 * query_canceled (statement_timeout), 40001 serialization failure, 40P01 deadlock, 55P03 lock not available,
 * 25P03 idle-in-transaction timeout.
 */
function isRetryableSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    code.startsWith('53') ||
    code.startsWith('57P') ||
    code === '57014' ||
    code === '40001' ||
    code === '40P01' ||
    code === '55P03' ||
    code === '25P03'
  );
}

/** A server ErrorResponse (pg's and PGlite's DatabaseError both have `severity` and a 5-character `code`). */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; severity?: unknown };
  return typeof e.code === 'string' && typeof e.severity === 'string' && e.code.length === 5 ? e.code : undefined;
}

/**
 * True when `error` came from the connection rather than from the SQL: a Node socket error, one of pg's
 * own connection errors (they carry no code: connection terminated, connect timeout, query read timeout,
 * pool checkout timeout), or a retryable SQLSTATE.
 */
export function isUnavailable(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state !== undefined) return isRetryableSqlState(state);
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return NETWORK_CODES.has(code);
  // pg raises plain Errors without a code for the connection failures it detects itself, and
  // AggregateError (with per-address errors) when every address of a host refused.
  return error instanceof Error && !(error instanceof StoreError) && !(error instanceof TypeError) && !(error instanceof RangeError);
}

/**
 * Maps a driver error to the store's error classes. `operation` names what was being done;
 * `duringCommit` marks a failure while COMMIT was in flight (its outcome is then unknown).
 */
export function toStoreError(error: unknown, operation: string, where: string, duringCommit = false): StoreError {
  if (error instanceof StoreError) return error;
  const detail = describeCause(error);
  if (isUnavailable(error)) {
    // An ERROR answer to COMMIT means it rolled back; no answer, or the session dying (FATAL), leaves the
    // outcome unknown.
    const severity = (error as { severity?: unknown }).severity;
    const unknown = duringCommit && (sqlStateOf(error) === undefined || severity === 'FATAL' || severity === 'PANIC');
    const commit = unknown ? ' (the COMMIT was in flight: it may or may not have happened)' : '';
    return new StoreUnavailableError(
      `store unavailable: ${operation} failed on ${where}: ${detail}${commit}; retry later`,
      unknown,
      { cause: error },
    );
  }
  const state = sqlStateOf(error);
  if (state === '42P01' || state === '3F000') {
    return new StoreError(
      `${operation} failed on ${where}: the lnmux schema is missing (${detail}); run \`lnmux migrate up\``,
      { cause: error },
    );
  }
  return new StoreError(`${operation} failed on ${where}: ${detail}`, { cause: error });
}

function describeCause(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describeCause).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message === '' ? error.name : error.message;
    return typeof code === 'string' ? `${message} [${code}]` : message;
  }
  return String(error);
}
