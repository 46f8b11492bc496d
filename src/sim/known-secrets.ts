/**
 * Shared secrets that a payer already computed for the first hop of its onions, handed to that hop
 * (a simulated node) so that its peel skips the one scalar multiplication per HTLC. For benchmarks
 * whose payer builds its onions beforehand (bench/lib/prebuilt-payment.ts): the simulated nodes' own
 * ECDH is not what they measure, and it was most of a simulated node's work per HTLC. Nothing else
 * changes: the secret is the bytes the ECDH would give (BOLT 4 "Shared Secret"), and the peel still
 * checks the onion's HMAC with it, so a wrong secret makes the onion malformed, as a wrong key would.
 */
import { bytesToHex, type Ecdh } from '../protocol/index.js';

export class KnownSharedSecrets {
  /** By the onion's ephemeral public key (33 bytes, hex); taken (deleted) by the peel that uses it. */
  readonly #byEphemeralKey = new Map<string, Uint8Array>();

  /** Remembers `sharedSecret` (32 bytes) for the onion whose ephemeral key is `ephemeralKey` (33 bytes). */
  add(ephemeralKey: Uint8Array, sharedSecret: Uint8Array): void {
    if (ephemeralKey.length !== 33 || sharedSecret.length !== 32) throw new RangeError('expected a 33-byte ephemeral key and a 32-byte shared secret');
    this.#byEphemeralKey.set(bytesToHex(ephemeralKey), Uint8Array.from(sharedSecret));
  }

  /** Secrets remembered and not yet used. */
  get size(): number {
    return this.#byEphemeralKey.size;
  }

  /**
   * `ecdh`, answering from the remembered secrets first (each used once: a replayed onion, after a
   * restart, computes its secret again).
   */
  wrap(ecdh: Ecdh): Ecdh {
    return (publicKey) => {
      if (this.#byEphemeralKey.size === 0) return ecdh(publicKey);
      const key = bytesToHex(publicKey);
      const known = this.#byEphemeralKey.get(key);
      if (known === undefined) return ecdh(publicKey);
      this.#byEphemeralKey.delete(key);
      return known;
    };
  }
}
