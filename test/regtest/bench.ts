/**
 * `npm run bench:regtest` (issue 15 §3): what lnmux costs against letting one LND node take the payment
 * itself, on real LND. Not part of CI nor of `npm test`.
 *
 * The A-B-C regtest network of network.ts (larger channels: 16,000,000 sat each, so that every round fits
 * without rebalancing), `lnmux run` as its own process attached to A and C (PostgreSQL, a fresh database).
 * B pays, one kind of payment at a time, rounds interleaved target by target:
 *  - **lnmux**: invoices of lnmux (made through its API before the timed window), paid through A;
 *  - **LND alone**: invoices A's own lnd made (AddInvoice, same amount, same `c` of 40 blocks), paid
 *    over the same channel B->A.
 * Phases, each for both targets in every round (the order of the two alternates from round to round, so
 * that neither always runs first, on a warmer or a quieter machine):
 *  - `serial`: one payment at a time (SendPaymentV2, max_parts 1, outgoing channel B->A);
 *  - `p8`, `p32`: 8 / 32 payers in parallel, each a loop of SendPaymentV2 calls;
 *  - `mpp1`, `mpp8`: a 2-part payment one at a time / 8 in parallel, the two parts sent together with
 *    SendToRouteV2 along explicit routes (LND's pathfinder would not split a payment that one channel
 *    carries): to lnmux one part via A and one via C (B->A->V and B->C->V, the invoice's route hints);
 *    to A's own invoice both parts over B->A, the only route LND alone has.
 * Then a second block, with lnmux stopped: a trivial interceptor on A (SETTLE from the preimage lnmux's
 * API returned with the invoice: no onion, no database) against LND alone again, single-part phases
 * only. It splits lnmux's added latency into what the interception path through LND costs (trivial -
 * LND alone) and what lnmux's own work costs (lnmux - trivial).
 *
 * Per batch: payments/s (settled payments / the batch's wall time at the payer), the payer-side latency
 * (SendPaymentV2 or the two SendToRouteV2 calls -> the last success), the CPU time of the lnmux process,
 * of each lnd and of the PostgreSQL backends serving lnmux's database (utime + stime from /proc, read
 * before the batch and 1 s after its last payment so that the trailing final-state writes count), lnmux's
 * own time per payment from its log (first "Htlc received" -> last "Sending settle resolution" of the
 * hash, pino's ms clock), and /proc/loadavg before and after. The summary gives, per phase and target,
 * the median over the rounds, and for lnmux the per-round ratio to LND alone (payments/s) and the
 * per-round difference (p50), medians too.
 *
 * Environment (all optional):
 *  - REGBENCH_ROUNDS: rounds (default 5);
 *  - REGBENCH_PHASES: comma-separated phases (default serial,p8,p32,mpp1,mpp8);
 *  - REGBENCH_SERIAL, REGBENCH_P8, REGBENCH_P32, REGBENCH_MPP1, REGBENCH_MPP8: payments per target per
 *    round in that phase (defaults 30, 128, 192, 16, 48);
 *  - REGBENCH_AMOUNT_SAT: amount of a payment (an MPP pays twice it, in two parts), sat (default 1,000:
 *    above the dust limit, so every HTLC is an output of the commitment transactions);
 *  - REGBENCH_TRIVIAL_ROUNDS: rounds of the second block (default 3; 0 skips it);
 *  - REGBENCH_WARMUP: untimed payments per target and kind before the rounds (default 10);
 *  - REGBENCH_LNMUX_LOG_LEVEL: lnmux's log level (default info, as an operator runs it);
 *  - REGBENCH_LNMUX_CPU_PROF: a folder: lnmux runs with `node --cpu-prof` and writes its profile there at
 *    exit (summarize with `node --import tsx bench/lib/profile-summary.ts <file>`);
 *  - REGBENCH_OUT: the JSON of every batch and the summary (default .tmp/regbench.json);
 *  - LNMUX_REGTEST_BIN, LNMUX_REGTEST_CACHE, LNMUX_REGTEST_DATABASE_URL, LNMUX_REGTEST_KEEP: as for
 *    `npm run test:regtest` (run.ts).
 *
 * Exit codes: 0 done, 1 failed, 2 no Go and no LNMUX_REGTEST_BIN.
 */
import { readFileSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { LnmuxClient } from '../../src/client/index.js';
import { median, percentile } from '../../bench/lib/measure.js';
import { backendCpu, cpuBetween } from '../../bench/lib/pg-backend-cpu.js';
import { startNetwork, type Network } from './network.js';
import { binDirOrBuild, MissingGoError } from './lib/binaries.js';
import type { InterceptRequest } from './lib/interceptor.js';
import type { LndRpc } from './lib/lnd-rpc.js';
import { waitFor } from '../support/wait.js';
import { LnmuxDaemon, migrate } from './lib/lnmux-process.js';
import { payInvoice, sendToRoute, describeFailure } from './lib/payments.js';
import { cleanUpAll, wasInterrupted } from './lib/processes.js';
import { freePorts, sleep, since } from './lib/util.js';
import { virtualRoute } from './lib/virtual-hop.js';
import { multiplexerYaml } from './multiplexer-config.js';
import { createScratchDatabase } from './scenarios.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (line: string): void => {
  process.stderr.write(`regbench: ${line}\n`);
};

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`${name}: expected a whole number, got ${JSON.stringify(raw)}`);
  return value;
}

/** Capacity of B's two channels, sat: just under the 16,777,215 sat limit of channels without wumbo. */
const CAPACITY_SAT = 16_000_000n;
/** The invoices' `c` (min_final_cltv_expiry), blocks: lnmux's default, given to A's invoices too. */
const FINAL_CLTV_DELTA = 40;
/** Pause after a batch, ms, before its CPU is read: the final-state writes trail the payer's success. */
const SETTLE_PAUSE_MS = 1_000;

/**
 * Who takes the payment: lnmux; A's own lnd (its invoice); or, in the second block, a trivial
 * interceptor on A that answers SETTLE from the preimage lnmux's API returned with the invoice (no
 * onion, no database): the interception path through LND without lnmux's own work.
 */
type Target = 'lnmux' | 'lnd' | 'trivial';
/** The main block interleaves lnmux with LND alone; the second block (lnmux stopped) the trivial interceptor with it. */
type Block = 'main' | 'trivial';

interface Phase {
  readonly name: string;
  /** Payers in parallel. */
  readonly parallel: number;
  /** Two parts along explicit routes (SendToRouteV2) instead of one SendPaymentV2. */
  readonly mpp: boolean;
  /** Payments per target per round. */
  readonly payments: number;
}

const ALL_PHASES: readonly Phase[] = [
  { name: 'serial', parallel: 1, mpp: false, payments: envInt('REGBENCH_SERIAL', 30) },
  { name: 'p8', parallel: 8, mpp: false, payments: envInt('REGBENCH_P8', 128) },
  { name: 'p32', parallel: 32, mpp: false, payments: envInt('REGBENCH_P32', 192) },
  { name: 'mpp1', parallel: 1, mpp: true, payments: envInt('REGBENCH_MPP1', 16) },
  { name: 'mpp8', parallel: 8, mpp: true, payments: envInt('REGBENCH_MPP8', 48) },
];

/** An invoice ready to pay, decoded by B beforehand (outside the timed window). */
interface Prepared {
  readonly paymentRequest: string;
  readonly paymentHash: Buffer;
  /** lnmux's invoices: the preimage its API returned (the trivial interceptor settles with it). */
  readonly preimage?: Buffer;
  readonly paymentAddr: Buffer;
  /** The invoice's node: A for LND's own, lnmux's virtual node for lnmux's. */
  readonly destination: string;
  /** lnmux's virtual channel id behind each cluster node (its route hints), by node pubkey. */
  readonly hintScids: ReadonlyMap<string, string>;
}

interface DecodedPayReq {
  destination: string;
  payment_hash: string;
  payment_addr: Buffer;
  route_hints: { hop_hints: { node_id: string; chan_id: string }[] }[];
}

/** One payment's outcome at the payer. */
interface Outcome {
  readonly ok: boolean;
  /** Payer-side latency, ms. */
  readonly latencyMs: number;
  readonly error?: string;
}

/** CPU time so far, ms (utime + stime), of the processes the benchmark watches. */
interface CpuSnapshot {
  readonly lnmux: number;
  readonly A: number;
  readonly B: number;
  readonly C: number;
  readonly pg: Map<number, number>;
  /** pg_stat_database of lnmux's database: committed transactions and rows written so far. */
  readonly pgStats: { transactions: number; rowsWritten: number };
}

/** One batch: one phase, one target, one round. */
interface Batch {
  readonly block: Block;
  readonly round: number;
  readonly phase: string;
  readonly target: Target;
  readonly payments: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly wallMs: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU ms per settled payment. */
  readonly cpuMsPerPayment: { lnmux: number; lndA: number; lndB: number; lndC: number; postgres: number };
  /**
   * lnmux's database per settled payment (pg_stat_database): committed transactions (one per statement
   * outside BEGIN) and rows inserted, updated or deleted. PostgreSQL publishes a backend's counts when
   * it goes idle, at most once a second and up to seconds later: a batch's figure may carry some of
   * its neighbours'; the run's total (`postgresPerLnmuxPayment` in the JSON) does not.
   */
  readonly postgresPerPayment: { transactions: number; rowsWritten: number };
  /** lnmux's own time per payment from its log (lnmux batches only), ms. */
  readonly lnmuxOwnP50Ms?: number;
  readonly lnmuxOwnP99Ms?: number;
  readonly loadBefore: number;
  readonly loadAfter: number;
}

