/**
 * The id of an HTLC set: it names the set of HTLCs that a settle or cancel decision covers,
 *
 *   set_id = SHA256(k_1 || k_2 || ... || k_n)
 *   k_i    = node_pubkey (33 bytes, compressed) || chan_id (u64, big-endian) || htlc_id (u64, big-endian)
 *
 * with the 49-byte k_i sorted bytewise (lexicographically, ascending), so the id does not depend on the
 * order in which the HTLCs arrived. A set never holds the same HTLC twice, and is never empty.
 */
import { createHash } from 'node:crypto';
import { assertCircuitKey, encodeCircuitKey, encodedCircuitKeyString, type CircuitKey } from './circuit-key.js';

/** Length of a set_id: a SHA256 digest. */
export const SET_ID_LENGTH = 32;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The set_id of a set of HTLCs: SHA256 over their canonical circuit keys ({@link encodeCircuitKey}),
 * sorted bytewise. Independent of the order of `htlcs`. 32 bytes.
 *
 * @throws RangeError if `htlcs` is empty or names the same HTLC twice (same node, chan_id and
 *   htlc_id); TypeError / RangeError as {@link encodeCircuitKey} for a malformed key.
 */
export function setId(htlcs: readonly CircuitKey[]): Uint8Array {
  if (!Array.isArray(htlcs)) throw new TypeError('htlcs: expected an array of CircuitKey');
  if (htlcs.length === 0) throw new RangeError('htlcs: a set has at least one HTLC');
  const encoded = htlcs.map((key, i) => {
    assertCircuitKey(key, `htlcs[${i}]`);
    return encodeCircuitKey(key);
  });
  encoded.sort(compareBytes);
  const hash = createHash('sha256');
  for (let i = 0; i < encoded.length; i++) {
    const current = encoded[i] as Uint8Array;
    if (i > 0 && compareBytes(encoded[i - 1] as Uint8Array, current) === 0) {
      throw new RangeError(`htlcs: duplicate HTLC ${encodedCircuitKeyString(current)}`);
    }
    hash.update(current);
  }
  return new Uint8Array(hash.digest());
}

