import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import {
  createFailurePacket,
  decryptFailurePacket,
  FAILURE_PACKET_LENGTH,
  wrapFailurePacket,
} from '../../src/protocol/failure-onion.js';
import { generateKey, hmacSha256 } from '../../src/protocol/sphinx-keys.js';
import { chacha20Stream } from '../../src/protocol/sphinx-stream.js';
import { onionErrorVector, returningErrorsTrace } from './bolt04-vectors.js';

const vector = onionErrorVector();
const trace = returningErrorsTrace();
const sharedSecrets = vector.hops.map((hop) => hop.sharedSecret);
const ERRING = 4;

/** Creates the failure at hop `erring` and wraps it on the way back to the origin. */
function returnedFrom(erring: number, failureMessage: Uint8Array): Uint8Array {
  let packet = createFailurePacket(sharedSecrets[erring]!, failureMessage);
  for (let hop = erring - 1; hop >= 0; hop--) packet = wrapFailurePacket(sharedSecrets[hop]!, packet);
  return packet;
}

describe('BOLT 4 failure test vector (bolt04/onion-error-test.json, 292-byte packet)', () => {
  it('derives the um key of the erring hop and the ammag key of every hop', () => {
    expect(bytesToHex(generateKey('um', sharedSecrets[ERRING]!))).toBe(bytesToHex(vector.hops[ERRING]!.umKey!));
    for (const hop of vector.hops) expect(bytesToHex(generateKey('ammag', hop.sharedSecret))).toBe(bytesToHex(hop.ammagKey));
  });

  it('creates the packet of node 4: um HMAC, then failure_len, failure 0x2002, pad_len and pad to 256', () => {
    const packet = createFailurePacket(sharedSecrets[ERRING]!, vector.failureMessage);
    expect(packet).toHaveLength(FAILURE_PACKET_LENGTH);
    const plain = wrapFailurePacket(sharedSecrets[ERRING]!, packet);
    const body = vector.hops[ERRING]!.payload!;
    expect(bytesToHex(plain.subarray(32))).toBe(bytesToHex(body));
    expect(bytesToHex(plain.subarray(0, 32))).toBe(bytesToHex(hmacSha256(vector.hops[ERRING]!.umKey!, body)));
  });

  it('wraps it through nodes 3, 2, 1 and 0 into the spec error packet', () => {
    expect(bytesToHex(returnedFrom(ERRING, vector.failureMessage))).toBe(bytesToHex(vector.errorPacket));
  });

  it('decrypts the spec error packet back to hop 4 and failure 0x2002', () => {
    const decrypted = decryptFailurePacket(sharedSecrets, vector.errorPacket);
    if (!decrypted.ok) throw new Error(decrypted.error.kind);
    expect(decrypted.value.hopIndex).toBe(ERRING);
    expect(bytesToHex(decrypted.value.failureMessage)).toBe('2002');
  });
});

describe('BOLT 4 "Returning Errors" trace (04-onion-routing.md "Test Vector", 1060-byte packets)', () => {
  const failureLength = new DataView(trace.payload.buffer, trace.payload.byteOffset).getUint16(0);
  const failureMessage = trace.payload.subarray(2, 2 + failureLength);
  /** failure_len + pad_len in the trace: 1024 bytes. */
  const paddedLength = trace.payload.length - 4;

  it('reads the trace as the spec prints it: the payload frames the encoded failure message', () => {
    expect(failureLength).toBe(320);
    expect(bytesToHex(trace.payload.subarray(2))).toBe(bytesToHex(trace.encodedFailureMessage));
    expect(trace.layers.map((layer) => layer.node)).toEqual([4, 3, 2, 1, 0]);
  });

  it('creates the raw error packet (um HMAC over the payload) and the packet of node 4', () => {
    expect(bytesToHex(generateKey('um', trace.sharedSecret))).toBe(bytesToHex(trace.umKey));
    const packet = createFailurePacket(trace.sharedSecret, failureMessage, paddedLength);
    expect(bytesToHex(wrapFailurePacket(trace.sharedSecret, packet))).toBe(bytesToHex(trace.rawErrorPacket));
    expect(bytesToHex(packet)).toBe(bytesToHex(trace.layers[0]!.errorPacket));
  });

  it('matches every layer: ammag key, stream and the packet each node sends back', () => {
    let packet = trace.rawErrorPacket;
    for (const layer of trace.layers) {
      expect(bytesToHex(generateKey('ammag', layer.sharedSecret))).toBe(bytesToHex(layer.ammagKey));
      expect(bytesToHex(chacha20Stream(layer.ammagKey, layer.stream.length))).toBe(bytesToHex(layer.stream));
      packet = wrapFailurePacket(layer.sharedSecret, packet);
      expect(bytesToHex(packet)).toBe(bytesToHex(layer.errorPacket));
    }
  });

  it('decrypts the packet of node 0 back to hop 4 and the 320-byte failure message', () => {
    const secrets = [...trace.layers].reverse().map((layer) => layer.sharedSecret);
    const decrypted = decryptFailurePacket(secrets, trace.layers[trace.layers.length - 1]!.errorPacket);
    if (!decrypted.ok) throw new Error(decrypted.error.kind);
    expect(decrypted.value.hopIndex).toBe(4);
    expect(bytesToHex(decrypted.value.failureMessage)).toBe(bytesToHex(failureMessage));
  });
});