let ticksPerSecond: number | undefined;

/** utime + stime of `pid`, ms (0 when it is gone: the caller sees a nonsense delta, never a crash). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** The 1-minute load average. */
function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Runs `work` over `items` with `parallel` workers, each taking the next item when done with one. */
async function pool<T, R>(items: readonly T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}

class Bench {
  private readonly payer;
  private chanBA = '';
  private chanBC = '';
  private height = 0;

  constructor(
    private readonly network: Network,
    private readonly lnmux: LnmuxDaemon,
    private readonly lnmuxLogPath: string,
    private readonly client: LnmuxClient,
    private readonly pgAdmin: pg.Client,
    private readonly databaseName: string,
    private readonly amountMsat: bigint,
  ) {
    this.payer = network.nodes.B.rpc;
  }

  async init(): Promise<void> {
    this.chanBA = (await this.network.channelFromB('A')).chan_id;
    this.chanBC = (await this.network.channelFromB('C')).chan_id;
    this.height = (await this.network.nodes.B.getInfo()).block_height;
  }

  /** Makes and decodes `count` invoices of `amountMsat` for `target`. Not timed. */
  async prepare(target: Target, count: number, amountMsat: bigint): Promise<Prepared[]> {
    const make = async (i: number): Promise<{ paymentRequest: string; preimage?: Buffer }> => {
      if (target !== 'lnd') {
        const added = await this.client.addInvoice({ amountMsat, description: `regbench ${i}`, expirySeconds: 3600 });
        return { paymentRequest: added.paymentRequest, ...(added.preimage !== undefined ? { preimage: Buffer.from(added.preimage) } : {}) };
      }
      const added = await this.network.nodes.A.rpc.call<{ payment_request: string }>('lightning', 'AddInvoice', {
        value_msat: amountMsat.toString(), memo: `regbench ${i}`, expiry: '3600', cltv_expiry: String(FINAL_CLTV_DELTA),
      });
      return { paymentRequest: added.payment_request };
    };
    const made = await pool(Array.from({ length: count }, (_, i) => i), 8, make);
    return await pool(made, 8, async ({ paymentRequest, preimage }) => {
      const decoded = await this.payer.call<DecodedPayReq>('lightning', 'DecodePayReq', { pay_req: paymentRequest });
      const hintScids = new Map<string, string>();
      for (const hint of decoded.route_hints) {
        const hop = hint.hop_hints[0];
        if (hop !== undefined) hintScids.set(hop.node_id, hop.chan_id);
      }
      return {
        paymentRequest,
        ...(preimage !== undefined ? { preimage } : {}),
        paymentHash: Buffer.from(decoded.payment_hash, 'hex'),
        paymentAddr: decoded.payment_addr,
        destination: decoded.destination,
        hintScids,
      };
    });
  }

