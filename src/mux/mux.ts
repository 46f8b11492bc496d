/**
 * The Mux: lnmux as a library, a facade over its parts. It owns the store, the cluster (cluster.ts: one
 * gateway per node), the leadership loop (leader-loop.ts) and, while it leads, the current term's
 * settlement engine (term.ts); it exposes invoices and (in hold mode) settle decisions to the
 * application, and forwards their events (events.ts). docs/architecture.md shows the parts.
 *
 * Lifecycle: `Mux.open(config)` checks the config and the database schema; `start()` connects to every
 * node (checks, blocks, final HTLC events: no interceptor yet) and claims the cluster's leadership. A
 * second instance waits as a standby, its node connections ready; it takes over the moment the leader's
 * session ends: one interceptor registration per node. `stop()` releases everything.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bytesToHex, deriveKeyring, hexToBytes, openPaymentAddr, type Keyring } from '../protocol/index.js';
import {
  openStore,
  requireNodeIdentity,
  type CancelOutcome,
  type HtlcLogEntry,
  type NewInvoiceEvent,
  type Invoice,
  type InvoiceEvent,
  type InvoicePage,
  type ListInvoicesQuery,
  type Store,
} from '../store/index.js';
import { Cluster } from './cluster.js';
import { clusterNodesOf, invoiceContextOf, type ClusterNode } from './config-map.js';
import { isWellKnownIdentityKey } from './well-known-keys.js';
import { identityKeyBytes, parseConfig, storeConfigOf, type MuxConfig, type MuxConfigInput } from './config.js';
import { UnknownSetError } from './engine.js';
import type { MuxEvents } from './events.js';
import { makeInvoice, type CreatedInvoice, type InvoiceRequest } from './invoice-factory.js';
import { LeaderLoop, type TermHost } from './leader-loop.js';
import { invoiceEventWriter, type BatchedWriter } from './batched-writer.js';
import { MuxMetrics } from './metrics.js';
import type { MuxStatus } from './status.js';
import { emitSafely } from './safe-emit.js';
import { OutageReporter } from './outage-reporter.js';
import { beginTerm, endTerm, type Term, type TermContext } from './term.js';

export type { MuxEvents } from './events.js';
export type { MuxStatus, NodeStatus, HeldSetStatus } from './status.js';

export interface MuxOptions {
  /**
   * A pino logger (or any logger with pino's methods and `isLevelEnabled`). Default: none, the library
   * writes nothing (the config's `logging` section is for `lnmux run`, which passes its own).
   */
  readonly logger?: Logger;
  /**
   * A prom-client Registry to register this Mux's metrics on (docs/operations.md lists them). Default:
   * no metrics. Never the global registry: give each Mux its own (or distinct registries merged with
   * `Registry.merge`), since two Mux instances cannot register the same names on one registry.
   */
  readonly metricsRegistry?: Registry;
  /** Apply pending database migrations on open (default false: refuse an old schema and say which command fixes it). */
  readonly migrate?: boolean;
  /** This instance's name in the leadership record (default host:pid:random). */
  readonly instanceId?: string;
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

const LEADERSHIP_NAME = 'lnmux-cluster';

export class Mux extends EventEmitter<MuxEvents> {
  /** Kept private: it holds the identity key (a secret, never to be logged). */
  readonly #config: MuxConfig;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #log: Logger;
  /** Database outages, told once at the start, once a minute, once at the end (engines and leader loop). */
  readonly #outages: OutageReporter;
  readonly #options: MuxOptions;
  readonly #instanceId: string;
  readonly #nodes: readonly ClusterNode[];
  readonly #cluster: Cluster;
  readonly #termContext: TermContext;
  readonly #metrics: MuxMetrics | undefined;
  #running: AbortController | undefined;
  #leader: { readonly loop: LeaderLoop; readonly done: Promise<void> } | undefined;
  #term: Term | undefined;
  /** HTLC log writes of ended terms still in flight (stop() waits for them). */
  readonly #logFlushes = new Set<Promise<void>>();
  /** The invoice stream's accepted / released events (the others are written with the changes). */
  readonly #invoiceEvents: BatchedWriter<NewInvoiceEvent>;

