/**
 * The HTLC-set registry's vocabulary: what goes in (events), what comes out (decisions), and a name for
 * every outcome. The registry is pure: the shell (src/mux/) performs the decisions and feeds the results
 * back as events.
 */
import type { CircuitKey, FailureMessage } from '../protocol/index.js';

/** An HTLC that passed every per-HTLC check (see inspect.ts) and now waits to join its set. */
export interface ArrivedHtlc {
  readonly key: CircuitKey;
  readonly paymentHash: Uint8Array;
  /**
   * The preimage, whose SHA256 equals paymentHash: re-derived from the payment_addr, or for a hold
   * invoice the one stored with its settle commit. Absent for a hold invoice not committed yet: its set
   * waits for the application's preimage (applicationSettle), whatever the mode.
   */
  readonly preimage?: Uint8Array;
  /** Amount this HTLC pays the virtual node (the cluster node's outgoing amount), msat. */
  readonly amountMsat: bigint;
  /** CLTV expiry of the HTLC towards the virtual node, block height. */
  readonly expiry: number;
  /** The height at which its node fails it on its own (LND's auto_fail_height), blocks. */
  readonly autoFailHeight: number;
  /** total_msat of the payment's MPP record, msat (at least invoiceAmountMsat: inspect.ts). */
  readonly totalMsat: bigint;
  /**
   * The invoice amount (from the payment_addr, or the store for a hold invoice), msat; absent for an
   * amountless invoice, whose set completes at the payer's total_msat (at least its minimum: inspect.ts).
   */
  readonly invoiceAmountMsat?: bigint;
  /** The payer's echo of the invoice's metadata (final payload payment_metadata, BOLT 4 TLV 16). */
  readonly paymentMetadata?: Uint8Array;
  /**
   * The invoice's min_final_cltv_expiry_delta (BOLT 11 `c`), blocks: a new part must expire at least
   * this many blocks above the current height. Every lnmux invoice carries the configured
   * `invoice.minFinalCltvExpiryDelta` (docs/sphinx.md, "Final-hop rules").
   */
  readonly minFinalCltvExpiryDelta: number;
  /** When the invoice expires, carried in the payment_addr, unix seconds. */
  readonly invoiceExpiresAt: number;
  /** The final hop's shared secret, to encrypt a failure back to the sender. */
  readonly sharedSecret: Uint8Array;
}

/** The registry's view of an invoice, as the store knows it when one of its HTLCs arrives (or on a reload). */
export type InvoiceView =
  | { readonly kind: 'unknown' }
  /** Open; `acceptedAtMs`: this HTLC joined its set before (logged, unix ms), its set's MPP timeout counts from then. */
  | { readonly kind: 'open'; readonly acceptedAtMs?: number }
  | { readonly kind: 'cancelled' }
  /**
   * A set was committed (settle requested or already settled): only its HTLCs may be settled. `released`:
   * an HTLC of the set is final at its node already, so the preimage is out; otherwise (a restart or a new
   * leader found the decision) SETTLEs wait until every HTLC of the set is offered again or one is known
   * settled, since the instance that committed may have been holding them back for a lost part.
   */
  | {
      readonly kind: 'settleCommitted';
      readonly setId: Uint8Array;
      readonly htlcs: readonly CircuitKey[];
      readonly released?: boolean;
      /** A hold or goLnmux invoice: the preimage stored with the commit (stateless ones derive theirs). */
      readonly preimage?: Uint8Array;
    };

export type RegistryEvent =
  /** An HTLC for the virtual node passed inspection; `invoice` is the store's view, read after arrival. */
  | { readonly kind: 'htlcArrived'; readonly htlc: ArrivedHtlc; readonly invoice: InvoiceView }
  /** The store committed the settle decision and the whole set: now, and only now, SETTLE may go out. */
  | { readonly kind: 'settleCommitted'; readonly paymentHash: Uint8Array; readonly setId: Uint8Array }
  /** The store refused the commit: the invoice was cancelled, or another set was committed first. */
  | { readonly kind: 'settleRefused'; readonly paymentHash: Uint8Array; readonly invoice: InvoiceView }
  /** The store took back a committed decision that no SETTLE had left for (see `revokeSettle`). */
  | { readonly kind: 'settleRevoked'; readonly paymentHash: Uint8Array; readonly setId: Uint8Array }
  /**
   * The application settles an accepted set (hold mode, or a hold invoice's set: then with its
   * `preimage`, whose SHA256 must be the payment hash).
   */
  | { readonly kind: 'applicationSettle'; readonly setId: Uint8Array; readonly preimage?: Uint8Array }
  /** Hold mode: the application cancelled the invoice (already durable in the store). */
  | { readonly kind: 'invoiceCancelled'; readonly paymentHash: Uint8Array }
  | { readonly kind: 'blockConnected'; readonly height: number }
  /**
   * LND's final resolution of an HTLC (SubscribeHtlcEvents). Any HTLC: most are not ours. A held part
   * reported failed was failed by its node on its own and leaves its set.
   */
  | { readonly kind: 'htlcFinal'; readonly key: CircuitKey; readonly settled: boolean }
  /** A node's interceptor stream went down: whether it still holds our parts is unknown until it replays. */
  | { readonly kind: 'nodeDisconnected'; readonly node: string }
  /**
   * A node's interceptor stream is back and the node had time to offer again every HTLC it holds
   * (LND replays them at registration): a part of that node not offered since it went down is gone.
   */
  | { readonly kind: 'nodeReplayed'; readonly node: string }
  /** A node runs without --requireinterceptor: it failed or forwarded every HTLC it held for us. */
  | { readonly kind: 'nodeHtlcsLost'; readonly node: string }
  /** Time passed: deadlines up to `now` fall due. */
  | { readonly kind: 'tick' };

