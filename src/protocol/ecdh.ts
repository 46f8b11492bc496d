/**
 * ECDH as BOLT 4 defines it ("Shared Secret"): the compressed serialization of `k * P`, hashed with
 * SHA256. node:crypto's ECDH returns only the x coordinate, so it cannot serve; tiny-secp256k1
 * (libsecp256k1 compiled to WebAssembly) is about 13x faster than @noble/curves here, and one ECDH per
 * HTLC is the floor of the final-hop hot path.
 */
import { createHash } from 'node:crypto';
import { isPrivate, pointMultiply } from 'tiny-secp256k1';

/**
 * ECDH with a private key held elsewhere: SHA256(compressed(k * P)), 32 bytes, for a 33-byte
 * compressed public key P. Returns undefined when P is not a valid point (or k * P is infinity).
 * Never throws.
 */
export type Ecdh = (publicKey: Uint8Array) => Uint8Array | undefined;

/** Length of a compressed secp256k1 public key, bytes. */
export const PUBLIC_KEY_LENGTH = 33;

/**
 * An {@link Ecdh} bound to `privateKey` (32 bytes, 0 < k < n), computed with tiny-secp256k1.
 * BOLT 4 "Shared Secret". Throws RangeError when `privateKey` is not a valid secp256k1 scalar.
 */
export function ecdhWithPrivateKey(privateKey: Uint8Array): Ecdh {
  if (!(privateKey instanceof Uint8Array) || !isPrivate(privateKey)) {
    throw new RangeError('privateKey: expected a 32-byte secp256k1 scalar in [1, n)');
  }
  const key = Uint8Array.from(privateKey);
  return (publicKey) => {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return undefined;
    let point: Uint8Array | null;
    try {
      // tiny-secp256k1 throws "Expected Point" for bytes that are not on the curve.
      point = pointMultiply(publicKey, key, true);
    } catch {
      return undefined;
    }
    if (point === null) return undefined;
    return createHash('sha256').update(point).digest();
  };
}
