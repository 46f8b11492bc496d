/**
 * How lnmux's cost grows (issue 15 §4): four curves, each over several points, on the local PostgreSQL.
 *
 * - `memory`: heap per HTLC held in an incomplete multi-part set (one part of half the invoice amount,
 *   MPP timeout one hour), at COST_MEMORY_POINTS HTLCs held. The real path: a simulated cluster in a
 *   child process (bench/lib/e2e-cluster.ts, onions built before the timed window) offers the parts over
 *   gRPC to a Mux (gateway -> engine -> inspect -> invoice lookup -> registry). Heap used after two
 *   forced GCs (v8 --expose-gc set at run time), minus the same after a warm-up of MEMORY_WARMUP held
 *   parts, divided by the parts held since. COST_MEMORY_SNAPSHOT=1 adds a run (not counted) that takes a heap
 *   snapshot after the warm-up and at the first point and prints the objects added per held HTLC, by
 *   constructor (plain objects by their property names).
 * - `invoices`: the store's recordInvoice (what Mux.createInvoice writes) and getInvoiceForHtlc (the
 *   engine's per-HTLC invoice read), one at a time, p50 / p99, with COST_INVOICE_POINTS invoices
 *   already in lnmux.invoices (filled in SQL by INSERT ... SELECT generate_series, realistic columns,
 *   a tenth of them settled with a set of two HTLCs, and a row in htlc_log per held part), plus each
 *   statement's EXPLAIN. In a database of its own, `costbench_<pid>`, dropped at the end.
 * - `nodes`: COST_NODES simulated nodes with one lnmux: Mux.start -> ready (every node's interceptor
 *   stream open, readinessOf), the heap after a forced GC, and the per-payment latency (last part read
 *   -> last SETTLE written, as the e2e bench times it; and at the nodes) of 2-part payments at
 *   COST_RATE payments/s offered for COST_RATE_SECONDS, parts spread over the nodes; this process's
 *   CPU over 5 s without payments (what the nodes' streams cost idle) and per payment.
 * - `startup`: COST_STARTUP_POINTS HTLCs whose settle is committed but not final (sets of 2 HTLCs, the
 *   invoices settleCommitted) written in SQL before the Mux starts: Mux.start -> ready, and -> every
 *   such HTLC looked up at its node (the cluster's final-state reconciliation, LookupHtlcResolution one
 *   by one). The simulated nodes do not hold these fabricated HTLCs, so none is settled again here:
 *   what is timed is reading them and reconciling their final state, which a restart does before any
 *   replayed HTLC can be settled again.
 *
 * Knobs (environment, defaults in brackets): COST_PARTS [memory,invoices,nodes,startup], COST_RUNS [3],
 * COST_MEMORY_POINTS [1000,10000,30000,100000], COST_MEMORY_SNAPSHOT [0], COST_INVOICE_POINTS
 * [1000,10000,100000,1000000], COST_INVOICE_OPS [500 timed calls per point and statement],
 * COST_NODES [3,10,30], COST_RATE [20 payments/s], COST_RATE_SECONDS [10], COST_STARTUP_POINTS
 * [1000,10000,100000], COST_LOG [silent: lnmux's pino level, logs to stdout]. PostgreSQL:
 * LNMUX_BENCH_DATABASE_URL, else LNMUX_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres;
 * every database the bench creates is dropped.
 *
 * Run: `npm run bench -- cost`. Figures go to docs/benchmarks.md, "How cost grows (issue 15 §4)".
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapSnapshot, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import pino from 'pino';
import { NodeGateway } from '../src/lnd/node-gateway.js';
import { Mux } from '../src/mux/mux.js';
import { SettlementEngine } from '../src/mux/engine.js';
import { readinessOf } from '../src/mux/status.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/index.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { ClusterProcess } from './lib/cluster-process.js';
import { heapHistogram, histogramDiff } from './lib/heap-histogram.js';
import { machine, median, percentile } from './lib/measure.js';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const list = (name: string, fallback: string): number[] => env(name, fallback).split(',').filter((s) => s !== '').map(Number);
const PARTS = env('COST_PARTS', 'memory,invoices,nodes,startup').split(',');
const RUNS = Number(env('COST_RUNS', '3'));
const MEMORY_POINTS = list('COST_MEMORY_POINTS', '1000,10000,30000,100000');
const MEMORY_SNAPSHOT = env('COST_MEMORY_SNAPSHOT', '0') === '1';
/** Parts held before the baseline heap is read: code, caches and pools allocated once are not counted. */
const MEMORY_WARMUP = 500;
const INVOICE_POINTS = list('COST_INVOICE_POINTS', '1000,10000,100000,1000000');
const INVOICE_OPS = Number(env('COST_INVOICE_OPS', '500'));
const NODES = list('COST_NODES', '3,10,30');
const RATE = Number(env('COST_RATE', '20'));
const RATE_SECONDS = Number(env('COST_RATE_SECONDS', '10'));
const STARTUP_POINTS = list('COST_STARTUP_POINTS', '1000,10000,100000');
const AMOUNT_MSAT = 100_000n;
const BASE_URL = process.env['LNMUX_BENCH_DATABASE_URL'] ?? process.env['LNMUX_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const load = (): number => loadavg()[0]!;

function fullGc(): void {
  // Twice: the first pass may only queue finalizers and weak callbacks.
  gc();
  gc();
}

// ---- databases -----------------------------------------------------------------------------------

const admin = new pg.Client({ connectionString: BASE_URL });
let databases = 0;

/** A fresh database, its DSN and a drop function. */
async function freshDatabase(prefix: string): Promise<{ dsn: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${databases++}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  return { dsn: url.toString(), drop: () => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined) };
}

