/**
 * Leadership: one active lnmux per cluster (docs/architecture.md, invariant 6), held as a PostgreSQL session rather
 * than a lease that must expire. The leader holds a session advisory lock on a dedicated connection; the
 * server releases it the moment that session ends, so a standby blocked on the same lock takes over as
 * soon as the leader's process dies (its socket closes), with no TTL to wait out.
 *
 * A vanished host (power, network cut) closes nothing. Three server settings of the session bound that:
 * `idle_session_timeout` (the leader heartbeats every heartbeatMs; without a heartbeat for
 * sessionTimeoutMs the server ends the session), `tcp_keepalives_*` and `client_connection_check_interval`
 * (a standby's session waiting on the lock notices its client is gone). The leader gives the session up
 * itself when a heartbeat is unanswered for sessionTimeoutMs, and reports it through `onLost`.
 *
 * Fencing: each taking of the leadership moves `lnmux.leases.epoch` on, in the lock holder's session;
 * every settle commit carries the epoch its term was given and is refused unless it is still the
 * current one, checked in the commit's own transaction (settle.ts, SELECT ... FOR SHARE). A leader that
 * takes the lock back after losing its session, with the epoch still its own (nobody led in between),
 * keeps its epoch: its term goes on.
 *
 * The embedded PGlite is one process's private database: there is no second instance to keep out, and no
 * second session to hold a lock on. Its leadership is taken at once (the epoch still moves on, so the
 * commits are fenced the same way) and is never lost.
 */
import type pg from 'pg';
import { bigintFromSql } from './codec.js';
import type { Db } from './db.js';
import { StoreError, StoreUnavailableError, toStoreError } from './errors.js';

/** Timing of the leader's session, ms. */
export interface LeadershipOptions {
  /** Time between two heartbeats of the held session (default 500). */
  readonly heartbeatMs?: number;
  /**
   * The server ends a leader session that sent no heartbeat for this long (a vanished host), and the
   * leader gives its session up when a heartbeat stays unanswered this long (default 3000). Also the
   * bound of one blocking wait for the lock.
   */
  readonly sessionTimeoutMs?: number;
  /** Called once each time a held leadership is lost (its session ended or stopped answering). */
  readonly onLost?: (cause: LeadershipLostCause) => void;
}

export type LeadershipLostCause =
  | { readonly kind: 'connectionLost'; readonly detail: string }
  | { readonly kind: 'heartbeatUnanswered'; readonly afterMs: number };

export type TakeLeadershipOutcome =
  /** Held. `resumed`: the epoch is `previousEpoch` (nobody led since): the same term goes on. */
  | { readonly kind: 'taken'; readonly epoch: bigint; readonly resumed: boolean }
  /** Another session holds it; `holder` is who took it last (informational). */
  | { readonly kind: 'heldByOther'; readonly holder: string | undefined };

export interface TakeLeadershipOptions {
  /** Wait for the lock (up to sessionTimeoutMs) instead of giving up at once if it is held. */
  readonly wait?: boolean;
  /** The epoch of the term this instance held last: kept if still current (see `resumed`). */
  readonly previousEpoch?: bigint;
}

/** One instance's claim on the leadership of one cluster (`name`). */
export interface Leadership {
  /** True while taken and not known to be lost. */
  readonly held: boolean;
  /**
   * Takes the leadership if free. Throws StoreUnavailableError when the database cannot be reached,
   * Error if already held.
   */
  take(options?: TakeLeadershipOptions): Promise<TakeLeadershipOutcome>;
  /** Gives the leadership up (if held) and closes its connection. Idempotent; never throws. */
  release(): Promise<void>;
}

/** The first key of lnmux's leadership locks ('lnmx'); the second is hashtext(name). */
const LOCK_CLASS = 0x6c6e6d78;

const TAKE_EPOCH = `
  INSERT INTO lnmux.leases AS l (name, holder, epoch, acquired_at, renewed_at, expires_at)
  VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp(), 'infinity')
  ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    epoch = CASE WHEN l.holder = excluded.holder AND l.epoch = $3::bigint THEN l.epoch ELSE l.epoch + 1 END,
    acquired_at = CASE WHEN l.holder = excluded.holder AND l.epoch = $3::bigint THEN l.acquired_at ELSE excluded.acquired_at END,
    renewed_at = excluded.renewed_at,
    expires_at = 'infinity'
  RETURNING epoch`;

const MARK_RELEASED = `
  UPDATE lnmux.leases SET expires_at = '-infinity', renewed_at = clock_timestamp()
  WHERE name = $1 AND holder = $2 AND epoch = $3::bigint`;

