/**
 * Fail-over time (docs/architecture.md, invariant 6): how long after the leader's kill -9 a
 * standby intercepts on every node and the first payment settles.
 *
 * Processes: a simulated 3-node LND cluster with `--requireinterceptor` (bench/lib/failover-cluster.ts),
 * and lnmux instances (bench/lib/failover-lnmux.ts), each a child process with its own connection pool
 * and leadership session, on a database created for the run on the real PostgreSQL
 * (LNMUX_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; dropped at the end).
 * Default timings everywhere (leadership heartbeat 500 ms, session timeout 3 s; gateway backoff 1 s).
 *
 * Each round: a leader and a standby that is connected to every node; the standby creates an invoice;
 * the bench takes the time and sends SIGKILL to the leader; the cluster reports when every node has an
 * interceptor registered again and when the invoice's payment (retried every 2 ms, each attempt failed
 * by the nodes while no interceptor is registered) first settled; the standby reports when it took
 * the leadership. A fresh standby is started for the next round. Times are wall-clock ms, all processes
 * on this machine.
 *
 * `npx tsx bench/failover.bench.ts [kills=20] [kill|freeze]`
 *
 * `freeze` plays a vanished host instead: SIGSTOP (no FIN reaches the database, no heartbeat is sent),
 * so the leadership passes only when the server ends the silent session (idle_session_timeout, the
 * leadership's sessionTimeoutMs). The frozen process still holds its interceptor streams (the nodes'
 * TCP peers are alive), so once the standby has the leadership the bench kills the frozen process and
 * only the time to the leadership is meaningful in that mode.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrateUp } from '../src/store/index.js';
import type { FailoverClusterCommand, FailoverClusterReply } from './lib/failover-cluster.js';
import type { NodeFacts } from './lib/node-facts.js';
import type { FailoverLnmuxReport, FailoverLnmuxSpec } from './lib/failover-lnmux.js';

const here = dirname(fileURLToPath(import.meta.url));
const KILLS = Number(process.argv[2] ?? 20);
const MODE = process.argv[3] === 'freeze' ? 'freeze' : 'kill';
const BASE_URL = process.env.LNMUX_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const wallClock = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function admin<T extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ connectionString: BASE_URL });
  await client.connect();
  try {
    return await client.query<T>(sql);
  } finally {
    await client.end();
  }
}

class Cluster {
  readonly child: ChildProcess = fork(join(here, 'lib/failover-cluster.ts'), [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: 'inherit' });
  readonly #waiting: ((reply: FailoverClusterReply) => void)[] = [];
  constructor() {
    this.child.on('message', (reply: FailoverClusterReply) => this.#waiting.shift()?.(reply));
  }
  ask(command: FailoverClusterCommand): Promise<FailoverClusterReply> {
    return new Promise((resolve, reject) => {
      this.#waiting.push((reply) => (reply.kind === 'error' ? reject(new Error(`cluster: ${reply.message}`)) : resolve(reply)));
      this.child.send(command);
    });
  }
}

class Instance {
  readonly reports: FailoverLnmuxReport[] = [];
  readonly child: ChildProcess;
  readonly #listeners = new Set<() => void>();
  constructor(readonly name: string, spec: FailoverLnmuxSpec) {
    this.child = fork(join(here, 'lib/failover-lnmux.ts'), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: 'inherit',
      env: { ...process.env, LNMUX_FAILOVER_SPEC: JSON.stringify(spec) },
    });
    this.child.on('message', (report: FailoverLnmuxReport) => {
      this.reports.push(report);
      for (const l of [...this.#listeners]) l();
    });
  }
  /** The first report (past or future) matching `match`. */
  when<R extends FailoverLnmuxReport>(match: (r: FailoverLnmuxReport) => r is R, what: string, timeoutMs = 60_000): Promise<R> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        const found = this.reports.find(match);
        if (found === undefined) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(found);
      };
      this.#listeners.add(check);
      check();
    });
  }
  role(role: 'active' | 'standby'): Promise<Extract<FailoverLnmuxReport, { kind: 'role' }>> {
    return this.when((r): r is Extract<FailoverLnmuxReport, { kind: 'role' }> => r.kind === 'role' && r.role === role, `role ${role}`);
  }
  async connected(nodes: number): Promise<void> {
    await this.when((r): r is FailoverLnmuxReport => r.kind === 'ready' && r.nodes === nodes, `${nodes} nodes ready`);
  }
  async invoice(amountMsat: bigint): Promise<string> {
    const before = this.reports.length;
    this.child.send({ kind: 'invoice', amountMsat });
    const found = await this.when(
      (r): r is Extract<FailoverLnmuxReport, { kind: 'invoice' }> => r.kind === 'invoice' && this.reports.indexOf(r) >= before,
      'invoice',
    );
    return found.paymentRequest;
  }
  kill(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    return exited;
  }
}

