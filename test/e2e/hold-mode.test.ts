/**
 * End to end: hold mode. lnmux tells the application that a complete set is
 * accepted (amount, parts) and waits; settle(setId) settles it, cancelInvoice fails its parts, and the
 * cancel is durable: a later payment fails too, also after lnmux restarts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Mux, MuxEvents } from '../../src/mux/mux.js';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { describePayment, expectPaidAndSettled, expectSucceeded, nextEvent as next, partKey } from './support/checks.js';
import { newIdentityKey, startMux, stopMux } from './support/mux.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';
import { isSettled, within } from '../support/wait.js';

const cluster = useCluster();
const PLENTY_MSAT = 10_000_000_000n;

type Accepted = MuxEvents['accepted'][0];
type Released = MuxEvents['released'][0];

describeEachBackend('hold mode (%s)', (backend) => {
  const { store } = useStore(backend);
  const identityKey = newIdentityKey();
  const settings = { identityKey, settlement: { mode: 'hold' as const } };
  let mux: Mux;

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), settings);
  });
  afterAll(async () => {
    await stopMux(cluster(), mux);
  });
  afterEach(() => {
    for (let i = 0; i < cluster().nodes.length; i++) cluster().setInboundLiquidity(i, PLENTY_MSAT);
  });

  it('announces a complete multi-part set as accepted with its amount and parts, holds it, and settles it on settle(setId)', async () => {
    const c = cluster();
    c.setInboundLiquidity(0, 70_000_000n);
    c.setInboundLiquidity(1, 70_000_000n);
    c.setInboundLiquidity(2, 0n);
    const invoice = await mux.createInvoice({ amountMsat: 100_000_000n, description: 'held, then settled' });
    const accepted = next(mux, 'accepted', invoice.paymentHash);
    const settled = next(mux, 'committed', invoice.paymentHash);
    const payment = c.payer.pay(invoice.paymentRequest);

    const event: Accepted = await accepted;
    expect(event.amountMsat).toBe(100_000_000n);
    expect(event.htlcs.length).toBeGreaterThanOrEqual(2);
    expect(event.htlcs.reduce((sum, h) => sum + h.amountMsat, 0n)).toBe(100_000_000n);
    // Accepted is not settled: nothing is committed and the payer still waits.
    expect(await isSettled(payment)).toBe(false);
    expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('open');

    await mux.settle(event.setId);
    expect((await settled).setId).toBe(event.setId);
    const result = await payment;
    expectSucceeded(result);
    expect(event.htlcs.map((h) => `${h.circuitKey}=${h.amountMsat}`).sort()).toEqual(
      result.parts.map((p) => `${partKey(p)}=${p.amountMsat}`).sort(),
    );
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
    expect((await store().getInvoice(invoice.paymentHash))).toMatchObject({ setId: Uint8Array.from(Buffer.from(event.setId, 'hex')) });
  });

  it('fails the held parts when the invoice is cancelled (incorrect_or_unknown_payment_details), and fails every later payment, also after a restart', async () => {
    const c = cluster();
    const invoice = await mux.createInvoice({ amountMsat: 30_000_000n, description: 'held, then cancelled' });
    const accepted = next(mux, 'accepted', invoice.paymentHash);
    const released = next(mux, 'released', invoice.paymentHash);
    const payment = c.payer.pay(invoice.paymentRequest);
    const event = await accepted;

    expect((await mux.cancelInvoice(invoice.paymentHash)).kind).toBe('cancelled');
    const release: Released = await released;
    expect(release).toEqual({ paymentHash: bytesToHex(invoice.paymentHash), setId: event.setId, reason: 'invoiceCancelled' });
    const expectRefused = (result: Awaited<typeof payment>) => {
      expect(result.status, describePayment(result)).toBe('failed');
      expect(result.status === 'failed' && result.reason).toBe('rejected');
      expect(result.status === 'failed' && result.failure?.kind).toBe('incorrectOrUnknownPaymentDetails');
    };
    expectRefused(await payment);
    await expect(mux.settle(event.setId)).rejects.toMatchObject({ name: 'UnknownSetError' });
    expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('cancelled');
    expect(await store().listInvoiceHtlcs(invoice.paymentHash)).toEqual([]);

    expectRefused(await within(c.payer.pay(invoice.paymentRequest), 'a later payment to be refused'));

    await stopMux(c, mux);
    mux = await startMux(c, store(), settings);
    expectRefused(await within(c.payer.pay(invoice.paymentRequest), 'a payment after the restart to be refused'));
    expect((await store().getInvoice(invoice.paymentHash))?.state).toBe('cancelled');
  });

  it('refuses settle() of a set id it never accepted with UnknownSetError', async () => {
    await expect(mux.settle(randomBytes(32))).rejects.toMatchObject({ name: 'UnknownSetError' });
  });

  it('refuses a set id, preimage or hash that is not 32 bytes with a TypeError at once', async () => {
    expect(() => mux.settle(randomBytes(33))).toThrow(/expected 32 bytes, got 33/);
    expect(() => mux.settle(randomBytes(200_000))).toThrow(TypeError);
    expect(() => mux.settle(randomBytes(32), { preimage: randomBytes(31) })).toThrow(/expected 32 bytes, got 31/);
    await expect(async () => mux.cancelInvoice(new Uint8Array(0))).rejects.toThrow(TypeError);
    expect(() => mux.getInvoice(randomBytes(64))).toThrow(TypeError);
    // The engine still answers.
    await expect(mux.settle(randomBytes(32))).rejects.toMatchObject({ name: 'UnknownSetError' });
  });
});
