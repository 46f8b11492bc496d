/**
 * The invoice events table (migrations/0007_invoice_events.up.sql): what the durable invoice stream
 * (docs/api.md, SubscribeInvoices) reads. Most rows are written by the statements that change an
 * invoice (invoices.ts, settle.ts, htlcs.ts, revoke.ts: a CTE of the same statement, so no round trip is
 * added); `accepted` and `released`, which are in-memory registry state, come from the Mux's events
 * through {@link recordInvoiceEvents}.
 *
 * The stream's index is not the insertion id: ids are taken at insert and committed in another order.
 * {@link sequenceInvoiceEvents} gives committed rows their `event_index`, one transaction at a time (a
 * transaction-scoped advisory lock): a pass sees only committed rows, numbers them after the highest
 * index, and commits them all at once; the next pass starts after it. So once a reader has seen index N,
 * every row that will ever get an index below N is already visible: following `event_index > N` never
 * skips one. The HTLC path never waits for it; a subscriber's delay is one pass.
 *
 * `accepted`/`released` rows are written without waiting for the WAL flush (they are best effort); the
 * sequencer's pass waits for it, so a numbered row is on disk (docs/architecture.md, "What waits for the disk").
 */
import { bigintFromSql, bytesFromSql, bytesToSql, checkBytes, checkMsat, u64ToSql } from './codec.js';
import { prepared, type Db } from './db.js';
import { StoreError } from './errors.js';
import { INVOICE_EVENT_KINDS, type InvoiceEvent, type InvoiceEventKind, type NewInvoiceEvent } from './types.js';

/** The sequencer's advisory lock (single-bigint key space; migrate.ts uses another key, leadership the two-int one). */
const SEQUENCER_LOCK_KEY = '465709135225';

/** The most rows one sequencer pass numbers (more are numbered by the next pass). */
export const SEQUENCE_BATCH = 10_000;

/** The most events one listInvoiceEvents page holds. */
export const MAX_EVENT_PAGE = 1000;

const SEQUENCE = `
  WITH base AS (
    SELECT coalesce(max(event_index), 0) AS b FROM lnmux.invoice_events
  ), next AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n
    FROM (SELECT id FROM lnmux.invoice_events WHERE event_index IS NULL ORDER BY id LIMIT $1) AS s
  )
  UPDATE lnmux.invoice_events AS e SET event_index = base.b + next.n
  FROM next, base WHERE e.id = next.id
  RETURNING e.event_index`;

const LIST = `
  SELECT event_index, hash, kind, set_id, amount_msat, reason, at FROM lnmux.invoice_events
  WHERE event_index > $1 ORDER BY event_index LIMIT $2`;

const INSERT = prepared('invoice_events_insert', `
  INSERT INTO lnmux.invoice_events (hash, kind, set_id, amount_msat, reason, at)
  SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::bigint[], $5::text[], $6::timestamptz[])`);

interface EventRow {
  event_index: string;
  hash: Buffer;
  kind: InvoiceEventKind;
  set_id: Buffer | null;
  amount_msat: string | null;
  reason: string | null;
  at: Date;
}

function eventFromRow(row: EventRow): InvoiceEvent {
  if (!INVOICE_EVENT_KINDS.includes(row.kind)) throw new StoreError(`invariant: unknown invoice event kind ${String(row.kind)}`);
  return {
    index: bigintFromSql(row.event_index),
    hash: bytesFromSql(row.hash),
    kind: row.kind,
    ...(row.set_id !== null ? { setId: bytesFromSql(row.set_id) } : {}),
    ...(row.amount_msat !== null ? { amountMsat: bigintFromSql(row.amount_msat) } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    at: row.at,
  };
}

/** Validates an event from the Mux before it is written. @throws TypeError / RangeError naming the field. */
export function checkNewInvoiceEvent(event: NewInvoiceEvent): void {
  checkBytes(event.hash, 32, 'hash');
  if (event.kind !== 'accepted' && event.kind !== 'released') {
    throw new RangeError(`kind must be 'accepted' or 'released', got ${String(event.kind)}`);
  }
  checkBytes(event.setId, 32, 'setId');
  if (event.amountMsat !== undefined) checkMsat(event.amountMsat, 'amountMsat');
  if (event.reason?.includes('\u0000') === true) throw new RangeError('reason must not contain U+0000');
  if (!(event.at instanceof Date) || Number.isNaN(event.at.getTime())) throw new TypeError('at must be a valid Date');
}

/** Writes `accepted` / `released` events (one statement). */
export async function recordInvoiceEvents(db: Db, events: readonly NewInvoiceEvent[]): Promise<void> {
  if (events.length === 0) return;
  // Not waiting for the WAL flush: see the file comment.
  await db.transaction(
    'recordInvoiceEvents',
    (session) =>
      session.queryAndCommit(INSERT, [
      events.map((e) => bytesToSql(e.hash)),
      events.map((e) => e.kind),
      events.map((e) => bytesToSql(e.setId)),
      events.map((e) => (e.amountMsat !== undefined ? u64ToSql(e.amountMsat) : null)),
      events.map((e) => e.reason ?? null),
      events.map((e) => e.at),
      ]),
    { flush: false },
  );
}

/**
 * One sequencer pass (see the file comment): gives the committed rows without an index theirs, in
 * insertion order. Returns the highest index given (undefined if none).
 */
export async function sequenceInvoiceEvents(db: Db): Promise<bigint | undefined> {
  return db.transaction('sequenceInvoiceEvents', async (session) => {
    await session.query('SELECT pg_advisory_xact_lock($1::bigint)', [SEQUENCER_LOCK_KEY]);
    // A statement of its own after the lock: its snapshot sees every pass committed before.
    const numbered = await session.queryAndCommit<{ event_index: string }>(SEQUENCE, [SEQUENCE_BATCH]);
    let highest: bigint | undefined;
    for (const row of numbered.rows) {
      const index = bigintFromSql(row.event_index);
      if (highest === undefined || index > highest) highest = index;
    }
    return highest;
  });
}

/** The indexed events after `after`, in index order, at most `limit` (1 .. {@link MAX_EVENT_PAGE}). */
export async function listInvoiceEvents(db: Db, after: bigint, limit: number): Promise<readonly InvoiceEvent[]> {
  if (typeof after !== 'bigint' || after < 0n) throw new RangeError(`after must be a bigint >= 0, got ${String(after)}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_EVENT_PAGE}, got ${limit}`);
  }
  return db.withSession('listInvoiceEvents', async (session) => {
    const result = await session.query<EventRow>(LIST, [after.toString(), limit]);
    return result.rows.map(eventFromRow);
  });
}
