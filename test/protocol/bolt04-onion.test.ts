import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { decodeLegacyHopData, encodeLegacyHopData } from '../../src/protocol/hop-payload.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import { generateKey, hmacSha256 } from '../../src/protocol/sphinx-keys.js';
import {
  HMAC_OFFSET,
  HOP_PAYLOADS_LENGTH,
  HOP_PAYLOADS_OFFSET,
  ONION_PACKET_LENGTH,
} from '../../src/protocol/sphinx-packet.js';
import { peelOnion } from '../../src/protocol/sphinx-peel.js';
import { chacha20Xor } from '../../src/protocol/sphinx-stream.js';
import { onionErrorVector, onionVector } from './bolt04-vectors.js';

const vector = onionVector();
const paymentHash = hexToBytes('42'.repeat(32));

/** A final-hop TLV payload: amt_to_forward 10,000,000 msat, outgoing_cltv_value 800040, payment_data. */
const finalPayload = hexToBytes('0203989680' + '04030c3528' + '0823' + 'ab'.repeat(32) + '989680');
/** A forwarding TLV payload: amt_to_forward, outgoing_cltv_value, short_channel_id (a virtual one). */
const forwardPayload = hexToBytes('0203989680' + '04030c3550' + '0608' + '80000000deadbeef');

const nodeKey = hexToBytes('11'.repeat(32));
const virtualNodeKey = hexToBytes('22'.repeat(32));
const sessionKey = hexToBytes('33'.repeat(32));
const publicKeyOf = (privateKey: Uint8Array): Uint8Array => secp256k1.getPublicKey(privateKey, true);
const route = [
  { publicKey: publicKeyOf(nodeKey), payload: forwardPayload },
  { publicKey: publicKeyOf(virtualNodeKey), payload: finalPayload },
];

/**
 * Decrypts the single layer of `onion` (built for one hop with `sharedSecret`), lets `edit` change the
 * plaintext `hop_payloads`, and re-encrypts it with a valid HMAC: framing errors only a buggy or
 * hostile sender could make.
 */
function reseal(onion: Uint8Array, sharedSecret: Uint8Array, edit: (plain: Uint8Array) => void): Uint8Array {
  const rho = generateKey('rho', sharedSecret);
  const plain = chacha20Xor(rho, onion.subarray(HOP_PAYLOADS_OFFSET, HMAC_OFFSET));
  edit(plain);
  const out = Uint8Array.from(onion);
  const hopPayloads = chacha20Xor(rho, plain);
  out.set(hopPayloads, HOP_PAYLOADS_OFFSET);
  out.set(hmacSha256(generateKey('mu', sharedSecret), hopPayloads, paymentHash), HMAC_OFFSET);
  return out;
}

describe('BOLT 4 onion test vector (bolt04/onion-test.json)', () => {
  it('builds the spec onion byte for byte from the session key, payloads and associated data', () => {
    const built = buildOnion(vector.hops, vector.sessionKey, vector.associatedData);
    expect(bytesToHex(built.onion)).toBe(bytesToHex(vector.onion));
  });

  it('derives the shared secrets that bolt04/onion-error-test.json gives for the same route', () => {
    const built = buildOnion(vector.hops, vector.sessionKey, vector.associatedData);
    expect(built.sharedSecrets.map(bytesToHex)).toEqual(onionErrorVector().hops.map((hop) => bytesToHex(hop.sharedSecret)));
  });

  it('peels the spec onion hop by hop with the node keys: each payload, forward four times, then final', () => {
    const secrets = onionErrorVector().hops.map((hop) => bytesToHex(hop.sharedSecret));
    let onion = vector.onion;
    vector.privateKeys.forEach((privateKey, index) => {
      const peeled = peelOnion(onion, vector.associatedData, ecdhWithPrivateKey(privateKey));
      if (!peeled.ok) throw new Error(`hop ${index}: ${peeled.error.kind}`);
      expect(bytesToHex(peeled.value.payload)).toBe(bytesToHex(vector.hops[index]!.payload));
      expect(bytesToHex(peeled.value.sharedSecret)).toBe(secrets[index]);
      const last = index === vector.privateKeys.length - 1;
      expect(peeled.value.next.kind).toBe(last ? 'final' : 'forward');
      if (peeled.value.next.kind === 'forward') {
        expect(peeled.value.next.onion).toHaveLength(ONION_PACKET_LENGTH);
        onion = peeled.value.next.onion;
      }
    });
  });

  it('rejects the spec onion at a hop with the wrong private key (invalidOnionHmac)', () => {
    const peeled = peelOnion(vector.onion, vector.associatedData, ecdhWithPrivateKey(vector.privateKeys[1]!));
    expect(peeled).toEqual({ ok: false, error: { kind: 'invalidOnionHmac' } });
  });
});