describe('failure onion', () => {
  const message = hexToBytes('400f' + '0000000000000064' + '000c3500');

  it('decrypts a failure created at any hop back to that hop index', () => {
    for (let erring = 0; erring < sharedSecrets.length; erring++) {
      const decrypted = decryptFailurePacket(sharedSecrets, returnedFrom(erring, message));
      expect(decrypted.ok && decrypted.value.hopIndex).toBe(erring);
      expect(decrypted.ok && bytesToHex(decrypted.value.failureMessage)).toBe(bytesToHex(message));
    }
  });

  it('pads failure messages up to 256 bytes to a 292-byte packet, and leaves longer ones unpadded', () => {
    for (const length of [0, 2, 14, 256]) {
      expect(createFailurePacket(sharedSecrets[0]!, new Uint8Array(length))).toHaveLength(292);
    }
    const long = new Uint8Array(300).fill(9);
    const packet = createFailurePacket(sharedSecrets[0]!, long);
    expect(packet).toHaveLength(32 + 2 + 300 + 2);
    const decrypted = decryptFailurePacket(sharedSecrets, packet);
    expect(decrypted.ok && bytesToHex(decrypted.value.failureMessage)).toBe(bytesToHex(long));
  });

  it('throws RangeError for a failure message whose length does not fit a u16', () => {
    expect(() => createFailurePacket(sharedSecrets[0]!, new Uint8Array(0x10000))).toThrow(RangeError);
  });

  it('gives unreadableFailure for a changed byte, unknown shared secrets or a short packet', () => {
    const packet = returnedFrom(2, message);
    for (const index of [0, 31, 32, 33, 100, 291]) {
      const changed = Uint8Array.from(packet);
      changed[index]! ^= 0x80;
      expect(decryptFailurePacket(sharedSecrets, changed)).toEqual({ ok: false, error: { kind: 'unreadableFailure' } });
    }
    expect(decryptFailurePacket(sharedSecrets.slice(0, 2), packet)).toEqual({ ok: false, error: { kind: 'unreadableFailure' } });
    expect(decryptFailurePacket([], packet)).toEqual({ ok: false, error: { kind: 'unreadableFailure' } });
    expect(decryptFailurePacket(sharedSecrets, packet.subarray(0, 35))).toEqual({ ok: false, error: { kind: 'unreadableFailure' } });
  });

  it('gives unreadableFailure for an authenticated packet whose lengths do not add up', () => {
    const secret = sharedSecrets[0]!;
    for (const body of [hexToBytes('0005' + '2002'), hexToBytes('0002' + '2002' + '0003' + '00'), hexToBytes('ffff')]) {
      const plain = new Uint8Array(32 + body.length);
      plain.set(hmacSha256(generateKey('um', secret), body));
      plain.set(body, 32);
      expect(decryptFailurePacket([secret], wrapFailurePacket(secret, plain))).toEqual({
        ok: false,
        error: { kind: 'unreadableFailure' },
      });
    }
  });

  it('never throws on random packets of any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (packet) => {
        expect(decryptFailurePacket(sharedSecrets, packet).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