async function openMux(cluster: ClusterProcess, dsn: string, identityKey = bytesToHex(randomBytes(32))): Promise<Mux> {
  return Mux.open(
    {
      network: 'regtest',
      identityKey,
      nodes: cluster.nodes.map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
      database: { dsn },
      // Held parts must stay held for the whole measurement.
      settlement: { mppTimeoutSeconds: 3600 },
    },
    { logger: pino({ level: env('COST_LOG', 'silent') }), migrate: true },
  );
}

async function createInvoices(mux: Mux, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, () => mux.createInvoice({ amountMsat: AMOUNT_MSAT, description: 'cost bench' }));
    for (const created of await Promise.all(batch)) out.push(created.paymentRequest);
  }
  return out;
}

/** Prepares onions in chunks: one IPC message of 100,000 prebuilt payments is needlessly large. */
async function prepare(cluster: ClusterProcess, requests: readonly string[], parts: number, sendMsat?: bigint): Promise<void> {
  for (let i = 0; i < requests.length; i += 5000) await cluster.prepare(requests.slice(i, i + 5000), parts, sendMsat);
}

// ---- 1. memory per held HTLC ---------------------------------------------------------------------

interface MemoryRun {
  /** Held parts (beyond the warm-up) -> heap bytes per held part. */
  readonly perHtlc: Map<number, number>;
  readonly externalPerHtlc: Map<number, number>;
  readonly load: number;
}

async function memoryRun(snapshot: boolean): Promise<MemoryRun> {
  const db = await freshDatabase('costmem');
  const cluster = await ClusterProcess.start(3);
  const mux = await openMux(cluster, db.dsn);
  try {
    await mux.start();
    await cluster.waitForInterceptors();
    const total = MEMORY_WARMUP + Math.max(...MEMORY_POINTS);
    const t0 = performance.now();
    await prepare(cluster, await createInvoices(mux, total), 1, AMOUNT_MSAT / 2n);
    console.error(`memory: ${total} invoices created and onions built in ${fmt((performance.now() - t0) / 1000)} s`);
    const holdUntil = async (n: number): Promise<void> => {
      await cluster.offer(n - mux.heldHtlcCount);
      while (mux.heldHtlcCount < n) await sleep(10);
      await sleep(200); // the HTLC log's batch written, its buffers released
    };
    await holdUntil(MEMORY_WARMUP);
    fullGc();
    const base = process.memoryUsage();
    const before = snapshot ? await heapHistogram(getHeapSnapshot()) : undefined;
    const perHtlc = new Map<number, number>();
    const externalPerHtlc = new Map<number, number>();
    for (const [i, point] of [...MEMORY_POINTS].sort((a, b) => a - b).entries()) {
      await holdUntil(MEMORY_WARMUP + point);
      fullGc();
      const now = process.memoryUsage();
      perHtlc.set(point, (now.heapUsed - base.heapUsed) / point);
      externalPerHtlc.set(point, (now.external + now.arrayBuffers - base.external - base.arrayBuffers) / point);
      console.error(`memory: ${point} held: ${fmt(perHtlc.get(point)!, 0)} heap bytes per held HTLC; load ${fmt(load())}`);
      if (i === 0 && before !== undefined) {
        const after = await heapHistogram(getHeapSnapshot());
        console.log(`\nObjects added per held HTLC at ${point} held (heap snapshot, self sizes, by constructor; top 25)\n`);
        console.log('| constructor | objects per HTLC | bytes per HTLC |\n|---|---:|---:|');
        for (const row of histogramDiff(before, after, point).slice(0, 25)) console.log(`| ${row.name} | ${fmt(row.count, 2)} | ${fmt(row.bytes, 0)} |`);
      }
    }
    return { perHtlc, externalPerHtlc, load: load() };
  } finally {
    await mux.stop();
    await cluster.stop();
    await db.drop();
  }
}

