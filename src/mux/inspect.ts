/**
 * Per-HTLC checks, before an HTLC meets its set: is it for the virtual node, does it pay the virtual
 * hop's policy, does the onion peel, is the final payload well formed and consistent with the HTLC, and
 * does its payment_addr prove an invoice of ours. Pure: keys and the chain height come in as arguments.
 *
 * Only checks that give the same answer every time the same HTLC is offered belong here; rules that
 * depend on time or on the invoice's state (expiry, cancel, settled sets) live in the registry, after
 * the replay check, so that a committed HTLC is never failed on a second offer.
 */
import {
  decodeHopPayload,
  decodeLegacyHopData,
  equalBytes,
  openGoLnmuxPaymentAddr,
  openPaymentAddr,
  paymentMetadataOf,
  peelOnion,
  type CircuitKey,
  type Ecdh,
  type FailureMessage,
  type InterceptorFailureCode,
  type Keyring,
  type PaymentData,
} from '../protocol/index.js';
import type { ArrivedHtlc } from '../registry/types.js';

/** An HTLC as the cluster node's interceptor offers it (the fields the checks need). */
export interface OfferedHtlc {
  readonly key: CircuitKey;
  readonly paymentHash: Uint8Array;
  /** Amount the cluster node received, msat. */
  readonly incomingAmountMsat: bigint;
  /** Amount the cluster node would forward to the virtual node, msat. */
  readonly outgoingAmountMsat: bigint;
  /** Expiry of the incoming HTLC, block height. */
  readonly incomingExpiry: number;
  /** Expiry of the HTLC towards the virtual node, block height. */
  readonly outgoingExpiry: number;
  /** The scid the sender asked the cluster node to forward over. */
  readonly outgoingRequestedChanId: bigint;
  /** The 1366-byte onion addressed to the next hop. */
  readonly onionBlob: Uint8Array;
  /**
   * The height at which the cluster node fails this HTLC on its own if it is still held, blocks
   * (LND's `auto_fail_height`: the incoming expiry minus 19 off chain, the incoming expiry itself once
   * the incoming channel is closed on chain).
   */
  readonly autoFailHeight: number;
}

/** The virtual hop's routing policy, as advertised in the invoice's route hints. */
export interface HopPolicy {
  readonly feeBaseMsat: bigint;
  readonly feeProportionalMillionths: bigint;
  /** cltv_expiry_delta of the virtual hop, blocks. */
  readonly cltvExpiryDelta: number;
}

export interface InspectContext {
  /** The virtual channel id of the node that offers the HTLC. */
  readonly virtualChannelId: bigint;
  readonly policy: HopPolicy;
  /** ECDH with the identity key (the onion is addressed to the virtual node). */
  readonly ecdh: Ecdh;
  readonly keyring: Keyring;
  /** Current chain height, blocks (goes into incorrect_or_unknown_payment_details; never 0: engine.ts). */
  readonly height: number;
  /**
   * The min_final_cltv_expiry_delta (BOLT 11 `c`) of the invoices, blocks: the payment_addr does not
   * carry it, every lnmux invoice is made with the configured `invoice.minFinalCltvExpiryDelta`
   * (docs/sphinx.md, "Final-hop rules"). The registry checks it, on arrival of a new part.
   */
  readonly minFinalCltvExpiryDelta: number;
  /**
   * Also accept the Go lnmux's payment_addr scheme (docs/protocol.md, "The Go lnmux's payment_addr"), for
   * invoices it made with the same identity key: config `invoice.acceptGoLnmuxInvoices`, off by default.
   */
  readonly acceptGoLnmuxInvoices?: boolean;
}

/**
 * An invoice's terms as the store holds them, for the invoices whose payment_addr alone may not prove
 * an HTLC: a hold invoice's (the application chose the payment hash), and a Go lnmux invoice's (its
 * scheme may be turned off since its set was committed). An HTLC must carry exactly this payment_addr.
 */
