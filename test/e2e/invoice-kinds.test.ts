/**
 * End to end on the simulator: the invoice kinds beyond the fixed-amount stateless invoice
 * (docs/library.md, "Invoices"), each paid in one part and in parts across two nodes:
 * - amountless: the payer chooses the amount; a minimum is enforced on total_msat;
 * - hold invoices: the application gives the payment hash; lnmux holds the complete set (in auto mode)
 *   until the application settles it with the preimage (a wrong one is refused, the set stays held) or
 *   cancels the invoice;
 * - metadata: the payer echoes the invoice's `m`, the application receives it with the set.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { PreimageError } from '../../src/index.js';
import type { Mux } from '../../src/mux/mux.js';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { sendRawHtlc } from './support/raw-htlc.js';
import { describePayment, expectPaidAndSettled, expectSucceeded, nextEvent as next } from './support/checks.js';
import { newIdentityKey, startMux, stopMux } from './support/mux.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';
import { isSettled } from '../support/wait.js';

const cluster = useCluster();
const PLENTY_MSAT = 10_000_000_000n;

/** Only nodes 0 and 1 can take `eachMsat`: a larger payment must be split across both. */
function splitAcrossTwoNodes(eachMsat: bigint): void {
  const c = cluster();
  c.setInboundLiquidity(0, eachMsat);
  c.setInboundLiquidity(1, eachMsat);
  c.setInboundLiquidity(2, 0n);
}

function firstHops(result: { readonly parts: readonly { readonly firstHop: string }[] }): number {
  return new Set(result.parts.map((p) => p.firstHop)).size;
}

describeEachBackend('invoice kinds (%s)', (backend) => {
  const { store } = useStore(backend);
  let mux: Mux;

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), { identityKey: newIdentityKey() });
  });
  afterAll(async () => {
    await stopMux(cluster(), mux);
  });
  afterEach(() => {
    for (let i = 0; i < cluster().nodes.length; i++) cluster().setInboundLiquidity(i, PLENTY_MSAT);
  });

  it('settles an amountless invoice for the amount the payer chose, in one part', async () => {
    const invoice = await mux.createInvoice({ description: 'tip jar' });
    expect(invoice.amountMsat).toBeUndefined();
    const result = await cluster().payer.pay(invoice.paymentRequest, { amountMsat: 12_345_000n });
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
    expect(result.status === 'succeeded' && result.parts.reduce((s, p) => s + p.amountMsat, 0n)).toBe(12_345_000n);
    expect(await store().getInvoice(invoice.paymentHash)).not.toHaveProperty('amountMsat');
  });

  it('settles an amountless invoice paid in parts across two nodes once the parts reach the payer\'s total', async () => {
    splitAcrossTwoNodes(60_000_000n);
    const invoice = await mux.createInvoice({ minAmountMsat: 50_000_000n, description: 'withdrawal' });
    const result = await cluster().payer.pay(invoice.paymentRequest, { amountMsat: 100_000_000n });
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
    expect(result.status === 'succeeded' && firstHops(result)).toBe(2);
  });

  it('refuses an amountless invoice paid below its minimum, as an unknown invoice', async () => {
    const invoice = await mux.createInvoice({ minAmountMsat: 50_000_000n, description: 'minimum' });
    const result = await cluster().payer.pay(invoice.paymentRequest, { amountMsat: 49_999_999n });
    expect(result.status, describePayment(result)).toBe('failed');
    expect(result.status === 'failed' && result.failure).toMatchObject({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 49_999_999n });
    expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');
  });

  it('holds a hold invoice\'s set in auto mode, refuses a settle without or with a wrong preimage, settles with the right one', async () => {
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest();
    const invoice = await mux.createInvoice({ paymentHash, amountMsat: 20_000_000n, description: 'swap' });
    expect(invoice.hold).toBe(true);
    expect(invoice.preimage).toBeUndefined();
    const accepted = next(mux, 'accepted', paymentHash);
    const payment = cluster().payer.pay(invoice.paymentRequest);
    const event = await accepted;
    expect(event.needsPreimage).toBe(true);
    expect(event.amountMsat).toBe(20_000_000n);

    await expect(mux.settle(event.setId)).rejects.toThrow(PreimageError);
    await expect(mux.settle(event.setId, { preimage: randomBytes(32) })).rejects.toThrow(PreimageError);
    expect(await isSettled(payment)).toBe(false);
    expect((await store().getInvoice(paymentHash))?.state).toBe('open');

    await mux.settle(event.setId, { preimage: bytesToHex(preimage) });
    const result = await payment;
    await expectPaidAndSettled(store(), paymentHash, result);
    expect(bytesToHex((await store().getInvoice(paymentHash))!.preimage!)).toBe(bytesToHex(preimage));
  });

  it('settles a hold invoice paid in parts across two nodes with the application\'s preimage, and hands over the metadata', async () => {
    splitAcrossTwoNodes(30_000_000n);
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest();
    const metadata = Uint8Array.from([0x01, 0xfa, 0xfa, 0xf0]);
    const invoice = await mux.createInvoice({ paymentHash, amountMsat: 50_000_000n, description: 'escrow', metadata });
    const accepted = next(mux, 'accepted', paymentHash);
    const committed = next(mux, 'committed', paymentHash);
    const payment = cluster().payer.pay(invoice.paymentRequest);
    const event = await accepted;
    expect(event.htlcs.length).toBeGreaterThanOrEqual(2);
    expect(event.paymentMetadata).toBe('01fafaf0');
    await mux.settle(event.setId, { preimage });
    expect((await committed).paymentMetadata).toBe('01fafaf0');
    const result = await payment;
    expectSucceeded(result);
    expect(firstHops(result)).toBe(2);
    await expectPaidAndSettled(store(), paymentHash, result);
  });

  it('fails a hold invoice\'s held set when the application cancels it', async () => {
    const paymentHash = randomBytes(32);
    const invoice = await mux.createInvoice({ paymentHash, amountMsat: 7_000_000n, description: 'cancelled swap' });
    const accepted = next(mux, 'accepted', paymentHash);
    const payment = cluster().payer.pay(invoice.paymentRequest);
    await accepted;
    expect((await mux.cancelInvoice(paymentHash)).kind).toBe('cancelled');
    const result = await payment;
    expect(result.status, describePayment(result)).toBe('failed');
    expect(result.status === 'failed' && result.failure?.kind).toBe('incorrectOrUnknownPaymentDetails');
  });

  it('refuses an HTLC for a hold invoice that carries another payment_addr than the invoice\'s, as an unknown invoice', async () => {
    const paymentHash = randomBytes(32);
    await mux.createInvoice({ paymentHash, amountMsat: 7_000_000n, description: 'probed' });
    const spec = {
      node: 0,
      paymentHash,
      virtualPubkey: hexToBytes(mux.nodePubkey),
      amountMsat: 7_000_000n,
      paymentData: { paymentAddr: randomBytes(32), totalMsat: 7_000_000n },
    };
    expect(await sendRawHtlc(cluster(), spec).outcome).toMatchObject({
      kind: 'failed',
      hopIndex: 1,
      failure: { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 7_000_000n, height: cluster().chain.height },
    });
    expect((await store().getInvoice(paymentHash))?.state).toBe('open');
  });
});