// ---- 2. invoices: creation and lookup with up to 10^6 rows ----------------------------------------

/**
 * Fills lnmux.invoices up to `target` rows, in SQL: open stateless invoices with the columns lnmux
 * writes (payment request of a typical length), a tenth settled with a set of two final HTLCs, and one
 * htlc_log 'accepted' row per 20 invoices (parts that were held). The invoice_events 'created' row
 * recordInvoice writes is filled too.
 */
async function fill(client: pg.Client, from: number, target: number): Promise<void> {
  if (target <= from) return;
  await client.query('BEGIN');
  await client.query(
    `WITH g AS (SELECT i, sha256(int8send(i)) AS hash FROM generate_series($1::bigint, $2::bigint - 1) AS i),
     ins AS (
       INSERT INTO lnmux.invoices (hash, amount_msat, payment_addr, description, payment_request, created_at, expires_at,
         state, set_id, settle_committed_at, finalized_at)
       SELECT hash, 100000 + i % 1000, sha256(hash), 'cost bench ' || i,
         'lnbcrt1u1p' || repeat(encode(hash, 'hex'), 9), now() - interval '1 day', now() + interval '1 day',
         CASE WHEN i % 10 = 0 THEN 'settled' ELSE 'open' END,
         CASE WHEN i % 10 = 0 THEN sha256(sha256(hash)) END,
         CASE WHEN i % 10 = 0 THEN now() - interval '1 hour' END,
         CASE WHEN i % 10 = 0 THEN now() - interval '1 hour' END
       FROM g RETURNING hash, amount_msat, state, set_id
     ),
     ev AS (INSERT INTO lnmux.invoice_events (hash, kind, amount_msat) SELECT hash, 'created', amount_msat FROM ins)
     INSERT INTO lnmux.htlcs (node_pubkey, chan_id, htlc_id, hash, set_id, amount_msat, state, finalized_at)
     SELECT '\\x02'::bytea || sha256(int8send(p)), 42, ('x' || left(encode(hash, 'hex'), 15))::bit(60)::bigint, hash, set_id,
       amount_msat / 2 + p, 'settled', now()
     FROM ins, generate_series(0, 1) AS p WHERE state = 'settled'`,
    [from, target],
  );
  await client.query(
    `INSERT INTO lnmux.htlc_log (node_pubkey, chan_id, htlc_id, event, hash, amount_msat, at)
     SELECT '\\x02'::bytea || sha256(int8send(0)), 7, i, 'accepted', sha256(int8send(i)), 50000, now() - interval '2 hours'
     FROM generate_series($1::bigint, $2::bigint - 1) AS i WHERE i % 20 = 1`,
    [from, target],
  );
  await client.query('COMMIT');
  await client.query('VACUUM ANALYZE lnmux.invoices');
  await client.query('VACUUM ANALYZE lnmux.htlc_log');
  await client.query('VACUUM ANALYZE lnmux.htlcs');
  await client.query('VACUUM ANALYZE lnmux.invoice_events');
}

interface InvoicePoint {
  readonly rows: number;
  readonly createP50: number;
  readonly createP99: number;
  readonly lookupP50: number;
  readonly lookupP99: number;
  readonly load: number;
}

/** One timed call, ms. */
async function timed(op: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await op();
  return performance.now() - t;
}

