/**
 * Values between TypeScript and SQL. u64 ids that may set the top bit (chan_id: virtual scids do;
 * htlc_id) travel as the same 64 bits read as a signed bigint, `BigInt.asIntN(64, x)`, and come back with
 * `BigInt.asUintN(64, x)`: exact, 8 bytes, a plain btree key. numeric(20,0) would read better in psql but
 * is variable-length and slower to compare. Amounts (msat) are bigint >= 1 and never wrap: every bitcoin
 * there will ever be is 2.1e18 msat, below 2^63 - 1. pg returns bigint as a decimal string and bytea as a
 * Buffer; both are converted here so the rest of the store sees bigint and plain Uint8Array.
 */
import type { CircuitKey } from '../protocol/index.js';
import type { SetHtlc } from './types.js';

const I64_MAX = (1n << 63n) - 1n;

/** A u64 as the signed 64-bit value PostgreSQL's bigint holds (same bits). */
export function u64ToSql(value: bigint): string {
  return BigInt.asIntN(64, value).toString();
}

/** A bigint column (decimal string) back to the u64 it stores. */
export function u64FromSql(value: string): bigint {
  return BigInt.asUintN(64, BigInt(value));
}

/** A bigint column holding a non-negative amount (msat, sequence, epoch). */
export function bigintFromSql(value: string): bigint {
  return BigInt(value);
}

/** A bytea column as a plain Uint8Array (not a Buffer: equality and structuredClone behave). */
export function bytesFromSql(value: Buffer): Uint8Array {
  return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

/** Bytes as a parameter: pg sends a Uint8Array as bytea. */
export function bytesToSql(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Throws TypeError/RangeError unless `value` is a Uint8Array of `length` bytes. */
export function checkBytes(value: unknown, length: number, field: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${field} must be a Uint8Array, got ${typeof value}`);
  if (value.length !== length) throw new RangeError(`${field} must be ${length} bytes, got ${value.length}`);
}

/** Throws unless `value` is an amount in msat the store can hold: 1 .. 2^63-1. */
export function checkMsat(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== 'bigint') throw new TypeError(`${field} must be a bigint (msat), got ${typeof value}`);
  if (value < 1n || value > I64_MAX) throw new RangeError(`${field} must be 1 .. 2^63-1 msat, got ${value}`);
}


/** Hex of some bytes (map keys, messages). */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Byte equality (set ids and hashes are public values: no need for constant time). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(bytesToSql(a), bytesToSql(b)) === 0;
}

/** Columns of a list of circuit keys, as the unnest() parameters of a query. */
export function keyColumns(keys: readonly CircuitKey[]): [Buffer[], string[], string[]] {
  return [keys.map((k) => bytesToSql(k.nodePubkey)), keys.map((k) => u64ToSql(k.chanId)), keys.map((k) => u64ToSql(k.htlcId))];
}

/** The circuit key of a row with node_pubkey, chan_id, htlc_id columns. */
export function keyFromRow(row: { node_pubkey: Buffer; chan_id: string; htlc_id: string }): CircuitKey {
  return { nodePubkey: bytesFromSql(row.node_pubkey), chanId: u64FromSql(row.chan_id), htlcId: u64FromSql(row.htlc_id) };
}

/** An HTLC row (key columns plus amount_msat) as a SetHtlc. */
export function setHtlcFromRow(row: { node_pubkey: Buffer; chan_id: string; htlc_id: string; amount_msat: string }): SetHtlc {
  return { ...keyFromRow(row), amountMsat: bigintFromSql(row.amount_msat) };
}
