/**
 * The cluster: one NodeGateway per configured node, connected and checked from start to stop whatever
 * this instance's role, and the routing of their events. A standby decides nothing and writes nothing:
 * only the engine of the current term (`attach`) hears HTLCs, blocks and final events; an HTLC that
 * reached a closing stream is offered again by LND to the next interceptor.
 */
import type { Logger } from 'pino';
import { NodeGateway, type GatewayEvent, type InterceptedHtlc } from '../lnd/index.js';
import { bytesToHex } from '../protocol/index.js';
import { sleep, systemClock } from '../shell/clock.js';
import type { Store, UnfinalizedHtlc } from '../store/index.js';
import { gatewayConfigOf, type BackoffOverrides, type ClusterNode } from './config-map.js';
import type { MuxConfig } from './config.js';
import type { SettlementEngine } from './engine.js';
import type { MuxEvents } from './events.js';
import { NO_METRICS, type ClusterObserver } from './metrics.js';
import { logNodeState, logStreamState, nodeStateDetail } from './node-events-log.js';
import type { NodeStatus } from './status.js';

/** How many LookupHtlcResolution calls a reconciliation keeps in flight per node. */
const RECONCILE_IN_FLIGHT = 8;
/** How often, and how far apart (ms), a reconciliation reads the unfinalized HTLCs when the store fails. */
const RECONCILE_READ_ATTEMPTS = 30;
const RECONCILE_READ_RETRY_MS = 1_000;

export class Cluster {
  readonly #config: MuxConfig;
  readonly #nodes: readonly ClusterNode[];
  readonly #store: Store;
  readonly #log: Logger;
  readonly #notifyNode: (payload: MuxEvents['node'][0]) => void;
  readonly #backoff: BackoffOverrides;
  readonly #observer: ClusterObserver;
  #gateways: NodeGateway[] = [];
  #pumps: Promise<void>[] = [];
  /** The current term's engine; undefined on a standby. */
  #engine: SettlementEngine | undefined;

  constructor(options: {
    readonly config: MuxConfig;
    readonly nodes: readonly ClusterNode[];
    readonly store: Store;
    readonly log: Logger;
    readonly notifyNode: (payload: MuxEvents['node'][0]) => void;
    readonly backoff?: BackoffOverrides;
    /** Told of reconnects and unreadable HTLCs, for the metrics; default: nobody. */
    readonly observer?: ClusterObserver;
  }) {
    this.#config = options.config;
    this.#nodes = options.nodes;
    this.#store = options.store;
    this.#log = options.log;
    this.#notifyNode = options.notifyNode;
    this.#backoff = options.backoff ?? {};
    this.#observer = options.observer ?? NO_METRICS;
  }

