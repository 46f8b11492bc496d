/**
 * The Mux's Prometheus metrics, on a prom-client Registry the application passes in (MuxOptions
 * `metricsRegistry`): no default registry, no module-level metric, so that several Mux instances (a
 * leader and a standby in one test process, or two clusters in one application) never share counters.
 * Names follow Prometheus conventions: `_total` counters, `_seconds` histograms, base units.
 *
 * Counters and histograms are fed as things happen (the engine's EngineObserver, the cluster's and the
 * leader loop's hooks); every gauge is read at scrape time from the Mux's status (`collect`), so the
 * hot path pays nothing for them. Per HTLC the cost is one `inc` or `observe` on a child looked up once
 * per label value (the children are cached in maps: no label object is built per HTLC).
 * docs/operations.md lists every metric with its labels.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { NodeStatus, MuxStatus } from './status.js';

/** What the settlement engine reports as it goes (engine.ts calls it where it logs). All calls are cheap and never throw. */
export interface EngineObserver {
  /** A foreign HTLC (not for the virtual node) was RESUMEd. */
  htlcResumed(): void;
  /** An HTLC joined a set. */
  htlcAccepted(): void;
  /** A SETTLE went out for an HTLC; `reason`: the registry's SettleOutcome (settled, replayToSettled). */
  htlcSettled(reason: string): void;
  /** An HTLC was failed; `reason`: the per-HTLC check's RejectReason or the registry's FailOutcome. */
  htlcFailed(reason: string): void;
  /** A held HTLC left its set (its node no longer holds it); `reason`: the PartLostReason. */
  htlcLost(reason: string): void;
  /** A settle commit answered (after retries), `seconds` after it was asked. */
  settleCommitted(seconds: number, outcome: 'committed' | 'refused'): void;
  /**
   * Every SETTLE of a set was handed to its node, `seconds` after the set's commit was asked (its
   * completion): a payment received (hash hex, amount msat).
   */
  settleReleased(seconds: number, payment: { readonly paymentHash: string; readonly amountMsat: bigint }): void;
  /** A store call failed (it is retried); `operation`: what the engine was doing (invoice lookup, settle commit, ...). */
  storeError(operation: string): void;
}

/** What the cluster reports: node connection and stream events. */
export interface ClusterObserver {
  /** A node's session or one of its streams went into backoff (it will reconnect). `stream`: 'session' for the node's connection. */
  reconnect(node: string, stream: string): void;
  /** An HTLC LND sent that could not be read, failed by the cluster. */
  htlcFailed(reason: string): void;
}

/** What the leader loop reports. */
export interface LeadershipObserver {
  /** A leadership check could not reach the database. */
  storeError(operation: string): void;
}

/** Every observer interface, doing nothing: what the engine, cluster and loop use without a registry. */
export const NO_METRICS: EngineObserver & ClusterObserver & LeadershipObserver = Object.freeze({
  htlcResumed() {},
  htlcAccepted() {},
  htlcSettled() {},
  htlcFailed() {},
  htlcLost() {},
  settleCommitted() {},
  settleReleased() {},
  storeError() {},
  reconnect() {},
});

/** Node connection states, for `lnmux_node_state` (src/lnd/node-gateway.ts NodeState). */
export const NODE_STATES = ['idle', 'connecting', 'checking', 'refused', 'ready', 'backoff', 'stopped'] as const;
/** The node streams, for `lnmux_node_stream_up` (src/lnd/node-gateway.ts StreamName). */
export const NODE_STREAMS = ['interceptor', 'blocks', 'htlcEvents'] as const;

/** Latency buckets, seconds: a settle takes a few ms on a healthy database, seconds while it struggles. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type CounterChild = { inc(value?: number): void };

/** The metrics of one Mux, registered on `registry`. `status` is read at each scrape for the gauges. */
/** A payment received, as the status page lists it. */
export interface RecentSettle {
  /** When its SETTLEs went out, unix ms. */
  readonly atMs: number;
  /** hex */
  readonly paymentHash: string;
  readonly amountMsat: bigint;
  /** Settle latency: its completion (commit asked) -> every SETTLE handed to its node, seconds. */
  readonly seconds: number;
}

/** How many received payments the status page can show (its chart and list). */
const RECENT_SETTLES = 200;

export class MuxMetrics implements EngineObserver, ClusterObserver, LeadershipObserver {
  readonly #recent: RecentSettle[] = [];
  readonly registry: Registry;
  readonly #htlcs: Counter<'outcome' | 'reason'>;
  readonly #resumed: Counter;
  readonly #accepted: Counter;
  readonly #commitLatency: Histogram<'outcome'>;
  readonly #settleLatency: Histogram;
  readonly #storeErrors: Counter<'operation'>;
  readonly #reconnects: Counter<'node' | 'stream'>;
  /** Children by `outcome\0reason`, made once per label value. */
  readonly #htlcChildren = new Map<string, CounterChild>();
  readonly #storeErrorChildren = new Map<string, CounterChild>();

