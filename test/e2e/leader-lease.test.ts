/**
 * End to end, docs/architecture.md, invariant 6 seen from one instance: lnmux intercepts only while it holds the
 * leadership, and behaves when the database fails around it.
 * - A takeover whose first database read fails (a store wrapper) is retried: the instance ends up
 *   intercepting.
 * - PostgreSQL behind a TCP proxy that cuts every connection: the instance sees its leadership session
 *   lost, holds its settle commits, and keeps intercepting for as long as the database is unreachable
 *   (src/mux/mux.ts: LND takes one interceptor per node, so no other instance can take the nodes
 *   meanwhile, and regular forwards keep flowing, invariant 5); once the database answers it takes the
 *   leadership back with the same epoch (nobody led meanwhile) and the held payment settles.
 */
import { afterEach, expect, it } from 'vitest';
import { Mux, type MuxEvents } from '../../src/mux/mux.js';
import { openStore, StoreUnavailableError } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { useTestDatabase } from '../store/helpers.js';
import { startProxy, type Proxy } from '../store/proxy.js';
import { expectPaidAndSettled, expectSucceeded } from './support/checks.js';
import { intercepting, muxConfig, sharedStore, stopMux, testLogger } from './support/mux.js';
import { describeEachBackend, describeOnPostgres, useCluster, useStore } from './support/setup.js';
import { isSettled, waitUntil } from '../support/wait.js';

const cluster = useCluster();
/** A generous bound for the waits below (not a timed assertion). */
const LEASE_TTL_MS = 1_500;

describeEachBackend('the leadership of one instance when its database fails (%s)', (backend) => {
  const { store } = useStore(backend);
  let mux: Mux | undefined;

  afterEach(async () => {
    if (mux !== undefined) await stopMux(cluster(), mux);
    mux = undefined;
  });

  async function start(overrides: Partial<Store>): Promise<{ mux: Mux; roles: MuxEvents['role'][0]['role'][] }> {
    const started = await Mux.open(muxConfig(cluster()), {
      store: sharedStore(store(), overrides),
      logger: testLogger(),
      gateway: { backoff: { initialMs: 50, maxMs: 250 } },
    });
    const roles: MuxEvents['role'][0]['role'][] = [];
    started.on('role', (e) => roles.push(e.role));
    mux = started;
    await started.start();
    return { mux: started, roles };
  }

  it('intercepts in the end when the database read at takeover fails once', { timeout: 60_000 }, async () => {
    let failures = 1;
    const flaky: Store['listUnfinalizedHtlcs'] = async () => {
      if (failures-- > 0) throw new StoreUnavailableError('database unreachable (test)', false);
      return store().listUnfinalizedHtlcs();
    };
    const { mux: active } = await start({ listUnfinalizedHtlcs: flaky });
    await waitUntil(() => intercepting(cluster()), { what: 'lnmux to intercept after the failed read', timeoutMs: 6 * LEASE_TTL_MS });
    const invoice = await active.createInvoice({ amountMsat: 14_000_000n, description: 'after a failed takeover read' });
    await expectPaidAndSettled(store(), invoice.paymentHash, await cluster().payer.pay(invoice.paymentRequest));
  });
});