export interface StoredTerms {
  readonly kind: 'hold' | 'goLnmux';
  readonly paymentAddr: Uint8Array;
  /** msat; absent for an amountless invoice. */
  readonly amountMsat?: bigint;
  /** Amountless invoices: the least the payer may pay, msat. */
  readonly minAmountMsat?: bigint;
  /** unix seconds */
  readonly expiresAt: number;
  /** The preimage stored with the invoice's settle commit, if committed. */
  readonly preimage?: Uint8Array;
}

/** An HTLC whose payment_addr opened under no scheme of ours: only a stored invoice's terms can accept it. */
export interface UnprovenHtlc {
  readonly htlc: Omit<ArrivedHtlc, 'preimage' | 'invoiceAmountMsat' | 'invoiceExpiresAt'>;
  readonly paymentAddr: Uint8Array;
  /** The answer when no stored invoice accepts it. */
  readonly rejection: Rejection;
}

/** The `c` of every Go lnmux invoice: lnmuxd writes 40, whatever its configuration (docs/protocol.md). */
const GO_LNMUX_MIN_FINAL_CLTV_EXPIRY_DELTA = 40;

/** Why an HTLC was rejected before reaching its set. */
export type RejectReason =
  | 'feeInsufficient'
  | 'cltvDeltaTooSmall'
  | 'invalidOnionVersion'
  | 'invalidOnionKey'
  | 'invalidOnionHmac'
  | 'invalidOnionPayload'
  | 'notFinalHop'
  /** The HTLC carries less than the payload's amt_to_forward (final_incorrect_htlc_amount). */
  | 'amountBelowPayload'
  /** The HTLC expires before the payload's outgoing_cltv_value (final_incorrect_cltv_expiry). */
  | 'cltvBelowPayload'
  | 'missingPaymentData'
  /** A legacy (pre-TLV) final payload: no payment_data can be in it (LND: incorrect_or_unknown_payment_details). */
  | 'legacyPayload'
  | 'paymentAddrInvalid'
  /** The MPP record's total_msat is below the invoice amount (or an amountless invoice's minimum). */
  | 'totalBelowInvoice';

/** What the cluster node must send back for a rejected HTLC. */
export type Rejection =
  /** An onion-level or channel-level failure the cluster node encodes itself (LND's failure_code). */
  | {
      readonly kind: 'failCode';
      readonly reason: RejectReason;
      readonly code: InterceptorFailureCode;
    }
  /** A failure from the final hop, encrypted with the shared secret (LND's failure_message). */
  | {
      readonly kind: 'failMessage';
      readonly reason: RejectReason;
      readonly message: FailureMessage;
      readonly sharedSecret: Uint8Array;
    };

export type Inspection =
  /** Not for the virtual channel: RESUME at once. */
  | { readonly kind: 'foreign' }
  | { readonly kind: 'rejected'; readonly rejection: Rejection }
  /**
   * Proven by its payment_addr. `goLnmux`: under the Go lnmux's scheme, whose invoices are not in the
   * store until their first HTLC records them (engine.ts).
   */
  | {
      readonly kind: 'arrived';
      readonly htlc: ArrivedHtlc;
      readonly goLnmux?: { readonly paymentAddr: Uint8Array; readonly amountMsat: bigint; readonly expiresAt: number };
    }
  /** Not proven by its payment_addr: a hold invoice's, if the store has one for its hash ({@link acceptStoredTerms}). */
  | { readonly kind: 'unproven'; readonly unproven: UnprovenHtlc };

