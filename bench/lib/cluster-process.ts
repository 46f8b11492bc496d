/**
 * The parent's handle on bench/lib/e2e-cluster.ts: forks it (IPC with structured clone, so bigints and
 * byte arrays pass as they are) and sends it one command at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterCommand, ClusterReply, RunResult } from './e2e-cluster.js';
import type { NodeFacts } from './node-facts.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'e2e-cluster.ts');

export class ClusterProcess {
  readonly #child: ChildProcess;
  readonly #waiting: ((reply: ClusterReply) => void)[] = [];
  nodes: readonly NodeFacts[] = [];

  private constructor() {
    // E2E_PROFILE: the simulator's own CPU profiles too (a file per thread, its whole life), to see what
    // bounds the harness.
    const profile = process.env['E2E_PROFILE'];
    const execArgv = ['--import', 'tsx', ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profile, 'simulator')}`])];
    this.#child = fork(CHILD, [], { execArgv, serialization: 'advanced', stdio: 'inherit' });
    this.#child.on('message', (reply: ClusterReply) => this.#waiting.shift()?.(reply));
  }

  /**
   * Forks the child and starts a cluster of `nodes` simulated LND nodes in it: on its main thread with
   * the payer (`threads` 0), or split over `threads` worker threads; `knownSecrets`: the nodes get the
   * onions' shared secrets from the payer and skip their ECDH (bench/lib/e2e-cluster.ts).
   */
  static async start(nodes: number, threads = 0, knownSecrets = false): Promise<ClusterProcess> {
    const process = new ClusterProcess();
    const started = await process.#ask({ kind: 'start', nodes, threads, knownSecrets });
    if (started.kind !== 'started') throw new Error(`cluster did not start: ${JSON.stringify(started)}`);
    process.nodes = started.nodes;
    return process;
  }

  #ask(command: ClusterCommand): Promise<ClusterReply> {
    return new Promise((resolve, reject) => {
      this.#waiting.push((reply) => (reply.kind === 'error' ? reject(new Error(`cluster process: ${reply.message}`)) : resolve(reply)));
      this.#child.send(command);
    });
  }

  /** Resolves once every node has an interceptor connected. */
  async waitForInterceptors(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = await this.#ask({ kind: 'interceptors' });
      if (reply.kind === 'interceptors' && reply.connected) return;
      if (Date.now() > deadline) throw new Error('interceptors did not connect');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Builds the onions of these invoices' payments (queued, used by the next runs in order); ms taken. */
  async prepare(requests: readonly string[], parts: number, sendMsat?: bigint): Promise<number> {
    const reply = await this.#ask({ kind: 'prepare', requests, parts, ...(sendMsat !== undefined ? { sendMsat } : {}) });
    if (reply.kind !== 'prepared') throw new Error(`unexpected ${reply.kind}`);
    return reply.ms;
  }

  async closedLoop(count: number, inFlight: number): Promise<RunResult> {
    return this.#result(await this.#ask({ kind: 'closed', count, inFlight }));
  }

  async openLoop(count: number, perSecond: number): Promise<RunResult> {
    return this.#result(await this.#ask({ kind: 'open', count, perSecond }));
  }

  /** Adds the parts of `count` prepared payments; resolves once all were offered to the interceptor. */
  async offer(count: number): Promise<number> {
    const reply = await this.#ask({ kind: 'offer', count });
    if (reply.kind !== 'offered') throw new Error(`unexpected ${reply.kind}`);
    return reply.parts;
  }

  async stop(): Promise<void> {
    await this.#ask({ kind: 'stop' }).catch(() => undefined);
    const exited = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null) return resolve();
      this.#child.once('exit', () => resolve());
    });
    if (this.#child.connected) this.#child.disconnect();
    await exited;
  }

  #result(reply: ClusterReply): RunResult {
    if (reply.kind !== 'result') throw new Error(`unexpected ${reply.kind}`);
    return reply;
  }
}
