/**
 * The failure onion of BOLT 4 "Returning Errors": the erring node authenticates its failure message
 * with its `um` key and obfuscates it with its `ammag` stream; every hop back adds its own `ammag`
 * layer; the origin peels layers until a `um` HMAC matches, which names the erring hop.
 *
 * Packet: `hmac` (32) | `failure_len` (u16) | `failuremsg` | `pad_len` (u16) | `pad`.
 * Attributable failures (`attribution_data` in `update_fail_htlc`) are not produced nor checked here:
 * LND's interceptor takes only the 292-byte `failure_message`.
 */
import { equalBytes } from './bytes.js';
import { err, ok, type Result } from './result.js';
import { HMAC_LENGTH } from './sphinx-packet.js';
import { generateKey, hmacSha256 } from './sphinx-keys.js';
import { chacha20Xor } from './sphinx-stream.js';

/**
 * The standard `failure_len + pad_len`, bytes: BOLT 4 says at least 256 and SHOULD be exactly 256,
 * giving a 292-byte packet (32 + 2 + 256 + 2), the only size LND's interceptor accepts.
 */
export const FAILURE_PADDED_LENGTH = 256;
/** The length of a standard failure packet, bytes (LND's interceptor requires exactly this). */
export const FAILURE_PACKET_LENGTH = HMAC_LENGTH + 2 + FAILURE_PADDED_LENGTH + 2;
/** The largest `failure_len` a u16 can carry, bytes. */
const MAX_U16 = 0xffff;

/** Why the origin could not read a failure packet. */
export type FailureDecryptionError = { readonly kind: 'unreadableFailure' };

/** The erring hop and what it said. */
export interface DecryptedFailure {
  /** The index in the route (0 = first hop) of the hop whose `um` HMAC matched. */
  readonly hopIndex: number;
  /** The `failuremsg` bytes (decode with decodeFailureMessage). */
  readonly failureMessage: Uint8Array;
}

/**
 * As the erring node: wraps `failureMessage` (failure-message.ts bytes, u16 code then data) for the
 * origin, with the `sharedSecret` (32 bytes) of the onion it peeled. BOLT 4 "Returning Errors",
 * "Erring node": pads `failure_len + pad_len` to `paddedLength` (default 256; the packet is then
 * 292 bytes, the only size LND's interceptor accepts for `failure_message`), HMACs with `um`,
 * obfuscates with `ammag`. A message longer than `paddedLength` gets no padding.
 * Throws RangeError when the message or padding does not fit a u16 length.
 */
export function createFailurePacket(
  sharedSecret: Uint8Array,
  failureMessage: Uint8Array,
  paddedLength: number = FAILURE_PADDED_LENGTH,
): Uint8Array {
  const padLength = Math.max(0, paddedLength - failureMessage.length);
  if (failureMessage.length > MAX_U16 || padLength > MAX_U16) {
    throw new RangeError(`failureMessage: ${failureMessage.length} bytes, padded to ${paddedLength}, exceed a u16 length`);
  }
  const body = new Uint8Array(2 + failureMessage.length + 2 + padLength);
  const view = new DataView(body.buffer);
  view.setUint16(0, failureMessage.length);
  body.set(failureMessage, 2);
  view.setUint16(2 + failureMessage.length, padLength);
  const packet = new Uint8Array(HMAC_LENGTH + body.length);
  packet.set(hmacSha256(generateKey('um', sharedSecret), body), 0);
  packet.set(body, HMAC_LENGTH);
  return wrapFailurePacket(sharedSecret, packet);
}

/**
 * As a hop on the way back (or the erring node itself): XORs `packet` with the ChaCha20 stream of the
 * `ammag` key of `sharedSecret`. BOLT 4 "Returning Errors", "Intermediate nodes". Its own inverse.
 */
export function wrapFailurePacket(sharedSecret: Uint8Array, packet: Uint8Array): Uint8Array {
  return chacha20Xor(generateKey('ammag', sharedSecret), packet);
}

/**
 * As the origin: removes one `ammag` layer per hop, in route order, until the `um` HMAC of hop i
 * matches; returns i and the `failuremsg`. BOLT 4 "Returning Errors", "Origin node". Fails with
 * `unreadableFailure` when no hop's HMAC matches or the lengths inside do not add up to the packet.
 * Unlike the SHOULD of the specification, it stops at the erring hop rather than running 27 rounds
 * (the timing of a payer's decryption hides nothing here). Never throws.
 */
export function decryptFailurePacket(
  sharedSecrets: readonly Uint8Array[],
  packet: Uint8Array,
): Result<DecryptedFailure, FailureDecryptionError> {
  if (packet.length < HMAC_LENGTH + 4) return err({ kind: 'unreadableFailure' });
  let current = packet;
  for (let hopIndex = 0; hopIndex < sharedSecrets.length; hopIndex++) {
    const sharedSecret = sharedSecrets[hopIndex]!;
    current = wrapFailurePacket(sharedSecret, current);
    const body = current.subarray(HMAC_LENGTH);
    if (!equalBytes(hmacSha256(generateKey('um', sharedSecret), body), current.subarray(0, HMAC_LENGTH))) continue;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const failureLength = view.getUint16(0);
    if (2 + failureLength + 2 > body.length) return err({ kind: 'unreadableFailure' });
    const padLength = view.getUint16(2 + failureLength);
    if (2 + failureLength + 2 + padLength !== body.length) return err({ kind: 'unreadableFailure' });
    return ok({ hopIndex, failureMessage: body.slice(2, 2 + failureLength) });
  }
  return err({ kind: 'unreadableFailure' });
}
