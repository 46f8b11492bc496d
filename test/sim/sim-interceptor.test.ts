/**
 * The interceptor API of a simulated node, driven by a plain grpc-js client: what it offers, how it
 * applies SETTLE / FAIL / RESUME, and LND's --requireinterceptor behaviour (replays, auto-fail).
 */
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait.js';
import { status } from '@grpc/grpc-js';
import { createFailurePacket, ecdhWithPrivateKey, encodeFailureMessage, FAILURE_PACKET_LENGTH, peelOnion } from '../../src/protocol/index.js';
import { createHash } from 'node:crypto';
import { htlcEvents, nextEvent, withCluster } from './fixture.js';
import { virtualInvoice } from './virtual-invoice.js';

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe('HtlcInterceptor on a simulated node', () => {
  it('offers an HTLC for the virtual channel with the next onion, amounts, expiries and circuit key; SETTLE pays the payer and emits the final event', async () => {
    await withCluster({ nodes: 2 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 50_000n, { nodes: [0] });
      const events = await htlcEvents(clients[0]!);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const height = cluster.chain.height;
      const payment = cluster.payer.pay(invoice.paymentRequest);

      const request = await interceptor.requests.next();
      expect(request['incoming_circuit_key']).toEqual({ chan_id: cluster.payerChannelId(0).toString(), htlc_id: '0' });
      expect(request['outgoing_requested_chan_id']).toBe(cluster.node(0).virtualScid.toString());
      expect(Buffer.from(request['payment_hash']).equals(Buffer.from(invoice.paymentHash))).toBe(true);
      expect(request['outgoing_amount_msat']).toBe('50000');
      expect(request['incoming_amount_msat']).toBe('50000');
      expect(request['outgoing_expiry']).toBe(height + 40 + 3);
      expect(request['incoming_expiry']).toBe(height + 40 + 3 + 40);
      expect(request['auto_fail_height']).toBe(height + 83 - 19);
      expect(request['onion_blob']).toHaveLength(1366);
      // The onion_blob is addressed to the virtual node: its key peels it.
      expect(peelOnion(request['onion_blob'], request['payment_hash'], ecdhWithPrivateKey(invoice.virtualKey.privateKey)).ok).toBe(true);

      interceptor.settle(request, invoice.preimage);
      const result = await payment;
      expect(result.status).toBe('succeeded');
      if (result.status === 'succeeded') expect(Buffer.from(result.preimage).equals(Buffer.from(invoice.preimage))).toBe(true);

      const final = await nextEvent(events, 'final_htlc_event');
      expect(final).toMatchObject({
        incoming_channel_id: cluster.payerChannelId(0).toString(),
        incoming_htlc_id: '0',
        final_htlc_event: { settled: true, offchain: true },
      });
      const lookup = await clients[0]!.unary(clients[0]!.lightning, 'LookupHtlcResolution', { chan_id: cluster.payerChannelId(0).toString(), htlc_index: '0' });
      expect(lookup).toEqual({ settled: true, offchain: true });
      events.cancel();
      interceptor.cancel();
    });
  });

  it("fails back with the interceptor's failure_message, which the payer decrypts as the virtual node's failure", async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 20_000n);
      const events = await htlcEvents(clients[0]!);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const request = await interceptor.requests.next();
      const peeled = peelOnion(request['onion_blob'], request['payment_hash'], ecdhWithPrivateKey(invoice.virtualKey.privateKey));
      if (!peeled.ok) throw new Error('peel failed');
      const message = encodeFailureMessage({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 20_000n, height: cluster.chain.height });
      interceptor.failWithMessage(request, createFailurePacket(peeled.value.sharedSecret, message));

      const result = await payment;
      expect(result).toMatchObject({
        status: 'failed',
        reason: 'rejected',
        hopIndex: 1,
        failure: { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 20_000n, height: cluster.chain.height },
      });
      expect(await nextEvent(events, 'final_htlc_event')).toMatchObject({ final_htlc_event: { settled: false, offchain: true } });
      events.cancel();
      interceptor.cancel();
    });
  });

  it('fails with failure_code: the node creates temporary_channel_failure or the onion failure itself', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });

      const first = virtualInvoice(cluster, 10_000n);
      const firstPayment = cluster.payer.pay(first.paymentRequest);
      interceptor.failWithCode(await interceptor.requests.next(), 'TEMPORARY_CHANNEL_FAILURE');
      const firstResult = await firstPayment;
      expect(firstResult).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'temporaryChannelFailure' } });
      if (firstResult.status === 'failed' && firstResult.failure?.kind === 'temporaryChannelFailure') {
        // A signed channel_update (type 258) of the incoming channel.
        expect(firstResult.failure.channelUpdate.subarray(0, 2)).toEqual(Uint8Array.of(1, 2));
      }

      const second = virtualInvoice(cluster, 10_000n);
      const secondPayment = cluster.payer.pay(second.paymentRequest);
      const request = await interceptor.requests.next();
      interceptor.failWithCode(request, 'INVALID_ONION_HMAC');
      const secondResult = await secondPayment;
      expect(secondResult).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'invalidOnionHmac' } });
      if (secondResult.status === 'failed' && secondResult.failure?.kind === 'invalidOnionHmac') {
        expect(Buffer.from(secondResult.failure.sha256OfOnion).equals(sha256(request['onion_blob']))).toBe(true);
      }
      interceptor.cancel();
    });
  });

  it('ends the stream on a response LND refuses, keeps the HTLC held, and re-offers it to the next interceptor', async () => {
    const cases: { name: string; response: (request: Record<string, unknown>) => Record<string, unknown>; code: status; details: string }[] = [
      { name: 'no circuit key', response: () => ({ action: 'RESUME' }), code: status.INVALID_ARGUMENT, details: 'CircuitKey missing from ForwardHtlcInterceptResponse' },
      {
        name: 'unsupported failure code',
        response: (r) => ({ incoming_circuit_key: r['incoming_circuit_key'], action: 'FAIL', failure_code: 'INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS' }),
        code: status.INVALID_ARGUMENT,
        details: 'unsupported failure code: INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS',
      },
      {
        name: 'failure message of the wrong length',
        response: (r) => ({ incoming_circuit_key: r['incoming_circuit_key'], action: 'FAIL', failure_message: Buffer.alloc(291) }),
        code: status.INVALID_ARGUMENT,
        details: 'failure message length invalid',
      },
      {
        name: 'failure message and failure code',
        response: (r) => ({ incoming_circuit_key: r['incoming_circuit_key'], action: 'FAIL', failure_message: Buffer.alloc(FAILURE_PACKET_LENGTH), failure_code: 'TEMPORARY_CHANNEL_FAILURE' }),
        code: status.INVALID_ARGUMENT,
        details: 'failure message and failure code are mutually exclusive',
      },
      { name: 'settle without preimage', response: (r) => ({ incoming_circuit_key: r['incoming_circuit_key'], action: 'SETTLE' }), code: status.UNKNOWN, details: 'missing preimage' },
      {
        name: 'settle with a short preimage',
        response: (r) => ({ incoming_circuit_key: r['incoming_circuit_key'], action: 'SETTLE', preimage: Buffer.alloc(31, 1) }),
        code: status.UNKNOWN,
        details: 'invalid preimage length of 31, want 32',
      },
      {
        name: 'settle with the wrong preimage',
        response: (r) => ({ incoming_circuit_key: r['incoming_circuit_key'], action: 'SETTLE', preimage: Buffer.alloc(32, 7) }),
        code: status.UNKNOWN,
        details: 'preimage does not match hash',
      },
      {
        name: 'an unknown circuit key',
        response: () => ({ incoming_circuit_key: { chan_id: '549755813888', htlc_id: '99' }, action: 'RESUME' }),
        code: status.UNKNOWN,
        details: 'forward does not exist: (Chan ID=0:8388608:0, HTLC ID=99)',
      },
    ];
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      let interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      let request = await interceptor.requests.next();
      const key = request['incoming_circuit_key'];
      for (const c of cases) {
        interceptor.send(c.response(request));
        expect({ case: c.name, end: await interceptor.ended }).toEqual({ case: c.name, end: { code: c.code, details: c.details } });
        expect(cluster.node(0).heldHtlcs()).toHaveLength(1);
        await waitUntil(() => !cluster.node(0).interceptorConnected, { what: '!cluster.node(0).interceptorConnected', intervalMs: 5 });
        interceptor = clients[0]!.interceptor();
        request = await interceptor.requests.next();
        expect(request['incoming_circuit_key']).toEqual(key);
      }
      interceptor.settle(request, invoice.preimage);
      expect((await payment).status).toBe('succeeded');
      interceptor.cancel();
    });
  });

  it('RESUME of an HTLC for the virtual channel fails it with unknown_next_peer, as LND does for a channel it lacks', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      const events = await htlcEvents(clients[0]!);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      interceptor.resume(await interceptor.requests.next());
      expect(await payment).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'unknownNextPeer' } });
      expect(await nextEvent(events, 'link_fail_event')).toMatchObject({ link_fail_event: { wire_failure: 'UNKNOWN_NEXT_PEER' } });
      events.cancel();
      interceptor.cancel();
    });
  });

  it('RESUME of a regular forward sends it over the real channel to the recipient, which settles', async () => {
    await withCluster({ nodes: 2 }, async ({ cluster, clients }) => {
      const invoice = cluster.recipientInvoice(1, 123_456n);
      const events = await htlcEvents(clients[1]!);
      const interceptor = clients[1]!.interceptor();
      await waitUntil(() => cluster.node(1).interceptorConnected, { what: 'cluster.node(1).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const request = await interceptor.requests.next();
      expect(request['outgoing_requested_chan_id']).toBe(cluster.recipientChannelId(1).toString());
      expect(request['outgoing_amount_msat']).toBe('123456');
      expect(BigInt(request['incoming_amount_msat'])).toBe(123_456n + 1_000n); // base fee 1 sat, 1 ppm rounds to 0
      interceptor.resume(request);
      const result = await payment;
      expect(result.status).toBe('succeeded');
      expect(cluster.recipients[1]!.isSettled(invoice.paymentHash)).toBe(true);
      expect(await nextEvent(events, 'forward_event')).toMatchObject({ event_type: 'FORWARD', outgoing_channel_id: cluster.recipientChannelId(1).toString() });
      expect(await nextEvent(events, 'settle_event')).toMatchObject({ event_type: 'FORWARD' });
      expect(await nextEvent(events, 'final_htlc_event')).toMatchObject({ final_htlc_event: { settled: true } });
      events.cancel();
      interceptor.cancel();
    });
  });
});

