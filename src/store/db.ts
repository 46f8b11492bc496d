/**
 * One `pg` code path for both backends: a connection source (a pg.Pool for PostgreSQL, one pg.Client over
 * PGlite's node-postgres adapter for the embedded store) behind sessions and transactions that map every
 * driver error to the store's error classes (errors.ts).
 */
import type pg from 'pg';
import { StoreClosedError, StoreError, StoreUnavailableError, toStoreError } from './errors.js';

/** A checked-out connection and how to give it back (`destroy` when it may be broken or mid-transaction). */
export interface Lease {
  readonly client: pg.ClientBase;
  release(destroy: boolean): void;
}

/** Where connections come from. */
export interface ConnectionSource {
  /** Checks a connection out; throws the driver's error when none can be had (in the connect timeout). */
  acquire(): Promise<Lease>;
  /** Closes every connection. */
  end(): Promise<void>;
  /** How many connections can be checked out at once. */
  readonly size: number;
  /**
   * A new connection outside the pool, for a session that holds state of its own (the leadership's
   * advisory lock), configured with the settings given (SET name = value at connect). Absent when the
   * backend has no second session to give (the embedded PGlite).
   */
  readonly dedicated?: (settings: Readonly<Record<string, string>>) => pg.Client;
}

/**
 * A statement on the path of every payment, prepared once per connection under its name: PostgreSQL
 * parses and plans it once rather than at each call (a fifth of the lone settle statement's server time
 * was its planning: docs/benchmarks.md).
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** Names `text` as a {@link PreparedStatement}; `name` is unique among the store's statements. */
export function prepared(name: string, text: string): PreparedStatement {
  return { name: `lnmux_${name}`, text };
}

/** SQL text, or a statement prepared under its name. */
export type Statement = string | PreparedStatement;

/** Queries on one checked-out connection. Errors are already StoreErrors. */
export interface Session {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: Statement,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Marks the connection unusable: it is destroyed instead of going back to the pool. */
  discard(): void;
}

/** A session inside a transaction. */
export interface TransactionSession extends Session {
  /**
   * Runs `sql` as the transaction's last statement with COMMIT sent right behind it; resolves after both
   * (throws if either failed or COMMIT answered ROLLBACK). The body must send nothing after it.
   */
  queryAndCommit<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: Statement,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** Sessions and transactions over a connection source. */
export class Db {
  #closed = false;

  constructor(
    private readonly source: ConnectionSource,
    /** Where the database is, for error messages (host:port/database; never a password). */
    readonly where: string,
  ) {}

  /** How many connections may be used at once. */
  get size(): number {
    return this.source.size;
  }

