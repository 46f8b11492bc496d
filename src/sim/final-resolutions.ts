/**
 * What a simulated node keeps and reports once an incoming HTLC is resolved: LND's final-resolution
 * store (`--store-final-htlc-resolutions`, read by LookupHtlcResolution) and the inspection hook
 * {@link FinalResolutions.onResolved} (not an LND API).
 */
import type { NodeCircuitKey } from '../protocol/index.js';
import { NodeCircuitMap } from './circuit-map.js';

/** An incoming HTLC as the node resolved it (see SimNode.onHtlcResolved). */
export interface ResolvedHtlc {
  readonly key: NodeCircuitKey;
  readonly paymentHash: Uint8Array;
  /** The incoming HTLC's amount, msat. */
  readonly amountMsat: bigint;
  /** The channel its onion asked to forward over (absent when the onion was not decoded). */
  readonly outgoingChanId?: bigint;
  readonly settled: boolean;
  readonly offchain: boolean;
}

/** A stored final resolution: settled or failed, off chain or on chain. */
export interface FinalResolution {
  readonly settled: boolean;
  readonly offchain: boolean;
}

/** LookupHtlcResolution's three answers. */
export type ResolutionLookup = { kind: 'unavailable' } | { kind: 'unknown' } | ({ kind: 'found' } & FinalResolution);

export class FinalResolutions {
  /** `--store-final-htlc-resolutions`: without it LND keeps nothing and the lookup is unavailable. */
  readonly enabled: boolean;
  readonly #stored = new NodeCircuitMap<FinalResolution>();
  readonly #listeners = new Set<(record: ResolvedHtlc) => void>();

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  /** Records an incoming HTLC's resolution: stored if enabled, and reported to every listener. */
  record(resolved: ResolvedHtlc): void {
    if (this.enabled) this.#stored.set(resolved.key, { settled: resolved.settled, offchain: resolved.offchain });
    for (const listener of [...this.#listeners]) listener(resolved);
  }

  /** The stored resolution of `key`, if any. */
  get(key: NodeCircuitKey): FinalResolution | undefined {
    return this.#stored.get(key);
  }

  /** LookupHtlcResolution's answer for `key`. */
  lookup(key: NodeCircuitKey): ResolutionLookup {
    if (!this.enabled) return { kind: 'unavailable' };
    const found = this.#stored.get(key);
    return found === undefined ? { kind: 'unknown' } : { kind: 'found', ...found };
  }

  /** Calls `listener` with every resolution from now on; returns the function that stops it. */
  onResolved(listener: (record: ResolvedHtlc) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
