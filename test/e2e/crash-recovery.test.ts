/**
 * End to end (docs/architecture.md, invariants 1-3 across a crash): lnmux runs as a real
 * child process and is SIGKILLed in the middle of a multi-part settle, then a new lnmux starts on the
 * same database while the simulated nodes (--requireinterceptor) keep the parts held and offer them
 * again with the same circuit keys.
 * - Killed after the commit, before any SETTLE: every part settles from the store (replay), with the
 *   set the dead process committed.
 * - Killed before the commit: nothing is in the store; the set is accepted again and settled whole.
 * On PGlite (a data directory the two processes use in turn) and on PostgreSQL when
 * LNMUX_TEST_DATABASE_URL is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { circuitKeyString } from '../../src/protocol/index.js';
import { hexToBytes } from '../../src/protocol/bytes.js';
import type { PaymentResult } from '../../src/sim/payer.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { pgliteTemplate, useTestDatabase, type BackendName } from '../store/helpers.js';
import type { ChildSpec } from './fixtures/lnmux-child.js';
import { expectPaidAndSettled, expectSucceeded, heldParts, partKey } from './support/checks.js';
import { spawnLnmux, type LnmuxChild } from './support/child.js';
import { intercepting, muxConfig, newIdentityKey, notIntercepting, startMux, stopMux, type MuxSettings } from './support/mux.js';
import { describeEachBackend, useCluster } from './support/setup.js';
import { isSettled, waitUntil } from '../support/wait.js';

const cluster = useCluster();
const PLENTY_MSAT = 10_000_000_000n;
const AMOUNT_MSAT = 100_000_000n;
/** The dead child never releases its leader lease: keep it short so the restarted lnmux takes over soon. */

/** The database the child and then the restarted lnmux use, and the parent's store on it. */
interface SharedDatabase {
  readonly forChild: ChildSpec['database'];
  /** The parent's store; on PGlite it can only be open while no child runs. */
  open(): Promise<Store>;
  close(store: Store): Promise<void>;
}

function useSharedDatabase(backend: BackendName): () => SharedDatabase {
  let shared: SharedDatabase | undefined;
  if (backend === 'postgres') {
    const database = useTestDatabase('postgres');
    beforeAll(async () => {
      const store = await database.freshStore();
      shared = { forChild: { databaseUrl: database.config().databaseUrl! }, open: async () => store, close: async () => {} };
    });
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'lnmux-e2e-crash-'));
    const dataDir = join(dir, 'pglite');
    beforeAll(async () => {
      const store = await openStore({ dataDir, migrate: true, onWarning: () => {} }, { loadDataDir: await pgliteTemplate() });
      await store.close();
      shared = {
        forChild: { dataDir },
        open: () => openStore({ dataDir, onWarning: () => {} }),
        close: (store) => store.close(),
      };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
  }
  return () => {
    if (shared === undefined) throw new Error('database not ready');
    return shared;
  };
}

function partKeys(result: Extract<PaymentResult, { status: 'succeeded' }>): string[] {
  return result.parts.map(partKey).sort();
}