describeOnPostgres('the leadership session of one instance when its database goes away (postgres)', () => {
  const database = useTestDatabase('postgres');
  let proxy: Proxy | undefined;
  let store: Store | undefined;
  let mux: Mux | undefined;

  afterEach(async () => {
    if (proxy !== undefined) proxy.mode = 'up';
    if (mux !== undefined) await stopMux(cluster(), mux);
    await store?.close();
    await proxy?.close();
    mux = undefined;
    store = undefined;
    proxy = undefined;
  });

  /** A fresh database behind the proxy, and one instance on it (store calls overridable), started. */
  async function startBehindProxy(overrides: (opened: Store) => Partial<Store> = () => ({})) {
    await database.freshStore();
    const upstream = new URL(database.config().databaseUrl!);
    proxy = await startProxy(upstream.hostname, Number(upstream.port || 5432));
    const viaProxy = new URL(upstream.href);
    viaProxy.port = String(proxy.port);
    const opened = await openStore({ databaseUrl: viaProxy.href, connectTimeoutMs: 1_000, onWarning: () => {} });
    store = opened;
    const leadership: MuxEvents['leadership'][0][] = [];
    const roles: MuxEvents['role'][0]['role'][] = [];
    const started = await Mux.open(muxConfig(cluster()), {
      store: sharedStore(opened, overrides(opened)),
      logger: testLogger(),
      leadership: { heartbeatMs: 100, sessionTimeoutMs: 1_000 },
      gateway: { backoff: { initialMs: 50, maxMs: 250 } },
    });
    mux = started;
    started.on('leadership', (e) => leadership.push(e));
    started.on('role', (e) => roles.push(e.role));
    await started.start();
    return { mux: started, proxy, store: opened, leadership, roles };
  }

  it('keeps intercepting while the database is unreachable: regular forwards flow, the settle waits; it takes the leadership back with the same epoch and settles', { timeout: 60_000 }, async () => {
    const c = cluster();
    const { mux, proxy, store, leadership, roles } = await startBehindProxy();
    await waitUntil(() => roles.includes('active') && intercepting(c), { what: 'lnmux to become active and intercept' });
    const invoice = await mux.createInvoice({ amountMsat: 15_000_000n, description: 'during the outage' });

    proxy.mode = 'down';
    await waitUntil(() => leadership.some((e) => !e.held), { what: 'lnmux to see its leadership session lost' });
    expect(roles).toEqual(['active']);
    expect(intercepting(c)).toBe(true);
    expectSucceeded(await c.payer.pay(c.recipientInvoice(2, 3_000_000n).paymentRequest));
    const payment = c.payer.pay(invoice.paymentRequest);
    await waitUntil(() => c.nodes.some((n) => n.pendingHtlcs().some((h) => h.state === 'intercept')), { what: 'the payment to be held by a node' });
    expect(await isSettled(payment)).toBe(false);

    proxy.mode = 'up';
    await waitUntil(() => leadership.at(-1)?.held === true, { what: 'the leadership to be taken back', timeoutMs: 20_000 });
    expect(leadership.map((e) => [e.held, e.epoch, e.resumed ?? null])).toEqual([
      [true, 1n, false],
      [false, 1n, null],
      [true, 1n, true],
    ]);
    expect(roles).toEqual(['active']);
    await expectPaidAndSettled(store, invoice.paymentHash, await payment);
  });

  // Final states commit without waiting for the disk (docs/architecture.md, "What waits for the disk"): a
  // database crash can lose them, and it also ends the leadership session. Taking it back must ask the
  // nodes again, or the invoice stays settleCommitted until lnmux restarts.
  it('writes final states again once it takes the leadership back: one lost in a database crash is not left pending', { timeout: 60_000 }, async () => {
    const c = cluster();
    // The database just came back: the first read of the unfinalized HTLCs after it fails, and is tried again.
    let failNextRead = false;
    const { mux, proxy, store, leadership } = await startBehindProxy((opened) => ({
      listUnfinalizedHtlcs: async () => {
        if (failNextRead) {
          failNextRead = false;
          throw new StoreUnavailableError('database unreachable (test)', false);
        }
        return opened.listUnfinalizedHtlcs();
      },
    }));
    await waitUntil(() => intercepting(c), { what: 'lnmux to intercept' });
    const invoice = await mux.createInvoice({ amountMsat: 16_000_000n, description: 'final state lost' });
    await expectPaidAndSettled(store, invoice.paymentHash, await c.payer.pay(invoice.paymentRequest));
    const state = async () => (await store.getInvoice(invoice.paymentHash))?.state;
    await waitUntil(async () => (await state()) === 'settled', { what: 'the invoice to be settled in the database' });

    // What a crash leaves when it loses the final-state transaction.
    await database.db().withSession('test: lose the final state', async (s) => {
      await s.query(`UPDATE lnmux.htlcs SET state = 'settleCommitted', finalized_at = NULL WHERE hash = $1`, [Buffer.from(invoice.paymentHash)]);
      await s.query(`UPDATE lnmux.invoices SET state = 'settleCommitted', finalized_at = NULL WHERE hash = $1`, [Buffer.from(invoice.paymentHash)]);
    });
    expect(await state()).toBe('settleCommitted');

    proxy.mode = 'down';
    await waitUntil(() => leadership.some((e) => !e.held), { what: 'lnmux to see its leadership session lost' });
    failNextRead = true;
    proxy.mode = 'up';
    await waitUntil(() => leadership.at(-1)?.resumed === true, { what: 'the leadership to be taken back', timeoutMs: 20_000 });
    await waitUntil(async () => (await state()) === 'settled', { what: 'the invoice to be settled again', timeoutMs: 20_000 });
    expect((await store.listInvoiceHtlcs(invoice.paymentHash)).map((h) => h.state)).toEqual(['settled']);
    expect(failNextRead).toBe(false); // the failed read happened, and was tried again
  });
});
