/**
 * lnmux end to end: settled payments per second, settlement latency, and memory per held HTLC, through a
 * simulated 3-node LND cluster over real gRPC + TLS, on the local PostgreSQL and on the embedded PGlite.
 *
 * Two processes (plus PostgreSQL's own):
 * - this one runs the interceptor under test: lnmux (the Mux class, pino at level 'silent'), or the
 *   baseline — three plain grpc-js HtlcInterceptor streams that answer SETTLE at once from a preimage
 *   they already know (no onion, no database, no lnmux);
 * - a child (bench/lib/e2e-cluster.ts) runs the simulated cluster and a payer whose onions are built
 *   before the timed window (the payer's onion construction, two ECDH and two key derivations, about
 *   1 ms per part here, would otherwise be what is measured). The payer hands each node the shared
 *   secret of its onions (E2E_SIM_KNOWN_SECRETS), so the nodes' own work per HTLC is their peel without
 *   its ECDH, gRPC and TLS. The nodes can run in worker threads (E2E_SIM_THREADS); on this 2-core
 *   machine that cost more CPU per payment (messages between threads, one event loop per node) than
 *   it gained, so they run on the child's main thread by default.
 * So this process's CPU time is the interceptor's own (for PGlite, the database's too); the PostgreSQL
 * backends of the benchmark's database are read from /proc.
 *
 * Per run, for 1-part and 4-part payments (parts spread over the 3 nodes), for each interceptor, on a
 * fresh cluster and a fresh database:
 * 1. warm-up: WARMUP payments, closed loop;
 * 2. throughput: THROUGHPUT payments with IN_FLIGHT payments unsettled at any time (closed loop);
 *    payments/s = settled / (run start -> the last payment fulfilled at the payer and every HTLC's final
 *    state recorded by lnmux);
 * 3. latency at steady offered loads, RATES payments/s, for LATENCY_SECONDS each (open loop: all parts of
 *    a payment added at once, whatever the answers). Two definitions, both per payment, p50 / p99:
 *    - at lnmux: the last part handed to the settlement engine (SettlementEngine.onHtlc, i.e. read off
 *      the interceptor stream) -> the last SETTLE written to its node's stream (NodeGateway.send
 *      resolved); for the baseline, the stream's 'data' event -> the SETTLE write's callback;
 *    - at the nodes: the last part offered (written to the interceptor stream by the simulated node)
 *      -> the last SETTLE received and applied by its node (the interceptor's answer, transport both
 *      ways included).
 *    The hooks are wrappers installed on the classes' prototypes by this file, recording only while
 *    the latency phase runs; src/ carries no instrumentation. The event loop delay of this process is
 *    recorded during each latency phase too (perf_hooks.monitorEventLoopDelay).
 * 4. one at a time: E2E_SERIAL payments, closed loop with 1 in flight, the same two latencies and the
 *    payer's (addHtlc -> fulfilled), plus a trace of lnmux per payment (class Tracer below): where a lone
 *    payment's milliseconds go, from the part read to its SETTLE written, statement by statement.
 * Memory: N incomplete sets (one part of half the invoice amount, mpp timeout one hour) held, ROUNDS
 * rounds after a warm-up round; heap growth per held HTLC after a full GC (v8 --expose-gc set at run
 * time), median of the rounds. Baseline: the trivial interceptor keeping each request without answer.
 *
 * Medians over E2E_RUNS runs; the baseline runs in the same runs, interleaved with lnmux, so that the
 * load of other jobs on the machine weighs on both. Knobs (environment, defaults in brackets):
 * E2E_RUNS [3], E2E_TARGETS [baseline,postgres,pglite], E2E_PARTS [1,4], E2E_THROUGHPUT [1000],
 * E2E_THROUGHPUT_PGLITE [300], E2E_IN_FLIGHT [100], E2E_RATES [200,50], E2E_LATENCY_SECONDS [5],
 * E2E_SERIAL [300; 0 skips], E2E_MEMORY [1: measure], E2E_MEMORY_HTLCS [1000 per round], E2E_BACKGROUND_HELD [0: incomplete sets
 * held in the background while measuring], E2E_PROFILE [a folder: write a CPU profile of this process
 * per throughput phase, and of the simulator process's main thread and node threads for its whole life],
 * E2E_POOL_SIZE [lnmux's PostgreSQL pool; lnmux's default], E2E_SIM_THREADS [0: the simulated nodes on the
 * simulator's main thread with the payer; n: split over n worker threads],
 * E2E_SIM_KNOWN_SECRETS [1: the payer hands each node its onions' shared secret, so that the simulated
 * nodes skip their ECDH (src/sim/known-secrets.ts; the peel and its HMAC check still run); 0: each node
 * computes it, as LND does].
 * PostgreSQL: LNMUX_BENCH_DATABASE_URL, else LNMUX_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres; a database lnmux_e2e_<pid>_<n> is created and dropped.
 *
 * Run: `npm run bench -- e2e`. Figures go to docs/benchmarks.md, `## End to end`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import pino from 'pino';
import { NodeGateway } from '../src/lnd/node-gateway.js';
import { Mux } from '../src/mux/mux.js';
import { SettlementEngine } from '../src/mux/engine.js';
import { Registry } from '../src/registry/registry.js';
import { Batcher } from '../src/store/batcher.js';
import { Db, type Statement } from '../src/store/db.js';
import { encodeInvoice } from '../src/protocol/bolt11.js';
import { bytesToHex, hexToBytes } from '../src/protocol/bytes.js';
import { virtualChannelId } from '../src/protocol/virtual-scid.js';
import { nodeKeyPair } from '../src/sim/keys.js';
import { backendCpu, cpuBetween } from './lib/pg-backend-cpu.js';
import { ClusterProcess } from './lib/cluster-process.js';
import type { RunResult } from './lib/e2e-cluster.js';
import { machine, median, percentile } from './lib/measure.js';
import { TrivialInterceptor } from './lib/trivial-interceptor.js';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const RUNS = Number(env('E2E_RUNS', '3'));
const TARGETS = env('E2E_TARGETS', 'baseline,postgres,pglite').split(',') as TargetName[];
const PARTS = env('E2E_PARTS', '1,4').split(',').map(Number);
const WARMUP = 200;
const THROUGHPUT = Number(env('E2E_THROUGHPUT', '1000'));
const IN_FLIGHT = Number(env('E2E_IN_FLIGHT', '100'));
/** Offered loads of the latency phase, payments/s: the target's 200, and one lnmux sustains here. */
const RATES = env('E2E_RATES', '200,50').split(',').filter((r) => r !== '').map(Number);
const LATENCY_SECONDS = Number(env('E2E_LATENCY_SECONDS', '5'));
/** PGlite settles an order of magnitude fewer payments per second: fewer of them keep a run short. */
const THROUGHPUT_PGLITE = Number(env('E2E_THROUGHPUT_PGLITE', '300'));
const MEMORY = env('E2E_MEMORY', '1') === '1';
const MEMORY_HTLCS = Number(env('E2E_MEMORY_HTLCS', '1000'));
const MEMORY_ROUNDS = 5;
/** Incomplete sets (one part of half the amount) held in the background during the timed phases. */
const BACKGROUND_HELD = Number(env('E2E_BACKGROUND_HELD', '0'));
/** lnmux's PostgreSQL pool size (default: lnmux's own, 10). */
const POOL_SIZE = process.env['E2E_POOL_SIZE'] === undefined ? undefined : Number(process.env['E2E_POOL_SIZE']);
/** A folder: write a CPU profile of this process's throughput phase per scenario there. */
const PROFILE_DIR = process.env['E2E_PROFILE'];
/** Payments one at a time (closed loop, 1 in flight) after the latency phases; 0 skips the phase. */
const SERIAL = Number(env('E2E_SERIAL', '300'));
const AMOUNT_MSAT = 100_000n;
const NODES = 3;
/** Worker threads of the simulator process that run the nodes (0: its main thread, with the payer). */
const SIM_THREADS = Number(env('E2E_SIM_THREADS', '0'));
/** Whether the simulated nodes get their onions' shared secrets from the payer instead of an ECDH. */
const SIM_KNOWN_SECRETS = env('E2E_SIM_KNOWN_SECRETS', '1') === '1';
const BASE_URL = process.env['LNMUX_BENCH_DATABASE_URL'] ?? process.env['LNMUX_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

type TargetName = 'baseline' | 'postgres' | 'pglite';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// ---- latency hooks -------------------------------------------------------------------------------

/** Arrival and SETTLE-written times per HTLC ("node:chan:htlc"), while recording. */
class Recorder {
  on = false;
  readonly #arrived = new Map<string, { hash: string; at: number }>();
  readonly #sent = new Map<string, number>();

  arrived(key: string, hash: string): void {
    if (this.on) this.#arrived.set(key, { hash, at: performance.now() });
  }

  settleSent(key: string): void {
    if (this.on) this.#sent.set(key, performance.now());
  }

  /** Per payment with all `parts` parts answered: last SETTLE written - last part arrived, ms. */
  take(parts: number): number[] {
    const byHash = new Map<string, { last: number; sent: number; count: number }>();
    for (const [key, { hash, at }] of this.#arrived) {
      const sent = this.#sent.get(key);
      if (sent === undefined) continue;
      const p = byHash.get(hash) ?? { last: 0, sent: 0, count: 0 };
      p.last = Math.max(p.last, at);
      p.sent = Math.max(p.sent, sent);
      p.count++;
      byHash.set(hash, p);
    }
    this.#arrived.clear();
    this.#sent.clear();
    return [...byHash.values()].filter((p) => p.count === parts).map((p) => p.sent - p.last);
  }
}

const recorder = new Recorder();

const onHtlc = SettlementEngine.prototype.onHtlc;
SettlementEngine.prototype.onHtlc = function (this: SettlementEngine, node, htlc) {
  tracer.start();
  if (recorder.on) recorder.arrived(`${node}:${htlc.circuitKey.chanId}:${htlc.circuitKey.htlcId}`, bytesToHex(htlc.paymentHash));
  return onHtlc.call(this, node, htlc);
};
const gatewaySend = NodeGateway.prototype.send;
NodeGateway.prototype.send = function (this: NodeGateway, response) {
  if (response.kind === 'settle') tracer.mark('SETTLE asked (NodeGateway.send)');
  const sent = gatewaySend.call(this, response);
  if (tracer.on && response.kind === 'settle') void sent.then(() => tracer.end());
  if (recorder.on && response.kind === 'settle') {
    const key = `${this.pubkey}:${response.circuitKey.chanId}:${response.circuitKey.htlcId}`;
    void sent.then((result) => result.ok && recorder.settleSent(key));
  }
  return sent;
};

// ---- per-HTLC trace of a lone payment -------------------------------------------------------------

/**
 * Where a lone payment's milliseconds go, while the one-at-a-time phase runs: marks (ms after the part
 * was handed to SettlementEngine.onHtlc) of the first occurrence of each step in that payment's window.
 * Only one payment is in flight, so every mark between its arrival and its SETTLE written is its own,
 * or work left over from the payment before (the HTLC log, the final-state write), which is then
 * named as such. Hooks on prototypes, like the recorder's: src/ carries no instrumentation.
 */
class Tracer {
  on = false;
  #t0: number | undefined;
  #marks = new Map<string, number>();
  readonly traces: Map<string, number>[] = [];

  start(): void {
    if (!this.on) return;
    this.#t0 = performance.now();
    this.#marks = new Map();
  }

  mark(name: string): void {
    if (this.#t0 === undefined) return;
    if (!this.#marks.has(name)) this.#marks.set(name, performance.now() - this.#t0);
  }

  end(): void {
    if (this.#t0 === undefined) return;
    this.mark('SETTLE written');
    this.traces.push(this.#marks);
    this.#t0 = undefined;
  }

  take(): Map<string, number>[] {
    this.#t0 = undefined;
    return this.traces.splice(0);
  }
}

const tracer = new Tracer();

/** A short name for a statement, from its text. */
function statementName(sql: string): string {
  if (/^\s*(BEGIN|COMMIT|ROLLBACK)\b/.test(sql)) return sql.trim().split(/\s/)[0]!;
  if (sql.includes('FOR UPDATE')) return 'lock invoices';
  if (sql.includes('WITH fence AS')) return 'lone settle statement (fence, write, commit)';
  if (sql.includes('FOR SHARE')) return 'read fence';
  if (sql.includes('WITH decided')) return 'write set';
  if (sql.includes('lnmux.htlc_log AS l')) return 'invoice lookup';
  if (sql.includes('INSERT INTO lnmux.htlc_log')) return 'htlc log insert';
  return sql.trim().replace(/\s+/g, ' ').slice(0, 40);
}

const registryStep = Registry.prototype.step;
Registry.prototype.step = function (this: Registry, event, nowMs) {
  tracer.mark(`registry ${event.kind} start`);
  const decisions = registryStep.call(this, event, nowMs);
  tracer.mark(`registry ${event.kind} end`);
  return decisions;
};
const transaction = Db.prototype.transaction;
Db.prototype.transaction = function <T>(this: Db, operation: string, fn: Parameters<Db['transaction']>[1]): Promise<T> {
  const done = transaction.call(this, operation, fn) as Promise<T>;
  if (tracer.on) void done.then(() => tracer.mark(`${operation} transaction returned`), () => undefined);
  return done;
};
const batcherSubmit = Batcher.prototype.submit;
Batcher.prototype.submit = function (this: Batcher<unknown, unknown>, request: unknown) {
  const done = batcherSubmit.call(this, request);
  const what = typeof request === 'object' && request !== null && 'setId' in request ? 'settle' : 'other';
  if (tracer.on) void done.then(() => tracer.mark(`${what} batcher submit resolved`), () => undefined);
  return done;
};
const withSession = Db.prototype.withSession;
Db.prototype.withSession = function <T>(this: Db, operation: string, fn: (session: Parameters<Parameters<Db['withSession']>[1]>[0]) => Promise<T>, commitsAlone?: boolean): Promise<T> {
  tracer.mark(`${operation} asked`);
  return withSession.call(this, operation, (session) => {
    tracer.mark(`${operation} connection checked out`);
    if (!tracer.on) return fn(session);
    // Statements named by operation: the previous payment's final-state write may overlap this one.
    const query = session.query.bind(session);
    const traced = {
      ...session,
      query: (sql: Statement, params?: readonly unknown[]) => {
        const name = `${operation}: ${statementName(typeof sql === 'string' ? sql : sql.text)}`;
        tracer.mark(`${name} sent`);
        const result = query(sql, params);
        void result.then(() => tracer.mark(`${name} answered`), () => undefined);
        return result;
      },
    };
    return fn(traced as typeof session);
  }, commitsAlone) as Promise<T>;
};

// ---- interceptors under test ---------------------------------------------------------------------

interface Target {
  /**
   * Payment requests for `count` fresh invoices of AMOUNT_MSAT. `payable` false: the baseline gets no
   * preimage for them, so it holds their parts as lnmux holds the parts of an incomplete set.
   */
  invoices(count: number, payable?: boolean): Promise<string[]>;
  /** HTLCs held now (memory phase). */
  held(): number;
  /** HTLCs whose final state the interceptor has recorded (lnmux: the store; the baseline: SETTLE written). */
  finalized(): number;
  /** CPU ms of PostgreSQL backends serving this target's database, by pid (empty without one). */
  databaseCpu(): Promise<Map<number, number>>;
  stop(): Promise<void>;
}

let databases = 0;
const admin = new pg.Client({ connectionString: BASE_URL });

async function startLnmux(kind: 'postgres' | 'pglite', cluster: ClusterProcess, mppTimeoutSeconds = 120): Promise<Target> {
  let database: { dsn: string } | { dataDir: string };
  let dbName: string | undefined;
  let dataDir: string | undefined;
  if (kind === 'postgres') {
    dbName = `lnmux_e2e_${process.pid}_${databases++}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(BASE_URL);
    url.pathname = `/${dbName}`;
    database = { dsn: url.toString(), ...(POOL_SIZE !== undefined ? { poolSize: POOL_SIZE } : {}) };
  } else {
    dataDir = await mkdtemp(join(tmpdir(), 'lnmux-e2e-'));
    database = { dataDir };
  }
  const mux = await Mux.open(
    {
      network: 'regtest',
      identityKey: bytesToHex(randomBytes(32)),
      nodes: cluster.nodes.map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
      database,
      settlement: { mppTimeoutSeconds },
    },
    { logger: pino({ level: 'silent' }), migrate: true },
  );
  let finals = 0;
  mux.on('htlcFinal', () => finals++);
  await mux.start();
  await cluster.waitForInterceptors();
  return {
    finalized: () => finals,
    async invoices(count) {
      const out: string[] = [];
      for (let i = 0; i < count; i += 200) {
        const batch = Array.from({ length: Math.min(200, count - i) }, () => mux.createInvoice({ amountMsat: AMOUNT_MSAT, description: 'e2e bench' }));
        for (const created of await Promise.all(batch)) out.push(created.paymentRequest);
      }
      return out;
    },
    held: () => mux.heldHtlcCount,
    databaseCpu: () => (dbName === undefined ? Promise.resolve(new Map()) : backendCpu(admin, dbName)),
    async stop() {
      await mux.stop();
      if (dbName !== undefined) await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function startBaseline(cluster: ClusterProcess): Promise<Target> {
  const interceptor = new TrivialInterceptor(cluster.nodes);
  interceptor.times = { arrived: (key, hash) => recorder.arrived(key, hash), settleSent: (key) => recorder.settleSent(key) };
  await cluster.waitForInterceptors();
  const payee = nodeKeyPair('e2e-virtual-node');
  const routeHints = cluster.nodes.map((n) => {
    const pubkey = hexToBytes(n.pubkey);
    return [{ pubkey, shortChannelId: virtualChannelId(pubkey), feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40 }];
  });
  return {
    finalized: () => interceptor.settled,
    async invoices(count, payable = true) {
      return Array.from({ length: count }, () => {
        const preimage = randomBytes(32);
        const paymentHash = createHash('sha256').update(preimage).digest();
        if (payable) interceptor.preimages.set(paymentHash.toString('hex'), preimage);
        return encodeInvoice(
          {
            network: 'bcrt',
            amountMsat: AMOUNT_MSAT,
            timestamp: Math.floor(Date.now() / 1000),
            paymentHash,
            paymentSecret: randomBytes(32),
            description: 'e2e bench',
            minFinalCltvExpiryDelta: 40,
            routeHints,
          },
          payee.privateKey,
        );
      });
    },
    held: () => interceptor.held.size,
    databaseCpu: () => Promise.resolve(new Map()),
    async stop() {
      interceptor.close();
    },
  };
}

function startTarget(name: TargetName, cluster: ClusterProcess): Promise<Target> {
  // A long mpp timeout: background parts must stay held for the whole scenario.
  return name === 'baseline' ? startBaseline(cluster) : startLnmux(name, cluster, 3600);
}

// ---- one scenario --------------------------------------------------------------------------------

interface Figures {
  readonly target: TargetName;
  readonly parts: number;
  /** Settled payments per second, until the last one's final states were recorded. */
  readonly perSecond: number;
  /** The same, until the last payment settled at the payer (lnmux's final-state writes may trail). */
  readonly payerPerSecond: number;
  /** This process's CPU per settled payment in the throughput phase, ms. */
  readonly ownCpuMs: number;
  /** Of which in the kernel (system time), ms. */
  readonly ownSystemMs: number;
  /** SQL statements this process sent per settled payment in the throughput phase. */
  readonly statements: number;
  /** PostgreSQL backends' CPU per settled payment in the throughput phase, ms. */
  readonly pgCpuMs: number;
  /** The simulator process's CPU per settled payment in the throughput phase, ms. */
  readonly simCpuMs: number;
  readonly latency: readonly LatencyFigures[];
  /** The one-at-a-time phase (SERIAL payments, 1 in flight); undefined if skipped. */
  readonly serial: SerialFigures | undefined;
  readonly load: readonly [number, number];
}

/** One payment at a time: latencies in ms, and the per-HTLC traces of lnmux (empty for the baseline). */
interface SerialFigures {
  readonly muxP50: number;
  readonly muxP99: number;
  readonly nodeP50: number;
  readonly nodeP99: number;
  readonly payerP50: number;
  readonly payerP99: number;
  readonly traces: readonly Map<string, number>[];
}

/** One latency phase: `count` payments offered at `rate` per second. Latencies in ms. */
interface LatencyFigures {
  readonly rate: number;
  readonly achievedRate: number;
  readonly muxP50: number;
  readonly muxP99: number;
  readonly nodeP50: number;
  readonly nodeP99: number;
  /** This process's CPU per payment in the latency phase, ms. */
  readonly ownCpuMs: number;
  /** This process's event loop delay during the phase (perf_hooks, 1 ms resolution): p99 and max, ms. */
  readonly loopDelayP99: number;
  readonly loopDelayMax: number;
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** This process's system (kernel) CPU time, ms. */
function ownSystemMs(): number {
  return process.cpuUsage().system / 1000;
}

/** SQL statements sent by this process (pg.Client.query calls), counted always (cheap). */
let statements = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

function check(result: RunResult, what: string): void {
  if (result.failed > 0) throw new Error(`${what}: ${result.failed} of ${result.payments} payments failed (first: ${result.firstFailure})`);
}

/** Starts the V8 profiler in this process; the returned function stops it and writes the profile. */
async function startProfile(): Promise<(path: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return async (path) => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(path, JSON.stringify(profile));
    session.disconnect();
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function scenario(target: TargetName, parts: number): Promise<Figures> {
  const loadBefore = loadavg()[0]!;
  const cluster = await ClusterProcess.start(NODES, SIM_THREADS, SIM_KNOWN_SECRETS);
  const t = await startTarget(target, cluster);
  try {
    if (BACKGROUND_HELD > 0) {
      await cluster.prepare(await t.invoices(BACKGROUND_HELD, false), 1, AMOUNT_MSAT / 2n);
      await cluster.offer(BACKGROUND_HELD);
      while (t.held() < BACKGROUND_HELD) await sleep(10);
      console.error(`${target}: ${t.held()} HTLCs held in the background`);
    }
    const throughput = target === 'pglite' ? THROUGHPUT_PGLITE : THROUGHPUT;
    const latencyCounts = RATES.map((rate) => Math.round(rate * LATENCY_SECONDS));
    const requests = await t.invoices(WARMUP + throughput + latencyCounts.reduce((a, b) => a + b, 0) + SERIAL);
    await cluster.prepare(requests, parts);
    check(await cluster.closedLoop(WARMUP, IN_FLIGHT), 'warm-up');
    for (const until = performance.now() + 60_000; t.finalized() < WARMUP * parts && performance.now() < until; ) await sleep(5);

    const profiler = PROFILE_DIR === undefined ? undefined : await startProfile();
    const cpu0 = ownCpuMs();
    const sys0 = ownSystemMs();
    const statements0 = statements;
    const pg0 = await t.databaseCpu();
    const finals0 = t.finalized();
    const started = performance.now();
    const tp = throughput > 0 ? await cluster.closedLoop(throughput, IN_FLIGHT) : { settled: 0, elapsedMs: 1, cpuMs: 0, failed: 0, payments: 0 } as unknown as RunResult;
    check(tp, 'throughput');
    // Done when every HTLC's final state is recorded too (lnmux writes it after the SETTLE).
    const deadline = performance.now() + 120_000;
    while (t.finalized() - finals0 < throughput * parts && performance.now() < deadline) await sleep(1);
    const elapsedMs = performance.now() - started;
    if (t.finalized() - finals0 < throughput * parts) console.error(`${target} ${parts}-part: only ${t.finalized() - finals0} of ${throughput * parts} final states recorded`);
    const cpu1 = ownCpuMs();
    const sys1 = ownSystemMs();
    const statements1 = statements;
    const pg1 = await t.databaseCpu();
    if (profiler !== undefined) await profiler(join(PROFILE_DIR!, `${target}-${parts}part-${Date.now()}.cpuprofile`));

    const latency: LatencyFigures[] = [];
    for (const [i, rate] of RATES.entries()) {
      await sleep(300);
      const cpu2 = ownCpuMs();
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      recorder.on = true;
      const lat = await cluster.openLoop(latencyCounts[i]!, rate);
      recorder.on = false;
      loop.disable();
      check(lat, `latency at ${rate}/s`);
      const cpu3 = ownCpuMs();
      const muxLatency = recorder.take(parts);
      // A payment is timed at the interceptor when each of its parts arrived and got its SETTLE written
      // once; under heavy overload a write can time out and the node offers the HTLC again.
      if (muxLatency.length < lat.settled) console.error(`${target} ${parts}-part at ${rate}/s: ${muxLatency.length} of ${lat.settled} payments timed at the interceptor`);
      latency.push({
        rate,
        achievedRate: (lat.settled * 1000) / lat.elapsedMs,
        muxP50: percentile(muxLatency, 50),
        muxP99: percentile(muxLatency, 99),
        nodeP50: percentile(lat.nodeLatencyMs, 50),
        nodeP99: percentile(lat.nodeLatencyMs, 99),
        ownCpuMs: (cpu3 - cpu2) / lat.settled,
        loopDelayP99: loop.percentile(99) / 1e6,
        loopDelayMax: loop.max / 1e6,
      });
    }
    let serial: SerialFigures | undefined;
    if (SERIAL > 0) {
      await sleep(300);
      recorder.on = true;
      tracer.on = true;
      const lone = await cluster.closedLoop(SERIAL, 1);
      recorder.on = false;
      tracer.on = false;
      check(lone, 'one at a time');
      const muxLatency = recorder.take(parts);
      serial = {
        muxP50: percentile(muxLatency, 50),
        muxP99: percentile(muxLatency, 99),
        nodeP50: percentile(lone.nodeLatencyMs, 50),
        nodeP99: percentile(lone.nodeLatencyMs, 99),
        payerP50: percentile(lone.payLatencyMs, 50),
        payerP99: percentile(lone.payLatencyMs, 99),
        traces: tracer.take(),
      };
    }
    return {
      target,
      parts,
      serial,
      perSecond: (tp.settled * 1000) / elapsedMs,
      payerPerSecond: (tp.settled * 1000) / tp.elapsedMs,
      ownCpuMs: (cpu1 - cpu0) / tp.settled,
      ownSystemMs: (sys1 - sys0) / tp.settled,
      statements: (statements1 - statements0) / tp.settled,
      pgCpuMs: cpuBetween(pg0, pg1) / tp.settled,
      simCpuMs: tp.cpuMs / tp.settled,
      latency,
      load: [loadBefore, loadavg()[0]!],
    };
  } finally {
    await t.stop();
    await cluster.stop();
  }
}

// ---- memory --------------------------------------------------------------------------------------

interface MemoryFigures {
  readonly target: TargetName;
  readonly heapBytes: number;
  readonly externalBytes: number;
  readonly load: number;
}

async function memory(target: TargetName): Promise<MemoryFigures> {
  const cluster = await ClusterProcess.start(NODES, SIM_THREADS, SIM_KNOWN_SECRETS);
  const t = target === 'baseline' ? await startBaseline(cluster) : await startLnmux(target, cluster, 3600);
  try {
    const requests = await t.invoices(MEMORY_HTLCS * (MEMORY_ROUNDS + 1), false);
    await cluster.prepare(requests, 1, AMOUNT_MSAT / 2n);
    const heap: number[] = [];
    const external: number[] = [];
    for (let round = 0; round <= MEMORY_ROUNDS; round++) {
      gc();
      gc();
      const before = process.memoryUsage();
      const expected = t.held() + MEMORY_HTLCS;
      await cluster.offer(MEMORY_HTLCS);
      while (t.held() < expected) await sleep(10);
      await sleep(200);
      gc();
      gc();
      const after = process.memoryUsage();
      if (round === 0) continue; // warm-up: code and caches allocated once
      heap.push((after.heapUsed - before.heapUsed) / MEMORY_HTLCS);
      external.push((after.external - before.external) / MEMORY_HTLCS);
    }
    return { target, heapBytes: median(heap), externalBytes: median(external), load: loadavg()[0]! };
  } finally {
    await t.stop();
    await cluster.stop();
  }
}

// ---- report --------------------------------------------------------------------------------------

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const label: Record<TargetName, string> = {
  baseline: 'baseline: trivial interceptor, no lnmux',
  postgres: 'lnmux, PostgreSQL',
  pglite: 'lnmux, PGlite (in process)',
};

function report(all: readonly Figures[], mem: readonly MemoryFigures[]): void {
  console.log(`\n${machine()}; ${RUNS} runs; simulated nodes in ${SIM_THREADS === 0 ? "the simulator's main thread" : `${SIM_THREADS} worker threads`}, ${SIM_KNOWN_SECRETS ? 'given the onions\' shared secrets' : 'each computing its ECDH'}; load average (1 min) during the runs ${fmt(Math.min(...all.map((f) => f.load[0]), ...all.map((f) => f.load[1])))}-${fmt(Math.max(...all.map((f) => f.load[0]), ...all.map((f) => f.load[1])))}\n`);
  const groups = (parts: number) =>
    TARGETS.map((target) => ({ target, runs: all.filter((f) => f.parts === parts && f.target === target) })).filter((g) => g.runs.length > 0);
  const med = (runs: readonly Figures[], pick: (f: Figures) => number): number => median(runs.map(pick));

  console.log(`Throughput: ${THROUGHPUT} payments, ${IN_FLIGHT} in flight (medians of the runs; CPU = ms per settled payment)\n`);
  console.log('| parts | interceptor | payments/s | x baseline | (at the payer) | CPU: interceptor process | of which kernel | SQL statements | CPU: PostgreSQL backends | CPU: simulator process |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const parts of PARTS) {
    const gs = groups(parts);
    const base = gs.find((g) => g.target === 'baseline');
    for (const g of gs) {
      const rate = med(g.runs, (f) => f.perSecond);
      const ratio = base ? fmt(rate / med(base.runs, (f) => f.perSecond), 2) : '-';
      console.log(
        `| ${parts} | ${label[g.target]} | ${fmt(rate, 0)} | ${ratio} | ${fmt(med(g.runs, (f) => f.payerPerSecond), 0)} | ${fmt(med(g.runs, (f) => f.ownCpuMs), 2)} | ${fmt(med(g.runs, (f) => f.ownSystemMs), 2)} | ${fmt(med(g.runs, (f) => f.statements), 1)} | ${g.target === 'postgres' ? fmt(med(g.runs, (f) => f.pgCpuMs), 2) : '-'} | ${fmt(med(g.runs, (f) => f.simCpuMs), 2)} |`,
      );
    }
  }

  for (const [i, rate] of RATES.entries()) {
    console.log(`\nLatency at ${rate} payments/s offered, ${Math.round(rate * LATENCY_SECONDS)} payments per run (median over runs of each run's percentile), ms\n`);
    console.log('| parts | interceptor | settled/s | at the interceptor p50 | p99 | at the nodes p50 | p99 | x baseline (nodes p99) | interceptor CPU ms/payment | event loop delay p99 / max |');
    console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    const lat = (runs: readonly Figures[], pick: (l: LatencyFigures) => number): number => med(runs, (f) => pick(f.latency[i]!));
    for (const parts of PARTS) {
      const gs = groups(parts);
      const base = gs.find((g) => g.target === 'baseline');
      for (const g of gs) {
        const p99 = lat(g.runs, (l) => l.nodeP99);
        const ratio = base ? fmt(p99 / lat(base.runs, (l) => l.nodeP99), 2) : '-';
        console.log(
          `| ${parts} | ${label[g.target]} | ${fmt(lat(g.runs, (l) => l.achievedRate), 0)} | ${fmt(lat(g.runs, (l) => l.muxP50), 2)} | ${fmt(lat(g.runs, (l) => l.muxP99), 2)} | ${fmt(lat(g.runs, (l) => l.nodeP50), 2)} | ${fmt(p99, 2)} | ${ratio} | ${fmt(lat(g.runs, (l) => l.ownCpuMs), 2)} | ${fmt(lat(g.runs, (l) => l.loopDelayP99), 1)} / ${fmt(lat(g.runs, (l) => l.loopDelayMax), 1)} |`,
        );
      }
    }
  }

  if (all.some((f) => f.serial !== undefined)) {
    console.log(`\nOne payment at a time: ${SERIAL} payments per run, 1 in flight (median over runs of each run's percentile), ms\n`);
    console.log('| parts | interceptor | at the interceptor p50 | p99 | at the nodes p50 | p99 | at the payer p50 | p99 | added at the nodes p50 / p99 (median of per-run differences) |');
    console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const parts of PARTS) {
      const gs = groups(parts);
      const base = gs.find((g) => g.target === 'baseline');
      for (const g of gs) {
        const runs = g.runs.filter((f) => f.serial !== undefined);
        if (runs.length === 0) continue;
        const s = (pick: (x: SerialFigures) => number): number => med(runs, (f) => pick(f.serial!));
        // Differences per run: each run's baseline ran minutes apart at most, under the same load.
        let added = '-';
        if (base !== undefined && g.target !== 'baseline') {
          const pairs = runs.map((f, i) => [f, base.runs[i]] as const).filter(([, b]) => b?.serial !== undefined);
          if (pairs.length > 0) {
            added = `${fmt(median(pairs.map(([f, b]) => f.serial!.nodeP50 - b!.serial!.nodeP50)), 2)} / ${fmt(median(pairs.map(([f, b]) => f.serial!.nodeP99 - b!.serial!.nodeP99)), 2)}`;
          }
        }
        console.log(`| ${parts} | ${label[g.target]} | ${fmt(s((x) => x.muxP50), 2)} | ${fmt(s((x) => x.muxP99), 2)} | ${fmt(s((x) => x.nodeP50), 2)} | ${fmt(s((x) => x.nodeP99), 2)} | ${fmt(s((x) => x.payerP50), 2)} | ${fmt(s((x) => x.payerP99), 2)} | ${added} |`);
      }
      for (const g of gs) {
        const traces = g.runs.flatMap((f) => f.serial?.traces ?? []);
        if (traces.length === 0 || g.target === 'baseline') continue;
        console.log(`\nTrace of a lone ${parts}-part payment, ${label[g.target]}: ms after the last part reached SettlementEngine.onHtlc, median (p90) over ${traces.length} payments of all runs; step = from the mark above\n`);
        console.log('| mark | in % of payments | at, p50 | p90 | step p50 |');
        console.log('|---|---:|---:|---:|---:|');
        const names = new Map<string, number[]>();
        for (const t of traces) for (const [name, at] of t) names.set(name, [...(names.get(name) ?? []), at]);
        const rows = [...names].map(([name, ats]) => ({ name, share: ats.length / traces.length, p50: median(ats), p90: percentile(ats, 90) })).sort((a, b) => a.p50 - b.p50);
        let before = 0;
        for (const r of rows) {
          console.log(`| ${r.name} | ${fmt(r.share * 100, 0)} | ${fmt(r.p50, 3)} | ${fmt(r.p90, 3)} | ${r.share >= 0.9 ? fmt(r.p50 - before, 3) : '-'} |`);
          if (r.share >= 0.9) before = r.p50;
        }
      }
    }
  }

  if (mem.length > 0) {
    console.log(`\nMemory: ${MEMORY_HTLCS} incomplete 1-part sets held per round, median of ${MEMORY_ROUNDS} rounds after a warm-up round, after a full GC\n`);
    console.log('| interceptor | heap bytes per held HTLC | external bytes per held HTLC | x baseline (heap) | load |');
    console.log('|---|---:|---:|---:|---:|');
    const base = mem.find((m) => m.target === 'baseline');
    for (const m of mem) {
      console.log(`| ${label[m.target]} | ${fmt(m.heapBytes, 0)} | ${fmt(m.externalBytes, 0)} | ${base ? fmt(m.heapBytes / base.heapBytes, 2) : '-'} | ${fmt(m.load)} |`);
    }
  }
}

async function main(): Promise<void> {
  if (TARGETS.some((t) => t === 'postgres')) await admin.connect();
  const all: Figures[] = [];
  for (let run = 1; run <= RUNS; run++) {
    for (const parts of PARTS) {
      for (const target of TARGETS) {
        const f = await scenario(target, parts);
        all.push(f);
        console.log(
          `run ${run} ${parts}-part ${target}: ${fmt(f.perSecond, 0)} payments/s (${fmt(f.payerPerSecond, 0)} at the payer; CPU ms/payment: own ${fmt(f.ownCpuMs, 2)} of which system ${fmt(f.ownSystemMs, 2)}, ${fmt(f.statements, 1)} SQL statements/payment, pg ${fmt(f.pgCpuMs, 2)}, sim ${fmt(f.simCpuMs, 2)}); ` +
            (f.serial !== undefined ? `one at a time: interceptor p50/p99 ${fmt(f.serial.muxP50, 2)}/${fmt(f.serial.muxP99, 2)} ms, nodes ${fmt(f.serial.nodeP50, 2)}/${fmt(f.serial.nodeP99, 2)} ms, payer ${fmt(f.serial.payerP50, 2)}/${fmt(f.serial.payerP99, 2)} ms; ` : '') +
            f.latency
              .map((l) => `offered ${l.rate}/s, settled ${fmt(l.achievedRate, 0)}/s: interceptor p50/p99 ${fmt(l.muxP50, 2)}/${fmt(l.muxP99, 2)} ms, nodes p50/p99 ${fmt(l.nodeP50, 2)}/${fmt(l.nodeP99, 2)} ms, event loop delay p99/max ${fmt(l.loopDelayP99, 1)}/${fmt(l.loopDelayMax, 1)} ms`)
              .join('; ') +
            `; load ${fmt(f.load[0])}-${fmt(f.load[1])}`,
        );
      }
    }
  }
  const mem: MemoryFigures[] = [];
  if (MEMORY) {
    for (const target of TARGETS) {
      const m = await memory(target);
      mem.push(m);
      console.log(`memory ${target}: ${fmt(m.heapBytes, 0)} heap bytes, ${fmt(m.externalBytes, 0)} external bytes per held HTLC; load ${fmt(m.load)}`);
    }
  }
  report(all, mem);
  await admin.end().catch(() => undefined);
}

await main();