describeEachBackend('lnmux killed in the middle of a settle (%s)', (backend) => {
  const database = useSharedDatabase(backend);
  const identityKey = newIdentityKey();
  let child: LnmuxChild | undefined;

  afterEach(async () => {
    await child?.stop('SIGKILL');
    child = undefined;
    for (let i = 0; i < cluster().nodes.length; i++) cluster().setInboundLiquidity(i, PLENTY_MSAT);
  });

  /** Starts a child lnmux that crashes as told, with one invoice; pays it in two parts (nodes 0 and 1). */
  async function payIntoCrashingChild(crash: ChildSpec['crash']) {
    const c = cluster();
    await waitUntil(() => notIntercepting(c), { what: 'no interceptor on the nodes' });
    child = spawnLnmux({ config: muxConfig(c, { identityKey }), database: database().forChild, crash, invoices: [String(AMOUNT_MSAT)] });
    const invoice = await child.message((m) => m.event === 'invoice', 'the invoice');
    const paymentHash = hexToBytes(invoice['paymentHash'] as string);
    await waitUntil(() => intercepting(c), { what: 'the child lnmux to intercept on every node', timeoutMs: 60_000 });
    c.setInboundLiquidity(0, 60_000_000n);
    c.setInboundLiquidity(1, 60_000_000n);
    c.setInboundLiquidity(2, 0n);
    const payment = c.payer.pay(invoice['paymentRequest'] as string);
    const ended = await child.exited;
    expect(ended.signal).toBe('SIGKILL');
    // The nodes saw the interceptor die and keep every part held (LND --requireinterceptor).
    await waitUntil(() => notIntercepting(c), { what: 'the nodes to see the child die' });
    const held = heldParts(cluster(), paymentHash);
    expect(held).toHaveLength(2);
    expect(await isSettled(payment)).toBe(false);
    return { child, paymentHash, payment, held };
  }

  // The restarted lnmux may run with another virtual hop policy than the one that committed: a committed
  // set is settled whatever it says (invariant 2), even though new HTLCs paying the old one would fail.
  const restartPolicies: [string, MuxSettings['routing'] | undefined][] = [
    ['the same config', undefined],
    ['a higher virtual hop fee', { feeBaseMsat: 1000 }],
    ['a larger virtual hop cltv_expiry_delta', { cltvExpiryDelta: 144 }],
  ];
  it.each(restartPolicies)('settles every part from the store after being killed between the commit and the SETTLEs, restarted with %s', { timeout: 120_000 }, async (_, routing) => {
    const { child, paymentHash, payment, held } = await payIntoCrashingChild('afterCommit');
    const committed = child.messages.find((m) => m.event === 'committed');
    expect(committed).toMatchObject({ outcome: 'committed' });

    const store = await database().open();
    try {
      const before = await store.getInvoice(paymentHash);
      expect(before).toMatchObject({ state: 'settleCommitted', setId: hexToBytes(committed!['setId'] as string) });
      const rows = await store.listInvoiceHtlcs(paymentHash);
      expect(rows.map((r) => r.state)).toEqual(['settleCommitted', 'settleCommitted']);
      expect(rows.map((r) => circuitKeyString(r)).sort()).toEqual(held);

      const mux = await startMux(cluster(), store, { identityKey, ...(routing !== undefined ? { routing } : {}) });
      try {
        const result = await payment;
        expectSucceeded(result);
        expect(partKeys(result)).toEqual(held);
        await expectPaidAndSettled(store, paymentHash, result);
        // Settled from the dead process's decision: the same set, committed once.
        const after = await store.getInvoice(paymentHash);
        expect(after).toMatchObject({ setId: hexToBytes(committed!['setId'] as string) });
        expect(after?.state !== 'open' && after?.state !== 'cancelled' && after?.settleCommittedAt).toEqual(
          before?.state === 'settleCommitted' && before.settleCommittedAt,
        );
      } finally {
        await stopMux(cluster(), mux);
      }
    } finally {
      await database().close(store);
    }
  });

  it('accepts the set again and settles all of it after being killed before the commit', { timeout: 120_000 }, async () => {
    const { child, paymentHash, payment, held } = await payIntoCrashingChild('beforeCommit');
    expect(child.messages.some((m) => m.event === 'committing')).toBe(true);
    expect(child.messages.some((m) => m.event === 'committed')).toBe(false);

    const store = await database().open();
    try {
      expect((await store.getInvoice(paymentHash))?.state).toBe('open');
      expect(await store.listInvoiceHtlcs(paymentHash)).toEqual([]);

      const mux = await startMux(cluster(), store, { identityKey });
      try {
        const result = await payment;
        expectSucceeded(result);
        // Never a partial settle: every part the payer sent settled, none failed.
        expect(result.attempts.filter((a) => a.outcome.kind !== 'refused').map((a) => a.outcome.kind)).toEqual(['settled', 'settled']);
        expect(partKeys(result)).toEqual(held);
        await expectPaidAndSettled(store, paymentHash, result);
      } finally {
        await stopMux(cluster(), mux);
      }
    } finally {
      await database().close(store);
    }
  });
});
