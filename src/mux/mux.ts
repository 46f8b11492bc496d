/**
 * The Mux: lnmux as a library. It owns the store, one gateway per cluster node and the settlement engine,
 * and exposes invoices and (in hold mode) settle decisions to the application.
 *
 * Lifecycle: `Mux.open(config)` checks the config and the database schema; `start()` connects to every
 * node (checks, blocks, final HTLC events: no interceptor yet) and claims the cluster's leadership
 * (src/store/leadership.ts: a PostgreSQL session holding an advisory lock). A second instance waits on
 * that lock as a standby, its node connections ready (DESIGN.md invariant 6); it takes over the moment
 * the leader's session ends: one interceptor registration per node. `stop()` releases everything.
 *
 * A term is one holding of the leadership: its epoch, and a settlement engine of its own whose settle
 * commits carry that epoch (fencing: a commit from an ended term is refused by the store). When the
 * leader's session is lost, its commits are held at once; it keeps its interceptors, so regular
 * forwards keep flowing (invariant 5) whether the database is down for everyone or only for it (LND
 * takes one interceptor per node, so nobody else can decide on these nodes meanwhile), and it tries to
 * take the leadership back every RETAKE_MS: with its epoch unchanged the term goes on; if another
 * instance holds it, or led in between, the term ends at once (interceptors closed, engine stopped).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import {
  NodeGateway,
  describeRefusal,
  describeRpcFailure,
  type GatewayEvent,
  type InterceptedHtlc,
  type NodeRetryCause,
} from '../lnd/index.js';
import { bytesToHex, hexToBytes } from '../protocol/bytes.js';
import { ecdhWithPrivateKey } from '../protocol/ecdh.js';
import { deriveKeyring, type Keyring } from '../protocol/keyring.js';
import { virtualChannelId } from '../protocol/virtual-scid.js';
import {
  openStore,
  requireNodeIdentity,
  type LeadershipLostCause,
  type CancelOutcome,
  type HtlcLogEntry,
  type Invoice,
  type InvoicePage,
  type ListInvoicesQuery,
  type Store,
} from '../store/index.js';
import { identityKeyBytes, parseConfig, storeConfigOf, type MuxConfig, type MuxConfigInput } from './config.js';
import { SettlementEngine, UnknownSetError, type EngineEvents } from './engine.js';
import { emitSafely } from './safe-emit.js';
import { makeInvoice, type CreatedInvoice, type InvoiceRequest } from './invoice-factory.js';
import { settleStoreOf } from './settle-store.js';

/** Events a Mux emits to the application. Hashes and set ids are hex; amounts msat. */
export interface MuxEvents {
  /** Hold mode: a complete set waits for `settle(setId)` or `cancelInvoice(hash)`. */
  accepted: [{ paymentHash: string; setId: string; amountMsat: bigint; htlcs: { circuitKey: string; amountMsat: bigint }[] }];
  /**
   * Hold mode: an accepted set was released before it was settled (timeout, expiry near, cancel), or
   * `partLost`: one of its parts left it (its node no longer holds it) and the live parts wait again.
   */
  released: EngineEvents['released'];
  /**
   * The settle decision is committed and the preimage released: the payment is received, the SETTLEs are
   * on their way (the stored invoice reads `settleCommitted` until every node reports its HTLC final).
   */
  committed: EngineEvents['committed'];
  /** Every HTLC of the invoice's set is settled at its node (the stored invoice reads `settled`). */
  settled: EngineEvents['settled'];
  /** LND reported an HTLC of a committed set final (settled, or failed: lost after the decision). */
  htlcFinal: EngineEvents['htlcFinal'];
  /** A held part left its set: its node no longer holds it (failed on its own, not offered again after a reconnect). */
  partLost: EngineEvents['partLost'];
  /** Money at risk: a part of a released set nears its auto-fail height unsettled, or was failed by its node. */
  atRisk: EngineEvents['atRisk'];
  /** This instance became the active one, or lost the leadership and went back to standby. */
  role: [{ role: 'active' | 'standby' }];
  /**
   * The leadership session: taken (a new term, or `resumed`: the same term goes on after the session was
   * lost and taken back) or lost (settle commits held until it is taken back or the term ends).
   */
  leadership: [{ held: boolean; epoch: bigint; resumed?: boolean }];
  /** A node's connection changed state (connected, refused with the reason, backing off). */
  node: [{ pubkey: string; state: string; detail?: string }];
}

