/**
 * The pseudo-random byte stream of BOLT 4 ("Pseudo Random Byte Stream"): ChaCha20 (RFC 8439) with a
 * 32-byte key, the all-zero 96-bit nonce and block counter 0. node:crypto's `chacha20` takes a 16-byte
 * IV, the 4-byte little-endian counter followed by the 12-byte nonce, so here all 16 bytes are zero.
 * It is about 3x faster than a JS ChaCha20 on the 2,600-byte stream a peel needs.
 */
import { createCipheriv } from 'node:crypto';
import { plainBytes } from './sphinx-keys.js';

const ZERO_IV = new Uint8Array(16);

/**
 * A ChaCha20 stream of `key` (32 bytes) consumed piece by piece: each call XORs `data` with the next
 * `data.length` bytes of the stream. Lets a final hop decrypt only the 1300 bytes it needs.
 */
export function chacha20Stepper(key: Uint8Array): (data: Uint8Array) => Uint8Array {
  const cipher = createCipheriv('chacha20', key, ZERO_IV);
  return (data) => plainBytes(cipher.update(data));
}

/** `data` XOR the ChaCha20 stream of `key` (32 bytes), as a new array of `data.length` bytes. */
export function chacha20Xor(key: Uint8Array, data: Uint8Array): Uint8Array {
  return plainBytes(createCipheriv('chacha20', key, ZERO_IV).update(data));
}

/** The first `length` bytes of the ChaCha20 stream of `key` (32 bytes). */
export function chacha20Stream(key: Uint8Array, length: number): Uint8Array {
  return chacha20Xor(key, new Uint8Array(length));
}
