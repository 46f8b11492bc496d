/**
 * `npm run chaos`: the project's own proof of the safety invariants under faults (docs/reliability.md). A simulated 3-node LND cluster (in
 * this process), two lnmux processes (a leader and a standby) reaching the nodes and a private
 * PostgreSQL through loopback proxies, a payer making single and multi-part payments, and faults
 * injected one after another at moments drawn from a seed: kill -9 of the leader and of the standby,
 * database stops of 1-10 s, node restarts, connection resets, parts failed by a node on its own
 * (auto-fail height reached by mining blocks; a restart without --requireinterceptor). After the
 * faults stop and the system is quiet, check.ts checks the nodes' and the database's records; the run
 * prints a table and exits 1 on any violation. docs/reliability.md, "Chaos suite".
 *
 *   npm run chaos -- [--seed S] [--payments N] [--duration SECONDS] [--faults kind,kind|none] [--sample-memory SECONDS] [--keep]
 *
 * Exits 0 with "skipped" when no PostgreSQL binaries are installed (/usr/lib/postgresql/<v>/bin).
 */
import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { Mux } from '../../src/mux/mux.js';
import type { MuxConfigInput } from '../../src/mux/config.js';
import { bytesToHex, circuitKeyString, hexToBytes } from '../../src/protocol/index.js';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import { checkRun, type NodeHtlc, type Violation } from './check.js';
import { LnmuxProcess } from './lnmux-process.js';
import { ChaosPayer, type ChaosInvoice, type PaymentRecord } from './payments.js';
import { findPostgresBin, PrivatePostgres } from './postgres.js';
import { seededRng, type Rng } from './rng.js';
import { TcpProxy } from './tcp-proxy.js';
import { holdsWithin, waitUntil } from '../support/wait.js';

/** restart-no-interceptor: how long after stopping the node the suite looks for committed parts on it, ms. */
const STOP_GRACE_MS = 1_000;
const FAULT_KINDS = ['kill-leader', 'kill-standby', 'db-stop', 'node-restart', 'conn-reset', 'auto-fail', 'restart-no-interceptor'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

/** Bounds of every wait (no loop runs for ever). */
const RECOVERY_LIMIT_MS = 60_000;
const QUIESCE_LIMIT_MS = 240_000;
const MPP_TIMEOUT_SECONDS = 20;
/** Blocks from a part's send height to its auto-fail height at the node: c (40) + padding (3) + hop delta (40) - 19. */
const AUTO_FAIL_BLOCKS = 64;
const AUTO_FAIL_TAIL = 12;
const AUTO_FAIL_BLOCK_MS = 250;

/** Fault timing (how long a fault lasts, when the next strikes, pacing): the point of the run, never a wait for an event (those use waitUntil / holdsWithin). */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));


