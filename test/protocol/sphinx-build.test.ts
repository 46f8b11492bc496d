import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { multiplyScalars } from '../../src/protocol/sphinx-build.js';

// The builder blinds its ephemeral key with a BigInt product mod n instead of @noble/curves' field:
// the product must be the one noble computes (the BOLT 4 vectors in bolt04-onion.test.ts check whole
// onions; this checks the scalar arithmetic on keys they do not reach, edges included).
const Fn = secp256k1.Point.Fn;
const scalar = fc.bigInt({ min: 1n, max: Fn.ORDER - 1n });

describe('multiplyScalars (blinding the ephemeral key)', () => {
  it('is the product mod n that @noble/curves computes, as 32 big-endian bytes', () => {
    fc.assert(
      fc.property(scalar, scalar, (a, b) => {
        const product = multiplyScalars(Fn.toBytes(a), Fn.toBytes(b));
        expect(product).toHaveLength(32);
        expect(bytesToHex(product)).toBe(bytesToHex(Fn.toBytes(Fn.mul(a, b))));
      }),
    );
  });

  it('keeps leading zero bytes and reduces at the edges of the group order', () => {
    const one = Fn.toBytes(1n);
    const last = Fn.toBytes(Fn.ORDER - 1n);
    expect(bytesToHex(multiplyScalars(one, one))).toBe(`${'00'.repeat(31)}01`);
    // (n - 1)^2 = 1 mod n
    expect(bytesToHex(multiplyScalars(last, last))).toBe(`${'00'.repeat(31)}01`);
    expect(bytesToHex(multiplyScalars(last, one))).toBe(bytesToHex(last));
  });
});