/** Why a held part left its set without lnmux failing it: its node no longer holds it. */
export type PartLostReason =
  /** The node reported the HTLC final and failed (auto-fail height reached, channel closed, ...). */
  | 'failedByNode'
  /** The node reconnected and did not offer the HTLC again. */
  | 'notReplayed'
  /** The node runs without --requireinterceptor: it resolved its held HTLCs without us. */
  | 'nodeWithoutInterceptor';

/** Why an HTLC is failed. Each maps to one BOLT 4 failure message (see failureFor in registry.ts). */
export type FailOutcome =
  /** The invoice is not recorded in the store (or was never ours). */
  | 'invoiceUnknown'
  | 'invoiceCancelled'
  /** The invoice's expiry passed before its set was complete. */
  | 'invoiceExpired'
  /** Another set was committed for this invoice; this HTLC is not part of it. */
  | 'invoiceAlreadySettled'
  /** The set is complete and decided; an extra HTLC cannot join it. */
  | 'setClosed'
  /** The set holds its total_msat already (it waits for a part's node to come back): this HTLC is not needed. */
  | 'overpayment'
  /** This HTLC's MPP total_msat differs from the one the set's other parts carry. */
  | 'totalMismatch'
  /** On arrival, the HTLC's expiry is below the current height plus the invoice's min_final_cltv_expiry_delta. */
  | 'finalCltvTooSoon'
  /** On arrival, the HTLC's expiry is more than 65,535 blocks above the current height (LND's bound). */
  | 'finalCltvTooFar'
  /** The part waited longer than the MPP timeout for the rest of its set (BOLT 4 mpp_timeout). */
  | 'mppTimeout'
  /** Hold mode: the accepted set was not settled or cancelled in time. */
  | 'holdTimeout'
  /** The chain height came too close to the HTLC's expiry while it was held. */
  | 'expiryTooSoon'
  /** The chain height came within the safety margin of the node's auto-fail height for this HTLC. */
  | 'autoFailHeightNear';

/** Why an HTLC is settled. */
export type SettleOutcome =
  /** The HTLC belongs to the set this registry just committed. */
  | 'settled'
  /** The HTLC was offered again (reconnect, restart) and belongs to the committed set: settle again. */
  | 'replayToSettled';

