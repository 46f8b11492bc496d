/**
 * A min-priority queue of deadlines (a binary heap on `at`), so that the registry finds its next
 * deadline, and the deadlines due at a tick, without visiting every HTLC it holds. The registry
 * removes nothing early: an entry whose HTLC left is skipped when it reaches the top (lazy deletion),
 * and `retain` drops such entries in bulk.
 */

/** Anything with a deadline, unix ms. */
export interface HasDeadline {
  readonly at: number;
}

export class DeadlineQueue<T extends HasDeadline> {
  #items: T[] = [];

  /** Entries queued, live or not. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds an entry. O(log n). */
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= item.at) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  /** The entry with the earliest deadline (any of them on a tie), or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Removes and returns the entry `peek` returns. O(log n). */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    this.#siftDown(0, last);
    return top;
  }

  /** Keeps only the entries for which `keep` is true. O(n). */
  retain(keep: (item: T) => boolean): void {
    this.#items = this.#items.filter(keep);
    for (let i = (this.#items.length >> 1) - 1; i >= 0; i--) this.#siftDown(i, this.#items[i]!);
  }

  /** Puts `item` at index `i` and moves it down to its place. */
  #siftDown(i: number, item: T): void {
    const items = this.#items;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right]!.at < items[left]!.at ? right : left;
      if (items[child]!.at >= item.at) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