  private constructor(config: MuxConfig, store: Store, keyring: Keyring, log: Logger, options: MuxOptions) {
    super();
    this.#config = config;
    this.#store = store;
    this.#keyring = keyring;
    this.#log = log;
    this.#outages = new OutageReporter({ log });
    this.#options = options;
    this.#instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${bytesToHex(randomBytes(4))}`;
    this.#nodes = clusterNodesOf(config);
    this.#metrics = options.metricsRegistry !== undefined ? new MuxMetrics(options.metricsRegistry, () => this.status()) : undefined;
    this.#invoiceEvents = invoiceEventWriter({ write: (events) => store.recordInvoiceEvents(events), logger: log });
    this.#cluster = new Cluster({
      config,
      nodes: this.#nodes,
      store,
      log,
      notifyNode: (payload) => this.#notify('node', payload),
      ...(options.gateway?.backoff !== undefined ? { backoff: options.gateway.backoff } : {}),
      ...(this.#metrics !== undefined ? { observer: this.#metrics } : {}),
    });
    this.#termContext = {
      config,
      keyring,
      store,
      cluster: this.#cluster,
      log,
      leadership: LEADERSHIP_NAME,
      notify: (event, payload) => this.#notify(event, payload),
      ...(this.#metrics !== undefined ? { observer: this.#metrics } : {}),
      outages: this.#outages,
    };
  }

  /**
   * Checks the configuration, derives the keys, opens the database (schema must be current unless
   * `options.migrate`) and, before anything else uses it, binds the database to the identity key's public
   * key or checks that it is bound to it (docs/architecture.md, invariant 8). Throws ConfigError (naming the field),
   * SchemaVersionError (naming the command that fixes it), IdentityKeyMismatchError (naming both public
   * keys: use the key the database was made with, or a new database) or StoreUnavailableError.
   */
  static async open(input: MuxConfigInput | MuxConfig, options: MuxOptions = {}): Promise<Mux> {
    const config = parseConfig(input);
    const identityKey = identityKeyBytes(config);
    const keyring = deriveKeyring(identityKey);
    const log = options.logger ?? pino({ level: 'silent' });
    if (isWellKnownIdentityKey(identityKey)) {
      log.warn(
        { node: bytesToHex(keyring.nodePubkey), network: config.network },
        'The identity key is a well-known one (printed in lnmux\'s docs or tests, or trivial): anyone can impersonate ' +
          'this virtual node. Fine for tests; never on mainnet (refused there). `lnmux init` writes a fresh key',
      );
    }
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
    if (event === 'accepted') {
      const p = payload as MuxEvents['accepted'][0];
      this.#invoiceEvents.add({ hash: hexToBytes(p.paymentHash), kind: 'accepted', setId: hexToBytes(p.setId), amountMsat: p.amountMsat, at: new Date() });
    } else if (event === 'released') {
      const p = payload as MuxEvents['released'][0];
      this.#invoiceEvents.add({ hash: hexToBytes(p.paymentHash), kind: 'released', setId: hexToBytes(p.setId), reason: p.reason, at: new Date() });
    }
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

  /** This Mux's metrics (undefined without `metricsRegistry`): the status page reads its failure counts. */
  get metrics(): MuxMetrics | undefined {
    return this.#metrics;
  }

  /** What this instance looks like now: role, term, height, held sets, nodes (see MuxStatus). No I/O. */
  status(): MuxStatus {
    const term = this.#term;
    const nodes = this.#cluster.nodeStatuses();
    const nodeHeight = Math.max(0, ...nodes.map((n) => n.height ?? 0));
    const sets = (term?.engine.heldSets() ?? []).map((s) => ({
      paymentHash: s.paymentHashHex,
      phase: s.phase,
      parts: s.parts,
      heldMsat: s.heldMsat,
      firstArrivedAtMs: s.firstArrivedAtMs,
    }));
    return {
      role: term !== undefined ? 'active' : 'standby',
      ...(term !== undefined ? { epoch: term.epoch } : {}),
      leadershipHeld: term?.held ?? false,
      height: Math.max(term?.engine.height ?? 0, nodeHeight),
      heldHtlcs: term?.engine.heldHtlcCount ?? 0,
      sets,
      nodes,
    };
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
    this.#cluster.start();
    const loop = new LeaderLoop({
      store: this.#store,
      name: LEADERSHIP_NAME,
      instanceId: this.#instanceId,
      ...(this.#options.leadership !== undefined ? { timing: this.#options.leadership } : {}),
      host: this.#termHost,
      log: this.#log,
      notify: (event, payload) => this.#notify(event, payload),
      ...(this.#metrics !== undefined ? { observer: this.#metrics } : {}),
      outages: this.#outages,
    });
    this.#leader = { loop, done: loop.run(this.#running.signal) };
  }

  /** Stops intercepting, releases the leadership, disconnects and closes the database. Idempotent. */
  async stop(): Promise<void> {
    const running = this.#running;
    if (running && !running.signal.aborted) {
      running.abort();
      this.#leader?.loop.wake();
      await this.#leader?.done;
      await this.#cluster.stop();
    }
    this.#endTerm();
    // The last HTLC log entries of the ended terms and invoice events, before the database closes.
    await Promise.all([...this.#logFlushes, this.#invoiceEvents.stop()]);
    await this.#store.close();
  }

  /**
   * Creates, records and returns a signed invoice. Throws InvoiceRequestError for a bad request. Its
   * database is bound to this Mux's identity key (Mux.open refused any other), so the invoice can be paid.
   */
  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    const created = makeInvoice(request, invoiceContextOf(this.#config, this.#keyring, this.#nodes), Date.now() / 1000);
    await this.#store.recordInvoice({
      hash: created.paymentHash,
      kind: created.hold ? 'hold' : 'stateless',
      ...(created.amountMsat !== undefined ? { amountMsat: created.amountMsat } : {}),
      ...(created.minAmountMsat !== undefined ? { minAmountMsat: created.minAmountMsat } : {}),
      ...(created.metadata !== undefined ? { metadata: created.metadata } : {}),
      paymentAddr: created.paymentAddr,
      description:
        created.description !== undefined
          ? { kind: 'text', text: created.description }
          : { kind: 'hash', hash: created.descriptionHash! },
      paymentRequest: created.paymentRequest,
      createdAt: new Date(created.createdAt * 1000),
      expiresAt: new Date(created.expiresAt * 1000),
    });
    this.#log.info(
      {
        hash: bytesToHex(created.paymentHash),
        amountMsat: created.amountMsat !== undefined ? String(created.amountMsat) : 'payer chooses',
        ...(created.minAmountMsat !== undefined ? { minAmountMsat: String(created.minAmountMsat) } : {}),
        kind: created.hold ? 'hold' : 'stateless',
      },
      'Invoice created',
    );
    return created;
  }

  /**
   * The invoice with this payment hash (32 bytes or 64 hex), or undefined.
   * @throws TypeError for a hash of another length.
   */
  getInvoice(paymentHash: Uint8Array | string): Promise<Invoice | undefined> {
    return this.#store.getInvoice(hashBytes(paymentHash));
  }

  /**
   * The preimage of a stored invoice (32 bytes): for a stateless invoice derived again from its
   * payment_addr with the identity key (protocol/stateless-invoice.ts); for a hold or Go lnmux invoice the
   * one stored with its settle commit. Undefined if none is known (a hold invoice not settled yet, or a
   * payment_addr that does not derive the invoice's hash). A secret until the invoice is paid: never log it.
   */
  invoicePreimage(invoice: { readonly hash: Uint8Array; readonly paymentAddr: Uint8Array; readonly preimage?: Uint8Array }): Uint8Array | undefined {
    if (invoice.preimage !== undefined) return invoice.preimage;
    const opened = openPaymentAddr(this.#keyring, invoice.paymentAddr, invoice.hash);
    return opened.ok ? opened.value.preimage : undefined;
  }

  /**
   * What happened to every HTLC of this payment hash that lnmux did not settle, in time order: when each
   * part joined its set, which lnmux failed and why (the registry's outcome), which its node dropped
   * (lost, and why). The settled ones are the invoice's set (`Store.listInvoiceHtlcs`).
   * @throws TypeError for a hash that is not 32 bytes or 64 hex.
   */
  htlcLog(paymentHash: Uint8Array | string): Promise<readonly HtlcLogEntry[]> {
    return this.#store.listHtlcLog(hashBytes(paymentHash));
  }

  /** A page of invoices in creation order (see ListInvoicesQuery). */
  listInvoices(query: ListInvoicesQuery): Promise<InvoicePage> {
    return this.#store.listInvoices(query);
  }

  /**
   * The invoice stream (docs/library.md, "Invoice events"): the events with an index above `after`, in
   * index order, at most `limit` (1 .. 1000). Only events given an index by {@link sequenceInvoiceEvents}
   * are listed: call it before reading (once per round, whatever the number of readers).
   */
  listInvoiceEvents(after: bigint, limit: number): Promise<readonly InvoiceEvent[]> {
    return this.#store.listInvoiceEvents(after, limit);
  }

  /**
   * Gives the committed invoice events without an index theirs (src/store/invoice-events.ts): one short
   * transaction, serialized with any other instance's. Returns the highest index given, if any.
   */
  sequenceInvoiceEvents(): Promise<bigint | undefined> {
    return this.#store.sequenceInvoiceEvents();
  }

  /**
   * Cancels an invoice for good (durable before this resolves): it can never be paid, and in hold mode
   * its accepted set is released. An invoice whose settle was committed cannot be cancelled (see the outcome).
   * @throws TypeError for a hash that is not 32 bytes or 64 hex.
   */
  async cancelInvoice(paymentHash: Uint8Array | string): Promise<CancelOutcome> {
    const hash = hashBytes(paymentHash);
    const outcome = await this.#store.cancelInvoice(hash);
    if (outcome.kind === 'cancelled' || outcome.kind === 'alreadyCancelled') this.#term?.engine.invoiceCancelled(hash);
    return outcome;
  }

  /**
   * Settles the accepted set `setId` (32 bytes or 64 hex): in hold mode, and for a hold invoice's set
   * (event `accepted` with `needsPreimage`) with `preimage` (32 bytes or 64 hex; its SHA256 must be the
   * invoice's payment hash, it is stored with the decision). Resolves once the decision is committed
   * (the SETTLEs then go out). Rejects with UnknownSetError if no accepted set has this id, PreimageError
   * for a hold invoice's set without its preimage or with a wrong one (the set stays accepted).
   * @throws TypeError for a set id or preimage that is not 32 bytes or 64 hex (at once, not a rejection).
   */
  settle(setId: Uint8Array | string, options: { readonly preimage?: Uint8Array | string } = {}): Promise<void> {
    const engine = this.#term?.engine;
    if (engine === undefined) {
      return Promise.reject(new UnknownSetError('no accepted set: this instance is a standby (another instance leads)'));
    }
    return engine.settle(hashBytes(setId), options.preimage !== undefined ? hashBytes(options.preimage) : undefined);
  }

  /** The leader loop's view of the terms (leader-loop.ts). */
  readonly #termHost: TermHost = (() => {
    const mux = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the getter needs the Mux, not the object
    return {
      get term() {
        return mux.#term;
      },
      beginTerm: (epoch: bigint) => mux.#beginTerm(epoch),
      endTerm: () => mux.#endTerm(),
      // The session is lost when the database restarts, and a crash can lose final states written
      // without waiting for the disk: ask the nodes for them again.
      resumeTerm: () => {
        if (mux.#term !== undefined) mux.#cluster.reconcileFinal(mux.#term.engine);
      },
    };
  })();

  /** Begins a term with `epoch`: its engine becomes the one the nodes talk to, the interceptors open. */
  async #beginTerm(epoch: bigint): Promise<void> {
    const term = await beginTerm(this.#termContext, epoch, (t) => this.#term === t);
    this.#term = term;
    try {
      this.#cluster.attach(term.engine);
    } catch (error) {
      // Never a current term that is not attached: the loop lets the leadership go (leader-loop.ts).
      this.#endTerm();
      throw error;
    }
  }

  /** Ends the current term, if any (see term.ts). */
  #endTerm(): void {
    const term = this.#term;
    if (term === undefined) return;
    this.#term = undefined;
    const flush = endTerm(this.#termContext, term);
    this.#logFlushes.add(flush);
    void flush.finally(() => this.#logFlushes.delete(flush));
  }
}

/** @throws TypeError unless `value` is 32 bytes, or 64 hex characters. */
function hashBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value !== 'string') {
    if (value.length !== 32) throw new TypeError(`expected 32 bytes, got ${value.length}`);
    return value;
  }
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new TypeError(`expected 32 bytes as 64 hex characters, got ${JSON.stringify(value)}`);
  return hexToBytes(value.toLowerCase());
}
