/**
 * End to end, docs/architecture.md, invariant 6: one active lnmux per cluster. Two instances on the same
 * PostgreSQL database: the leadership (a session advisory lock, src/store/leadership.ts) lets one
 * intercept (a simulated node, as LND, takes a single interceptor) while the other stands by with its
 * node connections ready; when the active one stops (lock released) or dies (its session ends with its
 * process), the standby takes over on its own and payments settle through it. A leader that has not
 * noticed its session ended (as if paused) keeps the nodes, but its settle commit is refused by the
 * store (fencing); the new leader settles the payment once it has the nodes: never two deciders.
 *
 * PostgreSQL only: the embedded PGlite is one process's private database, so two instances can never
 * share it (and would need no lease). Skipped without LNMUX_TEST_DATABASE_URL.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Mux, type MuxEvents } from '../../src/mux/mux.js';
import { openStore, type SettleCommitOutcome } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { useTestDatabase } from '../store/helpers.js';
import { startProxy, type Proxy } from '../store/proxy.js';
import { expectPaidAndSettled, expectSucceeded } from './support/checks.js';
import { spawnLnmux, type LnmuxChild } from './support/child.js';
import { intercepting, muxConfig, newIdentityKey, notIntercepting, sharedStore, testLogger } from './support/mux.js';
import { untilServed } from './support/probe.js';
import { describeOnPostgres, useCluster } from './support/setup.js';
import { isSettled, waitUntil } from '../support/wait.js';

/** A bound for the waits below, ms (not a timed assertion: waits end as soon as their condition holds). */
const WAIT_MS = 10_000;
/** The leadership session's timing in these tests, ms. */
const LEADERSHIP = { heartbeatMs: 100, sessionTimeoutMs: 1_000 };

/** An lnmux that records its role changes, node events and leadership changes. */
interface Instance {
  readonly mux: Mux;
  readonly roles: MuxEvents['role'][0]['role'][];
  readonly nodeEvents: MuxEvents['node'][0][];
  readonly leadership: MuxEvents['leadership'][0][];
}

