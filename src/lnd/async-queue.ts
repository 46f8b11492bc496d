/**
 * A push-to-pull bridge: producers `push` items as they arrive from gRPC, one consumer reads them with
 * `for await`. Unbounded on purpose: pausing the gRPC read side of the interceptor stream would block
 * LND's switch (it sends to the interceptor from its main loop), and what LND sends is bounded by
 * channel limits (483 HTLCs per channel direction).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #head = 0;
  #closed = false;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #iterating = false;
  readonly #onReturn: (() => void) | undefined;

  /** `onReturn` runs when the consumer leaves its loop early (break, throw): e.g. cancel the source. */
  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  /** Number of items pushed and not yet read. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item; ignored once closed. */
  push(item: T): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Ends the iteration once the items already pushed are read. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  #shift(): T | undefined {
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The single consumer's iterator. Throws TypeError if asked a second time. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterating) throw new TypeError('AsyncQueue has one consumer; it is already being iterated');
    this.#iterating = true;
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (this.size > 0) return Promise.resolve({ value: this.#shift() as T, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        if (this.#waiter) throw new TypeError('AsyncQueue.next called again before the previous call resolved');
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        this.close();
        this.#onReturn?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
