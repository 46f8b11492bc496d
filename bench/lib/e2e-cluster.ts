/**
 * The simulated side of the end-to-end benchmark, in a process of its own (forked by
 * bench/e2e.bench.ts with IPC, `serialization: 'advanced'`): a 3-node simulated LND cluster and a payer
 * whose payments are built before the timed window (prebuilt-payment.ts). Keeping it out of the
 * measured process lets the parent charge its own CPU time to whatever interceptor it runs (lnmux, or
 * the trivial baseline).
 *
 * Timestamps are taken here, at the simulated nodes, by wrapping the interceptable switch's `forward`
 * (the HTLC is offered to the interceptor: the request is written to the stream) and `resolve` (the
 * interceptor's SETTLE has arrived and is applied). Nothing of this is in src/.
 */
import { performance } from 'node:perf_hooks';
import { decodeInvoice, type NodeCircuitKey } from '../../src/protocol/index.js';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import { InterceptableSwitch, type FwdResolution, type InterceptedForward } from '../../src/sim/interceptable-switch.js';
import { prebuildPayment, type PrebuiltPayment } from './prebuilt-payment.js';

/** Parent -> child. */
export type ClusterCommand =
  | { readonly kind: 'start'; readonly nodes: number }
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

export interface NodeFacts {
  readonly pubkey: string;
  readonly address: string;
  readonly certPath: string;
  readonly macaroonPath: string;
  readonly macaroonHex: string;
}

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

const keyOf = (key: NodeCircuitKey): string => `${key.chanId}:${key.htlcId}`;

/** Times at the nodes, by circuit key (payer channel ids differ per node, so keys are cluster-wide). */
const offeredAt = new Map<string, number>();
const settleAt = new Map<string, number>();
let offeredCount = 0;

function instrumentSwitch(): void {
  const proto = InterceptableSwitch.prototype;
  const forward = proto.forward;
  proto.forward = function (this: InterceptableSwitch, f: InterceptedForward, isReplay: boolean): boolean {
    if (this.hasInterceptor) {
      offeredAt.set(keyOf(f.key), performance.now());
      offeredCount++;
    }
    return forward.call(this, f, isReplay);
  };
  const resolve = proto.resolve;
  proto.resolve = function (this: InterceptableSwitch, key: NodeCircuitKey, resolution: FwdResolution): string | undefined {
    const error = resolve.call(this, key, resolution);
    if (error === undefined && resolution.action === 'settle') settleAt.set(keyOf(key), performance.now());
    return error;
  };
}

let cluster: SimCluster | undefined;
const queue: PrebuiltPayment[] = [];

