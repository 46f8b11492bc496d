/**
 * End to end: lnmux in front of a simulated 3-node cluster (real gRPC, TLS,
 * macaroons, onions) receives payments through one node, split across two, with a node down and with
 * a node out of inbound liquidity; every payment settles and the store agrees. On PGlite and, when
 * LNMUX_TEST_DATABASE_URL is set, on PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Mux } from '../../src/mux/mux.js';
import { expectPaidAndSettled, expectSucceeded } from './support/checks.js';
import { startMux, stopMux } from './support/mux.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';
import { waitUntil } from '../support/wait.js';

const cluster = useCluster();
const PLENTY_MSAT = 10_000_000_000n;

describeEachBackend('payments through the cluster (%s)', (backend) => {
  const { store } = useStore(backend);
  let mux: Mux;

  beforeAll(async () => {
    mux = await startMux(cluster(), store());
  });
  afterAll(async () => {
    await stopMux(cluster(), mux);
  });
  afterEach(async () => {
    const c = cluster();
    for (let i = 0; i < c.nodes.length; i++) c.setInboundLiquidity(i, PLENTY_MSAT);
    await Promise.all(c.nodes.map((n) => n.start()));
    await waitUntil(() => c.nodes.every((n) => n.interceptorConnected), { what: 'lnmux to intercept on every node again' });
  });

  it('settles a single-part payment: the payer gets the preimage, the store shows the invoice and its one HTLC settled', async () => {
    const invoice = await mux.createInvoice({ amountMsat: 50_000_000n, description: 'single part' });
    const result = await cluster().payer.pay(invoice.paymentRequest);
    expectSucceeded(result);
    expect(result.parts).toHaveLength(1);
    const htlcs = await expectPaidAndSettled(store(), invoice.paymentHash, result);
    expect(htlcs).toHaveLength(1);
  });

  it('settles a multi-part payment split across two nodes, each short of the whole amount', async () => {
    const c = cluster();
    c.setInboundLiquidity(0, 100_000_000n);
    c.setInboundLiquidity(1, 100_000_000n);
    c.setInboundLiquidity(2, 0n);
    const invoice = await mux.createInvoice({ amountMsat: 150_000_000n, description: 'multi-part' });
    const result = await c.payer.pay(invoice.paymentRequest);
    expectSucceeded(result);
    const nodes = new Set(result.parts.map((p) => p.firstHop));
    expect(nodes).toEqual(new Set([c.nodeInfos()[0]!.pubkey, c.nodeInfos()[1]!.pubkey]));
    const htlcs = await expectPaidAndSettled(store(), invoice.paymentHash, result);
    expect(htlcs.length).toBeGreaterThanOrEqual(2);
  });

  it('settles through another route hint when the first node is down', async () => {
    const c = cluster();
    await c.node(0).stop();
    const invoice = await mux.createInvoice({ amountMsat: 40_000_000n, description: 'node down' });
    const result = await c.payer.pay(invoice.paymentRequest);
    expectSucceeded(result);
    const down = c.nodeInfos()[0]!.pubkey;
    expect(result.attempts.filter((a) => a.firstHop === down).map((a) => a.outcome)).toEqual([{ kind: 'refused', refusal: 'peerOffline' }]);
    expect(result.parts.every((p) => p.firstHop !== down)).toBe(true);
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
  });

  it('settles through another route hint when the first node has no inbound liquidity left', async () => {
    const c = cluster();
    c.setInboundLiquidity(0, 0n);
    const invoice = await mux.createInvoice({ amountMsat: 60_000_000n, description: 'liquidity exhausted' });
    const result = await c.payer.pay(invoice.paymentRequest);
    expectSucceeded(result);
    const dry = c.nodeInfos()[0]!.pubkey;
    expect(result.attempts.filter((a) => a.firstHop === dry).map((a) => a.outcome)).toEqual([{ kind: 'refused', refusal: 'insufficientBalance' }]);
    expect(result.parts.every((p) => p.firstHop !== dry)).toBe(true);
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
  });
});
