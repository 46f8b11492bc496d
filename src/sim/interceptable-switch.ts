/**
 * LND's InterceptableSwitch (htlcswitch/interceptable_switch.go, held_htlc_set.go, v0.21.2-beta),
 * modelled for one simulated node: every forwarded HTLC goes through it before the switch proper.
 *
 * - An HTLC whose incoming expiry is closer than `cltvInterceptDelta` (22) blocks is failed with
 *   expiry_too_soon, one whose auto-fail height does not fit an int32 with expiry_too_far.
 * - With an interceptor connected, the HTLC is held and offered to it.
 * - Without one: if the interceptor is not required, the HTLC is forwarded normally; if it is
 *   required (`--requireinterceptor`), a new HTLC is failed with temporary_channel_failure (the
 *   interceptor never saw it), while a replayed one (node restart) is held until an interceptor
 *   connects, then offered with the same circuit key.
 * - When an interceptor connects, every held HTLC is offered to it again. When it disconnects, held
 *   HTLCs stay held if the interceptor is required, and are resumed otherwise.
 * - On every block, a held HTLC whose auto-fail height (incoming expiry - `cltvRejectDelta` (19)) is
 *   reached is failed with temporary_channel_failure.
 * - A resolution for a circuit key that is not held is an error ("forward does not exist").
 * - When the incoming channel is force-closed, a held HTLC moves to the on-chain flow
 *   ({@link InterceptableSwitch.holdOnChain}): it is offered again with `auto_fail_height` set to its
 *   settlement deadline (the incoming expiry); only SETTLE has effect, FAIL and RESUME are errors
 *   that end the stream; it is never failed back, only pruned once the deadline is reached; it
 *   stays held when an optional interceptor disconnects. (LND >= 0.20.3 / 0.21.1.)
 * Held HTLCs live in memory: a restarted node starts with none until the replays come in.
 */

import type { NodeCircuitKey } from '../protocol/index.js';
import { NodeCircuitMap } from './circuit-map.js';

/** Failures the switch itself creates (its FailWithCode). */
export type SwitchFailCode =
  | 'temporaryChannelFailure'
  | 'expiryTooSoon'
  | 'expiryTooFar'
  | 'invalidOnionHmac'
  | 'invalidOnionKey'
  | 'invalidOnionVersion';

/** An interceptor client's decision, already validated as routerrpc does. */
export type FwdResolution =
  | { readonly action: 'resume' }
  | { readonly action: 'resumeModified'; readonly inAmountMsat?: bigint; readonly outAmountMsat?: bigint }
  | { readonly action: 'settle'; readonly preimage: Uint8Array }
  | { readonly action: 'fail'; readonly failureMessage: Uint8Array }
  | { readonly action: 'failWithCode'; readonly code: SwitchFailCode };

/** One forward, as the node hands it to the switch. Each action is called at most once. */
export interface InterceptedForward {
  readonly key: NodeCircuitKey;
  /** Incoming HTLC expiry (cltv_expiry), block height. */
  readonly incomingExpiry: number;
  /** Forwards the HTLC to the switch, optionally with modified amounts (msat). */
  resume(modified?: { readonly inAmountMsat?: bigint; readonly outAmountMsat?: bigint }): void;
  /** Settles back with the preimage; returns an error text if it does not match the payment hash. */
  settle(preimage: Uint8Array): string | undefined;
  /** Fails back with an already encrypted failure packet (wrapped once more by this node). */
  fail(failurePacket: Uint8Array): void;
  /** Fails back with a failure this node creates and encrypts as the erring node. */
  failWithCode(code: SwitchFailCode): void;
}

/** Sends an HTLC to the connected interceptor client (errors are the client's problem: it reconnects). */
export type Interceptor = (forward: InterceptedForward, autoFailHeight: number) => void;

export interface InterceptableSwitchOptions {
  /** `--requireinterceptor`. */
  readonly requireInterceptor: boolean;
  /** Current best height, blocks. */
  readonly height: () => number;
  /** Blocks before the incoming expiry at which a held HTLC is failed (LND: 19). */
  readonly cltvRejectDelta?: number;
  /** Blocks before the incoming expiry below which an HTLC is not intercepted (LND: 22). */
  readonly cltvInterceptDelta?: number;
}

/** `lncfg.DefaultFinalCltvRejectDelta`: DefaultIncomingBroadcastDelta (16) + 3. */
export const CLTV_REJECT_DELTA = 19;
/** `lncfg.DefaultCltvInterceptDelta`: DefaultFinalCltvRejectDelta + 3. */
export const CLTV_INTERCEPT_DELTA = 22;

/**
 * LND's own text for a circuit key, `models.CircuitKey.String()`: "(Chan ID=block:tx:out, HTLC ID=n)".
 * Only for error texts LND sends to clients ("forward does not exist: ..."), which the simulator must
 * reproduce to the letter; lnmux's own logs and map keys use circuitKeyString (protocol).
 */
export function lndCircuitKeyText(key: NodeCircuitKey): string {
  const block = key.chanId >> 40n;
  const tx = (key.chanId >> 16n) & 0xff_ffffn;
  const out = key.chanId & 0xffffn;
  return `(Chan ID=${block}:${tx}:${out}, HTLC ID=${key.htlcId})`;
}

interface Held {
  readonly forward: InterceptedForward;
  /** Off-chain: the auto-fail height; on-chain: the settlement deadline. Block height. */
  readonly autoFailHeight: number;
  readonly onChain: boolean;
}

