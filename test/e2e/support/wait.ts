/**
 * Waiting on conditions, never on the clock: a condition is polled until it holds or a generous
 * deadline passes (then the error names what was awaited). The test timeout bounds everything else.
 */

/** Resolves once `condition()` holds; rejects naming `what` after `timeoutMs` (default 20 s). */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves with the first value `probe()` gives that is not undefined; rejects like {@link until}. */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  let value: T | undefined;
  await until(async () => (value = await probe()) !== undefined, what, timeoutMs);
  return value as T;
}

/** Whether `promise` has settled (resolved or rejected) by the next turns of the event loop. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const winner = await Promise.race([promise.then(() => true, () => true), new Promise((r) => setImmediate(() => r(pending)))]);
  return winner !== pending;
}

/** `promise`, or a rejection naming `what` if it has not settled after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
