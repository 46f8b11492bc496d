/**
 * What a running Mux looks like right now, as plain data: its role and term, the chain height, the sets
 * it holds and every node's connection. `Mux.status()` returns it; the metrics' gauges
 * (metrics.ts), `/readyz` and the status page (src/http/) read it. Cheap to make: no I/O.
 */
import type { NodeState, StreamName, StreamState } from '../lnd/index.js';

/** One configured node's connection, as its gateway knows it. */
export interface NodeStatus {
  /** The configured pubkey, hex. */
  readonly pubkey: string;
  readonly state: NodeState['kind'];
  /** Why it is refused or retried, in one line (the `node` event's detail). */
  readonly detail?: string;
  /** Each stream's state; the interceptor's is `standby` on a standby instance. */
  readonly streams: Readonly<Record<StreamName, StreamState['kind']>>;
  /** The node's best height, blocks, once known. */
  readonly height?: number;
}

/** A payment set held in memory. */
export interface HeldSetStatus {
  /** Payment hash, hex. */
  readonly paymentHash: string;
  readonly phase: 'accepting' | 'accepted' | 'committing' | 'committed' | 'revoking';
  readonly parts: number;
  /** The parts' sum, msat. */
  readonly heldMsat: bigint;
  /** When its current round of collecting began (its first part arrived), unix ms. */
  readonly firstArrivedAtMs: number;
}

export interface MuxStatus {
  /** active: holds the leadership and intercepts; standby: waits for it. */
  readonly role: 'active' | 'standby';
  /** The epoch of the term held; undefined on a standby. */
  readonly epoch?: bigint;
  /** Active only: false while the leadership session is lost (commits wait until it is taken back). */
  readonly leadershipHeld: boolean;
  /** The best height the nodes reported, blocks; 0 before any did. */
  readonly height: number;
  readonly heldHtlcs: number;
  readonly sets: readonly HeldSetStatus[];
  readonly nodes: readonly NodeStatus[];
}

/**
 * Whether the instance does its job (Kubernetes readiness): an active instance with every configured node
 * ready and its interceptor stream open, or a standby with every node ready (connected and checked, so
 * that it can take over at once). `reasons` says what is missing.
 */
export function readinessOf(status: MuxStatus): { readonly ready: boolean; readonly reasons: readonly string[] } {
  const reasons: string[] = [];
  for (const node of status.nodes) {
    if (node.state !== 'ready') reasons.push(`node ${node.pubkey} is ${node.state}${node.detail !== undefined ? `: ${node.detail}` : ''}`);
    else if (status.role === 'active' && node.streams.interceptor !== 'open') {
      reasons.push(`node ${node.pubkey}: interceptor stream ${node.streams.interceptor}`);
    }
  }
  if (status.role === 'active' && !status.leadershipHeld) reasons.push('leadership session lost: settle commits wait');
  return { ready: reasons.length === 0, reasons };
}
