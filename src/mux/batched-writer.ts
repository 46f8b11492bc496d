/**
 * Writes what does not decide a payment in batches, off the decision path: the HTLC log
 * (src/store/htlc-log.ts, queued by the engine as it carries out decisions) and the invoice stream's
 * `accepted` / `released` events (src/store/invoice-events.ts, registry state with no database change to
 * ride with, queued by the Mux). An item is written within `flushMs`, many per statement. A database
 * outage delays the items (retried), it never delays an HTLC; past `maxQueued` the oldest are dropped,
 * and said so, rather than let memory grow without bound. Not durable: a crash loses what is queued.
 */
import type { Logger } from 'pino';
import type { HtlcLogEntry, NewInvoiceEvent } from '../store/types.js';
import { sleep, systemClock, type Clock } from '../shell/clock.js';

/** The largest amount the store's bigint column holds, msat. */
const MAX_MSAT = (1n << 63n) - 1n;

export interface BatchedWriterOptions<T> {
  readonly write: (items: readonly T[]) => Promise<void>;
  readonly logger: Logger;
  /** What is written, for the logs ("HTLC log entries"). */
  readonly what: string;
  /** Makes an item writable before it is queued (default: as it is). */
  readonly prepare?: (item: T) => T;
  /** Longest wait before queued entries are written, ms (default 50). */
  readonly flushMs?: number;
  /** Most entries per statement (default 500). */
  readonly maxBatch?: number;
  /** Most entries waiting while the database is down (default 100,000). */
  readonly maxQueued?: number;
  /** Wait before retrying a failed write, ms (default 1,000). */
  readonly retryMs?: number;
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock;
}

export class BatchedWriter<T> {
  readonly #options: Required<BatchedWriterOptions<T>>;
  #queue: T[] = [];
  #cancelTimer: (() => void) | undefined;
  #writing: Promise<void> | undefined;
  #dropped = 0;
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(options: BatchedWriterOptions<T>) {
    this.#options = { flushMs: 50, maxBatch: 500, maxQueued: 100_000, retryMs: 1_000, clock: systemClock, prepare: (item) => item, ...options };
  }

  /** Queues one item. */
  add(item: T): void {
    if (this.#stopped) return;
    this.#queue.push(this.#options.prepare(item));
    if (this.#queue.length > this.#options.maxQueued) {
      this.#queue.shift();
      if (this.#dropped++ === 0) this.#options.logger.error(`${this.#options.what}: backlog full (database down?), dropping the oldest`);
    }
    this.#arm(this.#options.flushMs);
  }

  /** Writes what is queued (one attempt per batch), then stops taking items. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#writing;
    while (this.#queue.length > 0) {
      if (!(await this.#writeBatch())) break;
    }
  }

  #arm(delayMs: number): void {
    if (this.#cancelTimer !== undefined || this.#writing !== undefined || this.#stopped) return;
    this.#cancelTimer = this.#options.clock.timer(delayMs, () => {
      this.#cancelTimer = undefined;
      this.#writing = this.#flush().finally(() => {
        this.#writing = undefined;
        if (this.#queue.length > 0) this.#arm(0);
      });
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stopped) {
      if (await this.#writeBatch()) continue;
      await sleep(this.#options.clock, this.#options.retryMs);
    }
  }

  /** Writes the oldest batch; true if written. */
  async #writeBatch(): Promise<boolean> {
    const batch = this.#queue.slice(0, this.#options.maxBatch);
    try {
      await this.#options.write(batch);
      this.#queue.splice(0, batch.length);
      if (this.#dropped > 0) {
        this.#options.logger.warn({ dropped: this.#dropped }, `${this.#options.what}: writes resumed; some were dropped`);
        this.#dropped = 0;
      }
      return true;
    } catch (error) {
      if ((error as { retryable?: unknown }).retryable !== true) {
        // Not the database being away: the entries themselves are refused, and would be forever.
        this.#queue.splice(0, batch.length);
        this.#options.logger.error({ err: error, dropped: batch.length }, `${this.#options.what}: refused by the store; dropped`);
        return true;
      }
      this.#options.logger.warn({ err: error, queued: this.#queue.length }, `${this.#options.what}: write failed; retrying`);
      return false;
    }
  }
}

/** The HTLC log's writer (an amount beyond what the store holds is logged as the largest it holds). */
export function htlcLogWriter(options: Omit<BatchedWriterOptions<HtlcLogEntry>, 'what' | 'prepare'>): BatchedWriter<HtlcLogEntry> {
  return new BatchedWriter({
    ...options,
    what: 'HTLC log entries',
    prepare: (entry) => (entry.amountMsat > MAX_MSAT ? { ...entry, amountMsat: MAX_MSAT } : entry),
  });
}

/** The invoice stream's `accepted` / `released` events' writer: those of one step go out in one statement. */
export function invoiceEventWriter(options: Omit<BatchedWriterOptions<NewInvoiceEvent>, 'what' | 'prepare' | 'flushMs'>): BatchedWriter<NewInvoiceEvent> {
  return new BatchedWriter({ ...options, what: 'Invoice events (accepted/released)', flushMs: 0 });
}