function checkArgs(name: string, holder: string, options: LeadershipOptions): { heartbeatMs: number; sessionTimeoutMs: number } {
  for (const [field, value] of [['name', name], ['holder', holder]] as const) {
    if (typeof value !== 'string' || value === '' || value.includes('\u0000')) {
      throw new TypeError(`leadership ${field} must be a non-empty string without U+0000, got ${JSON.stringify(value)}`);
    }
  }
  const heartbeatMs = options.heartbeatMs ?? 500;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 3_000;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 10) {
    throw new RangeError(`leadership heartbeatMs must be an integer >= 10 (ms), got ${heartbeatMs}`);
  }
  if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < 2 * heartbeatMs) {
    throw new RangeError(`leadership sessionTimeoutMs must be an integer >= 2 * heartbeatMs (${2 * heartbeatMs} ms), got ${sessionTimeoutMs}`);
  }
  return { heartbeatMs, sessionTimeoutMs };
}

/** The leadership of cluster `name` for instance `holder`, on `db`'s backend. Connects on the first take. */
export function openLeadership(db: Db, name: string, holder: string, options: LeadershipOptions = {}): Leadership {
  const timing = checkArgs(name, holder, options);
  const settings = {
    idle_session_timeout: String(timing.sessionTimeoutMs),
    lock_timeout: String(timing.sessionTimeoutMs),
    statement_timeout: '0',
    client_connection_check_interval: '1000',
    tcp_keepalives_idle: '1',
    tcp_keepalives_interval: '1',
    tcp_keepalives_count: '3',
  };
  const probe = db.dedicatedClient(settings);
  if (probe === undefined) return new EmbeddedLeadership(db, name, holder);
  return new SessionLeadership(db, name, holder, timing, settings, options.onLost ?? (() => {}), probe);
}

class SessionLeadership implements Leadership {
  #client: pg.Client | undefined;
  #unused: pg.Client | undefined;
  #epoch: bigint | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beatSentAt: number | undefined;
  /** Moves on at each release: a take still connecting when it happens gives its connection up. */
  #generation = 0;

  constructor(
    private readonly db: Db,
    private readonly name: string,
    private readonly holder: string,
    private readonly timing: { heartbeatMs: number; sessionTimeoutMs: number },
    private readonly settings: Readonly<Record<string, string>>,
    private readonly onLost: (cause: LeadershipLostCause) => void,
    first: pg.Client,
  ) {
    this.#unused = first;
  }

  get held(): boolean {
    return this.#epoch !== undefined;
  }

