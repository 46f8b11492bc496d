/**
 * Emitting to the application's listeners without letting them hurt lnmux: a listener that throws, or
 * returns a promise that rejects, is reported to `onError` and the others still run. Node's own
 * EventEmitter would throw into the emitting code, or leave an unhandled rejection that ends the process.
 */
import type { EventEmitter } from 'node:events';

/** Calls every listener of `event` with `args` (once-listeners are removed as usual). */
export function emitSafely(
  emitter: EventEmitter,
  event: string,
  args: readonly unknown[],
  onError: (error: unknown) => void,
): void {
  for (const listener of emitter.rawListeners(event) as ((...a: unknown[]) => unknown)[]) {
    try {
      const result = listener.apply(emitter, args as unknown[]);
      if (result instanceof Promise) result.catch(onError);
    } catch (error) {
      onError(error);
    }
  }
}
