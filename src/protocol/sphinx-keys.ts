/**
 * Key derivation and ephemeral key blinding of BOLT 4 ("Key Generation", "Blinding Ephemeral Onion
 * Keys"). Uses node:crypto's HMAC-SHA256 and SHA256: several times faster than a JS hash for these
 * short inputs, and the peel runs them on every HTLC.
 */
import { createHash, createHmac } from 'node:crypto';
import { pointMultiply } from 'tiny-secp256k1';

/**
 * The key types of BOLT 4 "Key Generation" (and "Returning Errors" for `ammag`): the ASCII name,
 * without a terminating zero byte, is the HMAC key.
 */
export type SphinxKeyType = 'rho' | 'mu' | 'um' | 'ammag' | 'pad';

const KEY_TYPES: Readonly<Record<SphinxKeyType, Buffer>> = {
  rho: Buffer.from('rho', 'ascii'),
  mu: Buffer.from('mu', 'ascii'),
  um: Buffer.from('um', 'ascii'),
  ammag: Buffer.from('ammag', 'ascii'),
  pad: Buffer.from('pad', 'ascii'),
};

/** Views a Buffer as a plain Uint8Array (a Buffer's `slice` is a view, a Uint8Array's a copy). */
export function plainBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * HMAC-SHA256(keyType, secret): the 32-byte key of type `keyType` derived from a 32-byte shared
 * secret (or, for `pad`, the session key). BOLT 4 "Key Generation".
 */
export function generateKey(keyType: SphinxKeyType, secret: Uint8Array): Uint8Array {
  return plainBytes(createHmac('sha256', KEY_TYPES[keyType]).update(secret).digest());
}

/** HMAC-SHA256(key, ...parts), 32 bytes: the packet MACs of BOLT 4. */
export function hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return plainBytes(mac.digest());
}

/**
 * The blinding factor SHA256(ephemeralPublicKey || sharedSecret), 32 bytes, big-endian scalar.
 * BOLT 4 "Blinding Ephemeral Onion Keys".
 */
export function blindingFactor(ephemeralPublicKey: Uint8Array, sharedSecret: Uint8Array): Uint8Array {
  return plainBytes(createHash('sha256').update(ephemeralPublicKey).update(sharedSecret).digest());
}

/**
 * The next hop's ephemeral public key: `ephemeralPublicKey` (33 bytes, compressed) multiplied by
 * `factor`, compressed. Returns undefined when the key is not a valid point or the factor is not a
 * valid scalar (probability about 2^-128 for a SHA256 output). Never throws.
 * BOLT 4 "Blinding Ephemeral Onion Keys".
 */
export function blindPublicKey(ephemeralPublicKey: Uint8Array, factor: Uint8Array): Uint8Array | undefined {
  try {
    return pointMultiply(ephemeralPublicKey, factor, true) ?? undefined;
  } catch {
    return undefined;
  }
}
