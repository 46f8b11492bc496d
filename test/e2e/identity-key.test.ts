/**
 * End to end (docs/architecture.md, invariant 8: the identity key is bound to its database).
 * An lnmux (a real child process) commits a multi-part set as settled and is SIGKILLed before any SETTLE;
 * the simulated nodes (--requireinterceptor) keep the parts held. Then, on the same database:
 * - an lnmux with another identity key is refused at open, naming both public keys, and touches nothing:
 *   no node is intercepted, every part stays held, the store is as the dead process left it;
 * - an lnmux with the right key settles every part from the store (the committed set) and the invoice
 *   the dead process left open can still be paid.
 * On PGlite (a data directory the processes use in turn) and on PostgreSQL when LNMUX_TEST_DATABASE_URL
 * is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Mux } from '../../src/mux/mux.js';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { IdentityKeyMismatchError, openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { pgliteTemplate, useTestDatabase, type BackendName } from '../store/helpers.js';
import type { ChildSpec } from './fixtures/lnmux-child.js';
import { expectPaidAndSettled, expectSucceeded, heldParts, partKey } from './support/checks.js';
import { spawnLnmux, type LnmuxChild } from './support/child.js';
import { intercepting, muxConfig, newIdentityKey, notIntercepting, sharedStore, startMux, stopMux, testLogger } from './support/mux.js';
import { describeEachBackend, useCluster } from './support/setup.js';
import { isSettled, waitUntil } from '../support/wait.js';

const cluster = useCluster();
const PLENTY_MSAT = 10_000_000_000n;
const AMOUNT_MSAT = 100_000_000n;
const OPEN_AMOUNT_MSAT = 20_000_000n;
/** The dead child never releases its leader lease: keep it short so the restarted lnmux takes over soon. */

/** The child's database and, once the child is dead, the parent's store on it. */
function useDatabase(backend: BackendName): { forChild: () => ChildSpec['database']; open: () => Promise<Store> } {
  if (backend === 'postgres') {
    const database = useTestDatabase('postgres');
    beforeAll(async () => {
      await database.freshStore();
    });
    return {
      forChild: () => ({ databaseUrl: database.config().databaseUrl! }),
      open: () => openStore(database.config()),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-e2e-identity-'));
  const dataDir = join(dir, 'pglite');
  beforeAll(async () => {
    const store = await openStore({ dataDir, migrate: true, onWarning: () => {} }, { loadDataDir: await pgliteTemplate() });
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return { forChild: () => ({ dataDir }), open: () => openStore({ dataDir, onWarning: () => {} }) };
}

describeEachBackend('the identity key bound to its database, across a restart (%s)', (backend) => {
  const database = useDatabase(backend);
  const identityKey = newIdentityKey();
  const wrongKey = newIdentityKey();
  const pubkeyOf = (key: string) => bytesToHex(deriveKeyring(hexToBytes(key)).nodePubkey);
  let child: LnmuxChild | undefined;

  afterEach(async () => {
    await child?.stop('SIGKILL');
    child = undefined;
    for (let i = 0; i < cluster().nodes.length; i++) cluster().setInboundLiquidity(i, PLENTY_MSAT);
  });

  it('refuses another key at open and fails nothing; the right key then settles the committed set from the store', { timeout: 120_000 }, async () => {
    const c = cluster();
    await waitUntil(() => notIntercepting(c), { what: 'no interceptor on the nodes' });
    child = spawnLnmux({
      config: muxConfig(c, { identityKey }),
      database: database.forChild(),
      crash: 'afterCommit',
      invoices: [String(AMOUNT_MSAT), String(OPEN_AMOUNT_MSAT)],
    });
    // The first invoice is paid (and committed), the second one is left open.
    await child.message((m) => m.event === 'started', 'the child to start');
    const [paid, left] = child.messages.filter((m) => m.event === 'invoice');
    if (paid === undefined || left === undefined) throw new Error('the child made fewer than two invoices');
    const paymentHash = hexToBytes(paid['paymentHash'] as string);
    await waitUntil(() => intercepting(c), { what: 'the child lnmux to intercept on every node', timeoutMs: 60_000 });
    c.setInboundLiquidity(0, 60_000_000n);
    c.setInboundLiquidity(1, 60_000_000n);
    c.setInboundLiquidity(2, 0n);
    const payment = c.payer.pay(paid['paymentRequest'] as string);
    expect((await child.exited).signal).toBe('SIGKILL');
    const committed = child.messages.find((m) => m.event === 'committed');
    expect(committed).toMatchObject({ outcome: 'committed' });
    await waitUntil(() => notIntercepting(c), { what: 'the nodes to see the child die' });
    const held = heldParts(cluster(), paymentHash);
    expect(held).toHaveLength(2);

    const store = await database.open();
    try {
      expect(await store.nodeIdentity()).toMatchObject({ nodePubkey: hexToBytes(pubkeyOf(identityKey)) });

      // Another key: refused at open, before it intercepts anything, with both public keys named.
      const refused = await Mux.open(muxConfig(c, { identityKey: wrongKey }), { store: sharedStore(store), logger: testLogger() }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(IdentityKeyMismatchError);
      expect(refused).toMatchObject({ databasePubkey: pubkeyOf(identityKey), configuredPubkey: pubkeyOf(wrongKey) });
      const message = (refused as Error).message;
      expect(message).toContain(pubkeyOf(identityKey));
      expect(message).toContain(pubkeyOf(wrongKey));
      expect(message).not.toContain(identityKey);
      expect(message).not.toContain(wrongKey);
      // Nothing failed: the parts are still held, nobody intercepts, the store is unchanged.
      expect(notIntercepting(c)).toBe(true);
      expect(heldParts(cluster(), paymentHash)).toEqual(held);
      expect(await isSettled(payment)).toBe(false);
      expect(await store.getInvoice(paymentHash)).toMatchObject({ state: 'settleCommitted', setId: hexToBytes(committed!['setId'] as string) });
      expect((await store.listInvoiceHtlcs(paymentHash)).map((h) => h.state)).toEqual(['settleCommitted', 'settleCommitted']);
      expect(await store.nodeIdentity()).toMatchObject({ nodePubkey: hexToBytes(pubkeyOf(identityKey)) });

      // The right key: every held part is settled from the committed set.
      const mux = await startMux(c, store, { identityKey });
      try {
        const result = await payment;
        expectSucceeded(result);
        expect(result.parts.map(partKey).sort()).toEqual(held);
        await expectPaidAndSettled(store, paymentHash, result);
        expect(await store.getInvoice(paymentHash)).toMatchObject({ setId: hexToBytes(committed!['setId'] as string) });
        // The invoice the dead process left open is still payable.
        for (let i = 0; i < c.nodes.length; i++) c.setInboundLiquidity(i, PLENTY_MSAT);
        const openHash = hexToBytes(left['paymentHash'] as string);
        expect((await store.getInvoice(openHash))?.state).toBe('open');
        await expectPaidAndSettled(store, openHash, await c.payer.pay(left['paymentRequest'] as string));
      } finally {
        await stopMux(c, mux);
      }
    } finally {
      await store.close();
    }
  });
});
