/**
 * End to end, DESIGN.md invariant 6 seen from one instance: lnmux intercepts only while it holds the
 * leader lease, and behaves when the database fails around it. A store wrapper makes the look-up done
 * at takeover, or the lease calls, fail with a retryable StoreUnavailableError.
 * - A takeover whose first database read fails is retried: the instance ends up intercepting.
 * - An active instance whose lease calls fail stays active for as long as they fail (src/mux/mux.ts:
 *   LND takes one interceptor per node, so no other instance can take the nodes meanwhile, and
 *   regular forwards keep flowing, invariant 5), and renews its lease once the database answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Mux, type MuxEvents } from '../../src/mux/mux.js';
import { StoreUnavailableError } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { expectPaidAndSettled, expectSucceeded } from './support/checks.js';
import { intercepting, muxConfig, sharedStore, stopMux, testLogger } from './support/mux.js';
import { BACKENDS, useCluster, useStore } from './support/setup.js';
import { until } from './support/wait.js';

const cluster = useCluster();
/** Lease duration, ms: the instance checks its lease every third of it. */
const LEASE_TTL_MS = 1_500;

describe.each(BACKENDS)('the leader lease of one instance when its database fails (%s)', (backend) => {
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
      leaseTtlMs: LEASE_TTL_MS,
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
    await until(() => intercepting(cluster()), 'lnmux to intercept after the failed read', 6 * LEASE_TTL_MS);
    const invoice = await active.createInvoice({ amountMsat: 14_000_000n, description: 'after a failed takeover read' });
    await expectPaidAndSettled(store(), invoice.paymentHash, await cluster().payer.pay(invoice.paymentRequest));
  });

  it('keeps intercepting through a database outage longer than its lease: regular forwards flow; it renews once the database answers', { timeout: 60_000 }, async () => {
    const c = cluster();
    let unreachable = false;
    const failed: string[] = [];
    const renewed: string[] = [];
    const s = store();
    const { mux: active, roles } = await start({
      acquireLease: async (...args) => {
        if (unreachable) throw new StoreUnavailableError('database unreachable (test)', false);
        return s.acquireLease(...args);
      },
      renewLease: async (...args) => {
        if (unreachable) {
          failed.push('renew');
          throw new StoreUnavailableError('database unreachable (test)', false);
        }
        const outcome = await s.renewLease(...args);
        renewed.push(outcome.kind);
        return outcome;
      },
    });
    await until(() => roles.includes('active') && intercepting(c), 'lnmux to become active and intercept');

    unreachable = true;
    // Four failed checks, a third of the lease apart: the lease has expired in the database.
    await until(() => failed.length >= 4, 'lease checks to fail for longer than the lease', 6 * LEASE_TTL_MS);
    expect(roles).toEqual(['active']);
    expect(intercepting(c)).toBe(true);
    const regular = c.recipientInvoice(2, 3_000_000n);
    expectSucceeded(await c.payer.pay(regular.paymentRequest));

    renewed.length = 0;
    unreachable = false;
    await until(() => renewed.length > 0, 'the lease to be renewed', 6 * LEASE_TTL_MS);
    expect(renewed[0]).toBe('renewed');
    expect(roles).toEqual(['active']);
    const invoice = await active.createInvoice({ amountMsat: 15_000_000n, description: 'after the outage' });
    await expectPaidAndSettled(s, invoice.paymentHash, await c.payer.pay(invoice.paymentRequest));
  });
});
