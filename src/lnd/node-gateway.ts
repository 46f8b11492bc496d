/**
 * The gateway to one LND node: checks it, then keeps its three streams open (interceptor, blocks,
 * final HTLC events) and turns everything into typed events. One per configured node; a node that
 * fails is retried on its own and never stops the others.
 *
 * Lifecycle of a node (each change is a `state` event):
 *
 *   connecting -> checking -> ready ------------------------------> (session ends) -> backoff -> connecting
 *                        \--> refused{reasons} -> backoff{attemptMs} -> connecting
 *                        \--> (unreachable)    -> backoff{attemptMs} -> connecting
 *
 * While ready, each stream reconnects by itself with exponential backoff and jitter (`stream`
 * events). The interceptor stream is only (re)opened right after the node passed the checks, so it
 * never registers with a node that was restarted without `--requireinterceptor`. A probe re-runs the
 * checks every `probeIntervalMs`: a refusal, or `probeFailuresBeforeReconnect` probes in a row
 * without an answer (LND hung while its TCP connection lives), end the session; a fresh connection
 * follows. Stuck streams: gRPC keepalive pings detect a dead transport; a response write that does
 * not complete within `writeTimeoutMs` marks the interceptor stream stuck; a block stream whose
 * height stays below GetInfo's `block_height` for two probes is restarted.
 */
import { setMaxListeners } from 'node:events';
import { err, type NodeCircuitKey, type Result } from '../protocol/index.js';
import { AsyncQueue } from './async-queue.js';
import { backoffDelayMs, DEFAULT_BACKOFF, validateBackoff, type BackoffPolicy } from './backoff.js';
import { runChecks, type CheckRefusal, type NodeExpectations } from './checks.js';
import { sleep, systemClock, type Clock } from '../shell/clock.js';
import { openLndConnection, type LndConnection, type LndConnectionConfig } from './connection.js';
import {
  encodeInterceptResponse,
  type BlockEpoch,
  type ConvertError,
  type FinalHtlcEvent,
  type HtlcResolution,
  type InterceptedHtlc,
  type InterceptorResponse,
  type NodeInfo,
  type NodeVersion,
} from './convert.js';
import { openBlockStream, openHtlcEventStream } from './server-streams.js';
import { DEFAULT_WRITE_TIMEOUT_MS, openInterceptorStream, type InterceptorStream, type SendFailure } from './interceptor-stream.js';
import { lookupHtlcResolution, type LookupFailure } from './lookup.js';
import type { RpcFailure } from './rpc-error.js';
import type { StreamEnd, StreamReader } from './stream-reader.js';

/** Everything one gateway needs: where the node is, what it must be, and the timing knobs. */
export interface NodeGatewayConfig extends LndConnectionConfig, NodeExpectations {
  /** A name for logs (default: the first 16 hex digits of the pubkey). */
  readonly name?: string;
  /** Reconnect delays, per node and per stream (default {@link DEFAULT_BACKOFF}). */
  readonly backoff?: Partial<BackoffPolicy>;
  /** Deadline of each check, probe and lookup call, ms (default 10 s). */
  readonly rpcTimeoutMs?: number;
  /** Time between two probes (checks re-run) while ready, ms (default 30 s). */
  readonly probeIntervalMs?: number;
  /** Probes in a row without an answer before the connection is dropped and made again (default 2). */
  readonly probeFailuresBeforeReconnect?: number;
  /** A response write not completed within this many ms marks the interceptor stream stuck (default 10 s). */
  readonly writeTimeoutMs?: number;
  /** A stream (or session) that lived this long starts its backoff again from the first delay, ms (default 10 s). */
  readonly stableAfterMs?: number;
  /** Injected time (default the system clock). */
  readonly clock?: Clock;
  /** Injected randomness in [0, 1) for the jitter (default Math.random). */
  readonly random?: () => number;
  /**
   * Open the interceptor stream once ready (default true). False: a standby gateway connects, checks,
   * follows blocks and final HTLC events and probes, but registers no interceptor until `intercept(true)`,
   * so that taking over is one stream to open.
   */
  readonly intercept?: boolean;
}

