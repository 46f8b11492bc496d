/**
 * The `filler` of BOLT 4 ("Filler Generation"): the tail that every forwarding hop appends to
 * `hop_payloads` (1300 zero bytes, XORed with its rho stream, shifted in) as seen by the last hop. The
 * origin must know it to compute the last hop's HMAC.
 */
import { HOP_PAYLOADS_LENGTH } from './sphinx-packet.js';
import { generateKey } from './sphinx-keys.js';
import { chacha20Stream } from './sphinx-stream.js';

/**
 * The filler for a route: `sharedSecrets[i]` and `shiftSizes[i]` (bytes taken by hop i's length
 * prefix, payload and HMAC) for every hop; the last hop does not forward, so it adds nothing. Returns
 * `sum(shiftSizes) - shiftSizes[last]` bytes. The caller checks that the shifts fit in 1300 bytes.
 *
 * Why it works: hop i XORs `hop_payloads || 0^1300` with its 2600-byte stream and keeps bytes
 * `[shift_i, shift_i + 1300)`. The tail filled so far (length L, at the end of its input) thus moves to
 * `[1300 - L - shift_i, 1300 - shift_i)` of its output, followed by `shift_i` fresh bytes; all are
 * XORed with the stream bytes `[1300 - L, 1300 + shift_i)`.
 */
export function generateFiller(sharedSecrets: readonly Uint8Array[], shiftSizes: readonly number[]): Uint8Array {
  let filler = new Uint8Array(0);
  for (let i = 0; i < sharedSecrets.length - 1; i++) {
    const shift = shiftSizes[i]!;
    const stream = chacha20Stream(generateKey('rho', sharedSecrets[i]!), 2 * HOP_PAYLOADS_LENGTH);
    const next = new Uint8Array(filler.length + shift);
    next.set(filler);
    const offset = HOP_PAYLOADS_LENGTH - filler.length;
    for (let j = 0; j < next.length; j++) next[j]! ^= stream[offset + j]!;
    filler = next;
  }
  return filler;
}