function stats(values: readonly number[]): { median: number; p90: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const median = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return { median, p90: at(0.9), min: sorted[0]!, max: sorted.at(-1)! };
}

const dbName = `lnmux_bench_failover_${process.pid}_${randomBytes(3).toString('hex')}`;
await admin(`CREATE DATABASE ${dbName}`);
const databaseUrl = (() => {
  const url = new URL(BASE_URL);
  url.pathname = `/${dbName}`;
  return url.href;
})();
const cluster = new Cluster();
const instances: Instance[] = [];
try {
  await migrateUp({ databaseUrl, onWarning: () => {} });
  const started = await cluster.ask({ kind: 'start', nodes: 3 });
  if (started.kind !== 'started') throw new Error(`cluster: ${started.kind}`);
  const nodes: readonly NodeFacts[] = started.nodes;
  const config = {
    network: 'regtest' as const,
    identityKey: randomBytes(32).toString('hex'),
    nodes: nodes.map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
    logging: { level: 'error' as const },
  };
  let next = 0;
  const spawn = (): Instance => {
    const instance = new Instance(`lnmux-${next}`, { config, databaseUrl, instanceId: `bench-${process.pid}-${next++}` });
    instances.push(instance);
    return instance;
  };

  let leader = spawn();
  await leader.role('active');
  await leader.connected(nodes.length);
  let standby = spawn();
  await standby.role('standby');
  await standby.connected(nodes.length);

  const rows: { active: number; intercepting: number; settled: number; attempts: number }[] = [];
  for (let k = 1; k <= KILLS; k++) {
    const paymentRequest = await standby.invoice(1_000_000n + BigInt(k));
    await sleep(500); // let the standby settle into its wait on the lock
    const killedAt = wallClock();
    let killed: Promise<void>;
    if (MODE === 'freeze') {
      leader.child.kill('SIGSTOP');
      await standby.role('active');
      killed = leader.kill();
    } else {
      killed = leader.kill();
    }
    const outcome = await cluster.ask({ kind: 'failover', since: killedAt, paymentRequest, timeoutMs: 120_000 });
    await killed;
    if (outcome.kind !== 'failedOver') throw new Error(`cluster: ${outcome.kind}`);
    const active = await standby.role('active');
    const row = {
      active: active.at - killedAt,
      intercepting: outcome.registeredAt - killedAt,
      settled: outcome.settledAt - killedAt,
      attempts: outcome.attempts,
    };
    rows.push(row);
    console.log(
      `kill ${String(k).padStart(2)}: leadership taken ${row.active.toFixed(1)} ms, all nodes intercepting ${row.intercepting.toFixed(1)} ms, first payment settled ${row.settled.toFixed(1)} ms (${row.attempts} attempts)`,
    );
    leader = standby;
    standby = spawn();
    await standby.role('standby');
    await standby.connected(nodes.length);
  }

  const version = (await admin<{ version: string }>('SELECT version()')).rows[0]!.version;
  const what = MODE === 'freeze' ? 'SIGSTOP of the leader (a vanished host; then SIGKILL once the standby leads)' : 'kill -9 of the leader';
  console.log(`\nfail-over after ${what}, ${rows.length} rounds (ms): median / p90 / min / max`);
  for (const key of ['active', 'intercepting', 'settled'] as const) {
    const s = stats(rows.map((r) => r[key]));
    console.log(`  ${key.padEnd(13)} ${s.median.toFixed(1)} / ${s.p90.toFixed(1)} / ${s.min.toFixed(1)} / ${s.max.toFixed(1)}`);
  }
  console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${version.split(' on ')[0]}`);
} finally {
  await Promise.all(instances.map((i) => (i.child.exitCode === null && i.child.signalCode === null ? i.kill() : undefined)));
  await cluster.ask({ kind: 'stop' }).catch(() => undefined);
  if (cluster.child.connected) cluster.child.disconnect();
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
}
