/**
 * Group commit. Callers submit requests one by one; the batcher runs them in batches, several requests
 * per transaction, so that one COMMIT (one WAL flush) serves many decisions under load. With no load a
 * request runs at once, alone: batching adds no latency, it only forms while earlier batches are in flight.
 *
 * Each request keeps its own outcome; a caller's promise resolves only after the batch that carried it
 * has committed (the runner returns after COMMIT). If a batch fails with StoreUnavailableError every
 * request in it rejects with that error (nothing is reported as committed); if the runner asks for it
 * (`split`) or fails otherwise, each request is run again alone so one bad request cannot sink the others.
 */
import { StoreUnavailableError } from './errors.js';

/** What a batch run gives back: one outcome per request, in order, or a request to run them one by one. */
export type BatchResult<Out> = { readonly kind: 'done'; readonly outcomes: readonly Out[] } | { readonly kind: 'split' };

/** Runs one batch (in one transaction). `requests` is never empty. */
export type BatchRunner<Req, Out> = (requests: readonly Req[]) => Promise<BatchResult<Out>>;

export interface BatcherOptions {
  /** Most requests in one batch (>= 1; 1 disables grouping). */
  readonly maxBatchSize: number;
  /** Most batches running at once (>= 1); each holds one connection. */
  readonly maxInFlight: number;
  /**
   * Wait this long (ms, default 0) after the first request of an idle queue before running it, so that
   * the requests of the next moments share its transaction. Only for writes that decide no payment.
   */
  readonly lingerMs?: number;
}

interface Pending<Req, Out> {
  readonly request: Req;
  resolve(outcome: Out): void;
  reject(error: unknown): void;
}

/** Queues requests and runs them through a BatchRunner in groups (see the module comment). */
export class Batcher<Req, Out> {
  readonly #run: BatchRunner<Req, Out>;
  readonly #maxBatchSize: number;
  readonly #maxInFlight: number;
  readonly #lingerMs: number;
  #queue: Pending<Req, Out>[] = [];
  #inFlight = 0;
  #lingering: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(run: BatchRunner<Req, Out>, options: BatcherOptions) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new RangeError(`maxBatchSize must be an integer >= 1, got ${options.maxBatchSize}`);
    }
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be an integer >= 1, got ${options.maxInFlight}`);
    }
    this.#run = run;
    this.#maxBatchSize = options.maxBatchSize;
    this.#maxInFlight = options.maxInFlight;
    this.#lingerMs = options.lingerMs ?? 0;
    if (!Number.isFinite(this.#lingerMs) || this.#lingerMs < 0) throw new RangeError(`lingerMs must be >= 0, got ${options.lingerMs}`);
  }

  /** Queues `request`; resolves with its own outcome once its batch has committed. */
  submit(request: Req): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (this.#lingerMs > 0 && this.#queue.length < this.#maxBatchSize) {
        // The batch's timer runs from its first request; the queue is pumped when it fires.
        this.#lingering ??= setTimeout(() => {
          this.#lingering = undefined;
          this.#pump();
        }, this.#lingerMs);
        return;
      }
      this.#pump();
    });
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    if (this.#lingering !== undefined) {
      clearTimeout(this.#lingering);
      this.#lingering = undefined;
    }
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatchSize);
      this.#inFlight++;
      void this.#runBatch(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#inFlight === 0 && this.#queue.length === 0) {
          const waiters = this.#idleWaiters;
          this.#idleWaiters = [];
          for (const wake of waiters) wake();
        }
      });
    }
  }

  async #runBatch(batch: readonly Pending<Req, Out>[]): Promise<void> {
    let result: BatchResult<Out>;
    try {
      result = await this.#run(batch.map((p) => p.request));
    } catch (error) {
      if (batch.length === 1 || error instanceof StoreUnavailableError) {
        for (const p of batch) p.reject(error);
        return;
      }
      result = { kind: 'split' };
    }
    if (result.kind === 'done') {
      if (result.outcomes.length !== batch.length) {
        const error = new Error(`batch runner returned ${result.outcomes.length} outcomes for ${batch.length} requests`);
        for (const p of batch) p.reject(error);
        return;
      }
      batch.forEach((p, i) => p.resolve(result.outcomes[i]!));
      return;
    }
    if (batch.length === 1) {
      batch[0]!.reject(new Error('batch runner asked to split a batch of one'));
      return;
    }
    // One by one, in order: each request is its own transaction, its failure its own.
    for (const p of batch) await this.#runBatch([p]);
  }
}