interface Options {
  readonly seed: string;
  readonly payments: number;
  readonly durationS: number;
  readonly faults: readonly FaultKind[];
  readonly keep: boolean;
  readonly concurrency: number;
  /** Seconds between memory samples of the lnmux processes (0: none). */
  readonly sampleMemoryS: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      payments: { type: 'string', default: '400' },
      duration: { type: 'string' },
      faults: { type: 'string', default: FAULT_KINDS.join(',') },
      concurrency: { type: 'string', default: '12' },
      keep: { type: 'boolean', default: false },
      'sample-memory': { type: 'string', default: '0' },
    },
    strict: true,
  });
  const payments = Number(values.payments);
  if (!Number.isInteger(payments) || payments < 1) throw new RangeError(`--payments: expected a positive integer, got ${values.payments}`);
  const durationS = values.duration === undefined ? Math.max(30, Math.ceil(payments / 3)) : Number(values.duration);
  if (!(durationS > 0)) throw new RangeError(`--duration: expected seconds > 0, got ${values.duration}`);
  const faults = (values.faults === 'none' ? '' : (values.faults ?? '')).split(',').filter((f) => f !== '') as FaultKind[];
  const sampleMemoryS = Number(values['sample-memory']);
  if (!(sampleMemoryS >= 0)) throw new RangeError(`--sample-memory: expected seconds >= 0, got ${values['sample-memory']}`);
  for (const f of faults) if (!FAULT_KINDS.includes(f)) throw new RangeError(`--faults: unknown fault ${f}; expected some of ${FAULT_KINDS.join(', ')}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`--concurrency: expected a positive integer, got ${values.concurrency}`);
  return { seed: values.seed ?? randomBytes(4).toString('hex'), payments, durationS, faults, keep: values.keep ?? false, concurrency, sampleMemoryS };
}

interface FaultRecord {
  readonly kind: FaultKind;
  readonly at: number;
  readonly detail: string;
  /** From the component's return (or, for a killed leader, the kill) to full service, ms; undefined if not within the limit. */
  recoveryMs?: number;
}

class Chaos {
  readonly log = pino({ level: process.env.LNMUX_CHAOS_LOG ?? 'info', base: { component: 'chaos' } }, pino.destination(2));
  readonly faults: FaultRecord[] = [];
  readonly unplannedExits: string[] = [];
  readonly nodeHtlcs: NodeHtlc[] = [];
  readonly processes: LnmuxProcess[] = [];
  /** Resident memory of each lnmux process over time (--sample-memory), bytes. */
  readonly memory = new Map<string, { atS: number; rss: number }[]>();
  #nextName = 0;
  quiescing = false;

  constructor(
    readonly opts: Options,
    readonly dir: string,
    readonly cluster: SimCluster,
    readonly db: PrivatePostgres,
    readonly nodeProxies: readonly TcpProxy[],
    readonly dbProxy: TcpProxy,
    readonly muxConfig: MuxConfigInput,
    readonly payer: ChaosPayer,
  ) {}

  spawnLnmux(): LnmuxProcess {
    const name = `lnmux-${this.#nextName++}`;
    const p = new LnmuxProcess(name, this.muxConfig, join(this.dir, `${name}.log`), (proc, how) => {
      this.unplannedExits.push(`${proc.name} (${how})`);
      this.log.error({ event: 'unplanned-exit', lnmux: proc.name, how }, 'lnmux exited on its own; starting another');
      this.#replace(proc);
    });
    this.processes.push(p);
    this.log.info({ event: 'lnmux-start', lnmux: name, pid: p.pid }, 'lnmux started');
    return p;
  }

  #replace(dead: LnmuxProcess): void {
    const i = this.processes.indexOf(dead);
    if (i >= 0) this.processes.splice(i, 1);
    void sleep(500).then(() => this.spawnLnmux());
  }

  /** Samples the resident memory (VmRSS) of every live lnmux process. */
  sampleMemory(atS: number): void {
    for (const p of this.processes) {
      if (!p.alive || p.pid <= 0) continue;
      let status: string;
      try {
        status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
      } catch {
        continue; // gone meanwhile, or no /proc here
      }
      const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      if (kib === undefined) continue;
      const samples = this.memory.get(p.name) ?? [];
      samples.push({ atS, rss: Number(kib) * 1024 });
      this.memory.set(p.name, samples);
    }
  }

  get leader(): LnmuxProcess | undefined {
    return this.processes.find((p) => p.alive && p.role === 'active');
  }

  /** Every running node has an interceptor connected. */
  intercepting(): boolean {
    return this.cluster.nodes.every((n) => !n.online || n.interceptorConnected);
  }

  /** Waits until lnmux intercepts on every node and a payment part settled after `since`; recovery ms or undefined. */
  async serviceBack(since: number, extra: () => boolean = () => true): Promise<number | undefined> {
    const ok = await holdsWithin(() => this.intercepting() && this.payer.lastSettleAt > since && extra(), { what: 'lnmux to intercept on every node and a part to settle', timeoutMs: RECOVERY_LIMIT_MS, intervalMs: 25 });
    return ok ? Math.max(0, this.payer.lastSettleAt - since) : undefined;
  }

  /** How many of `keys` (circuit keys at node `pubkey`) the database records in a committed set. */
  async committedAmong(pubkey: string, keys: readonly { chanId: bigint; htlcId: bigint }[]): Promise<number> {
    if (keys.length === 0) return 0;
    const client = new pg.Client({ connectionString: this.db.url, connectionTimeoutMillis: 2000 });
    await client.connect();
    try {
      const rows = await client.query<{ chan_id: string; htlc_id: string }>('SELECT chan_id, htlc_id FROM lnmux.htlcs WHERE node_pubkey = $1', [Buffer.from(pubkey, 'hex')]);
      const nodePubkey = hexToBytes(pubkey);
      const stored = new Set(
        rows.rows.map((r) => circuitKeyString({ nodePubkey, chanId: BigInt.asUintN(64, BigInt(r.chan_id)), htlcId: BigInt.asUintN(64, BigInt(r.htlc_id)) })),
      );
      return keys.filter((k) => stored.has(circuitKeyString({ nodePubkey, ...k }))).length;
    } finally {
      await client.end();
    }
  }

  async inject(kind: FaultKind, rng: Rng): Promise<void> {
    const at = Date.now();
    const record: FaultRecord = { kind, at, detail: '' };
    const set = (detail: string): void => {
      (record as { detail: string }).detail = detail;
    };
    this.faults.push(record);
    switch (kind) {
      case 'kill-leader': {
        const leader = this.leader;
        if (leader === undefined) return set('no leader to kill');
        set(`${leader.name} pid ${leader.pid}`);
        const killedAt = Date.now();
        await leader.kill();
        this.processes.splice(this.processes.indexOf(leader), 1);
        const delay = rng.between(500, 3000);
        void sleep(delay).then(() => this.spawnLnmux());
        const ok = await holdsWithin(() => this.processes.some((p) => p.alive && p.role === 'active' && p.roleAt > killedAt) && this.intercepting(), { what: 'a new leader intercepting on every node', timeoutMs: RECOVERY_LIMIT_MS, intervalMs: 25 });
        if (ok) record.recoveryMs = Date.now() - killedAt;
        // The replacement must be up as a standby before the next fault.
        await holdsWithin(() => this.processes.length >= 2 && this.processes.every((p) => p.role === 'active' || p.role === 'standby'), { what: 'the replacement up as a standby', timeoutMs: RECOVERY_LIMIT_MS, intervalMs: 25 });
        return;
      }
      case 'kill-standby': {
        const standby = this.processes.find((p) => p.alive && p.role !== 'active');
        if (standby === undefined) return set('no standby to kill');
        set(`${standby.name} pid ${standby.pid}`);
        const killedAt = Date.now();
        await standby.kill();
        this.processes.splice(this.processes.indexOf(standby), 1);
        await sleep(rng.between(500, 3000));
        const respawnedAt = Date.now();
        const next = this.spawnLnmux();
        const ok = await holdsWithin(() => next.role === 'standby' || next.role === 'active', { what: 'the replacement standby to take a role', timeoutMs: RECOVERY_LIMIT_MS, intervalMs: 25 });
        if (ok) record.recoveryMs = next.roleAt - respawnedAt;
        set(`${record.detail}, replacement started ${respawnedAt - killedAt} ms later`);
        return;
      }
      case 'db-stop': {
        const mode = rng.next() < 0.5 ? 'immediate' : 'fast';
        const downMs = Math.round(rng.between(1000, 10_000));
        set(`${mode} stop, down ${downMs} ms`);
        await this.db.stop(mode);
        await sleep(downMs);
        await this.db.start();
        record.recoveryMs = await this.serviceBack(Date.now());
        return;
      }
      case 'node-restart': {
        const i = rng.int(this.cluster.nodes.length);
        const downMs = Math.round(rng.between(200, 3000));
        set(`node-${i}, down ${downMs} ms`);
        const node = this.cluster.node(i);
        await node.stop();
        await sleep(downMs);
        await node.start();
        record.recoveryMs = await this.serviceBack(Date.now(), () => node.interceptorConnected);
        return;
      }
      case 'conn-reset': {
        const target = rng.int(this.nodeProxies.length + 1);
        const proxy = target === this.nodeProxies.length ? this.dbProxy : (this.nodeProxies[target] as TcpProxy);
        const count = proxy.resetAll();
        set(`${target === this.nodeProxies.length ? 'database' : `node-${target}`}: ${count} connection(s) reset`);
        record.recoveryMs = await this.serviceBack(Date.now());
        return;
      }
      case 'auto-fail': {
        // Strike while parts are held (sets incomplete), or after 5 s anyway.
        await holdsWithin(() => this.cluster.nodes.some((n) => n.heldHtlcs().length > 0), { what: 'a node to hold a part', timeoutMs: 5000, intervalMs: 5 });
        const held = this.cluster.nodes.reduce((n, node) => n + node.heldHtlcs().length, 0);
        // Up to AUTO_FAIL_TAIL blocks short of the held parts' auto-fail height at once, then one block
        // every AUTO_FAIL_BLOCK_MS: lnmux sees the height come (a real chain gives it ~10 minutes a
        // block; a jump straight past the height within one commit would be no fair test).
        this.cluster.mine(AUTO_FAIL_BLOCKS - AUTO_FAIL_TAIL);
        for (let b = 0; b < AUTO_FAIL_TAIL; b++) {
          await sleep(AUTO_FAIL_BLOCK_MS);
          this.cluster.mine(1);
        }
        set(`mined ${AUTO_FAIL_BLOCKS} blocks (the last ${AUTO_FAIL_TAIL} ${AUTO_FAIL_BLOCK_MS} ms apart) with ${held} HTLC(s) held`);
        record.recoveryMs = await this.serviceBack(Date.now());
        return;
      }
      case 'restart-no-interceptor': {
        // The node holding parts now (sets incomplete), waiting up to 5 s for one; else a node drawn.
        await holdsWithin(() => this.cluster.nodes.some((n) => n.heldHtlcs().length > 0), { what: 'a node to hold a part', timeoutMs: 5000, intervalMs: 5 });
        const holding = this.cluster.nodes.flatMap((n, index) => (n.heldHtlcs().length > 0 ? [index] : []));
        const i = holding.length > 0 ? rng.pick(holding) : rng.int(this.cluster.nodes.length);
        const node = this.cluster.node(i);
        const downMs = Math.round(rng.between(300, 2000));
        // Stopped first: no decision reaches it any more. A part whose set is committed already would
        // be lost by any implementation (its SETTLE is on the way): then the node comes back with the
        // flag and the fault is skipped. Sets committed from here on with a part on this node, which
        // is down, are lnmux's responsibility (docs/architecture.md, invariant 7).
        await node.stop();
        // A commit already in flight lands, and lnmux sees the node gone (its parts unconfirmed: no set
        // with one is released any more), before the database is asked: a SETTLE released in that window
        // was on its way before the node went down, and no implementation could take it back.
        await sleep(STOP_GRACE_MS);
        const held = node.pendingHtlcs().filter((h) => h.state === 'intercept');
        const committed = await this.committedAmong(node.info.pubkey, held.map((h) => h.key)).catch(() => -1);
        if (committed !== 0) {
          set(`skipped: node-${i} held ${committed < 0 ? 'parts (database unreadable)' : `${committed} part(s) of committed sets`}`);
          await node.start();
          record.recoveryMs = await this.serviceBack(Date.now(), () => node.interceptorConnected);
          return;
        }
        set(`node-${i} with ${held.length} HTLC(s) held, ${downMs} ms without --requireinterceptor`);
        await node.restart({ requireInterceptor: false });
        await sleep(downMs);
        await node.restart({ requireInterceptor: true });
        record.recoveryMs = await this.serviceBack(Date.now(), () => node.interceptorConnected);
        return;
      }
    }
  }
}