  /** One single-part payment over B->A; resolves with its outcome, never rejects. */
  async paySingle(invoice: Prepared): Promise<Outcome> {
    const started = performance.now();
    try {
      const payment = await payInvoice(this.payer, invoice.paymentRequest, {
        maxParts: 1, outgoingChanIds: [this.chanBA], timeoutSeconds: 60, noInflightUpdates: true,
      }).done;
      const latencyMs = performance.now() - started;
      if (payment.status === 'SUCCEEDED') return { ok: true, latencyMs };
      return { ok: false, latencyMs, error: `${payment.failure_reason} ${JSON.stringify(payment.htlcs.map((h) => describeFailure(h.failure)))}` };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, error: String(error) };
    }
  }

  /**
   * One 2-part payment (each part `amountMsat`, total twice it) sent as two SendToRouteV2 calls at once:
   * to lnmux one part via A and one via C; to A's own invoice both over B->A.
   */
  async payMpp(target: Target, invoice: Prepared): Promise<Outcome> {
    const total = this.amountMsat * 2n;
    const routes = target === 'lnmux'
      ? (['A', 'C'] as const).map((name) => {
        const node = this.network.nodes[name];
        const scid = invoice.hintScids.get(node.pubkey);
        if (scid === undefined) throw new Error(`lnmux's invoice has no route hint through ${name}`);
        return virtualRoute({
          chanIdToCluster: name === 'A' ? this.chanBA : this.chanBC,
          clusterPubkeyHex: node.pubkey,
          virtualPubkey: Buffer.from(invoice.destination, 'hex'),
          virtualScid: BigInt(scid),
          amountMsat: this.amountMsat,
          totalMsat: total,
          paymentAddr: invoice.paymentAddr,
          height: this.height,
          // As SendPaymentV2 does: 3 blocks above the invoice's `c`, for blocks mined meanwhile.
          finalCltvDelta: FINAL_CLTV_DELTA + 3,
        });
      })
      : [0, 1].map(() => this.directRouteToA(invoice, total));
    const started = performance.now();
    try {
      const attempts = await Promise.all(routes.map((route) => sendToRoute(this.payer, invoice.paymentHash, route, 120_000)));
      const latencyMs = performance.now() - started;
      const failed = attempts.filter((a) => a.status !== 'SUCCEEDED');
      if (failed.length === 0) return { ok: true, latencyMs };
      return { ok: false, latencyMs, error: JSON.stringify(failed.map((a) => ({ status: a.status, failure: describeFailure(a.failure) }))) };
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, error: String(error) };
    }
  }

  /** The one-hop route B->A for one part of `totalMsat` to A's own invoice (lnrpc.Route, no fee). */
  private directRouteToA(invoice: Prepared, totalMsat: bigint): object {
    const expiry = this.height + FINAL_CLTV_DELTA + 3;
    const amount = this.amountMsat.toString();
    return {
      total_time_lock: expiry,
      total_amt_msat: amount,
      total_fees_msat: '0',
      hops: [{
        chan_id: this.chanBA,
        pub_key: this.network.nodes.A.pubkey,
        amt_to_forward_msat: amount,
        fee_msat: '0',
        expiry,
        tlv_payload: true,
        mpp_record: { payment_addr: invoice.paymentAddr, total_amt_msat: totalMsat.toString() },
      }],
    };
  }

  private async cpu(): Promise<CpuSnapshot> {
    const { A, B, C } = this.network.nodes;
    return {
      lnmux: processCpuMs(this.lnmux.pid),
      A: processCpuMs(A.pid),
      B: processCpuMs(B.pid),
      C: processCpuMs(C.pid),
      pg: await backendCpu(this.pgAdmin, this.databaseName),
      pgStats: await this.pgStats(),
    };
  }

  private async pgStats(): Promise<{ transactions: number; rowsWritten: number }> {
    // Fresh figures, not the snapshot this transaction would otherwise keep.
    await this.pgAdmin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await this.pgAdmin.query<{ xact_commit: string; written: string }>(
      'SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS written FROM pg_stat_database WHERE datname = $1',
      [this.databaseName],
    );
    const row = rows[0];
    return { transactions: Number(row?.xact_commit ?? 0), rowsWritten: Number(row?.written ?? 0) };
  }

  /**
   * Runs one batch: invoices made and decoded first (untimed; or given: the trivial block's, made while
   * lnmux ran), then paid by `phase.parallel` payers.
   */
  async batch(block: Block, round: number, phase: Phase, target: Target, given?: Prepared[]): Promise<Batch> {
    const invoices = given ?? await this.prepare(target, phase.payments, phase.mpp ? this.amountMsat * 2n : this.amountMsat);
    await this.payer.call('router', 'ResetMissionControl', {});
    const logOffset = statSync(this.lnmuxLogPath).size;
    const loadBefore = loadAverage();
    const before = await this.cpu();
    const started = performance.now();
    const outcomes = await pool(invoices, phase.parallel, (invoice) => (phase.mpp ? this.payMpp(target, invoice) : this.paySingle(invoice)));
    const wallMs = performance.now() - started;
    await sleep(SETTLE_PAUSE_MS);
    const after = await this.cpu();
    const loadAfter = loadAverage();
    const good = outcomes.filter((o) => o.ok);
    const latencies = good.map((o) => o.latencyMs);
    const perPayment = (ms: number): number => (good.length === 0 ? Number.NaN : ms / good.length);
    const own = target === 'lnmux' ? lnmuxOwnTimes(readFileSync(this.lnmuxLogPath).subarray(logOffset).toString('utf8'), invoices) : [];
    const firstError = outcomes.find((o) => !o.ok)?.error;
    return {
      block,
      round,
      phase: phase.name,
      target,
      payments: outcomes.length,
      succeeded: good.length,
      failed: outcomes.length - good.length,
      ...(firstError !== undefined ? { firstError } : {}),
      wallMs,
      perSecond: (good.length * 1000) / wallMs,
      p50Ms: latencies.length > 0 ? percentile(latencies, 50) : Number.NaN,
      p99Ms: latencies.length > 0 ? percentile(latencies, 99) : Number.NaN,
      cpuMsPerPayment: {
        lnmux: perPayment(after.lnmux - before.lnmux),
        lndA: perPayment(after.A - before.A),
        lndB: perPayment(after.B - before.B),
        lndC: perPayment(after.C - before.C),
        postgres: perPayment(cpuBetween(before.pg, after.pg)),
      },
      postgresPerPayment: {
        // The benchmark's own reads (two snapshots: 3 statements each) are taken off.
        transactions: perPayment(after.pgStats.transactions - before.pgStats.transactions - 6),
        rowsWritten: perPayment(after.pgStats.rowsWritten - before.pgStats.rowsWritten),
      },
      ...(own.length > 0 ? { lnmuxOwnP50Ms: percentile(own, 50), lnmuxOwnP99Ms: percentile(own, 99) } : {}),
      loadBefore,
      loadAfter,
    };
  }
}

