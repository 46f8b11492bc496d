/**
 * End to end: every way a payment to lnmux fails, as the payer reads
 * it back (the failure onion decrypted with the route's shared secrets, the BOLT 4 message decoded):
 * unknown invoices (never recorded, or a payment_addr lnmux did not make), expired, cancelled,
 * wrong-amount and already-settled ones all give the same incorrect_or_unknown_payment_details;
 * HTLC/payload mismatches give final_incorrect_*; a virtual hop paid too little fails at the cluster
 * node; a lone part of an MPP payment times out with mpp_timeout; an onion lnmux cannot read (another
 * virtual node's, or garbage) or a malformed payload fails that HTLC only, and the next payment settles.
 *
 * Not reachable end to end: an onion with a wrong version byte or an invalid ephemeral key. The cluster
 * node peels its own layer and writes the next onion itself (version 0, its blinded key), as LND does;
 * those two cases are covered at the registry level (test/mux/inspect.test.ts).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInvoice } from '../../src/mux/invoice-factory.js';
import type { Mux } from '../../src/mux/mux.js';
import { decodeInvoice } from '../../src/protocol/bolt11.js';
import { hexToBytes } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { peelOnion } from '../../src/protocol/sphinx-peel.js';
import { keyPairOf } from '../../src/sim/keys.js';
import type { PaymentResult } from '../../src/sim/payer.js';
import { virtualInvoice } from '../sim/virtual-invoice.js';
import { describePayment, expectPaidAndSettled } from './support/checks.js';
import { newIdentityKey, startMux, stopMux } from './support/mux.js';
import { buildRawOnion, sendRawHtlc, type RawHtlcSpec, type RawOutcome } from './support/raw-htlc.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';
import { waitUntil } from '../support/wait.js';

const cluster = useCluster();

/** The virtual hop's policy in this file: a fee, so that paying too little can be tried. */
const FEE_BASE_MSAT = 1_000;
const FEE_PPM = 100;
const MPP_TIMEOUT_SECONDS = 1;

function virtualHopFee(amountMsat: bigint): bigint {
  return BigInt(FEE_BASE_MSAT) + (amountMsat * BigInt(FEE_PPM)) / 1_000_000n;
}

