/**
 * Time, injected: the one clock of the imperative shell. The gateway's backoff sleeps, probes and write
 * timeouts, the settlement engine's deadlines and the HTLC log's retries go through a `Clock`, so tests
 * can drive them by hand (test/lnd/support/manual-clock.ts) instead of waiting.
 */

/** A source of time and one-shot timers. */
export interface Clock {
  /**
   * Unix time, ms. The engine compares it with times stored in the database (when a part joined its
   * set); the gateway uses only differences.
   */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a function that cancels it. */
  timer(ms: number, fn: () => void): () => void;
}

/** The real clock: `Date.now()` and unref'd `setTimeout` (a pending timer never keeps the process alive). */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  timer(ms: number, fn: () => void): () => void {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return () => clearTimeout(handle);
  },
});

/**
 * The real clock for a wait that is all the process is doing (`lnmux run` waiting for its database at
 * start): its timers keep the process alive, where {@link systemClock}'s would let it exit.
 */
export const keepAliveClock: Clock = Object.freeze({
  now: () => Date.now(),
  timer(ms: number, fn: () => void): () => void {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
});

/**
 * Resolves after `ms` on `clock`, or at once when `signal` aborts (the sleep is then cut short, not
 * rejected: the caller checks the signal).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.timer(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