export interface MuxOptions {
  /** A pino logger (default: a new one at the configured level, JSON to stdout). */
  readonly logger?: Logger;
  /** Apply pending database migrations on open (default false: refuse an old schema and say which command fixes it). */
  readonly migrate?: boolean;
  /** This instance's name in the leadership record (default host:pid:random). */
  readonly instanceId?: string;
  /** No longer used: the leadership is a database session, not a lease (see `leadership`). */
  readonly leaseTtlMs?: number;
  /**
   * The leadership session's timing, ms (src/store/leadership.ts): heartbeat every `heartbeatMs`
   * (default 500); a leader whose host vanished loses the leadership `sessionTimeoutMs` after its last
   * heartbeat (default 3000). A leader whose process dies loses it at once.
   */
  readonly leadership?: { readonly heartbeatMs?: number; readonly sessionTimeoutMs?: number };
  /**
   * An open store to use instead of opening one from the config (to share it, or to wrap it). The Mux
   * closes it on stop().
   */
  readonly store?: Store;
  /** Gateway timing overrides (tests). */
  readonly gateway?: { readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number } };
}

/** An invoice as the Mux returns it: the stored record (hash, paymentAddr, setId as 32-byte Uint8Array). */
export type MuxInvoice = Invoice;

const LEASE_NAME = 'lnmux-cluster';
/** A leader whose leadership session was lost tries to take it back this often, ms. */
const RETAKE_MS = 200;
/** A standby whose database is unreachable tries again this often, ms. */
const STANDBY_RETRY_MS = 1_000;

/** One holding of the leadership: its epoch and its own engine (whose commits carry the epoch). */
interface Term {
  readonly epoch: bigint;
  readonly engine: SettlementEngine;
  /** False from the moment the leadership session is lost: the engine's commits are not attempted. */
  held: boolean;
}

export class Mux extends EventEmitter<MuxEvents> {
  /** Kept private: it holds the identity key (a secret, never to be logged). */
  readonly #config: MuxConfig;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #log: Logger;
  readonly #options: MuxOptions;
  readonly #instanceId: string;
  readonly #nodes: readonly { readonly pubkey: Uint8Array; readonly pubkeyHex: string; readonly virtualChannelId: bigint }[];
  #gateways: NodeGateway[] = [];
  #pumps: Promise<void>[] = [];
  #running: AbortController | undefined;
  #leaderLoop: Promise<void> | undefined;
  #term: Term | undefined;
  /** HTLC log writes of ended terms still in flight (stop() waits for them). */
  readonly #logFlushes = new Set<Promise<void>>();
  /** Wakes the leader loop when the leadership session is lost. */
  #wakeLeader: (() => void) | undefined;

