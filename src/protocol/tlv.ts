/**
 * TLV streams, BOLT 1 "Type-Length-Value Format": a series of records, each a BigSize `type`, a
 * BigSize `length` and `length` bytes of `value`, in strictly increasing `type` order.
 *
 * This codec checks the structure only (minimal BigSizes, order, lengths). What the types mean, and
 * so which unknown even types must be refused, belongs to each namespace (see hop-payload.ts).
 */
import { decodeBigSize, encodeBigSize } from './bigsize.js';
import { concatBytes } from './bytes.js';
import { err, ok, type Result } from './result.js';

/** One TLV record: its type (a BigSize, up to 2^64 - 1) and its raw value bytes. */
export interface TlvRecord {
  readonly type: bigint;
  readonly value: Uint8Array;
}

/** A decoded record and the byte offset in the stream where it starts (the first byte of its type). */
export interface TlvRecordAt extends TlvRecord {
  readonly offset: number;
}

/**
 * Why a TLV stream was refused (BOLT 1 "Type-Length-Value Format", receiving node requirements).
 * `offset` is always the start of the record at fault (the first byte of its type), so that it can
 * go into BOLT 4's `invalid_onion_payload`. `type` is absent only when the type itself is unreadable.
 * - `truncated`: the stream ends inside a type or a length;
 * - `notCanonical`: a type or length is not minimally encoded;
 * - `lengthPastEnd`: `length` exceeds the bytes remaining;
 * - `notIncreasing`: a type lower than the one before it;
 * - `duplicate`: a type equal to the one before it.
 */
export type TlvError =
  | { readonly kind: 'truncated'; readonly type?: bigint; readonly offset: number }
  | { readonly kind: 'notCanonical'; readonly type?: bigint; readonly offset: number }
  | { readonly kind: 'lengthPastEnd'; readonly type: bigint; readonly offset: number; readonly length: bigint }
  | { readonly kind: 'notIncreasing'; readonly type: bigint; readonly offset: number; readonly previous: bigint }
  | { readonly kind: 'duplicate'; readonly type: bigint; readonly offset: number };

/**
 * Decodes a whole TLV stream into its records with their offsets (values are copies). Rejects
 * everything BOLT 1 tells a receiving node to reject on structure: truncation, non-minimal type or
 * length, a length past the end, and types that are not strictly increasing. Never throws.
 */
export function scanTlvStream(bytes: Uint8Array): Result<TlvRecordAt[], TlvError> {
  const records: TlvRecordAt[] = [];
  let offset = 0;
  let previous: bigint | undefined;
  while (offset < bytes.length) {
    const start = offset;
    const typeRead = decodeBigSize(bytes, offset);
    if (!typeRead.ok) return err({ kind: typeRead.error.kind, offset: start });
    const type = typeRead.value.value;
    offset += typeRead.value.length;
    if (previous !== undefined && type <= previous) {
      return err(type === previous ? { kind: 'duplicate', type, offset: start } : { kind: 'notIncreasing', type, offset: start, previous });
    }
    const lengthRead = decodeBigSize(bytes, offset);
    if (!lengthRead.ok) return err({ kind: lengthRead.error.kind, type, offset: start });
    offset += lengthRead.value.length;
    const length = lengthRead.value.value;
    if (length > BigInt(bytes.length - offset)) return err({ kind: 'lengthPastEnd', type, offset: start, length });
    const end = offset + Number(length);
    records.push({ type, value: bytes.slice(offset, end), offset: start });
    offset = end;
    previous = type;
  }
  return ok(records);
}

/** As {@link scanTlvStream}, without the offsets. Never throws. */
export function decodeTlvStream(bytes: Uint8Array): Result<TlvRecord[], TlvError> {
  const scanned = scanTlvStream(bytes);
  if (!scanned.ok) return scanned;
  return ok(scanned.value.map(({ type, value }) => ({ type, value })));
}

/**
 * Encodes records as a canonical TLV stream (BOLT 1 sending node requirements): sorted by type,
 * type and length minimally encoded. Throws RangeError on two records of the same type or a type
 * outside 0..2^64 - 1.
 */
export function encodeTlvStream(records: readonly TlvRecord[]): Uint8Array {
  const sorted = [...records].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const parts: Uint8Array[] = [];
  let previous: bigint | undefined;
  for (const { type, value } of sorted) {
    if (type === previous) throw new RangeError(`duplicate TLV type ${type}`);
    parts.push(encodeBigSize(type), encodeBigSize(BigInt(value.length)), value);
    previous = type;
  }
  return concatBytes(...parts);
}