async function invoicesCurve(): Promise<{ points: InvoicePoint[]; explains: Map<number, string[]> }> {
  const db = await freshDatabase('costbench');
  let store: Store | undefined;
  const client = new pg.Client({ connectionString: db.dsn });
  try {
    store = await openStore({ databaseUrl: db.dsn, migrate: true });
    await client.connect();
    const points: InvoicePoint[] = [];
    const explains = new Map<number, string[]>();
    let rows = 0;
    let n = 0;
    for (const point of INVOICE_POINTS) {
      const t0 = performance.now();
      await fill(client, rows, point);
      rows = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM lnmux.invoices')).rows[0]!.n);
      console.error(`invoices: ${rows} rows (filled in ${fmt((performance.now() - t0) / 1000)} s)`);
      // Every run: creations, then lookups of random existing invoices, HTLCs never seen (the first part's read).
      const create: number[][] = [];
      const lookup: number[][] = [];
      for (let run = 0; run < RUNS; run++) {
        const c: number[] = [];
        const l: number[] = [];
        for (let i = 0; i < INVOICE_OPS + 50; i++) {
          const hash = randomBytes(32);
          const now = new Date();
          const ms = await timed(() =>
            store!.recordInvoice({
              hash,
              amountMsat: AMOUNT_MSAT,
              paymentAddr: randomBytes(32),
              description: { kind: 'text', text: 'cost bench' },
              paymentRequest: `lnbcrt1u1p${randomBytes(144).toString('hex')}`,
              createdAt: now,
              expiresAt: new Date(now.getTime() + 86_400_000),
            }),
          );
          if (i >= 50) c.push(ms); // the first 50: warm-up
          n++;
        }
        for (let i = 0; i < INVOICE_OPS + 50; i++) {
          const hash = (await client.query<{ h: Buffer }>('SELECT sha256(int8send($1::bigint)) AS h', [Math.floor(Math.random() * point)])).rows[0]!.h;
          const key = { nodePubkey: new Uint8Array(33).fill(2), chanId: 9n, htlcId: BigInt(n++) };
          const ms = await timed(() => store!.getInvoiceForHtlc(new Uint8Array(hash), key));
          if (i >= 50) l.push(ms);
        }
        create.push(c);
        lookup.push(l);
      }
      points.push({
        rows,
        createP50: median(create.map((c) => percentile(c, 50))),
        createP99: median(create.map((c) => percentile(c, 99))),
        lookupP50: median(lookup.map((l) => percentile(l, 50))),
        lookupP99: median(lookup.map((l) => percentile(l, 99))),
        load: load(),
      });
      const p = points.at(-1)!;
      console.error(`invoices: ${rows} rows: create p50 ${fmt(p.createP50, 2)} p99 ${fmt(p.createP99, 2)} ms; lookup p50 ${fmt(p.lookupP50, 2)} p99 ${fmt(p.lookupP99, 2)} ms; load ${fmt(p.load)}`);
      explains.set(rows, await explain(client));
    }
    return { points, explains };
  } finally {
    await client.end().catch(() => undefined);
    await store?.close();
    await db.drop();
  }
}

/** EXPLAIN (ANALYZE) of the lookup and of the invoice insert's uniqueness probe, as their plans read. */
async function explain(client: pg.Client): Promise<string[]> {
  const hash = (await client.query<{ h: Buffer }>('SELECT hash AS h FROM lnmux.invoices ORDER BY sequence DESC LIMIT 1')).rows[0]!.h;
  const lookup = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
     SELECT i.*, (SELECT l.at FROM lnmux.htlc_log AS l
       WHERE (l.node_pubkey, l.chan_id, l.htlc_id, l.event) = ($2, $3, $4, 'accepted') AND l.hash = $1) AS accepted_at
     FROM lnmux.invoices AS i WHERE hash = $1`,
    [hash, Buffer.alloc(33, 2), 7, 1],
  );
  await client.query('BEGIN');
  const insert = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
     INSERT INTO lnmux.invoices (hash, amount_msat, payment_addr, description, payment_request, created_at, expires_at)
     VALUES ($1, 1000, $1, 'x', 'lnbcrt', now(), now() + interval '1 day') ON CONFLICT (hash) DO NOTHING`,
    [randomBytes(32)],
  );
  await client.query('ROLLBACK');
  return [...lookup.rows.map((r) => r['QUERY PLAN']), '--', ...insert.rows.map((r) => r['QUERY PLAN'])];
}