/** held_htlc_set.go's ErrCannotFailOnChain / ErrCannotResumeOnChain. */
export const CANNOT_FAIL_ON_CHAIN = 'cannot fail held htlc in the on-chain flow';
export const CANNOT_RESUME_ON_CHAIN = 'cannot resume held htlc in the on-chain flow';

export class InterceptableSwitch {
  readonly #options: Required<InterceptableSwitchOptions>;
  readonly #held = new NodeCircuitMap<Held>();
  #interceptor: Interceptor | undefined;

  constructor(options: InterceptableSwitchOptions) {
    this.#options = { cltvRejectDelta: CLTV_REJECT_DELTA, cltvInterceptDelta: CLTV_INTERCEPT_DELTA, ...options };
    if (this.#options.cltvInterceptDelta <= this.#options.cltvRejectDelta) {
      throw new RangeError(`cltv intercept delta ${this.#options.cltvInterceptDelta} not greater than cltv reject delta ${this.#options.cltvRejectDelta}`);
    }
  }

  /** Whether an interceptor is registered. */
  get hasInterceptor(): boolean {
    return this.#interceptor !== undefined;
  }

  /** Circuit keys currently held, in arrival order. */
  heldKeys(): NodeCircuitKey[] {
    return this.#held.values().map((h) => h.forward.key);
  }

  /** Registers (or, with undefined, unregisters) the interceptor; see the class comment. */
  setInterceptor(interceptor: Interceptor | undefined): void {
    this.#interceptor = interceptor;
    if (interceptor !== undefined) {
      for (const held of this.#held.values()) interceptor(held.forward, held.autoFailHeight);
      return;
    }
    if (this.#options.requireInterceptor) return;
    for (const held of this.#held.values()) {
      if (held.onChain) continue;
      this.#held.delete(held.forward.key);
      held.forward.resume();
    }
  }

  /**
   * Takes a forwarded HTLC (`isReplay`: re-forwarded after a restart). Returns false when the switch
   * proper must forward it (not intercepted), true when the interceptable switch handled it.
   */
  forward(forward: InterceptedForward, isReplay: boolean): boolean {
    const height = this.#options.height();
    const autoFailHeight = forward.incomingExpiry - this.#options.cltvRejectDelta;
    if (autoFailHeight > 0x7fff_ffff) {
      forward.failWithCode('expiryTooFar');
      return true;
    }
    if (forward.incomingExpiry < height + this.#options.cltvInterceptDelta) {
      forward.failWithCode('expiryTooSoon');
      return true;
    }
    const key = forward.key;
    if (this.#held.has(key)) return true;
    if (this.#interceptor === undefined) {
      if (!this.#options.requireInterceptor) return false;
      if (!isReplay) {
        forward.failWithCode('temporaryChannelFailure');
        return true;
      }
      this.#held.set(key, { forward, autoFailHeight, onChain: false });
      return true;
    }
    this.#held.set(key, { forward, autoFailHeight, onChain: false });
    this.#interceptor(forward, autoFailHeight);
    return true;
  }

  /**
   * Holds an HTLC whose incoming channel is closed on chain (LND's contractcourt offers it through
   * the witness beacon), replacing its off-chain entry, and offers it to the interceptor unless it
   * was already held on chain. Its deadline is the incoming expiry.
   */
  holdOnChain(forward: InterceptedForward): void {
    const key = forward.key;
    if (this.#held.get(key)?.onChain === true) return;
    this.#held.set(key, { forward, autoFailHeight: forward.incomingExpiry, onChain: true });
    this.#interceptor?.(forward, forward.incomingExpiry);
  }

  /**
   * Applies a client's resolution to the held HTLC with that key. Returns the error text LND's
   * switch returns (which ends the client's stream), or undefined when applied.
   */
  resolve(key: NodeCircuitKey, resolution: FwdResolution): string | undefined {
    const held = this.#held.get(key);
    if (held === undefined) return `forward does not exist: ${lndCircuitKeyText(key)}`;
    if (held.onChain && resolution.action !== 'settle') {
      return resolution.action === 'fail' || resolution.action === 'failWithCode' ? CANNOT_FAIL_ON_CHAIN : CANNOT_RESUME_ON_CHAIN;
    }
    switch (resolution.action) {
      case 'resume':
        held.forward.resume();
        break;
      case 'resumeModified':
        held.forward.resume({
          ...(resolution.inAmountMsat === undefined ? {} : { inAmountMsat: resolution.inAmountMsat }),
          ...(resolution.outAmountMsat === undefined ? {} : { outAmountMsat: resolution.outAmountMsat }),
        });
        break;
      case 'settle': {
        const error = held.forward.settle(resolution.preimage);
        if (error !== undefined) return error;
        break;
      }
      case 'fail':
        held.forward.fail(resolution.failureMessage);
        break;
      case 'failWithCode':
        held.forward.failWithCode(resolution.code);
        break;
      default: {
        const never: never = resolution;
        return `unrecognized action ${JSON.stringify(never)}`;
      }
    }
    this.#held.delete(key);
    return undefined;
  }

  /**
   * A new block: fails the off-chain held HTLCs whose auto-fail height is reached, and forgets the
   * on-chain ones whose deadline is reached (the peer can time them out on chain now).
   */
  blockConnected(height: number): void {
    for (const held of this.#held.values()) {
      if (held.autoFailHeight > height) continue;
      this.#held.delete(held.forward.key);
      if (!held.onChain) held.forward.failWithCode('temporaryChannelFailure');
    }
  }

  /** Forgets every held HTLC (the node stops: LND keeps them in memory only). */
  clear(): void {
    this.#held.clear();
    this.#interceptor = undefined;
  }
}
