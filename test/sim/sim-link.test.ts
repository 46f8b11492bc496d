/** What a simulated node does with an HTLC before any interceptor sees it: LND's link checks. */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnion, decodeFailureMessage, decryptFailurePacket, encodeHopPayload, encodeTlvStream, FAILURE_CODE } from '../../src/protocol/index.js';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import type { HtlcOffer, HtlcResolution } from '../../src/sim/htlc.js';
import { nodeKeyPair } from '../../src/sim/keys.js';

describe("a simulated node's link", () => {
  let cluster: SimCluster;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 1 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  async function add(offer: HtlcOffer): Promise<HtlcResolution> {
    const added = cluster.node(0).addHtlc(cluster.payerChannelId(0), offer);
    if (!added.ok) throw new Error(added.refusal);
    return added.resolution;
  }
  const hash = createHash('sha256').update(randomBytes(32)).digest();
  const expiry = (): number => cluster.chain.height + 100;

  it('refuses an onion with an invalid ephemeral key with update_fail_malformed_htlc invalid_onion_key', async () => {
    const onion = new Uint8Array(1366);
    expect(await add({ amountMsat: 1_000n, expiry: expiry(), paymentHash: hash, onion })).toEqual({
      kind: 'failMalformed',
      failureCode: FAILURE_CODE.invalidOnionKey,
      sha256OfOnion: createHash('sha256').update(onion).digest(),
    });
  });

  it('refuses an onion of an unknown version with invalid_onion_version', async () => {
    const onion = new Uint8Array(1366);
    onion[0] = 1;
    expect(await add({ amountMsat: 1_000n, expiry: expiry(), paymentHash: hash, onion })).toMatchObject({ kind: 'failMalformed', failureCode: FAILURE_CODE.invalidOnionVersion });
  });

  it('refuses an onion built for other associated data with invalid_onion_hmac', async () => {
    const payload = encodeHopPayload({ amtToForwardMsat: 1_000n, outgoingCltvValue: expiry(), shortChannelId: 1n, otherRecords: [] });
    const { onion } = buildOnion([{ publicKey: cluster.node(0).publicKey, payload }], nodeKeyPair('s').privateKey, randomBytes(32));
    expect(await add({ amountMsat: 1_000n, expiry: expiry(), paymentHash: hash, onion })).toMatchObject({ kind: 'failMalformed', failureCode: FAILURE_CODE.invalidOnionHmac });
  });

  it('fails a forward whose payload lacks short_channel_id with invalid_onion_payload (type 6, offset 0 as LND)', async () => {
    // amt_to_forward and outgoing_cltv_value only, for a node that is not the last hop.
    const payload = encodeTlvStream([
      { type: 2n, value: Uint8Array.of(0x03, 0xe8) },
      { type: 4n, value: Uint8Array.of(0x01, 0x00) },
    ]);
    const last = encodeHopPayload({ amtToForwardMsat: 1_000n, outgoingCltvValue: 256, otherRecords: [] });
    const { onion, sharedSecrets } = buildOnion(
      [{ publicKey: cluster.node(0).publicKey, payload }, { publicKey: nodeKeyPair('next').publicKey, payload: last }],
      nodeKeyPair('s').privateKey,
      hash,
    );
    const resolution = await add({ amountMsat: 1_000n, expiry: expiry(), paymentHash: hash, onion });
    if (resolution.kind !== 'fail') throw new Error(`expected a fail, got ${resolution.kind}`);
    const decrypted = decryptFailurePacket(sharedSecrets, resolution.reason);
    if (!decrypted.ok) throw new Error('unreadable');
    expect(decrypted.value.hopIndex).toBe(0);
    expect(decodeFailureMessage(decrypted.value.failureMessage)).toEqual({ ok: true, value: { kind: 'invalidOnionPayload', type: 6n, offset: 0 } });
  });

  it('fails a payment that ends at the node itself with incorrect_or_unknown_payment_details (it holds no invoices)', async () => {
    const payload = encodeHopPayload({ amtToForwardMsat: 1_000n, outgoingCltvValue: expiry(), paymentData: { paymentAddr: randomBytes(32), totalMsat: 1_000n }, otherRecords: [] });
    const { onion, sharedSecrets } = buildOnion([{ publicKey: cluster.node(0).publicKey, payload }], nodeKeyPair('s').privateKey, hash);
    const resolution = await add({ amountMsat: 1_000n, expiry: expiry(), paymentHash: hash, onion });
    if (resolution.kind !== 'fail') throw new Error(`expected a fail, got ${resolution.kind}`);
    const decrypted = decryptFailurePacket(sharedSecrets, resolution.reason);
    if (!decrypted.ok) throw new Error('unreadable');
    expect(decodeFailureMessage(decrypted.value.failureMessage)).toEqual({
      ok: true,
      value: { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 1_000n, height: cluster.chain.height },
    });
  });

  it('refuses at once an HTLC above the inbound liquidity, and one on an unknown channel', () => {
    cluster.setInboundLiquidity(0, 500n);
    expect(cluster.node(0).addHtlc(cluster.payerChannelId(0), { amountMsat: 501n, expiry: expiry(), paymentHash: hash, onion: new Uint8Array(1366) })).toEqual({
      ok: false,
      refusal: 'insufficientBalance',
    });
    expect(cluster.node(0).addHtlc(12345n, { amountMsat: 1n, expiry: expiry(), paymentHash: hash, onion: new Uint8Array(1366) })).toEqual({ ok: false, refusal: 'unknownChannel' });
  });
});
