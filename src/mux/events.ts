/**
 * What lnmux tells the application: one event map, shared by the settlement engine (which emits the
 * payment events) and the Mux (which forwards them and adds the cluster's). Hashes and set ids are hex;
 * amounts msat; circuit keys in their one string form, "chan_id:htlc_id@node_pubkey" (circuit-key.ts).
 * docs/library.md lists them with when each fires.
 */
import type { FailOutcome, PartLostReason } from '../registry/types.js';

/** One HTLC of a set, as the events name it. */
export interface SetPart {
  readonly circuitKey: string;
  readonly amountMsat: bigint;
}

/** Every event a Mux emits. */
export interface MuxEvents {
  /**
   * A complete set waits for `settle(setId)` or `cancelInvoice(hash)`: in hold mode, and for a hold
   * invoice in any mode (`needsPreimage`: settle it with `{ preimage }`). `paymentMetadata`: the payer's
   * echo of the invoice's metadata (hex), if the invoice had one.
   */
  accepted: [{ paymentHash: string; setId: string; amountMsat: bigint; htlcs: SetPart[]; needsPreimage: boolean; paymentMetadata?: string }];
  /**
   * Hold mode: an accepted set was released before it was settled (timeout, expiry near, cancel), or
   * `partLost`: one of its parts left it (its node no longer holds it) and the live parts wait again.
   */
  released: [{ paymentHash: string; setId: string; reason: FailOutcome | 'partLost' }];
  /**
   * The settle decision is committed and the preimage released: the payment is received, the SETTLEs are
   * on their way (the stored invoice reads `settleCommitted` until every node reports its HTLC final).
   */
  committed: [{ paymentHash: string; setId: string; amountMsat: bigint; paymentMetadata?: string }];
  /** Every HTLC of the invoice's set is settled at its node (LND's final events; the stored invoice reads `settled`). */
  settled: [{ paymentHash: string }];
  /** LND reported an HTLC of a committed set final (settled, or failed: lost after the decision). */
  htlcFinal: [{ circuitKey: string; settled: boolean }];
  /** A held part left its set: its node no longer holds it (failed on its own, not offered again after a reconnect). */
  partLost: [{ paymentHash: string; circuitKey: string; reason: PartLostReason; amountMsat: bigint }];
  /**
   * Money at risk: a part of a set whose preimage is released nears its auto-fail height unsettled
   * (`expiryNear`), or its node failed it (`failedAfterRelease`: the payer holds the preimage).
   */
  atRisk: [{ paymentHash: string; setId: string; circuitKey: string; reason: 'expiryNear' | 'failedAfterRelease'; amountMsat: bigint }];
  /** This instance became the active one, or lost the leadership and went back to standby. */
  role: [{ role: 'active' | 'standby' }];
  /**
   * The leadership session: taken (a new term, or `resumed`: the same term goes on after the session was
   * lost and taken back) or lost (settle commits held until it is taken back or the term ends).
   */
  leadership: [{ held: boolean; epoch: bigint; resumed?: boolean }];
  /** A node's connection changed state (connected, refused with the reason, backing off). */
  node: [{ pubkey: string; state: string; detail?: string }];
}

/** The payment events, which the settlement engine emits. */
export const PAYMENT_EVENTS = Object.freeze(['accepted', 'released', 'committed', 'settled', 'htlcFinal', 'partLost', 'atRisk'] as const);

/** The events of one payment's life, as the settlement engine emits them. */
export type PaymentEvents = Pick<MuxEvents, (typeof PAYMENT_EVENTS)[number]>;
