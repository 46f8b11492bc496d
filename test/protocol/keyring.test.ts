import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { deriveKeyring, keyLabel } from '../../src/protocol/keyring.js';

// Derived keys from test/vectors/lnmux/vectors.py (Python cryptography's HKDF-SHA256, empty salt).
const IDENTITY = new Uint8Array(32).fill(0x11);
const PREIMAGE_V0 = 'e8314b6091b587745ef5ff4e719fc1a1cd2dcefd89a135dc79776f11f13aeacb';
const PAYMENT_ADDR_V0 = '4ed851c056924d37e8f6ecd1fcf436532b7c44423fd9cc6a2214a929494e2fcb';
const PREIMAGE_V1 = 'f6855595c311a909296b6aa827bf64e8b223552a1ede630bffe69fc5d311210f';

/** The secp256k1 group order n. */
const N = hexToBytes('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');

function hex(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) throw new Error('expected a key');
  return bytesToHex(bytes);
}

describe('deriveKeyring', () => {
  it('derives the reference keys with HKDF-SHA256 under "lnmux/<purpose>/v<keyId>"', () => {
    const keyring = deriveKeyring(IDENTITY, { keyIds: [0, 1] });
    expect(keyLabel('preimage', 0)).toBe('lnmux/preimage/v0');
    expect(keyLabel('paymentAddr', 0)).toBe('lnmux/payment-addr/v0');
    expect(hex(keyring.derivedKey('preimage', 0))).toBe(PREIMAGE_V0);
    expect(hex(keyring.derivedKey('paymentAddr', 0))).toBe(PAYMENT_ADDR_V0);
    expect(hex(keyring.derivedKey('preimage', 1))).toBe(PREIMAGE_V1);
  });

  it('gives each purpose and each key id its own key, none equal to the identity key', () => {
    const keyring = deriveKeyring(IDENTITY, { keyIds: [0, 1] });
    const keys = [
      hex(keyring.derivedKey('preimage', 0)),
      hex(keyring.derivedKey('paymentAddr', 0)),
      hex(keyring.derivedKey('preimage', 1)),
      hex(keyring.derivedKey('paymentAddr', 1)),
      bytesToHex(IDENTITY),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is deterministic: the same identity key gives the same keys', () => {
    const a = deriveKeyring(IDENTITY);
    const b = deriveKeyring(IDENTITY.slice());
    expect(hex(a.derivedKey('preimage', 0))).toBe(hex(b.derivedKey('preimage', 0)));
    expect(hex(a.derivedKey('paymentAddr', 0))).toBe(hex(b.derivedKey('paymentAddr', 0)));
  });

  it('gives another identity key other derived keys', () => {
    const other = deriveKeyring(new Uint8Array(32).fill(0x12));
    expect(hex(other.derivedKey('preimage', 0))).not.toBe(PREIMAGE_V0);
    expect(hex(other.derivedKey('paymentAddr', 0))).not.toBe(PAYMENT_ADDR_V0);
  });

  it('exposes the identity public key: private key 1 gives the generator G', () => {
    const one = new Uint8Array(32);
    one[31] = 1;
    expect(bytesToHex(deriveKeyring(one).nodePubkey)).toBe(
      '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
    );
  });

  it('hands out the identity key itself (for signing and ECDH), as copies', () => {
    const keyring = deriveKeyring(IDENTITY);
    const key = keyring.identityPrivateKey();
    expect(key).toEqual(IDENTITY);
    key.fill(0);
    expect(keyring.identityPrivateKey()).toEqual(IDENTITY);
    const derived = keyring.derivedKey('preimage', 0);
    derived?.fill(0);
    expect(hex(keyring.derivedKey('preimage', 0))).toBe(PREIMAGE_V0);
    keyring.nodePubkey.fill(0);
    expect(keyring.nodePubkey[0]).not.toBe(0);
  });

  it('keeps its own copy of the identity key: wiping the caller buffer changes nothing', () => {
    const input = IDENTITY.slice();
    const keyring = deriveKeyring(input);
    input.fill(0);
    expect(keyring.identityPrivateKey()).toEqual(IDENTITY);
  });

  it('uses key id 0 by default and knows no other', () => {
    const keyring = deriveKeyring(IDENTITY);
    expect(keyring.currentKeyId).toBe(0);
    expect(keyring.keyIds).toEqual([0]);
    expect(keyring.derivedKey('preimage', 1)).toBeUndefined();
    expect(keyring.derivedKey('paymentAddr', 255)).toBeUndefined();
  });

  it('rotates: a new current key id with an older one still accepted', () => {
    const keyring = deriveKeyring(IDENTITY, { currentKeyId: 1, keyIds: [0] });
    expect(keyring.currentKeyId).toBe(1);
    expect(keyring.keyIds).toEqual([0, 1]);
    expect(hex(keyring.derivedKey('preimage', 0))).toBe(PREIMAGE_V0);
  });

  it('rejects identity keys that are not valid secp256k1 scalars, without printing them', () => {
    expect(() => deriveKeyring(new Uint8Array(32))).toThrow(RangeError);
    expect(() => deriveKeyring(N)).toThrow(/identityKey: not a valid secp256k1 private key/);
    expect(() => deriveKeyring(new Uint8Array(32).fill(0xff))).toThrow(RangeError);
    try {
      deriveKeyring(N);
    } catch (e) {
      expect(String(e)).not.toContain(bytesToHex(N));
    }
  });

  it('rejects identity keys of the wrong type or length, naming identityKey', () => {
    expect(() => deriveKeyring(bytesToHex(IDENTITY) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => deriveKeyring(new Uint8Array(31).fill(1))).toThrow(/identityKey: expected 32 bytes, got 31/);
    expect(() => deriveKeyring(new Uint8Array(33).fill(1))).toThrow(RangeError);
  });

  it('rejects key ids outside 0..255, naming the option', () => {
    expect(() => deriveKeyring(IDENTITY, { currentKeyId: 256 })).toThrow(/options\.currentKeyId/);
    expect(() => deriveKeyring(IDENTITY, { keyIds: [0, 1.5] })).toThrow(/options\.keyIds\[1\]/);
    expect(() => deriveKeyring(IDENTITY, { keyIds: [-1] })).toThrow(RangeError);
  });
});

describe('keyring redaction', () => {
  const keyring = deriveKeyring(IDENTITY, { keyIds: [0, 1] });
  const secrets = [
    bytesToHex(IDENTITY),
    PREIMAGE_V0,
    PAYMENT_ADDR_V0,
    PREIMAGE_V1,
    hex(keyring.derivedKey('paymentAddr', 1)),
  ];
  const pubkey = bytesToHex(keyring.nodePubkey);

  function expectRedacted(printed: string): void {
    for (const secret of secrets) expect(printed).not.toContain(secret);
    // no raw byte dumps either (an inspected Uint8Array prints as "17, 17, ...")
    expect(printed).not.toMatch(/17, 17/);
    expect(printed).toContain('redacted');
  }

  it('prints no secret through JSON.stringify, also nested in a log record', () => {
    expectRedacted(JSON.stringify(keyring));
    expectRedacted(JSON.stringify({ msg: 'starting', keyring }));
    expect(JSON.parse(JSON.stringify(keyring))).toEqual({
      kind: 'Keyring',
      nodePubkey: pubkey,
      currentKeyId: 0,
      keyIds: [0, 1],
      secrets: '<redacted>',
    });
  });

  it('prints no secret through String, template literals and concatenation', () => {
    expectRedacted(String(keyring));
    expectRedacted(`${keyring}`);
    expectRedacted('' + keyring);
    expect(String(keyring)).toContain(pubkey);
  });

  it('prints no secret through util.inspect, even with hidden properties shown', () => {
    expectRedacted(inspect(keyring));
    expectRedacted(inspect({ nested: { keyring } }, { depth: Infinity, showHidden: true }));
    expectRedacted(inspect(keyring, { showHidden: true, depth: Infinity, getters: true }));
  });

  it('keeps its secrets out of reach of inspection without the custom inspector', () => {
    const printed = inspect(keyring, { customInspect: false, showHidden: true, depth: Infinity, getters: true });
    for (const secret of secrets) expect(printed).not.toContain(secret);
    expect(printed).not.toMatch(/17, 17/);
  });

  it('exposes no secret as an own property (spread, Object.entries)', () => {
    expectRedacted(JSON.stringify({ ...keyring, note: 'redacted' }));
    expect(Object.keys(keyring).sort()).toEqual(['currentKeyId', 'keyIds']);
  });
});
