/**
 * Truncated unsigned integers (`tu16`, `tu32`, `tu64`) of BOLT 1 ("Fundamental Types"): the final
 * value of a TLV record may drop its leading zero bytes, and MUST drop all of them, so zero is the
 * empty string and every value has exactly one encoding.
 */
import { err, ok, type Result } from './result.js';

/** Why a truncated integer was refused: longer than its type allows, or a leading zero byte kept. */
export type TruncatedIntError = { readonly kind: 'tooLong' } | { readonly kind: 'notMinimal' };

/**
 * Reads `bytes` as a truncated unsigned integer of at most `maxLength` bytes (2 for tu16, 4 for
 * tu32, 8 for tu64), big-endian. Rejects a leading zero byte ("Leading zeros in truncated integers
 * MUST be omitted", BOLT 1 "Fundamental Types"). Never throws.
 */
export function decodeTruncatedUint(bytes: Uint8Array, maxLength: 2 | 4 | 8): Result<bigint, TruncatedIntError> {
  if (bytes.length > maxLength) return err({ kind: 'tooLong' });
  if (bytes[0] === 0) return err({ kind: 'notMinimal' });
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return ok(value);
}

/**
 * Encodes `value` as a truncated unsigned integer: its big-endian bytes without leading zeros
 * (zero is the empty string). Throws RangeError when `value` is negative or needs more than
 * `maxLength` bytes (8 for tu64, the default).
 */
export function encodeTruncatedUint(value: bigint, maxLength: 2 | 4 | 8 = 8): Uint8Array {
  if (value < 0n || value >= 1n << BigInt(8 * maxLength)) {
    throw new RangeError(`truncated integer out of range for ${maxLength} bytes: ${value}`);
  }
  let length = 0;
  for (let rest = value; rest > 0n; rest >>= 8n) length++;
  const out = new Uint8Array(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}