/** Runs the per-HTLC checks of BOLT 4 ("Onion Decryption", final node requirements) in order. */
export function inspectHtlc(offered: OfferedHtlc, ctx: InspectContext): Inspection {
  if (offered.outgoingRequestedChanId !== ctx.virtualChannelId) return { kind: 'foreign' };

  const fee = ctx.policy.feeBaseMsat + (offered.outgoingAmountMsat * ctx.policy.feeProportionalMillionths) / 1_000_000n;
  if (offered.incomingAmountMsat - offered.outgoingAmountMsat < fee) {
    return rejected({ kind: 'failCode', reason: 'feeInsufficient', code: 'TEMPORARY_CHANNEL_FAILURE' });
  }
  if (offered.incomingExpiry - offered.outgoingExpiry < ctx.policy.cltvExpiryDelta) {
    return rejected({ kind: 'failCode', reason: 'cltvDeltaTooSmall', code: 'TEMPORARY_CHANNEL_FAILURE' });
  }

  const peeled = peelOnion(offered.onionBlob, offered.paymentHash, ctx.ecdh);
  if (!peeled.ok) {
    switch (peeled.error.kind) {
      case 'invalidOnionVersion':
        return rejected({ kind: 'failCode', reason: 'invalidOnionVersion', code: 'INVALID_ONION_VERSION' });
      case 'invalidOnionKey':
        return rejected({ kind: 'failCode', reason: 'invalidOnionKey', code: 'INVALID_ONION_KEY' });
      case 'invalidOnionPayload':
        return rejected({
          kind: 'failMessage',
          reason: 'invalidOnionPayload',
          message: { kind: 'invalidOnionPayload', type: 0n, offset: 0 },
          sharedSecret: peeled.error.sharedSecret,
        });
      case 'invalidOnionHmac':
      case 'invalidOnionLength':
        // A blob of the wrong length cannot be authenticated either.
        return rejected({ kind: 'failCode', reason: 'invalidOnionHmac', code: 'INVALID_ONION_HMAC' });
      default: {
        const never: never = peeled.error;
        throw new Error(`unhandled onion error ${JSON.stringify(never)}`);
      }
    }
  }
  const { sharedSecret, format, payload, next } = peeled.value;
  const failMessage = (reason: RejectReason, message: FailureMessage): Inspection =>
    rejected({ kind: 'failMessage', reason, message, sharedSecret });
  const unknownDetails = (reason: RejectReason): Inspection =>
    failMessage(reason, {
      kind: 'incorrectOrUnknownPaymentDetails',
      htlcMsat: offered.outgoingAmountMsat,
      height: ctx.height,
    });

  let hop: { readonly amtToForwardMsat: bigint; readonly outgoingCltvValue: number; readonly paymentData?: PaymentData };
  let paymentMetadata: Uint8Array | undefined;
  if (format === 'legacy') {
    // The retired fixed-size hop_data: LND still reads it and checks its amount and expiry, then finds
    // no payment_data and answers incorrect_or_unknown_payment_details (docs/sphinx.md, "Final-hop rules").
    hop = decodeLegacyHopData(payload);
  } else {
    const decoded = decodeHopPayload(payload, next.kind === 'final' ? 'final' : 'intermediate');
    if (!decoded.ok) {
      return failMessage('invalidOnionPayload', {
        kind: 'invalidOnionPayload',
        type: decoded.error.type,
        offset: decoded.error.offset,
      });
    }
    hop = decoded.value;
    paymentMetadata = paymentMetadataOf(decoded.value);
  }
  // The virtual node has no channels: an onion that asks it to forward names a peer it does not have.
  if (next.kind !== 'final') return failMessage('notFinalHop', { kind: 'unknownNextPeer' });

  // BOLT 4 fails only an HTLC that carries less than its payload asks: a payer may add noise to the
  // amount and the expiry of the last hop (docs/sphinx.md, "Final-hop rules").
  if (offered.outgoingAmountMsat < hop.amtToForwardMsat) {
    return failMessage('amountBelowPayload', {
      kind: 'finalIncorrectHtlcAmount',
      incomingHtlcAmtMsat: offered.outgoingAmountMsat,
    });
  }
  if (offered.outgoingExpiry < hop.outgoingCltvValue) {
    return failMessage('cltvBelowPayload', { kind: 'finalIncorrectCltvExpiry', cltvExpiry: offered.outgoingExpiry });
  }
  if (hop.paymentData === undefined) return unknownDetails(format === 'legacy' ? 'legacyPayload' : 'missingPaymentData');

  const { paymentAddr, totalMsat } = hop.paymentData;
  const common = {
    key: offered.key,
    paymentHash: offered.paymentHash,
    amountMsat: offered.outgoingAmountMsat,
    expiry: offered.outgoingExpiry,
    autoFailHeight: offered.autoFailHeight,
    totalMsat,
    minFinalCltvExpiryDelta: ctx.minFinalCltvExpiryDelta,
    sharedSecret,
    ...(paymentMetadata !== undefined ? { paymentMetadata } : {}),
  };

  const opened = openPaymentAddr(ctx.keyring, paymentAddr, offered.paymentHash);
  if (opened.ok) {
    const terms = opened.value;
    if (totalBelow(totalMsat, terms)) return unknownDetails('totalBelowInvoice');
    return {
      kind: 'arrived',
      htlc: {
        ...common,
        preimage: terms.preimage,
        ...(terms.amountMsat !== undefined ? { invoiceAmountMsat: terms.amountMsat } : {}),
        invoiceExpiresAt: terms.expiresAt,
      },
    };
  }
  if (ctx.acceptGoLnmuxInvoices === true) {
    const go = openGoLnmuxPaymentAddr(ctx.keyring.identityPrivateKey(), paymentAddr, offered.paymentHash);
    if (go.ok) {
      const { amountMsat, expiresAt, preimage } = go.value;
      if (totalBelow(totalMsat, { amountMsat })) return unknownDetails('totalBelowInvoice');
      return {
        kind: 'arrived',
        htlc: {
          ...common,
          preimage,
          invoiceAmountMsat: amountMsat,
          invoiceExpiresAt: expiresAt,
          minFinalCltvExpiryDelta: GO_LNMUX_MIN_FINAL_CLTV_EXPIRY_DELTA,
        },
        goLnmux: { paymentAddr, amountMsat, expiresAt },
      };
    }
  }
  const rejection = unknownDetails('paymentAddrInvalid');
  if (rejection.kind !== 'rejected') throw new Error('unreachable');
  return { kind: 'unproven', unproven: { htlc: common, paymentAddr, rejection: rejection.rejection } };
}

