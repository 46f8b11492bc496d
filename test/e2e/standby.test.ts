/**
 * End to end, DESIGN.md invariant 6: one active lnmux per cluster. Two instances on the same
 * PostgreSQL database: the leader lease lets one intercept (a simulated node, as LND, takes a single
 * interceptor) while the other stands by; when the active one stops (lease released) or dies (lease
 * left to expire), the standby takes over on its own and payments settle through it.
 *
 * PostgreSQL only: the embedded PGlite is one process's private database, so two instances can never
 * share it (and would need no lease). Skipped without LNMUX_TEST_DATABASE_URL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Mux, type MuxEvents } from '../../src/mux/mux.js';
import { openStore, StoreUnavailableError } from '../../src/store/index.js';
import type { AcquireLeaseOutcome, ReleaseLeaseOutcome, Store } from '../../src/store/types.js';
import { useTestDatabase } from '../store/helpers.js';
import { expectPaidAndSettled, expectSucceeded } from './support/checks.js';
import { spawnLnmux, type LnmuxChild } from './support/child.js';
import { intercepting, muxConfig, newIdentityKey, notIntercepting, sharedStore, testLogger } from './support/mux.js';
import { untilServed } from './support/probe.js';
import { TEST_DATABASE_URL, useCluster } from './support/setup.js';
import { until } from './support/wait.js';

/** Lease duration, ms: an instance checks the lease every third of it. */
const LEASE_TTL_MS = 3_000;

/** An lnmux that records its role changes, node events and lease checks. */
interface Instance {
  readonly mux: Mux;
  readonly roles: MuxEvents['role'][0]['role'][];
  readonly nodeEvents: MuxEvents['node'][0][];
  readonly leaseChecks: AcquireLeaseOutcome['kind'][];
  readonly leaseReleases: ReleaseLeaseOutcome['kind'][];
}

const describeOnPostgres = TEST_DATABASE_URL
  ? describe
  : describe.skip;

