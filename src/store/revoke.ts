/**
 * revokeSettle: takes back a committed settle decision for which no SETTLE was ever sent, because a
 * part of the set left it (its node failed it on its own) between the commit and the release of the
 * preimage (docs/architecture.md, invariant 7; docs/store.md, "Revoking a decision"). Settling the rest would give
 * the payer the preimage for less than the invoice.
 *
 * Safe only because the registry sends no SETTLE for a set until every part is confirmed live after the
 * commit: the caller guarantees that none went out. The store checks what it can: the invoice still
 * names this set and no HTLC of it is settled (a failed one, recorded before the registry heard of it,
 * is no reason to keep the decision).
 */
import { bigintFromSql, bytesToSql } from './codec.js';
import type { Db } from './db.js';
import type { RevokeSettleOutcome, SettleFence } from './types.js';

const LOCK = `SELECT state, set_id FROM lnmux.invoices WHERE hash = $1 FOR UPDATE`;
// As in settle.ts: FOR SHARE orders this against a new leader's epoch bump.
const READ_FENCE = `SELECT epoch FROM lnmux.leases WHERE name = $1 FOR SHARE`;
// Only a settled part means the preimage is out. A failed one is why the set is revoked: refusing for it
// would leave the decision standing and the rest settled, the preimage for less than the invoice.
const SETTLED_PARTS = `SELECT count(*)::int AS n FROM lnmux.htlcs WHERE hash = $1 AND state = 'settled'`;
const DELETE_SET = `DELETE FROM lnmux.htlcs WHERE hash = $1`;
// With the stream's `settleRevoked` event (invoice-events.ts).
const REOPEN = `
  WITH reopened AS (
    UPDATE lnmux.invoices SET state = 'open', set_id = NULL, settle_committed_at = NULL, preimage = NULL
    WHERE hash = $1 AND state = 'settleCommitted'
    RETURNING hash
  )
  INSERT INTO lnmux.invoice_events (hash, kind, set_id) SELECT hash, 'settleRevoked', $2::bytea FROM reopened`;

/**
 * See the file comment. With a `fence`, nothing changes (`fenced`) unless its epoch is the leadership's
 * current one: a stale leader must not take back a decision the new leader may have acted on.
 */
export async function revokeSettle(db: Db, hash: Uint8Array, setId: Uint8Array, fence?: SettleFence): Promise<RevokeSettleOutcome> {
  return db.transaction('revokeSettle', async (session) => {
    if (fence !== undefined) {
      const current = await session.query<{ epoch: string }>(READ_FENCE, [fence.leadership]);
      const epoch = current.rows[0] === undefined ? null : bigintFromSql(current.rows[0].epoch);
      if (epoch !== fence.epoch) return { kind: 'fenced', currentEpoch: epoch };
    }
    const locked = await session.query<{ state: string; set_id: Buffer | null }>(LOCK, [bytesToSql(hash)]);
    const row = locked.rows[0];
    if (row === undefined) return { kind: 'notRevocable', reason: 'unknownInvoice' };
    // Open with no set: revoked already (a retry whose first answer was lost). The decision is not standing.
    if (row.state === 'open') return { kind: 'revoked' };
    if (row.state !== 'settleCommitted' || row.set_id === null || !row.set_id.equals(Buffer.from(setId))) {
      return { kind: 'notRevocable', reason: 'otherState' };
    }
    const settled = await session.query<{ n: number }>(SETTLED_PARTS, [bytesToSql(hash)]);
    if (settled.rows[0]!.n > 0) return { kind: 'notRevocable', reason: 'partSettled' };
    await session.query(DELETE_SET, [bytesToSql(hash)]);
    await session.queryAndCommit(REOPEN, [bytesToSql(hash), bytesToSql(setId)]);
    return { kind: 'revoked' };
  });
}
