/**
 * Settle decisions per second: commitSettle for invoices paid with 1 and with 4 HTLCs, on the local
 * PostgreSQL and on the embedded PGlite, from concurrent callers.
 *
 * Each row: `rounds` rounds; a round records `perRound` fresh invoices (not timed), then `callers`
 * concurrent callers each take the next invoice and await its commitSettle until all are decided. The
 * figure is the median over rounds of decisions / elapsed time; latency is per call, p50 and p99 over
 * every call of every round. Baseline (ratio 1.00): one caller, no grouping, on the same backend.
 * "group commit" is the store's default (up to 100 decisions per transaction, 2 transactions in flight;
 * batches form only while earlier ones are in flight); "one per transaction" sets maxBatchSize to 1 and
 * lets every pooled connection (10) run one.
 *
 * A last row per backend: markHtlcFinal events per second (invoices of 4 HTLCs, every HTLC marked
 * settled, 64 callers), the write that follows every SETTLE.
 *
 * PostgreSQL: LNMUX_BENCH_DATABASE_URL, else LNMUX_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres; a database `lnmux_bench_<pid>` is created and dropped.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { resolveStoreConfig } from '../src/store/config.js';
import { connectEmbedded } from '../src/store/connect.js';
import { migrateUp } from '../src/store/migrate.js';
import { openStore } from '../src/store/open.js';
import { createStore } from '../src/store/store.js';
import type { NewInvoice, SetHtlc, Store } from '../src/store/types.js';
import { machine, median, percentile } from './lib/measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 1_000);
const CALLERS = 64;

/** A store for one row, and how to let it go. */
type Opener = (maxBatchSize: number) => Promise<{ store: Store; release: () => Promise<void> }>;

interface Row {
  readonly backend: string;
  readonly name: string;
  readonly parts: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  baselineRatio?: number;
}

function invoice(): NewInvoice {
  const createdAt = new Date();
  return {
    hash: new Uint8Array(randomBytes(32)),
    amountMsat: 100_000n,
    paymentAddr: new Uint8Array(randomBytes(32)),
    description: { kind: 'text', text: 'bench' },
    paymentRequest: 'lnbcrt1u1pbench',
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 3_600_000),
  };
}

function set(parts: number): { setId: Uint8Array; htlcs: SetHtlc[] } {
  const each = 100_000n / BigInt(parts);
  return {
    setId: new Uint8Array(randomBytes(32)),
    htlcs: Array.from({ length: parts }, (_, i) => ({
      nodePubkey: new Uint8Array([2, ...randomBytes(32)]),
      chanId: (1n << 63n) | BigInt(randomBytes(4).readUInt32BE()),
      htlcId: BigInt(i),
      amountMsat: i === parts - 1 ? 100_000n - each * BigInt(parts - 1) : each,
    })),
  };
}

