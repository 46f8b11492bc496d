/**
 * The simulated side of the end-to-end benchmark, in a process of its own (forked by
 * bench/e2e.bench.ts with IPC, `serialization: 'advanced'`): a 3-node simulated LND cluster and a payer
 * whose payments are built before the timed window (prebuilt-payment.ts). Keeping it out of the
 * measured process lets the parent charge its own CPU time to whatever interceptor it runs (lnmux, or
 * the trivial baseline).
 *
 * The nodes run on this process's main thread with the payer (`threads` 0 in 'start'), or in
 * `threads` worker threads (bench/lib/sim-node-thread.ts), the cluster split between them with one
 * seed: then each node's work per HTLC (its onion peel, gRPC, TLS) runs on a core of its own and the
 * main thread only schedules the payer's HTLCs and collects their outcomes. This process's CPU time
 * (process.cpuUsage) counts every thread.
 *
 * Times at the nodes are taken by bench/lib/timed-node.ts (the interceptable switch's `forward` and
 * `resolve`, wrapped), as epoch milliseconds. Nothing of this is in src/.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { decodeInvoice } from '../../src/protocol/index.js';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import type { HtlcOffer } from '../../src/sim/htlc.js';
import { prebuildPayment, type PrebuiltPayment } from './prebuilt-payment.js';
import { nodeFacts, type NodeFacts } from './node-facts.js';
import type { NodeThreadCommand, NodeThreadData, NodeThreadReply } from './sim-node-thread.js';
import { addTimed, epochMs, instrumentSwitch, offeredCount, type PartOutcome } from './timed-node.js';

/** Parent -> child. */
export type ClusterCommand =
  /**
   * `threads`: 0 runs the nodes on the main thread with the payer, else in that many worker threads.
   * `knownSecrets`: hand each node the shared secret of the onions it receives (the payer computed it
   * building them), so that the nodes' peel skips its ECDH (src/sim/known-secrets.ts).
   */
  | { readonly kind: 'start'; readonly nodes: number; readonly threads: number; readonly knownSecrets: boolean }
  | { readonly kind: 'interceptors' }
  /** Decode the invoices and build their onions (not timed); queued for the next runs, in order. */
  | { readonly kind: 'prepare'; readonly requests: readonly string[]; readonly parts: number; readonly sendMsat?: bigint }
  /** Send `count` queued payments keeping `inFlight` unsettled at most; reply when all are resolved. */
  | { readonly kind: 'closed'; readonly count: number; readonly inFlight: number }
  /** Send `count` queued payments at `perSecond` (all parts of a payment at once), whatever the answers. */
  | { readonly kind: 'open'; readonly count: number; readonly perSecond: number }
  /** Add the parts of `count` queued payments and reply once every part was offered to the interceptor. */
  | { readonly kind: 'offer'; readonly count: number }
  | { readonly kind: 'stop' };

export interface RunResult {
  readonly kind: 'result';
  readonly payments: number;
  readonly settled: number;
  readonly failed: number;
  /** First HTLC added to the last payment settled at the payer, ms. */
  readonly elapsedMs: number;
  /** This process's CPU time over the run, ms. */
  readonly cpuMs: number;
  /** Per settled payment: last part offered to the interceptor -> last SETTLE applied at its node, ms. */
  readonly nodeLatencyMs: readonly number[];
  /** Per settled payment: first part added by the payer -> every part fulfilled back to the payer, ms. */
  readonly payLatencyMs: readonly number[];
  readonly firstFailure?: string;
}

/** Child -> parent. */
export type ClusterReply =
  | { readonly kind: 'started'; readonly nodes: readonly NodeFacts[] }
  | { readonly kind: 'interceptors'; readonly connected: boolean }
  | { readonly kind: 'prepared'; readonly payments: number; readonly ms: number }
  | { readonly kind: 'offered'; readonly parts: number }
  | RunResult
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'stopped' };

/** Where the nodes run: their facts in cluster order, and the payer's way to add an HTLC on one. */
interface NodeHost {
  readonly nodes: readonly NodeFacts[];
  /** The chain height the cluster started at (no block is mined while benchmarking). */
  readonly height: number;
  /** `sharedSecret`: handed to the node with the HTLC (src/sim/known-secrets.ts). */
  add(node: number, offer: HtlcOffer, sharedSecret?: Uint8Array): Promise<PartOutcome>;
  interceptorsConnected(): Promise<boolean>;
  /** HTLCs offered to an interceptor so far, over all nodes. */
  offered(): Promise<number>;
  stop(): Promise<void>;
}

/** The nodes on this thread, with the payer. */
class InProcessHost implements NodeHost {
  readonly #cluster: SimCluster;
  readonly nodes: readonly NodeFacts[];
  readonly height: number;

  constructor(cluster: SimCluster) {
    this.#cluster = cluster;
    this.nodes = cluster.nodeInfos().map(nodeFacts);
    this.height = cluster.chain.height;
  }

  static async start(nodes: number): Promise<InProcessHost> {
    instrumentSwitch();
    return new InProcessHost(await startCluster({ nodes }));
  }