/** Why the node is being retried. */
export type NodeRetryCause =
  | { readonly kind: 'refused'; readonly reasons: readonly CheckRefusal[] }
  /** A call of the checks or of a probe got no answer. */
  | { readonly kind: 'rpcFailed'; readonly method: string; readonly failure: RpcFailure }
  /** A config file (certificate, macaroon) could not be read. */
  | { readonly kind: 'configUnreadable'; readonly details: string };

/** The state of one node, as the gateway sees it. */
export type NodeState =
  /** Constructed, not started. */
  | { readonly kind: 'idle' }
  /** Opening a connection (attempt counts the retries since the last stable session). */
  | { readonly kind: 'connecting'; readonly attempt: number }
  /** Running the checks. */
  | { readonly kind: 'checking' }
  /** The node failed a check; a `backoff` follows. */
  | { readonly kind: 'refused'; readonly reasons: readonly [CheckRefusal, ...CheckRefusal[]] }
  /** Checks passed; the streams are (being) opened. */
  | { readonly kind: 'ready'; readonly info: NodeInfo; readonly version: NodeVersion }
  /** Waiting `attemptMs` before the next attempt. */
  | { readonly kind: 'backoff'; readonly attemptMs: number; readonly attempt: number; readonly cause: NodeRetryCause }
  /** stop() was called. */
  | { readonly kind: 'stopped' };

export type StreamName = 'interceptor' | 'blocks' | 'htlcEvents';

/**
 * A stream still running this long after its call started counts as accepted by LND, ms. LND answers
 * a call it refuses within a round trip; a second is many round trips even to a remote node.
 */
export const STREAM_ACCEPTED_AFTER_MS = 1_000;

/** The state of one stream while the node is ready. */
export type StreamState =
  /**
   * The call is started (`accepted: false`), then LND accepted it (`accepted: true`, a second event).
   * Accepted means: LND's response headers or a first message arrived, or the call is still running
   * {@link STREAM_ACCEPTED_AFTER_MS} after it started. LND sends no headers on these streams before
   * its first message, and it refuses a call it will not serve (a second interceptor: "interceptor
   * already exists"; a missing permission: "permission denied") at once, so a call that lives past
   * the grace period was accepted. HTLCs arriving before LND registered the interceptor are failed by
   * LND as if no interceptor were connected; held ones are replayed once it is.
   */
  | { readonly kind: 'open'; readonly accepted: boolean }
  | { readonly kind: 'backoff'; readonly attemptMs: number; readonly attempt: number; readonly end: StreamEnd }
  /** The session ended (node no longer ready, or stopping). */
  | { readonly kind: 'closed' }
  /** Interceptor only: the node is ready and the stream waits for `intercept(true)` (a standby). */
  | { readonly kind: 'standby' };

/** What a gateway reports. `node` is the configured pubkey (hex), the node part of an HTLC's identity. */
export type GatewayEvent =
  | { readonly kind: 'state'; readonly node: string; readonly state: NodeState }
  | { readonly kind: 'stream'; readonly node: string; readonly stream: StreamName; readonly state: StreamState }
  /** An HTLC held by the node; may be a replay of one offered before (same circuit key). */
  | { readonly kind: 'htlc'; readonly node: string; readonly htlc: InterceptedHtlc }
  /** A request we could not read (see InterceptorItem); answer it with a FAIL when circuitKey is known. */
  | { readonly kind: 'malformedHtlc'; readonly node: string; readonly circuitKey: NodeCircuitKey | null; readonly error: ConvertError }
  /** The node's chain tip (also sent for a stale block after a reorg: the height can go down). */
  | { readonly kind: 'block'; readonly node: string; readonly block: BlockEpoch }
  | { readonly kind: 'finalHtlc'; readonly node: string; readonly event: FinalHtlcEvent }
  /**
   * The final HTLC event subscription is live: no final event is missed from here on. Events during
   * the gap before it are lost; look those HTLCs up with `lookupHtlcResolution`.
   */
  | { readonly kind: 'finalHtlcSubscribed'; readonly node: string }
  /** A block or HTLC event that could not be read (skipped). */
  | { readonly kind: 'malformedMessage'; readonly node: string; readonly stream: StreamName; readonly error: ConvertError };

/** Why `send` did not hand a response to the node. Never assume such a response reached LND. */
export type GatewaySendFailure = SendFailure | { readonly kind: 'notConnected' };