/**
 * The second half of {@link inspectHtlc} for an HTLC whose payment_addr proved nothing: with the stored
 * terms of the invoice for its hash (undefined: none, or a stateless one), accepted if it carries exactly that invoice's
 * payment_addr (compared in constant time) and a total_msat at least what the invoice asks. Otherwise
 * the same incorrect_or_unknown_payment_details as any unknown invoice (BOLT 4: probing learns nothing).
 */
export function acceptStoredTerms(unproven: UnprovenHtlc, stored: StoredTerms | undefined): Inspection {
  if (stored === undefined || !equalBytes(stored.paymentAddr, unproven.paymentAddr)) {
    return rejected(unproven.rejection);
  }
  // A Go lnmux invoice not committed yet is accepted only under its scheme, when the setting is on.
  if (stored.kind === 'goLnmux' && stored.preimage === undefined) return rejected(unproven.rejection);
  if (totalBelow(unproven.htlc.totalMsat, stored)) {
    return rejected({ ...unproven.rejection, reason: 'totalBelowInvoice' });
  }
  return {
    kind: 'arrived',
    htlc: {
      ...unproven.htlc,
      ...(stored.preimage !== undefined ? { preimage: stored.preimage } : {}),
      ...(stored.amountMsat !== undefined ? { invoiceAmountMsat: stored.amountMsat } : {}),
      invoiceExpiresAt: stored.expiresAt,
    },
  };
}

/**
 * A total_msat above the invoice amount is the payer's choice (LND accepts it, with no upper bound);
 * below it, the set could complete short of the invoice (docs/sphinx.md, "Final-hop rules"). An
 * amountless invoice asks at least its minimum, if it has one.
 */
function totalBelow(totalMsat: bigint, terms: { readonly amountMsat?: bigint; readonly minAmountMsat?: bigint }): boolean {
  const least = terms.amountMsat ?? terms.minAmountMsat;
  return least !== undefined && totalMsat < least;
}

function rejected(rejection: Rejection): Inspection {
  return { kind: 'rejected', rejection };
}