export type Decision =
  /** Send SETTLE with the preimage to the node holding the HTLC. Only ever after the set's commit. */
  | {
      readonly kind: 'settle';
      readonly key: CircuitKey;
      readonly paymentHash: Uint8Array;
      readonly preimage: Uint8Array;
      readonly outcome: SettleOutcome;
    }
  /** Send FAIL with this message, encrypted with the HTLC's shared secret. */
  | {
      readonly kind: 'fail';
      readonly key: CircuitKey;
      readonly paymentHash: Uint8Array;
      readonly outcome: FailOutcome;
      /** The HTLC's amount, msat. */
      readonly amountMsat: bigint;
      readonly message: FailureMessage;
      readonly sharedSecret: Uint8Array;
    }
  /** The HTLC is held for now; nothing is sent. */
  | {
      readonly kind: 'hold';
      readonly key: CircuitKey;
      readonly paymentHash: Uint8Array;
      /** This HTLC's amount, msat. */
      readonly amountMsat: bigint;
      /** This HTLC's expiry, block height. */
      readonly expiry: number;
      /** What the set holds now, msat. */
      readonly heldMsat: bigint;
      /** The invoice amount, msat (what the set must reach); absent for an amountless invoice. */
      readonly invoiceAmountMsat?: bigint;
      /** The payment's MPP total_msat. */
      readonly totalMsat: bigint;
    }
  /** Write the settle decision and the whole set to the store; answer with settleCommitted / settleRefused. */
  | {
      readonly kind: 'commitSettle';
      readonly paymentHash: Uint8Array;
      readonly setId: Uint8Array;
      readonly htlcs: readonly { readonly key: CircuitKey; readonly amountMsat: bigint }[];
      /** The set's preimage (the store keeps a hold or goLnmux invoice's with the decision). */
      readonly preimage?: Uint8Array;
    }
  /** Hold mode, or a hold invoice: tell the application that a complete set waits for its decision. */
  | {
      readonly kind: 'setAccepted';
      readonly paymentHash: Uint8Array;
      readonly setId: Uint8Array;
      readonly amountMsat: bigint;
      readonly htlcs: readonly { readonly key: CircuitKey; readonly amountMsat: bigint }[];
      /** A hold invoice's set: only the application's preimage settles it. */
      readonly needsPreimage: boolean;
      /** The payer's echo of the invoice's metadata (its first part's). */
      readonly paymentMetadata?: Uint8Array;
    }
  /**
   * Hold mode: an accepted set was released (timeout, expiry, cancel) before the application settled it;
   * `partLost`: a part left it, the live parts wait for the rest again (a new set id once complete).
   */
  | {
      readonly kind: 'setReleased';
      readonly paymentHash: Uint8Array;
      readonly setId: Uint8Array;
      readonly outcome: FailOutcome | 'partLost';
    }
  /** A held part left its set: its node no longer holds it. Nothing is sent to the node. */
  | {
      readonly kind: 'partLost';
      readonly key: CircuitKey;
      readonly paymentHash: Uint8Array;
      readonly reason: PartLostReason;
      /** The part's amount, msat. */
      readonly amountMsat: bigint;
      /** What the set still holds, msat. */
      readonly heldMsat: bigint;
    }
  /** The set's SETTLEs are going out now (its commit is durable and every part is live): the preimage is released. */
  | {
      readonly kind: 'settleReleased';
      readonly paymentHash: Uint8Array;
      readonly setId: Uint8Array;
      readonly amountMsat: bigint;
      /** The payer's echo of the invoice's metadata (its first part's). */
      readonly paymentMetadata?: Uint8Array;
    }
  /**
   * A part left a committed set before any SETTLE went out: ask the store to take the decision back
   * (answer with settleRevoked, or settleRefused with the store's view if it would not).
   */
  | { readonly kind: 'revokeSettle'; readonly paymentHash: Uint8Array; readonly setId: Uint8Array }
  /** The store and the registry disagree about this invoice: read the store's view and send it as settleRefused. */
  | { readonly kind: 'reloadInvoice'; readonly paymentHash: Uint8Array }
  /**
   * Money at risk: a part of a set whose preimage is released is not settled at its node and nears its
   * auto-fail height (`expiryNear`), or its node failed it (`failedAfterRelease`: the payer holds the
   * preimage and that part is lost).
   */
  | {
      readonly kind: 'settleAtRisk';
      readonly key: CircuitKey;
      readonly paymentHash: Uint8Array;
      readonly setId: Uint8Array;
      readonly reason: 'expiryNear' | 'failedAfterRelease';
      /** The part's amount, msat. */
      readonly amountMsat: bigint;
    }
  /**
   * Hold mode: an applicationSettle that starts no commit: the set is unknown (or not complete), or it was
   * committed already. (A set whose commit is under way gets its answer from that commit.)
   */
  | {
      readonly kind: 'applicationSettleAnswered';
      readonly setId: Uint8Array;
      /**
       * `preimageRequired` / `wrongPreimage`: a hold invoice's set, settled without its preimage or with
       * one whose SHA256 is not the payment hash (the set stays accepted).
       */
      readonly answer: 'unknownSet' | 'alreadySettled' | 'preimageRequired' | 'wrongPreimage';
    };

/** Registry settings. */
export interface RegistryConfig {
  /** auto: settle a complete set at once; hold: tell the application and wait for its decision. */
  readonly mode: 'auto' | 'hold';
  /** How long a set waits, from its first part's arrival, for the rest before all its parts fail with mpp_timeout, ms. */
  readonly mppTimeoutMs: number;
  /**
   * Hold mode: how long an accepted set waits for the application's decision before it is released, ms.
   * Not for a hold invoice's set: like LND's hold invoices, it waits for the preimage or a cancel until
   * its parts near their expiry (expiryMarginBlocks, autoFailMarginBlocks).
   */
  readonly holdTimeoutMs: number;
  /** A held HTLC fails once the chain height reaches its expiry minus this margin, blocks. */
  readonly expiryMarginBlocks: number;
  /**
   * A held HTLC fails (lnmux fails it itself, before its node does) once the chain height reaches its
   * node's auto_fail_height minus this margin, and no set is committed with such a part, blocks.
   */
  readonly autoFailMarginBlocks: number;
}
