/**
 * End to end, DESIGN.md invariant 6 seen from one instance: lnmux intercepts only while it holds the
 * leader lease, and behaves when the database fails around it. A store wrapper makes the look-up done
 * at takeover fail with a retryable StoreUnavailableError.
 * - A takeover whose first database read fails is retried: the instance ends up intercepting.
 */
import { afterEach, describe, it } from 'vitest';
import { Mux, type MuxEvents } from '../../src/mux/mux.js';
import { StoreUnavailableError } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { expectPaidAndSettled } from './support/checks.js';
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
});
