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
  openPaymentAddr,
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
}

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
  /** The MPP record's total_msat is below the invoice amount. */
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
  | { readonly kind: 'arrived'; readonly htlc: ArrivedHtlc };

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

  const opened = openPaymentAddr(ctx.keyring, hop.paymentData.paymentAddr, offered.paymentHash);
  if (!opened.ok) return unknownDetails('paymentAddrInvalid');
  const terms = opened.value;
  // A total_msat above the invoice amount is the payer's choice (LND accepts it, with no upper bound);
  // below it, the set could complete short of the invoice (docs/sphinx.md, "Final-hop rules").
  if (hop.paymentData.totalMsat < terms.amountMsat) return unknownDetails('totalBelowInvoice');

  return {
    kind: 'arrived',
    htlc: {
      key: offered.key,
      paymentHash: offered.paymentHash,
      preimage: terms.preimage,
      amountMsat: offered.outgoingAmountMsat,
      expiry: offered.outgoingExpiry,
      autoFailHeight: offered.autoFailHeight,
      totalMsat: hop.paymentData.totalMsat,
      invoiceAmountMsat: terms.amountMsat,
      invoiceExpiresAt: terms.expiresAt,
      minFinalCltvExpiryDelta: ctx.minFinalCltvExpiryDelta,
      sharedSecret,
    },
  };
}

function rejected(rejection: Rejection): Inspection {
  return { kind: 'rejected', rejection };
}
