/**
 * End to end, docs/architecture.md, invariants 5 and 1 when the database misbehaves, with a store wrapper between
 * lnmux and the real store:
 * - invariant 5: a regular forward (not for the virtual channel) is RESUMEd and reaches its recipient
 *   while lnmux's database calls hang;
 * - invariant 1: while the settle commit fails with a retryable StoreUnavailableError, every part stays
 *   held and no SETTLE goes out; once the commit succeeds the payment completes.
 */
import { afterEach, expect, it } from 'vitest';
import type { Mux } from '../../src/mux/mux.js';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { StoreUnavailableError } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { expectPaidAndSettled, expectSucceeded, sha256Hex } from './support/checks.js';
import { sharedStore, startMux, stopMux } from './support/mux.js';
import { describeEachBackend, useCluster, useStore } from './support/setup.js';
import { isSettled, waitUntil, within } from '../support/wait.js';

const cluster = useCluster();
const PLENTY_MSAT = 10_000_000_000n;

/** How many HTLCs of `paymentHash` the nodes hold for the interceptor, and how many they resolved. */
function partsOf(paymentHash: Uint8Array): { held: number; resolved: number } {
  const hash = bytesToHex(paymentHash);
  let held = 0;
  let resolved = 0;
  for (const node of cluster().nodes) {
    for (const h of node.pendingHtlcs()) {
      if (bytesToHex(h.paymentHash) !== hash) continue;
      if (h.state === 'intercept') held++;
      if (h.state === 'resolved') resolved++;
    }
  }
  return { held, resolved };
}

describeEachBackend('lnmux while its database is unreachable (%s)', (backend) => {
  const { store } = useStore(backend);
  let mux: Mux | undefined;

  afterEach(async () => {
    if (mux !== undefined) await stopMux(cluster(), mux);
    mux = undefined;
    for (let i = 0; i < cluster().nodes.length; i++) cluster().setInboundLiquidity(i, PLENTY_MSAT);
  });

  it('resumes a regular forward to its recipient while its invoice lookups hang, then settles the held payment once they answer', async () => {
    const c = cluster();
    let release!: () => void;
    const databaseBack = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    const hanging: Store['getInvoiceForHtlc'] = async (hash, key) => {
      lookups++;
      await databaseBack;
      return store().getInvoiceForHtlc(hash, key);
    };
    // A part that completes its set alone is committed without a lookup: the commit hangs as well.
    const hangingCommit: Store['commitSettle'] = async (...args) => {
      lookups++;
      await databaseBack;
      return store().commitSettle(...args);
    };
    mux = await startMux(c, sharedStore(store(), { getInvoiceForHtlc: hanging, commitSettle: hangingCommit }));
    const invoice = await mux.createInvoice({ amountMsat: 20_000_000n, description: 'waits for the database' });
    const virtual = c.payer.pay(invoice.paymentRequest);
    await waitUntil(() => lookups > 0, { what: 'lnmux to look the invoice up' });

    try {
      const regular = c.recipientInvoice(1, 5_000_000n);
      const forwarded = await within(c.payer.pay(regular.paymentRequest), 'the regular forward while the database hangs');
      expectSucceeded(forwarded);
      expect(sha256Hex(forwarded.preimage)).toBe(bytesToHex(regular.paymentHash));
      expect(c.recipients[1]!.isSettled(regular.paymentHash)).toBe(true);
      expect(await isSettled(virtual)).toBe(false);
      expect(partsOf(invoice.paymentHash)).toEqual({ held: 1, resolved: 0 });
    } finally {
      release();
    }
    await expectPaidAndSettled(store(), invoice.paymentHash, await virtual);
  });

  it('holds every part and sends no SETTLE while the settle commit fails as unavailable, then completes once it commits', async () => {
    const c = cluster();
    const FAILURES = 3;
    const log: string[] = [];
    let calls = 0;
    const payment: { hash?: Uint8Array } = {};
    /** At each moment before the original commit returns, both parts must still be held by the nodes. */
    const expectAllHeld = (when: string) => {
      const parts = partsOf(payment.hash!);
      if (parts.held !== 2 || parts.resolved !== 0) log.push(`NOT HELD ${when}: ${JSON.stringify(parts)}`);
    };
    const failing: Store['commitSettle'] = async (hash, setId, htlcs, fence) => {
      calls++;
      expectAllHeld(`at commit attempt ${calls}`);
      if (calls <= FAILURES) {
        log.push('unavailable');
        throw new StoreUnavailableError('database unreachable (test)', false);
      }
      const outcome = await store().commitSettle(hash, setId, htlcs, fence);
      expectAllHeld('once committed');
      log.push(`commit ${outcome.kind}`);
      return outcome;
    };
    mux = await startMux(c, sharedStore(store(), { commitSettle: failing }));
    const invoice = await mux.createInvoice({ amountMsat: 100_000_000n, description: 'commit fails first' });
    payment.hash = invoice.paymentHash;
    c.setInboundLiquidity(0, 60_000_000n);
    c.setInboundLiquidity(1, 60_000_000n);
    c.setInboundLiquidity(2, 0n);

    const result = await c.payer.pay(invoice.paymentRequest).then((r) => {
      log.push('paid');
      return r;
    });
    expect(log).toEqual(['unavailable', 'unavailable', 'unavailable', 'commit committed', 'paid']);
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
  });

  it('settles once when the commit happened but its answer was lost (the retry finds the same set committed)', async () => {
    const c = cluster();
    const outcomes: string[] = [];
    const lostAnswer: Store['commitSettle'] = async (hash, setId, htlcs, fence) => {
      const outcome = await store().commitSettle(hash, setId, htlcs, fence);
      outcomes.push(outcome.kind);
      if (outcomes.length === 1) throw new StoreUnavailableError('connection lost during COMMIT (test)', true);
      return outcome;
    };
    mux = await startMux(c, sharedStore(store(), { commitSettle: lostAnswer }));
    const invoice = await mux.createInvoice({ amountMsat: 30_000_000n, description: 'commit answer lost' });
    const result = await c.payer.pay(invoice.paymentRequest);
    expect(outcomes).toEqual(['committed', 'alreadyCommitted']);
    await expectPaidAndSettled(store(), invoice.paymentHash, result);
  });
});
