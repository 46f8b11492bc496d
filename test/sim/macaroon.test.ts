/** Macaroons as LND mints and checks them (go-macaroon V2 binary format, bakery v3 ids). */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { authorizeCall, checkMacaroon, mintAdminMacaroon, mintMacaroon, newMacaroonKey, READONLY_PERMISSIONS } from '../../src/sim/macaroon.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('macaroons', () => {
  const key = newMacaroonKey();
  const macaroon = mintAdminMacaroon(key);

  it('mints a V2 macaroon located "lnd" whose identifier is a bakery v3 id with root key id "0"', () => {
    // version 2, field 1 (location) "lnd", field 2 (identifier) with a varint length.
    expect([...macaroon.subarray(0, 7)]).toEqual([2, 1, 3, 0x6c, 0x6e, 0x64, 2]);
    const lengthBytes = (macaroon[7]! & 0x80) === 0 ? 1 : 2;
    const id = macaroon.subarray(7 + lengthBytes);
    expect(id[0]).toBe(3);
    // protobuf field 2 (storage id) holds "0".
    expect(Buffer.from(id).includes(Buffer.from([0x12, 0x01, 0x30]))).toBe(true);
  });

  it('accepts its own macaroon, in lower or upper case hex', () => {
    expect(checkMacaroon(key, [hex(macaroon)])).toEqual({ ok: true, value: undefined });
    expect(checkMacaroon(key, [hex(macaroon).toUpperCase()])).toEqual({ ok: true, value: undefined });
  });

  it('grants the permissions its identifier lists: admin has offchain:write, readonly does not', () => {
    const admin = authorizeCall(key, [hex(macaroon)]);
    const readonly = authorizeCall(key, [hex(mintMacaroon(key, READONLY_PERMISSIONS))]);
    expect(admin.ok && [...admin.value].sort()).toContain('offchain:write');
    expect(admin.ok && admin.value.has('macaroon:generate')).toBe(true);
    expect(readonly.ok && [...readonly.value].sort()).toEqual(
      ['address', 'info', 'invoices', 'macaroon', 'message', 'offchain', 'onchain', 'peers', 'signer'].map((e) => `${e}:read`),
    );
  });

  it('refuses with the messages LND sends', () => {
    const cases: [string, (string | Buffer)[], string][] = [
      ['no macaroon', [], 'expected 1 macaroon, got 0'],
      ['two macaroons', [hex(macaroon), hex(macaroon)], 'expected 1 macaroon, got 2'],
      ['not hex', ['0g'], "encoding/hex: invalid byte: U+0067 'g'"],
      ['odd length', ['020'], 'encoding/hex: odd length hex string'],
      ['empty', [''], 'empty macaroon data'],
      ['unknown format', ['ff00'], 'cannot determine data format of binary-encoded macaroon'],
      ['truncated', [hex(macaroon.subarray(0, 20))], 'unmarshal v2: field data extends past end of buffer'],
      ['another root key', [hex(mintAdminMacaroon(newMacaroonKey()))], 'verification failed: signature mismatch after caveat verification'],
    ];
    for (const [name, values, message] of cases) expect({ name, result: checkMacaroon(key, values) }).toEqual({ name, result: { ok: false, error: message } });
  });

  it('refuses a macaroon whose signature was altered', () => {
    const altered = Uint8Array.from(macaroon);
    altered[altered.length - 1] = altered[altered.length - 1]! ^ 1;
    expect(checkMacaroon(key, [hex(altered)])).toEqual({ ok: false, error: 'verification failed: signature mismatch after caveat verification' });
  });

  it('accepts a first-party caveat added by the holder (signature chained) and refuses one added without re-signing', () => {
    // Rebuild: header, one caveat section, then the chained signature.
    const sigStart = macaroon.length - 32;
    const oldSig = macaroon.subarray(sigStart);
    const caveat = Buffer.from('time-before 2100-01-01T00:00:00Z');
    const withCaveat = (signature: Uint8Array): Uint8Array =>
      Buffer.concat([macaroon.subarray(0, sigStart - 3), Buffer.from([2, caveat.length]), caveat, Buffer.from([0, 0, 6, 32]), signature]);
    const chained = createHmac('sha256', oldSig).update(caveat).digest();
    expect(checkMacaroon(key, [hex(withCaveat(chained))]).ok).toBe(true);
    expect(checkMacaroon(key, [hex(withCaveat(oldSig))])).toEqual({ ok: false, error: 'verification failed: signature mismatch after caveat verification' });
  });

  it('never throws on arbitrary metadata', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array().map((b) => Buffer.from(b).toString('hex'))), (value) => {
        const result = checkMacaroon(key, [value]);
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });
});