// ---- 3. number of cluster nodes ------------------------------------------------------------------

/** Last part read (SettlementEngine.onHtlc) and last SETTLE written (NodeGateway.send resolved), by payment hash. */
const timing = { on: false, arrived: new Map<string, number>(), sent: new Map<string, number>(), hashOf: new Map<string, string>() };
const onHtlc = SettlementEngine.prototype.onHtlc;
SettlementEngine.prototype.onHtlc = function (this: SettlementEngine, node, htlc) {
  if (timing.on) {
    const hash = bytesToHex(htlc.paymentHash);
    timing.arrived.set(hash, performance.now());
    timing.hashOf.set(`${node}:${htlc.circuitKey.chanId}:${htlc.circuitKey.htlcId}`, hash);
  }
  return onHtlc.call(this, node, htlc);
};
const gatewaySend = NodeGateway.prototype.send;
NodeGateway.prototype.send = function (this: NodeGateway, response) {
  const sent = gatewaySend.call(this, response);
  if (timing.on && response.kind === 'settle') {
    const hash = timing.hashOf.get(`${this.pubkey}:${response.circuitKey.chanId}:${response.circuitKey.htlcId}`);
    if (hash !== undefined) void sent.then((r) => r.ok && timing.sent.set(hash, performance.now()));
  }
  return sent;
};
/** LookupHtlcResolution calls answered (the start-up phase's reconciliation). */
let lookups = 0;
const lookupHtlcResolution = NodeGateway.prototype.lookupHtlcResolution;
NodeGateway.prototype.lookupHtlcResolution = function (this: NodeGateway, key) {
  return lookupHtlcResolution.call(this, key).finally(() => lookups++);
};

async function waitReady(mux: Mux, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!readinessOf(mux.status()).ready) {
    if (performance.now() > deadline) throw new Error(`not ready: ${readinessOf(mux.status()).reasons.join('; ')}`);
    await sleep(5);
  }
}

interface NodesRun {
  readonly nodes: number;
  readonly startMs: number;
  readonly heapMb: number;
  readonly muxP50: number;
  readonly muxP99: number;
  readonly nodeP50: number;
  readonly nodeP99: number;
  readonly achieved: number;
  /** This process's CPU while no payment flows (streams, probes), % of one core. */
  readonly idleCpuPercent: number;
  /** This process's CPU per payment during the offered-rate phase, ms. */
  readonly cpuPerPaymentMs: number;
  readonly load: number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function nodesRun(nodes: number): Promise<NodesRun> {
  const db = await freshDatabase('costnodes');
  const cluster = await ClusterProcess.start(nodes);
  const mux = await openMux(cluster, db.dsn);
  try {
    const t0 = performance.now();
    await mux.start();
    await waitReady(mux);
    const startMs = performance.now() - t0;
    const count = Math.round(RATE * RATE_SECONDS);
    await prepare(cluster, await createInvoices(mux, count + 50), 2);
    const warm = await cluster.closedLoop(50, 5);
    if (warm.failed > 0) throw new Error(`warm-up: ${warm.failed} failed (${warm.firstFailure})`);
    fullGc();
    const heapMb = process.memoryUsage().heapUsed / 1e6;
    const idle0 = cpuMs();
    const idleT0 = performance.now();
    await sleep(5000);
    const idleCpuPercent = ((cpuMs() - idle0) / (performance.now() - idleT0)) * 100;
    const cpu0 = cpuMs();
    timing.on = true;
    const run = await cluster.openLoop(count, RATE);
    timing.on = false;
    const cpuPerPaymentMs = (cpuMs() - cpu0) / run.settled;
    if (run.failed > 0) throw new Error(`${run.failed} of ${count} payments failed (${run.firstFailure})`);
    const muxMs: number[] = [];
    for (const [hash, at] of timing.arrived) {
      const sent = timing.sent.get(hash);
      if (sent !== undefined) muxMs.push(sent - at);
    }
    timing.arrived.clear();
    timing.sent.clear();
    timing.hashOf.clear();
    return {
      nodes,
      startMs,
      heapMb,
      muxP50: percentile(muxMs, 50),
      muxP99: percentile(muxMs, 99),
      nodeP50: percentile(run.nodeLatencyMs, 50),
      nodeP99: percentile(run.nodeLatencyMs, 99),
      achieved: (run.settled * 1000) / run.elapsedMs,
      idleCpuPercent,
      cpuPerPaymentMs,
      load: load(),
    };
  } finally {
    await mux.stop();
    await cluster.stop();
    await db.drop();
  }
}

// ---- 4. start-up with unfinalized HTLCs -----------------------------------------------------------

/**
 * Writes `htlcs` HTLCs whose settle is committed and not final: settleCommitted invoices with a set of
 * two HTLCs each, spread over the cluster's nodes (as a crash between the commit and the final
 * events leaves them).
 */
async function writeUnfinalized(dsn: string, nodePubkeys: readonly string[], htlcs: number): Promise<void> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    await client.query(
      `WITH g AS (SELECT i, sha256(int8send(i)) AS hash FROM generate_series(0, $1::bigint - 1) AS i),
       ins AS (
         INSERT INTO lnmux.invoices (hash, amount_msat, payment_addr, description, payment_request, created_at, expires_at,
           state, set_id, settle_committed_at)
         SELECT hash, 100000, sha256(hash), 'cost bench', 'lnbcrt1u1p' || repeat(encode(hash, 'hex'), 9),
           now() - interval '1 hour', now() + interval '1 day', 'settleCommitted', sha256(sha256(hash)), now() - interval '1 minute'
         FROM g RETURNING hash, set_id
       )
       INSERT INTO lnmux.htlcs (node_pubkey, chan_id, htlc_id, hash, set_id, amount_msat)
       SELECT decode(($3::text[])[1 + (row_number() OVER () * 2 + p) % $2], 'hex'), 77, row_number() OVER () * 2 + p, hash, set_id, 50000
       FROM ins, generate_series(0, 1) AS p`,
      [htlcs / 2, nodePubkeys.length, nodePubkeys],
    );
    await client.query('VACUUM ANALYZE lnmux.htlcs');
  } finally {
    await client.end();
  }
}