function reply(message: ClusterReply): void {
  process.send!(message);
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Adds every part of `payment`; resolves true when all parts were fulfilled. */
function send(c: SimCluster, payment: PrebuiltPayment, keys: string[]): Promise<{ ok: boolean; why?: string }> {
  const resolutions = payment.parts.map((part) => {
    const chanId = c.payerChannelId(part.node);
    const added = c.node(part.node).addHtlc(chanId, part.offer);
    if (!added.ok) return Promise.resolve({ kind: 'refused', why: added.refusal });
    keys.push(keyOf({ chanId, htlcId: added.htlcId }));
    return added.resolution.then((r) => ({ kind: r.kind, why: r.kind }));
  });
  return Promise.all(resolutions).then((outcomes) => {
    const bad = outcomes.find((o) => o.kind !== 'fulfill');
    return bad === undefined ? { ok: true } : { ok: false, why: bad.why };
  });
}

/** Runs `count` queued payments, started by `schedule`; collects the figures. */
async function run(c: SimCluster, count: number, schedule: (start: (i: number) => Promise<void>) => Promise<void>): Promise<RunResult> {
  if (queue.length < count) throw new Error(`only ${queue.length} payments prepared, ${count} asked`);
  const payments = queue.splice(0, count);
  const nodeLatencyMs: number[] = [];
  const payLatencyMs: number[] = [];
  let settled = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  let lastDone = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await schedule(async (i) => {
    const keys: string[] = [];
    const added = performance.now();
    const outcome = await send(c, payments[i]!, keys);
    const done = performance.now();
    lastDone = Math.max(lastDone, done);
    if (!outcome.ok) {
      failed++;
      firstFailure ??= outcome.why;
      return;
    }
    settled++;
    payLatencyMs.push(done - added);
    let offered = 0;
    let settledAtNode = 0;
    for (const key of keys) {
      offered = Math.max(offered, offeredAt.get(key) ?? Number.NaN);
      settledAtNode = Math.max(settledAtNode, settleAt.get(key) ?? Number.NaN);
      offeredAt.delete(key);
      settleAt.delete(key);
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
      instrumentSwitch();
      cluster = await startCluster({ nodes: command.nodes });
      reply({
        kind: 'started',
        nodes: cluster.nodeInfos().map((n) => ({ pubkey: n.pubkey, address: n.address, certPath: n.certPath, macaroonPath: n.macaroonPath, macaroonHex: n.macaroonHex })),
      });
      return;
    }
    case 'interceptors':
      reply({ kind: 'interceptors', connected: cluster!.nodes.every((n) => n.interceptorConnected) });
      return;
    case 'prepare': {
      const c = cluster!;
      const t0 = performance.now();
      const nodePubkeys = c.nodeInfos().map((n) => n.pubkey);
      command.requests.forEach((request, i) => {
        const decoded = decodeInvoice(request);
        if (!decoded.ok) throw new Error(`invoice does not decode: ${JSON.stringify(decoded.error)}`);
        queue.push(
          prebuildPayment(decoded.value, {
            parts: command.parts,
            firstNode: i % nodePubkeys.length,
            nodePubkeys,
            height: c.chain.height,
            ...(command.sendMsat !== undefined ? { sendMsat: command.sendMsat } : {}),
          }),
        );
      });
      reply({ kind: 'prepared', payments: command.requests.length, ms: performance.now() - t0 });
      return;
    }
    case 'closed': {
      const c = cluster!;
      const result = await run(c, command.count, async (start) => {
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
      const c = cluster!;
      const intervalMs = 1000 / command.perSecond;
      const result = await run(c, command.count, (start) => {
        const all: Promise<void>[] = [];
        const t0 = performance.now();
        let next = 0;
        return new Promise<void>((resolve) => {
          const tick = (): void => {
            const now = performance.now();
            while (next < command.count && t0 + next * intervalMs <= now) all.push(start(next++));
            if (next < command.count) setTimeout(tick, Math.max(0, t0 + next * intervalMs - performance.now()));
            else void Promise.all(all).then(() => resolve());
          };
          tick();
        });
      });
      reply(result);
      return;
    }
    case 'offer': {
      const c = cluster!;
      const payments = queue.splice(0, command.count);
      const target = offeredCount + payments.reduce((n, p) => n + p.parts.length, 0);
      for (const payment of payments) {
        for (const part of payment.parts) {
          const added = c.node(part.node).addHtlc(c.payerChannelId(part.node), part.offer);
          if (!added.ok) throw new Error(`HTLC refused: ${added.refusal}`);
        }
      }
      while (offeredCount < target) await new Promise((r) => setTimeout(r, 5));
      offeredAt.clear();
      reply({ kind: 'offered', parts: payments.reduce((n, p) => n + p.parts.length, 0) });
      return;
    }
    case 'stop':
      await cluster?.stop();
      cluster = undefined;
      reply({ kind: 'stopped' }); // the parent then disconnects, and this process exits
      return;
  }
}

// The parent disconnected: after 'stop', or because it crashed or was killed. Stop with it.
process.on('disconnect', () => {
  void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});

// Commands are handled one at a time, in order.
let chain = Promise.resolve();
process.on('message', (command: ClusterCommand) => {
  chain = chain.then(() =>
    handle(command).catch((error: unknown) => reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })),
  );
});
