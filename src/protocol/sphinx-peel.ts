/**
 * Peeling one layer of a BOLT 4 onion ("Onion Decryption"), as the hop it is addressed to: ECDH with
 * the packet's ephemeral key, HMAC check, decryption, the hop's payload and, unless this hop is the
 * last, the onion for the next hop. The private key stays behind the injected {@link Ecdh}.
 */
import { decodeBigSize } from './bigsize.js';
import { equalBytes } from './bytes.js';
import type { Ecdh } from './ecdh.js';
import { err, ok, type Result } from './result.js';
import {
  HMAC_LENGTH,
  HMAC_OFFSET,
  HOP_PAYLOADS_LENGTH,
  HOP_PAYLOADS_OFFSET,
  LEGACY_HOP_DATA_LENGTH,
  MIN_HOP_PAYLOAD_LENGTH,
  ONION_PACKET_LENGTH,
  ONION_VERSION,
  PUBLIC_KEY_OFFSET,
} from './sphinx-packet.js';
import { blindingFactor, blindPublicKey, generateKey, hmacSha256 } from './sphinx-keys.js';
import { chacha20Stepper } from './sphinx-stream.js';

/** Why a `hop_payload` could not be framed although the HMAC was valid (the sender built it so). */
export type HopPayloadFramingError =
  /** The BigSize `payload_length` is not minimally encoded. */
  | 'notCanonicalLength'
  /** `payload_length` is 1: no TLV payload is that short (0 is the legacy format). */
  | 'lengthBelowMinimum'
  /** `payload_length` bytes plus the 32-byte next HMAC run past the 1300-byte `hop_payloads`. */
  | 'lengthPastEnd';

/** Why an onion could not be peeled. BOLT 4 "Onion Decryption", "Failure Messages". */
export type OnionError =
  /** The packet is not 1366 bytes long (it cannot be parsed at all). */
  | { readonly kind: 'invalidOnionLength'; readonly length: number }
  /** `version` is not 0 (BOLT 4 failure `invalid_onion_version`). */
  | { readonly kind: 'invalidOnionVersion'; readonly version: number }
  /** `public_key` is not a valid point (BOLT 4 failure `invalid_onion_key`). */
  | { readonly kind: 'invalidOnionKey' }
  /** The HMAC does not match the packet and associated data (BOLT 4 failure `invalid_onion_hmac`). */
  | { readonly kind: 'invalidOnionHmac' }
  /**
   * The authenticated `hop_payload` cannot be framed (BOLT 4 failure `invalid_onion_payload`). The
   * HMAC was good, so the shared secret is known and the failure can be returned encrypted.
   */
  | { readonly kind: 'invalidOnionPayload'; readonly reason: HopPayloadFramingError; readonly sharedSecret: Uint8Array };

/** One onion layer, peeled. */
export interface PeeledOnion {
  /** The 32-byte shared secret with the sender: keys the failure returned to it (failure-onion.ts). */
  readonly sharedSecret: Uint8Array;
  /**
   * `tlv`: `payload` is the TLV stream, without its length prefix (decode with decodeHopPayload).
   * `legacy`: the first byte was 0, the retired fixed-size format that LND still reads; `payload` is the
   * 33-byte `hop_data`, realm byte included (decode with decodeLegacyHopData).
   */
  readonly format: 'tlv' | 'legacy';
  readonly payload: Uint8Array;
  /** `final` when the next HMAC is all zero; otherwise the 1366-byte onion for the next hop. */
  readonly next: { readonly kind: 'final' } | { readonly kind: 'forward'; readonly onion: Uint8Array };
}

/**
 * Peels the layer of `onion` (1366 bytes) addressed to the holder of `ecdh`'s private key, with
 * `associatedData` (for payments, the 32-byte payment hash). BOLT 4 "Onion Decryption": checks in
 * order the length, `version` (0), `public_key`, the HMAC (constant time), then the framing of the
 * hop payload. Never throws for any `onion` or `associatedData`; the errors are {@link OnionError}.
 */
export function peelOnion(
  onion: Uint8Array,
  associatedData: Uint8Array,
  ecdh: Ecdh,
): Result<PeeledOnion, OnionError> {
  if (onion.length !== ONION_PACKET_LENGTH) return err({ kind: 'invalidOnionLength', length: onion.length });
  const version = onion[0]!;
  if (version !== ONION_VERSION) return err({ kind: 'invalidOnionVersion', version });

  const publicKey = onion.subarray(PUBLIC_KEY_OFFSET, HOP_PAYLOADS_OFFSET);
  const sharedSecret = ecdh(publicKey);
  if (sharedSecret === undefined) return err({ kind: 'invalidOnionKey' });

  const hopPayloads = onion.subarray(HOP_PAYLOADS_OFFSET, HMAC_OFFSET);
  const mac = hmacSha256(generateKey('mu', sharedSecret), hopPayloads, associatedData);
  if (!equalBytes(mac, onion.subarray(HMAC_OFFSET))) return err({ kind: 'invalidOnionHmac' });

  // hop_payloads || 0^1300, XORed with the rho stream: the first half holds this hop's length, payload
  // and next HMAC (checked below to fit); the second half is needed only to forward.
  const decrypt = chacha20Stepper(generateKey('rho', sharedSecret));
  const unwrapped = decrypt(hopPayloads);

  // A first byte of 0 is the legacy realm, not a TLV length: read as LND reads it (docs/sphinx.md).
  const format = unwrapped[0] === 0 ? 'legacy' : 'tlv';
  let payloadStart = 0;
  let payloadEnd = LEGACY_HOP_DATA_LENGTH;
  if (format === 'tlv') {
    const length = decodeBigSize(unwrapped, 0);
    // A BigSize cannot be truncated inside 1300 bytes: only non-minimal encodings fail here.
    if (!length.ok) return err({ kind: 'invalidOnionPayload', reason: 'notCanonicalLength', sharedSecret });
    if (length.value.value < BigInt(MIN_HOP_PAYLOAD_LENGTH)) {
      return err({ kind: 'invalidOnionPayload', reason: 'lengthBelowMinimum', sharedSecret });
    }
    if (length.value.value > BigInt(HOP_PAYLOADS_LENGTH - HMAC_LENGTH - length.value.length)) {
      return err({ kind: 'invalidOnionPayload', reason: 'lengthPastEnd', sharedSecret });
    }
    payloadStart = length.value.length;
    payloadEnd = length.value.length + Number(length.value.value);
  }
  const payload = unwrapped.slice(payloadStart, payloadEnd);
  const nextHmac = unwrapped.subarray(payloadEnd, payloadEnd + HMAC_LENGTH);
  if (nextHmac.every((byte) => byte === 0)) return ok({ sharedSecret, format, payload, next: { kind: 'final' } });

  const nextKey = blindPublicKey(publicKey, blindingFactor(publicKey, sharedSecret));
  if (nextKey === undefined) return err({ kind: 'invalidOnionKey' });
  const consumed = payloadEnd + HMAC_LENGTH;
  const next = new Uint8Array(ONION_PACKET_LENGTH);
  next[0] = ONION_VERSION;
  next.set(nextKey, PUBLIC_KEY_OFFSET);
  next.set(unwrapped.subarray(consumed), HOP_PAYLOADS_OFFSET);
  next.set(decrypt(new Uint8Array(consumed)), HOP_PAYLOADS_OFFSET + HOP_PAYLOADS_LENGTH - consumed);
  next.set(nextHmac, HMAC_OFFSET);
  return ok({ sharedSecret, format, payload, next: { kind: 'forward', onion: next } });
}
