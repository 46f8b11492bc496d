import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { onionErrorVector, onionVector } from './bolt04-vectors.js';

const N = secp256k1.Point.Fn.ORDER;

describe('ecdhWithPrivateKey (BOLT 4 "Shared Secret")', () => {
  it("gives the spec's shared secret for hop 0, from either side", () => {
    const vector = onionVector();
    const expected = bytesToHex(onionErrorVector().hops[0]!.sharedSecret);
    const sessionPublicKey = secp256k1.getPublicKey(vector.sessionKey, true);
    expect(bytesToHex(ecdhWithPrivateKey(vector.sessionKey)(vector.hops[0]!.publicKey)!)).toBe(expected);
    expect(bytesToHex(ecdhWithPrivateKey(vector.privateKeys[0]!)(sessionPublicKey)!)).toBe(expected);
  });

  it('agrees with SHA256 of @noble/curves getSharedSecret for random keys', () => {
    const scalar = fc.bigInt({ min: 1n, max: N - 1n }).map((k) => secp256k1.Point.Fn.toBytes(k));
    fc.assert(
      fc.property(scalar, scalar, (a, b) => {
        const expected = sha256(secp256k1.getSharedSecret(a, secp256k1.getPublicKey(b, true), true));
        expect(bytesToHex(ecdhWithPrivateKey(a)(secp256k1.getPublicKey(b, true))!)).toBe(bytesToHex(expected));
      }),
      { numRuns: 20 },
    );
  });

  it('returns undefined for a key that is not a 33-byte compressed point', () => {
    const ecdh = ecdhWithPrivateKey(hexToBytes('41'.repeat(32)));
    const valid = secp256k1.getPublicKey(hexToBytes('42'.repeat(32)), true);
    const uncompressed = secp256k1.getPublicKey(hexToBytes('42'.repeat(32)), false);
    for (const key of [
      hexToBytes('02' + 'ff'.repeat(32)),
      hexToBytes('05' + bytesToHex(valid.subarray(1))),
      new Uint8Array(33),
      valid.subarray(1),
      valid.subarray(0, 32),
      uncompressed,
      new Uint8Array(0),
    ]) {
      expect(ecdh(key)).toBeUndefined();
    }
    expect(ecdh(valid)).toHaveLength(32);
  });

  it('throws RangeError for a private key outside [1, n) or not 32 bytes', () => {
    const n = secp256k1.Point.Fn.toBytes(N - 1n);
    for (const key of [new Uint8Array(32), hexToBytes('ff'.repeat(32)), new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)]) {
      expect(() => ecdhWithPrivateKey(key)).toThrow(RangeError);
    }
    expect(() => ecdhWithPrivateKey(n)).not.toThrow();
  });
});
