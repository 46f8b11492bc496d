/**
 * What the chaos suite adds to a simulated node: a restart without --requireinterceptor (held HTLCs
 * are replayed with no interceptor and fail behind its back), and the onHtlcResolved inspection hook.
 */
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait.js';
import { bytesToHex } from '../../src/protocol/index.js';
import type { ResolvedHtlc } from '../../src/sim/node.js';
import { withCluster } from './fixture.js';
import { virtualInvoice } from './virtual-invoice.js';

describe('simulated node: chaos hooks', () => {
  it('a restart without --requireinterceptor fails the held HTLC with unknown_next_peer; onHtlcResolved reports it', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const node = cluster.node(0);
      const resolved: ResolvedHtlc[] = [];
      node.onHtlcResolved((r) => resolved.push(r));
      const invoice = virtualInvoice(cluster, 10_000n);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => node.interceptorConnected, { what: 'node.interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest, { maxAttempts: 1 });
      await interceptor.requests.next();

      await node.restart({ requireInterceptor: false });
      expect(node.requireInterceptor).toBe(false);
      expect(await payment).toMatchObject({ status: 'failed', hopIndex: 0, failure: { kind: 'unknownNextPeer' } });
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({ key: { chanId: cluster.payerChannelId(0), htlcId: 0n }, amountMsat: 10_000n, outgoingChanId: node.virtualScid, settled: false, offchain: true });
      expect(bytesToHex(resolved[0]!.paymentHash)).toBe(bytesToHex(invoice.paymentHash));

      await node.restart({ requireInterceptor: true });
      expect(node.requireInterceptor).toBe(true);
    });
  });

  it('onHtlcResolved reports a settled HTLC with its amount and hash', async () => {
    await withCluster({ nodes: 1 }, async ({ cluster, clients }) => {
      const resolved: ResolvedHtlc[] = [];
      const stop = cluster.node(0).onHtlcResolved((r) => resolved.push(r));
      const invoice = virtualInvoice(cluster, 20_000n);
      const interceptor = clients[0]!.interceptor();
      await waitUntil(() => cluster.node(0).interceptorConnected, { what: 'cluster.node(0).interceptorConnected', intervalMs: 5 });
      const payment = cluster.payer.pay(invoice.paymentRequest);
      interceptor.settle(await interceptor.requests.next(), invoice.preimage);
      expect((await payment).status).toBe('succeeded');
      expect(resolved).toMatchObject([{ amountMsat: 20_000n, settled: true, offchain: true }]);
      stop();
      interceptor.cancel();
    });
  });
});