describe('--requireinterceptor', () => {
  it('fails a new HTLC with temporary_channel_failure while no interceptor is connected', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      const result = await cluster.payer.pay(invoice.paymentRequest);
      expect(result).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'temporaryChannelFailure' } });
    });
  });

  it('without the flag and without an interceptor, forwards go through the switch unintercepted', async () => {
    await withCluster({ nodes: 1, requireInterceptor: false }, async ({ cluster }) => {
      const regular = cluster.recipientInvoice(0, 5_000n);
      expect((await cluster.payer.pay(regular.paymentRequest)).status).toBe('succeeded');
      const virtual = virtualInvoice(cluster, 5_000n);
      expect(await cluster.payer.pay(virtual.paymentRequest)).toMatchObject({ status: 'failed', failure: { kind: 'unknownNextPeer' } });
    });
  });

  it('re-offers a held HTLC with the same circuit key when an interceptor connects again', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      const first = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const offered = await first.requests.next();
      first.cancel();
      await waitUntil(() => !cluster.node(0).interceptorConnected, { what: '!cluster.node(0).interceptorConnected', intervalMs: 5 });
      expect(cluster.node(0).heldHtlcs()).toEqual([{ chanId: cluster.payerChannelId(0), htlcId: 0n }]);

      const second = clients[0]!.interceptor();
      const replayed = await second.requests.next();
      expect(replayed['incoming_circuit_key']).toEqual(offered['incoming_circuit_key']);
      expect(Buffer.from(replayed['onion_blob']).equals(Buffer.from(offered['onion_blob']))).toBe(true);
      second.settle(replayed, invoice.preimage);
      expect((await payment).status).toBe('succeeded');
      second.cancel();
    });
  });

  it('keeps a held HTLC over a node restart (same key, cert, port, macaroon) and replays it with the same circuit key', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const node = cluster.node(0);
      const before = node.info;
      const invoice = virtualInvoice(cluster, 10_000n);
      const first = clients[0]!.interceptor();
      await waitUntil(() => node.interceptorConnected, { what: 'node.interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const offered = await first.requests.next();

      await node.stop();
      expect((await first.ended).code).not.toBe(status.OK);
      expect(node.online).toBe(false);
      // While the node is down the payer cannot add HTLCs to it.
      expect(await cluster.payer.pay(virtualInvoice(cluster, 1_000n).paymentRequest)).toMatchObject({ status: 'failed', reason: 'noRoute' });
      await node.start();
      expect(node.info).toEqual(before);
      // No interceptor yet: the replayed HTLC is held, not failed.
      expect(node.heldHtlcs()).toEqual([{ chanId: cluster.payerChannelId(0), htlcId: 0n }]);

      const second = clients[0]!.interceptor();
      const replayed = await second.requests.next();
      expect(replayed['incoming_circuit_key']).toEqual(offered['incoming_circuit_key']);
      second.settle(replayed, invoice.preimage);
      expect((await payment).status).toBe('succeeded');
      second.cancel();
    });
  });

  it('auto-fails a held HTLC with temporary_channel_failure once the chain reaches auto_fail_height', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const request = await interceptor.requests.next();
      const autoFail = request['auto_fail_height'] as number;
      cluster.mine(autoFail - cluster.chain.height - 1);
      expect(cluster.node(0).heldHtlcs()).toHaveLength(1);
      cluster.mine(1);
      expect(cluster.node(0).heldHtlcs()).toHaveLength(0);
      expect(await payment).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'temporaryChannelFailure' } });
      // A late answer for it is an unknown forward and ends the stream.
      interceptor.settle(request, invoice.preimage);
      expect((await interceptor.ended).details).toMatch(/^forward does not exist/);
    });
  });
});

