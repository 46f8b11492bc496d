/**
 * The settlement engine: the shell around the registry. It is the only code that awaits: an event
 * comes in, the registry steps, and the engine carries out the decisions (reply to a node, commit to
 * the store, arm the one timer). Foreign HTLCs are resumed before any other work.
 *
 * Invariants kept here (docs/architecture.md): no SETTLE before the store confirmed the commit (1); a commit whose
 * outcome is unknown is retried, never assumed (1); a reply that could not be sent is not assumed
 * delivered: LND offers the HTLC again and the registry answers the same way (2); input from the network
 * never throws out of the event handlers (4).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { bytesToHex, circuitKeyString, createFailurePacket, encodeFailureMessage, type CircuitKey, type Ecdh, type Keyring, type NodeCircuitKey } from '../protocol/index.js';
import { acceptStoredTerms, inspectHtlc, type HopPolicy, type InspectContext, type OfferedHtlc, type RejectReason, type Rejection } from './inspect.js';

/** The inspection's refusals that come from the configured hop policy, not from the HTLC itself. */
const POLICY_REASONS: ReadonlySet<RejectReason> = new Set(['feeInsufficient', 'cltvDeltaTooSmall']);
/** No policy: what a committed HTLC is checked against when offered again. */
const NO_POLICY: HopPolicy = { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 0 };
import { Registry } from '../registry/registry.js';
import type { Decision, InvoiceView, RegistryConfig, RegistryEvent } from '../registry/types.js';
import type { NodeLink, SettleStore, StoreInvoiceView } from './ports.js';
import { htlcLogWriter, type BatchedWriter } from './batched-writer.js';
import type { HtlcLogEntry } from '../store/index.js';
import { sleep, systemClock, type Clock } from '../shell/clock.js';
import type { PaymentEvents } from './events.js';
import { emitSafely } from './safe-emit.js';
import { NO_METRICS, type EngineObserver } from './metrics.js';
import { isExpectedOutage, OutageReporter } from './outage-reporter.js';

export interface EngineOptions {
  readonly registry: RegistryConfig;
  readonly policy: HopPolicy;
  /** The invoices' min_final_cltv_expiry_delta (config `invoice.minFinalCltvExpiryDelta`), blocks. */
  readonly minFinalCltvExpiryDelta: number;
  /** Accept the Go lnmux's invoices too (config `invoice.acceptGoLnmuxInvoices`); default false. */
  readonly acceptGoLnmuxInvoices?: boolean;
  readonly ecdh: Ecdh;
  readonly keyring: Keyring;
  readonly store: SettleStore;
  readonly logger: Logger;
  /** Time and timers (default: the system clock); injected for tests. */
  readonly clock?: Clock;
  /** Delay before retrying a store call that failed to reach the database, ms. */
  readonly storeRetryMs?: number;
  /** Says database outages (one line at the start, one a minute, one at the end); default one of its own. */
  readonly outages?: OutageReporter;
  /**
   * After a node's interceptor stream opens, how long it has to offer again every HTLC it holds before
   * a held part of that node not offered again is taken as gone, ms (default 3 s; LND replays its held
   * HTLCs the moment the interceptor registers).
   */
  readonly replayWindowMs?: number;
  /** Told what happens, for the metrics (metrics.ts); default: nobody. */
  readonly observer?: EngineObserver;
}

const DEFAULT_REPLAY_WINDOW_MS = 3_000;

/** Thrown by settle() when no accepted set has this id. */
export class UnknownSetError extends Error {
  override readonly name = 'UnknownSetError';
}

/**
 * Thrown by settle() for a hold invoice's set without its preimage, or with one whose SHA256 is not the
 * invoice's payment hash. The set stays accepted: settle again with the right one, or cancel.
 */
export class PreimageError extends Error {
  override readonly name = 'PreimageError';
}