/**
 * The trivial interceptor: SETTLE with the preimage of the offered hash, RESUME for any other HTLC.
 * One grpc-js stream, no onion, no database: what answering costs when nothing is decided.
 */
function settlingInterceptor(rpc: LndRpc, preimages: ReadonlyMap<string, Buffer>): { close(): void } {
  const stream = rpc.duplex('router', 'HtlcInterceptor');
  stream.on('data', (message: unknown) => {
    const request = message as InterceptRequest;
    const preimage = preimages.get(request.payment_hash.toString('hex'));
    stream.write(preimage !== undefined
      ? { incoming_circuit_key: request.incoming_circuit_key, action: 'SETTLE', preimage }
      : { incoming_circuit_key: request.incoming_circuit_key, action: 'RESUME' });
  });
  stream.on('error', () => undefined); // cancelled at the end; a real error shows as failed payments
  return { close: () => stream.cancel() };
}

/**
 * lnmux's own time per payment from its JSON log lines: the first "Htlc received" of a hash (logged
 * after the onion peel) to its last "Sending settle resolution" (logged as the SETTLE is handed to the
 * stream), ms on pino's clock; for the batch's invoices only.
 */
function lnmuxOwnTimes(logText: string, invoices: readonly Prepared[]): number[] {
  const wanted = new Set(invoices.map((i) => i.paymentHash.toString('hex')));
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  for (const line of logText.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: unknown; hash?: unknown; time?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    // `lnmux run` logs ISO 8601 times (src/cli/logger.ts); a number would be pino's default epoch ms.
    const time = typeof entry.time === 'string' ? Date.parse(entry.time) : typeof entry.time === 'number' ? entry.time : Number.NaN;
    if (typeof entry.hash !== 'string' || !Number.isFinite(time) || !wanted.has(entry.hash)) continue;
    if (entry.msg === 'Htlc received' && !first.has(entry.hash)) first.set(entry.hash, time);
    if (entry.msg === 'Sending settle resolution') last.set(entry.hash, time);
  }
  const out: number[] = [];
  for (const [hash, end] of last) {
    const start = first.get(hash);
    if (start !== undefined) out.push(end - start);
  }
  return out;
}

/** Per phase and target: medians over the rounds; for lnmux, the paired ratio and difference to LND. */
interface SummaryRow {
  readonly block: Block;
  readonly phase: string;
  readonly target: Target;
  readonly rounds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMsPerPayment: Batch['cpuMsPerPayment'];
  readonly lnmuxOwnP50Ms?: number;
  readonly failed: number;
  /** lnmux and trivial: median over the rounds of payments/s / LND alone's in the same round, and its range. */
  readonly ratioToLnd?: { median: number; min: number; max: number };
  /** lnmux and trivial: median over the rounds of the p50 - LND alone's p50 in the same round, ms, and its range. */
  readonly addedP50Ms?: { median: number; min: number; max: number };
  readonly load: { min: number; max: number };
}