describe('an HTLC whose incoming channel is closed on chain (LND >= 0.20.3 on-chain interception)', () => {
  it('is offered again with its expiry as deadline; FAIL ends the stream, SETTLE settles it on chain', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      const events = await htlcEvents(clients[0]!);
      const first = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const offered = await first.requests.next();

      cluster.node(0).forceCloseChannel(cluster.payerChannelId(0));
      const onChain = await first.requests.next();
      expect(onChain['incoming_circuit_key']).toEqual(offered['incoming_circuit_key']);
      expect(onChain['auto_fail_height']).toBe(offered['incoming_expiry']);
      first.failWithCode(onChain, 'TEMPORARY_CHANNEL_FAILURE');
      expect(await first.ended).toEqual({ code: status.UNKNOWN, details: 'cannot fail held htlc in the on-chain flow' });

      await waitUntil(() => !cluster.node(0).interceptorConnected, { what: '!cluster.node(0).interceptorConnected', intervalMs: 5 });
      const second = clients[0]!.interceptor();
      const again = await second.requests.next();
      second.resume(again);
      expect(await second.ended).toEqual({ code: status.UNKNOWN, details: 'cannot resume held htlc in the on-chain flow' });

      await waitUntil(() => !cluster.node(0).interceptorConnected, { what: '!cluster.node(0).interceptorConnected', intervalMs: 5 });
      const third = clients[0]!.interceptor();
      third.settle(await third.requests.next(), invoice.preimage);
      expect((await payment).status).toBe('succeeded');
      expect(await nextEvent(events, 'final_htlc_event')).toMatchObject({ final_htlc_event: { settled: true, offchain: false } });
      const lookup = await clients[0]!.unary(clients[0]!.lightning, 'LookupHtlcResolution', { chan_id: cluster.payerChannelId(0).toString(), htlc_index: '0' });
      expect(lookup).toEqual({ settled: true, offchain: false });
      events.cancel();
      third.cancel();
    });
  });

  it('times out on chain at its expiry instead of being failed back', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 10_000n);
      const events = await htlcEvents(clients[0]!);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const offered = await interceptor.requests.next();
      cluster.node(0).forceCloseChannel(cluster.payerChannelId(0));
      await interceptor.requests.next();
      // Past the off-chain auto-fail height nothing happens on chain...
      cluster.mine((offered['auto_fail_height'] as number) - cluster.chain.height + 1);
      expect(cluster.node(0).heldHtlcs()).toHaveLength(1);
      // ...until the expiry.
      cluster.mine((offered['incoming_expiry'] as number) - cluster.chain.height);
      const result = await payment;
      expect(result).toMatchObject({ status: 'failed' });
      expect(result.attempts.at(-1)?.outcome).toEqual({ kind: 'onChainTimeout' });
      expect(await nextEvent(events, 'final_htlc_event')).toMatchObject({ final_htlc_event: { settled: false, offchain: false } });
      events.cancel();
      interceptor.cancel();
    });
  });
});

