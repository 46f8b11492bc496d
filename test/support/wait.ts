/**
 * Waiting in tests: on conditions, never on the clock. Every polling wait in test/ goes through
 * {@link waitFor} (or {@link waitUntil} / {@link holdsWithin} over it): a condition is polled until it
 * holds or a deadline passes, and the error then names what was awaited, with the last error the probe
 * threw and what `observed` reported, if given. Deadlines are generous bounds, not timed assertions: a
 * wait ends as soon as its condition holds. The only plain sleep is {@link quietFor}, for a test whose
 * point is that something does NOT happen within a window.
 */

export interface WaitOptions {
  /** What is awaited, for the error: `timed out after N ms waiting for <what>`. */
  readonly what: string;
  /** The deadline, ms (default 20 s). */
  readonly timeoutMs?: number;
  /** Time between two polls, ms (default 20). */
  readonly intervalMs?: number;
  /**
   * Whether an error thrown by the probe means "not yet" (e.g. a server not listening yet): polling goes
   * on and the last such error is named on timeout. Default false: the error fails the wait at once.
   */
  readonly retryErrors?: boolean;
  /** The state to name in the timeout error (e.g. a count so far). */
  readonly observed?: () => unknown;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_INTERVAL_MS = 20;

/** The timeout error of a wait. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/**
 * Polls `probe` until it gives a value other than undefined, and returns that value; throws a
 * {@link WaitTimeoutError} `timed out after N ms waiting for <what>` once the deadline has passed.
 */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const { what, timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = DEFAULT_INTERVAL_MS, retryErrors = false, observed } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      if (!retryErrors) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? '' : `: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      const state = observed === undefined ? '' : ` (last observed: ${describe(observed())})`;
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${state}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves once `condition()` holds; throws like {@link waitFor} after the deadline. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  await waitFor(async () => ((await condition()) ? true : undefined), options);
}

/**
 * Whether `condition()` comes to hold before the deadline: {@link waitUntil}, with a timeout answered
 * false rather than thrown (for harnesses that record a failure and go on, like test/chaos).
 */
export async function holdsWithin(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<boolean> {
  try {
    await waitUntil(condition, options);
    return true;
  } catch (error) {
    if (error instanceof WaitTimeoutError) return false;
    throw error;
  }
}

/** `promise`, or a {@link WaitTimeoutError} naming `what` if it has not settled after `timeoutMs` (default 20 s). */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` has settled (resolved or rejected) by the next turns of the event loop. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const winner = await Promise.race([promise.then(() => true, () => true), new Promise((r) => setImmediate(() => r(pending)))]);
  return winner !== pending;
}

/**
 * Lets `ms` pass. Only for a test whose point is that something does NOT happen within a window (an
 * assertion of absence after it); never to wait for something to happen: use {@link waitUntil}.
 */
export function quietFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    return String(value);
  }
}
