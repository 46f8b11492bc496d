/**
 * BigSize, the variable-length unsigned integer of BOLT 1 ("Appendix A: BigSize Test Vectors"):
 * big-endian, 1, 3, 5 or 9 bytes, and only the shortest form is valid.
 */
import { err, ok, type Result } from './result.js';

export type BigSizeError =
  | { readonly kind: 'truncated' }
  | { readonly kind: 'notCanonical' };

/** A decoded BigSize and the number of bytes it took. */
export interface BigSizeRead {
  readonly value: bigint;
  readonly length: number;
}

/** Decodes the BigSize at `offset` of `bytes`; rejects truncated and non-minimal encodings. */
export function decodeBigSize(bytes: Uint8Array, offset = 0): Result<BigSizeRead, BigSizeError> {
  const first = bytes[offset];
  if (first === undefined) return err({ kind: 'truncated' });
  if (first < 0xfd) return ok({ value: BigInt(first), length: 1 });
  const width = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
  if (offset + 1 + width > bytes.length) return err({ kind: 'truncated' });
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, width);
  const value =
    width === 2 ? BigInt(view.getUint16(0)) : width === 4 ? BigInt(view.getUint32(0)) : view.getBigUint64(0);
  const minimum = width === 2 ? 0xfdn : width === 4 ? 0x1_0000n : 0x1_0000_0000n;
  if (value < minimum) return err({ kind: 'notCanonical' });
  return ok({ value, length: 1 + width });
}

/** Encodes `value` (0 <= value < 2^64) in its shortest BigSize form. Throws RangeError outside that range. */
export function encodeBigSize(value: bigint): Uint8Array {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`BigSize out of range: ${value}`);
  if (value < 0xfdn) return Uint8Array.of(Number(value));
  const width = value <= 0xffffn ? 2 : value <= 0xffff_ffffn ? 4 : 8;
  const out = new Uint8Array(1 + width);
  const view = new DataView(out.buffer);
  out[0] = width === 2 ? 0xfd : width === 4 ? 0xfe : 0xff;
  if (width === 2) view.setUint16(1, Number(value));
  else if (width === 4) view.setUint32(1, Number(value));
  else view.setBigUint64(1, value);
  return out;
}
