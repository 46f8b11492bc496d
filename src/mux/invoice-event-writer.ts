/**
 * Writes the invoice stream's `accepted` and `released` events (src/store/invoice-events.ts), which are
 * the registry's in-memory state and so have no database change to ride with: queued when the Mux emits
 * them, written a few at a time, off the decision path (an HTLC never waits for it). A database outage
 * delays them (retried every `retryMs`); past `maxQueued` the oldest are dropped, and said so. Not
 * durable: a crash loses what is queued (the held sets themselves are gone with the process too).
 */
import type { Logger } from 'pino';
import type { NewInvoiceEvent } from '../store/types.js';

export interface InvoiceEventWriterOptions {
  readonly write: (events: readonly NewInvoiceEvent[]) => Promise<void>;
  readonly logger: Logger;
  /** Most events per statement (default 500). */
  readonly maxBatch?: number;
  /** Most events waiting while the database is down (default 100,000). */
  readonly maxQueued?: number;
  /** Wait before retrying a failed write, ms (default 1,000). */
  readonly retryMs?: number;
}

export class InvoiceEventWriter {
  readonly #options: Required<InvoiceEventWriterOptions>;
  #queue: NewInvoiceEvent[] = [];
  #writing: Promise<void> | undefined;
  #dropped = 0;
  #stopped = false;

  constructor(options: InvoiceEventWriterOptions) {
    this.#options = { maxBatch: 500, maxQueued: 100_000, retryMs: 1_000, ...options };
  }

  add(event: NewInvoiceEvent): void {
    if (this.#stopped) return;
    this.#queue.push(event);
    if (this.#queue.length > this.#options.maxQueued) {
      this.#queue.shift();
      if (this.#dropped++ === 0) this.#options.logger.error('Invoice event backlog full (database down?): dropping the oldest accepted/released events');
    }
    // Started on the next turn: the events of one step go out in one statement.
    this.#writing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain()).finally(() => {
      this.#writing = undefined;
    });
  }

  /** Writes what is queued (one more attempt if the database is away), then takes no more. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#writing;
    if (this.#queue.length > 0) await this.#writeBatch();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      if (await this.#writeBatch()) continue;
      if (this.#stopped) return;
      await new Promise((resolve) => setTimeout(resolve, this.#options.retryMs).unref());
    }
  }

  /** Writes the oldest batch; true if written (or refused for good). */
  async #writeBatch(): Promise<boolean> {
    const batch = this.#queue.slice(0, this.#options.maxBatch);
    try {
      await this.#options.write(batch);
      this.#queue.splice(0, batch.length);
      if (this.#dropped > 0) {
        this.#options.logger.warn({ dropped: this.#dropped }, 'Invoice event writes resumed; some events were dropped');
        this.#dropped = 0;
      }
      return true;
    } catch (error) {
      if ((error as { retryable?: unknown }).retryable !== true) {
        this.#queue.splice(0, batch.length);
        this.#options.logger.error({ err: error, dropped: batch.length }, 'Invoice events refused by the store; dropped');
        return true;
      }
      this.#options.logger.warn({ err: error, queued: this.#queue.length }, 'Invoice event write failed; retrying');
      return false;
    }
  }
}