interface StartupRun {
  readonly htlcs: number;
  readonly readyMs: number;
  readonly reconciledMs: number;
  readonly load: number;
}

async function startupRun(htlcs: number): Promise<StartupRun> {
  const db = await freshDatabase('coststart');
  const cluster = await ClusterProcess.start(3);
  // Migrate once with a throwaway Mux, then fill, then time a fresh one.
  const identityKey = bytesToHex(randomBytes(32));
  await (await openMux(cluster, db.dsn, identityKey)).stop();
  await writeUnfinalized(db.dsn, cluster.nodes.map((n) => n.pubkey), htlcs);
  const mux = await openMux(cluster, db.dsn, identityKey);
  try {
    lookups = 0;
    const t0 = performance.now();
    await mux.start();
    await waitReady(mux);
    const readyMs = performance.now() - t0;
    const deadline = t0 + 1_800_000;
    while (lookups < htlcs && performance.now() < deadline) await sleep(5);
    if (lookups < htlcs) throw new Error(`only ${lookups} of ${htlcs} HTLCs looked up`);
    return { htlcs, readyMs, reconciledMs: performance.now() - t0, load: load() };
  } finally {
    await mux.stop();
    await cluster.stop();
    await db.drop();
  }
}

// ---- main ----------------------------------------------------------------------------------------

const medianBy = <T>(runs: readonly T[], pick: (r: T) => number): number => median(runs.map(pick));

