/**
 * commitSettle as a batch transaction. Per batch, whatever its size: lock the invoice rows
 * (SELECT ... ORDER BY hash FOR UPDATE: row locks, taken in one global order so two batches cannot
 * deadlock), decide each request (settle-decision.ts), write every committed set in one statement
 * (invoice update + HTLC inserts + the stream's `settleCommitted` events: invoice-events.ts), COMMIT.
 *
 * The write statement and COMMIT are sent together (pipelined on PostgreSQL): with BEGIN riding along
 * with the lock, a batch costs two round trips.
 *
 * An HTLC key already stored in another invoice's set (only an upstream bug can do that) fails the
 * insert with a unique violation: the batch rolls back and its requests run again one by one; alone, the
 * request rolls back and gets `htlcInOtherSet`, the others commit.
 */
import type { BatchResult, BatchRunner } from './batcher.js';
import { bigintFromSql, bytesFromSql, bytesToSql, hex, keyColumns, keyFromRow, u64ToSql } from './codec.js';
import { prepared, type Db, type TransactionSession } from './db.js';
import { StoreError, sqlStateOf } from './errors.js';
import { decideSettles, preimageMatches, setAmountMsat, type InvoiceForSettle, type SettleCommit } from './settle-decision.js';
import type { InvoiceKind, InvoiceState, SettleCommitOutcome } from './types.js';

const LOCK_INVOICES = prepared('settle_lock', `
  SELECT hash, state, kind, amount_msat, min_amount_msat, set_id, settle_committed_at
  FROM lnmux.invoices
  WHERE hash = ANY($1::bytea[])
  ORDER BY hash
  FOR UPDATE`);

const WRITE_SETS = prepared('settle_write', `
  WITH decided AS (
    UPDATE lnmux.invoices AS i
    SET state = 'settleCommitted', set_id = d.set_id, settle_committed_at = now(),
      preimage = CASE WHEN i.kind <> 'stateless' THEN d.preimage END
    FROM unnest($1::bytea[], $2::bytea[], $9::bytea[]) AS d(hash, set_id, preimage)
    WHERE i.hash = d.hash AND i.state = 'open'
    RETURNING i.hash, i.set_id, i.settle_committed_at
  ), inserted AS (
    INSERT INTO lnmux.htlcs (node_pubkey, chan_id, htlc_id, hash, set_id, amount_msat)
    SELECT * FROM unnest($3::bytea[], $4::bigint[], $5::bigint[], $6::bytea[], $7::bytea[], $8::bigint[])
    RETURNING 1
  ), event AS (
    INSERT INTO lnmux.invoice_events (hash, kind, set_id, amount_msat)
    SELECT d.hash, 'settleCommitted', d.set_id,
      (SELECT sum(p.amount_msat) FROM unnest($6::bytea[], $8::bigint[]) AS p(hash, amount_msat) WHERE p.hash = d.hash)::bigint
    FROM decided AS d
  )
  SELECT hash, settle_committed_at, (SELECT count(*) FROM inserted)::int AS inserted FROM decided`);

// A lone request, decided and written in one autocommit statement: the rows it needs are locked by the
// statement itself (the lease FOR SHARE in an InitPlan, before the invoice row; the invoice row by the
// UPDATE, re-checked after any wait). It writes only where decideSettles would say `write` for an open
// invoice; anything else writes nothing and goes the full way (LOCK_INVOICES, decideSettles).
const WRITE_LONE_SET = prepared('settle_lone', `
  WITH fence AS (
    SELECT epoch FROM lnmux.leases WHERE name = $8::text FOR SHARE
  ), decided AS (
    UPDATE lnmux.invoices AS i
    SET state = 'settleCommitted', set_id = $2, settle_committed_at = now(),
      preimage = CASE WHEN i.kind <> 'stateless' THEN $10::bytea END
    WHERE i.hash = $1 AND i.state = 'open'
      AND $6::bigint >= coalesce(i.amount_msat, i.min_amount_msat, 1)
      AND (i.kind = 'stateless' OR $7::boolean)
      AND ($8::text IS NULL OR (SELECT epoch FROM fence) = $9::bigint)
    RETURNING i.hash, i.set_id, i.settle_committed_at
  ), inserted AS (
    INSERT INTO lnmux.htlcs (node_pubkey, chan_id, htlc_id, hash, set_id, amount_msat)
    SELECT k.node_pubkey, k.chan_id, k.htlc_id, d.hash, d.set_id, k.amount_msat
    FROM decided AS d, unnest($3::bytea[], $4::bigint[], $5::bigint[], $11::bigint[]) AS k(node_pubkey, chan_id, htlc_id, amount_msat)
    RETURNING 1
  ), event AS (
    INSERT INTO lnmux.invoice_events (hash, kind, set_id, amount_msat)
    SELECT hash, 'settleCommitted', set_id, $6::bigint FROM decided
  )
  SELECT settle_committed_at, (SELECT count(*) FROM inserted)::int AS inserted FROM decided`);

