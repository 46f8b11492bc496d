/**
 * Reconnect delays: exponential backoff with jitter. Pure; randomness is injected.
 *
 * The delay before attempt n (0-based) is `base(n) = min(maxMs, initialMs * multiplier^n)`, drawn
 * uniformly from `[base(n) * (1 - jitter), base(n)]`. With several lnmux streams and nodes failing
 * together (one LND restart ends all of its streams at once), the jitter spreads the reconnects.
 */

export interface BackoffPolicy {
  /** First delay, ms (> 0). */
  readonly initialMs: number;
  /** Largest delay, ms (>= initialMs). */
  readonly maxMs: number;
  /** Growth per attempt (>= 1). */
  readonly multiplier: number;
  /** Fraction of the delay that is random, 0 (none) to 1 (full jitter). */
  readonly jitter: number;
}

/** 250 ms doubling to 30 s, half of each delay random. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 250, maxMs: 30_000, multiplier: 2, jitter: 0.5 });

/** Throws RangeError naming the field of a policy that is out of range. */
export function validateBackoff(policy: BackoffPolicy): BackoffPolicy {
  const { initialMs, maxMs, multiplier, jitter } = policy;
  if (!(Number.isFinite(initialMs) && initialMs > 0)) throw new RangeError(`backoff.initialMs must be > 0, got ${initialMs}`);
  if (!(Number.isFinite(maxMs) && maxMs >= initialMs)) {
    throw new RangeError(`backoff.maxMs must be >= initialMs (${initialMs}), got ${maxMs}`);
  }
  if (!(Number.isFinite(multiplier) && multiplier >= 1)) throw new RangeError(`backoff.multiplier must be >= 1, got ${multiplier}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff.jitter must be within [0, 1], got ${jitter}`);
  return policy;
}

/**
 * The delay in ms before reconnect attempt `attempt` (0 for the first retry). `random` returns a
 * number in [0, 1) like Math.random. Always within `[initialMs * (1 - jitter), maxMs]`.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const n = Math.max(0, Math.floor(attempt));
  // Past the cap the power only overflows to Infinity, which min() absorbs.
  const base = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** n);
  const r = Math.min(Math.max(random(), 0), 1);
  return base * (1 - policy.jitter * r);
}
