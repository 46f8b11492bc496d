/**
 * End to end, docs/architecture.md, invariant 7: a set counts only live parts. A part that its
 * node stops holding behind lnmux's back must leave its set, or a retry of that amount through another
 * node "completes" the set with a dead part and the payer gets the preimage for half the invoice.
 *
 * The parts are hand-made HTLCs (one per cluster node, each paying half of the invoice in one MPP
 * payment), so that the test chooses which node carries which part and when.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mux } from '../../src/mux/mux.js';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { circuitKeyString } from '../../src/protocol/index.js';
import { sha256Hex } from './support/checks.js';
import { intercepting, startMux, stopMux } from './support/mux.js';
import { sendRawHtlc, type RawHtlcSpec, type SentHtlc } from './support/raw-htlc.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';
import { isSettled, quietFor, waitUntil, within } from '../support/wait.js';

const cluster = useCluster();

const AMOUNT_MSAT = 100_000_000n;
const HALF_MSAT = AMOUNT_MSAT / 2n;

describeEachBackend('a part its node no longer holds leaves its set (%s)', (backend) => {
  const { store } = useStore(backend);

  async function half(mux: Mux, invoice: { paymentHash: Uint8Array; paymentAddr: Uint8Array }, node: number, spec: Partial<RawHtlcSpec> = {}): Promise<SentHtlc> {
    const sent = sendRawHtlc(cluster(), {
      node,
      paymentHash: invoice.paymentHash,
      virtualPubkey: hexToBytes(mux.nodePubkey),
      amountMsat: HALF_MSAT,
      paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: AMOUNT_MSAT },
      ...spec,
    });
    expect(sent.htlcId, 'the cluster node refused the HTLC').toBeGreaterThanOrEqual(0n);
    return sent;
  }

  describe('a node restarted without --requireinterceptor', () => {
    let mux: Mux;
    beforeAll(async () => {
      mux = await startMux(cluster(), store());
    });
    afterAll(async () => {
      if (!cluster().node(0).requireInterceptor) await cluster().node(0).restart({ requireInterceptor: true });
      await stopMux(cluster(), mux);
    });

    it('drops the part it failed, holds the other half alone, and settles only when live parts pay the whole invoice', async () => {
      const c = cluster();
      const invoice = await mux.createInvoice({ amountMsat: AMOUNT_MSAT, description: 'half lost at A' });
      const lost: { circuitKey: string; reason: string }[] = [];
      mux.on('partLost', (e) => lost.push(e));
      const nodes: { reason: string }[] = [];
      mux.on('node', (e) => {
        if (e.pubkey === bytesToHex(c.node(0).publicKey) && e.state === 'refused') nodes.push({ reason: e.detail ?? '' });
      });

      const a = await half(mux, invoice, 0);
      await waitUntil(() => mux.heldHtlcCount === 1, { what: 'lnmux to hold the first half at node A' });

      // A restarts without the interceptor: it replays its HTLC to the switch, which forwards it over a
      // channel that does not exist. The payer sees A fail it; lnmux is not asked.
      await c.node(0).restart({ requireInterceptor: false });
      const aOutcome = await within(a.outcome, 'node A to fail the replayed part');
      expect(aOutcome).toMatchObject({ kind: 'failed', hopIndex: 0 });

      // lnmux learns it when A's checks refuse the node: the part leaves its set; the node state says why.
      const aKey = circuitKeyString({ nodePubkey: c.node(0).publicKey, chanId: a.chanId, htlcId: a.htlcId });
      await waitUntil(() => lost.some((e) => e.circuitKey === aKey), { what: 'lnmux to drop the part node A failed' });
      expect(lost.find((e) => e.circuitKey === aKey)?.reason).toBe('nodeWithoutInterceptor');
      expect(nodes.some((n) => n.reason.includes('--requireinterceptor'))).toBe(true);
      expect(mux.heldHtlcCount).toBe(0);

      // The payer retries the lost half through B: with A's dead part counted, this would complete the
      // set and release the preimage for half the invoice. It must wait instead.
      const b = await half(mux, invoice, 1);
      await waitUntil(() => mux.heldHtlcCount === 1, { what: 'lnmux to hold the retried half at node B' });
      await quietFor(300); // the point: the half alone does not settle meanwhile (asserted below)
      expect(await isSettled(b.outcome)).toBe(false);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');

      // The other half through C: now live parts cover the invoice, and both settle.
      const cPart = await half(mux, invoice, 2);
      const [bOutcome, cOutcome] = await within(Promise.all([b.outcome, cPart.outcome]), 'both live halves to settle');
      expect(bOutcome.kind).toBe('settled');
      expect(cOutcome.kind).toBe('settled');
      if (bOutcome.kind === 'settled') expect(sha256Hex(bOutcome.preimage)).toBe(bytesToHex(invoice.paymentHash));

      const htlcs = await store().listInvoiceHtlcs(invoice.paymentHash);
      expect(htlcs.map((h) => circuitKeyString(h)).sort()).toEqual(
        [
          circuitKeyString({ nodePubkey: c.node(1).publicKey, chanId: b.chanId, htlcId: b.htlcId }),
          circuitKeyString({ nodePubkey: c.node(2).publicKey, chanId: cPart.chanId, htlcId: cPart.htlcId }),
        ].sort(),
      );
      expect(htlcs.reduce((sum, h) => sum + h.amountMsat, 0n)).toBe(AMOUNT_MSAT);

      // The operator's answer to "what happened to this payment": three parts joined, A's was lost.
      await waitUntil(async () => (await mux.htlcLog(invoice.paymentHash)).length === 4, { what: 'the HTLC log' });
      const log = await mux.htlcLog(invoice.paymentHash);
      expect(log.filter((e) => e.event === 'accepted').length).toBe(3);
      expect(log.filter((e) => e.event !== 'accepted').map((e) => [circuitKeyString(e.key), e.event, e.reason])).toEqual([
        [aKey, 'lost', 'nodeWithoutInterceptor'],
      ]);

      await c.node(0).restart({ requireInterceptor: true });
      await waitUntil(() => intercepting(c), { what: 'lnmux to intercept on node A again' });
    });
  });

  describe("a part near its node's auto-fail height", () => {
    let mux: Mux;
    beforeAll(async () => {
      // A small virtual-hop delta puts the node's auto-fail height (incoming expiry - 19) one block after
      // the part's own expiry, so the auto-fail margin (3 blocks), not the expiry margin, fails it first.
      mux = await startMux(cluster(), store(), { routing: { cltvExpiryDelta: 20 }, settlement: { expiryMarginBlocks: 1 } });
    });
    afterAll(async () => {
      await stopMux(cluster(), mux);
    });

    it('is failed by lnmux, as the final node, before its node would fail it', async () => {
      const c = cluster();
      const invoice = await mux.createInvoice({ amountMsat: AMOUNT_MSAT, description: 'held too long' });
      const a = await half(mux, invoice, 0, { cltvDelta: 20 });
      await waitUntil(() => mux.heldHtlcCount === 1, { what: 'lnmux to hold the part' });
      const autoFailHeight = c.chain.height + 43 + 20 - 19;
      let failedAt: number | undefined;
      void a.outcome.then(() => (failedAt = c.chain.height));
      while (failedAt === undefined && c.chain.height < autoFailHeight) {
        c.mine(1);
        // Pacing, not a wait for an event: one block every 150 ms, as a chain does, so that lnmux (which
        // shows no block height to wait on) sees each block and can answer before the next one.
        await quietFor(150);
      }
      const outcome = await a.outcome;
      // Failed by the virtual node (hop 1) with its usual message, not by node A (hop 0) at auto-fail.
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 1, failure: { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: HALF_MSAT } });
      expect(failedAt).toBe(autoFailHeight - 3);
    });
  });
});