/** Deadline of each check, probe and lookup call unless configured, ms. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;
const DEFAULT_PROBE_INTERVAL_MS = 30_000;
const DEFAULT_STABLE_AFTER_MS = 10_000;
const DEFAULT_PROBE_FAILURES = 2;
const PUBKEY_HEX = /^0[23][0-9a-f]{64}$/;

type SessionEnd = Exclude<NodeRetryCause, { kind: 'configUnreadable' }> | { readonly kind: 'stopped' };

/** The gateway to one LND node. `start()` it, consume `events()`, answer HTLCs with `send()`. */
export class NodeGateway {
  /** The configured pubkey, lower-case hex. */
  readonly pubkey: string;
  readonly name: string;

  readonly #config: NodeGatewayConfig;
  readonly #policy: BackoffPolicy;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #rpcTimeoutMs: number;
  readonly #probeIntervalMs: number;
  readonly #probeFailures: number;
  readonly #writeTimeoutMs: number;
  readonly #stableAfterMs: number;

  readonly #events = new AsyncQueue<GatewayEvent>();
  readonly #listeners = new Set<(state: NodeState) => void>();
  readonly #streamStates = new Map<StreamName, StreamState>();
  #state: NodeState = { kind: 'idle' };
  #root: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #connection: LndConnection | undefined;
  #interceptor: InterceptorStream | undefined;
  #blocks: StreamReader<unknown> | undefined;
  #blockHeight: number | undefined;
  #interceptWanted: boolean;
  #interceptWake: (() => void) | undefined;

  /** Validates the config; throws TypeError/RangeError naming the field. Does not connect. */
  constructor(config: NodeGatewayConfig) {
    const pubkey = String(config.pubkey ?? '').toLowerCase();
    if (!PUBKEY_HEX.test(pubkey)) {
      throw new TypeError(`pubkey: expected a 33-byte compressed public key in hex, got '${String(config.pubkey)}'`);
    }
    if (typeof config.network !== 'string' || config.network === '') {
      throw new TypeError(`network: expected LND's network name (e.g. 'mainnet', 'regtest'), got '${String(config.network)}'`);
    }
    if (typeof config.address !== 'string' || !/^.+:\d+$/.test(config.address)) {
      throw new TypeError(`address: expected 'host:port', got '${String(config.address)}'`);
    }
    this.pubkey = pubkey;
    this.name = config.name ?? pubkey.slice(0, 16);
    this.#config = config;
    this.#policy = validateBackoff({ ...DEFAULT_BACKOFF, ...config.backoff });
    this.#clock = config.clock ?? systemClock;
    this.#random = config.random ?? Math.random;
    this.#rpcTimeoutMs = positive(config.rpcTimeoutMs, DEFAULT_RPC_TIMEOUT_MS, 'rpcTimeoutMs');
    this.#probeIntervalMs = positive(config.probeIntervalMs, DEFAULT_PROBE_INTERVAL_MS, 'probeIntervalMs');
    this.#probeFailures = positive(config.probeFailuresBeforeReconnect, DEFAULT_PROBE_FAILURES, 'probeFailuresBeforeReconnect');
    this.#writeTimeoutMs = positive(config.writeTimeoutMs, DEFAULT_WRITE_TIMEOUT_MS, 'writeTimeoutMs');
    this.#stableAfterMs = positive(config.stableAfterMs, DEFAULT_STABLE_AFTER_MS, 'stableAfterMs');
    this.#interceptWanted = config.intercept ?? true;
  }

  /** True while the gateway is told to intercept (the stream itself may still be opening). */
  get intercepting(): boolean {
    return this.#interceptWanted;
  }