describeEachBackend('payments that fail, and what the payer reads (%s)', (backend) => {
  const { store } = useStore(backend);
  const identityKey = newIdentityKey();
  let mux: Mux;
  let virtualPubkey: Uint8Array;

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), {
      identityKey,
      routing: { feeBaseMsat: FEE_BASE_MSAT, feeProportionalMillionths: FEE_PPM },
      settlement: { mppTimeoutSeconds: MPP_TIMEOUT_SECONDS },
    });
    virtualPubkey = hexToBytes(mux.nodePubkey);
  });
  afterAll(async () => {
    await stopMux(cluster(), mux);
  });

  /** What every invoice-level refusal looks like: the same message from the virtual node. */
  function expectUnknownDetails(result: PaymentResult, amountMsat: bigint): void {
    expect(result.status, describePayment(result)).toBe('failed');
    if (result.status !== 'failed') return;
    expect(result.reason).toBe('rejected');
    expect(result.hopIndex).toBe(1);
    expect(result.erringNode).toBe(mux.nodePubkey);
    expect(result.failure).toMatchObject({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: amountMsat, height: cluster().chain.height });
  }

  function expectRawUnknownDetails(outcome: RawOutcome, amountMsat: bigint): void {
    expect(outcome).toMatchObject({
      kind: 'failed',
      hopIndex: 1,
      failure: { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: amountMsat, height: cluster().chain.height },
    });
  }

  /** A raw HTLC paying the virtual hop's fee, for invoice `invoice` unless the spec says otherwise. */
  function rawSpec(invoice: { paymentHash: Uint8Array; paymentAddr: Uint8Array; amountMsat?: bigint }, spec: Partial<RawHtlcSpec> = {}): RawHtlcSpec {
    const amountMsat = spec.amountMsat ?? invoice.amountMsat!;
    return {
      node: 0,
      paymentHash: invoice.paymentHash,
      virtualPubkey,
      amountMsat,
      feeMsat: virtualHopFee(amountMsat),
      paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: invoice.amountMsat! },
      ...spec,
    };
  }

  /** A hand-made HTLC that lnmux settled: the payer holds the invoice's preimage and the store shows the invoice settled. */
  async function expectRawSettled(outcome: RawOutcome, paymentHash: Uint8Array): Promise<void> {
    expect(outcome.kind, JSON.stringify(outcome, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).toBe('settled');
    if (outcome.kind !== 'settled') return;
    expect(createHash('sha256').update(outcome.preimage).digest()).toEqual(Buffer.from(paymentHash));
    await waitUntil(async () => (await store().getInvoice(paymentHash))?.state === 'settled', { what: 'the store to show the invoice settled' });
  }

  async function expectNextPaymentSettles(): Promise<void> {
    const invoice = await mux.createInvoice({ amountMsat: 12_345_000n, description: 'after a bad HTLC' });
    await expectPaidAndSettled(store(), invoice.paymentHash, await cluster().payer.pay(invoice.paymentRequest));
  }

  describe('invoice-level refusals all read incorrect_or_unknown_payment_details', () => {
    it('fails a payment of an invoice that carries our signature and a valid payment_addr but was never recorded', async () => {
      const c = cluster();
      const invoice = makeInvoice(
        { amountMsat: 21_000_000n, description: 'never recorded' },
        {
          keyring: deriveKeyring(hexToBytes(identityKey)),
          network: 'regtest',
          nodes: c.nodes.map((n) => ({ pubkey: n.publicKey, virtualChannelId: n.virtualScid })),
          feeBaseMsat: FEE_BASE_MSAT,
          feeProportionalMillionths: FEE_PPM,
          cltvExpiryDelta: 40,
          minFinalCltvExpiryDelta: 40,
          defaultExpirySeconds: 3600,
        },
        Date.now() / 1000,
      );
      expectUnknownDetails(await c.payer.pay(invoice.paymentRequest), 21_000_000n);
      expect(await store().getInvoice(invoice.paymentHash)).toBeUndefined();
    });

    it('fails an HTLC whose payment_addr lnmux did not make (a hand-made invoice for its key, random secret)', async () => {
      const forged = virtualInvoice(cluster(), 22_000_000n, { virtualKey: keyPairOf(hexToBytes(identityKey)) });
      const spec = rawSpec({ paymentHash: forged.paymentHash, paymentAddr: forged.paymentSecret, amountMsat: 22_000_000n });
      expectRawUnknownDetails(await sendRawHtlc(cluster(), spec).outcome, 22_000_000n);
    });

    it('fails an expired invoice paid after its expiry (the payer told it is still valid)', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 23_000_000n, description: 'expires at once', expirySeconds: 1 });
      await waitUntil(() => Date.now() >= invoice.expiresAt * 1000 + 50, { what: 'the invoice to expire' });
      expectUnknownDetails(await cluster().payer.pay(invoice.paymentRequest, { nowSeconds: invoice.createdAt }), 23_000_000n);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
    });

    it('fails a cancelled invoice', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 24_000_000n, description: 'cancelled first' });
      expect((await mux.cancelInvoice(invoice.paymentHash)).kind).toBe('cancelled');
      expectUnknownDetails(await cluster().payer.pay(invoice.paymentRequest), 24_000_000n);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('cancelled');
    });

    it('fails an HTLC whose MPP total_msat is below the invoice amount', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 25_000_000n, description: 'wrong total' });
      const spec = rawSpec(invoice, { amountMsat: 24_000_000n, paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: 24_000_000n } });
      expectRawUnknownDetails(await sendRawHtlc(cluster(), spec).outcome, 24_000_000n);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
    });

    it('settles an HTLC that pays more than the invoice amount (amt_to_forward above it, total_msat the invoice amount), as LND does', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 26_000_000n, description: 'overpaid' });
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { amountMsat: 26_000_001n })).outcome;
      await expectRawSettled(outcome, invoice.paymentHash);
      expect((await store().listInvoiceHtlcs(invoice.paymentHash)).map((h) => h.amountMsat)).toEqual([26_000_001n]);
    });

    it('settles a two-part payment whose total_msat is above the invoice amount once its parts reach total_msat, not before', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 35_000_000n, description: 'total above the amount' });
      const paymentData = { paymentAddr: invoice.paymentAddr, totalMsat: 40_000_000n };
      // 35,000,000 msat reach the invoice amount but not the payer's total: the set waits.
      const first = sendRawHtlc(cluster(), rawSpec(invoice, { node: 0, amountMsat: 35_000_000n, paymentData }));
      const pending = new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 300));
      expect(await Promise.race([first.outcome, pending])).toBe('pending');
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
      const second = sendRawHtlc(cluster(), rawSpec(invoice, { node: 1, amountMsat: 5_000_000n, paymentData }));
      await expectRawSettled(await first.outcome, invoice.paymentHash);
      await expectRawSettled(await second.outcome, invoice.paymentHash);
      expect((await store().listInvoiceHtlcs(invoice.paymentHash)).map((h) => h.amountMsat).sort()).toEqual([35_000_000n, 5_000_000n].sort());
    });

    it('fails a second payment of an invoice already settled, and keeps the first set as the only one', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 27_000_000n, description: 'paid twice' });
      const first = await cluster().payer.pay(invoice.paymentRequest);
      const settled = await expectPaidAndSettled(store(), invoice.paymentHash, first);
      expectUnknownDetails(await cluster().payer.pay(invoice.paymentRequest), 27_000_000n);
      expect(await store().listInvoiceHtlcs(invoice.paymentHash)).toEqual(settled);
    });
  });

  describe('HTLC-level refusals', () => {
    it('fails an HTLC whose amount is below the payload amt_to_forward with final_incorrect_htlc_amount', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 30_000_000n, description: 'amount mismatch' });
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { finalAmountMsat: 30_000_001n })).outcome;
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 1, failure: { kind: 'finalIncorrectHtlcAmount', incomingHtlcAmtMsat: 30_000_000n } });
    });

    it('fails an HTLC whose expiry is below the payload outgoing_cltv_value with final_incorrect_cltv_expiry', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 31_000_000n, description: 'cltv mismatch' });
      const c = cluster();
      const built = buildRawOnion(c, rawSpec(invoice));
      const outgoingExpiry = built.expiry - 40;
      const outcome = await sendRawHtlc(c, rawSpec(invoice, { finalCltv: outgoingExpiry + 1 })).outcome;
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 1, failure: { kind: 'finalIncorrectCltvExpiry', cltvExpiry: outgoingExpiry } });
    });

    it('settles an HTLC whose amount is above its payload amt_to_forward (the payer adds noise)', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 30_500_000n, description: 'amount above amt_to_forward' });
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { amountMsat: 30_500_007n, finalAmountMsat: 30_500_000n, paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: 30_500_000n } })).outcome;
      await expectRawSettled(outcome, invoice.paymentHash);
    });

    it('settles an HTLC whose expiry is above its payload outgoing_cltv_value (the payer adds noise)', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 31_500_000n, description: 'expiry above outgoing_cltv_value' });
      const c = cluster();
      const outgoingExpiry = buildRawOnion(c, rawSpec(invoice)).expiry - 40;
      const outcome = await sendRawHtlc(c, rawSpec(invoice, { finalCltv: outgoingExpiry - 2 })).outcome;
      await expectRawSettled(outcome, invoice.paymentHash);
    });

    it("fails an HTLC whose expiry is below the height plus the invoice's min_final_cltv_expiry_delta with incorrect_or_unknown_payment_details; at the height plus c it settles", async () => {
      const invoice = await mux.createInvoice({ amountMsat: 31_700_000n, description: 'final cltv too soon' });
      const minFinal = decodeInvoice(invoice.paymentRequest);
      if (!minFinal.ok) throw new Error('lnmux made an invoice it cannot decode');
      const cDelta = minFinal.value.minFinalCltvExpiryDelta!;
      expect(cDelta).toBe(40);
      // The payload asks exactly what the HTLC carries: only the invoice's c can refuse it.
      expectRawUnknownDetails(await sendRawHtlc(cluster(), rawSpec(invoice, { finalCltvDelta: cDelta - 1 })).outcome, 31_700_000n);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
      await expectRawSettled(await sendRawHtlc(cluster(), rawSpec(invoice, { finalCltvDelta: cDelta })).outcome, invoice.paymentHash);
    });

    it('fails an HTLC that pays the virtual hop less than its fee with temporary_channel_failure from the cluster node', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 32_000_000n, description: 'fee too low' });
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { feeMsat: virtualHopFee(32_000_000n) - 1n })).outcome;
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 0, failure: { kind: 'temporaryChannelFailure' } });
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
    });

    it('fails an HTLC that leaves the virtual hop less than its CLTV delta with temporary_channel_failure from the cluster node', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 33_000_000n, description: 'cltv delta too small' });
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { cltvDelta: 39 })).outcome;
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 0, failure: { kind: 'temporaryChannelFailure' } });
    });

    it('fails a lone part of a multi-part payment with mpp_timeout after the configured timeout; the invoice stays payable', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 34_000_000n, description: 'lone part' });
      const startedAt = Date.now();
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { amountMsat: 17_000_000n })).outcome;
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 1, failure: { kind: 'mppTimeout' } });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(MPP_TIMEOUT_SECONDS * 1000);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
      await expectPaidAndSettled(store(), invoice.paymentHash, await cluster().payer.pay(invoice.paymentRequest));
    });
  });

  describe('bad input from the network harms only its HTLC', () => {
    it('cannot read an HTLC for another virtual node (an invoice of another identity key): the cluster node reports invalid_onion_hmac', async () => {
      const other = virtualInvoice(cluster(), 22_500_000n);
      const spec = rawSpec({ paymentHash: other.paymentHash, paymentAddr: other.paymentSecret, amountMsat: 22_500_000n }, { virtualPubkey: other.virtualKey.publicKey });
      expect(await sendRawHtlc(cluster(), spec).outcome).toMatchObject({ kind: 'failed', hopIndex: 0, failure: { kind: 'invalidOnionHmac' } });
    });

    it('fails an HTLC whose onion for the virtual node is garbage with invalid_onion_hmac naming that onion, then settles the next payment', async () => {
      const c = cluster();
      const invoice = await mux.createInvoice({ amountMsat: 40_000_000n, description: 'garbage onion' });
      const sent = sendRawHtlc(c, rawSpec(invoice, { garbleNextOnion: true }));
      // What the cluster node forwarded to lnmux: its own layer peeled off the garbled onion.
      const peeled = peelOnion(sent.onion, invoice.paymentHash, ecdhWithPrivateKey(c.node(0).keys.privateKey));
      if (!peeled.ok || peeled.value.next.kind !== 'forward') throw new Error('the cluster node cannot peel its layer');
      const forwarded = peeled.value.next.onion;
      expect(await sent.outcome).toEqual({
        kind: 'failed',
        hopIndex: 0,
        failure: { kind: 'invalidOnionHmac', sha256OfOnion: new Uint8Array(createHash('sha256').update(forwarded).digest()) },
      });
      await expectNextPaymentSettles();
    });

    it('fails an HTLC whose final payload is not a valid TLV stream with invalid_onion_payload, then settles the next payment', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 42_000_000n, description: 'malformed payload' });
      // Types out of order (4 before 2): BOLT 1 says the stream is invalid.
      const payload = Uint8Array.from([0x04, 0x01, 0x10, 0x02, 0x01, 0x05]);
      const outcome = await sendRawHtlc(cluster(), rawSpec(invoice, { finalPayloadBytes: payload })).outcome;
      expect(outcome).toMatchObject({ kind: 'failed', hopIndex: 1, failure: { kind: 'invalidOnionPayload' } });
      await expectNextPaymentSettles();
    });

    it('fails an HTLC whose final payload is in the legacy (pre-TLV) format with incorrect_or_unknown_payment_details, as LND does', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 44_000_000n, description: 'legacy payload' });
      expectRawUnknownDetails(await sendRawHtlc(cluster(), rawSpec(invoice, { legacyFinal: true })).outcome, 44_000_000n);
      expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
      await expectNextPaymentSettles();
    });

    it('fails an HTLC whose final payload lacks the MPP record with incorrect_or_unknown_payment_details, then settles the next payment', async () => {
      const invoice = await mux.createInvoice({ amountMsat: 43_000_000n, description: 'no payment data' });
      const { paymentData: _omitted, ...spec } = rawSpec(invoice);
      expectRawUnknownDetails(await sendRawHtlc(cluster(), spec).outcome, 43_000_000n);
      await expectNextPaymentSettles();
    });
  });
});
