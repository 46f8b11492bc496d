/**
 * HTLCs as simulated peers hand them to each other over a channel, in process: the fields of BOLT 2's
 * update_add_htlc and the three ways it is removed (update_fulfill_htlc, update_fail_htlc,
 * update_fail_malformed_htlc).
 */
import { createHash } from 'node:crypto';
import { FAILURE_CODE, type FailureMessage, type OnionError } from '../protocol/index.js';

/** update_add_htlc, minus the channel and id the receiving side assigns. */
export interface HtlcOffer {
  readonly amountMsat: bigint;
  /** cltv_expiry, block height. */
  readonly expiry: number;
  /** 32 bytes. */
  readonly paymentHash: Uint8Array;
  /** The 1366-byte onion packet. */
  readonly onion: Uint8Array;
}

/** How an added HTLC is removed. */
export type HtlcResolution =
  | { readonly kind: 'fulfill'; readonly preimage: Uint8Array }
  /** `reason`: the failure onion, to be decrypted by the payment's origin. */
  | { readonly kind: 'fail'; readonly reason: Uint8Array }
  | { readonly kind: 'failMalformed'; readonly failureCode: number; readonly sha256OfOnion: Uint8Array }
  /** The channel was force-closed and the HTLC expired on chain: the sender swept it back (no failure message). */
  | { readonly kind: 'onChainTimeout' };

/** Why an HTLC could not even be added to the channel (the sender's own link refuses it). */
/** `invalidRoute`: the payer could not even build the onion (hint keys not on the curve, payloads over 1300 bytes). */
export type AddRefusal = 'peerOffline' | 'insufficientBalance' | 'unknownChannel' | 'belowMinimum' | 'invalidRoute';

export type AddHtlcResult =
  | { readonly ok: true; readonly htlcId: bigint; readonly resolution: Promise<HtlcResolution> }
  | { readonly ok: false; readonly refusal: AddRefusal };

/** A peer that accepts HTLCs over the channel `chanId` it shares with the sender. */
export interface HtlcReceiver {
  readonly publicKey: Uint8Array;
  addHtlc(chanId: bigint, offer: HtlcOffer): AddHtlcResult;
}

/** A short channel id from its parts (BOLT 7): block height (3 bytes), transaction index (3), output (2). */
export function shortChannelId(block: number, txIndex: number, output: number): bigint {
  return (BigInt(block) << 40n) | (BigInt(txIndex) << 16n) | BigInt(output);
}

/**
 * The failure an update_fail_malformed_htlc stands for (BOLT 4): its BADONION code as a failure
 * message, which the node that receives it reports as its own; any other code reads as
 * invalid_onion_key.
 */
export function malformedFailure(failureCode: number, sha256OfOnion: Uint8Array): FailureMessage {
  if (failureCode === FAILURE_CODE.invalidOnionVersion) return { kind: 'invalidOnionVersion', sha256OfOnion };
  if (failureCode === FAILURE_CODE.invalidOnionHmac) return { kind: 'invalidOnionHmac', sha256OfOnion };
  return { kind: 'invalidOnionKey', sha256OfOnion };
}

/**
 * The update_fail_malformed_htlc for an onion that could not be peeled, with the BADONION code LND's
 * hop iterator gives its error (htlcswitch/hop/iterator.go): version and HMAC errors by name, every
 * other decoding error as invalid_onion_key.
 */
export function malformedResolution(onion: Uint8Array, error: OnionError): HtlcResolution {
  const failureCode = error.kind === 'invalidOnionVersion' ? FAILURE_CODE.invalidOnionVersion
    : error.kind === 'invalidOnionHmac' ? FAILURE_CODE.invalidOnionHmac : FAILURE_CODE.invalidOnionKey;
  return { kind: 'failMalformed', failureCode, sha256OfOnion: createHash('sha256').update(onion).digest() };
}
