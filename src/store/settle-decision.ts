/**
 * The settle decision, pure: given the locked invoice rows and a batch of settle requests (in arrival
 * order), what each request gets. A request on an open invoice whose amounts add up to at least the invoice amount commits its set; the
 * same set again (later in the batch, or already stored) is accepted again; any other set is refused.
 * The batch runner (settle.ts) applies the writes and fills in the database's times.
 */
import { assertCircuitKey, circuitKeyString } from '../protocol/index.js';
import { checkBytes, checkMsat, hex, sameBytes } from './codec.js';
import { createHash } from 'node:crypto';
import type { InvoiceKind, InvoiceState, SetHtlc, SettleFence, SettleCommitOutcome } from './types.js';

/** One commitSettle call. */
export interface SettleCommit {
  /** The invoice's 32-byte payment hash. */
  readonly hash: Uint8Array;
  /** The set's 32-byte set_id. */
  readonly setId: Uint8Array;
  /** The whole set, at least one HTLC, no key twice. */
  readonly htlcs: readonly SetHtlc[];
  /** Commit only while this leadership epoch is current (see SettleFence). */
  readonly fence?: SettleFence;
  /**
   * The set's preimage (32 bytes; SHA256 = the payment hash), written with the decision for a `hold`
   * invoice (the application gave it) and a `goLnmux` one (derived under a scheme that may be turned
   * off): required for those, ignored for `stateless` invoices, whose preimage is derived again.
   */
  readonly preimage?: Uint8Array;
}

/** The locked invoice row, as the decision needs it. */
export interface InvoiceForSettle {
  readonly state: InvoiceState;
  readonly kind: InvoiceKind;
  /** msat; undefined for an amountless invoice. */
  readonly amountMsat: bigint | undefined;
  /** Amountless invoices: the least the payer may pay, msat. */
  readonly minAmountMsat: bigint | undefined;
  readonly setId: Uint8Array | null;
  readonly settleCommittedAt: Date | null;
}

/** The verdict for one request: write its set, or an outcome that needs no write. */
export type SettleVerdict =
  /** Commit this request's set (its `committed` outcome takes the time of the write). */
  | { readonly kind: 'write' }
  /** The same set as an earlier request of this batch that writes it: `alreadyCommitted` after the write. */
  | { readonly kind: 'sameSetAsWrite'; readonly writeIndex: number }
  | Exclude<SettleCommitOutcome, { kind: 'committed' | 'htlcInOtherSet' }>;

/**
 * Validates a request before it is queued.
 * @throws TypeError / RangeError naming the bad field (a programming error, not an outcome).
 */
export function checkSettleCommit(request: SettleCommit): void {
  checkBytes(request.hash, 32, 'hash');
  checkBytes(request.setId, 32, 'setId');
  if (!Array.isArray(request.htlcs) || request.htlcs.length === 0) {
    throw new RangeError('htlcs must be a non-empty array (the whole set)');
  }
  const seen = new Set<string>();
  request.htlcs.forEach((htlc, i) => {
    assertCircuitKey(htlc, `htlcs[${i}]`);
    checkMsat(htlc.amountMsat, `htlcs[${i}].amountMsat`);
    const id = circuitKeyString(htlc);
    if (seen.has(id)) throw new RangeError(`htlcs[${i}] repeats the circuit key ${id}`);
    seen.add(id);
  });
  if (request.preimage !== undefined) checkBytes(request.preimage, 32, 'preimage');
  if (request.fence !== undefined) {
    const { leadership, epoch } = request.fence;
    if (typeof leadership !== 'string' || leadership === '') throw new TypeError('fence.leadership must be a non-empty string');
    if (typeof epoch !== 'bigint' || epoch < 1n) throw new RangeError(`fence.epoch must be a bigint >= 1, got ${String(epoch)}`);
  }
}

/** True when SHA256(`preimage`) is `hash` (BOLT 11 `p`: the payment hash is the preimage's SHA256). */
export function preimageMatches(preimage: Uint8Array, hash: Uint8Array): boolean {
  return sameBytes(new Uint8Array(createHash('sha256').update(preimage).digest()), hash);
}

/** Sum of a set's amounts in msat. */
export function setAmountMsat(htlcs: readonly SetHtlc[]): bigint {
  return htlcs.reduce((sum, h) => sum + h.amountMsat, 0n);
}

/**
 * Decides every request of a batch, in order, as if they ran one after the other under the row locks.
 * @param invoices the locked rows by hex payment hash (absent: unknown invoice).
 */
export function decideSettles(
  invoices: ReadonlyMap<string, InvoiceForSettle>,
  requests: readonly SettleCommit[],
): SettleVerdict[] {
  // What this batch decided so far, per hash: which request writes which set.
  const written = new Map<string, { readonly setId: Uint8Array; readonly writeIndex: number }>();
  return requests.map((request, index): SettleVerdict => {
    const key = hex(request.hash);
    const earlier = written.get(key);
    if (earlier !== undefined) {
      return sameBytes(earlier.setId, request.setId)
        ? { kind: 'sameSetAsWrite', writeIndex: earlier.writeIndex }
        : { kind: 'alreadySettledWithOtherSet', setId: earlier.setId };
    }
    const invoice = invoices.get(key);
    if (invoice === undefined) return { kind: 'unknown' };
    switch (invoice.state) {
      case 'cancelled':
        return { kind: 'cancelled' };
      case 'settleCommitted':
      case 'settled':
      case 'failed': {
        if (invoice.setId === null || invoice.settleCommittedAt === null) {
          throw new Error(`invariant: invoice ${key} is ${invoice.state} without a set`);
        }
        return sameBytes(invoice.setId, request.setId)
          ? { kind: 'alreadyCommitted', state: invoice.state, settleCommittedAt: invoice.settleCommittedAt }
          : { kind: 'alreadySettledWithOtherSet', setId: invoice.setId };
      }
      case 'open': {
        const setMsat = setAmountMsat(request.htlcs);
        // Short of the invoice amount is refused (the preimage for less is a loss). More is the
        // payer's noise, accepted as LND accepts it (docs/sphinx.md, "Final-hop rules"). An amountless
        // invoice asks at least its minimum (the set's own total_msat is the registry's to check).
        const leastMsat = invoice.amountMsat ?? invoice.minAmountMsat ?? 1n;
        if (setMsat < leastMsat) {
          return { kind: 'amountMismatch', invoiceMsat: leastMsat, setMsat };
        }
        if (invoice.kind !== 'stateless' && (request.preimage === undefined || !preimageMatches(request.preimage, request.hash))) {
          return { kind: 'wrongPreimage' };
        }
        written.set(key, { setId: request.setId, writeIndex: index });
        return { kind: 'write' };
      }
      default: {
        const never: never = invoice.state;
        throw new Error(`unexpected invoice state ${String(never)}`);
      }
    }
  });
}