const FIND_CONFLICTS = `
  SELECT h.node_pubkey, h.chan_id, h.htlc_id
  FROM lnmux.htlcs AS h
  JOIN unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS k(node_pubkey, chan_id, htlc_id)
    USING (node_pubkey, chan_id, htlc_id)
  WHERE h.hash <> $4::bytea
  LIMIT 1`;

// FOR SHARE: a new leader's epoch bump (an UPDATE of the row) waits for this commit, or this commit
// waits for it and then reads the new epoch. Either way a commit is never accepted from a term that
// has ended before it.
const READ_FENCES = prepared('settle_fences', `
  SELECT name, epoch FROM lnmux.leases WHERE name = ANY($1::text[]) ORDER BY name FOR SHARE`);

interface LockedRow {
  hash: Buffer;
  state: InvoiceState;
  kind: InvoiceKind;
  amount_msat: string | null;
  min_amount_msat: string | null;
  set_id: Buffer | null;
  settle_committed_at: Date | null;
}

/** True for the unique violation of an HTLC key that is already in some set. */
function isHtlcKeyConflict(error: unknown): boolean {
  const cause = error instanceof StoreError ? error.cause : error;
  return sqlStateOf(cause) === '23505' && (cause as { constraint?: unknown }).constraint === 'htlcs_pkey';
}

/** The batch runner behind InvoiceStore.commitSettle. Requests are validated before they are queued. */
export function settleRunner(db: Db): BatchRunner<SettleCommit, SettleCommitOutcome> {
  return async (requests) => {
    try {
      // One payment at a time, batches are of one: its usual outcome costs one round trip, not two.
      if (requests.length === 1) {
        const committed = await commitLone(db, requests[0]!);
        if (committed !== undefined) return { kind: 'done', outcomes: [committed] };
      }
      return await db.transaction<BatchResult<SettleCommitOutcome>>('commitSettle', (session) =>
        settleBatch(session, requests),
      );
    } catch (error) {
      if (!isHtlcKeyConflict(error)) throw error;
      // Rolled back. In a batch, any request may be the culprit: run them one by one.
      if (requests.length > 1) return { kind: 'split' };
      const request = requests[0]!;
      const [n, c, h] = keyColumns(request.htlcs);
      const found = await db.withSession('commitSettle (conflict)', (session) =>
        session.query<{ node_pubkey: Buffer; chan_id: string; htlc_id: string }>(FIND_CONFLICTS, [
          n,
          c,
          h,
          bytesToSql(request.hash),
        ]),
      );
      const row = found.rows[0];
      if (row === undefined) throw error;
      return { kind: 'done', outcomes: [{ kind: 'htlcInOtherSet', key: keyFromRow(row) }] };
    }
  };
}

/**
 * The lone request's one-statement commit: `committed`, or undefined when it wrote nothing (the invoice
 * is not open, short, fenced, unknown or needs a preimage it lacks): the full transaction then finds
 * out which. A key already in another set throws the unique violation, nothing written.
 */
async function commitLone(db: Db, request: SettleCommit): Promise<SettleCommitOutcome | undefined> {
  const [nodes, chans, ids] = keyColumns(request.htlcs);
  const written = await db.statement<{ settle_committed_at: Date; inserted: number }>('commitSettle', WRITE_LONE_SET, [
    bytesToSql(request.hash),
    bytesToSql(request.setId),
    nodes,
    chans,
    ids,
    u64ToSql(setAmountMsat(request.htlcs)),
    request.preimage !== undefined && preimageMatches(request.preimage, request.hash),
    request.fence?.leadership ?? null,
    request.fence !== undefined ? request.fence.epoch.toString() : null,
    request.preimage !== undefined ? bytesToSql(request.preimage) : null,
    request.htlcs.map((h) => u64ToSql(h.amountMsat)),
  ]);
  const row = written.rows[0];
  if (row === undefined) return undefined;
  if (row.inserted !== request.htlcs.length) {
    throw new StoreError(`invariant: committed a settle decision with ${row.inserted} of ${request.htlcs.length} HTLCs`);
  }
  return { kind: 'committed', settleCommittedAt: row.settle_committed_at };
}