  /** Every configured node's connection now (Mux.status()); before start(), each is idle. */
  nodeStatuses(): NodeStatus[] {
    return this.#nodes.map((node) => {
      const gateway = this.#gateways.find((g) => g.pubkey === node.pubkeyHex);
      if (gateway === undefined) return { pubkey: node.pubkeyHex, state: 'idle', streams: { interceptor: 'closed', blocks: 'closed', htlcEvents: 'closed' } };
      const detail = nodeStateDetail(gateway.state);
      return {
        pubkey: node.pubkeyHex,
        state: gateway.state.kind,
        ...(detail !== undefined ? { detail } : {}),
        streams: {
          interceptor: gateway.streamState('interceptor').kind,
          blocks: gateway.streamState('blocks').kind,
          htlcEvents: gateway.streamState('htlcEvents').kind,
        },
        ...(gateway.blockHeight !== undefined ? { height: gateway.blockHeight } : {}),
      };
    });
  }

  /** Connects every node (checks, blocks, final HTLC events; no interceptor until a term attaches). */
  start(): void {
    this.#gateways = this.#config.nodes.map((_, i) => new NodeGateway(gatewayConfigOf(this.#config, i, this.#backoff)));
    for (const gateway of this.#gateways) {
      gateway.start();
      this.#pumps.push(this.#pump(gateway));
    }
  }

  /** Disconnects every node and waits for their event pumps to end. */
  async stop(): Promise<void> {
    const gateways = this.#gateways;
    this.#gateways = [];
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(this.#pumps);
    this.#pumps = [];
  }

  /**
   * Makes `engine` the one that hears the nodes: each node becomes a link of it, its known height is
   * fed in, and the interceptors open. Final events missed while standing by are looked up. A node not
   * ready yet tells its height (GetInfo's) in its `ready` state event, which comes before any HTLC of it.
   */
  attach(engine: SettlementEngine): void {
    for (const gateway of this.#gateways) {
      if (gateway.blockHeight !== undefined) engine.onBlock(gateway.blockHeight, gateway.pubkey);
      const node = this.#nodes.find((n) => n.pubkeyHex === gateway.pubkey)!;
      engine.attachNode(
        {
          pubkey: node.pubkey,
          pubkeyHex: node.pubkeyHex,
          send: async (response) => {
            const result = await gateway.send(response);
            if (!result.ok) throw new Error(`not delivered: ${result.error.kind}`);
          },
          isConnected: () => gateway.state.kind === 'ready' && gateway.streamState('interceptor').kind === 'open',
        },
        node.virtualChannelId,
      );
    }
    this.#engine = engine;
    for (const gateway of this.#gateways) gateway.intercept(true);
    for (const gateway of this.#gateways) {
      if (gateway.state.kind === 'ready') void this.#reconcileFinal(gateway, engine);
    }
  }

  /** Closes the interceptors (LND offers the held HTLCs to the next one) and detaches `engine`. */
  detach(engine: SettlementEngine): void {
    if (this.#engine === engine) this.#engine = undefined;
    for (const gateway of this.#gateways) {
      gateway.intercept(false);
      engine.detachNode(gateway.pubkey);
    }
  }

  /**
   * Asks every connected node again for the HTLCs the store holds unfinalized: after the database came
   * back from a crash, which can lose final states committed without waiting for the disk
   * (docs/architecture.md, "What waits for the disk").
   */
  reconcileFinal(engine: SettlementEngine): void {
    if (this.#engine !== engine) return;
    for (const gateway of this.#gateways) {
      if (gateway.state.kind === 'ready') void this.#reconcileFinal(gateway, engine);
    }
  }

  /**
   * Final events missed while no subscription ran (lnmux down, standby): ask LND for each unfinalized
   * HTLC, {@link RECONCILE_IN_FLIGHT} lookups at a time (one at a time took 83 s for 100,000 HTLCs:
   * docs/benchmarks.md, "How cost grows"). A lookup that fails is counted and said once at the end;
   * that HTLC's final state then comes from the event stream, or from the next reconciliation.
   */
  async #reconcileFinal(gateway: NodeGateway, engine: SettlementEngine): Promise<void> {
    let failed = 0;
    try {
      const unfinalized = await this.#unfinalizedOf(gateway, engine);
      if (unfinalized === undefined) return;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < unfinalized.length) {
          const htlc = unfinalized[next++]!;
          const circuitKey = { chanId: htlc.chanId, htlcId: htlc.htlcId };
          // Its final state is written when it comes, whether the lookup or the event stream tells it.
          engine.expectFinal(htlc);
          const resolution = await gateway.lookupHtlcResolution(circuitKey);
          if (!resolution.ok) failed++;
          else if (resolution.value.kind === 'final') await engine.onHtlcFinal(gateway.pubkey, circuitKey, resolution.value.settled);
        }
      };
      await Promise.all(Array.from({ length: Math.min(RECONCILE_IN_FLIGHT, unfinalized.length) }, worker));
    } catch (error) {
      this.#log.warn({ err: error, node: gateway.pubkey }, 'Could not reconcile final HTLC states');
      return;
    }
    if (failed > 0) this.#log.warn({ node: gateway.pubkey, failedLookups: failed }, 'Could not look up the final state of some HTLCs');
  }

  /**
   * The store's unfinalized HTLCs of `gateway`'s node. The read is tried again while `engine` is the
   * current one (the database may have just come back, mux.ts `resumeTerm`), up to
   * {@link RECONCILE_READ_ATTEMPTS} times; undefined when it gave up or `engine` was detached.
   */
  async #unfinalizedOf(gateway: NodeGateway, engine: SettlementEngine): Promise<UnfinalizedHtlc[] | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.#store.listUnfinalizedHtlcs()).filter((htlc) => bytesToHex(htlc.nodePubkey) === gateway.pubkey);
      } catch (error) {
        if (this.#engine !== engine || attempt >= RECONCILE_READ_ATTEMPTS) {
          this.#log.warn({ err: error, node: gateway.pubkey, attempts: attempt }, 'Could not read the unfinalized HTLCs to reconcile');
          return undefined;
        }
        await sleep(systemClock, RECONCILE_READ_RETRY_MS);
      }
    }
  }

  /** Feeds one gateway's events to the engine until the gateway stops. */
  async #pump(gateway: NodeGateway): Promise<void> {
    for await (const event of gateway.events()) {
      try {
        this.#dispatch(gateway, event);
      } catch (error) {
        this.#log.error({ err: error, node: gateway.pubkey, event: event.kind }, 'Event handling failed');
      }
    }
  }

  #dispatch(gateway: NodeGateway, event: GatewayEvent): void {
    const engine = this.#engine;
    switch (event.kind) {
      case 'htlc':
        if (engine !== undefined) void engine.onHtlc(event.node, offeredFrom(event.htlc));
        return;
      case 'malformedHtlc':
        this.#log.warn({ node: event.node, error: event.error }, 'Unreadable HTLC from LND');
        if (engine !== undefined && event.circuitKey !== null) this.#observer.htlcFailed('unreadable');
        if (engine !== undefined && event.circuitKey !== null) {
          void gateway.send({ kind: 'failWithCode', circuitKey: event.circuitKey, code: 'TEMPORARY_CHANNEL_FAILURE' });
        }
        return;
      case 'block':
        engine?.onBlock(event.block.height, event.node);
        return;
      case 'finalHtlc':
        if (engine !== undefined) void engine.onHtlcFinal(event.node, event.event.circuitKey, event.event.settled);
        return;
      case 'finalHtlcSubscribed':
        if (engine !== undefined) void this.#reconcileFinal(gateway, engine);
        return;
      case 'state': {
        const s = event.state;
        // GetInfo's height, before the interceptor opens: no HTLC is inspected without a height.
        if (s.kind === 'ready') engine?.onBlock(s.info.blockHeight, event.node);
        if (s.kind !== 'ready') engine?.onInterceptorDown(event.node);
        if (s.kind === 'refused' && s.reasons.some((r) => r.kind === 'interceptorNotRequired')) engine?.onNodeHtlcsLost(event.node);
        if (s.kind === 'backoff') this.#observer.reconnect(event.node, 'session');
        logNodeState(this.#log, event, gateway.intercepting);
        const detail = nodeStateDetail(s);
        this.#notifyNode({ pubkey: event.node, state: s.kind, ...(detail !== undefined ? { detail } : {}) });
        return;
      }
      case 'stream':
        if (event.stream === 'interceptor') {
          // The call's start, not LND's acceptance, opens the replay window: LND replays held HTLCs as
          // its first messages, which are also what accepts the stream.
          if (event.state.kind === 'open') {
            if (!event.state.accepted) engine?.onInterceptorUp(event.node);
          } else engine?.onInterceptorDown(event.node);
        }
        if (event.state.kind === 'backoff') this.#observer.reconnect(event.node, event.stream);
        logStreamState(this.#log, event);
        return;
      case 'malformedMessage':
        this.#log.warn({ node: event.node, stream: event.stream, error: event.error }, 'Unreadable message from LND skipped');
        return;
      default: {
        const never: never = event;
        this.#log.warn({ event: never }, 'Unknown gateway event');
      }
    }
  }
}

/** The intercepted HTLC as the engine takes it (the gateway's type carries more than the checks need). */
function offeredFrom(htlc: InterceptedHtlc) {
  return {
    circuitKey: htlc.circuitKey,
    paymentHash: htlc.paymentHash,
    incomingAmountMsat: htlc.incomingAmountMsat,
    outgoingAmountMsat: htlc.outgoingAmountMsat,
    incomingExpiry: htlc.incomingExpiry,
    outgoingExpiry: htlc.outgoingExpiry,
    outgoingRequestedChanId: htlc.outgoingRequestedChanId,
    onionBlob: htlc.onionBlob,
    autoFailHeight: htlc.autoFailHeight,
  };
}
