/**
 * Simulated LND nodes in a worker thread of the end-to-end benchmark's simulator process
 * (bench/lib/e2e-cluster.ts, E2E_SIM_THREADS > 0): a part of the cluster (startCluster with the
 * cluster's seed and this part's firstNodeIndex) whose nodes peel their onion layer, offer the HTLC
 * over gRPC to the interceptor and apply its answer, on a core of their own. The payer stays on the
 * simulator's main thread and sends each HTLC here by message: one node's work per HTLC (the ECDH of
 * the peel, gRPC, TLS) no longer shares one thread with the other nodes' and the payer's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startCluster } from '../../src/sim/cluster.js';
import type { HtlcOffer } from '../../src/sim/htlc.js';
import { nodeFacts, type NodeFacts } from './node-facts.js';
import { addTimed, instrumentSwitch, offeredCount, type PartOutcome } from './timed-node.js';

/** What the thread is started with. */
export interface NodeThreadData {
  /** Nodes in this thread, the first being node `firstNodeIndex` of the cluster. */
  readonly nodes: number;
  readonly firstNodeIndex: number;
  /** The cluster's seed, the same in every thread: one chain, one payer key. */
  readonly seed: string;
}

/** Main thread -> node thread. */
export type NodeThreadCommand =
  /**
   * Add `offer` on node `node` (the thread's own index) from the payer; answered by 'resolved'.
   * `sharedSecret`: the onion's secret with that node, handed to it (src/sim/known-secrets.ts).
   */
  | { readonly kind: 'add'; readonly id: number; readonly node: number; readonly offer: HtlcOffer; readonly sharedSecret?: Uint8Array }
  | { readonly kind: 'interceptors' }
  /** How many HTLCs were offered to an interceptor so far. */
  | { readonly kind: 'offered' }
  | { readonly kind: 'stop' };

/** Node thread -> main thread. */
export type NodeThreadReply =
  | { readonly kind: 'started'; readonly nodes: readonly NodeFacts[] }
  /** The HTLC `id` was refused or resolved. */
  | ({ readonly kind: 'resolved'; readonly id: number } & PartOutcome)
  | { readonly kind: 'interceptors'; readonly connected: boolean }
  | { readonly kind: 'offered'; readonly count: number }
  | { readonly kind: 'stopped' };

function post(reply: NodeThreadReply): void {
  parentPort!.postMessage(reply);
}

async function main(): Promise<void> {
  const data = workerData as NodeThreadData;
  instrumentSwitch();
  const cluster = await startCluster({ nodes: data.nodes, firstNodeIndex: data.firstNodeIndex, seed: data.seed });
  parentPort!.on('message', (command: NodeThreadCommand) => {
    switch (command.kind) {
      case 'add':
        void addTimed(cluster, command.node, command.offer, command.sharedSecret).then((outcome) => post({ kind: 'resolved', id: command.id, ...outcome }));
        return;
      case 'interceptors':
        post({ kind: 'interceptors', connected: cluster.nodes.every((n) => n.interceptorConnected) });
        return;
      case 'offered':
        post({ kind: 'offered', count: offeredCount() });
        return;
      case 'stop':
        void cluster.stop().then(() => {
          post({ kind: 'stopped' });
          parentPort!.close();
        });
        return;
    }
  });
  post({
    kind: 'started',
    nodes: cluster.nodeInfos().map(nodeFacts),
  });
}

void main();