function summarize(batches: readonly Batch[], phases: readonly Phase[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const stats = (values: number[]): { median: number; min: number; max: number } => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });
  const groups: [Block, Target][] = [['main', 'lnmux'], ['main', 'lnd'], ['trivial', 'trivial'], ['trivial', 'lnd']];
  for (const [block, target] of groups) {
    for (const phase of phases) {
      const mine = batches.filter((b) => b.block === block && b.phase === phase.name && b.target === target);
      if (mine.length === 0) continue;
      const med = (pick: (b: Batch) => number | undefined): number => {
        const values = mine.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
        return values.length > 0 ? median(values) : Number.NaN;
      };
      const paired = mine.flatMap((b) => {
        const other = batches.find((o) => o.block === block && o.phase === phase.name && o.target === 'lnd' && o.round === b.round);
        return other === undefined ? [] : [{ ratio: b.perSecond / other.perSecond, added: b.p50Ms - other.p50Ms }];
      });
      rows.push({
        block,
        phase: phase.name,
        target,
        rounds: mine.length,
        perSecond: med((b) => b.perSecond),
        p50Ms: med((b) => b.p50Ms),
        p99Ms: med((b) => b.p99Ms),
        cpuMsPerPayment: {
          lnmux: med((b) => b.cpuMsPerPayment.lnmux),
          lndA: med((b) => b.cpuMsPerPayment.lndA),
          lndB: med((b) => b.cpuMsPerPayment.lndB),
          lndC: med((b) => b.cpuMsPerPayment.lndC),
          postgres: med((b) => b.cpuMsPerPayment.postgres),
        },
        ...(target === 'lnmux' ? { lnmuxOwnP50Ms: med((b) => b.lnmuxOwnP50Ms) } : {}),
        failed: mine.reduce((sum, b) => sum + b.failed, 0),
        ...(target !== 'lnd' && paired.length > 0
          ? { ratioToLnd: stats(paired.map((p) => p.ratio)), addedP50Ms: stats(paired.map((p) => p.added)) }
          : {}),
        load: { min: Math.min(...mine.flatMap((b) => [b.loadBefore, b.loadAfter])), max: Math.max(...mine.flatMap((b) => [b.loadBefore, b.loadAfter])) },
      });
    }
  }
  return rows;
}

const fmt = (value: number | undefined, digits = 1): string => (value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits));
const range = (s: { median: number; min: number; max: number } | undefined, digits: number): string =>
  (s === undefined ? '' : `**${fmt(s.median, digits)}** (${fmt(s.min, digits)} to ${fmt(s.max, digits)})`);