export class SettlementEngine extends EventEmitter<PaymentEvents> {
  readonly #options: EngineOptions;
  readonly #registry: Registry;
  readonly #nodes = new Map<string, { link: NodeLink; virtualChannelId: bigint }>();
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #outages: OutageReporter;
  readonly #observer: EngineObserver;
  /** The logger's debug level is on (read once: the per-HTLC debug lines build their fields only then). */
  readonly #debug: boolean;
  /** When each set's commit was asked, by set id hex, unix ms: its settle latency counts from there. */
  readonly #commitAskedAt = new Map<string, number>();
  /** The set whose SETTLEs the current step releases (its latency is observed once they are handed out). */
  /** The set whose SETTLEs the current step hands out (settle latency, recent payments). */
  #releasing: { readonly setId: string; readonly paymentHash: string; readonly amountMsat: bigint } | undefined;
  #cancelTimer: (() => void) | undefined;
  #timerAt: number | undefined;
  #stopped = false;
  /** Circuit key ids of settled-set HTLCs whose final event the store still waits for. */
  readonly #awaitingFinal = new Set<string>();
  /** Hold-mode settle() callers waiting for their set's commit, by set id hex. */
  readonly #settleWaiters = new Map<string, { resolve: () => void; reject: (e: Error) => void }[]>();
  /** Nodes whose interceptor stream is down, as far as the engine has heard. */
  readonly #linksDown = new Set<string>();
  /** Per node, the timer that closes its replay window (see EngineOptions.replayWindowMs). */
  readonly #replayTimers = new Map<string, () => void>();
  /**
   * Circuit key ids of HTLCs held in LND's on-chain flow (their incoming channel closed): LND accepts
   * only SETTLE for them, and a FAIL or RESUME would end the interceptor stream.
   */
  readonly #onChain = new Set<string>();
  /** What happened to each HTLC lnmux did not settle, written in batches (the store's HTLC log). */
  readonly #htlcLog: BatchedWriter<HtlcLogEntry>;
  /** The node whose report set the best height (the registry's), for the logs; undefined if none said. */
  #heightNode: string | undefined;
  /** Each node's last reported height: nodes may disagree, the best one counts. */
  readonly #nodeHeights = new Map<string, number>();
  /** Resolves once a height is known (or the engine stops): HTLCs for the virtual node wait for it. */
  readonly #heightKnown: Promise<void>;
  #resolveHeightKnown!: () => void;

