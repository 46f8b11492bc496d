/**
 * The HTLC log (migration 0004): what lnmux decided for every HTLC of ours that it did not settle, and
 * when each part joined its set. Written in batches after the decisions (never on the settle path), read
 * by operators ("what happened to this payment") and by the invoice lookup of an arriving HTLC, whose
 * logged arrival keeps its set's MPP timeout across a restart.
 *
 * Written without waiting for the WAL flush, as best effort as the writer that batches it
 * (docs/architecture.md, "What waits for the disk").
 */
import type { BatchRunner } from './batcher.js';
import { bigintFromSql, bytesToSql, checkBytes, keyColumns, keyFromRow, u64ToSql } from './codec.js';
import { StoreError } from './errors.js';
import { prepared, type Db } from './db.js';
import { COLUMNS, invoiceFromRow, type InvoiceRow } from './invoices.js';
import { assertCircuitKey, type CircuitKey } from '../protocol/index.js';
import type { HtlcLogEntry, HtlcLogEvent, Invoice } from './types.js';

const EVENTS: readonly HtlcLogEvent[] = ['accepted', 'failed', 'lost'];
/** The largest amount a bigint column holds; an HTLC may claim more (a payer's onion says what it likes). */
const MAX_MSAT = (1n << 63n) - 1n;

/** Validates one entry. @throws TypeError / RangeError naming the field. */
export function checkHtlcLogEntry(entry: HtlcLogEntry): void {
  assertCircuitKey(entry.key);
  checkBytes(entry.hash, 32, 'hash');
  if (!EVENTS.includes(entry.event)) throw new RangeError(`event must be one of ${EVENTS.join(', ')}, got ${String(entry.event)}`);
  if (typeof entry.amountMsat !== 'bigint' || entry.amountMsat < 0n || entry.amountMsat > MAX_MSAT) {
    throw new RangeError(`amountMsat must be a bigint from 0 to 2^63 - 1 (msat), got ${String(entry.amountMsat)}`);
  }
  if ((entry.event === 'accepted') !== (entry.reason === undefined)) {
    throw new TypeError(`reason: required for '${entry.event === 'accepted' ? 'failed or lost' : entry.event}' entries only`);
  }
  if (!(entry.at instanceof Date) || Number.isNaN(entry.at.getTime())) throw new TypeError('at must be a valid Date');
}

const INSERT = prepared('htlc_log_insert', `
  INSERT INTO lnmux.htlc_log (node_pubkey, chan_id, htlc_id, event, hash, amount_msat, reason, at)
  SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::text[], $5::bytea[], $6::bigint[], $7::text[], $8::timestamptz[])
  ON CONFLICT DO NOTHING`);

/** Appends entries (one statement); an entry already logged for the same HTLC and event is kept as it was. */
export async function recordHtlcLog(db: Db, entries: readonly HtlcLogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const [nodes, chans, ids] = keyColumns(entries.map((e) => e.key));
  // Not waiting for the WAL flush: see the file comment.
  await db.transaction(
    'recordHtlcLog',
    (session) =>
      session.queryAndCommit(INSERT, [
      nodes,
      chans,
      ids,
      entries.map((e) => e.event),
      entries.map((e) => bytesToSql(e.hash)),
      entries.map((e) => u64ToSql(e.amountMsat)),
      entries.map((e) => e.reason ?? null),
      entries.map((e) => e.at),
      ]),
    { flush: false },
  );
}

interface LogRow {
  node_pubkey: Buffer;
  chan_id: string;
  htlc_id: string;
  event: HtlcLogEvent;
  hash: Buffer;
  amount_msat: string;
  reason: string | null;
  at: Date;
}

/** Every entry of one payment hash, in time order. */
export async function listHtlcLog(db: Db, hash: Uint8Array): Promise<readonly HtlcLogEntry[]> {
  checkBytes(hash, 32, 'hash');
  return db.withSession('listHtlcLog', async (session) => {
    const result = await session.query<LogRow>(
      `SELECT node_pubkey, chan_id, htlc_id, event, hash, amount_msat, reason, at
       FROM lnmux.htlc_log WHERE hash = $1 ORDER BY at, event`,
      [bytesToSql(hash)],
    );
    return result.rows.map((row) => ({
      key: keyFromRow(row),
      event: row.event,
      hash: Uint8Array.from(row.hash),
      amountMsat: bigintFromSql(row.amount_msat),
      ...(row.reason !== null ? { reason: row.reason } : {}),
      at: row.at,
    }));
  });
}

/** One getInvoiceForHtlc call. */
export interface HtlcLookup {
  readonly hash: Uint8Array;
  readonly key: CircuitKey;
}

/** What getInvoiceForHtlc gives back. */
export interface HtlcLookupResult {
  readonly invoice: Invoice | undefined;
  /** When this HTLC first joined its set, if it was logged (a part offered again after a restart). */
  readonly acceptedAt: Date | undefined;
}

// One row per request, in request order: the invoice (NULLs when unknown) and the part's logged arrival.
const LOOKUP = prepared('htlc_lookup', `
  SELECT ${COLUMNS}, q.i, (inv.hash IS NOT NULL) AS found,
    (SELECT l.at FROM lnmux.htlc_log AS l
     WHERE (l.node_pubkey, l.chan_id, l.htlc_id, l.event) = (q.node_pubkey, q.chan_id, q.htlc_id, 'accepted')
       AND l.hash = q.q_hash) AS accepted_at
  FROM unnest($1::bytea[], $2::bytea[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS q(q_hash, node_pubkey, chan_id, htlc_id, i)
  LEFT JOIN lnmux.invoices AS inv ON inv.hash = q.q_hash
  ORDER BY q.i`);

/** Validates a lookup before it is queued. @throws TypeError / RangeError naming the field. */
export function checkHtlcLookup(request: HtlcLookup): void {
  checkBytes(request.hash, 32, 'hash');
  assertCircuitKey(request.key);
}

/**
 * The batch runner behind getInvoiceForHtlc: the invoices of every HTLC that arrived while an earlier
 * lookup was in flight, and each part's logged arrival, in one statement (one round trip).
 */
export function lookupRunner(db: Db): BatchRunner<HtlcLookup, HtlcLookupResult> {
  return async (requests) => {
    const [nodes, chans, ids] = keyColumns(requests.map((r) => r.key));
    const result = await db.withSession('getInvoiceForHtlc', (session) =>
      session.query<InvoiceRow & { found: boolean; accepted_at: Date | null }>(LOOKUP, [
        requests.map((r) => bytesToSql(r.hash)),
        nodes,
        chans,
        ids,
      ]),
    );
    if (result.rows.length !== requests.length) {
      throw new StoreError(`invariant: ${result.rows.length} lookup rows for ${requests.length} HTLCs`);
    }
    return {
      kind: 'done',
      outcomes: result.rows.map((row) =>
        row.found ? { invoice: invoiceFromRow(row), acceptedAt: row.accepted_at ?? undefined } : { invoice: undefined, acceptedAt: undefined },
      ),
    };
  };
}
