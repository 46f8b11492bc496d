import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { createFailurePacket, decryptFailurePacket, wrapFailurePacket } from '../../src/protocol/failure-onion.js';
import { decodeFailureMessage, encodeFailureMessage } from '../../src/protocol/failure-message.js';
import { decodeHopPayload, encodeHopPayload, type HopPayload } from '../../src/protocol/hop-payload.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import { peelOnion } from '../../src/protocol/sphinx-peel.js';
import { returningErrorsTrace } from './bolt04-vectors.js';

const nodeKey = hexToBytes('11'.repeat(32));
const virtualNodeKey = hexToBytes('22'.repeat(32));
const paymentHash = hexToBytes('42'.repeat(32));

describe('final hop through a cluster node to the virtual node', () => {
  const forward: HopPayload = {
    amtToForwardMsat: 10_000_000n,
    outgoingCltvValue: 800_080,
    shortChannelId: 0x8000_0000_dead_beefn,
    otherRecords: [],
  };
  const final: HopPayload = {
    amtToForwardMsat: 10_000_000n,
    outgoingCltvValue: 800_040,
    paymentData: { paymentAddr: hexToBytes('ab'.repeat(32)), totalMsat: 25_000_000n },
    otherRecords: [],
  };
  const built = buildOnion(
    [
      { publicKey: secp256k1.getPublicKey(nodeKey, true), payload: encodeHopPayload(forward) },
      { publicKey: secp256k1.getPublicKey(virtualNodeKey, true), payload: encodeHopPayload(final) },
    ],
    hexToBytes('33'.repeat(32)),
    paymentHash,
  );

  it('peels to hop payloads that decode to what the payer encoded', () => {
    const atNode = peelOnion(built.onion, paymentHash, ecdhWithPrivateKey(nodeKey));
    if (!atNode.ok || atNode.value.next.kind !== 'forward') throw new Error('no forward at the cluster node');
    expect(decodeHopPayload(atNode.value.payload, 'intermediate')).toEqual({ ok: true, value: forward });
    const atVirtual = peelOnion(atNode.value.next.onion, paymentHash, ecdhWithPrivateKey(virtualNodeKey));
    if (!atVirtual.ok || atVirtual.value.next.kind !== 'final') throw new Error('not final at the virtual node');
    expect(decodeHopPayload(atVirtual.value.payload, 'final')).toEqual({ ok: true, value: final });
  });

  it("returns incorrect_or_unknown_payment_details that the payer decrypts and decodes as the virtual node's", () => {
    const atNode = peelOnion(built.onion, paymentHash, ecdhWithPrivateKey(nodeKey));
    if (!atNode.ok || atNode.value.next.kind !== 'forward') throw new Error('no forward at the cluster node');
    const atVirtual = peelOnion(atNode.value.next.onion, paymentHash, ecdhWithPrivateKey(virtualNodeKey));
    if (!atVirtual.ok) throw new Error(atVirtual.error.kind);

    const failure = { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 10_000_000n, height: 800_000 } as const;
    const fromVirtual = createFailurePacket(atVirtual.value.sharedSecret, encodeFailureMessage(failure));
    expect(fromVirtual).toHaveLength(292);
    const atPayer = wrapFailurePacket(atNode.value.sharedSecret, fromVirtual);

    const decrypted = decryptFailurePacket(built.sharedSecrets, atPayer);
    if (!decrypted.ok) throw new Error(decrypted.error.kind);
    expect(decrypted.value.hopIndex).toBe(1);
    const decoded = decodeFailureMessage(decrypted.value.failureMessage);
    expect(decoded.ok && decoded.value.kind).toBe('incorrectOrUnknownPaymentDetails');
    expect(decoded.ok && decoded.value.kind === 'incorrectOrUnknownPaymentDetails' && [decoded.value.htlcMsat, decoded.value.height]).toEqual([10_000_000n, 800_000]);
  });

  it("decodes the spec trace's failure message as incorrect_or_unknown_payment_details (100 msat, height 800000)", () => {
    const trace = returningErrorsTrace();
    const length = new DataView(trace.payload.buffer, trace.payload.byteOffset).getUint16(0);
    const decoded = decodeFailureMessage(trace.payload.subarray(2, 2 + length));
    if (!decoded.ok || decoded.value.kind !== 'incorrectOrUnknownPaymentDetails') throw new Error('not decoded');
    expect([decoded.value.htlcMsat, decoded.value.height]).toEqual([100n, 800_000]);
    expect(bytesToHex(encodeFailureMessage(decoded.value))).toBe(bytesToHex(trace.payload.subarray(2, 2 + length)));
  });
});
