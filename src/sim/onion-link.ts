/**
 * The link's reading of an incoming HTLC's onion, as a decision (functional core: no state): peel
 * this node's layer, decode the hop payload, and say whether the HTLC is malformed, to be failed, or
 * to be forwarded, as LND's link and hop iterator decide (htlcswitch/link.go, hop/iterator.go).
 */
import { decodeHopPayload, peelOnion, type Ecdh, type FailureMessage } from '../protocol/index.js';
import { malformedResolution, type HtlcOffer, type HtlcResolution } from './htlc.js';
import type { Forwarding } from './node-context.js';

/** What to do with an incoming HTLC after reading its onion. */
export type OnionDecision =
  /** The onion could not be peeled: update_fail_malformed_htlc (no shared secret to encrypt with). */
  | { readonly kind: 'malformed'; readonly resolution: HtlcResolution }
  /** Peeled, but the HTLC fails at this node with `failure`, encrypted with `sharedSecret`. */
  | { readonly kind: 'fail'; readonly sharedSecret: Uint8Array; readonly failure: FailureMessage }
  /** A forward, to be offered to the interceptable switch. */
  | { readonly kind: 'forward'; readonly sharedSecret: Uint8Array; readonly forwarding: Forwarding };

/** lnwire.MinCustomRecordsTlvType: custom records use TLV types from 65536 on. */
export const MIN_CUSTOM_RECORD_TYPE = 65536n;

/** Reads `offer`'s onion with this node's key; `height`: current block height (for the exit-hop failure). */
export function readOnion(offer: HtlcOffer, ecdh: Ecdh, height: number): OnionDecision {
  const peeled = peelOnion(offer.onion, offer.paymentHash, ecdh);
  if (!peeled.ok) return { kind: 'malformed', resolution: malformedResolution(offer.onion, peeled.error) };
  const { sharedSecret, next } = peeled.value;
  // The simulator does not read the legacy hop_data that LND still reads: answered as before.
  if (peeled.value.format === 'legacy') {
    return { kind: 'malformed', resolution: malformedResolution(offer.onion, { kind: 'invalidOnionPayload', reason: 'lengthBelowMinimum', sharedSecret }) };
  }
  const payload = decodeHopPayload(peeled.value.payload, next.kind === 'final' ? 'final' : 'intermediate');
  if (!payload.ok) {
    // LND reports the offending type and always offset 0 (htlcswitch/hop/payload.go).
    return { kind: 'fail', sharedSecret, failure: { kind: 'invalidOnionPayload', type: payload.error.type, offset: 0 } };
  }
  if (next.kind === 'final' || payload.value.shortChannelId === undefined) {
    // An exit hop: the simulated nodes hold no invoices of their own.
    return { kind: 'fail', sharedSecret, failure: { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: offer.amountMsat, height } };
  }
  const customRecords = new Map<bigint, Uint8Array>();
  for (const record of payload.value.otherRecords) if (record.type >= MIN_CUSTOM_RECORD_TYPE) customRecords.set(record.type, record.value);
  return {
    kind: 'forward',
    sharedSecret,
    forwarding: {
      outgoingChanId: payload.value.shortChannelId,
      outgoingAmountMsat: payload.value.amtToForwardMsat,
      outgoingExpiry: payload.value.outgoingCltvValue,
      customRecords,
      onionBlob: next.onion,
    },
  };
}
