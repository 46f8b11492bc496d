/**
 * The Mux: lnmux as a library. It owns the store, one gateway per cluster node and the settlement engine,
 * and exposes invoices and (in hold mode) settle decisions to the application.
 *
 * Lifecycle: `Mux.open(config)` checks the config and the database schema; `start()` takes the cluster's
 * leader lease (a second instance waits as a standby, DESIGN.md invariant 6) and then intercepts on
 * every node; `stop()` releases everything.
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
  type CancelOutcome,
  type HtlcLogEntry,
  type Invoice,
  type InvoicePage,
  type ListInvoicesQuery,
  type Store,
} from '../store/index.js';
import { identityKeyBytes, parseConfig, storeConfigOf, type MuxConfig, type MuxConfigInput } from './config.js';
import { SettlementEngine, type EngineEvents } from './engine.js';
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
   * on their way (the stored invoice reads `settleRequested` until every node reports its HTLC final).
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
  /** This instance became the active one, or lost the lease and went back to standby. */
  role: [{ role: 'active' | 'standby' }];
  /** A node's connection changed state (connected, refused with the reason, backing off). */
  node: [{ pubkey: string; state: string; detail?: string }];
}

export interface MuxOptions {
  /** A pino logger (default: a new one at the configured level, JSON to stdout). */
  readonly logger?: Logger;
  /** Apply pending database migrations on open (default false: refuse an old schema and say which command fixes it). */
  readonly migrate?: boolean;
  /** This instance's name in the leader lease (default host:pid:random). */
  readonly instanceId?: string;
  /** Leader lease duration, ms (default 15 s): a standby takes over at most this long after the active one died. */
  readonly leaseTtlMs?: number;
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

export class Mux extends EventEmitter<MuxEvents> {
  /** Kept private: it holds the identity key (a secret, never to be logged). */
  readonly #config: MuxConfig;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #log: Logger;
  readonly #engine: SettlementEngine;
  readonly #options: MuxOptions;
  readonly #instanceId: string;
  readonly #nodes: readonly { readonly pubkey: Uint8Array; readonly pubkeyHex: string; readonly virtualChannelId: bigint }[];
  #gateways: NodeGateway[] = [];
  #pumps: Promise<void>[] = [];
  #running: AbortController | undefined;
  #leaderLoop: Promise<void> | undefined;

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
    const s = config.settlement;
    this.#engine = new SettlementEngine({
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
      ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
      keyring,
      store: settleStoreOf(store),
      logger: log,
    });
    for (const event of ['accepted', 'released', 'committed', 'settled', 'htlcFinal', 'partLost', 'atRisk'] as const) {
      this.#engine.on(event, (payload: unknown) => this.#notify(event, payload));
    }
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

  /** HTLCs held in memory right now. */
  get heldHtlcCount(): number {
    return this.#engine.heldHtlcCount;
  }

  /**
   * Starts: waits for the leader lease (standby until then), then connects to every node and intercepts.
   * Resolves once the lease loop runs; node connections come up in the background (see the 'node' event).
   */
  async start(): Promise<void> {
    if (this.#running) throw new Error('lnmux already started');
    this.#running = new AbortController();
    this.#log.info('InvoiceRegistry starting');
    this.#leaderLoop = this.#lead(this.#running.signal);
  }

  /** Stops intercepting, releases the lease and closes the database. Idempotent. */
  async stop(): Promise<void> {
    const running = this.#running;
    if (running && !running.signal.aborted) {
      running.abort();
      await this.#leaderLoop;
    }
    await this.#engine.flushLog();
    this.#engine.stop();
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
    if (outcome.kind === 'cancelled' || outcome.kind === 'alreadyCancelled') this.#engine.invoiceCancelled(hash);
    return outcome;
  }

  /**
   * Hold mode: settles the accepted set `setId` (32 bytes or 64 hex). Resolves once the decision is
   * committed (the SETTLEs then go out). Throws UnknownSetError if no accepted set has this id.
   */
  settle(setId: Uint8Array | string): Promise<void> {
    return this.#engine.settle(hashBytes(setId));
  }

  // ------------------------------------------------------------------------------------------

  /** Holds the leader lease while running: intercept while we hold it, stand by otherwise. */
  async #lead(signal: AbortSignal): Promise<void> {
    const ttl = this.#options.leaseTtlMs ?? 15_000;
    let active = false;
    let announcedStandby = false;
    while (!signal.aborted) {
      try {
        const outcome = active
          ? await this.#store.renewLease(LEASE_NAME, this.#instanceId, ttl)
          : await this.#store.acquireLease(LEASE_NAME, this.#instanceId, ttl);
        const holding = outcome.kind === 'acquired' || outcome.kind === 'renewed';
        if (holding && !active) {
          // Start before taking the role: if the store fails here, this instance is still a standby and
          // the next check (the lease is ours, so it is taken again) retries. Active without gateways
          // would hold the lease without intercepting, for good.
          await this.#startGateways();
          active = true;
          announcedStandby = false;
          this.#log.info({ instance: this.#instanceId }, 'Leader lease acquired; intercepting');
          this.#notify('role', { role: 'active' });
        } else if (!holding && active) {
          active = false;
          announcedStandby = true;
          this.#log.warn({ instance: this.#instanceId }, 'Leader lease lost; standing by');
          await this.#stopGateways();
          this.#notify('role', { role: 'standby' });
        } else if (!holding && !announcedStandby) {
          announcedStandby = true;
          this.#log.info({ holder: outcome.kind === 'heldByOther' ? outcome.lease.holder : undefined }, 'Standing by: another instance is active');
          this.#notify('role', { role: 'standby' });
        }
      } catch (error) {
        // Database down: stay as we are. An active instance keeps intercepting, so regular forwards keep
        // flowing (invariant 5) and its HTLCs wait for the database; a second instance cannot take the
        // nodes over meanwhile, because LND accepts one interceptor per node.
        this.#log.warn({ err: error }, 'Leader lease check failed');
      }
      await sleep(ttl / 3, signal);
    }
    if (active) {
      await this.#stopGateways();
      await this.#store.releaseLease(LEASE_NAME, this.#instanceId).catch(() => undefined);
    }
  }

  async #startGateways(): Promise<void> {
    // Settled-set HTLCs whose final state is not recorded: their final events (or lookups) close them.
    const unfinalized = await this.#store.listUnfinalizedHtlcs();
    for (const htlc of unfinalized) this.#engine.expectFinal(htlc);
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
        }),
    );
    for (const gateway of this.#gateways) {
      const node = this.#nodes.find((n) => n.pubkeyHex === gateway.pubkey)!;
      this.#engine.attachNode(
        {
          pubkey: node.pubkey,
          pubkeyHex: node.pubkeyHex,
          send: async (response) => {
            const result = await gateway.send(response);
            if (!result.ok) throw new Error(`not delivered: ${result.error.kind}`);
          },
        },
        node.virtualChannelId,
      );
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
    for (const g of gateways) this.#engine.detachNode(g.pubkey);
  }

  /** Final events missed while no subscription ran (lnmux down): ask LND for each unfinalized HTLC. */
  async #reconcileFinal(gateway: NodeGateway): Promise<void> {
    try {
      const unfinalized = await this.#store.listUnfinalizedHtlcs();
      for (const htlc of unfinalized) {
        if (bytesToHex(htlc.nodePubkey) !== gateway.pubkey) continue;
        const circuitKey = { chanId: htlc.chanId, htlcId: htlc.htlcId };
        const resolution = await gateway.lookupHtlcResolution(circuitKey);
        if (resolution.ok && resolution.value.kind === 'final') {
          await this.#engine.onHtlcFinal(gateway.pubkey, circuitKey, resolution.value.settled);
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
    switch (event.kind) {
      case 'htlc':
        void this.#engine.onHtlc(event.node, offeredFrom(event.htlc));
        return;
      case 'malformedHtlc':
        this.#log.warn({ node: event.node, error: event.error }, 'Unreadable HTLC from LND');
        if (event.circuitKey !== null) {
          void gateway.send({ kind: 'failWithCode', circuitKey: event.circuitKey, code: 'TEMPORARY_CHANNEL_FAILURE' });
        }
        return;
      case 'block':
        this.#engine.onBlock(event.block.height);
        return;
      case 'finalHtlc':
        void this.#engine.onHtlcFinal(event.node, event.event.circuitKey, event.event.settled);
        return;
      case 'finalHtlcSubscribed':
        void this.#reconcileFinal(gateway);
        return;
      case 'state': {
        const s = event.state;
        if (s.kind !== 'ready') this.#engine.onInterceptorDown(event.node);
        if (s.kind === 'refused' && s.reasons.some((r) => r.kind === 'interceptorNotRequired')) {
          // Started without --requireinterceptor: while no interceptor is registered it forwards (and so
          // fails) HTLCs for the virtual node on its own, and it failed the parts it held at its restart.
          this.#log.error(
            { node: event.node },
            'Node runs without --requireinterceptor: it resolves HTLCs for the virtual node without lnmux; its held parts are dropped from their sets. Restart it with --requireinterceptor',
          );
          this.#engine.onNodeHtlcsLost(event.node);
        }
        if (s.kind === 'ready') {
          this.#log.info({ node: event.node, version: s.version.version }, 'Successfully connected to LND');
          this.#log.info({ node: event.node }, 'Starting htlc interception');
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
          if (event.state.kind === 'open') this.#engine.onInterceptorUp(event.node);
          else this.#engine.onInterceptorDown(event.node);
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
