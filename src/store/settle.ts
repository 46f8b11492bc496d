/**
 * requestSettle as a batch transaction. Per batch, whatever its size: lock the invoice rows
 * (SELECT ... ORDER BY hash FOR UPDATE: row locks, taken in one global order so two batches cannot
 * deadlock), decide each request (settle-decision.ts), write every committed set in one statement
 * (invoice update + HTLC inserts), COMMIT. Four round trips for any number of decisions.
 *
 * An HTLC key already stored in another invoice's set (only an upstream bug can do that) makes the
 * insert skip a row: the batch rolls back and its requests run again one by one; alone, the request
 * rolls back and gets `htlcInOtherSet`, the others commit.
 */
import type { BatchResult, BatchRunner } from './batcher.js';
import { bigintFromSql, bytesFromSql, bytesToSql, hex, keyColumns, keyFromRow, u64ToSql } from './codec.js';
import type { Db, Session } from './db.js';
import { StoreError } from './errors.js';
import { decideSettles, type InvoiceForSettle, type SettleRequest } from './settle-decision.js';
import type { InvoiceState, SettleRequestOutcome } from './types.js';

const LOCK_INVOICES = `
  SELECT hash, state, amount_msat, set_id, settle_requested_at
  FROM lnmux.invoices
  WHERE hash = ANY($1::bytea[])
  ORDER BY hash
  FOR UPDATE`;

const WRITE_SETS = `
  WITH decided AS (
    UPDATE lnmux.invoices AS i
    SET state = 'settleRequested', set_id = d.set_id, settle_requested_at = now()
    FROM unnest($1::bytea[], $2::bytea[]) AS d(hash, set_id)
    WHERE i.hash = d.hash AND i.state = 'open'
    RETURNING i.hash, i.settle_requested_at
  ), inserted AS (
    INSERT INTO lnmux.htlcs (node_pubkey, chan_id, htlc_id, hash, set_id, amount_msat)
    SELECT * FROM unnest($3::bytea[], $4::bigint[], $5::bigint[], $6::bytea[], $7::bytea[], $8::bigint[])
    ON CONFLICT (node_pubkey, chan_id, htlc_id) DO NOTHING
    RETURNING 1
  )
  SELECT hash, settle_requested_at, (SELECT count(*) FROM inserted)::int AS inserted FROM decided`;

const FIND_CONFLICTS = `
  SELECT h.node_pubkey, h.chan_id, h.htlc_id
  FROM lnmux.htlcs AS h
  JOIN unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS k(node_pubkey, chan_id, htlc_id)
    USING (node_pubkey, chan_id, htlc_id)
  WHERE h.hash <> $4::bytea
  LIMIT 1`;

interface LockedRow {
  hash: Buffer;
  state: InvoiceState;
  amount_msat: string;
  set_id: Buffer | null;
  settle_requested_at: Date | null;
}

/** The batch runner behind InvoiceStore.requestSettle. Requests are validated before they are queued. */
export function settleRunner(db: Db): BatchRunner<SettleRequest, SettleRequestOutcome> {
  return (requests) =>
    db.transaction<BatchResult<SettleRequestOutcome>>('requestSettle', async (session) => {
      const result = await settleBatch(session, requests);
      switch (result.kind) {
        case 'done':
          return { kind: 'commit', value: result };
        case 'split':
          return { kind: 'rollback', value: result };
        case 'conflict':
          return { kind: 'rollback', value: { kind: 'done', outcomes: [result.outcome] } };
      }

    });
}

async function settleBatch(
  session: Session,
  requests: readonly SettleRequest[],
): Promise<BatchResult<SettleRequestOutcome> | { kind: 'conflict'; outcome: SettleRequestOutcome }> {
  const hashes = [...new Map(requests.map((r) => [hex(r.hash), bytesToSql(r.hash)])).values()];
  const locked = await session.query<LockedRow>(LOCK_INVOICES, [hashes]);
  const invoices = new Map<string, InvoiceForSettle>();
  for (const row of locked.rows) {
    invoices.set(row.hash.toString('hex'), {
      state: row.state,
      amountMsat: bigintFromSql(row.amount_msat),
      setId: row.set_id === null ? null : bytesFromSql(row.set_id),
      settleRequestedAt: row.settle_requested_at,
    });
  }
  const verdicts = decideSettles(invoices, requests);
  const writes = requests.filter((_, i) => verdicts[i]!.kind === 'write');
  const decidedAt = new Map<string, Date>();
  if (writes.length > 0) {
    const htlcs = writes.flatMap((w) => w.htlcs.map((h) => ({ ...h, hash: w.hash, setId: w.setId })));
    const [nodes, chans, ids] = keyColumns(htlcs);
    const written = await session.query<{ hash: Buffer; settle_requested_at: Date; inserted: number }>(WRITE_SETS, [
      writes.map((w) => bytesToSql(w.hash)),
      writes.map((w) => bytesToSql(w.setId)),
      nodes,
      chans,
      ids,
      htlcs.map((h) => bytesToSql(h.hash)),
      htlcs.map((h) => bytesToSql(h.setId)),
      htlcs.map((h) => u64ToSql(h.amountMsat)),
    ]);
    if (written.rows.length !== writes.length) {
      throw new StoreError(`invariant: ${writes.length} locked open invoices but ${written.rows.length} updated`);
    }
    if (written.rows[0]!.inserted !== htlcs.length) {
      // Some key is in another invoice's set already.
      if (requests.length > 1) return { kind: 'split' };
      const request = requests[0]!;
      const [n, c, h] = keyColumns(request.htlcs);
      const found = await session.query<{ node_pubkey: Buffer; chan_id: string; htlc_id: string }>(FIND_CONFLICTS, [
        n,
        c,
        h,
        bytesToSql(request.hash),
      ]);
      const row = found.rows[0];
      if (row === undefined) throw new StoreError('invariant: an HTLC insert was skipped but no conflicting key exists');
      return { kind: 'conflict', outcome: { kind: 'htlcInOtherSet', key: keyFromRow(row) } };
    }
    for (const row of written.rows) decidedAt.set(row.hash.toString('hex'), row.settle_requested_at);
  }
  const outcomes = verdicts.map((verdict, i): SettleRequestOutcome => {
    switch (verdict.kind) {
      case 'write':
        return { kind: 'committed', settleRequestedAt: decidedAt.get(hex(requests[i]!.hash))! };
      case 'sameSetAsWrite':
        return {
          kind: 'alreadyCommitted',
          state: 'settleRequested',
          settleRequestedAt: decidedAt.get(hex(requests[verdict.writeIndex]!.hash))!,
        };
      default:
        return verdict;
    }
  });
  return { kind: 'done', outcomes };
}