/** One round: record `count` invoices, then decide them all from `callers` concurrent callers. */
async function round(store: Store, parts: number, callers: number, count: number, latencies: number[]): Promise<number> {
  const invoices = await Promise.all(Array.from({ length: count }, () => store.recordInvoice(invoice())));
  const work = invoices.map((o) => ({ hash: o.invoice.hash, ...set(parts) }));
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < work.length) {
        const w = work[next++]!;
        const t0 = process.hrtime.bigint();
        const outcome = await store.commitSettle(w.hash, w.setId, w.htlcs);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (outcome.kind !== 'committed') throw new Error(`unexpected outcome ${outcome.kind}`);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** One round of final events: settle `count / 4` invoices of 4 HTLCs (not timed), then mark every HTLC settled. */
async function finalsRound(store: Store, callers: number, count: number, latencies: number[]): Promise<number> {
  const invoices = await Promise.all(Array.from({ length: count / 4 }, () => store.recordInvoice(invoice())));
  const keys: SetHtlc[] = [];
  await Promise.all(
    invoices.map(async (o) => {
      const s = set(4);
      await store.commitSettle(o.invoice.hash, s.setId, s.htlcs);
      keys.push(...s.htlcs);
    }),
  );
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        const t0 = process.hrtime.bigint();
        const outcome = await store.markHtlcFinal(key, 'settled');
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (outcome.kind !== 'recorded') throw new Error(`unexpected outcome ${outcome.kind}`);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function measureFinals(backend: string, open: Opener, callers: number): Promise<Row> {
  const { store, release } = await open(100);
  try {
    await finalsRound(store, callers, 200, []);
    const rates: number[] = [];
    const latencies: number[] = [];
    for (let r = 0; r < ROUNDS; r++) rates.push(PER_ROUND / (await finalsRound(store, callers, PER_ROUND, latencies)));
    return {
      backend,
      name: `${callers} callers, group commit: HTLC final events (markHtlcFinal)`,
      parts: 4,
      perSecond: median(rates),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  } finally {
    await release();
  }
}

async function measure(
  backend: string,
  name: string,
  open: Opener,
  maxBatchSize: number,
  callers: number,
  parts: number,
): Promise<Row> {
  const { store, release } = await open(maxBatchSize);
  try {
    const count = callers === 1 ? Math.max(100, Math.floor(PER_ROUND / 4)) : PER_ROUND;
    await round(store, parts, callers, Math.min(count, 200), []); // warm-up
    const rates: number[] = [];
    const latencies: number[] = [];
    for (let r = 0; r < ROUNDS; r++) rates.push(count / (await round(store, parts, callers, count, latencies)));
    return {
      backend,
      name,
      parts,
      perSecond: median(rates),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  } finally {
    await release();
  }
}

async function suite(backend: string, open: Opener, callers: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const parts of [1, 4]) {
    const baseline = await measure(backend, '1 caller, one per transaction', open, 1, 1, parts);
    const single = await measure(backend, `${callers} callers, one per transaction`, open, 1, callers, parts);
    const grouped = await measure(backend, `${callers} callers, group commit`, open, 100, callers, parts);
    for (const row of [baseline, single, grouped]) {
      row.baselineRatio = row.perSecond / baseline.perSecond;
      rows.push(row);
      console.error(`${row.backend} | ${row.parts} | ${row.name} | ${Math.round(row.perSecond)}/s`);
    }
  }
  const finals = await measureFinals(backend, open, callers);
  console.error(`${finals.backend} | ${finals.parts} | ${finals.name} | ${Math.round(finals.perSecond)}/s`);
  rows.push(finals);
  return rows;
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const adminUrl =
    process.env.LNMUX_BENCH_DATABASE_URL ??
    process.env.LNMUX_TEST_DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `lnmux_bench_${process.pid}`;
  let pgAvailable = true;
  try {
    await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  } catch (error) {
    pgAvailable = false;
    console.error(`PostgreSQL not reachable (${(error as Error).message}): PGlite only`);
  }
  if (pgAvailable) {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    try {
      const open: Opener = async (maxBatchSize) => {
        // One per transaction: every caller its own transaction, as many at once as the pool allows.
        const maxBatchesInFlight = maxBatchSize === 1 ? 10 : 2;
        const store = await openStore({ databaseUrl, maxBatchSize, maxBatchesInFlight, migrate: true, poolSize: 10 });
        return { store, release: () => store.close() };
      };
      const probe = new pg.Client({ connectionString: databaseUrl });
      await probe.connect();
      const v = await probe.query<{ v: string; fsync: string; sc: string }>(
        `SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync,
                current_setting('synchronous_commit') AS sc`,
      );
      await probe.end();
      const version = `PostgreSQL ${v.rows[0]!.v} (fsync ${v.rows[0]!.fsync}, synchronous_commit ${v.rows[0]!.sc}), pool 10`;
      rows.push(...(await suite(version, open, CALLERS)));
    } finally {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }
  // One embedded database for every PGlite row (a fresh one costs seconds); its tables grow a little.
  const db = await connectEmbedded(resolveStoreConfig({ onWarning: () => {} }));
  await migrateUp(db);
  const openEmbedded: Opener = async (maxBatchSize) => ({
    store: createStore(db, 'embedded', { maxBatchSize }),
    release: async () => {},
  });
  try {
    rows.push(...(await suite('PGlite 0.5 in memory (PostgreSQL 18, one session)', openEmbedded, CALLERS)));
  } finally {
    await db.close();
  }

  console.log(`\n${machine()}; ${ROUNDS} rounds of ${PER_ROUND} decisions (one caller: a quarter), medians\n`);
  console.log('| backend | HTLCs per invoice | callers, mode | decisions (or events)/s | p50 ms | p99 ms | x baseline |');
  console.log('|---|---:|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.backend} | ${r.parts} | ${r.name} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ` +
        `${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.baselineRatio === undefined ? '' : r.baselineRatio.toFixed(2)} |`,
    );
  }
}

await main();
