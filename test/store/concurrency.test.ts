/**
 * Races. On PostgreSQL each contender is its own pool (its own connection, as two lnmux processes would
 * have); a third connection holds the invoice's row lock until both contenders are blocked on it, so the
 * race is real every time, not left to scheduling. PGlite has a single session: two callers can only
 * interleave between transactions, never inside one, so there the same races are run through one store
 * and show that the queueing gives the same single winner.
 */
import { expect, it } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { createStore } from '../../src/store/store.js';
import type { Invoice, SettleCommitOutcome, Store } from '../../src/store/types.js';
import { describeEachBackend, waitForLockWaiters, htlcSet, newInvoice, useTestDatabase } from './helpers.js';

/** Holds invoice `hash`'s row lock in an open transaction on `db` until `release()` is called. */
async function holdRowLock(db: Db, hash: Uint8Array): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const done = db.withSession('test lock holder', async (session) => {
    await session.query('BEGIN');
    await session.query('SELECT 1 FROM lnmux.invoices WHERE hash = $1 FOR UPDATE', [Buffer.from(hash)]);
    locked();
    await released;
    await session.query('COMMIT');
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await done;
    },
  };
}

function expectOneWinner(outcomes: readonly SettleCommitOutcome[], winnerSet: Uint8Array | undefined): void {
  expect(outcomes.map((o) => o.kind).sort()).toEqual(['alreadySettledWithOtherSet', 'committed']);
  expect(outcomes.find((o) => o.kind === 'alreadySettledWithOtherSet')).toEqual({
    kind: 'alreadySettledWithOtherSet',
    setId: winnerSet,
  });
}

async function openInvoice(store: Store): Promise<Invoice & { readonly amountMsat: bigint }> {
  return (await store.recordInvoice(newInvoice())).invoice as Invoice & { readonly amountMsat: bigint };
}

describeEachBackend('races between connections on %s', (backend) => {
  const database = useTestDatabase(backend);

  it('lets exactly one of two connections racing different sets for one invoice commit', async () => {
    const store = await database.freshStore();
    const a = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const b = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const observer = database.otherDb({ poolSize: 1 });
    for (let round = 0; round < 3; round++) {
      const invoice = await openInvoice(store);
      const setA = htlcSet(invoice.amountMsat, 2);
      const setB = htlcSet(invoice.amountMsat, 3);
      const holder = await holdRowLock(observer, invoice.hash);
      const racing = Promise.all([
        a.commitSettle(invoice.hash, setA.setId, setA.htlcs),
        b.commitSettle(invoice.hash, setB.setId, setB.htlcs),
      ]);
      await waitForLockWaiters(database.db(), 2);
      await holder.release();
      const outcomes = await racing;
      const stored = (await store.getInvoice(invoice.hash)) as { setId: Uint8Array };
      expectOneWinner(outcomes, stored.setId);
      const winner = outcomes[0]!.kind === 'committed' ? setA : setB;
      const htlcs = await store.listInvoiceHtlcs(invoice.hash);
      expect(htlcs.map((h) => h.setId)).toEqual(winner.htlcs.map(() => winner.setId));
      expect(htlcs).toHaveLength(winner.htlcs.length);
    }
  });

  it('lets two connections racing the same set both settle, storing the set once', async () => {
    const store = await database.freshStore();
    const a = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const b = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const invoice = await openInvoice(store);
    const set = htlcSet(invoice.amountMsat, 2);
    const holder = await holdRowLock(database.otherDb({ poolSize: 1 }), invoice.hash);
    const racing = Promise.all([
      a.commitSettle(invoice.hash, set.setId, set.htlcs),
      b.commitSettle(invoice.hash, set.setId, set.htlcs),
    ]);
    await waitForLockWaiters(database.db(), 2);
    await holder.release();
    expect((await racing).map((o) => o.kind).sort()).toEqual(['alreadyCommitted', 'committed']);
    expect(await store.listInvoiceHtlcs(invoice.hash)).toHaveLength(2);
  });

  it('lets exactly one of a cancel and a settle racing on one invoice win', async () => {
    const store = await database.freshStore();
    const a = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const b = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const invoice = await openInvoice(store);
    const set = htlcSet(invoice.amountMsat);
    const holder = await holdRowLock(database.otherDb({ poolSize: 1 }), invoice.hash);
    const settle = a.commitSettle(invoice.hash, set.setId, set.htlcs);
    const cancel = b.cancelInvoice(invoice.hash);
    await waitForLockWaiters(database.db(), 2);
    await holder.release();
    const [settled, cancelled] = await Promise.all([settle, cancel]);
    const state = (await store.getInvoice(invoice.hash))?.state;
    if (settled.kind === 'committed') {
      expect(cancelled).toEqual({ kind: 'settleCommitted', setId: set.setId });
      expect(state).toBe('settleCommitted');
    } else {
      expect(settled).toEqual({ kind: 'cancelled' });
      expect(cancelled.kind).toBe('cancelled');
      expect(state).toBe('cancelled');
      expect(await store.listInvoiceHtlcs(invoice.hash)).toEqual([]);
    }
  });

  it('rolls the invoice up when two connections finalize its last two HTLCs at once', async () => {
    const store = await database.freshStore();
    const a = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const b = createStore(database.otherDb({ poolSize: 1 }), 'postgres', { maxBatchSize: 1 });
    const invoice = await openInvoice(store);
    const set = htlcSet(invoice.amountMsat, 2);
    await store.commitSettle(invoice.hash, set.setId, set.htlcs);
    const holder = await holdRowLock(database.otherDb({ poolSize: 1 }), invoice.hash);
    const racing = Promise.all([a.markHtlcFinal(set.htlcs[0]!, 'settled'), b.markHtlcFinal(set.htlcs[1]!, 'settled')]);
    await waitForLockWaiters(database.db(), 2);
    await holder.release();
    const outcomes = await racing;
    expect(outcomes.filter((o) => o.kind === 'recorded' && o.invoiceFinalized)).toHaveLength(1);
    expect((await store.getInvoice(invoice.hash))?.state).toBe('settled');
  });

  it('locks only the invoice row: a settle of another invoice commits while one is locked', async () => {
    const store = await database.freshStore();
    const locked = await openInvoice(store);
    const free = await openInvoice(store);
    const holder = await holdRowLock(database.otherDb({ poolSize: 1 }), locked.hash);
    try {
      const set = htlcSet(free.amountMsat, 2);
      expect((await store.commitSettle(free.hash, set.setId, set.htlcs)).kind).toBe('committed');
      await store.markHtlcFinal(set.htlcs[0]!, 'settled');
      expect((await store.cancelInvoice((await openInvoice(store)).hash)).kind).toBe('cancelled');
    } finally {
      await holder.release();
    }
  });
}, ['postgres']);