describe('peelOnion round trip', () => {
  it('peels an onion built for [node, virtual node] at each hop to the payloads it was built with', () => {
    const built = buildOnion(route, sessionKey, paymentHash);
    const first = peelOnion(built.onion, paymentHash, ecdhWithPrivateKey(nodeKey));
    if (!first.ok || first.value.next.kind !== 'forward') throw new Error('the node cannot forward');
    expect(bytesToHex(first.value.payload)).toBe(bytesToHex(forwardPayload));
    expect(bytesToHex(first.value.sharedSecret)).toBe(bytesToHex(built.sharedSecrets[0]!));

    const second = peelOnion(first.value.next.onion, paymentHash, ecdhWithPrivateKey(virtualNodeKey));
    if (!second.ok) throw new Error(second.error.kind);
    expect(bytesToHex(second.value.payload)).toBe(bytesToHex(finalPayload));
    expect(second.value.next).toEqual({ kind: 'final' });
    expect(bytesToHex(second.value.sharedSecret)).toBe(bytesToHex(built.sharedSecrets[1]!));
  });

  it('peels a single-hop onion carrying the largest payload that fits (1300 - 3 - 32 bytes)', () => {
    const payload = new Uint8Array(HOP_PAYLOADS_LENGTH - 3 - 32).fill(7);
    const built = buildOnion([{ publicKey: route[1]!.publicKey, payload }], sessionKey, paymentHash);
    const peeled = peelOnion(built.onion, paymentHash, ecdhWithPrivateKey(virtualNodeKey));
    expect(peeled.ok && bytesToHex(peeled.value.payload)).toBe(bytesToHex(payload));
  });

  it('refuses to build payloads that do not fit, an empty route and an invalid hop key (RangeError)', () => {
    const tooBig = new Uint8Array(HOP_PAYLOADS_LENGTH - 3 - 32 + 1);
    expect(() => buildOnion([{ publicKey: route[1]!.publicKey, payload: tooBig }], sessionKey, paymentHash)).toThrow(RangeError);
    expect(() => buildOnion([], sessionKey, paymentHash)).toThrow(RangeError);
    expect(() => buildOnion([{ publicKey: new Uint8Array(33), payload: finalPayload }], sessionKey, paymentHash)).toThrow(RangeError);
    expect(() => buildOnion(route, new Uint8Array(32), paymentHash)).toThrow(RangeError);
  });
});