  add(node: number, offer: HtlcOffer, sharedSecret?: Uint8Array): Promise<PartOutcome> {
    return addTimed(this.#cluster, node, offer, sharedSecret);
  }

  interceptorsConnected(): Promise<boolean> {
    return Promise.resolve(this.#cluster.nodes.every((n) => n.interceptorConnected));
  }

  offered(): Promise<number> {
    return Promise.resolve(offeredCount());
  }

  stop(): Promise<void> {
    return this.#cluster.stop();
  }
}

/** One worker thread running some of the nodes. */
class NodeThread {
  readonly worker: Worker;
  readonly #pending = new Map<number, (outcome: PartOutcome) => void>();
  /** Waiters for the replies that are not 'resolved', in the order asked (the thread answers in order). */
  readonly #waiting: ((reply: NodeThreadReply) => void)[] = [];
  #nextId = 0;

  constructor(data: NodeThreadData) {
    // A worker thread does not inherit the --import tsx of its process: it registers tsx itself, then
    // loads the TypeScript module.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = import.meta.resolve('./sim-node-thread.ts');
    const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
    this.worker = new Worker(boot, { eval: true, workerData: data });
    this.worker.on('message', (reply: NodeThreadReply) => {
      if (reply.kind === 'resolved') {
        const { kind: _kind, id, ...outcome } = reply;
        this.#pending.get(id)?.(outcome);
        this.#pending.delete(id);
      } else {
        this.#waiting.shift()?.(reply);
      }
    });
  }

  /** The next reply that is not 'resolved' ('started' first). */
  next(): Promise<NodeThreadReply> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  ask(command: NodeThreadCommand): Promise<NodeThreadReply> {
    const reply = this.next();
    this.worker.postMessage(command);
    return reply;
  }

  add(node: number, offer: HtlcOffer, sharedSecret?: Uint8Array): Promise<PartOutcome> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.worker.postMessage({ kind: 'add', id, node, offer, ...(sharedSecret !== undefined ? { sharedSecret } : {}) } satisfies NodeThreadCommand);
    });
  }
}

/** Where a node of the cluster runs: its thread and its index there. */
interface NodePlace {
  readonly thread: NodeThread;
  readonly local: number;
}

/** The nodes split over worker threads (contiguous ranges of node indices), one seed. */
class ThreadedHost implements NodeHost {
  readonly #threads: readonly NodeThread[];
  /** For each node of the cluster, in order. */
  readonly #where: readonly NodePlace[];
  readonly nodes: readonly NodeFacts[];
  readonly height: number;

  private constructor(threads: readonly NodeThread[], where: readonly NodePlace[], nodes: readonly NodeFacts[]) {
    this.#threads = threads;
    this.#where = where;
    this.nodes = nodes;
    // startCluster's default start height; every thread's chain is at it (nothing is mined here).
    this.height = 1_000;
  }

  static async start(nodes: number, threads: number): Promise<ThreadedHost> {
    const count = Math.min(threads, nodes);
    const seed = `lnmux-e2e-${randomBytes(8).toString('hex')}`;
    const started: NodeThread[] = [];
    const where: NodePlace[] = [];
    const facts: NodeFacts[] = [];
    let first = 0;
    for (let t = 0; t < count; t++) {
      const size = Math.floor(nodes / count) + (t < nodes % count ? 1 : 0);
      const thread = new NodeThread({ nodes: size, firstNodeIndex: first, seed });
      const reply = await thread.next();
      if (reply.kind !== 'started') throw new Error(`node thread ${t} did not start: ${reply.kind}`);
      started.push(thread);
      reply.nodes.forEach((n: NodeFacts, local) => {
        where.push({ thread, local });
        facts.push(n);
      });
      first += size;
    }
    return new ThreadedHost(started, where, facts);
  }

  add(node: number, offer: HtlcOffer, sharedSecret?: Uint8Array): Promise<PartOutcome> {
    const at = this.#where[node];
    if (at === undefined) throw new RangeError(`no node ${node}`);
    return at.thread.add(at.local, offer, sharedSecret);
  }