  constructor(options: EngineOptions) {
    super();
    this.#options = options;
    this.#registry = new Registry(options.registry);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger;
    this.#outages = options.outages ?? new OutageReporter({ log: options.logger, clock: this.#clock });
    this.#observer = options.observer ?? NO_METRICS;
    this.#debug = options.logger.isLevelEnabled('debug');
    this.#htlcLog = htlcLogWriter({ write: (entries) => options.store.logHtlcs(entries), logger: options.logger, clock: this.#clock });
    this.#heightKnown = new Promise((resolve) => {
      this.#resolveHeightKnown = resolve;
    });
  }

  get height(): number {
    return this.#registry.height;
  }

  get heldHtlcCount(): number {
    return this.#registry.heldHtlcCount;
  }

  /** The sets held in memory (Mux.status()). */
  heldSets(): ReturnType<Registry['heldSets']> {
    return this.#registry.heldSets();
  }

  /** Registers a cluster node's interceptor link. */
  attachNode(link: NodeLink, virtualChannelId: bigint): void {
    this.#nodes.set(link.pubkeyHex, { link, virtualChannelId });
  }

  detachNode(pubkeyHex: string): void {
    this.#nodes.delete(pubkeyHex);
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    for (const cancel of this.#replayTimers.values()) cancel();
    this.#replayTimers.clear();
    for (const waiters of this.#settleWaiters.values()) for (const w of waiters) w.reject(new Error('lnmux stopped'));
    this.#settleWaiters.clear();
    this.#resolveHeightKnown();
    void this.#htlcLog.stop();
  }

  /** Writes the queued HTLC log entries (best effort, one attempt), for a clean stop. */
  flushLog(): Promise<void> {
    return this.#htlcLog.stop();
  }

  /**
   * A node's height (GetInfo's when it became ready, then each block): the registry keeps the best of
   * all nodes, and the engine remembers which node said it, for the logs.
   */
  onBlock(height: number, node?: string): void {
    if (node !== undefined) this.#nodeHeights.set(node, height);
    const before = this.#registry.height;
    this.#step({ kind: 'blockConnected', height });
    if (this.#registry.height > before) this.#heightNode = node;
    if (this.#registry.height > 0) this.#resolveHeightKnown();
  }

  /** The height the checks use, the node it came from, and every node's own when they disagree (logs). */
  #heightFields(): { height: number; heightNode?: string; nodeHeights?: Record<string, number> } {
    const height = this.#registry.height;
    const fields: { height: number; heightNode?: string; nodeHeights?: Record<string, number> } = { height };
    if (this.#heightNode !== undefined) fields.heightNode = this.#heightNode;
    const heights = [...this.#nodeHeights.values()];
    if (heights.some((h) => h !== height)) fields.nodeHeights = Object.fromEntries(this.#nodeHeights);
    return fields;
  }

  /**
   * An HTLC offered by a node's interceptor. Never throws: whatever the input, the HTLC gets an answer
   * or is held (and then LND's auto-fail is the backstop).
   */
  async onHtlc(nodePubkeyHex: string, htlc: Omit<OfferedHtlc, 'key'> & { circuitKey: NodeCircuitKey }): Promise<void> {
    const node = this.#nodes.get(nodePubkeyHex);
    if (node === undefined) return;
    const key: CircuitKey = { nodePubkey: node.link.pubkey, ...htlc.circuitKey };
    const offered: OfferedHtlc = { ...htlc, key };
    // LND's on-chain flow offers the HTLC with its settlement deadline, the incoming expiry, as its
    // auto-fail height (off chain it is 19 blocks earlier): only SETTLE is accepted for it then.
    if (htlc.autoFailHeight === htlc.incomingExpiry) this.#onChain.add(circuitKeyString(key));
    if (this.#registry.height === 0 && htlc.outgoingRequestedChanId === node.virtualChannelId) {
      // No node told its height yet (cluster.ts feeds GetInfo's before any interceptor opens, so this
      // is a guard): a failure carries the current height, never 0. Foreign HTLCs do not wait.
      this.#log.warn({ circuitKey: circuitKeyString(key) }, 'Htlc held until a node tells the chain height');
      await this.#heightKnown;
      if (this.#stopped) return; // LND offers it again to the next interceptor
    }
    const context: InspectContext = {
      virtualChannelId: node.virtualChannelId,
      policy: this.#options.policy,
      ecdh: this.#options.ecdh,
      keyring: this.#options.keyring,
      height: this.#registry.height,
      minFinalCltvExpiryDelta: this.#options.minFinalCltvExpiryDelta,
      acceptGoLnmuxInvoices: this.#options.acceptGoLnmuxInvoices === true,
    };
    let inspection;
    try {
      inspection = inspectHtlc(offered, context);
    } catch (error) {
      // A bug, not an input: fail this HTLC as unreadable rather than take the process down.
      this.#log.error({ err: error, circuitKey: circuitKeyString(key) }, 'Htlc inspection failed');
      inspection = {
        kind: 'rejected',
        rejection: { kind: 'failCode', reason: 'invalidOnionHmac', code: 'INVALID_ONION_HMAC' },
      } as const;
    }
    if (inspection.kind === 'foreign') {
      await this.#send(node.link, { kind: 'resume', circuitKey: htlc.circuitKey });
      this.#observer.htlcResumed();
      return;
    }
    const hash = bytesToHex(htlc.paymentHash);
    this.#log.info(
      { hash, source: nodePubkeyHex, circuitKey: circuitKeyString(key), amountMsat: String(htlc.outgoingAmountMsat), expiry: htlc.outgoingExpiry },
      'Htlc received',
    );
    if (this.#debug) this.#log.debug({ hash, circuitKey: circuitKeyString(key), inspection: inspection.kind }, 'Htlc inspected');
    let invoice: StoreInvoiceView | undefined;
    if (inspection.kind === 'rejected' && POLICY_REASONS.has(inspection.rejection.reason)) {
      // The virtual hop's policy is configuration: it may have changed since this HTLC's set was
      // committed (a restart, a standby with another config). A committed HTLC offered again is settled
      // whatever the policy says (docs/architecture.md, invariant 2); only the others fail on it.
      invoice = await this.#retryStore('invoice lookup', () => this.#options.store.invoiceStatus(htlc.paymentHash, key));
      if (invoice === undefined) return; // stopped while the database was down: LND re-offers on reconnect
      if (invoice.kind === 'settleCommitted' && invoice.htlcs.some((member) => circuitKeyString(member) === circuitKeyString(key))) {
        this.#log.warn({ hash, circuitKey: circuitKeyString(key), reason: inspection.rejection.reason }, 'Htlc of a committed set breaks the current hop policy; settled anyway');
        const again = inspectHtlc(offered, { ...context, policy: NO_POLICY });
        if (again.kind !== 'foreign') inspection = again; // the same channel: never foreign
      }
    }
    if (inspection.kind === 'rejected') {
      await this.#reject(node.link, key, htlc.paymentHash, htlc.outgoingAmountMsat, inspection.rejection);
      return;
    }
    // A part the registry holds already (offered again after a reconnect) needs no lookup: its set
    // decides, and the registry learns at once that its node still holds it. Nor does a part whose
    // payment_addr proves its terms and that completes a set on its own, in auto mode: the settle
    // commit that follows reads and locks the invoice row anyway, and refuses the set if the invoice is
    // not open (cancelled, unknown, settled by another set: the registry then fails the part as the
    // lookup would have); the same set committed before is the commit's `alreadyCommitted`. That saves
    // a lone payment one database round trip (docs/benchmarks.md, "Latency one payment at a time").
    const alone =
      inspection.kind === 'arrived' &&
      inspection.goLnmux === undefined &&
      inspection.htlc.preimage !== undefined &&
      this.#options.registry.mode === 'auto' &&
      inspection.htlc.amountMsat >= inspection.htlc.totalMsat &&
      !this.#registry.holdsSet(htlc.paymentHash);
    invoice ??=
      inspection.kind === 'arrived' && (alone || this.#registry.holdsPart(key))
        ? { kind: 'open' }
        : await this.#retryStore('invoice lookup', () => this.#options.store.invoiceStatus(htlc.paymentHash, key));
    if (invoice === undefined) return; // stopped while the database was down: LND re-offers on reconnect
    if (this.#debug) this.#log.debug({ hash, invoice: invoice.kind }, 'Loaded invoice from db');
    const go = inspection.kind === 'arrived' ? inspection.goLnmux : undefined;
    if (go !== undefined && invoice.kind === 'unknown' && go.expiresAt * 1000 > this.#clock.now()) {
      // A Go lnmux invoice's first HTLC: record it, so that it settles, lists and cancels as ours do.
      const invoiceOfGo = { paymentHash: htlc.paymentHash, ...go };
      const recorded = await this.#retryStore('record Go lnmux invoice', async () => {
        await this.#options.store.recordGoLnmuxInvoice(invoiceOfGo);
        return true;
      });
      if (recorded === undefined) return; // stopped while the database was down
      this.#log.info({ hash, amountMsat: String(go.amountMsat) }, 'Go lnmux invoice recorded at its first htlc');
      invoice = await this.#retryStore('invoice lookup', () => this.#options.store.invoiceStatus(htlc.paymentHash, key));
      if (invoice === undefined) return;
    }
    const arrived = inspection.kind === 'arrived' ? inspection : acceptStoredTerms(inspection.unproven, invoice.stored);
    if (arrived.kind === 'rejected') {
      await this.#reject(node.link, key, htlc.paymentHash, htlc.outgoingAmountMsat, arrived.rejection);
      return;
    }
    if (arrived.kind !== 'arrived') throw new Error(`unexpected inspection ${arrived.kind}`);
    this.#step({ kind: 'htlcArrived', htlc: arrived.htlc, invoice });
  }

  /** Answers an HTLC that failed a per-HTLC check: a failure code, or a failure message for the payer. */
  async #reject(link: NodeLink, key: CircuitKey, paymentHash: Uint8Array, amountMsat: bigint, r: Rejection): Promise<void> {
    this.#log.info({ hash: bytesToHex(paymentHash), circuitKey: circuitKeyString(key), reason: r.reason, ...this.#heightFields() }, 'Htlc rejected');
    this.#logHtlc(key, paymentHash, amountMsat, 'failed', r.reason);
    this.#observer.htlcFailed(r.reason);
    const circuitKey = { chanId: key.chanId, htlcId: key.htlcId };
    if (r.kind === 'failCode') {
      await this.#send(link, { kind: 'failWithCode', circuitKey, code: r.code });
    } else {
      const failureMessage = createFailurePacket(r.sharedSecret, encodeFailureMessage(r.message));
      await this.#send(link, { kind: 'failWithMessage', circuitKey, failureMessage });
    }
  }

  /** An HTLC of a committed set whose final state is not recorded yet (loaded from the store at start). */
  expectFinal(key: CircuitKey): void {
    this.#awaitingFinal.add(circuitKeyString(key));
  }

  /**
   * LND's final resolution of an HTLC (SubscribeHtlcEvents, or a lookup after a gap). Every one goes to
   * the registry (a held part failed by its node leaves its set); only HTLCs of committed sets reach the
   * store: LND reports every forward, most of them not ours.
   */
  async onHtlcFinal(nodePubkeyHex: string, circuitKey: NodeCircuitKey, settled: boolean): Promise<void> {
    const node = this.#nodes.get(nodePubkeyHex);
    if (node === undefined) return;
    const key: CircuitKey = { nodePubkey: node.link.pubkey, ...circuitKey };
    const id = circuitKeyString(key);
    this.#onChain.delete(id);
    if (!this.#awaitingFinal.delete(id)) {
      this.#step({ kind: 'htlcFinal', key, settled });
      return;
    }
    const recorded = await this.#retryStore('final htlc', () => this.#options.store.markHtlcFinal(key, settled));
    if (this.#stopped || recorded === undefined) return; // stopped before the database answered
    this.#step({ kind: 'htlcFinal', key, settled });
    // Told twice, said once: the application hears of each HTLC's final state one time.
    if (recorded.kind === 'alreadyFinal') return;
    this.#notify('htlcFinal', { circuitKey: id, settled });
    const done = recorded.kind === 'recorded' ? recorded.invoiceFinal : undefined;
    if (done !== undefined) {
      const hash = bytesToHex(done.paymentHash);
      if (done.state === 'settled') {
        this.#log.info({ hash }, 'Invoice settled at every node');
        this.#notify('settled', { paymentHash: hash });
      } else {
        this.#log.error({ hash }, 'Invoice final with a part failed after its settle was committed');
      }
    }
  }

  /**
   * A node's interceptor stream went down (or its session ended): its held parts are unconfirmed until
   * it offers them again, and no set waiting on them is committed or released meanwhile.
   */
  onInterceptorDown(nodePubkeyHex: string): void {
    this.#linksDown.add(nodePubkeyHex);
    this.#replayTimers.get(nodePubkeyHex)?.();
    this.#replayTimers.delete(nodePubkeyHex);
    this.#step({ kind: 'nodeDisconnected', node: nodePubkeyHex });
  }

  /**
   * A node's interceptor stream opened: once the replay window passed, a held part of that node that
   * was not offered again is gone (LND offers every HTLC it still holds when the interceptor registers).
   */
  onInterceptorUp(nodePubkeyHex: string): void {
    this.#linksDown.delete(nodePubkeyHex);
    this.#replayTimers.get(nodePubkeyHex)?.();
    const cancel = this.#clock.timer(this.#options.replayWindowMs ?? DEFAULT_REPLAY_WINDOW_MS, () => {
      this.#replayTimers.delete(nodePubkeyHex);
      this.#step({ kind: 'nodeReplayed', node: nodePubkeyHex });
    });
    this.#replayTimers.set(nodePubkeyHex, cancel);
  }

  /** The node runs without --requireinterceptor: every HTLC it held for us was resolved without us. */
  onNodeHtlcsLost(nodePubkeyHex: string): void {
    this.#step({ kind: 'nodeHtlcsLost', node: nodePubkeyHex });
  }

  /**
   * Settles an accepted set (hold mode, or a hold invoice's with its `preimage`); resolves once its
   * decision is committed. Rejects with UnknownSetError or PreimageError.
   */
  settle(setId: Uint8Array, preimage?: Uint8Array): Promise<void> {
    const id = bytesToHex(setId);
    return new Promise((resolve, reject) => {
      const waiters = this.#settleWaiters.get(id) ?? [];
      waiters.push({ resolve, reject });
      this.#settleWaiters.set(id, waiters);
      this.#step({ kind: 'applicationSettle', setId, ...(preimage !== undefined ? { preimage } : {}) });
    });
  }

  /** The invoice was cancelled in the store: release its held parts. */
  invoiceCancelled(paymentHash: Uint8Array): void {
    this.#step({ kind: 'invoiceCancelled', paymentHash });
  }

  /** Steps the registry and carries out its decisions. Never throws: a bug is logged, the process lives on. */
  #step(event: RegistryEvent): void {
    if (this.#stopped) return;
    let decisions: Decision[];
    try {
      decisions = this.#registry.step(event, this.#clock.now());
    } catch (error) {
      this.#log.error({ err: error, event: event.kind }, 'Registry step failed; event dropped');
      return;
    }
    if (this.#debug && decisions.length > 0) this.#log.debug({ event: event.kind, decisions: decisions.map((d) => d.kind) }, 'Registry stepped');
    for (const decision of decisions) {
      try {
        this.#perform(decision);
      } catch (error) {
        this.#log.error({ err: error, decision: decision.kind }, 'Decision could not be carried out');
      }
    }
    if (this.#releasing !== undefined) {
      // Every SETTLE of the released set was handed to its node by the decisions above.
      const released = this.#releasing;
      const askedAt = this.#commitAskedAt.get(released.setId);
      this.#commitAskedAt.delete(released.setId);
      this.#releasing = undefined;
      if (askedAt !== undefined) {
        this.#observer.settleReleased((this.#clock.now() - askedAt) / 1000, { paymentHash: released.paymentHash, amountMsat: released.amountMsat });
      }
    }
    this.#armTimer();
  }

  #logHtlc(key: CircuitKey, paymentHash: Uint8Array, amountMsat: bigint, event: 'accepted' | 'failed' | 'lost', reason?: string): void {
    this.#htlcLog.add({ key, hash: paymentHash, amountMsat, event, ...(reason !== undefined ? { reason } : {}), at: new Date(this.#clock.now()) });
  }

  /** Emits to the application; a listener that throws or rejects is logged and never reaches lnmux. */
  #notify<K extends keyof PaymentEvents>(event: K, ...args: PaymentEvents[K]): void {
    emitSafely(this as EventEmitter, event, args, (error) => this.#log.error({ err: error, event }, 'Application listener failed'));
  }

  #perform(d: Decision): void {
    switch (d.kind) {
      case 'hold':
        this.#log.info(
          {
            hash: bytesToHex(d.paymentHash),
            circuitKey: circuitKeyString(d.key),
            amountMsat: String(d.amountMsat),
            expiry: d.expiry,
            // The seed's field: what the set must reach (the payer's total for an amountless invoice).
            mppTotalMsat: String(d.invoiceAmountMsat ?? d.totalMsat),
            heldMsat: String(d.heldMsat),
          },
          'Htlc accepted',
        );
        this.#logHtlc(d.key, d.paymentHash, d.amountMsat, 'accepted');
        this.#observer.htlcAccepted();
        return;
      case 'settle': {
        this.#log.info({ hash: bytesToHex(d.paymentHash), circuitKey: circuitKeyString(d.key), outcome: d.outcome }, 'Sending settle resolution');
        this.#awaitingFinal.add(circuitKeyString(d.key));
        this.#observer.htlcSettled(d.outcome);
        this.#reply(d.key, (circuitKey) => ({ kind: 'settle', circuitKey, preimage: d.preimage }));
        return;
      }
      case 'fail': {
        if (this.#onChain.has(circuitKeyString(d.key))) {
          this.#log.warn(
            { hash: bytesToHex(d.paymentHash), circuitKey: circuitKeyString(d.key), outcome: d.outcome },
            'Htlc not failed: its channel is closed on chain and LND accepts only SETTLE; left to LND',
          );
          return;
        }
        this.#log.info(
          { hash: bytesToHex(d.paymentHash), circuitKey: circuitKeyString(d.key), outcome: d.outcome, ...this.#heightFields() },
          'Sending fail resolution',
        );
        this.#logHtlc(d.key, d.paymentHash, d.amountMsat, 'failed', d.outcome);
        this.#observer.htlcFailed(d.outcome);
        const failureMessage = createFailurePacket(d.sharedSecret, encodeFailureMessage(d.message));
        this.#reply(d.key, (circuitKey) => ({ kind: 'failWithMessage', circuitKey, failureMessage }));
        return;
      }
      case 'commitSettle':
        void this.#commit(d);
        return;
      case 'setAccepted':
        this.#log.info({ hash: bytesToHex(d.paymentHash), setId: bytesToHex(d.setId), amountMsat: String(d.amountMsat) }, 'Set accepted');
        this.#notify('accepted', {
          paymentHash: bytesToHex(d.paymentHash),
          setId: bytesToHex(d.setId),
          amountMsat: d.amountMsat,
          htlcs: d.htlcs.map((h) => ({ circuitKey: circuitKeyString(h.key), amountMsat: h.amountMsat })),
          needsPreimage: d.needsPreimage,
          ...(d.paymentMetadata !== undefined ? { paymentMetadata: bytesToHex(d.paymentMetadata) } : {}),
        });
        return;
      case 'setReleased':
        this.#log.info({ hash: bytesToHex(d.paymentHash), setId: bytesToHex(d.setId), reason: d.outcome }, 'Set released');
        this.#rejectWaiters(d.setId, new UnknownSetError(`set ${bytesToHex(d.setId)} was released: ${d.outcome}`));
        this.#notify('released', { paymentHash: bytesToHex(d.paymentHash), setId: bytesToHex(d.setId), reason: d.outcome });
        return;
      case 'partLost': {
        const fields = {
          hash: bytesToHex(d.paymentHash),
          circuitKey: circuitKeyString(d.key),
          reason: d.reason,
          amountMsat: String(d.amountMsat),
          heldMsat: String(d.heldMsat),
        };
        this.#logHtlc(d.key, d.paymentHash, d.amountMsat, 'lost', d.reason);
        this.#observer.htlcLost(d.reason);
        if (d.reason === 'nodeWithoutInterceptor') this.#log.error(fields, 'Htlc left its set: its node runs without --requireinterceptor');
        else this.#log.warn(fields, 'Htlc left its set: its node no longer holds it');
        this.#notify('partLost', { paymentHash: fields.hash, circuitKey: circuitKeyString(d.key), reason: d.reason, amountMsat: d.amountMsat });
        return;
      }
      case 'settleReleased': {
        const hash = bytesToHex(d.paymentHash);
        const setId = bytesToHex(d.setId);
        this.#log.info({ hash, setId, amountMsat: String(d.amountMsat) }, 'Settle released: preimage sent to every node of the set');
        this.#releasing = { setId, paymentHash: hash, amountMsat: d.amountMsat };
        this.#notify('committed', {
          paymentHash: hash,
          setId,
          amountMsat: d.amountMsat,
          ...(d.paymentMetadata !== undefined ? { paymentMetadata: bytesToHex(d.paymentMetadata) } : {}),
        });
        return;
      }
      case 'revokeSettle':
        void this.#revoke(d.paymentHash, d.setId);
        return;
      case 'reloadInvoice':
        void this.#reload(d.paymentHash);
        return;
      case 'settleAtRisk': {
        const event = {
          paymentHash: bytesToHex(d.paymentHash),
          setId: bytesToHex(d.setId),
          circuitKey: circuitKeyString(d.key),
          reason: d.reason,
          amountMsat: d.amountMsat,
        };
        this.#log.error(
          { hash: event.paymentHash, setId: event.setId, circuitKey: circuitKeyString(d.key), reason: d.reason, amountMsat: String(d.amountMsat) },
          d.reason === 'expiryNear'
            ? 'Money at risk: a part of a released set is not settled at its node and nears its auto-fail height'
            : 'Money lost: a part of a released set was failed by its node',
        );
        this.#notify('atRisk', event);
        return;
      }
      case 'applicationSettleAnswered':
        switch (d.answer) {
          case 'alreadySettled':
            this.#resolveWaiters(d.setId);
            return;
          case 'unknownSet':
            this.#rejectWaiters(d.setId, new UnknownSetError(`no accepted set ${bytesToHex(d.setId)}`));
            return;
          case 'preimageRequired':
            this.#rejectWaiters(d.setId, new PreimageError(`set ${bytesToHex(d.setId)} is a hold invoice's: settle it with its preimage`));
            return;
          case 'wrongPreimage':
            this.#rejectWaiters(d.setId, new PreimageError(`set ${bytesToHex(d.setId)}: the preimage's SHA256 is not the invoice's payment hash`));
            return;
          default: {
            const never: never = d.answer;
            throw new Error(`unhandled answer ${String(never)}`);
          }
        }
      default: {
        const never: never = d;
        throw new Error(`unhandled decision ${JSON.stringify(never)}`);
      }
    }
  }

  /** Commits the set, retrying while the database is unreachable; SETTLE only after the commit. */
  async #commit(d: Extract<Decision, { kind: 'commitSettle' }>): Promise<void> {
    const hash = bytesToHex(d.paymentHash);
    const setId = bytesToHex(d.setId);
    const askedAt = this.#clock.now();
    if (this.#debug) this.#log.debug({ hash, setId, parts: d.htlcs.length }, 'Settle commit asked');
    const result = await this.#retryStore('settle commit', () =>
      this.#options.store.commitSettle(d.paymentHash, d.setId, d.htlcs, d.preimage),
    );
    if (result === undefined) return; // stopped: nothing was assumed; the next start replays from the store
    this.#observer.settleCommitted((this.#clock.now() - askedAt) / 1000, result.kind === 'committed' ? 'committed' : 'refused');
    if (result.kind === 'committed') {
      this.#commitAskedAt.set(setId, askedAt);
      this.#log.info({ hash, setId, parts: d.htlcs.length }, 'Settle committed');
      // A node whose stream ended while the commit was under way, and whose end event is not read yet:
      // its parts are unconfirmed from now, so the SETTLEs wait for its replay (docs/architecture.md, invariant 7).
      for (const [pubkeyHex, node] of this.#nodes) {
        if (node.link.isConnected?.() === false && !this.#linksDown.has(pubkeyHex)) this.onInterceptorDown(pubkeyHex);
      }
      this.#step({ kind: 'settleCommitted', paymentHash: d.paymentHash, setId: d.setId });
      this.#resolveWaiters(d.setId);
    } else {
      this.#log.warn({ hash, setId, invoice: result.invoice.kind }, 'Settle refused by the store');
      this.#step({ kind: 'settleRefused', paymentHash: d.paymentHash, invoice: result.invoice });
      this.#rejectWaiters(d.setId, new UnknownSetError(`set ${setId} refused: invoice ${result.invoice.kind}`));
    }
  }

  /** Asks the store to take back a decision no SETTLE went out for; the store's answer is final. */
  async #revoke(paymentHash: Uint8Array, setId: Uint8Array): Promise<void> {
    const hash = bytesToHex(paymentHash);
    const outcome = await this.#retryStore('settle revoke', () => this.#options.store.revokeSettle(paymentHash, setId));
    if (outcome === undefined) return; // stopped: the next start reads the store
    this.#commitAskedAt.delete(bytesToHex(setId));
    if (outcome === 'revoked') {
      this.#log.warn({ hash, setId: bytesToHex(setId) }, 'Settle revoked before release: a part was lost; the live parts wait again');
      this.#step({ kind: 'settleRevoked', paymentHash, setId });
      return;
    }
    this.#log.error({ hash, setId: bytesToHex(setId) }, 'Settle could not be revoked; the committed decision stands');
    await this.#reload(paymentHash);
  }

  /** Reads the invoice's state from the store and hands it to the registry, whose memory it overrides. */
  async #reload(paymentHash: Uint8Array): Promise<void> {
    const invoice = await this.#retryStore('invoice reload', () => this.#options.store.invoiceStatus(paymentHash));
    if (invoice === undefined) return;
    this.#log.warn({ hash: bytesToHex(paymentHash), invoice: invoice.kind }, 'Registry resynchronised with the store');
    this.#step({ kind: 'settleRefused', paymentHash, invoice });
  }

  /** Runs a store call until it answers; undefined if the engine stopped first. Non-retryable errors are retried too, logged as errors. */
  async #retryStore<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        const result = await call();
        this.#outages.succeeded();
        return result;
      } catch (error) {
        // An expected outage is told by the shared reporter; anything else is logged in full, each time.
        if (isExpectedOutage(error)) this.#outages.failed(what, error);
        else this.#log.error({ err: error, attempt }, `Store call failed for ${what}; holding and retrying`);
        this.#observer.storeError(what);
        await sleep(this.#clock, Math.min(5_000, (this.#options.storeRetryMs ?? 200) * attempt));
      }
    }
    return undefined;
  }

  #reply(key: CircuitKey, build: (circuitKey: NodeCircuitKey) => Parameters<NodeLink['send']>[0]): void {
    const node = this.#nodes.get(bytesToHex(key.nodePubkey));
    if (node === undefined) {
      this.#log.warn({ circuitKey: circuitKeyString(key) }, 'Node not connected; LND will offer the HTLC again');
      return;
    }
    void this.#send(node.link, build({ chanId: key.chanId, htlcId: key.htlcId }));
  }

  async #send(link: NodeLink, response: Parameters<NodeLink['send']>[0]): Promise<void> {
    try {
      await link.send(response);
      if (this.#debug) this.#log.debug({ node: link.pubkeyHex, circuitKey: circuitKeyString({ nodePubkey: link.pubkey, ...response.circuitKey }), action: response.kind }, 'Response sent');
    } catch (error) {
      // Not delivered: LND keeps the HTLC and offers it again when the stream comes back.
      this.#log.warn(
        { err: error, node: link.pubkeyHex, circuitKey: circuitKeyString({ nodePubkey: link.pubkey, ...response.circuitKey }), action: response.kind },
        'Response not delivered; LND will offer the HTLC again',
      );
    }
  }

  #armTimer(): void {
    const next = this.#registry.nextDeadline();
    if (next === this.#timerAt) return;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerAt = next;
    if (next === undefined || this.#stopped) return;
    this.#cancelTimer = this.#clock.timer(Math.max(0, next - this.#clock.now()), () => {
      this.#cancelTimer = undefined;
      this.#timerAt = undefined;
      this.#step({ kind: 'tick' });
    });
  }

  #resolveWaiters(setId: Uint8Array): void {
    const id = bytesToHex(setId);
    for (const w of this.#settleWaiters.get(id) ?? []) w.resolve();
    this.#settleWaiters.delete(id);
  }

  #rejectWaiters(setId: Uint8Array, error: Error): void {
    const id = bytesToHex(setId);
    for (const w of this.#settleWaiters.get(id) ?? []) w.reject(error);
    this.#settleWaiters.delete(id);
  }
}

export type { InvoiceView };
