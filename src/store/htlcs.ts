/**
 * HTLCs of committed sets: final states (group-committed), replay lookups, the restart list.
 *
 * markHtlcFinal batch, whatever its size: lock the invoices of the named HTLCs (ORDER BY hash FOR UPDATE,
 * the order commitSettle uses), update the HTLCs still `settleCommitted`, roll up every touched invoice
 * whose set has no HTLC left pending (settled if all settled, failed if any failed), COMMIT. The invoice
 * lock makes the roll-up exact: two transactions finalizing the last two HTLCs of one set are serialized,
 * so the second sees the first's update and rolls the invoice up.
 *
 * Final states are written without waiting for the WAL flush: a crash can lose them, and the node is then
 * asked again for the HTLC's resolution and its final state written again (docs/architecture.md, "What
 * waits for the disk").
 */
import type { BatchRunner } from './batcher.js';
import { bytesFromSql, bytesToSql, checkBytes, keyColumns, keyFromRow, setHtlcFromRow } from './codec.js';
import { prepared, type Db } from './db.js';
import { StoreError } from './errors.js';
import { circuitKeyString, type CircuitKey } from '../protocol/index.js';
import type { HtlcFinalOutcome, HtlcFinalState, HtlcState, StoredHtlc, UnfinalizedHtlc } from './types.js';

/** One markHtlcFinal call. */
export interface FinalRequest {
  readonly key: CircuitKey;
  readonly state: HtlcFinalState;
}

const KEYS = `unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS k(node_pubkey, chan_id, htlc_id)`;

const LOCK_INVOICES = prepared('final_lock', `
  SELECT i.hash FROM lnmux.invoices AS i
  WHERE i.hash IN (SELECT h.hash FROM lnmux.htlcs AS h JOIN ${KEYS} USING (node_pubkey, chan_id, htlc_id))
  ORDER BY i.hash
  FOR UPDATE OF i`);

// The outer SELECT sees the rows as they were before the CTE's UPDATE: `state` is the previous state.
const UPDATE_HTLCS = prepared('final_update', `
  WITH k AS (
    SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::text[]) AS k(node_pubkey, chan_id, htlc_id, state)
  ), changed AS (
    UPDATE lnmux.htlcs AS h SET state = k.state, finalized_at = now()
    FROM k
    WHERE (h.node_pubkey, h.chan_id, h.htlc_id) = (k.node_pubkey, k.chan_id, k.htlc_id) AND h.state = 'settleCommitted'
    RETURNING h.node_pubkey, h.chan_id, h.htlc_id
  )
  SELECT h.node_pubkey, h.chan_id, h.htlc_id, h.hash, h.state AS previous, (c.htlc_id IS NOT NULL) AS changed
  FROM lnmux.htlcs AS h
  JOIN k USING (node_pubkey, chan_id, htlc_id)
  LEFT JOIN changed AS c USING (node_pubkey, chan_id, htlc_id)`);

// With the stream's `settled` / `failed` events (invoice-events.ts), in the same statement.
const ROLL_UP = prepared('final_roll_up', `
  WITH rolled AS (
    UPDATE lnmux.invoices AS i
    SET state = CASE WHEN s.failed > 0 THEN 'failed' ELSE 'settled' END, finalized_at = now()
    FROM (
      SELECT hash,
             count(*) FILTER (WHERE state = 'settleCommitted') AS pending,
             count(*) FILTER (WHERE state = 'failed') AS failed
      FROM lnmux.htlcs WHERE hash = ANY($1::bytea[]) GROUP BY hash
    ) AS s
    WHERE i.hash = s.hash AND s.pending = 0 AND i.state = 'settleCommitted'
    RETURNING i.hash, i.state, i.set_id
  ), event AS (
    INSERT INTO lnmux.invoice_events (hash, kind, set_id) SELECT hash, state, set_id FROM rolled
  )
  SELECT hash, state FROM rolled`);

/** Validates a final-state request. @throws TypeError / RangeError naming the field. */
export function checkFinalState(state: unknown): asserts state is HtlcFinalState {
  if (state !== 'settled' && state !== 'failed') {
    throw new RangeError(`state must be 'settled' or 'failed', got ${String(state)}`);
  }
}

