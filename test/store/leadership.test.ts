/**
 * Leadership (leadership.ts) and the fencing of settle commits (settle.ts), docs/architecture.md, invariant 6: one
 * session holds the leadership; it passes on the moment that session ends (no TTL); each new term has a
 * new epoch; a settle commit from an ended term is refused in the commit's own transaction.
 * PostgreSQL for the sessions; PGlite for the single-instance behaviour and the fencing.
 */
import { afterEach, expect, it } from 'vitest';
import type { Leadership, LeadershipLostCause, Store } from '../../src/store/index.js';
import { createStore } from '../../src/store/store.js';
import { describeEachBackend, describeOnPostgres, htlcSet, lockWaiters, newInvoice, useTestDatabase } from './helpers.js';
import { waitUntil } from '../support/wait.js';

const NAME = 'cluster';
/** Ends the session that holds the leadership lock (granted, classid 'lnmx'), as the server does when its client dies. */
const HOLDER_TERMINATE = `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x6c6e6d78} AND granted`;

describeEachBackend('settle fencing on %s', (backend) => {
  const database = useTestDatabase(backend);
  const open: Leadership[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.release()));
  });

  function leadership(store: Store, holder: string): Leadership {
    const l = store.leadership(NAME, holder);
    open.push(l);
    return l;
  }

  it('commits a set whose fence carries the current epoch', async () => {
    const store = await database.freshStore();
    const taken = await leadership(store, 'a').take();
    expect(taken).toMatchObject({ kind: 'taken', epoch: 1n, resumed: false });
    const invoice = newInvoice({ amountMsat: 5_000n });
    await store.recordInvoice(invoice);
    const { setId, htlcs } = htlcSet(5_000n, 2);
    const outcome = await store.commitSettle(invoice.hash, setId, htlcs, { leadership: NAME, epoch: 1n });
    expect(outcome.kind).toBe('committed');
  });

  it("refuses a stale leader's commit once a new term began, and writes nothing of it", async () => {
    const store = await database.freshStore();
    const first = leadership(store, 'a');
    expect(await first.take()).toMatchObject({ kind: 'taken', epoch: 1n });
    await first.release();
    expect(await leadership(store, 'b').take()).toMatchObject({ kind: 'taken', epoch: 2n, resumed: false });

    const invoice = newInvoice({ amountMsat: 7_000n });
    await store.recordInvoice(invoice);
    const { setId, htlcs } = htlcSet(7_000n, 3);
    expect(await store.commitSettle(invoice.hash, setId, htlcs, { leadership: NAME, epoch: 1n })).toEqual({
      kind: 'fenced',
      currentEpoch: 2n,
    });
    expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
    expect(await store.listInvoiceHtlcs(invoice.hash)).toEqual([]);
    // The current term commits the same set.
    expect((await store.commitSettle(invoice.hash, setId, htlcs, { leadership: NAME, epoch: 2n })).kind).toBe('committed');
  });

  it('refuses a fence for a leadership never taken', async () => {
    const store = await database.freshStore();
    const invoice = newInvoice({ amountMsat: 1_000n });
    await store.recordInvoice(invoice);
    const { setId, htlcs } = htlcSet(1_000n);
    expect(await store.commitSettle(invoice.hash, setId, htlcs, { leadership: NAME, epoch: 1n })).toEqual({
      kind: 'fenced',
      currentEpoch: null,
    });
  });

  it('decides the fresh requests of a batch and fences only the stale ones', async () => {
    const store = createStore(database.db(), backend === 'pglite' ? 'embedded' : 'postgres', { maxBatchSize: 100 });
    await database.freshStore();
    await leadership(store, 'a').take();
    const a = newInvoice({ amountMsat: 2_000n });
    const b = newInvoice({ amountMsat: 3_000n });
    await store.recordInvoice(a);
    await store.recordInvoice(b);
    const setA = htlcSet(2_000n);
    const setB = htlcSet(3_000n);
    // Submitted together: they share a batch (the batcher takes what is queued).
    const [stale, fresh] = await Promise.all([
      store.commitSettle(a.hash, setA.setId, setA.htlcs, { leadership: NAME, epoch: 9n }),
      store.commitSettle(b.hash, setB.setId, setB.htlcs, { leadership: NAME, epoch: 1n }),
    ]);
    expect(stale).toEqual({ kind: 'fenced', currentEpoch: 1n });
    expect(fresh.kind).toBe('committed');
  });

  it('keeps the epoch when the same holder takes the leadership back and nobody led meanwhile', async () => {
    const store = await database.freshStore();
    const first = leadership(store, 'a');
    const taken = await first.take();
    await first.release();
    const again = leadership(store, 'a');
    expect(await again.take({ previousEpoch: taken.kind === 'taken' ? taken.epoch : 0n })).toEqual({
      kind: 'taken',
      epoch: 1n,
      resumed: true,
    });
  });
});

