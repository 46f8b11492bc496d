/**
 * End to end on the simulator: invoices made by the Go lnmux itself (test/vectors/go-lnmux, made by its
 * own InvoiceCreator with a fixed identity key and two cluster nodes' keys) stay payable after a switch to
 * this lnmux with the same identity key, when `invoice.acceptGoLnmuxInvoices` is on, and are refused (as
 * unknown invoices) when it is off, the default. The simulated cluster's two nodes have the fixture's node
 * keys, so the payer pays the Go lnmux's payment requests exactly as written (their route hints).
 */
import { readFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import type { Mux } from '../../src/mux/mux.js';
import { hexToBytes } from '../../src/protocol/bytes.js';
import { describePayment, expectPaidAndSettled } from './support/checks.js';
import { startMux, stopMux } from './support/mux.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';

interface GoInvoice {
  readonly amount_msat: string;
  readonly payment_request: string;
  readonly payment_hash: string;
}
const fixture = JSON.parse(readFileSync(new URL('../vectors/go-lnmux/invoices.json', import.meta.url), 'utf8')) as {
  readonly identity_private_key: string;
  readonly invoices: readonly GoInvoice[];
};

/** The two cluster nodes' private keys the fixture's generator used (test/vectors/go-lnmux/README.md, nodeAKeyHex / nodeBKeyHex). */
const NODE_KEYS = [
  '6186e6a984c0dc8a50ee2542fa22a17802eabae1334d121664761aaafdffb511',
  'e28efcc8a841cbabc6cbcbd1f863b6a2c9c37106957e890cc1d2ee162ce7a0d9',
].map(hexToBytes);

const cluster = useCluster({ nodes: 2, nodePrivateKeys: NODE_KEYS });
const PLENTY_MSAT = 10_000_000_000n;

const [single, mpp] = [fixture.invoices[0]!, fixture.invoices[1]!];

describeEachBackend('invoices made by the Go lnmux (%s)', (backend) => {
  const { store } = useStore(backend);
  let mux: Mux | undefined;
  const start = async (acceptGoLnmuxInvoices: boolean): Promise<Mux> => {
    mux = await startMux(cluster(), store(), { identityKey: fixture.identity_private_key, invoice: { acceptGoLnmuxInvoices } });
    return mux;
  };

  afterEach(async () => {
    if (mux !== undefined) await stopMux(cluster(), mux);
    mux = undefined;
    for (let i = 0; i < cluster().nodes.length; i++) cluster().setInboundLiquidity(i, PLENTY_MSAT);
  });

  it('refuses them while invoice.acceptGoLnmuxInvoices is off (the default), as unknown invoices, recording nothing', async () => {
    await start(false);
    const result = await cluster().payer.pay(single.payment_request);
    expect(result.status, describePayment(result)).toBe('failed');
    expect(result.status === 'failed' && result.failure).toMatchObject({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: BigInt(single.amount_msat) });
    expect(await store().getInvoice(hexToBytes(single.payment_hash))).toBeUndefined();
  });

  it('settles one in one part with the setting on, and records it as a goLnmux invoice', async () => {
    await start(true);
    const result = await cluster().payer.pay(single.payment_request);
    const hash = hexToBytes(single.payment_hash);
    await expectPaidAndSettled(store(), hash, result);
    expect(await store().getInvoice(hash)).toMatchObject({ kind: 'goLnmux', amountMsat: BigInt(single.amount_msat), state: 'settled' });
  });

  it('settles one paid in parts across both nodes with the setting on', async () => {
    await start(true);
    const amount = BigInt(mpp.amount_msat);
    cluster().setInboundLiquidity(0, (amount * 6n) / 10n);
    cluster().setInboundLiquidity(1, (amount * 6n) / 10n);
    const result = await cluster().payer.pay(mpp.payment_request);
    await expectPaidAndSettled(store(), hexToBytes(mpp.payment_hash), result);
    expect(result.status === 'succeeded' && new Set(result.parts.map((p) => p.firstHop)).size).toBe(2);
  });

  it('keeps the settled Go invoice\'s preimage with its commit, and refuses a second payment of it, setting on or off', async () => {
    const hash = hexToBytes(single.payment_hash);
    const stored = await store().getInvoice(hash);
    expect(stored?.kind).toBe('goLnmux');
    expect(stored?.preimage).toBeDefined();
    for (const on of [true, false]) {
      const m = await start(on);
      const again = await cluster().payer.pay(single.payment_request);
      expect(again.status, describePayment(again)).toBe('failed');
      expect(again.status === 'failed' && again.failure?.kind).toBe('incorrectOrUnknownPaymentDetails');
      await stopMux(cluster(), m);
      mux = undefined;
    }
  });
});
