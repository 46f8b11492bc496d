import { describe, expect, it } from 'vitest';
import { hexToBytes } from '../../src/protocol/bytes.js';
import { formatShortChannelId, virtualChannelId } from '../../src/protocol/virtual-scid.js';

// Pubkeys from the seed project's README; expected values from test/vectors/lnmux/vectors.py
// (last 8 bytes of the key, big-endian, OR 2^63), checked by hand: 0x080a... gains the top bit -> 0x880a...
const VECTORS = [
  {
    pubkey: '03422175ba6fed348de4f273cf81627c26d5ab2a78bfdc1a39e6f9c06354dd9371',
    scid: 0xe6f9c06354dd9371n,
    bolt7: '15137216x6509789x37745',
  },
  {
    pubkey: '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8',
    scid: 0x880abef0d4770db8n,
    bolt7: '8915646x15783031x3512',
  },
  {
    pubkey: '026ff75cb2ff49b864833aa3c93970069070231a9ad64819252e190406dd0a6976',
    scid: 0xae190406dd0a6976n,
    bolt7: '11409668x449802x26998',
  },
] as const;

describe('virtualChannelId', () => {
  it.each(VECTORS)('maps $pubkey to its last 8 bytes with the top bit set', ({ pubkey, scid }) => {
    expect(virtualChannelId(hexToBytes(pubkey))).toBe(scid);
  });

  it('sets the top bit, so the id is at least 2^63 and above every real channel id', () => {
    for (const { pubkey } of VECTORS) {
      const id = virtualChannelId(hexToBytes(pubkey));
      expect(id >> 63n).toBe(1n);
      expect(id).toBeGreaterThanOrEqual(2n ** 63n);
      expect(id).toBeLessThan(2n ** 64n);
    }
  });

  it('gives two nodes different ids', () => {
    const ids = new Set(VECTORS.map(({ pubkey }) => virtualChannelId(hexToBytes(pubkey))));
    expect(ids.size).toBe(VECTORS.length);
  });

  it('is deterministic and leaves its input untouched', () => {
    const key = hexToBytes(VECTORS[1].pubkey);
    const copy = key.slice();
    expect(virtualChannelId(key)).toBe(virtualChannelId(copy));
    expect(key).toEqual(copy);
  });

  it('reads a key that is a view into a larger buffer', () => {
    const backing = new Uint8Array(40);
    backing.set(hexToBytes(VECTORS[0].pubkey), 5);
    expect(virtualChannelId(backing.subarray(5, 38))).toBe(VECTORS[0].scid);
  });

  it('rejects a value that is not a Uint8Array with a TypeError naming nodePubkey', () => {
    expect(() => virtualChannelId(VECTORS[0].pubkey as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => virtualChannelId(VECTORS[0].pubkey as unknown as Uint8Array)).toThrow(/nodePubkey/);
  });

  it('rejects a key that is not 33 bytes with a RangeError naming nodePubkey', () => {
    const key = hexToBytes(VECTORS[0].pubkey);
    expect(() => virtualChannelId(key.subarray(0, 32))).toThrow(RangeError);
    expect(() => virtualChannelId(new Uint8Array(34))).toThrow(/nodePubkey: expected 33 bytes/);
  });

  it('rejects an uncompressed or prefix-less key', () => {
    const key = hexToBytes(VECTORS[0].pubkey);
    key[0] = 0x04;
    expect(() => virtualChannelId(key)).toThrow(RangeError);
    key[0] = 0x00;
    expect(() => virtualChannelId(key)).toThrow(/nodePubkey: expected a compressed public key/);
  });

  it('rejects 33 bytes whose x is not on the curve', () => {
    // x = 0 has no y on secp256k1 (0^3 + 7 = 7 is not a square mod p).
    const key = new Uint8Array(33);
    key[0] = 0x02;
    expect(() => virtualChannelId(key)).toThrow(/nodePubkey: not a point on secp256k1/);
  });
});

describe('formatShortChannelId', () => {
  it.each(VECTORS)('formats $scid as BOLT 7 block x tx x output', ({ scid, bolt7 }) => {
    expect(formatShortChannelId(scid)).toBe(bolt7);
  });

  it('formats the ends of the u64 range', () => {
    expect(formatShortChannelId(0n)).toBe('0x0x0');
    expect(formatShortChannelId(2n ** 64n - 1n)).toBe('16777215x16777215x65535');
  });

  it('formats a real-looking channel: block 700000, tx 1234, output 1', () => {
    expect(formatShortChannelId((700000n << 40n) | (1234n << 16n) | 1n)).toBe('700000x1234x1');
  });

  it('rejects values outside u64 and non-bigints', () => {
    expect(() => formatShortChannelId(-1n)).toThrow(RangeError);
    expect(() => formatShortChannelId(2n ** 64n)).toThrow(RangeError);
    expect(() => formatShortChannelId(5 as unknown as bigint)).toThrow(TypeError);
  });
});