describeEachBackend('races through the single session of %s', (backend) => {
  const database = useTestDatabase(backend);

  it('lets exactly one of two callers racing different sets for one invoice commit', async () => {
    const store = await database.freshStore({ maxBatchSize: 1 });
    for (let round = 0; round < 3; round++) {
      const invoice = await openInvoice(store);
      const setA = htlcSet(invoice.amountMsat, 2);
      const setB = htlcSet(invoice.amountMsat, 1);
      const outcomes = await Promise.all([
        store.commitSettle(invoice.hash, setA.setId, setA.htlcs),
        store.commitSettle(invoice.hash, setB.setId, setB.htlcs),
      ]);
      expectOneWinner(outcomes, ((await store.getInvoice(invoice.hash)) as { setId: Uint8Array }).setId);
    }
  });

  it('lets exactly one of two sets win when both land in one group-committed batch', async () => {
    const store = await database.freshStore({ maxBatchSize: 10 });
    const invoice = await openInvoice(store);
    const setA = htlcSet(invoice.amountMsat, 2);
    const setB = htlcSet(invoice.amountMsat, 1);
    const unrelated = await openInvoice(store);
    const setC = htlcSet(unrelated.amountMsat);
    // The first request runs alone; the three behind it queue and run as one batch.
    const outcomes = await Promise.all([
      store.commitSettle(unrelated.hash, setC.setId, setC.htlcs),
      store.commitSettle(invoice.hash, setA.setId, setA.htlcs),
      store.commitSettle(invoice.hash, setB.setId, setB.htlcs),
      store.commitSettle(unrelated.hash, setC.setId, setC.htlcs),
    ]);
    expect(outcomes[0]!.kind).toBe('committed');
    expect(outcomes[3]!.kind).toBe('alreadyCommitted');
    expectOneWinner([outcomes[1]!, outcomes[2]!], setA.setId);
  });

  it('lets exactly one of a cancel and a settle win', async () => {
    const store = await database.freshStore();
    const invoice = await openInvoice(store);
    const set = htlcSet(invoice.amountMsat);
    const [settled, cancelled] = await Promise.all([
      store.commitSettle(invoice.hash, set.setId, set.htlcs),
      store.cancelInvoice(invoice.hash),
    ]);
    expect([settled.kind === 'committed', cancelled.kind === 'cancelled'].filter(Boolean)).toHaveLength(1);
  });
}, ['pglite']);