  constructor(registry: Registry, status: () => MuxStatus) {
    this.registry = registry;
    const registers = [registry];
    this.#htlcs = new Counter({
      name: 'lnmux_htlcs_total',
      help: 'HTLCs for the virtual node by what became of them: outcome settled (reason: settled, replayToSettled), failed (reason: the check or registry outcome), lost (reason: why its node no longer holds it)',
      labelNames: ['outcome', 'reason'],
      registers,
    });
    this.#resumed = new Counter({ name: 'lnmux_htlcs_resumed_total', help: 'Foreign HTLCs (not for the virtual node) RESUMEd at once', registers });
    this.#accepted = new Counter({ name: 'lnmux_htlcs_accepted_total', help: 'HTLCs that joined a set (held until it completes)', registers });
    this.#commitLatency = new Histogram({
      name: 'lnmux_settle_commit_seconds',
      help: 'Time to commit a settle decision to the database, retries included, seconds; outcome committed or refused',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#settleLatency = new Histogram({
      name: 'lnmux_settle_latency_seconds',
      help: 'From a set complete (its last part arrived; in hold mode the application settled) to every SETTLE handed to its node, seconds',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'lnmux_store_errors_total',
      help: 'Database calls that failed and are retried, by operation',
      labelNames: ['operation'],
      registers,
    });
    this.#reconnects = new Counter({
      name: 'lnmux_node_reconnects_total',
      help: 'Times a node connection (stream "session") or one of its streams was lost and is being reconnected',
      labelNames: ['node', 'stream'],
      registers,
    });

    // Gauges read at scrape time: nothing on the hot path.
    new Gauge({
      name: 'lnmux_held_htlcs',
      help: 'HTLCs held in memory (parts of sets not settled yet); 0 on a standby',
      registers,
      collect() {
        this.set(status().heldHtlcs);
      },
    });
    new Gauge({
      name: 'lnmux_held_sets',
      help: 'Payment sets held in memory, by phase (accepting, accepted, committing, committed, revoking); 0 on a standby',
      labelNames: ['phase'],
      registers,
      collect() {
        this.reset();
        for (const phase of SET_PHASES) this.set({ phase }, 0);
        for (const set of status().sets) this.inc({ phase: set.phase });
      },
    });
    new Gauge({
      name: 'lnmux_best_height',
      help: 'The best chain height the cluster nodes reported, blocks (0 before any did)',
      registers,
      collect() {
        this.set(status().height);
      },
    });
    new Gauge({
      name: 'lnmux_role',
      help: 'This instance\'s role: 1 for the current one (active: holds the leadership and intercepts; standby)',
      labelNames: ['role'],
      registers,
      collect() {
        const role = status().role;
        this.set({ role: 'active' }, role === 'active' ? 1 : 0);
        this.set({ role: 'standby' }, role === 'standby' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lnmux_leadership_epoch',
      help: 'The epoch of the leadership term this instance holds (bumped at each new leader); 0 on a standby',
      registers,
      collect() {
        const epoch = status().epoch;
        this.set(epoch === undefined ? 0 : Number(epoch));
      },
    });
    new Gauge({
      name: 'lnmux_leadership_held',
      help: '1 while the active instance\'s leadership session is held; 0 when it is lost (commits wait) or on a standby',
      registers,
      collect() {
        this.set(status().leadershipHeld ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lnmux_node_state',
      help: 'Each configured node\'s connection state: 1 for the current one (ready: connected and checked)',
      labelNames: ['node', 'state'],
      registers,
      collect() {
        this.reset();
        for (const node of status().nodes) for (const state of NODE_STATES) this.set({ node: node.pubkey, state }, node.state === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lnmux_node_stream_up',
      help: 'Each node\'s streams: 1 while open (interceptor: this instance intercepts on the node)',
      labelNames: ['node', 'stream'],
      registers,
      collect() {
        this.reset();
        for (const node of status().nodes) for (const stream of NODE_STREAMS) this.set({ node: node.pubkey, stream }, streamUp(node, stream));
      },
    });
  }

  htlcResumed(): void {
    this.#resumed.inc();
  }

  htlcAccepted(): void {
    this.#accepted.inc();
  }

  htlcSettled(reason: string): void {
    this.#htlcChild('settled', reason).inc();
  }

  htlcFailed(reason: string): void {
    this.#htlcChild('failed', reason).inc();
  }

  htlcLost(reason: string): void {
    this.#htlcChild('lost', reason).inc();
  }

  settleCommitted(seconds: number, outcome: 'committed' | 'refused'): void {
    this.#commitLatency.observe({ outcome }, seconds);
  }

  settleReleased(seconds: number, payment: { readonly paymentHash: string; readonly amountMsat: bigint }): void {
    this.#settleLatency.observe(seconds);
    this.#recent.push({ atMs: Date.now(), ...payment, seconds });
    if (this.#recent.length > RECENT_SETTLES) this.#recent.shift();
  }

  /** The last payments received (at most 200, oldest first), for the status page. */
  recentSettles(): readonly RecentSettle[] {
    return this.#recent;
  }

  storeError(operation: string): void {
    let child = this.#storeErrorChildren.get(operation);
    if (child === undefined) {
      child = this.#storeErrors.labels(operation);
      this.#storeErrorChildren.set(operation, child);
    }
    child.inc();
  }

  reconnect(node: string, stream: string): void {
    this.#reconnects.inc({ node, stream });
  }

  /** HTLCs failed so far by reason (the status page's "failures by reason"). */
  async failuresByReason(): Promise<ReadonlyMap<string, number>> {
    const counts = new Map<string, number>();
    for (const value of (await this.#htlcs.get()).values) {
      if (value.labels.outcome === 'failed' && value.value > 0) counts.set(String(value.labels.reason), value.value);
    }
    return counts;
  }

  #htlcChild(outcome: string, reason: string): CounterChild {
    const key = `${outcome}\0${reason}`;
    let child = this.#htlcChildren.get(key);
    if (child === undefined) {
      child = this.#htlcs.labels(outcome, reason);
      this.#htlcChildren.set(key, child);
    }
    return child;
  }
}

const SET_PHASES = ['accepting', 'accepted', 'committing', 'committed', 'revoking'] as const;

function streamUp(node: NodeStatus, stream: string): number {
  return node.streams[stream as keyof NodeStatus['streams']] === 'open' ? 1 : 0;
}
