/**
 * Byte helpers shared by the protocol codecs. Big-endian throughout, as every BOLT encodes integers.
 * Every u64 (msat, scid, htlc_id) is a `bigint`: a JS number is exact only to 2^53.
 */
import { timingSafeEqual } from 'node:crypto';

export { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';

/** Equality of two byte strings in time independent of their contents (for MACs and secrets). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Encodes `value` (0 <= value < 2^64) as 8 bytes, big-endian. Throws RangeError outside that range. */
export function u64ToBytes(value: bigint): Uint8Array {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`u64 out of range: ${value}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

/** Reads 8 bytes at `offset` as a big-endian u64. The caller checks the length. */
export function readU64(bytes: Uint8Array, offset = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset);
}