  async interceptorsConnected(): Promise<boolean> {
    const replies = await Promise.all(this.#threads.map((t) => t.ask({ kind: 'interceptors' })));
    return replies.every((r) => r.kind === 'interceptors' && r.connected);
  }

  async offered(): Promise<number> {
    const replies = await Promise.all(this.#threads.map((t) => t.ask({ kind: 'offered' })));
    return replies.reduce((sum, r) => sum + (r.kind === 'offered' ? r.count : 0), 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.ask({ kind: 'stop' })));
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
  }
}

let host: NodeHost | undefined;
let knownSecrets = false;
const queue: PrebuiltPayment[] = [];

function reply(message: ClusterReply): void {
  process.send!(message);
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Adds every part of `payment`; resolves with the parts' outcomes once all are resolved. */
function send(h: NodeHost, payment: PrebuiltPayment): Promise<PartOutcome[]> {
  return Promise.all(payment.parts.map((part) => h.add(part.node, part.offer, knownSecrets ? part.firstHopSecret : undefined)));
}

/** Runs `count` queued payments, started by `schedule`; collects the figures. */
async function run(h: NodeHost, count: number, schedule: (start: (i: number) => Promise<void>) => Promise<void>): Promise<RunResult> {
  if (queue.length < count) throw new Error(`only ${queue.length} payments prepared, ${count} asked`);
  const payments = queue.splice(0, count);
  const nodeLatencyMs: number[] = [];
  const payLatencyMs: number[] = [];
  let settled = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  let lastDone = 0;
  const cpu = process.cpuUsage();
  const t0 = epochMs();
  await schedule(async (i) => {
    const added = epochMs();
    const outcomes = await send(h, payments[i]!);
    const done = epochMs();
    lastDone = Math.max(lastDone, done);
    const bad = outcomes.find((o) => o.outcome !== 'fulfill');
    if (bad !== undefined) {
      failed++;
      firstFailure ??= bad.outcome;
      return;
    }
    settled++;
    payLatencyMs.push(done - added);
    let offered = 0;
    let settledAtNode = 0;
    for (const o of outcomes) {
      offered = Math.max(offered, o.offeredAt ?? Number.NaN);
      settledAtNode = Math.max(settledAtNode, o.settledAt ?? Number.NaN);
    }
    if (Number.isFinite(offered) && Number.isFinite(settledAtNode)) nodeLatencyMs.push(settledAtNode - offered);
  });
  return {
    kind: 'result',
    payments: count,
    settled,
    failed,
    elapsedMs: lastDone - t0,
    cpuMs: cpuMs(cpu),
    nodeLatencyMs,
    payLatencyMs,
    ...(firstFailure !== undefined ? { firstFailure } : {}),
  };
}

async function handle(command: ClusterCommand): Promise<void> {
  switch (command.kind) {
    case 'start': {
      knownSecrets = command.knownSecrets;
      host = command.threads > 0 ? await ThreadedHost.start(command.nodes, command.threads) : await InProcessHost.start(command.nodes);
      reply({ kind: 'started', nodes: host.nodes });
      return;
    }
    case 'interceptors':
      reply({ kind: 'interceptors', connected: await host!.interceptorsConnected() });
      return;
    case 'prepare': {
      const h = host!;
      const t0 = epochMs();
      const nodePubkeys = h.nodes.map((n) => n.pubkey);
      command.requests.forEach((request, i) => {
        const decoded = decodeInvoice(request);
        if (!decoded.ok) throw new Error(`invoice does not decode: ${JSON.stringify(decoded.error)}`);
        queue.push(
          prebuildPayment(decoded.value, {
            parts: command.parts,
            firstNode: i % nodePubkeys.length,
            nodePubkeys,
            height: h.height,
            ...(command.sendMsat !== undefined ? { sendMsat: command.sendMsat } : {}),
          }),
        );
      });
      reply({ kind: 'prepared', payments: command.requests.length, ms: epochMs() - t0 });
      return;
    }
    case 'closed': {
      const h = host!;
      const result = await run(h, command.count, async (start) => {
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < command.count) await start(next++);
        };
        await Promise.all(Array.from({ length: Math.min(command.inFlight, command.count) }, worker));
      });
      reply(result);
      return;
    }
    case 'open': {
      const h = host!;
      const intervalMs = 1000 / command.perSecond;
      const result = await run(h, command.count, (start) => {
        const all: Promise<void>[] = [];
        const t0 = epochMs();
        let next = 0;
        return new Promise<void>((resolve) => {
          const tick = (): void => {
            const now = epochMs();
            while (next < command.count && t0 + next * intervalMs <= now) all.push(start(next++));
            if (next < command.count) setTimeout(tick, Math.max(0, t0 + next * intervalMs - epochMs()));
            else void Promise.all(all).then(() => resolve());
          };
          tick();
        });
      });
      reply(result);
      return;
    }
    case 'offer': {
      const h = host!;
      const payments = queue.splice(0, command.count);
      const parts = payments.reduce((n, p) => n + p.parts.length, 0);
      const target = (await h.offered()) + parts;
      // Held by the interceptor, these resolve only when their node stops; one refused by its node
      // (resolved without being offered) would never be offered: an error.
      let refused: string | undefined;
      for (const payment of payments) {
        for (const part of payment.parts) {
          void h.add(part.node, part.offer, knownSecrets ? part.firstHopSecret : undefined).then((o) => {
            if (o.offeredAt === undefined) refused ??= o.outcome;
          });
        }
      }
      while ((await h.offered()) < target) {
        if (refused !== undefined) throw new Error(`HTLC not offered to the interceptor: ${refused}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      reply({ kind: 'offered', parts });
      return;
    }
    case 'stop':
      await host?.stop();
      host = undefined;
      reply({ kind: 'stopped' }); // the parent then disconnects, and this process exits
      return;
  }
}

// The parent disconnected: after 'stop', or because it crashed or was killed. Stop with it.
process.on('disconnect', () => {
  void (host?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});

// Commands are handled one at a time, in order.
let chain = Promise.resolve();
process.on('message', (command: ClusterCommand) => {
  chain = chain.then(() =>
    handle(command).catch((error: unknown) => reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })),
  );
});