  /** See ConnectionSource.dedicated: undefined for the embedded backend. Not yet connected. */
  dedicatedClient(settings: Readonly<Record<string, string>>): pg.Client | undefined {
    if (this.#closed) throw new StoreClosedError('dedicated connection: the store is closed');
    return this.source.dedicated?.(settings);
  }

  /**
   * Runs `fn` with one connection checked out. Driver errors become StoreUnavailableError (retryable)
   * or StoreError; a connection that failed is destroyed rather than returned to the pool.
   * @param operation what is being done, for error messages.
   * @param commitsAlone the session's statements run outside any transaction (each commits itself): a
   *   connection lost after one was sent leaves its outcome unknown (`mayHaveCommitted`).
   */
  async withSession<T>(operation: string, fn: (session: Session) => Promise<T>, commitsAlone = false): Promise<T> {
    if (this.#closed) throw new StoreClosedError(`${operation}: the store is closed`);
    let lease: Lease;
    try {
      lease = await this.source.acquire();
    } catch (error) {
      throw toStoreError(error, operation, this.where);
    }
    let broken = false;
    // An error event on a checked-out client (the socket died between two queries) must not crash
    // the process: the next query on it fails and is reported.
    const onError = (): void => {
      broken = true;
    };
    lease.client.on('error', onError);
    const send = <R extends pg.QueryResultRow>(sql: Statement, params?: readonly unknown[]): Promise<pg.QueryResult<R>> =>
      typeof sql !== 'string'
        ? lease.client.query<R>({ name: sql.name, text: sql.text, values: params as unknown[] | undefined })
        : lease.client.query<R>(sql, params as unknown[] | undefined);
    // A statement sent while another runs is pipelined on PostgreSQL (connect.ts). On a connection that
    // is not (the embedded backend's) pg would queue it, with a deprecation warning and, from pg 9, an
    // error: there the session sends each one once the previous has answered. Same order, same answers.
    const pipelined = (lease.client as { pipeline?: boolean }).pipeline === true;
    let previous: Promise<unknown> = Promise.resolve();
    const session: Session = {
      query: async <R extends pg.QueryResultRow>(sql: Statement, params?: readonly unknown[]) => {
        let sent: Promise<pg.QueryResult<R>>;
        if (pipelined) sent = send<R>(sql, params);
        else {
          sent = previous.then(() => send<R>(sql, params));
          previous = sent.catch(() => undefined);
        }
        try {
          return await sent;
        } catch (error) {
          const storeError = toStoreError(error, operation, this.where, sql === 'COMMIT' || commitsAlone);
          if (storeError instanceof StoreUnavailableError) broken = true;
          throw storeError;
        }
      },
      discard: () => {
        broken = true;
      },
    };
    try {
      return await fn(session);
    } finally {
      lease.client.removeListener('error', onError);
      lease.release(broken);
    }
  }

  /**
   * One statement as its own transaction (autocommit): one round trip, its COMMIT included. A
   * connection lost once it was sent throws StoreUnavailableError with `mayHaveCommitted` set.
   */
  async statement<R extends pg.QueryResultRow = pg.QueryResultRow>(
    operation: string,
    sql: Statement,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.withSession(operation, (session) => session.query<R>(sql, params), true);
  }

  /**
   * Runs `fn` in BEGIN ... COMMIT (READ COMMITTED); if `fn` throws, ROLLBACK and rethrow.
   * Returns only after COMMIT succeeded. A connection failure once COMMIT may have been sent throws
   * StoreUnavailableError with `mayHaveCommitted` set; an ERROR before it means nothing was committed.
   *
   * Round trips: BEGIN travels with the body's first statement, and `queryAndCommit` sends the last
   * statement and COMMIT together (on a pipelined connection; elsewhere pg queues them in order).
   *
   * `options.flush: false` commits without waiting for the WAL flush (synchronous_commit off for this
   * transaction only): for what is redone after a database crash anyway and decides no payment
   * (docs/architecture.md, "What waits for the disk"). Anything a later synchronous commit depends on is
   * flushed with it, since the WAL is flushed in order.
   */
  async transaction<T>(
    operation: string,
    fn: (session: TransactionSession) => Promise<T>,
    options: { readonly flush?: boolean } = {},
  ): Promise<T> {
    return this.withSession(operation, async (session) => {
      let begin: Promise<unknown> | undefined = session.query(
        options.flush === false ? 'BEGIN; SET LOCAL synchronous_commit TO OFF' : 'BEGIN',
      );
      let committed = false;
      const query = async <R extends pg.QueryResultRow = pg.QueryResultRow>(
        sql: Statement,
        params?: readonly unknown[],
      ): Promise<pg.QueryResult<R>> => {
        const result = session.query<R>(sql, params);
        if (begin !== undefined) {
          const started = begin;
          begin = undefined;
          await Promise.all([started, result]);
        }
        return result;
      };
      const tx: TransactionSession = {
        query,
        discard: session.discard,
        queryAndCommit: async <R extends pg.QueryResultRow = pg.QueryResultRow>(
          sql: Statement,
          params?: readonly unknown[],
        ): Promise<pg.QueryResult<R>> => {
          const [result, commit] = await Promise.allSettled([query<R>(sql, params), session.query('COMMIT')]);
          // COMMIT's fate first: if it got no answer, the statement's error cannot tell whether it committed.
          if (commit.status === 'rejected') throw commit.reason;
          if (result.status === 'rejected') throw result.reason;
          if (commit.value.command !== 'COMMIT') {
            throw new StoreError(`${operation}: the transaction was rolled back at COMMIT (${commit.value.command})`);
          }
          committed = true;
          return result.value;
        },
      };
      let value: T;
      try {
        value = await fn(tx);
        // A body that sent nothing still needs BEGIN answered.
        const unanswered = begin as Promise<unknown> | undefined;
        begin = undefined;
        await unanswered;
      } catch (error) {
        await (begin as Promise<unknown> | undefined)?.catch(() => {});
        if (!committed) await rollbackQuietly(session);
        throw error;
      }
      if (committed) return value;
      const commit = await session.query('COMMIT');
      if (commit.command !== 'COMMIT') {
        throw new StoreError(`${operation}: the transaction was rolled back at COMMIT (${commit.command})`);
      }
      return value;
    });
  }

  /** Closes every connection; later calls throw StoreClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.source.end();
  }
}

/** ROLLBACK after a failure; if that fails too, the connection is destroyed (the server then rolls back). */
async function rollbackQuietly(session: Session): Promise<void> {
  try {
    await session.query('ROLLBACK');
  } catch {
    session.discard();
  }
}
