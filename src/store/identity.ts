/**
 * The identity binding (docs/architecture.md, invariant 8): a database belongs to one virtual node. The public key of
 * the identity key is written once into `lnmux.node_identity` (one row, migration 0003) by the first
 * migrate or start that has the key, and every later start compares its key with it. A database run with
 * another key would fail the parts of the sets it committed (their onions no longer peel) and leave its
 * open invoices unpayable, so a mismatch is refused before anything else touches the store.
 *
 * Race-safe without a lock: INSERT ... ON CONFLICT DO NOTHING, then read the row back in a new statement
 * (READ COMMITTED: a concurrent binder's row is visible once its insert committed, which the conflict
 * waited for). Whoever inserted first wins; everybody else compares against that row.
 */
import { bytesFromSql, bytesToSql, checkBytes, hex, sameBytes } from './codec.js';
import type { Db } from './db.js';
import { IdentityKeyMismatchError, StoreError } from './errors.js';
import type { NodeIdentity, NodeIdentityOutcome, Store } from './types.js';

/** The schema version that creates lnmux.node_identity (migrations/0003_node_identity.up.sql). */
export const NODE_IDENTITY_SCHEMA_VERSION = 3;

interface IdentityRow {
  node_pubkey: Buffer;
  recorded_at: Date;
}

function identityFromRow(row: IdentityRow): NodeIdentity {
  return { nodePubkey: bytesFromSql(row.node_pubkey), recordedAt: row.recorded_at };
}

/** Throws TypeError/RangeError unless `nodePubkey` is a 33-byte compressed public key. */
export function checkNodePubkey(nodePubkey: unknown): asserts nodePubkey is Uint8Array {
  checkBytes(nodePubkey, 33, 'nodePubkey');
  if (nodePubkey[0] !== 0x02 && nodePubkey[0] !== 0x03) {
    throw new RangeError(`nodePubkey must be a compressed public key (first byte 02 or 03), got ${nodePubkey[0]}`);
  }
}

/** The key the database is bound to, or undefined while it is not bound yet. */
export async function readNodeIdentity(db: Db): Promise<NodeIdentity | undefined> {
  return db.withSession('nodeIdentity', async (session) => {
    const result = await session.query<IdentityRow>('SELECT node_pubkey, recorded_at FROM lnmux.node_identity');
    return result.rows[0] === undefined ? undefined : identityFromRow(result.rows[0]);
  });
}

/** Binds the database to `nodePubkey` if it is not bound yet; otherwise compares. Never overwrites. */
export async function bindNodeIdentity(db: Db, nodePubkey: Uint8Array): Promise<NodeIdentityOutcome> {
  checkNodePubkey(nodePubkey);
  return db.withSession('bindNodeIdentity', async (session) => {
    const inserted = await session.query<IdentityRow>(
      `INSERT INTO lnmux.node_identity (node_pubkey) VALUES ($1)
       ON CONFLICT (singleton) DO NOTHING
       RETURNING node_pubkey, recorded_at`,
      [bytesToSql(nodePubkey)],
    );
    if (inserted.rows[0] !== undefined) return { kind: 'recorded', ...identityFromRow(inserted.rows[0]) };
    const current = await session.query<IdentityRow>('SELECT node_pubkey, recorded_at FROM lnmux.node_identity');
    const row = current.rows[0];
    // The row is never deleted (only `migrate down` below version 3 drops the table).
    if (row === undefined) throw new StoreError('bindNodeIdentity: lnmux.node_identity lost its row between two statements');
    const recorded = identityFromRow(row);
    return sameBytes(recorded.nodePubkey, nodePubkey)
      ? { kind: 'matched', ...recorded }
      : { kind: 'mismatch', nodePubkey: recorded.nodePubkey, recordedAt: recorded.recordedAt, configuredPubkey: nodePubkey };
  });
}

/**
 * Binds `store`'s database to `nodePubkey` (the first time) or checks that it is bound to it: what
 * Mux.open runs before anything else uses the store. Call it yourself before using a Store directly with
 * an identity key (making invoices, settling).
 * @throws IdentityKeyMismatchError naming both public keys when the database belongs to another key;
 *   StoreUnavailableError, StoreError.
 */
export async function requireNodeIdentity(
  store: Pick<Store, 'bindNodeIdentity'>,
  nodePubkey: Uint8Array,
): Promise<Exclude<NodeIdentityOutcome, { kind: 'mismatch' }>> {
  const outcome = await store.bindNodeIdentity(nodePubkey);
  if (outcome.kind === 'mismatch') {
    throw new IdentityKeyMismatchError(hex(outcome.nodePubkey), hex(outcome.configuredPubkey), outcome.recordedAt);
  }
  return outcome;
}
