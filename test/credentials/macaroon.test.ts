/** LND-convention macaroons over the `macaroon` package: bakery v3 identifiers, permissions, caveats. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addFirstPartyCaveat,
  allows,
  checkTimeBefore,
  decodeBakeryId,
  encodeBakeryId,
  mintMacaroon,
  verifyMacaroon,
} from '../../src/credentials/index.js';

const rootKey = Buffer.alloc(32, 7);
const ops = [
  { entity: 'info', actions: ['read'] },
  { entity: 'invoices', actions: ['read', 'write'] },
];

describe('LND-convention macaroons', () => {
  it('verifies its own macaroon and reads the permissions from the signed identifier', () => {
    const mac = mintMacaroon(rootKey, { location: 'lnmux', ops });
    const verified = verifyMacaroon(rootKey, mac);
    expect(verified.ok).toBe(true);
    if (!verified.ok) return;
    expect(verified.value.location).toBe('lnmux');
    expect(verified.value.id.rootKeyId).toBe('0');
    expect(verified.value.id.ops).toEqual(ops);
    expect(allows(verified.value.id.ops, 'invoices', 'write')).toBe(true);
    expect(allows(verified.value.id.ops, 'info', 'write')).toBe(false);
  });

  it('encodes the bakery v3 identifier LND writes and decodes it back', () => {
    const id = { nonce: Buffer.alloc(24, 1), rootKeyId: '0', ops };
    const bytes = encodeBakeryId(id);
    expect(bytes[0]).toBe(3);
    // nonce (field 1, 24 bytes), then storage id (field 2) "0".
    expect([...bytes.subarray(1, 3)]).toEqual([0x0a, 24]);
    expect([...bytes.subarray(27, 30)]).toEqual([0x12, 0x01, 0x30]);
    expect(decodeBakeryId(bytes)).toEqual({ ok: true, value: { nonce: Buffer.alloc(24, 1), rootKeyId: '0', ops } });
  });

  it('refuses another root key, an altered identifier, another root key id and a non-bakery identifier', () => {
    const mac = mintMacaroon(rootKey, { location: 'lnmux', ops });
    expect(verifyMacaroon(Buffer.alloc(32, 8), mac)).toMatchObject({ ok: false, error: { kind: 'signatureMismatch' } });
    // Widen the permissions: "read" -> "reae" inside the signed identifier.
    const altered = Buffer.from(mac);
    altered[altered.indexOf(Buffer.from('read'))! + 3] = 0x65;
    expect(verifyMacaroon(rootKey, altered)).toMatchObject({ ok: false, error: { kind: 'signatureMismatch' } });
    const otherKeyId = mintMacaroon(rootKey, { location: 'lnmux', ops, rootKeyId: '1' });
    expect(verifyMacaroon(rootKey, otherKeyId)).toEqual({ ok: false, error: { kind: 'unknownRootKey', rootKeyId: '1' } });
    expect(verifyMacaroon(rootKey, Buffer.from([2, 2, 1, 0x41, 0, 0, 6, 32, ...Buffer.alloc(32)]))).toMatchObject({ ok: false, error: { kind: 'invalidId' } });
    expect(verifyMacaroon(rootKey, Buffer.from([]))).toMatchObject({ ok: false, error: { kind: 'malformed' } });
  });

  it('chains a first-party caveat and hands it to the checker only after the signature is good', () => {
    const mac = addFirstPartyCaveat(mintMacaroon(rootKey, { location: 'lnmux', ops }), 'time-before 2030-01-01T00:00:00Z');
    const seen: string[] = [];
    const verified = verifyMacaroon(rootKey, mac, { checkCaveat: (c) => (seen.push(c), undefined) });
    expect(verified).toMatchObject({ ok: true, value: { caveats: ['time-before 2030-01-01T00:00:00Z'] } });
    expect(seen).toEqual(['time-before 2030-01-01T00:00:00Z']);
    expect(verifyMacaroon(rootKey, mac, { checkCaveat: () => 'no' })).toMatchObject({ ok: false, error: { kind: 'caveatRefused' } });
    seen.length = 0;
    expect(verifyMacaroon(Buffer.alloc(32, 8), mac, { checkCaveat: (c) => (seen.push(c), undefined) }).ok).toBe(false);
    expect(seen).toEqual([]);
  });

  it('judges time-before as LND does', () => {
    const now = new Date('2029-06-01T00:00:00Z');
    expect(checkTimeBefore('time-before 2030-01-01T00:00:00Z', now)).toEqual({ ok: true, value: undefined });
    expect(checkTimeBefore('time-before 2020-01-01T00:00:00Z', now)).toEqual({ ok: false, error: 'macaroon has expired' });
    expect(checkTimeBefore('time-before soon', now)).toMatchObject({ ok: false });
    expect(checkTimeBefore('ipaddr 127.0.0.1', now)).toBeUndefined();
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(typeof verifyMacaroon(rootKey, bytes).ok).toBe('boolean');
        expect(typeof verifyMacaroon(rootKey, Uint8Array.from([2, ...bytes])).ok).toBe('boolean');
      }),
    );
  });
});