describeOnPostgres('two lnmux instances on one PostgreSQL database (skipped without LNMUX_TEST_DATABASE_URL: PGlite cannot be shared by two instances)', () => {
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
    await until(() => notIntercepting(cluster()), 'no interceptor left');
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  /** Opens and starts an instance with its own connection pool; does not wait for any role. */
  async function startInstance(name: string, overrides: (store: Store) => Partial<Store> = () => ({})): Promise<Instance> {
    const store = await openStore({ databaseUrl: database.config().databaseUrl!, onWarning: () => {} });
    stores.push(store);
    const leaseChecks: AcquireLeaseOutcome['kind'][] = [];
    const leaseReleases: ReleaseLeaseOutcome['kind'][] = [];
    const extra = overrides(store);
    const counted = sharedStore(store, {
      ...extra,
      acquireLease: async (...args: Parameters<Store['acquireLease']>) => {
        const outcome = await (extra.acquireLease ?? store.acquireLease.bind(store))(...args);
        leaseChecks.push(outcome.kind);
        return outcome;
      },
      releaseLease: async (...args: Parameters<Store['releaseLease']>) => {
        const outcome = await store.releaseLease(...args);
        leaseReleases.push(outcome.kind);
        return outcome;
      },
    });
    const mux = await Mux.open(muxConfig(cluster(), { identityKey }), {
      store: counted,
      logger: testLogger(name),
      instanceId: name,
      leaseTtlMs: LEASE_TTL_MS,
      gateway: { backoff: { initialMs: 50, maxMs: 250 } },
    });
    const instance: Instance = { mux, roles: [], nodeEvents: [], leaseChecks, leaseReleases };
    mux.on('role', (e) => instance.roles.push(e.role));
    mux.on('node', (e) => instance.nodeEvents.push(e));
    await mux.start();
    running.push(instance);
    return instance;
  }

  it('lets only one instance intercept; when it stops it releases the lease and the standby takes over within the lease TTL and settles payments', { timeout: 60_000 }, async () => {
    const c = cluster();
    const first = await startInstance('first');
    await until(() => first.roles.includes('active') && intercepting(c), 'the first instance to become active and intercept');
    const second = await startInstance('second');
    await until(() => second.leaseChecks.includes('heldByOther'), 'the second instance to find the lease taken');
    // The standby says so, and neither claims the role nor connects to any node: one interceptor per node.
    await until(() => second.roles.includes('standby'), 'the second instance to announce standby');
    expect(second.roles).not.toContain('active');
    expect(second.nodeEvents).toEqual([]);

    const before = await second.mux.createInvoice({ amountMsat: 10_000_000n, description: 'paid through the active one' });
    await expectPaidAndSettled(stores[0]!, before.paymentHash, await c.payer.pay(before.paymentRequest));

    await first.mux.stop();
    running = running.filter((i) => i !== first);
    // Stopping hands the lease back at once: the standby need not wait for it to expire.
    expect(first.leaseReleases).toEqual(['released']);
    await until(() => second.roles.includes('active'), 'the standby to take over', LEASE_TTL_MS);
    await untilServed(c, second.mux.nodePubkey);
    const after = await second.mux.createInvoice({ amountMsat: 11_000_000n, description: 'paid through the new active one' });
    await expectPaidAndSettled(stores[1]!, after.paymentHash, await c.payer.pay(after.paymentRequest));
  });

  it('takes over from an active instance that was killed (its lease expires unreleased) and settles its invoices', { timeout: 90_000 }, async () => {
    const c = cluster();
    child = spawnLnmux({
      config: muxConfig(c, { identityKey }),
      database: { databaseUrl: database.config().databaseUrl! },
      crash: 'none',
      invoices: ['12000000'],
      leaseTtlMs: LEASE_TTL_MS,
      instanceId: 'killed',
    });
    const invoice = await child.message((m) => m.event === 'invoice', 'the invoice');
    await child.message((m) => m.event === 'role' && m['role'] === 'active', 'the child to become active');
    await until(() => intercepting(c), 'the child to intercept', 60_000);
    const standby = await startInstance('standby');
    await until(() => standby.leaseChecks.includes('heldByOther'), 'the standby to find the lease taken');

    await child.stop('SIGKILL');
    await until(() => standby.roles.includes('active'), 'the standby to take over once the lease expired', 3 * LEASE_TTL_MS);
    await untilServed(c, standby.mux.nodePubkey);
    const paymentHash = Uint8Array.from(Buffer.from(invoice['paymentHash'] as string, 'hex'));
    await expectPaidAndSettled(stores.at(-1)!, paymentHash, await c.payer.pay(invoice['paymentRequest'] as string));
  });

  it('keeps the nodes while cut off from the database; once it sees its lease taken it stands down and the new holder settles payments', { timeout: 60_000 }, async () => {
    const c = cluster();
    let cutOff = false;
    const unreachableLease = (store: Store): Partial<Store> => ({
      acquireLease: async (...args) => {
        if (cutOff) throw new StoreUnavailableError('database unreachable from this instance (test)', false);
        return store.acquireLease(...args);
      },
      renewLease: async (...args) => {
        if (cutOff) throw new StoreUnavailableError('database unreachable from this instance (test)', false);
        return store.renewLease(...args);
      },
    });
    const first = await startInstance('cut-off', unreachableLease);
    await until(() => first.roles.includes('active') && intercepting(c), 'the first instance to become active and intercept');
    const second = await startInstance('healthy');
    await until(() => second.leaseChecks.includes('heldByOther'), 'the second instance to find the lease taken');

    cutOff = true;
    await until(() => second.roles.includes('active'), 'the healthy instance to take the expired lease', 4 * LEASE_TTL_MS);
    // The cut-off instance keeps the nodes (LND takes one interceptor): regular forwards still flow.
    expect(first.roles).toEqual(['active']);
    expectSucceeded(await c.payer.pay(c.recipientInvoice(0, 2_000_000n).paymentRequest));

    cutOff = false;
    await until(() => first.roles.includes('standby'), 'the cut-off instance to find its lease lost and stand down', 4 * LEASE_TTL_MS);
    await untilServed(c, second.mux.nodePubkey);
    const invoice = await second.mux.createInvoice({ amountMsat: 13_000_000n, description: 'paid after the hand-over' });
    await expectPaidAndSettled(stores.at(-1)!, invoice.paymentHash, await c.payer.pay(invoice.paymentRequest));
  });
});
