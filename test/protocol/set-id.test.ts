import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import {
  CIRCUIT_KEY_LENGTH,
  type CircuitKey,
  circuitKeyFromString,
  circuitKeyString,
  encodeCircuitKey,
  equalCircuitKeys,
} from '../../src/protocol/circuit-key.js';
import { setId } from '../../src/protocol/set-id.js';

// Pubkeys from the seed project's README; set ids from test/vectors/lnmux/vectors.py.
const NODE_A = hexToBytes('020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8');
const NODE_B = hexToBytes('026ff75cb2ff49b864833aa3c93970069070231a9ad64819252e190406dd0a6976');
const CHAN = 1161084279062528n;

const A7: CircuitKey = { nodePubkey: NODE_A, chanId: CHAN, htlcId: 7n };
const B7: CircuitKey = { nodePubkey: NODE_B, chanId: CHAN, htlcId: 7n };
const A3: CircuitKey = { nodePubkey: NODE_A, chanId: CHAN, htlcId: 3n };

describe('setId', () => {
  it('matches the reference vector for three HTLCs on two nodes sharing a channel id', () => {
    expect(bytesToHex(setId([A7, B7, A3]))).toBe('5e3ea80dd4711280b64b0f193b0c5cad519e3eb9c5dab1327f7af60e8b9fc775');
  });

  it('matches the reference vector for a single HTLC: SHA256 of its 49-byte key', () => {
    expect(bytesToHex(setId([A7]))).toBe('9e6590b552220794a8f59ec9300b88d23e619714c72aa3d5ef1d4e7a5365726c');
  });

  it('is independent of the order of the HTLCs', () => {
    const expected = bytesToHex(setId([A7, B7, A3]));
    for (const order of [[A3, A7, B7], [B7, A3, A7], [B7, A7, A3], [A7, A3, B7], [A3, B7, A7]]) {
      expect(bytesToHex(setId(order))).toBe(expected);
    }
  });

  it('does not reorder the caller array', () => {
    const htlcs = [B7, A3, A7];
    setId(htlcs);
    expect(htlcs).toEqual([B7, A3, A7]);
  });

  it('tells apart the same channel and htlc id on two different nodes', () => {
    expect(bytesToHex(setId([A7]))).not.toBe(bytesToHex(setId([B7])));
  });

  it('gives different ids to a set and its subset', () => {
    expect(bytesToHex(setId([A7, A3]))).not.toBe(bytesToHex(setId([A7])));
    expect(bytesToHex(setId([A7, A3]))).not.toBe(bytesToHex(setId([A7, A3, B7])));
  });

  it('rejects an HTLC named twice, even as a distinct but equal object', () => {
    const again: CircuitKey = { nodePubkey: NODE_A.slice(), chanId: CHAN, htlcId: 7n };
    expect(() => setId([A7, B7, again])).toThrow(RangeError);
    expect(() => setId([A7, A7])).toThrow(/duplicate HTLC 1161084279062528:7@020723c6f220/);
  });

  it('rejects an empty set', () => {
    expect(() => setId([])).toThrow(RangeError);
  });

  it('rejects malformed keys naming the offending entry', () => {
    expect(() => setId([A7, { ...A3, chanId: -1n }])).toThrow(/htlcs\[1\]\.chanId/);
    expect(() => setId([A7, { ...A3, htlcId: 2n ** 64n }])).toThrow(/htlcs\[1\]\.htlcId/);
    expect(() => setId([{ ...A7, nodePubkey: NODE_A.subarray(1) }])).toThrow(/htlcs\[0\]\.nodePubkey/);
    expect(() => setId([{ ...A7, htlcId: 7 as unknown as bigint }])).toThrow(TypeError);
  });

  it('accepts the ends of the u64 range', () => {
    expect(setId([{ nodePubkey: NODE_A, chanId: 0n, htlcId: 2n ** 64n - 1n }])).toHaveLength(32);
  });

  it('property: any permutation of distinct keys gives the same id; a different set a different id', () => {
    const key = fc.record({
      nodePubkey: fc.constantFrom(NODE_A, NODE_B),
      chanId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      htlcId: fc.bigInt({ min: 0n, max: 20n }),
    });
    const distinct = fc.uniqueArray(key, {
      minLength: 1,
      maxLength: 8,
      selector: (k) => bytesToHex(encodeCircuitKey(k)),
    });
    const withPermutation = distinct.chain((keys) =>
      fc.tuple(fc.constant(keys), fc.shuffledSubarray(keys, { minLength: keys.length, maxLength: keys.length })),
    );
    fc.assert(
      fc.property(withPermutation, ([keys, permuted]) => {
        expect(bytesToHex(setId(permuted))).toBe(bytesToHex(setId(keys)));
        if (keys.length > 1) expect(bytesToHex(setId(keys.slice(1)))).not.toBe(bytesToHex(setId(keys)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('encodeCircuitKey', () => {
  it('is node pubkey || chan_id (u64 BE) || htlc_id (u64 BE)', () => {
    const encoded = encodeCircuitKey({ nodePubkey: NODE_A, chanId: 0x0102030405060708n, htlcId: 9n });
    expect(encoded).toHaveLength(CIRCUIT_KEY_LENGTH);
    expect(bytesToHex(encoded)).toBe(`${bytesToHex(NODE_A)}0102030405060708` + '0000000000000009');
  });
});

describe('circuitKeyString', () => {
  it('prints chanId:htlcId@node_pubkey, ids in decimal as LND logs circuit keys, the whole pubkey in hex', () => {
    expect(circuitKeyString(A7)).toBe(`1161084279062528:7@${bytesToHex(NODE_A)}`);
    expect(circuitKeyString(B7)).toBe(`1161084279062528:7@${bytesToHex(NODE_B)}`);
  });

  it('tells apart keys that differ only in the node, and is the form a duplicate in setId names', () => {
    expect(circuitKeyString(A7)).not.toBe(circuitKeyString(B7));
    expect(() => setId([A7, A3, { ...A7, nodePubkey: NODE_A.slice() }])).toThrow(`duplicate HTLC ${circuitKeyString(A7)}`);
  });

  it('prints u64 values above 2^53 exactly', () => {
    expect(circuitKeyString({ nodePubkey: NODE_A, chanId: 2n ** 64n - 1n, htlcId: 2n ** 53n + 1n })).toBe(
      `18446744073709551615:9007199254740993@${bytesToHex(NODE_A)}`,
    );
  });
});

describe('circuitKeyFromString', () => {
  it('gives back the key circuitKeyString printed, u64 extremes included', () => {
    for (const key of [A7, B7, { nodePubkey: NODE_A, chanId: 0n, htlcId: 0n }, { nodePubkey: NODE_B, chanId: 2n ** 64n - 1n, htlcId: 2n ** 53n + 1n }]) {
      const parsed = circuitKeyFromString(circuitKeyString(key));
      expect(parsed).toEqual({ nodePubkey: new Uint8Array(key.nodePubkey), chanId: key.chanId, htlcId: key.htlcId });
      expect(equalCircuitKeys(parsed, key)).toBe(true);
    }
  });

  it('is the inverse of circuitKeyString on any key (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.bigInt(), fc.bigInt(), (nodePubkey, chanId, htlcId) => {
        const key = { nodePubkey, chanId, htlcId };
        const parsed = circuitKeyFromString(circuitKeyString(key));
        expect(equalCircuitKeys(parsed, key)).toBe(true);
        expect(circuitKeyString(parsed)).toBe(circuitKeyString(key));
      }),
    );
  });

  it('refuses strings circuitKeyString does not print', () => {
    const hex = bytesToHex(NODE_A);
    for (const bad of ['', `7@${hex}`, `1:2${hex}`, `01:2@${hex}`, `1:-0@${hex}`, `1:2@${hex.toUpperCase()}`, `1:2@${hex}0`, `1:2@${hex} `, `1.5:2@${hex}`]) {
      expect(() => circuitKeyFromString(bad), bad).toThrow(RangeError);
    }
  });
});

describe('equalCircuitKeys', () => {
  it('is true for equal fields in distinct objects and arrays', () => {
    expect(equalCircuitKeys(A7, { nodePubkey: NODE_A.slice(), chanId: CHAN, htlcId: 7n })).toBe(true);
  });

  it('is false when any one field differs', () => {
    expect(equalCircuitKeys(A7, B7)).toBe(false);
    expect(equalCircuitKeys(A7, A3)).toBe(false);
    expect(equalCircuitKeys(A7, { ...A7, chanId: CHAN + 1n })).toBe(false);
    expect(equalCircuitKeys(A7, { ...A7, nodePubkey: NODE_A.subarray(0, 32) })).toBe(false);
  });
});