// PGlite cannot be shared by two instances.
describeOnPostgres('two lnmux instances on one PostgreSQL database', () => {
  const cluster = useCluster();
  const database = useTestDatabase('postgres');
  const identityKey = newIdentityKey();
  const stores: Store[] = [];
  let running: Instance[] = [];
  let child: LnmuxChild | undefined;

  beforeAll(async () => {
    await database.freshStore(); // migrated and empty
  });
  afterEach(async () => {
    await child?.stop('SIGKILL');
    child = undefined;
    for (const instance of running) await instance.mux.stop();
    running = [];
    await waitUntil(() => notIntercepting(cluster()), { what: 'no interceptor left' });
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  let proxy: Proxy | undefined;
  afterEach(async () => {
    if (proxy !== undefined) proxy.mode = 'up';
    await proxy?.close();
    proxy = undefined;
  });

  /** The database URL through a TCP proxy that can cut this instance off (see test/store/proxy.ts). */
  async function proxiedUrl(): Promise<string> {
    const upstream = new URL(database.config().databaseUrl!);
    proxy = await startProxy(upstream.hostname, Number(upstream.port || 5432));
    const url = new URL(upstream.href);
    url.port = String(proxy.port);
    return url.href;
  }

  /** Opens and starts an instance with its own connection pool; does not wait for any role. */
  async function startInstance(
    name: string,
    options: { overrides?: (store: Store) => Partial<Store>; databaseUrl?: string } = {},
  ): Promise<Instance> {
    const store = await openStore({ databaseUrl: options.databaseUrl ?? database.config().databaseUrl!, connectTimeoutMs: 1_000, onWarning: () => {} });
    stores.push(store);
    const mux = await Mux.open(muxConfig(cluster(), { identityKey }), {
      store: sharedStore(store, options.overrides?.(store) ?? {}),
      logger: testLogger(name),
      instanceId: name,
      leadership: LEADERSHIP,
      gateway: { backoff: { initialMs: 50, maxMs: 250 } },
    });
    const instance: Instance = { mux, roles: [], nodeEvents: [], leadership: [] };
    mux.on('role', (e) => instance.roles.push(e.role));
    mux.on('node', (e) => instance.nodeEvents.push(e));
    mux.on('leadership', (e) => instance.leadership.push(e));
    await mux.start();
    running.push(instance);
    return instance;
  }

  /** Every node of the cluster seen ready by `instance` (a standby keeps its connections checked). */
  function connectedToAll(instance: Instance): boolean {
    return cluster().nodeInfos().every((n) => instance.nodeEvents.some((e) => e.pubkey === n.pubkey && e.state === 'ready'));
  }

  it('lets only one instance intercept; the standby keeps its node connections ready; when the active one stops the standby takes over and settles payments', { timeout: 60_000 }, async () => {
    const c = cluster();
    const first = await startInstance('first');
    await waitUntil(() => first.roles.includes('active') && intercepting(c), { what: 'the first instance to become active and intercept' });
    const second = await startInstance('second');
    // The standby says so and connects to every node, but registers no interceptor: one per node.
    await waitUntil(() => second.roles.includes('standby'), { what: 'the second instance to announce standby' });
    await waitUntil(() => connectedToAll(second), { what: 'the standby to connect to and check every node' });
    expect(second.roles).not.toContain('active');
    expect(second.leadership).toEqual([]);
    expect(first.mux.role).toBe('active');
    expect(second.mux.role).toBe('standby');

    const before = await second.mux.createInvoice({ amountMsat: 10_000_000n, description: 'paid through the active one' });
    await expectPaidAndSettled(stores[0]!, before.paymentHash, await c.payer.pay(before.paymentRequest));

    await first.mux.stop();
    running = running.filter((i) => i !== first);
    await waitUntil(() => second.roles.includes('active'), { what: 'the standby to take over' });
    expect(second.leadership.map((e) => [e.held, e.epoch])).toEqual([[true, first.leadership[0]!.epoch + 1n]]);
    await untilServed(c, second.mux.nodePubkey);
    const after = await second.mux.createInvoice({ amountMsat: 11_000_000n, description: 'paid through the new active one' });
    await expectPaidAndSettled(stores[1]!, after.paymentHash, await c.payer.pay(after.paymentRequest));
  });

  it('takes over from an active instance that was killed (its session ends with its process) and settles its invoices', { timeout: 90_000 }, async () => {
    const c = cluster();
    child = spawnLnmux({
      config: muxConfig(c, { identityKey }),
      database: { databaseUrl: database.config().databaseUrl! },
      crash: 'none',
      invoices: ['12000000'],
      instanceId: 'killed',
    });
    const invoice = await child.message((m) => m.event === 'invoice', 'the invoice');
    await child.message((m) => m.event === 'role' && m['role'] === 'active', 'the child to become active');
    await waitUntil(() => intercepting(c), { what: 'the child to intercept', timeoutMs: 60_000 });
    const standby = await startInstance('standby');
    await waitUntil(() => standby.roles.includes('standby') && connectedToAll(standby), { what: 'the standby to find the leadership taken and connect' });

    await child.stop('SIGKILL');
    await waitUntil(() => standby.roles.includes('active'), { what: 'the standby to take over', timeoutMs: WAIT_MS });
    await untilServed(c, standby.mux.nodePubkey);
    const paymentHash = Uint8Array.from(Buffer.from(invoice['paymentHash'] as string, 'hex'));
    await expectPaidAndSettled(stores.at(-1)!, paymentHash, await c.payer.pay(invoice['paymentRequest'] as string));
  });

  it('keeps the nodes while cut off from the database, the standby taking the leadership at once; once reconnected it finds the leadership taken, stands down, and the new leader settles payments', { timeout: 60_000 }, async () => {
    const c = cluster();
    const first = await startInstance('cut-off', { databaseUrl: await proxiedUrl() });
    await waitUntil(() => first.roles.includes('active') && intercepting(c), { what: 'the first instance to become active and intercept' });
    const second = await startInstance('healthy');
    await waitUntil(() => second.roles.includes('standby') && connectedToAll(second), { what: 'the second instance to stand by' });

    proxy!.mode = 'down';
    // The server ends the cut-off session: the standby, waiting on the lock, has it at once.
    await waitUntil(() => second.leadership.some((e) => e.held), { what: 'the healthy instance to take the leadership', timeoutMs: WAIT_MS });
    await waitUntil(() => first.leadership.some((e) => !e.held), { what: 'the cut-off instance to see its session lost', timeoutMs: WAIT_MS });
    // The cut-off instance keeps the nodes (LND takes one interceptor): regular forwards still flow.
    expect(first.roles).toEqual(['active']);
    expectSucceeded(await c.payer.pay(c.recipientInvoice(0, 2_000_000n).paymentRequest));

    proxy!.mode = 'up';
    await waitUntil(() => first.roles.includes('standby'), { what: 'the cut-off instance to find the leadership taken and stand down', timeoutMs: WAIT_MS });
    await waitUntil(() => second.roles.includes('active'), { what: 'the healthy instance to become active', timeoutMs: WAIT_MS });
    await untilServed(c, second.mux.nodePubkey);
    const invoice = await second.mux.createInvoice({ amountMsat: 13_000_000n, description: 'paid after the hand-over' });
    await expectPaidAndSettled(stores.at(-1)!, invoice.paymentHash, await c.payer.pay(invoice.paymentRequest));
  });

  it("refuses the settle commit of a leader whose session ended unnoticed (fencing); the new leader settles the payment once it has the nodes", { timeout: 60_000 }, async () => {
    const c = cluster();
    const staleOutcomes: SettleCommitOutcome['kind'][] = [];
    const stale = await startInstance('stale', {
      overrides: (store) => ({
        // As if paused while its session ended: it never hears of the loss and believes it still leads.
        leadership: (name, holder, options) => store.leadership(name, holder, { ...options, onLost: () => {} }),
        commitSettle: async (...args) => {
          const outcome = await store.commitSettle(...args);
          staleOutcomes.push(outcome.kind);
          return outcome;
        },
      }),
    });
    await waitUntil(() => stale.roles.includes('active') && intercepting(c), { what: 'the first instance to become active and intercept' });
    const successor = await startInstance('successor');
    await waitUntil(() => successor.roles.includes('standby') && connectedToAll(successor), { what: 'the second instance to stand by' });

    // The server ends the leader's session (its holder of the advisory lock).
    // Only the leadership session goes: the stale leader's pool still reaches the database.
    await database.db().withSession('test terminate', (s) =>
      s.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x6c6e6d78} AND granted`),
    );
    await waitUntil(() => successor.leadership.some((e) => e.held), { what: 'the successor to take the leadership', timeoutMs: WAIT_MS });
    expect(stale.mux.role).toBe('active');
    expect(intercepting(c)).toBe(true); // the stale leader still has the nodes

    const invoice = await successor.mux.createInvoice({ amountMsat: 16_000_000n, description: 'decided by one instance only' });
    const payment = c.payer.pay(invoice.paymentRequest);
    await waitUntil(() => staleOutcomes.includes('fenced'), { what: "the stale leader's commit to be refused", timeoutMs: WAIT_MS });
    expect(staleOutcomes.every((k) => k === 'fenced')).toBe(true);
    expect((await stores[0]!.getInvoice(invoice.paymentHash))?.state).toBe('open');
    expect(await isSettled(payment)).toBe(false);

    // The stale leader goes (its operator stops it): the successor gets the nodes and settles.
    await stale.mux.stop();
    running = running.filter((i) => i !== stale);
    await waitUntil(() => successor.roles.includes('active'), { what: 'the successor to become active', timeoutMs: WAIT_MS });
    await expectPaidAndSettled(stores.at(-1)!, invoice.paymentHash, await payment);
    expect(staleOutcomes.every((k) => k === 'fenced')).toBe(true);
  });
});
