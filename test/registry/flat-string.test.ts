/**
 * The compact strings the registry keeps per held HTLC (src/registry/flat-string.ts): packed bytes come
 * back equal, equal bytes pack to equal keys, and any length packs (the application's set id is one).
 */
import { describe, expect, it } from 'vitest';
import { flatCopy, packBytes, unpackBytes } from '../../src/registry/flat-string.js';

describe('packBytes / unpackBytes', () => {
  it('round-trips every byte value, from a view into a larger buffer too, into a plain Uint8Array', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const packed = packBytes(all);
    expect(packed).toHaveLength(256);
    expect(unpackBytes(packed)).toEqual(all);
    const view = new Uint8Array(all.buffer, 100, 32);
    const back = unpackBytes(packBytes(view));
    expect(back).toEqual(Uint8Array.from(view));
    expect(back.byteOffset).toBe(0);
    expect(back.buffer.byteLength).toBe(32);
  });

  it('packs equal bytes to equal strings and different bytes to different ones', () => {
    expect(packBytes(new Uint8Array(32).fill(0x80))).toBe(packBytes(new Uint8Array(32).fill(0x80)));
    expect(packBytes(new Uint8Array(32).fill(0x80))).not.toBe(packBytes(new Uint8Array(32).fill(0x81)));
    expect(packBytes(new Uint8Array(31))).not.toBe(packBytes(new Uint8Array(32)));
  });

  it('packs any length (a spread into String.fromCharCode overflows the stack past ~125,000 bytes)', () => {
    const big = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 7) & 0xff);
    expect(unpackBytes(packBytes(big))).toEqual(big);
  });
});

describe('flatCopy', () => {
  it('gives an equal string', () => {
    let rope = '';
    for (let i = 0; i < 32; i++) rope += i.toString(16).padStart(2, '0');
    expect(flatCopy(rope)).toBe(rope);
  });
});