async function createInvoices(mux: Mux, opts: Options, rng: Rng): Promise<ChaosInvoice[]> {
  const invoices: ChaosInvoice[] = new Array(opts.payments);
  const specs = Array.from({ length: opts.payments }, () => {
    const mpp = rng.next() < 0.8;
    return { parts: mpp ? 2 + rng.int(3) : 1, amountMsat: BigInt(10_000 + rng.int(2_000_000)) * 1000n };
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < specs.length) {
      const index = next++;
      const spec = specs[index]!;
      const created = await mux.createInvoice({ amountMsat: spec.amountMsat, description: `chaos ${index}`, expirySeconds: 7 * 24 * 3600 });
      invoices[index] = { index, paymentRequest: created.paymentRequest, hash: bytesToHex(created.paymentHash), amountMsat: spec.amountMsat, parts: spec.parts };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return invoices;
}

async function readDatabase(url: string): Promise<{ invoices: { hash: string; amountMsat: bigint; state: string; setId?: string }[]; htlcs: { node: string; chanId: bigint; htlcId: bigint; hash: string; setId: string; amountMsat: bigint; state: string }[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const inv = await client.query<{ hash: Buffer; amount_msat: string; state: string; set_id: Buffer | null }>('SELECT hash, amount_msat, state, set_id FROM lnmux.invoices');
    const htlcs = await client.query<{ node_pubkey: Buffer; chan_id: string; htlc_id: string; hash: Buffer; set_id: Buffer; amount_msat: string; state: string }>(
      'SELECT node_pubkey, chan_id, htlc_id, hash, set_id, amount_msat, state FROM lnmux.htlcs',
    );
    return {
      invoices: inv.rows.map((r) => ({ hash: r.hash.toString('hex'), amountMsat: BigInt(r.amount_msat), state: r.state, ...(r.set_id === null ? {} : { setId: r.set_id.toString('hex') }) })),
      htlcs: htlcs.rows.map((r) => ({
        node: r.node_pubkey.toString('hex'),
        chanId: BigInt.asUintN(64, BigInt(r.chan_id)),
        htlcId: BigInt.asUintN(64, BigInt(r.htlc_id)),
        hash: r.hash.toString('hex'),
        setId: r.set_id.toString('hex'),
        amountMsat: BigInt(r.amount_msat),
        state: r.state,
      })),
    };
  } finally {
    await client.end();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-');

function printTable(opts: Options, elapsedMs: number, records: readonly PaymentRecord[], chaos: Chaos, violations: readonly Violation[]): void {
  const out: string[] = [];
  const mpp = records.filter((r) => r.invoice.parts > 1);
  const ok = (rs: readonly PaymentRecord[]): number => rs.filter((r) => r.status === 'succeeded').length;
  const settledHtlcs = chaos.nodeHtlcs.filter((h) => h.settled).length;
  out.push(`lnmux chaos suite: seed ${opts.seed}, ${opts.payments} payments paced over ${opts.durationS} s, ${chaos.cluster.nodes.length} nodes, 2 lnmux, ${seconds(elapsedMs)} in all`);
  out.push('');
  out.push(`  payments        ${String(records.length).padStart(6)}   succeeded ${ok(records)}, failed ${records.filter((r) => r.status === 'failed').length}, unfinished ${records.filter((r) => r.status === 'pending').length}`);
  out.push(`  multi-part      ${String(mpp.length).padStart(6)}   succeeded ${ok(mpp)} (2-4 parts over distinct nodes, staggered)`);
  out.push(`  single-part     ${String(records.length - mpp.length).padStart(6)}   succeeded ${ok(records) - ok(mpp)}`);
  out.push(`  HTLCs at nodes  ${String(chaos.nodeHtlcs.length).padStart(6)}   settled ${settledHtlcs}, failed ${chaos.nodeHtlcs.length - settledHtlcs}`);
  out.push('');
  out.push('  fault                    count   recovery median        max   not recovered');
  for (const kind of FAULT_KINDS) {
    const fs = chaos.faults.filter((f) => f.kind === kind);
    if (!chaos.opts.faults.includes(kind) && fs.length === 0) continue;
    const rec = fs.map((f) => f.recoveryMs).filter((m): m is number => m !== undefined).sort((a, b) => a - b);
    out.push(`  ${kind.padEnd(24)} ${String(fs.length).padStart(5)}   ${seconds(quantile(rec, 0.5)).padStart(15)} ${seconds(rec.at(-1) ?? Number.NaN).padStart(10)}   ${fs.length - rec.length}`);
  }
  out.push(`  lnmux exits not caused by the suite: ${chaos.unplannedExits.length}${chaos.unplannedExits.length > 0 ? ` (${chaos.unplannedExits.join(', ')})` : ''}`);
  out.push('');
  const byKind = new Map<string, number>();
  for (const v of violations) byKind.set(v.kind, (byKind.get(v.kind) ?? 0) + 1);
  out.push(`  violations ${violations.length}${violations.length > 0 ? `: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}` : ''}`);
  for (const v of violations.slice(0, 20)) out.push(`    ${v.kind} ${v.hash.slice(0, 16)}: ${v.detail}`);
  if (violations.length > 20) out.push(`    … ${violations.length - 20} more`);
  if (chaos.memory.size > 0) {
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    out.push('');
    out.push('  memory (VmRSS)   samples   first (at)            min        max       last (at)');
    for (const [name, samples] of chaos.memory) {
      const rss = samples.map((s) => s.rss);
      const first = samples[0]!;
      const last = samples.at(-1)!;
      out.push(
        `  ${name.padEnd(14)} ${String(samples.length).padStart(9)}   ${`${mib(first.rss)} (${first.atS} s)`.padEnd(20)} ${mib(Math.min(...rss)).padStart(10)} ${mib(Math.max(...rss)).padStart(10)}   ${mib(last.rss)} (${last.atS} s)`,
      );
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const bin = findPostgresBin();
  if (bin === undefined) {
    const root = process.env.LNMUX_CHAOS_PG_ROOT ?? '/usr/lib/postgresql';
    process.stdout.write(`lnmux chaos suite: skipped: no PostgreSQL binaries (initdb, pg_ctl, postgres) under ${root}/<version>/bin\n`);
    return 0;
  }
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-chaos-'));
  chmodSync(dir, 0o755); // the postgres user must reach its data folder inside
  const rng = seededRng(opts.seed);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  let chaos: Chaos | undefined;
  let keepDir = true;
  // Interrupted or terminated: the private PostgreSQL and the lnmux children must not outlive the suite.
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  process.once('SIGTERM', () => {
    void cleanup().finally(() => process.exit(143));
  });
  try {
    const db = await PrivatePostgres.create(bin, join(dir, 'pg'));
    cleanups.push(() => db.destroy());
    const cluster = await startCluster({ nodes: 3, dir: join(dir, 'cluster'), seed: `chaos-${opts.seed}`, inboundMsat: 10n ** 15n });
    cleanups.push(() => cluster.stop());
    const nodeProxies: TcpProxy[] = [];
    for (const node of cluster.nodes) nodeProxies.push(await TcpProxy.start(node.port));
    const dbProxy = await TcpProxy.start(db.port);
    cleanups.push(async () => {
      for (const p of [...nodeProxies, dbProxy]) await p.stop();
    });
    const identityKey = bytesToHex(randomBytes(32));
    const base = {
      network: 'regtest' as const,
      identityKey,
      settlement: { mppTimeoutSeconds: MPP_TIMEOUT_SECONDS },
      lnd: { backoffInitialSeconds: 0.05, backoffMaxSeconds: 0.5 },
      logging: { level: 'info' as const },
      // Two lnmux processes on one machine: each its own free port.
      metrics: { listen: '127.0.0.1:0' },
    };
    const muxConfig: MuxConfigInput = {
      ...base,
      nodes: cluster.nodeInfos().map((n, i) => ({ pubkey: n.pubkey, address: (nodeProxies[i] as TcpProxy).address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
      database: { dsn: `postgres://postgres@127.0.0.1:${dbProxy.port}/postgres`, poolSize: 5, connectTimeoutSeconds: 2, statementTimeoutSeconds: 5 },
    };
    // This process creates the invoices (as a backend does through the library) on a direct connection.
    const invoiceMux = await Mux.open(
      { ...base, nodes: muxConfig.nodes, database: { dsn: db.url, poolSize: 4 } },
      { logger: pino({ level: 'silent' }), migrate: true },
    );
    cleanups.push(() => invoiceMux.stop());
    const invoices = await createInvoices(invoiceMux, opts, rng);
    const payer = new ChaosPayer(cluster, opts.seed, { maxAttempts: 16, deadlineMs: 60_000, maxStaggerMs: 1000 });
    chaos = new Chaos(opts, dir, cluster, db, nodeProxies, dbProxy, muxConfig, payer);
    const c = chaos;
    for (const [i, node] of cluster.nodes.entries()) {
      node.onHtlcResolved((r) => {
        c.nodeHtlcs.push({ node: cluster.nodeInfos()[i]!.pubkey, chanId: r.key.chanId, htlcId: r.key.htlcId, hash: bytesToHex(r.paymentHash), amountMsat: r.amountMsat, settled: r.settled });
      });
    }
    cleanups.push(async () => {
      for (const p of [...c.processes]) await p.stop();
    });
    const first = c.spawnLnmux();
    if (!(await holdsWithin(() => first.role === 'active', { what: `${first.name} to become active`, timeoutMs: 60_000, intervalMs: 25 }))) throw new Error(`${first.name} did not become active; see ${dir}/${first.name}.log`);
    const second = c.spawnLnmux();
    if (!(await holdsWithin(() => second.role === 'standby', { what: `${second.name} to stand by`, timeoutMs: 60_000, intervalMs: 25 }))) throw new Error(`${second.name} did not stand by; see ${dir}/${second.name}.log`);
    if (!(await holdsWithin(() => c.intercepting(), { what: 'lnmux to intercept on every node', timeoutMs: 30_000, intervalMs: 25 }))) throw new Error('lnmux does not intercept on every node');
    c.log.info({ event: 'ready', dir, invoices: invoices.length }, 'cluster, database and lnmux ready; paying');

    // Payments, paced over the duration, at most `concurrency` at once.
    const records: PaymentRecord[] = [];
    const t0 = Date.now();
    const interval = (opts.durationS * 1000) / opts.payments;
    let issued = 0;
    let inFlight = 0;
    const paying = (async () => {
      const running: Promise<void>[] = [];
      while (issued < invoices.length) {
        const due = t0 + issued * interval;
        if (Date.now() < due || inFlight >= opts.concurrency) {
          await sleep(Math.max(5, Math.min(50, due - Date.now())));
          continue;
        }
        const invoice = invoices[issued++]!;
        inFlight++;
        const record = payer.pay(invoice);
        running.push(
          record.then((r) => {
            inFlight--;
            records.push(r);
          }),
        );
      }
      await Promise.all(running);
    })();

    // Memory of the lnmux processes, sampled while payments are being issued (the soak's figure).
    const sampling =
      opts.sampleMemoryS > 0
        ? setInterval(() => c.sampleMemory(Math.round((Date.now() - t0) / 1000)), opts.sampleMemoryS * 1000)
        : undefined;
    cleanups.push(async () => clearInterval(sampling));
    if (sampling !== undefined) c.sampleMemory(0);

    // Faults, one after another, while payments are being issued.
    const faultRng = seededRng(`${opts.seed}:faults`);
    const faulting = (async () => {
      if (opts.faults.length === 0) {
        // No faults (a soak): the quiet period starts once the last payment is issued, as with faults.
        await waitUntil(() => issued >= invoices.length, { what: 'every payment issued', timeoutMs: opts.durationS * 1000 + QUIESCE_LIMIT_MS, intervalMs: 500 });
        return;
      }
      while (issued < invoices.length) {
        await sleep(faultRng.between(500, 3000));
        if (issued >= invoices.length) break;
        const kind = faultRng.pick(opts.faults);
        c.log.info({ event: 'fault', kind }, 'injecting');
        await c.inject(kind, faultRng);
        const last = c.faults.at(-1);
        c.log.info({ event: 'fault-done', kind, detail: last?.detail, recoveryMs: last?.recoveryMs }, 'fault over');
      }
    })();
    const progress = setInterval(() => {
      const ok = records.filter((r) => r.status === 'succeeded').length;
      c.log.info({ event: 'progress', issued, finished: records.length, succeeded: ok, faults: c.faults.length }, 'progress');
    }, 30_000);
    await faulting;
    c.quiescing = true;
    c.log.info({ event: 'quiesce' }, 'faults over; waiting for payments to finish');
    const finished = await Promise.race([paying.then(() => true), sleep(QUIESCE_LIMIT_MS).then(() => false)]);
    clearInterval(progress);
    if (!finished) c.log.error({ event: 'quiesce-timeout' }, 'payments still running');
    // Held HTLCs resolve, settled sets reach their final state in the database.
    await holdsWithin(async () => {
      if (cluster.nodes.some((n) => n.pendingHtlcs().length > 0)) return false;
      const state = await readDatabase(db.url).catch(() => undefined);
      return state !== undefined && !state.invoices.some((i) => i.state === 'settleCommitted') && !state.htlcs.some((h) => h.state === 'settleCommitted');
    }, { what: 'held HTLCs resolved and settled sets final in the database', timeoutMs: 60_000, intervalMs: 250 });

    const state = await readDatabase(db.url);
    const hashes = new Set(invoices.map((i) => i.hash));
    const pendingAtNodes = cluster.nodes.flatMap((n, i) =>
      n.pendingHtlcs().map((h) => ({ node: cluster.nodeInfos()[i]!.pubkey, chanId: h.key.chanId, htlcId: h.key.htlcId, hash: bytesToHex(h.paymentHash) })),
    );
    const byIndex = new Map(records.map((r) => [r.invoice.index, r]));
    const payments = invoices.map((inv) => ({ hash: inv.hash, status: byIndex.get(inv.index)?.status ?? ('pending' as const) }));
    const violations = checkRun({
      nodeHtlcs: c.nodeHtlcs.filter((h) => hashes.has(h.hash)),
      pendingAtNodes,
      dbInvoices: state.invoices.filter((i) => hashes.has(i.hash)),
      dbHtlcs: state.htlcs.filter((h) => hashes.has(h.hash)),
      payments,
    });
    const allRecords = invoices.map((inv) => byIndex.get(inv.index) ?? { invoice: inv, status: 'pending' as const, htlcs: 0, startedAt: 0 });
    printTable(opts, Date.now() - started, allRecords, c, violations);
    for (const v of violations) c.log.warn({ event: 'violation', ...v }, 'violation');
    keepDir = violations.length > 0 || opts.keep;
    if (keepDir) process.stdout.write(`  logs and data kept in ${dir}\n`);
    return violations.length > 0 ? 1 : 0;
  } finally {
    await cleanup();
    // Kept after a violation or an error (the lnmux logs are there), removed otherwise.
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
    else if (chaos === undefined) process.stderr.write(`lnmux chaos suite: logs kept in ${dir}\n`);
  }
}

const code = await main().catch((error: unknown) => {
  process.stderr.write(`lnmux chaos suite: error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 2;
});
process.exit(code);