/** The batch runner behind markHtlcFinal. */
export function finalRunner(db: Db): BatchRunner<FinalRequest, HtlcFinalOutcome> {
  return (requests) =>
    db.transaction(
      'markHtlcFinal',
      async (session) => {
        // A key twice in one batch: the first request decides, the later ones see its result.
        const first = new Map<string, FinalRequest>();
        for (const r of requests) if (!first.has(circuitKeyString(r.key))) first.set(circuitKeyString(r.key), r);
        const unique = [...first.values()];
        const [nodes, chans, ids] = keyColumns(unique.map((r) => r.key));
        await session.query(LOCK_INVOICES, [nodes, chans, ids]);
        const rows = await session.query<{
          node_pubkey: Buffer;
          chan_id: string;
          htlc_id: string;
          hash: Buffer;
          previous: HtlcState;
          changed: boolean;
        }>(UPDATE_HTLCS, [nodes, chans, ids, unique.map((r) => r.state)]);
        const found = new Map(rows.rows.map((row) => [circuitKeyString(keyFromRow(row)), row]));
        const touched = [...new Map(rows.rows.filter((r) => r.changed).map((r) => [r.hash.toString('hex'), r.hash])).values()];
        const rolledUp = new Map<string, 'settled' | 'failed'>();
        if (touched.length > 0) {
          // The roll-up and COMMIT travel together.
          const rolled = await session.queryAndCommit<{ hash: Buffer; state: 'settled' | 'failed' }>(ROLL_UP, [touched]);
          for (const row of rolled.rows) rolledUp.set(row.hash.toString('hex'), row.state);
        }
        // The request that finalizes an invoice: the last one of the batch that changed one of its HTLCs.
        const finalizer = new Map<string, FinalRequest>();
        for (const r of unique) {
          const row = found.get(circuitKeyString(r.key));
          if (row?.changed === true && rolledUp.has(row.hash.toString('hex'))) finalizer.set(row.hash.toString('hex'), r);
        }
        const decided = new Set<string>();
        const outcomes = requests.map((r): HtlcFinalOutcome => {
          const id = circuitKeyString(r.key);
          const row = found.get(id);
          if (row === undefined) return { kind: 'unknown' };
          const hash = bytesFromSql(row.hash);
          if (row.changed && !decided.has(id)) {
            decided.add(id);
            const hashHex = row.hash.toString('hex');
            return {
              kind: 'recorded',
              hash,
              invoiceState: rolledUp.get(hashHex) ?? 'settleCommitted',
              invoiceFinalized: finalizer.get(hashHex) === first.get(id),
            };
          }
          const state: HtlcState = row.changed ? first.get(id)!.state : row.previous;
          if (state === 'settleCommitted') throw new StoreError(`invariant: HTLC ${id} unchanged yet still pending`);
          return { kind: 'alreadyFinal', hash, state };
        });
        return { kind: 'done', outcomes };
      },
      // The final state is not waited on to disk: see the file comment.
      { flush: false },
    );
}

const HTLC_COLUMNS = 'node_pubkey, chan_id, htlc_id, amount_msat, hash, set_id, state';

interface HtlcRow {
  node_pubkey: Buffer;
  chan_id: string;
  htlc_id: string;
  amount_msat: string;
  hash: Buffer;
  set_id: Buffer;
  state: HtlcState;
}

function storedFromRow(row: HtlcRow): StoredHtlc {
  return { ...setHtlcFromRow(row), hash: bytesFromSql(row.hash), setId: bytesFromSql(row.set_id), state: row.state };
}

/** findSettledHtlc: the primary-key lookup a replayed HTLC needs. */
export async function findSettledHtlc(db: Db, key: CircuitKey): Promise<StoredHtlc | undefined> {
  const [nodes, chans, ids] = keyColumns([key]);
  return db.withSession('findSettledHtlc', async (session) => {
    const result = await session.query<HtlcRow>(
      `SELECT ${HTLC_COLUMNS} FROM lnmux.htlcs WHERE node_pubkey = $1 AND chan_id = $2 AND htlc_id = $3`,
      [nodes[0], chans[0], ids[0]],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : storedFromRow(row);
  });
}

/** listInvoiceHtlcs: the set of one invoice (index htlcs_hash). */
export async function listInvoiceHtlcs(db: Db, hash: Uint8Array): Promise<readonly StoredHtlc[]> {
  checkBytes(hash, 32, 'hash');
  return db.withSession('listInvoiceHtlcs', async (session) => {
    const result = await session.query<HtlcRow>(
      `SELECT ${HTLC_COLUMNS} FROM lnmux.htlcs WHERE hash = $1 ORDER BY node_pubkey, chan_id, htlc_id`,
      [bytesToSql(hash)],
    );
    return result.rows.map(storedFromRow);
  });
}

/** listUnfinalizedHtlcs: the restart replay list (partial index htlcs_unfinalized). */
export async function listUnfinalizedHtlcs(db: Db): Promise<readonly UnfinalizedHtlc[]> {
  return db.withSession('listUnfinalizedHtlcs', async (session) => {
    const result = await session.query<HtlcRow & { payment_addr: Buffer; settle_committed_at: Date }>(
      `SELECT h.node_pubkey, h.chan_id, h.htlc_id, h.amount_msat, h.hash, h.set_id, h.state,
              i.payment_addr, i.settle_committed_at
       FROM lnmux.htlcs AS h JOIN lnmux.invoices AS i USING (hash)
       WHERE h.state = 'settleCommitted'
       ORDER BY i.settle_committed_at, h.hash, h.node_pubkey, h.chan_id, h.htlc_id`,
    );
    return result.rows.map((row) => ({
      ...setHtlcFromRow(row),
      hash: bytesFromSql(row.hash),
      setId: bytesFromSql(row.set_id),
      paymentAddr: bytesFromSql(row.payment_addr),
      settleCommittedAt: row.settle_committed_at,
    }));
  });
}
