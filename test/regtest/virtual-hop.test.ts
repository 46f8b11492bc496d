import { createDecipheriv } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { finalHopFailure, incorrectOrUnknownPaymentDetails, newVirtualNode, virtualScid } from './lib/virtual-hop.js';

describe('virtualScid', () => {
  it('is the last 8 bytes of the pubkey, big-endian, with the top bit set', () => {
    const pubkey = `02${'00'.repeat(24)}0102030405060708`;
    expect(virtualScid(pubkey)).toBe(0x8102030405060708n);
  });

  it('refuses a key that is not 33 bytes', () => {
    expect(() => virtualScid('02ab')).toThrow(RangeError);
  });
});

describe('finalHopFailure', () => {
  it('gives 292 bytes that the payer, holding the same shared secret, opens and authenticates', () => {
    const virtual = newVirtualNode();
    const ephemeralKey = secp256k1.utils.randomSecretKey();
    const onion = new Uint8Array(1366);
    onion.set(secp256k1.getPublicKey(ephemeralKey, true), 1);
    const message = incorrectOrUnknownPaymentDetails(20_000_000n, 546);

    const packet = finalHopFailure(onion, virtual, message);

    // The payer's side: the same shared secret from its ephemeral key and the node's pubkey.
    const sharedSecret = sha256(secp256k1.getSharedSecret(ephemeralKey, virtual.pubkey, true));
    const ammag = hmac(sha256, Buffer.from('ammag'), sharedSecret);
    const um = hmac(sha256, Buffer.from('um'), sharedSecret);
    const decipher = createDecipheriv('chacha20', ammag, Buffer.alloc(16));
    const plain = Buffer.concat([decipher.update(packet), decipher.final()]);
    expect(packet).toHaveLength(292);
    expect(Buffer.from(hmac(sha256, um, plain.subarray(32))).equals(plain.subarray(0, 32))).toBe(true);
    expect(plain.readUInt16BE(32)).toBe(message.length);
    expect(plain.subarray(34, 34 + message.length).equals(message)).toBe(true);
    expect(plain.readUInt16BE(34 + message.length)).toBe(256 - message.length);
  });
});