  async take(options: TakeLeadershipOptions = {}): Promise<TakeLeadershipOutcome> {
    if (this.#epoch !== undefined) throw new Error(`leadership ${this.name} is already held by this instance`);
    const client = await this.#connect();
    let got: boolean;
    try {
      // pg_advisory_lock waits (at most lock_timeout = sessionTimeoutMs) and returns void: one row.
      const sql =
        options.wait === true
          ? `SELECT true AS got FROM pg_advisory_lock(${LOCK_CLASS}, hashtext($1))`
          : `SELECT pg_try_advisory_lock(${LOCK_CLASS}, hashtext($1)) AS got`;
      const result = await this.#query<{ got: boolean }>(client, sql, [this.name], this.timing.sessionTimeoutMs * 2);
      got = result.rows[0]?.got === true;
    } catch (error) {
      // lock_timeout: the wait ended without the lock (the session is fine).
      if ((error as { cause?: { code?: unknown } }).cause?.code !== '55P03') throw error;
      got = false;
    }
    if (!got) {
      const last = await this.#query<{ holder: string }>(client, 'SELECT holder FROM lnmux.leases WHERE name = $1', [this.name]);
      return { kind: 'heldByOther', holder: last.rows[0]?.holder };
    }
    try {
      const taken = await this.#query<{ epoch: string }>(client, TAKE_EPOCH, [this.name, this.holder, String(options.previousEpoch ?? 0n)]);
      const epoch = bigintFromSql(taken.rows[0]!.epoch);
      this.#epoch = epoch;
      this.#startHeartbeat(client);
      return { kind: 'taken', epoch, resumed: options.previousEpoch === epoch };
    } catch (error) {
      // Holding the lock without an epoch would block every other instance: end the session.
      this.#drop(client);
      throw error;
    }
  }

  async release(): Promise<void> {
    this.#generation++;
    const client = this.#client;
    const epoch = this.#epoch;
    this.#stopHeartbeat();
    this.#epoch = undefined;
    this.#client = undefined;
    this.#unused = undefined;
    if (client === undefined) return;
    if (epoch !== undefined) {
      await this.#query(client, MARK_RELEASED, [this.name, this.holder, String(epoch)], this.timing.sessionTimeoutMs).catch(() => {});
    }
    // Ending the session releases the advisory lock.
    await client.end().catch(() => {});
  }

  async #connect(): Promise<pg.Client> {
    if (this.#client !== undefined) return this.#client;
    const client = this.#unused ?? this.db.dedicatedClient(this.settings)!;
    this.#unused = undefined;
    const generation = this.#generation;
    client.on('error', (error: Error) => this.#closed(client, error.message));
    client.on('end', () => this.#closed(client, 'connection ended'));
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => {});
      throw toStoreError(error, `leadership ${this.name} (connect)`, this.db.where);
    }
    if (generation !== this.#generation) {
      await client.end().catch(() => {});
      throw new StoreError(`leadership ${this.name}: released while connecting`);
    }
    this.#client = client;
    return client;
  }

  /** A query with a deadline: no answer in `deadlineMs` means the connection is dead (it is dropped). */
  async #query<R extends pg.QueryResultRow>(
    client: pg.Client,
    sql: string,
    params: unknown[],
    deadlineMs = this.timing.sessionTimeoutMs,
  ): Promise<pg.QueryResult<R>> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#drop(client);
        reject(new StoreUnavailableError(`store unavailable: leadership ${this.name} got no answer from ${this.db.where} in ${deadlineMs} ms; retry later`, false));
      }, deadlineMs);
    });
    try {
      return await Promise.race([client.query<R>(sql, params), deadline]);
    } catch (error) {
      throw toStoreError(error, `leadership ${this.name}`, this.db.where);
    } finally {
      clearTimeout(timer);
    }
  }

  #startHeartbeat(client: pg.Client): void {
    this.#beatSentAt = undefined;
    this.#heartbeat = setInterval(() => {
      const sentAt = this.#beatSentAt;
      if (sentAt !== undefined) {
        const waited = Date.now() - sentAt;
        if (waited >= this.timing.sessionTimeoutMs - this.timing.heartbeatMs) {
          this.#lose(client, { kind: 'heartbeatUnanswered', afterMs: waited });
        }
        return;
      }
      this.#beatSentAt = Date.now();
      client.query('SELECT 1').then(
        () => {
          if (this.#client === client) this.#beatSentAt = undefined;
        },
        (error: unknown) => this.#lose(client, { kind: 'connectionLost', detail: (error as Error).message }),
      );
    }, this.timing.heartbeatMs);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#beatSentAt = undefined;
  }

  #closed(client: pg.Client, detail: string): void {
    if (this.#client !== client) return;
    this.#lose(client, { kind: 'connectionLost', detail });
  }

  /** The held session is gone or unusable: drop it (the server then releases the lock) and report it once. */
  #lose(client: pg.Client, cause: LeadershipLostCause): void {
    if (this.#client !== client) return;
    const wasHeld = this.#epoch !== undefined;
    this.#drop(client);
    if (wasHeld) this.onLost(cause);
  }

  #drop(client: pg.Client): void {
    if (this.#client === client) {
      this.#client = undefined;
      this.#epoch = undefined;
      this.#stopHeartbeat();
    }
    // Destroy the socket rather than end politely: a hung connection would never answer Terminate.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    client.end().catch(() => {});
  }
}

class EmbeddedLeadership implements Leadership {
  #epoch: bigint | undefined;

  constructor(
    private readonly db: Db,
    private readonly name: string,
    private readonly holder: string,
  ) {}

  get held(): boolean {
    return this.#epoch !== undefined;
  }

  async take(options: TakeLeadershipOptions = {}): Promise<TakeLeadershipOutcome> {
    if (this.#epoch !== undefined) throw new Error(`leadership ${this.name} is already held by this instance`);
    const taken = await this.db.withSession(`leadership ${this.name}`, (session) =>
      session.query<{ epoch: string }>(TAKE_EPOCH, [this.name, this.holder, String(options.previousEpoch ?? 0n)]),
    );
    const epoch = bigintFromSql(taken.rows[0]!.epoch);
    this.#epoch = epoch;
    return { kind: 'taken', epoch, resumed: options.previousEpoch === epoch };
  }

  async release(): Promise<void> {
    const epoch = this.#epoch;
    this.#epoch = undefined;
    if (epoch === undefined) return;
    await this.db
      .withSession(`leadership ${this.name} (release)`, (session) => session.query(MARK_RELEASED, [this.name, this.holder, String(epoch)]))
      .catch(() => {});
  }
}
