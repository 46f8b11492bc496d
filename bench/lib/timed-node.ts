/**
 * Adding one payer HTLC to a simulated node and timing it at the node, for the end-to-end benchmark's
 * simulator (bench/lib/e2e-cluster.ts, and its node threads, bench/lib/sim-node-thread.ts).
 *
 * Times are taken by wrapping the interceptable switch's `forward` (the HTLC is offered to the
 * interceptor: the request is written to the stream) and `resolve` (the interceptor's SETTLE has
 * arrived and is applied); nothing of this is in src/. They are epoch milliseconds
 * (performance.timeOrigin + now()), so that times taken in different threads compare.
 */
import { performance } from 'node:perf_hooks';
import type { NodeCircuitKey } from '../../src/protocol/index.js';
import type { SimCluster } from '../../src/sim/cluster.js';
import type { HtlcOffer } from '../../src/sim/htlc.js';
import { InterceptableSwitch, type FwdResolution, type InterceptedForward } from '../../src/sim/interceptable-switch.js';

/** How one part ended at its node, with its times there (epoch ms) when they happened. */
export interface PartOutcome {
  /** 'fulfill', 'fail', ... (the resolution's kind), or the AddRefusal when the node refused it. */
  readonly outcome: string;
  /** Offered to the interceptor. */
  readonly offeredAt?: number;
  /** The interceptor's SETTLE applied at the node. */
  readonly settledAt?: number;
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

const keyOf = (key: NodeCircuitKey): string => `${key.chanId}:${key.htlcId}`;
const offeredAt = new Map<string, number>();
const settledAt = new Map<string, number>();
let offered = 0;
let instrumented = false;

/** HTLCs offered to an interceptor in this thread so far. */
export function offeredCount(): number {
  return offered;
}

/** Wraps the switch's prototype (once per thread) to record the times at the nodes. */
export function instrumentSwitch(): void {
  if (instrumented) return;
  instrumented = true;
  const proto = InterceptableSwitch.prototype;
  const forward = proto.forward;
  proto.forward = function (this: InterceptableSwitch, f: InterceptedForward, isReplay: boolean): boolean {
    if (this.hasInterceptor) {
      offeredAt.set(keyOf(f.key), epochMs());
      offered++;
    }
    return forward.call(this, f, isReplay);
  };
  const resolve = proto.resolve;
  proto.resolve = function (this: InterceptableSwitch, key: NodeCircuitKey, resolution: FwdResolution): string | undefined {
    const error = resolve.call(this, key, resolution);
    if (error === undefined && resolution.action === 'settle') settledAt.set(keyOf(key), epochMs());
    return error;
  };
}

/**
 * Adds `offer` from the payer on `cluster`'s node `node` (the cluster's own index); resolves when the
 * HTLC is resolved (never, for one the interceptor holds). `sharedSecret`: the onion's secret with the
 * node, handed to it first so that its peel skips the ECDH (src/sim/known-secrets.ts).
 */
export function addTimed(cluster: SimCluster, node: number, offer: HtlcOffer, sharedSecret?: Uint8Array): Promise<PartOutcome> {
  const chanId = cluster.payerChannelId(node);
  if (sharedSecret !== undefined) cluster.node(node).knownSharedSecrets.add(offer.onion.subarray(1, 34), sharedSecret);
  const added = cluster.node(node).addHtlc(chanId, offer);
  if (!added.ok) return Promise.resolve({ outcome: added.refusal });
  const key = keyOf({ chanId, htlcId: added.htlcId });
  return added.resolution.then((resolution) => {
    const at = offeredAt.get(key);
    const settled = settledAt.get(key);
    offeredAt.delete(key);
    settledAt.delete(key);
    return { outcome: resolution.kind, ...(at !== undefined ? { offeredAt: at } : {}), ...(settled !== undefined ? { settledAt: settled } : {}) };
  });
}