async function main(): Promise<void> {
  await admin.connect();
  console.log(`\n${machine()}; ${RUNS} runs; load average (1 min) at start ${fmt(load())}`);
  try {
    const memoryRuns: MemoryRun[] = [];
    if (PARTS.includes('memory')) {
      const runs = memoryRuns;
      // The snapshot's histograms are themselves on the heap: that run only explains, it is not counted.
      if (MEMORY_SNAPSHOT) await memoryRun(true);
      for (let r = 0; r < RUNS; r++) runs.push(await memoryRun(false));
    }
    if (PARTS.includes('memory') && RUNS > 0) {
      const runs = memoryRuns;
      console.log(`\nMemory per held HTLC (incomplete 1-part sets; medians of ${RUNS} runs; heap after a full GC, minus after ${MEMORY_WARMUP} held)\n`);
      console.log('| HTLCs held | heap bytes per held HTLC | (min-max of runs) | external + array buffers per held HTLC | load |\n|---:|---:|---|---:|---:|');
      for (const point of [...MEMORY_POINTS].sort((a, b) => a - b)) {
        const heap = runs.map((r) => r.perHtlc.get(point)!);
        console.log(`| ${point.toLocaleString('en-US')} | ${fmt(median(heap), 0)} | ${fmt(Math.min(...heap), 0)}-${fmt(Math.max(...heap), 0)} | ${fmt(medianBy(runs, (r) => r.externalPerHtlc.get(point)!), 0)} | ${fmt(medianBy(runs, (r) => r.load))} |`);
      }
    }
    if (PARTS.includes('invoices')) {
      const { points, explains } = await invoicesCurve();
      console.log(`\nInvoices: one call at a time, ${INVOICE_OPS} per run, medians of ${RUNS} runs' percentiles, ms\n`);
      console.log('| invoices in the table | recordInvoice p50 | p99 | getInvoiceForHtlc p50 | p99 | load |\n|---:|---:|---:|---:|---:|---:|');
      for (const p of points) console.log(`| ${p.rows.toLocaleString('en-US')} | ${fmt(p.createP50, 2)} | ${fmt(p.createP99, 2)} | ${fmt(p.lookupP50, 2)} | ${fmt(p.lookupP99, 2)} | ${fmt(p.load)} |`);
      // The first and the last point: the same plans, and the buffers they touch (the B-tree's depth).
      for (const [rows, plan] of [[...explains][0]!, [...explains].at(-1)!]) {
        console.log(`\nPlans at ${rows.toLocaleString('en-US')} rows (lookup, then the insert):\n\n\`\`\`\n${plan.join('\n')}\n\`\`\``);
      }
    }
    if (PARTS.includes('nodes')) {
      const runs: NodesRun[] = [];
      for (let r = 0; r < RUNS; r++) {
        for (const nodes of NODES) {
          runs.push(await nodesRun(nodes));
          console.error(`nodes: ${JSON.stringify(runs.at(-1))}`);
        }
      }
      console.log(`\nCluster size: one lnmux, 2-part payments at ${RATE}/s offered for ${RATE_SECONDS} s, medians of ${RUNS} runs\n`);
      console.log('| nodes | start -> ready, ms | heap after GC, MB | idle CPU, % of a core | payments/s achieved | CPU per payment, ms | last part -> last SETTLE p50 / p99, ms | at the nodes p50 / p99, ms | load |\n|---:|---:|---:|---:|---:|---:|---|---|---:|');
      for (const nodes of NODES) {
        const rs = runs.filter((r) => r.nodes === nodes);
        console.log(
          `| ${nodes} | ${fmt(medianBy(rs, (r) => r.startMs), 0)} | ${fmt(medianBy(rs, (r) => r.heapMb))} | ${fmt(medianBy(rs, (r) => r.idleCpuPercent))} | ${fmt(medianBy(rs, (r) => r.achieved))} | ${fmt(medianBy(rs, (r) => r.cpuPerPaymentMs), 2)} | ${fmt(medianBy(rs, (r) => r.muxP50))} / ${fmt(medianBy(rs, (r) => r.muxP99))} | ${fmt(medianBy(rs, (r) => r.nodeP50))} / ${fmt(medianBy(rs, (r) => r.nodeP99))} | ${fmt(medianBy(rs, (r) => r.load))} |`,
        );
      }
    }
    if (PARTS.includes('startup')) {
      const runs: StartupRun[] = [];
      for (let r = 0; r < RUNS; r++) for (const htlcs of STARTUP_POINTS) runs.push(await startupRun(htlcs));
      console.log(`\nStart-up with unfinalized HTLCs (settle committed, not final), 3 nodes, medians of ${RUNS} runs\n`);
      console.log('| unfinalized HTLCs | Mux.start -> ready, ms | -> every one looked up at its node, ms | load |\n|---:|---:|---:|---:|');
      for (const htlcs of STARTUP_POINTS) {
        const rs = runs.filter((r) => r.htlcs === htlcs);
        console.log(`| ${htlcs.toLocaleString('en-US')} | ${fmt(medianBy(rs, (r) => r.readyMs), 0)} | ${fmt(medianBy(rs, (r) => r.reconciledMs), 0)} | ${fmt(medianBy(rs, (r) => r.load))} |`);
      }
    }
  } finally {
    await admin.end();
  }
}

await main();