async function settleBatch(
  session: TransactionSession,
  requests: readonly SettleCommit[],
): Promise<BatchResult<SettleCommitOutcome>> {
  const hashes = [...new Map(requests.map((r) => [hex(r.hash), bytesToSql(r.hash)])).values()];
  const fenceNames = [...new Set(requests.flatMap((r) => (r.fence !== undefined ? [r.fence.leadership] : [])))];
  // Sent together with BEGIN and the invoice lock (pipelined): the fence costs no round trip.
  const [fences, locked] = await Promise.all([
    fenceNames.length > 0 ? session.query<{ name: string; epoch: string }>(READ_FENCES, [fenceNames]) : undefined,
    session.query<LockedRow>(LOCK_INVOICES, [hashes]),
  ]);
  const currentEpochs = new Map(fences?.rows.map((row) => [row.name, bigintFromSql(row.epoch)]));
  const stale = requests.map((r) => r.fence !== undefined && currentEpochs.get(r.fence.leadership) !== r.fence.epoch);
  if (stale.some(Boolean)) {
    // A stale request is decided by nobody: the others are decided (and written) without it.
    const fresh = requests.filter((_, i) => !stale[i]);
    const rest = fresh.length > 0 ? await decideAndWrite(session, fresh, locked.rows) : [];
    let next = 0;
    return {
      kind: 'done',
      outcomes: requests.map((r, i) =>
        stale[i] ? { kind: 'fenced', currentEpoch: currentEpochs.get(r.fence!.leadership) ?? null } : rest[next++]!,
      ),
    };
  }
  return { kind: 'done', outcomes: await decideAndWrite(session, requests, locked.rows) };
}

async function decideAndWrite(
  session: TransactionSession,
  requests: readonly SettleCommit[],
  lockedRows: readonly LockedRow[],
): Promise<SettleCommitOutcome[]> {
  const locked = { rows: lockedRows };
  const invoices = new Map<string, InvoiceForSettle>();
  for (const row of locked.rows) {
    invoices.set(row.hash.toString('hex'), {
      state: row.state,
      kind: row.kind,
      amountMsat: row.amount_msat === null ? undefined : bigintFromSql(row.amount_msat),
      minAmountMsat: row.min_amount_msat === null ? undefined : bigintFromSql(row.min_amount_msat),
      setId: row.set_id === null ? null : bytesFromSql(row.set_id),
      settleCommittedAt: row.settle_committed_at,
    });
  }
  const verdicts = decideSettles(invoices, requests);
  const writes = requests.filter((_, i) => verdicts[i]!.kind === 'write');
  const decidedAt = new Map<string, Date>();
  if (writes.length > 0) {
    const htlcs = writes.flatMap((w) => w.htlcs.map((h) => ({ ...h, hash: w.hash, setId: w.setId })));
    const [nodes, chans, ids] = keyColumns(htlcs);
    // The write and COMMIT travel together. A key already in another set fails the INSERT (unique
    // violation), which rolls the whole transaction back: see settleRunner.
    const written = await session.queryAndCommit<{ hash: Buffer; settle_committed_at: Date; inserted: number }>(
      WRITE_SETS,
      [
        writes.map((w) => bytesToSql(w.hash)),
        writes.map((w) => bytesToSql(w.setId)),
        nodes,
        chans,
        ids,
        htlcs.map((h) => bytesToSql(h.hash)),
        htlcs.map((h) => bytesToSql(h.setId)),
        htlcs.map((h) => u64ToSql(h.amountMsat)),
        writes.map((w) => (w.preimage !== undefined ? bytesToSql(w.preimage) : null)),
      ],
    );
    // Both hold by construction (rows locked and open, every key inserted or the statement failed);
    // committed already, so a failure here can only be reported, as a broken invariant.
    if (written.rows.length !== writes.length || written.rows[0]!.inserted !== htlcs.length) {
      throw new StoreError(
        `invariant: committed ${written.rows.length} of ${writes.length} settle decisions and ` +
          `${written.rows[0]?.inserted ?? 0} of ${htlcs.length} HTLCs`,
      );
    }
    for (const row of written.rows) decidedAt.set(row.hash.toString('hex'), row.settle_committed_at);
  }
  const outcomes = verdicts.map((verdict, i): SettleCommitOutcome => {
    switch (verdict.kind) {
      case 'write':
        return { kind: 'committed', settleCommittedAt: decidedAt.get(hex(requests[i]!.hash))! };
      case 'sameSetAsWrite':
        return {
          kind: 'alreadyCommitted',
          state: 'settleCommitted',
          settleCommittedAt: decidedAt.get(hex(requests[verdict.writeIndex]!.hash))!,
        };
      default:
        return verdict;
    }
  });
  return outcomes;
}
