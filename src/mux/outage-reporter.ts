/**
 * Says a database outage in three kinds of line: one when it starts, one a minute while it lasts, one
 * when it ends, however many calls fail meanwhile (the engine retries a lookup every few hundred ms,
 * the leader loop its check every second: logging each would bury everything else). One reporter per
 * Mux, shared by the engine of every term and the leader loop, so an outage is one story.
 *
 * An expected outage (a StoreUnavailableError, or any error marked `retryable`) is logged with its
 * message only: no stack trace, which says nothing about an unreachable server. Another error is a
 * bug or a broken invariant: its caller logs it in full, at error level, every time.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../shell/clock.js';

/** While an outage lasts, one reminder line per this many ms. */
export const OUTAGE_REPEAT_MS = 60_000;

/** True for an error that means "the database cannot be reached now; try again" (StoreUnavailableError). */
export function isExpectedOutage(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { retryable?: unknown }).retryable === true;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class OutageReporter {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #repeatMs: number;
  #since: number | undefined;
  #lastLineAt = 0;
  #failures = 0;
  #operations = new Set<string>();

  constructor(options: { readonly log: Logger; readonly clock?: Clock; readonly repeatMs?: number }) {
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#repeatMs = options.repeatMs ?? OUTAGE_REPEAT_MS;
  }

  /** True while an outage is being reported. */
  get ongoing(): boolean {
    return this.#since !== undefined;
  }

  /** A call (`operation`: 'invoice lookup', 'leadership', ...) failed with an expected outage. */
  failed(operation: string, error: unknown): void {
    const now = this.#clock.now();
    this.#failures++;
    this.#operations.add(operation);
    if (this.#since === undefined) {
      this.#since = now;
      this.#lastLineAt = now;
      this.#log.warn({ operation, err: messageOf(error) }, 'Database unavailable; holding and retrying');
      return;
    }
    if (now - this.#lastLineAt >= this.#repeatMs) {
      this.#lastLineAt = now;
      this.#log.warn(
        { forSeconds: Math.round((now - this.#since) / 1000), failedCalls: this.#failures, operations: [...this.#operations], err: messageOf(error) },
        'Database still unavailable; retrying',
      );
    }
  }

  /** A call succeeded: ends the outage, if one was reported. */
  succeeded(): void {
    if (this.#since === undefined) return;
    const now = this.#clock.now();
    this.#log.info(
      { afterSeconds: Math.round((now - this.#since) / 1000), failedCalls: this.#failures, operations: [...this.#operations] },
      'Database available again',
    );
    this.#since = undefined;
    this.#failures = 0;
    this.#operations = new Set();
  }
}