describe('peelOnion errors', () => {
  const built = buildOnion([route[1]!], sessionKey, paymentHash);
  const ecdh = ecdhWithPrivateKey(virtualNodeKey);
  const flip = (onion: Uint8Array, index: number): Uint8Array => {
    const out = Uint8Array.from(onion);
    out[index]! ^= 0x01;
    return out;
  };

  it('gives invalidOnionHmac when any byte of hop_payloads or hmac is changed', () => {
    const kinds = new Set<string>();
    for (let index = HOP_PAYLOADS_OFFSET; index < ONION_PACKET_LENGTH; index++) {
      const peeled = peelOnion(flip(built.onion, index), paymentHash, ecdh);
      kinds.add(peeled.ok ? 'ok' : peeled.error.kind);
    }
    expect([...kinds]).toEqual(['invalidOnionHmac']);
  });

  it('gives invalidOnionHmac or invalidOnionKey, never a payload, when a byte of the public key is changed', () => {
    for (let index = 1; index < HOP_PAYLOADS_OFFSET; index++) {
      const peeled = peelOnion(flip(built.onion, index), paymentHash, ecdh);
      expect(peeled.ok ? 'ok' : peeled.error.kind).toMatch(/^invalidOnion(Hmac|Key)$/);
    }
  });

  it('gives invalidOnionHmac when the associated data (payment hash) differs', () => {
    expect(peelOnion(built.onion, hexToBytes('43'.repeat(32)), ecdh)).toEqual({ ok: false, error: { kind: 'invalidOnionHmac' } });
  });

  it('gives invalidOnionVersion with the version for any version but 0', () => {
    for (const version of [1, 2, 0xff]) {
      const onion = Uint8Array.from(built.onion);
      onion[0] = version;
      expect(peelOnion(onion, paymentHash, ecdh)).toEqual({ ok: false, error: { kind: 'invalidOnionVersion', version } });
    }
  });

  it('gives invalidOnionKey for a public key that is not a point', () => {
    const notOnCurve = hexToBytes('02' + 'ff'.repeat(32));
    const badPrefix = hexToBytes('05' + bytesToHex(route[1]!.publicKey.subarray(1)));
    const uncompressedPrefix = hexToBytes('04' + bytesToHex(route[1]!.publicKey.subarray(1)));
    for (const key of [notOnCurve, badPrefix, uncompressedPrefix, new Uint8Array(33)]) {
      const onion = Uint8Array.from(built.onion);
      onion.set(key, 1);
      expect(peelOnion(onion, paymentHash, ecdh)).toEqual({ ok: false, error: { kind: 'invalidOnionKey' } });
    }
  });

  it('gives invalidOnionLength for a packet that is not 1366 bytes', () => {
    for (const length of [0, 1, 1365, 1367, 2 * ONION_PACKET_LENGTH]) {
      const onion = new Uint8Array(length);
      onion.set(built.onion.subarray(0, length));
      expect(peelOnion(onion, paymentHash, ecdh)).toEqual({ ok: false, error: { kind: 'invalidOnionLength', length } });
    }
  });

  it('gives invalidOnionPayload lengthBelowMinimum for a payload length of 1, and reads a first byte of 0 as the legacy format, as LND does', () => {
    const single = buildOnion([{ publicKey: route[1]!.publicKey, payload: new Uint8Array(1) }], sessionKey, paymentHash);
    // The HMAC was good: the error carries the shared secret so the failure can go back encrypted.
    expect(peelOnion(single.onion, paymentHash, ecdh)).toEqual({
      ok: false,
      error: { kind: 'invalidOnionPayload', reason: 'lengthBelowMinimum', sharedSecret: single.sharedSecrets[0] },
    });
    // Length 0 is the legacy realm byte: 33 bytes of hop_data, then the next HMAC (lightning-onion's DecodeHopPayload).
    const empty = buildOnion([{ publicKey: route[1]!.publicKey, payload: new Uint8Array(0) }], sessionKey, paymentHash);
    const peeled = peelOnion(empty.onion, paymentHash, ecdh);
    expect(peeled.ok && peeled.value.format).toBe('legacy');
    expect(peeled.ok && peeled.value.payload.length).toBe(33);
  });

  it('round-trips a legacy final hop_data behind a TLV hop', () => {
    const legacy = { shortChannelId: 0n, amtToForwardMsat: 4_000_000n, outgoingCltvValue: 800_040 };
    const twoHops = buildOnion(
      [
        { publicKey: route[0]!.publicKey, payload: route[0]!.payload },
        { publicKey: route[1]!.publicKey, payload: encodeLegacyHopData(legacy), format: 'legacy' },
      ],
      sessionKey,
      paymentHash,
    );
    const first = peelOnion(twoHops.onion, paymentHash, ecdhWithPrivateKey(nodeKey));
    if (!first.ok || first.value.next.kind !== 'forward') throw new Error('the first hop cannot peel its layer');
    expect(first.value.format).toBe('tlv');
    const last = peelOnion(first.value.next.onion, paymentHash, ecdh);
    if (!last.ok) throw new Error('the last hop cannot peel its layer');
    expect(last.value.format).toBe('legacy');
    expect(last.value.next.kind).toBe('final');
    expect(decodeLegacyHopData(last.value.payload)).toEqual(legacy);
  });

  it('gives invalidOnionPayload lengthPastEnd when the payload and next HMAC run past 1300 bytes', () => {
    // With a 3-byte BigSize prefix the largest payload is 1300 - 3 - 32 = 1265 = 0x04f1 bytes.
    const withLength = (prefix: string) =>
      peelOnion(reseal(built.onion, built.sharedSecrets[0]!, (plain) => plain.set(hexToBytes(prefix))), paymentHash, ecdh);
    expect(withLength('fd04f1').ok).toBe(true);
    for (const prefix of ['fd04f2', 'fd0514', 'fe00010000', 'ffffffffffffffffff']) {
      expect(withLength(prefix)).toEqual({
        ok: false,
        error: { kind: 'invalidOnionPayload', reason: 'lengthPastEnd', sharedSecret: built.sharedSecrets[0] },
      });
    }
  });

  it('gives invalidOnionPayload notCanonicalLength for a non-minimal BigSize length', () => {
    const onion = reseal(built.onion, built.sharedSecrets[0]!, (plain) => plain.set(hexToBytes('fd0010')));
    expect(peelOnion(onion, paymentHash, ecdh)).toEqual({
      ok: false,
      error: { kind: 'invalidOnionPayload', reason: 'notCanonicalLength', sharedSecret: built.sharedSecrets[0] },
    });
  });

  it('never throws on random bytes of any length, with or without version 0 and a valid key', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 3000 }),
          fc.uint8Array({ minLength: ONION_PACKET_LENGTH, maxLength: ONION_PACKET_LENGTH }),
          fc.uint8Array({ minLength: ONION_PACKET_LENGTH, maxLength: ONION_PACKET_LENGTH }).map((bytes) => {
            bytes.set(built.onion.subarray(0, HOP_PAYLOADS_OFFSET));
            return bytes;
          }),
        ),
        fc.uint8Array({ maxLength: 64 }),
        (onion, associatedData) => {
          const peeled = peelOnion(onion, associatedData, ecdh);
          expect(peeled.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on any authenticated hop_payloads plaintext: a payload or an invalidOnionPayload', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: HOP_PAYLOADS_LENGTH, maxLength: HOP_PAYLOADS_LENGTH }), fc.constantFrom(0, 1, 2, 0x40, 0xfc, 0xfd, 0xfe, 0xff), (plain, first) => {
        const onion = reseal(built.onion, built.sharedSecrets[0]!, (current) => {
          current.set(plain);
          current[0] = first;
        });
        const peeled = peelOnion(onion, paymentHash, ecdh);
        if (!peeled.ok) expect(peeled.error.kind).toBe('invalidOnionPayload');
      }),
      { numRuns: 200 },
    );
  });
});