  /**
   * Registers as the node's interceptor (on: at once if the node is ready, else as soon as it is) or
   * ends the interceptor stream and stands by (off: LND offers the HTLCs it holds again to the next
   * interceptor). Connections, checks and the other streams are kept either way.
   */
  intercept(on: boolean): void {
    if (this.#interceptWanted === on) return;
    this.#interceptWanted = on;
    if (on) {
      this.#interceptWake?.();
    } else {
      const stream = this.#interceptor;
      this.#interceptor = undefined;
      stream?.cancel('stopped');
    }
  }

  /** The node's current state. */
  get state(): NodeState {
    return this.#state;
  }

  /** The state of one stream ('closed' unless the node is ready). */
  streamState(stream: StreamName): StreamState {
    return this.#streamStates.get(stream) ?? { kind: 'closed' };
  }

  /**
   * The node's height: GetInfo's at the checks that made the node ready, then each block epoch received;
   * undefined before the node was first ready. Known before the interceptor stream opens, so that no
   * HTLC of this node is answered before lnmux knows a height (docs/sphinx.md, "Final-hop rules").
   */
  get blockHeight(): number | undefined {
    return this.#blockHeight;
  }

  /**
   * Every event of this gateway, in order, for one consumer (iterating a second time throws
   * TypeError). Ends after `stop()`. Consume it: events are buffered until read.
   */
  events(): AsyncIterable<GatewayEvent> {
    return { [Symbol.asyncIterator]: () => this.#events[Symbol.asyncIterator]() };
  }

  /** Calls `listener` on every state change (for logs and metrics); returns the unsubscribe function. */
  onState(listener: (state: NodeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts connecting. Throws Error if already started, or stopped (a gateway runs once). */
  start(): void {
    if (this.#root || this.#events.closed) throw new Error(`gateway ${this.name} already started or stopped`);
    this.#root = new AbortController();
    // Every call in flight listens to it: the streams, the probes, and the start-up reconciliation's
    // lookups (several at once per node, mux/cluster.ts), more than Node's default warning threshold.
    setMaxListeners(64, this.#root.signal);
    this.#loop = this.#run(this.#root.signal);
  }

  /**
   * Stops: cancels every call and stream first, then waits for them to end, closes the connection and
   * ends `events()`. Idempotent.
   */
  async stop(): Promise<void> {
    if (!this.#root) {
      this.#setState({ kind: 'stopped' });
      this.#events.close();
      return;
    }
    this.#root.abort();
    await this.#loop;
    this.#events.close();
  }

  /**
   * Answers a held HTLC on the current interceptor stream. Resolves ok once the response is written to
   * the transport, err otherwise (not connected, stream ended, write timed out). Ok is not proof
   * that LND applied it: that is the `finalHtlc` event. Never rejects; throws RangeError at once for a
   * response of the wrong shape (see encodeInterceptResponse).
   */
  send(response: InterceptorResponse): Promise<Result<void, GatewaySendFailure>> {
    const stream = this.#interceptor;
    if (!stream || stream.end) {
      encodeInterceptResponse(response); // the same RangeError, connected or not
      return Promise.resolve(err({ kind: 'notConnected' }));
    }
    return stream.send(response);
  }

  /** Asks the node for the final resolution of an HTLC (see lookup.ts). Never rejects. */
  lookupHtlcResolution(key: NodeCircuitKey): Promise<Result<HtlcResolution, LookupFailure>> {
    const connection = this.#connection;
    if (!connection) return Promise.resolve(err({ kind: 'notConnected' }));
    return lookupHtlcResolution(connection, key, this.#rpcTimeoutMs, this.#root?.signal);
  }

  // -------------------------------------------------------------------------------------------

  #emit(event: GatewayEvent): void {
    this.#events.push(event);
  }

  #setState(state: NodeState): void {
    this.#state = state;
    this.#emit({ kind: 'state', node: this.pubkey, state });
    for (const listener of this.#listeners) {
      try {
        listener(state);
      } catch {
        // A faulty observer must not stop the gateway.
      }
    }
  }

  #setStream(stream: StreamName, state: StreamState): void {
    this.#streamStates.set(stream, state);
    this.#emit({ kind: 'stream', node: this.pubkey, stream, state });
  }

  #delay(attempt: number): number {
    return backoffDelayMs(attempt, this.#policy, this.#random);
  }

  async #run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      this.#setState({ kind: 'connecting', attempt });
      const outcome = await this.#attempt(signal);
      if (outcome.kind === 'stopped' || signal.aborted) break;
      if (outcome.stable) attempt = 0;
      const { cause } = outcome;
      if (cause.kind === 'refused') {
        const [first, ...rest] = cause.reasons;
        if (first) this.#setState({ kind: 'refused', reasons: [first, ...rest] });
      }
      const attemptMs = this.#delay(attempt);
      attempt++;
      this.#setState({ kind: 'backoff', attemptMs, attempt, cause });
      await sleep(this.#clock, attemptMs, signal);
    }
    this.#setState({ kind: 'stopped' });
  }

  /** One connection: open, check, run the session while ready. Says why it ended. */
  async #attempt(
    signal: AbortSignal,
  ): Promise<{ readonly kind: 'stopped' } | { readonly kind: 'retry'; readonly cause: NodeRetryCause; readonly stable: boolean }> {
    let connection: LndConnection;
    try {
      connection = openLndConnection(this.#config);
    } catch (error) {
      return { kind: 'retry', cause: { kind: 'configUnreadable', details: (error as Error).message }, stable: false };
    }
    try {
      this.#setState({ kind: 'checking' });
      const outcome = await runChecks(connection, this.#config, this.#rpcTimeoutMs, signal);
      if (signal.aborted) return { kind: 'stopped' };
      if (outcome.kind === 'refused') return { kind: 'retry', cause: { kind: 'refused', reasons: outcome.reasons }, stable: false };
      if (outcome.kind === 'rpcFailed') return { kind: 'retry', cause: outcome, stable: false };
      const readyAt = this.#clock.now();
      this.#connection = connection;
      this.#blockHeight = outcome.info.blockHeight;
      this.#setState({ kind: 'ready', info: outcome.info, version: outcome.version });
      const end = await this.#session(connection, signal);
      if (end.kind === 'stopped') return end;
      return { kind: 'retry', cause: end, stable: this.#clock.now() - readyAt >= this.#stableAfterMs };
    } finally {
      this.#connection = undefined;
      connection.close();
    }
  }

  /** Runs the streams and the probe until the probe ends the session or the gateway stops. */
  async #session(connection: LndConnection, parent: AbortSignal): Promise<SessionEnd> {
    const session = new AbortController();
    let end: SessionEnd | undefined;
    const endSession = (why: SessionEnd): void => {
      if (session.signal.aborted) return;
      end = why;
      session.abort();
    };
    const onParentAbort = (): void => endSession({ kind: 'stopped' });
    if (parent.aborted) return { kind: 'stopped' };
    parent.addEventListener('abort', onParentAbort, { once: true });
    const signal = session.signal;

    const children = [
      this.#streamLoop(
        'interceptor',
        signal,
        () => {
          const stream = openInterceptorStream(connection, { writeTimeoutMs: this.#writeTimeoutMs, clock: this.#clock });
          this.#interceptor = stream;
          return stream;
        },
        (item) => {
          if (item.kind === 'htlc') this.#emit({ kind: 'htlc', node: this.pubkey, htlc: item.htlc });
          else this.#emit({ kind: 'malformedHtlc', node: this.pubkey, circuitKey: item.circuitKey, error: item.error });
        },
        // Re-check before every reopen: never register as interceptor on a node that lost its flags.
        async () => {
          const outcome = await runChecks(connection, this.#config, this.#rpcTimeoutMs, signal);
          if (outcome.kind === 'refused') {
            endSession({ kind: 'refused', reasons: outcome.reasons });
            return false;
          }
          return outcome.kind === 'passed';
        },
        (gateSignal) => this.#untilIntercepting(gateSignal),
      ),
      this.#streamLoop(
        'blocks',
        signal,
        () => {
          const stream = openBlockStream(connection);
          this.#blocks = stream;
          return stream;
        },
        (item) => {
          if (item.ok) {
            this.#blockHeight = item.value.height;
            this.#emit({ kind: 'block', node: this.pubkey, block: item.value });
          } else {
            this.#emit({ kind: 'malformedMessage', node: this.pubkey, stream: 'blocks', error: item.error });
          }
        },
      ),
      this.#streamLoop(
        'htlcEvents',
        signal,
        () => openHtlcEventStream(connection),
        (item) => {
          if (!item.ok) {
            this.#emit({ kind: 'malformedMessage', node: this.pubkey, stream: 'htlcEvents', error: item.error });
          } else if (item.value.kind === 'final') {
            this.#emit({ kind: 'finalHtlc', node: this.pubkey, event: item.value.event });
          } else if (item.value.kind === 'subscribed') {
            this.#emit({ kind: 'finalHtlcSubscribed', node: this.pubkey });
          }
        },
      ),
      this.#probeLoop(connection, signal, endSession),
    ];

    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    // Every child cancelled its call in its own abort listener, synchronously; now wait for them.
    await Promise.all(children);
    parent.removeEventListener('abort', onParentAbort);
    this.#interceptor = undefined;
    this.#blocks = undefined;
    return end ?? { kind: 'stopped' };
  }

  /**
   * Resolves once the gateway is told to intercept (or `signal` aborts): at once if it is, else after
   * reporting the stream as standing by. True if it waited.
   */
  async #untilIntercepting(signal: AbortSignal): Promise<boolean> {
    if (this.#interceptWanted) return false;
    this.#setStream('interceptor', { kind: 'standby' });
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#interceptWake = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#interceptWake = done;
      signal.addEventListener('abort', done, { once: true });
    });
    return true;
  }

  /**
   * Keeps one stream open until `signal` aborts: open, read until it ends, back off, `beforeReopen`
   * (false: back off again), open again. With a `gate`, waits for it before each open; a stream ended
   * because the gate closed goes back to the gate without backoff, and after waiting at the gate the
   * next open is like the first (the session's checks passed on this connection, and the probe keeps
   * re-running them): a standby's takeover costs one stream open.
   */
  async #streamLoop<T>(
    name: StreamName,
    signal: AbortSignal,
    open: () => StreamReader<T>,
    onItem: (item: T) => void,
    beforeReopen?: () => Promise<boolean>,
    gate?: (signal: AbortSignal) => Promise<boolean>,
  ): Promise<void> {
    let attempt = 0;
    let first = true;
    let lastEnd: StreamEnd = { kind: 'completed' };
    while (!signal.aborted) {
      if (gate && (await gate(signal))) {
        if (signal.aborted) break;
        first = true;
        attempt = 0;
      }
      if (!first && beforeReopen && !(await beforeReopen())) {
        if (signal.aborted) break;
        const attemptMs = this.#delay(attempt++);
        this.#setStream(name, { kind: 'backoff', attemptMs, attempt, end: lastEnd });
        await sleep(this.#clock, attemptMs, signal);
        continue;
      }
      if (signal.aborted) break;
      first = false;
      const reader = open();
      const onAbort = (): void => reader.cancel('stopped');
      signal.addEventListener('abort', onAbort, { once: true });
      const openedAt = this.#clock.now();
      this.#setStream(name, { kind: 'open', accepted: false });
      let settled = false;
      const settle = (accepted: boolean): void => {
        if (settled) return;
        settled = true;
        cancelGrace();
        if (accepted && reader.end === undefined && !signal.aborted) this.#setStream(name, { kind: 'open', accepted: true });
      };
      const cancelGrace = this.#clock.timer(STREAM_ACCEPTED_AFTER_MS, () => settle(true));
      void reader.accepted.then(settle);
      for await (const item of reader) onItem(item);
      lastEnd = await reader.ended;
      settle(false);
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) break;
      if (gate && !this.#interceptWanted) continue; // closed on purpose: stand by at the gate
      if (this.#clock.now() - openedAt >= this.#stableAfterMs) attempt = 0;
      const attemptMs = this.#delay(attempt++);
      this.#setStream(name, { kind: 'backoff', attemptMs, attempt, end: lastEnd });
      await sleep(this.#clock, attemptMs, signal);
    }
    this.#setStream(name, { kind: 'closed' });
  }

  /** Re-runs the checks every probe interval; ends the session on a refusal or a silent node. */
  async #probeLoop(connection: LndConnection, signal: AbortSignal, endSession: (why: SessionEnd) => void): Promise<void> {
    let failures = 0;
    let lagging = 0;
    while (!signal.aborted) {
      await sleep(this.#clock, this.#probeIntervalMs, signal);
      if (signal.aborted) return;
      const outcome = await runChecks(connection, this.#config, this.#rpcTimeoutMs, signal);
      if (signal.aborted) return;
      if (outcome.kind === 'refused') return endSession({ kind: 'refused', reasons: outcome.reasons });
      if (outcome.kind === 'rpcFailed') {
        failures++;
        if (failures >= this.#probeFailures) return endSession(outcome);
        continue;
      }
      failures = 0;
      // A block stream that stays behind the node's own height for two probes in a row is stuck.
      const blocks = this.#blocks;
      const height = this.#blockHeight;
      if (blocks && !blocks.end && height !== undefined && outcome.info.blockHeight > height) {
        lagging++;
        if (lagging >= 2) {
          lagging = 0;
          blocks.cancel('stuck');
        }
      } else {
        lagging = 0;
      }
    }
  }
}

function positive(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${field}: expected a number > 0, got ${value}`);
  return value;
}
