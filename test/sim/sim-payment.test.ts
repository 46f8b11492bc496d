/**
 * End to end: the payer pays a hand-made invoice of a virtual node through the simulated cluster to
 * a minimal test interceptor that peels the final onion and settles; liquidity, MPP and fail-over.
 */
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait.js';
import { encodeInvoice } from '../../src/protocol/index.js';
import { nodeKeyPair } from '../../src/sim/keys.js';
import { createHash, randomBytes } from 'node:crypto';
import { htlcEvents, nextEvent, withCluster } from './fixture.js';
import { VirtualInterceptor } from './virtual-interceptor.js';
import { virtualInvoice } from './virtual-invoice.js';

describe('paying a virtual node through the simulated cluster', () => {
  it('pays a hand-made invoice to a minimal interceptor that peels the final onion and settles; the final events arrive', async () => {
    await withCluster({ nodes: 3 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 250_000n);
      const interceptor = new VirtualInterceptor(invoice.virtualKey, cluster.nodes.map((n) => n.virtualScid));
      interceptor.expect(invoice.paymentHash, { preimage: invoice.preimage, paymentSecret: invoice.paymentSecret, amountMsat: invoice.amountMsat });
      const events = await Promise.all(clients.map((c) => htlcEvents(c)));
      clients.forEach((client, i) => interceptor.attach(client, i));
      await waitUntil(() => cluster.nodes.every((n) => n.interceptorConnected), { what: 'cluster.nodes.every((n) => n.interceptorConnected)', intervalMs: 5 });

      const result = await cluster.payer.pay(invoice.paymentRequest);
      expect(result.status).toBe('succeeded');
      if (result.status !== 'succeeded') return;
      expect(Buffer.from(result.preimage).equals(Buffer.from(invoice.preimage))).toBe(true);
      for (const part of result.parts) {
        const index = cluster.nodes.findIndex((n) => Buffer.from(n.publicKey).toString('hex') === part.firstHop);
        const final = await nextEvent(events[index]!, 'final_htlc_event');
        expect(final).toMatchObject({ incoming_channel_id: part.chanId!.toString(), incoming_htlc_id: part.htlcId!.toString(), final_htlc_event: { settled: true, offchain: true } });
      }
      for (const e of events) e.cancel();
      interceptor.close();
    });
  });

  it('uses another route hint when the first node lacks inbound liquidity (the payer’s channel refuses the HTLC)', async () => {
    await withCluster({ nodes: 2 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 100_000n);
      cluster.setInboundLiquidity(0, 50_000n);
      const interceptor = new VirtualInterceptor(invoice.virtualKey, cluster.nodes.map((n) => n.virtualScid));
      interceptor.expect(invoice.paymentHash, { preimage: invoice.preimage, paymentSecret: invoice.paymentSecret, amountMsat: invoice.amountMsat });
      clients.forEach((client, i) => interceptor.attach(client, i));
      await waitUntil(() => cluster.nodes.every((n) => n.interceptorConnected), { what: 'cluster.nodes.every((n) => n.interceptorConnected)', intervalMs: 5 });

      const result = await cluster.payer.pay(invoice.paymentRequest);
      expect(result.status).toBe('succeeded');
      expect(result.attempts[0]).toMatchObject({ routeHint: 0, amountMsat: 100_000n, outcome: { kind: 'refused', refusal: 'insufficientBalance' } });
      if (result.status === 'succeeded') expect(result.parts.map((p) => [p.routeHint, p.amountMsat])).toEqual([[1, 100_000n]]);
      interceptor.close();
    });
  });

  it('splits into multi-part shards across nodes when no single node has the inbound liquidity', async () => {
    await withCluster({ nodes: 2 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 100_000n);
      cluster.setInboundLiquidity(0, 60_000n);
      cluster.setInboundLiquidity(1, 60_000n);
      const interceptor = new VirtualInterceptor(invoice.virtualKey, cluster.nodes.map((n) => n.virtualScid));
      interceptor.expect(invoice.paymentHash, { preimage: invoice.preimage, paymentSecret: invoice.paymentSecret, amountMsat: invoice.amountMsat });
      clients.forEach((client, i) => interceptor.attach(client, i));
      await waitUntil(() => cluster.nodes.every((n) => n.interceptorConnected), { what: 'cluster.nodes.every((n) => n.interceptorConnected)', intervalMs: 5 });

      const result = await cluster.payer.pay(invoice.paymentRequest);
      expect(result.status).toBe('succeeded');
      if (result.status !== 'succeeded') return;
      expect(result.parts.reduce((sum, p) => sum + p.amountMsat, 0n)).toBe(100_000n);
      expect(new Set(result.parts.map((p) => p.routeHint))).toEqual(new Set([0, 1]));
      // Every part reached the interceptor through the node of its hint, and each node kept the amount it received.
      expect(interceptor.seen.map((s) => s.node).sort()).toEqual(result.parts.map((p) => p.routeHint).sort());
      expect(cluster.node(0).channel(cluster.payerChannelId(0))!.remoteMsat + cluster.node(1).channel(cluster.payerChannelId(1))!.remoteMsat).toBe(20_000n);
      interceptor.close();
    });
  });

  it('fails over to the next route hint when a node fails the HTLC (its interceptor is down)', async () => {
    await withCluster({ nodes: 2 }, async ({ cluster, clients }) => {
      const invoice = virtualInvoice(cluster, 30_000n);
      const interceptor = new VirtualInterceptor(invoice.virtualKey, cluster.nodes.map((n) => n.virtualScid));
      interceptor.expect(invoice.paymentHash, { preimage: invoice.preimage, paymentSecret: invoice.paymentSecret, amountMsat: invoice.amountMsat });
      interceptor.attach(clients[1]!, 1);
      await waitUntil(() => cluster.node(1).interceptorConnected, { what: 'cluster.node(1).interceptorConnected', intervalMs: 5 });

      const result = await cluster.payer.pay(invoice.paymentRequest);
      expect(result.status).toBe('succeeded');
      expect(result.attempts.map((a) => [a.routeHint, a.outcome.kind])).toEqual([
        [0, 'failed'],
        [1, 'settled'],
      ]);
      expect(result.attempts[0]!.outcome).toMatchObject({ hopIndex: 0, failure: { kind: 'temporaryChannelFailure' } });
      interceptor.close();
    });
  });

  it('fails an HTLC that expires too soon to be intercepted with expiry_too_soon', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const virtual = nodeKeyPair('virtual');
      const preimage = randomBytes(32);
      // min_final_cltv 1 + padding 3 + hint delta 10: the incoming expiry is 14 blocks away, under LND's 22.
      const paymentRequest = encodeInvoice(
        {
          network: 'bcrt',
          amountMsat: 1_000n,
          timestamp: Math.floor(Date.now() / 1000),
          paymentHash: createHash('sha256').update(preimage).digest(),
          paymentSecret: randomBytes(32),
          description: 'too soon',
          minFinalCltvExpiryDelta: 1,
          routeHints: [[{ pubkey: cluster.node(0).publicKey, shortChannelId: cluster.node(0).virtualScid, feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 10 }]],
        },
        virtual.privateKey,
      );
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      expect(await cluster.payer.pay(paymentRequest)).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'expiryTooSoon' } });
      expect(interceptor.requests.size).toBe(0);
      interceptor.cancel();
    });
  });

  it('refuses an expired invoice without sending anything', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster }) => {
      const invoice = virtualInvoice(cluster, 1_000n, { timestamp: Math.floor(Date.now() / 1000) - 7200, expirySeconds: 3600 });
      expect(await cluster.payer.pay(invoice.paymentRequest)).toMatchObject({ status: 'failed', reason: 'invoiceExpired', attempts: [] });
    });
  });
});