  private constructor(config: MuxConfig, store: Store, keyring: Keyring, log: Logger, options: MuxOptions) {
    super();
    this.#config = config;
    this.#store = store;
    this.#keyring = keyring;
    this.#log = log;
    this.#options = options;
    this.#instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${bytesToHex(randomBytes(4))}`;
    this.#nodes = config.nodes.map((n) => {
      const pubkey = hexToBytes(n.pubkey.toLowerCase());
      return { pubkey, pubkeyHex: n.pubkey.toLowerCase(), virtualChannelId: virtualChannelId(pubkey) };
    });
  }

  /**
   * Checks the configuration, derives the keys, opens the database (schema must be current unless
   * `options.migrate`) and, before anything else uses it, binds the database to the identity key's public
   * key or checks that it is bound to it (DESIGN.md, invariant 8). Throws ConfigError (naming the field),
   * SchemaVersionError (naming the command that fixes it), IdentityKeyMismatchError (naming both public
   * keys: use the key the database was made with, or a new database) or StoreUnavailableError.
   */
  static async open(input: MuxConfigInput | MuxConfig, options: MuxOptions = {}): Promise<Mux> {
    const config = parseConfig(input);
    const keyring = deriveKeyring(identityKeyBytes(config));
    const log = options.logger ?? pino({ level: config.logging.level, base: undefined });
    const store =
      options.store ??
      (await openStore({
        ...storeConfigOf(config, options.migrate ?? false),
        onWarning: (message: string) => log.warn(message),
      }));
    try {
      const identity = await requireNodeIdentity(store, keyring.nodePubkey);
      if (identity.kind === 'recorded') log.info({ node: bytesToHex(keyring.nodePubkey) }, 'Database bound to this identity key');
    } catch (error) {
      // A store given in the options stays the caller's: only the one opened here is closed.
      if (options.store === undefined) await store.close().catch(() => {});
      throw error;
    }
    log.info({ node: bytesToHex(keyring.nodePubkey), backend: store.backend, nodes: config.nodes.length }, 'lnmux opened');
    return new Mux(config, store, keyring, log, options);
  }

  /** Emits to the application; its listeners' errors (thrown or rejected) are logged, never thrown into lnmux. */
  #notify(event: keyof MuxEvents, payload: unknown): void {
    emitSafely(this, event, [payload], (error) => this.#log.error({ err: error, event }, 'Application listener failed'));
  }

  /** The virtual node's public key (the invoices' payee), hex. */
  get nodePubkey(): string {
    return bytesToHex(this.#keyring.nodePubkey);
  }

  /** HTLCs held in memory right now (0 on a standby). */
  get heldHtlcCount(): number {
    return this.#term?.engine.heldHtlcCount ?? 0;
  }

  /** 'active' while this instance holds the leadership and intercepts; 'standby' otherwise. */
  get role(): 'active' | 'standby' {
    return this.#term !== undefined ? 'active' : 'standby';
  }

  /**
   * Starts: connects to every node (as a standby: no interceptor yet) and claims the leadership; once
   * it holds it, intercepts. Resolves at once; node connections come up in the background (see the
   * 'node' event) and the role changes are 'role' events.
   */
  async start(): Promise<void> {
    if (this.#running) throw new Error('lnmux already started');
    this.#running = new AbortController();
    this.#log.info('InvoiceRegistry starting');
    this.#startGateways();
    this.#leaderLoop = this.#lead(this.#running.signal);
  }

  /** Stops intercepting, releases the leadership, disconnects and closes the database. Idempotent. */
  async stop(): Promise<void> {
    const running = this.#running;
    if (running && !running.signal.aborted) {
      running.abort();
      this.#wakeLeader?.();
      await this.#leaderLoop;
      await this.#stopGateways();
    }
    this.#endTerm();
    // The last HTLC log entries of the ended terms, before the database closes.
    await Promise.all(this.#logFlushes);
    await this.#store.close();
  }

  /**
   * Creates, records and returns a signed invoice. Throws InvoiceRequestError for a bad request. Its
   * database is bound to this Mux's identity key (Mux.open refused any other), so the invoice can be paid.
   */
  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    const created = makeInvoice(
      request,
      {
        keyring: this.#keyring,
        network: this.#config.network,
        nodes: this.#nodes,
        feeBaseMsat: this.#config.routing.feeBaseMsat,
        feeProportionalMillionths: this.#config.routing.feeProportionalMillionths,
        cltvExpiryDelta: this.#config.routing.cltvExpiryDelta,
        minFinalCltvExpiryDelta: this.#config.invoice.minFinalCltvExpiryDelta,
        defaultExpirySeconds: this.#config.invoice.defaultExpirySeconds,
      },
      Date.now() / 1000,
    );
    await this.#store.recordInvoice({
      hash: created.paymentHash,
      amountMsat: created.amountMsat,
      paymentAddr: created.paymentAddr,
      description:
        created.description !== undefined
          ? { kind: 'text', text: created.description }
          : { kind: 'hash', hash: created.descriptionHash! },
      paymentRequest: created.paymentRequest,
      createdAt: new Date(created.createdAt * 1000),
      expiresAt: new Date(created.expiresAt * 1000),
    });
    this.#log.info({ hash: bytesToHex(created.paymentHash), amountMsat: String(created.amountMsat) }, 'Invoice created');
    return created;
  }

  /** The invoice with this payment hash (32 bytes or 64 hex), or undefined. */
  getInvoice(paymentHash: Uint8Array | string): Promise<MuxInvoice | undefined> {
    return this.#store.getInvoice(hashBytes(paymentHash));
  }

  /**
   * What happened to every HTLC of this payment hash that lnmux did not settle, in time order: when each
   * part joined its set, which lnmux failed and why (the registry's outcome), which its node dropped
   * (lost, and why). The settled ones are the invoice's set (`Store.listInvoiceHtlcs`).
   */
  htlcLog(paymentHash: Uint8Array | string): Promise<readonly HtlcLogEntry[]> {
    return this.#store.listHtlcLog(hashBytes(paymentHash));
  }

  /** A page of invoices in creation order (see ListInvoicesQuery). */
  listInvoices(query: ListInvoicesQuery): Promise<InvoicePage> {
    return this.#store.listInvoices(query);
  }

  /**
   * Cancels an invoice for good (durable before this resolves): it can never be paid, and in hold mode
   * its accepted set is released. An invoice whose settle was committed cannot be cancelled (see the outcome).
   */
  async cancelInvoice(paymentHash: Uint8Array | string): Promise<CancelOutcome> {
    const hash = hashBytes(paymentHash);
    const outcome = await this.#store.cancelInvoice(hash);
    if (outcome.kind === 'cancelled' || outcome.kind === 'alreadyCancelled') this.#term?.engine.invoiceCancelled(hash);
    return outcome;
  }

  /**
   * Hold mode: settles the accepted set `setId` (32 bytes or 64 hex). Resolves once the decision is
   * committed (the SETTLEs then go out). Throws UnknownSetError if no accepted set has this id.
   */
  settle(setId: Uint8Array | string): Promise<void> {
    const engine = this.#term?.engine;
    if (engine === undefined) {
      return Promise.reject(new UnknownSetError('no accepted set: this instance is a standby (another instance leads)'));
    }
    return engine.settle(hashBytes(setId));
  }

  // ------------------------------------------------------------------------------------------

  /**
   * Claims the leadership while running: a standby waits on the lock (a blocking wait, woken the moment
   * the holder's session ends); a leader waits for its session to be lost, then takes it back or ends
   * its term (see the file comment).
   */
  async #lead(signal: AbortSignal): Promise<void> {
    const leadership = this.#store.leadership(LEASE_NAME, this.#instanceId, {
      ...this.#options.leadership,
      onLost: (cause) => this.#leadershipLost(cause),
    });
    // Stopping ends a standby's blocking wait on the lock at once (a leader ends its term first, below).
    signal.addEventListener('abort', () => {
      if (!leadership.held) void leadership.release();
    }, { once: true });
    let previousEpoch: bigint | undefined;
    let announcedStandby = false;
    let unavailableSince: number | undefined;
    while (!signal.aborted) {
      const term = this.#term;
      if (term?.held === true) {
        await this.#untilLeadershipLost(signal);
        continue;
      }
      try {
        // A standby (once it said so) waits for the lock; a leader whose session was lost only asks (it is
        // intercepting), and so does the first attempt (to say 'standby' at once if another leads).
        const wait = term === undefined && announcedStandby;
        const outcome = await leadership.take({ wait, ...(previousEpoch !== undefined ? { previousEpoch } : {}) });
        if (unavailableSince !== undefined) {
          this.#log.info({ afterMs: Date.now() - unavailableSince }, 'Database reachable again for the leadership');
          unavailableSince = undefined;
        }
        if (signal.aborted) break;
        if (outcome.kind === 'taken') {
          previousEpoch = outcome.epoch;
          if (term !== undefined && outcome.resumed) {
            term.held = true;
            this.#log.info({ instance: this.#instanceId, epoch: String(outcome.epoch) }, 'Leadership taken back; the term goes on');
            this.#notify('leadership', { held: true, epoch: outcome.epoch, resumed: true });
            continue;
          }
          if (term !== undefined) {
            this.#log.warn({ instance: this.#instanceId, epoch: String(outcome.epoch) }, 'Another instance led meanwhile; starting a new term');
            this.#endTerm();
          }
          try {
            await this.#beginTerm(outcome.epoch);
          } catch (error) {
            // Holding the lock without intercepting would keep every other instance out: let it go.
            await leadership.release();
            throw error;
          }
          announcedStandby = false;
          this.#log.info({ instance: this.#instanceId, epoch: String(outcome.epoch) }, 'Leadership taken; intercepting');
          this.#notify('leadership', { held: true, epoch: outcome.epoch, resumed: false });
          this.#notify('role', { role: 'active' });
        } else if (term !== undefined && outcome.holder === this.#instanceId) {
          // Our own lost session still holds the lock until the server ends it (at most sessionTimeoutMs).
          await sleep(RETAKE_MS, signal);
        } else if (term !== undefined) {
          this.#log.warn({ instance: this.#instanceId, holder: outcome.holder }, 'Leadership lost to another instance; standing by');
          this.#endTerm();
          announcedStandby = true;
          this.#notify('role', { role: 'standby' });
        } else if (!announcedStandby) {
          announcedStandby = true;
          this.#log.info({ holder: outcome.holder }, 'Standing by: another instance is active');
          this.#notify('role', { role: 'standby' });
        }
      } catch (error) {
        if (signal.aborted) break;
        // Database unreachable. A leader whose session is lost keeps intercepting, so regular forwards
        // keep flowing (invariant 5) and its commits wait; nobody else can take its nodes meanwhile,
        // because LND accepts one interceptor per node. Said once per outage.
        if (unavailableSince === undefined) {
          unavailableSince = Date.now();
          this.#log.warn({ err: error, role: this.role }, 'Leadership check failed: database unreachable; retrying');
        }
        await sleep(this.#term !== undefined ? RETAKE_MS : STANDBY_RETRY_MS, signal);
      }
    }
    this.#endTerm();
    await leadership.release();
  }

  #leadershipLost(cause: LeadershipLostCause): void {
    const term = this.#term;
    if (term === undefined) return;
    term.held = false;
    this.#log.warn({ cause, epoch: String(term.epoch) }, 'Leadership session lost: settle commits held; taking it back');
    this.#notify('leadership', { held: false, epoch: term.epoch });
    this.#wakeLeader?.();
  }

  #untilLeadershipLost(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || this.#term?.held !== true) return resolve();
      this.#wakeLeader = () => {
        this.#wakeLeader = undefined;
        resolve();
      };
    });
  }

  /** Begins a term: an engine fenced with `epoch`, attached to every node, then the interceptors open. */
  async #beginTerm(epoch: bigint): Promise<void> {
    // Settled-set HTLCs whose final state is not recorded: their final events (or lookups) close them.
    const unfinalized = await this.#store.listUnfinalizedHtlcs();
    const self: { term?: Term } = {};
    // Read at each commit: this term's epoch while it holds the leadership, nothing otherwise.
    const engine = this.#newEngine(() =>
      self.term?.held === true && this.#term === self.term ? { leadership: LEASE_NAME, epoch } : undefined,
    );
    const term: Term = { epoch, held: true, engine };
    self.term = term;
    for (const htlc of unfinalized) engine.expectFinal(htlc);
    for (const gateway of this.#gateways) {
      if (gateway.blockHeight !== undefined) engine.onBlock(gateway.blockHeight);
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
    this.#term = term;
    for (const gateway of this.#gateways) gateway.intercept(true);
    // Final events that arrived while standing by were not handled: look those HTLCs up.
    for (const gateway of this.#gateways) {
      if (gateway.state.kind === 'ready') void this.#reconcileFinal(gateway, engine);
    }
  }

  /** Ends the current term, if any: interceptors closed (LND offers held HTLCs to the next one), engine stopped. */
  #endTerm(): void {
    const term = this.#term;
    if (term === undefined) return;
    this.#term = undefined;
    term.held = false;
    for (const gateway of this.#gateways) {
      gateway.intercept(false);
      term.engine.detachNode(gateway.pubkey);
    }
    const flush = term.engine.flushLog();
    this.#logFlushes.add(flush);
    void flush.finally(() => this.#logFlushes.delete(flush));
    term.engine.stop();
  }

  #newEngine(fence: () => { leadership: string; epoch: bigint } | undefined): SettlementEngine {
    const config = this.#config;
    const s = config.settlement;
    const engine = new SettlementEngine({
      registry: {
        mode: s.mode,
        mppTimeoutMs: s.mppTimeoutSeconds * 1000,
        holdTimeoutMs: s.holdTimeoutSeconds * 1000,
        expiryMarginBlocks: s.expiryMarginBlocks,
        autoFailMarginBlocks: s.autoFailMarginBlocks,
      },
      policy: {
        feeBaseMsat: BigInt(config.routing.feeBaseMsat),
        feeProportionalMillionths: BigInt(config.routing.feeProportionalMillionths),
        cltvExpiryDelta: config.routing.cltvExpiryDelta,
      },
      ecdh: ecdhWithPrivateKey(this.#keyring.identityPrivateKey()),
      keyring: this.#keyring,
      store: settleStoreOf(this.#store, fence),
      logger: this.#log,
    });
    for (const event of ['accepted', 'released', 'committed', 'settled', 'htlcFinal', 'partLost', 'atRisk'] as const) {
      engine.on(event, (payload: unknown) => this.#notify(event, payload));
    }
    return engine;
  }

  /** One gateway per node, connected and checked but not intercepting (a term turns that on). */
  #startGateways(): void {
    this.#gateways = this.#config.nodes.map(
      (node) =>
        new NodeGateway({
          pubkey: node.pubkey.toLowerCase(),
          network: this.#config.network,
          address: node.address,
          tlsCert: node.tlsCertPath,
          macaroon: node.macaroonPath,
          tlsServerName: node.tlsServerName,
          ...(this.#config.lnd.minimumVersions !== undefined ? { minimumVersions: this.#config.lnd.minimumVersions } : {}),
          backoff: {
            initialMs: this.#options.gateway?.backoff?.initialMs ?? this.#config.lnd.backoffInitialSeconds * 1000,
            maxMs: this.#options.gateway?.backoff?.maxMs ?? this.#config.lnd.backoffMaxSeconds * 1000,
          },
          intercept: false,
        }),
    );
    for (const gateway of this.#gateways) {
      gateway.start();
      this.#pumps.push(this.#pump(gateway));
    }
  }

  async #stopGateways(): Promise<void> {
    const gateways = this.#gateways;
    this.#gateways = [];
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(this.#pumps);
    this.#pumps = [];
  }

  /** Final events missed while no subscription ran (lnmux down): ask LND for each unfinalized HTLC. */
  async #reconcileFinal(gateway: NodeGateway, engine: SettlementEngine): Promise<void> {
    try {
      const unfinalized = await this.#store.listUnfinalizedHtlcs();
      for (const htlc of unfinalized) {
        if (bytesToHex(htlc.nodePubkey) !== gateway.pubkey) continue;
        const circuitKey = { chanId: htlc.chanId, htlcId: htlc.htlcId };
        const resolution = await gateway.lookupHtlcResolution(circuitKey);
        if (resolution.ok && resolution.value.kind === 'final') {
          await engine.onHtlcFinal(gateway.pubkey, circuitKey, resolution.value.settled);
        }
      }
    } catch (error) {
      this.#log.warn({ err: error, node: gateway.pubkey }, 'Could not reconcile final HTLC states');
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
    // A standby decides nothing and writes nothing: only the term's engine hears HTLCs, blocks and final
    // events (an HTLC that reached a closing stream is offered again by LND to the next interceptor).
    const engine = this.#term?.engine;
    switch (event.kind) {
      case 'htlc':
        if (engine !== undefined) void engine.onHtlc(event.node, offeredFrom(event.htlc));
        return;
      case 'malformedHtlc':
        this.#log.warn({ node: event.node, error: event.error }, 'Unreadable HTLC from LND');
        if (engine !== undefined && event.circuitKey !== null) {
          void gateway.send({ kind: 'failWithCode', circuitKey: event.circuitKey, code: 'TEMPORARY_CHANNEL_FAILURE' });
        }
        return;
      case 'block':
        engine?.onBlock(event.block.height);
        return;
      case 'finalHtlc':
        if (engine !== undefined) void engine.onHtlcFinal(event.node, event.event.circuitKey, event.event.settled);
        return;
      case 'finalHtlcSubscribed':
        if (engine !== undefined) void this.#reconcileFinal(gateway, engine);
        return;
      case 'state': {
        const s = event.state;
        if (s.kind !== 'ready') engine?.onInterceptorDown(event.node);
        if (s.kind === 'refused' && s.reasons.some((r) => r.kind === 'interceptorNotRequired')) {
          // Started without --requireinterceptor: while no interceptor is registered it forwards (and so
          // fails) HTLCs for the virtual node on its own, and it failed the parts it held at its restart.
          this.#log.error(
            { node: event.node },
            'Node runs without --requireinterceptor: it resolves HTLCs for the virtual node without lnmux; its held parts are dropped from their sets. Restart it with --requireinterceptor',
          );
          engine?.onNodeHtlcsLost(event.node);
        }
        if (s.kind === 'ready') {
          this.#log.info({ node: event.node, version: s.version.version }, 'Successfully connected to LND');
          if (gateway.intercepting) this.#log.info({ node: event.node }, 'Starting htlc interception');
        } else if (s.kind === 'refused') {
          this.#log.error({ node: event.node, reasons: s.reasons.map(describeRefusal) }, 'Node refused');
        } else if (s.kind === 'backoff') {
          this.#log.warn({ node: event.node, retryInMs: Math.round(s.attemptMs), cause: describeRetryCause(s.cause) }, 'Node unavailable; retrying');
        }
        const detail =
          s.kind === 'refused' ? s.reasons.map(describeRefusal).join('; ') : s.kind === 'backoff' ? describeRetryCause(s.cause) : undefined;
        this.#notify('node', { pubkey: event.node, state: s.kind, ...(detail !== undefined ? { detail } : {}) });
        return;
      }
      case 'stream':
        if (event.stream === 'interceptor') {
          if (event.state.kind === 'open') engine?.onInterceptorUp(event.node);
          else engine?.onInterceptorDown(event.node);
        }
        if (event.state.kind === 'open') this.#log.info({ node: event.node, stream: event.stream }, 'Stream open');
        else if (event.state.kind === 'backoff') {
          this.#log.warn(
            {
              node: event.node,
              stream: event.stream,
              retryInMs: event.state.attemptMs,
              end: event.state.end.kind,
              ...(event.state.end.kind === 'failed' ? { cause: describeRpcFailure(event.state.end.failure) } : {}),
            },
            'Stream lost; reconnecting',
          );
        }
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

function describeRetryCause(cause: NodeRetryCause): string {
  switch (cause.kind) {
    case 'refused':
      return cause.reasons.map(describeRefusal).join('; ');
    case 'rpcFailed':
      return `${cause.method}: ${describeRpcFailure(cause.failure)}`;
    case 'configUnreadable':
      return cause.details;
  }
}

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

function hashBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value !== 'string') return value;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new TypeError(`expected 32 bytes as 64 hex characters, got ${JSON.stringify(value)}`);
  return hexToBytes(value.toLowerCase());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
