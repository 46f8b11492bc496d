/**
 * Compact strings for what the registry keeps per held HTLC: flat copies of its map keys, and 32-byte
 * values (payment hash, preimage, shared secret) packed one byte per character.
 *
 * Why: a hex string made by appending two characters at a time (protocol's bytesToHex, and template
 * literals around it such as circuitKeyString) is, in V8, a rope: one node per append, about 900 bytes
 * of heap for a 64-character key instead of about 80. Kept as a map key for as long as its HTLC is held,
 * ropes were most of the registry's memory per held HTLC (docs/benchmarks.md, "How cost grows"). A
 * round trip through UTF-8 gives an equal string stored in one piece; the ropes it is made from are
 * garbage at once. Equality, and so every lookup, is unchanged.
 *
 * A 32-byte Uint8Array costs about 215 bytes of heap (the typed array, its ArrayBuffer and the backing
 * store's record); the same bytes as a string of 32 one-byte characters cost 48, and an equal string
 * means equal bytes (docs/benchmarks.md, "How cost grows").
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A string equal to `s`, stored contiguously: for strings kept long (map keys, per-set names). */
export function flatCopy(s: string): string {
  return decoder.decode(encoder.encode(s));
}

/**
 * Bytes as a string of one-byte characters, character i being byte i (code unit 0-255): equal strings
 * for equal bytes, so it serves as a map key too. Made by {@link packBytes}, read by {@link unpackBytes}.
 */
export type PackedBytes = string & { readonly __packedBytes: unique symbol };

/**
 * `bytes` packed one per character (Node's latin1 is the identity on 0-255); the result is stored flat,
 * one byte per character. Total, whatever the length (a spread into String.fromCharCode overflows the
 * stack past about 125,000 bytes).
 */
export function packBytes(bytes: Uint8Array): PackedBytes {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') as PackedBytes;
}

/** The bytes {@link packBytes} packed, in a new plain Uint8Array. Total. */
export function unpackBytes(packed: PackedBytes): Uint8Array {
  const bytes = new Uint8Array(packed.length);
  for (let i = 0; i < packed.length; i++) bytes[i] = packed.charCodeAt(i);
  return bytes;
}