/** The summary as the markdown table of docs/benchmarks.md. */
function markdown(rows: readonly SummaryRow[]): string {
  const lines = [
    '| block | phase | target | payments/s | x LND alone (per round) | payer p50 ms | p99 ms | added p50 ms (per round) | lnmux own p50 ms | CPU ms/payment: lnmux | PostgreSQL | lnd A | lnd B | lnd C | failed | load (1 min) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const name = r.target === 'lnd' ? 'LND alone' : r.target === 'trivial' ? 'trivial interceptor on A' : 'lnmux';
    lines.push(`| ${r.block} | ${r.phase} | ${name} | ${fmt(r.perSecond)} | ${range(r.ratioToLnd, 2)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${range(r.addedP50Ms, 1)} | ${fmt(r.lnmuxOwnP50Ms)} | ${fmt(r.cpuMsPerPayment.lnmux, 2)} | ${fmt(r.cpuMsPerPayment.postgres, 2)} | ${fmt(r.cpuMsPerPayment.lndA, 2)} | ${fmt(r.cpuMsPerPayment.lndB, 2)} | ${fmt(r.cpuMsPerPayment.lndC, 2)} | ${r.failed} | ${fmt(r.load.min)}-${fmt(r.load.max)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const rounds = envInt('REGBENCH_ROUNDS', 5);
  const phaseNames = (process.env['REGBENCH_PHASES'] ?? 'serial,p8,p32,mpp1,mpp8').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const phases = phaseNames.map((name) => {
    const phase = ALL_PHASES.find((p) => p.name === name);
    if (phase === undefined) throw new TypeError(`REGBENCH_PHASES: unknown phase ${name} (known: ${ALL_PHASES.map((p) => p.name).join(', ')})`);
    return phase;
  }).filter((p) => p.payments > 0);
  const amountSat = BigInt(envInt('REGBENCH_AMOUNT_SAT', 1_000));
  const warmup = envInt('REGBENCH_WARMUP', 10);
  const trivialRounds = envInt('REGBENCH_TRIVIAL_ROUNDS', 3);
  const logLevel = (process.env['REGBENCH_LNMUX_LOG_LEVEL'] ?? 'info') as 'info';
  const profileDir = process.env['REGBENCH_LNMUX_CPU_PROF'];

  // B->A carries every payment to A's own invoices and lnmux's single parts and half of its MPP parts.
  const perRoundSat = phases.reduce((sum, p) => sum + BigInt(p.payments) * amountSat * (p.mpp ? 3n : 2n), 0n);
  const perTrivialRoundSat = phases.filter((p) => !p.mpp).reduce((sum, p) => sum + BigInt(p.payments) * amountSat * 2n, 0n);
  const neededSat = BigInt(rounds) * perRoundSat + BigInt(trivialRounds) * perTrivialRoundSat + BigInt(warmup) * amountSat * 6n;
  if (neededSat > (CAPACITY_SAT * 95n) / 100n) {
    throw new RangeError(`the planned payments need ${neededSat} sat over B->A, more than its ${CAPACITY_SAT} sat can carry: fewer rounds, payments or a smaller REGBENCH_AMOUNT_SAT`);
  }

  let binDir: string;
  try {
    binDir = await binDirOrBuild();
  } catch (error) {
    if (error instanceof MissingGoError) {
      log(`${error.message}: set LNMUX_REGTEST_BIN or install Go (docs/regtest.md)`);
      return 2;
    }
    throw error;
  }

  let network: Network | undefined;
  let lnmux: LnmuxDaemon | undefined;
  let database: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let pgAdmin: pg.Client | undefined;
  try {
    const started = performance.now();
    network = await startNetwork({ binDir, log, channelCapacitySat: CAPACITY_SAT });
    log(`network up (${since(started)} ms)`);
    database = await createScratchDatabase();
    const databaseName = new URL(database.url).pathname.slice(1);
    const [apiPort] = await freePorts(1);
    const configPath = join(network.dir, 'multiplexer.yml');
    const net = network;
    writeFileSync(configPath, multiplexerYaml({
      nodes: (['A', 'C'] as const).map((name) => ({
        pubkey: net.nodes[name].pubkey,
        address: net.nodes[name].endpoint.address,
        tlsCertPath: net.nodes[name].endpoint.tlsCertPath,
        macaroonPath: net.nodes[name].endpoint.macaroonPath,
      })),
      identityKeyHex: randomBytes(32).toString('hex'),
      databaseUrl: database.url,
      network: 'regtest',
      logLevel,
      plaintextApiListen: `127.0.0.1:${apiPort ?? 0}`,
    }));
    await migrate(configPath);
    const lnmuxLogPath = join(network.dir, 'lnmux.log');
    const nodeArgs = profileDir !== undefined && profileDir !== '' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    lnmux = new LnmuxDaemon(configPath, lnmuxLogPath, nodeArgs);
    await lnmux.start([network.nodes.A, network.nodes.C]);
    log(`lnmux attached to A and C (pid ${lnmux.pid ?? '?'})`);
    const client = await LnmuxClient.connect({ address: `127.0.0.1:${apiPort ?? 0}`, insecurePlaintext: true });
    pgAdmin = new pg.Client({ connectionString: database.url });
    await pgAdmin.connect();

    const bench = new Bench(network, lnmux, lnmuxLogPath, client, pgAdmin, databaseName, amountSat * 1000n);
    await bench.init();

    // Warm-up, untimed: JIT, connections, B's graph and mission control, lnmux's pool.
    for (const target of ['lnmux', 'lnd'] as const) {
      const single = await bench.batch('main', 0, { name: 'warmup', parallel: 4, mpp: false, payments: warmup }, target);
      const mpp = await bench.batch('main', 0, { name: 'warmup-mpp', parallel: 2, mpp: true, payments: Math.ceil(warmup / 2) }, target);
      log(`warm-up ${target}: ${single.succeeded}/${single.payments} single, ${mpp.succeeded}/${mpp.payments} MPP settled${single.firstError ?? mpp.firstError ? ` (${single.firstError ?? mpp.firstError})` : ''}`);
      if (single.succeeded === 0 || mpp.succeeded === 0) throw new Error(`warm-up: no ${target} payment settled: ${single.firstError ?? mpp.firstError ?? ''}`);
    }

    // lnmux's CPU while no payment runs (lease renewals, timers, streams), ms per s: it is inside every
    // batch's CPU figure, so a slow batch carries more of it.
    const idleMs = 10_000;
    const idleBefore = processCpuMs(lnmux.pid);
    await sleep(idleMs);
    const lnmuxIdleCpuMsPerS = ((processCpuMs(lnmux.pid) - idleBefore) * 1000) / idleMs;
    log(`lnmux idle: ${fmt(lnmuxIdleCpuMsPerS, 2)} ms of CPU per s`);

    const batches: Batch[] = [];
    const report = (b: Batch): void => {
      batches.push(b);
      log(`${b.block} round ${b.round} ${b.phase} ${b.target}: ${b.succeeded}/${b.payments} in ${Math.round(b.wallMs)} ms = ${fmt(b.perSecond)}/s, p50 ${fmt(b.p50Ms)} p99 ${fmt(b.p99Ms)} ms, CPU ms/payment lnmux ${fmt(b.cpuMsPerPayment.lnmux, 2)} pg ${fmt(b.cpuMsPerPayment.postgres, 2)} A ${fmt(b.cpuMsPerPayment.lndA, 2)} B ${fmt(b.cpuMsPerPayment.lndB, 2)}${b.lnmuxOwnP50Ms !== undefined ? `, lnmux own p50 ${fmt(b.lnmuxOwnP50Ms)} ms` : ''}, load ${b.loadBefore}->${b.loadAfter}${b.firstError !== undefined ? `; ${b.failed} failed, first: ${b.firstError}` : ''}`);
    };
    const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, lnd ${(await network.nodes.A.getInfo()).version}`;
    log(`${machine}; ${rounds} rounds of ${phases.map((p) => `${p.name} x${p.payments}`).join(', ')}; ${amountSat} sat per payment`);
    for (let round = 1; round <= rounds; round++) {
      const order: Target[] = round % 2 === 1 ? ['lnmux', 'lnd'] : ['lnd', 'lnmux'];
      for (const phase of phases) {
        for (const target of order) {
          report(await bench.batch('main', round, phase, target));
        }
      }
    }

    // The second block: lnmux's invoices made now (the API goes with lnmux), lnmux stopped, a trivial
    // interceptor on A settling them from their preimages, interleaved with LND alone again.
    const trivialPhases = phases.filter((p) => !p.mpp);
    if (trivialRounds > 0 && trivialPhases.length > 0) {
      const planned = new Map<string, Prepared[]>();
      for (let round = 1; round <= trivialRounds; round++) {
        for (const phase of trivialPhases) planned.set(`${round} ${phase.name}`, await bench.prepare('trivial', phase.payments, amountSat * 1000n));
      }
      await lnmux.stop();
      const preimages = new Map<string, Buffer>();
      for (const list of planned.values()) for (const p of list) if (p.preimage !== undefined) preimages.set(p.paymentHash.toString('hex'), p.preimage);
      const trivial = settlingInterceptor(network.nodes.A.rpc, preimages);
      try {
        await waitFor(async () => (network?.nodes.A.interceptorAttachedPerLog() ? true : undefined), { what: 'the trivial interceptor attached to A', timeoutMs: 30_000, intervalMs: 100 });
        log('lnmux stopped; a trivial interceptor holds A\'s stream');
        for (let round = 1; round <= trivialRounds; round++) {
          const order: Target[] = round % 2 === 1 ? ['trivial', 'lnd'] : ['lnd', 'trivial'];
          for (const phase of trivialPhases) {
            for (const target of order) {
              report(await bench.batch('trivial', round, phase, target, target === 'trivial' ? planned.get(`${round} ${phase.name}`) : undefined));
            }
          }
        }
      } finally {
        trivial.close();
      }
    }
    const summary = summarize(batches, phases);
    // Over the whole main block (LND's batches cause next to no writes in lnmux's database), so that the
    // delay of PostgreSQL's statistics does not matter.
    const main = batches.filter((b) => b.block === 'main');
    const lnmuxPayments = main.filter((b) => b.target === 'lnmux').reduce((sum, b) => sum + b.succeeded, 0);
    const total = (pick: (b: Batch) => number): number => main.reduce((sum, b) => sum + pick(b) * b.succeeded, 0);
    const postgresPerLnmuxPayment = {
      transactions: total((b) => b.postgresPerPayment.transactions) / lnmuxPayments,
      rowsWritten: total((b) => b.postgresPerPayment.rowsWritten) / lnmuxPayments,
    };
    log(`lnmux's database over the main block: ${fmt(postgresPerLnmuxPayment.transactions, 2)} transactions and ${fmt(postgresPerLnmuxPayment.rowsWritten, 2)} rows written per lnmux payment`);
    const table = markdown(summary);
    process.stdout.write(`\n${machine}; lnmux idle ${fmt(lnmuxIdleCpuMsPerS, 2)} ms CPU/s\n\n${table}\n`);
    const outPath = process.env['REGBENCH_OUT'] ?? join(repoRoot, '.tmp', 'regbench.json');
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, `${JSON.stringify({ machine, rounds, trivialRounds, amountSat: Number(amountSat), lnmuxIdleCpuMsPerS, postgresPerLnmuxPayment, phases, summary, batches }, null, 2)}\n`);
    log(`every batch in ${outPath} (${since(started)} ms in all)`);
    client.close();
    return 0;
  } catch (error) {
    if (wasInterrupted()) return 130;
    log(`FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    return 1;
  } finally {
    await pgAdmin?.end().catch(() => undefined);
    // lnmux first, and gracefully: with --cpu-prof its profile is written at exit.
    await lnmux?.stop().catch(() => undefined);
    await network?.close().catch(() => undefined);
    await database?.drop().catch(() => undefined);
    await cleanUpAll();
  }
}

// Exit at once: pending timers of finished waits would keep the loop alive.
process.exit(await main());