describeOnPostgres('leadership sessions on postgres', () => {
  const database = useTestDatabase('postgres');
  const open: Leadership[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.release()));
  });

  async function store(): Promise<Store> {
    await database.freshStore();
    return createStore(database.otherDb(), 'postgres', { maxBatchSize: 10 });
  }

  function leadership(s: Store, holder: string, onLost?: (cause: LeadershipLostCause) => void): Leadership {
    const l = s.leadership(NAME, holder, { heartbeatMs: 100, sessionTimeoutMs: 1_000, ...(onLost ? { onLost } : {}) });
    open.push(l);
    return l;
  }

  it('refuses a commit that raced a new term: it waits for the epoch bump in progress, then reads the new epoch', async () => {
    const s = await store();
    await leadership(s, 'a').take();
    const invoice = newInvoice({ amountMsat: 6_000n });
    await s.recordInvoice(invoice);
    const { setId, htlcs } = htlcSet(6_000n, 2);
    // A new leader's bump, in progress: the row is locked and changed, not yet committed.
    const bump = database.otherDb();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let bumped!: () => void;
    const bumpedInTx = new Promise<void>((resolve) => (bumped = resolve));
    const bumping = bump.transaction('test bump', async (tx) => {
      await tx.query(`UPDATE lnmux.leases SET epoch = epoch + 1, holder = 'b' WHERE name = $1`, [NAME]);
      bumped();
      await released;
    });
    await bumpedInTx;
    const commit = s.commitSettle(invoice.hash, setId, htlcs, { leadership: NAME, epoch: 1n });
    // The commit waits on the row (FOR SHARE) until the bump commits.
    await waitUntil(async () => (await lockWaiters(database.db())) === 1, { what: 'the commit to wait on the row lock' });
    release();
    await bumping;
    expect(await commit).toEqual({ kind: 'fenced', currentEpoch: 2n });
    expect((await s.getInvoice(invoice.hash))?.state).toBe('open');
  });

  it('lets one session hold it; another finds it held and learns who holds it', async () => {
    const s = await store();
    const a = leadership(s, 'a');
    const b = leadership(s, 'b');
    expect(await a.take()).toMatchObject({ kind: 'taken', epoch: 1n });
    expect(await b.take()).toEqual({ kind: 'heldByOther', holder: 'a' });
    expect(a.held).toBe(true);
    expect(b.held).toBe(false);
  });

  it('passes to a waiting standby the moment the holding session ends, with the next epoch', async () => {
    const s = await store();
    const a = leadership(s, 'a');
    await a.take();
    const b = leadership(s, 'b');
    const waiting = b.take({ wait: true });
    await database.db().withSession('test terminate', (session) =>
      session.query(HOLDER_TERMINATE),
    );
    expect(await waiting).toMatchObject({ kind: 'taken', epoch: 2n, resumed: false });
  });

  it("reports the loss of the held session once, and the loser's commit is then fenced", async () => {
    const s = await store();
    const lost: LeadershipLostCause[] = [];
    const a = leadership(s, 'a', (cause) => lost.push(cause));
    await a.take();
    await database.db().withSession('test terminate', (session) =>
      session.query(HOLDER_TERMINATE),
    );
    const b = leadership(s, 'b');
    let taken = await b.take({ wait: true });
    while (taken.kind !== 'taken') taken = await b.take({ wait: true });
    await waitUntil(() => lost.length === 1, { what: 'the leadership loss reported', observed: () => lost });
    expect(lost[0]!.kind).toBe('connectionLost');
    expect(a.held).toBe(false);
    const invoice = newInvoice({ amountMsat: 4_000n });
    await s.recordInvoice(invoice);
    const { setId, htlcs } = htlcSet(4_000n);
    expect(await s.commitSettle(invoice.hash, setId, htlcs, { leadership: NAME, epoch: 1n })).toEqual({ kind: 'fenced', currentEpoch: 2n });
    // The old holder can take it back only as a new term once the other lets go.
    expect(await a.take({ previousEpoch: 1n })).toEqual({ kind: 'heldByOther', holder: 'b' });
    await b.release();
    expect(await a.take({ previousEpoch: 1n })).toEqual({ kind: 'taken', epoch: 3n, resumed: false });
  });
});
