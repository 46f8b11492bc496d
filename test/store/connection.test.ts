import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveStoreConfig } from '../../src/store/config.js';
import { StoreClosedError, StoreUnavailableError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import { EMBEDDED_WARNING, connectPostgres } from '../../src/store/connect.js';
import { createStore } from '../../src/store/store.js';
import type { Store } from '../../src/store/types.js';
import { TEST_DATABASE_URL, createTestDatabase, describeOnPostgres, htlcSet, newInvoice, pgliteTemplate, useTestDatabase } from './helpers.js';
import { closedPort, startProxy, startSilentServer, type Proxy } from './proxy.js';

const quiet = (): void => {};

async function unavailable(promise: Promise<unknown>): Promise<StoreUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreUnavailableError);
  return error as StoreUnavailableError;
}

describe('a database that cannot be reached', () => {
  it('fails at once with a retryable error naming the address when nothing listens there', async () => {
    const port = await closedPort();
    const error = await unavailable(
      openStore({ databaseUrl: `postgres://lnmux:secret-password@127.0.0.1:${port}/lnmux`, connectTimeoutMs: 2_000 }),
    );
    expect(error.retryable).toBe(true);
    expect(error.mayHaveCommitted).toBe(false);
    expect(error.message).toContain(`PostgreSQL at 127.0.0.1:${port}/lnmux`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain('secret-password');
  });

  // No timed assertion: the test's own timeout (well above connectTimeoutMs) catches a hang.
  it('fails within the connect timeout when the server accepts but never answers', { timeout: 15_000 }, async () => {
    const silent = await startSilentServer();
    try {
      const error = await unavailable(
        openStore({ databaseUrl: `postgres://lnmux@127.0.0.1:${silent.port}/lnmux`, connectTimeoutMs: 300 }),
      );
      expect(error.message).toMatch(/store unavailable: open store \(schema check\) failed on PostgreSQL at 127\.0\.0\.1:\d+\/lnmux/);
      expect(error.message).toMatch(/timeout/i);
    } finally {
      await silent.close();
    }
  });

  it('rejects a bad config field before connecting, naming it', async () => {
    await expect(openStore({ databaseUrl: 'postgres://x@127.0.0.1/x', poolSize: 0 })).rejects.toThrow(
      /store config: poolSize must be an integer from 1 to 1000, got 0/,
    );
    await expect(openStore({ databaseUrl: 'postgres://x@127.0.0.1/x', connectTimeoutMs: 1.5 })).rejects.toThrow(
      /connectTimeoutMs/,
    );
    await expect(openStore({ databaseUrl: 'postgres://x@127.0.0.1/x', dataDir: '/tmp/x' })).rejects.toThrow(/not both/);
    await expect(openStore({ databaseUrl: '' })).rejects.toThrow(/databaseUrl/);
  });
});

describe('the embedded database', () => {
  it('warns that it is not for money, and keeps its data in its folder across restarts', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lnmux-embedded-'));
    try {
      const warnings: string[] = [];
      const first = await openStore(
        { dataDir, migrate: true, onWarning: (w) => warnings.push(w) },
        { loadDataDir: await pgliteTemplate() },
      );
      expect(first.backend).toBe('embedded');
      expect(warnings).toEqual([EMBEDDED_WARNING]);
      expect(EMBEDDED_WARNING).toMatch(/never fsyncs.*not for money in production/);
      const invoice = newInvoice();
      await first.recordInvoice(invoice);
      const set = htlcSet(invoice.amountMsat);
      await first.commitSettle(invoice.hash, set.setId, set.htlcs);
      await first.close();
      await expect(first.getInvoice(invoice.hash)).rejects.toBeInstanceOf(StoreClosedError);

      const second = await openStore({ dataDir, onWarning: quiet });
      expect(await second.getInvoice(invoice.hash)).toMatchObject({ state: 'settleCommitted', setId: set.setId });
      await second.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describeOnPostgres('a PostgreSQL connection that breaks', () => {
  const database = useTestDatabase('postgres');
  let proxy: Proxy;
  let store: Store;

  beforeAll(async () => {
    await database.freshStore();
    const upstream = new URL(TEST_DATABASE_URL!);
    proxy = await startProxy(upstream.hostname, Number(upstream.port || 5432));
    const url = new URL(database.config().databaseUrl!);
    url.host = `127.0.0.1:${proxy.port}`;
    store = await openStore({ databaseUrl: url.toString(), poolSize: 2, connectTimeoutMs: 2_000, onWarning: quiet });
  });

  afterAll(async () => {
    await store?.close();
    await proxy?.close();
  });

  it('makes operations fail with a retryable error while the database is down, and work again after', async () => {
    const invoice = newInvoice();
    await store.recordInvoice(invoice);
    proxy.mode = 'down';
    await unavailable(store.getInvoice(invoice.hash));
    await unavailable(store.recordInvoice(newInvoice()));
    const set = htlcSet(invoice.amountMsat);
    const error = await unavailable(store.commitSettle(invoice.hash, set.setId, set.htlcs));
    expect(error.mayHaveCommitted).toBe(false);
    proxy.mode = 'up';
    expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
    expect((await store.commitSettle(invoice.hash, set.setId, set.htlcs)).kind).toBe('committed');
  });

  // A lone request commits in one autocommit statement (store/settle.ts, WRITE_LONE_SET): its message is
  // the one that commits. Prepared, it is named in its Parse and in every Bind.
  describe('a lone settle decision (one statement)', () => {
    beforeAll(() => {
      proxy.commitsAlone = 'lnmux_settle_lone';
    });
    afterAll(() => {
      proxy.commitsAlone = undefined;
    });

    it('never reports a commit that did not happen: statement lost on the way, the retry commits', async () => {
      const invoice = newInvoice();
      await store.recordInvoice(invoice);
      const set = htlcSet(invoice.amountMsat, 2);
      const cutsBefore = proxy.cuts;
      proxy.mode = 'dropBeforeCommit';
      const error = await unavailable(store.commitSettle(invoice.hash, set.setId, set.htlcs));
      expect(error.mayHaveCommitted).toBe(true);
      expect(error.message).toMatch(/COMMIT was in flight/);
      expect(proxy.cuts).toBe(cutsBefore + 1);
      // The server never saw it: nothing is stored, and retrying the same set commits it now.
      expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
      expect((await store.commitSettle(invoice.hash, set.setId, set.htlcs)).kind).toBe('committed');
    });

    it('reports a commit whose answer was lost as unknown; the retry of the same set finds it committed', async () => {
      const invoice = newInvoice();
      await store.recordInvoice(invoice);
      const set = htlcSet(invoice.amountMsat, 2);
      proxy.mode = 'dropAfterCommit';
      const error = await unavailable(store.commitSettle(invoice.hash, set.setId, set.htlcs));
      expect(error.mayHaveCommitted).toBe(true);
      expect((await store.commitSettle(invoice.hash, set.setId, set.htlcs)).kind).toBe('alreadyCommitted');
      expect(await store.listInvoiceHtlcs(invoice.hash)).toHaveLength(2);
    });
  });

  // Requests that queue behind one in flight are decided together in a transaction (lock, write, COMMIT).
  describe('a batch of settle decisions (one transaction)', () => {
    let batching: Store;
    beforeAll(() => {
      const url = new URL(database.config().databaseUrl!);
      url.host = `127.0.0.1:${proxy.port}`;
      batching = createStore(
        connectPostgres({
          ...resolveStoreConfig({ databaseUrl: url.toString(), poolSize: 2, connectTimeoutMs: 2_000, onWarning: quiet }),
          databaseUrl: url.toString(),
        }),
        'postgres',
        { maxBatchSize: 10, maxBatchesInFlight: 1 },
      );
    });
    afterAll(async () => {
      await batching.close();
    });

    /** Three sets submitted at once: the first runs alone, the other two queue and run as one batch. */
    async function threeSets() {
      const invoices = [newInvoice(), newInvoice(), newInvoice()];
      for (const invoice of invoices) await batching.recordInvoice(invoice);
      const sets = invoices.map((invoice) => htlcSet(invoice.amountMsat, 2));
      const results = await Promise.allSettled(
        invoices.map((invoice, i) => batching.commitSettle(invoice.hash, sets[i]!.setId, sets[i]!.htlcs)),
      );
      return { invoices, sets, results };
    }

    it('never reports a commit that did not happen: COMMIT lost on the way, the retry commits', async () => {
      const cutsBefore = proxy.cuts;
      proxy.mode = 'dropBeforeCommit';
      const { invoices, sets, results } = await threeSets();
      expect(proxy.cuts).toBe(cutsBefore + 1);
      expect(results[0]).toMatchObject({ status: 'fulfilled', value: { kind: 'committed' } });
      for (const i of [1, 2]) {
        const error = await unavailable(Promise.reject((results[i] as PromiseRejectedResult).reason));
        expect(error.mayHaveCommitted).toBe(true);
        expect(error.message).toMatch(/COMMIT was in flight/);
        // The server never saw COMMIT: nothing is stored, and retrying the same set commits it now.
        expect((await batching.getInvoice(invoices[i]!.hash))?.state).toBe('open');
        expect((await batching.commitSettle(invoices[i]!.hash, sets[i]!.setId, sets[i]!.htlcs)).kind).toBe('committed');
      }
    });

    it('reports a commit whose answer was lost as unknown; the retry of the same set finds it committed', async () => {
      proxy.mode = 'dropAfterCommit';
      const { invoices, sets, results } = await threeSets();
      expect(results[0]).toMatchObject({ status: 'fulfilled', value: { kind: 'committed' } });
      for (const i of [1, 2]) {
        const error = await unavailable(Promise.reject((results[i] as PromiseRejectedResult).reason));
        expect(error.mayHaveCommitted).toBe(true);
        expect((await batching.commitSettle(invoices[i]!.hash, sets[i]!.setId, sets[i]!.htlcs)).kind).toBe('alreadyCommitted');
        expect(await batching.listInvoiceHtlcs(invoices[i]!.hash)).toHaveLength(2);
      }
    });
  });

  it('times a statement out that waits too long on a row lock, with a retryable error, committing nothing', async () => {
    const slow = createStore(database.otherDb({ poolSize: 1, statementTimeoutMs: 200 }), 'postgres', { maxBatchSize: 1 });
    const invoice = newInvoice();
    await store.recordInvoice(invoice);
    const holder = database.otherDb({ poolSize: 1 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holding = holder.withSession('lock holder', async (s) => {
      await s.query('BEGIN');
      await s.query('SELECT 1 FROM lnmux.invoices WHERE hash = $1 FOR UPDATE', [Buffer.from(invoice.hash)]);
      locked();
      await held;
      await s.query('ROLLBACK');
    });
    await isLocked;
    const set = htlcSet(invoice.amountMsat);
    const error = await unavailable(slow.commitSettle(invoice.hash, set.setId, set.htlcs));
    expect(error.message).toMatch(/statement timeout/);
    release();
    await holding;
    expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
  });
});

describeOnPostgres('a PostgreSQL store', () => {
  it('closes after its queued writes commit, then refuses new work', async () => {
    const { url, drop } = await createTestDatabase();
    try {
      const store = await openStore({ databaseUrl: url, migrate: true, onWarning: quiet });
      const invoices = Array.from({ length: 20 }, () => newInvoice());
      const writes = invoices.map((i) => store.recordInvoice(i));
      await store.close();
      expect((await Promise.all(writes)).every((o) => o.kind === 'recorded')).toBe(true);
      await expect(store.recordInvoice(newInvoice())).rejects.toBeInstanceOf(StoreClosedError);
    } finally {
      await drop();
    }
  });

  it('uses the defaults for every field left out', () => {
    expect(resolveStoreConfig({ databaseUrl: 'postgres://x@h/d' })).toMatchObject({
      poolSize: 10,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 10_000,
      maxBatchSize: 100,
      maxBatchesInFlight: 2,
      migrate: false,
    });
  });
});
