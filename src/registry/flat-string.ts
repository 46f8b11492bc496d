/**
 * Flat copies of the strings the registry keeps per held HTLC.
 *
 * Why: a hex string made by appending two characters at a time (protocol's bytesToHex, and template
 * literals around it such as circuitKeyString) is, in V8, a rope: one node per append, about 900 bytes
 * of heap for a 64-character key instead of about 80. Kept as a map key for as long as its HTLC is held,
 * ropes were most of the registry's memory per held HTLC (docs/benchmarks.md, "How cost grows"). A
 * round trip through UTF-8 gives an equal string stored in one piece; the ropes it is made from are
 * garbage at once. Equality, and so every lookup, is unchanged.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A string equal to `s`, stored contiguously: for strings kept long (map keys, per-set names). */
export function flatCopy(s: string): string {
  return decoder.decode(encoder.encode(s));
}
