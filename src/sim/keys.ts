/** Identity keys of simulated nodes: random, or derived from a seed so a cluster keeps its pubkeys across runs. */
import { createHash, randomBytes } from 'node:crypto';
import { isPrivate, pointFromScalar } from 'tiny-secp256k1';

/** A secp256k1 key pair: 32-byte private key, 33-byte compressed public key. */
export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The key pair of `privateKey`. Throws RangeError for an invalid scalar. */
export function keyPairOf(privateKey: Uint8Array): KeyPair {
  if (!isPrivate(privateKey)) throw new RangeError('privateKey: expected a 32-byte secp256k1 scalar in [1, n)');
  const publicKey = pointFromScalar(privateKey, true);
  if (publicKey === null) throw new RangeError('privateKey: not a valid scalar');
  return { privateKey: Uint8Array.from(privateKey), publicKey: Uint8Array.from(publicKey) };
}

/**
 * A key pair: SHA256(seed, label, counter) for the first counter giving a valid scalar when `seed`
 * is given (deterministic), random otherwise.
 */
export function nodeKeyPair(label: string, seed?: string): KeyPair {
  if (seed === undefined) {
    for (;;) {
      const candidate = randomBytes(32);
      if (isPrivate(candidate)) return keyPairOf(candidate);
    }
  }
  for (let counter = 0; ; counter++) {
    const candidate = createHash('sha256').update(`${seed}\u0000${label}\u0000${counter}`).digest();
    if (isPrivate(candidate)) return keyPairOf(candidate);
  }
}
