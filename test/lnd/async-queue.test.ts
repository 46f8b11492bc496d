import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../src/lnd/async-queue.js';

describe('AsyncQueue', () => {
  it('delivers items pushed before and while the consumer waits, in order, then ends when closed', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    const seen: number[] = [];
    const done = (async () => {
      for await (const item of queue) seen.push(item);
    })();
    queue.push(2);
    await Promise.resolve();
    queue.push(3);
    queue.close();
    queue.push(4); // after close: ignored
    await done;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('has one consumer', () => {
    const queue = new AsyncQueue<number>();
    queue[Symbol.asyncIterator]();
    expect(() => queue[Symbol.asyncIterator]()).toThrow(TypeError);
  });

  it('tells its source when the consumer leaves early', async () => {
    let left = false;
    const queue = new AsyncQueue<number>(() => {
      left = true;
    });
    queue.push(1);
    queue.push(2);
    for await (const item of queue) if (item === 1) break;
    expect(left).toBe(true);
    expect(queue.closed).toBe(true);
  });

  it('keeps many items without losing any', async () => {
    const queue = new AsyncQueue<number>();
    for (let i = 0; i < 5000; i++) queue.push(i);
    queue.close();
    const seen: number[] = [];
    for await (const item of queue) seen.push(item);
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