describe('RESUME_MODIFIED', () => {
  it('forwards with the amount the interceptor set, checked against the policy like any forward', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = cluster.recipientInvoice(0, 100_000n);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      const request = await interceptor.requests.next();
      // Raising the outgoing amount eats the fee: the node now fails it with fee_insufficient.
      interceptor.send({ incoming_circuit_key: request['incoming_circuit_key'], action: 'RESUME_MODIFIED', out_amount_msat: '100500' });
      expect(await payment).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'feeInsufficient', htlcMsat: 101_000n } });
      interceptor.cancel();
    });
  });

  it('refuses custom records below type 65536', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const invoice = cluster.recipientInvoice(0, 1_000n);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      void cluster.payer.pay(invoice.paymentRequest);
      const request = await interceptor.requests.next();
      interceptor.send({ incoming_circuit_key: request['incoming_circuit_key'], action: 'RESUME_MODIFIED', out_wire_custom_records: { '5': Buffer.from('x') } });
      expect(await interceptor.ended).toEqual({
        code: status.INVALID_ARGUMENT,
        details: 'failed to validate custom records: custom records entry with TLV type below min: 65536',
      });
      await waitUntil(() => !cluster.node(0).interceptorConnected, { what: '!cluster.node(0).interceptorConnected', intervalMs: 5 });
      const next = clients[0]!.interceptor();
      next.resume(await next.requests.next());
      next.cancel();
    });
  });
});
