import { describe, expect, it } from 'vitest';
import { Batcher, type BatchResult } from '../../src/store/batcher.js';
import { StoreError, StoreUnavailableError } from '../../src/store/errors.js';
import { waitUntil } from '../support/wait.js';

/** A runner that records its batches and resolves each when the test says so. */
function controlledRunner(decide: (batch: readonly number[]) => BatchResult<string> | Error = (b) => ({
  kind: 'done',
  outcomes: b.map((n) => `ok ${n}`),
})) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = async (batch: readonly number[]): Promise<BatchResult<string>> => {
    batches.push([...batch]);
    await new Promise<void>((resolve) => gates.push(resolve));
    const result = decide(batch);
    if (result instanceof Error) throw result;
    return result;
  };
  /** Lets every batch started so far finish, and waits a turn for the next ones to start. */
  const flush = async (): Promise<void> => {
    while (gates.length > 0) gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { run, batches, flush };
}

describe('Batcher', () => {
  it('runs a lone request at once, by itself', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, { maxBatchSize: 10, maxInFlight: 1 });
    const outcome = batcher.submit(1);
    expect(runner.batches).toEqual([[1]]);
    await runner.flush();
    expect(await outcome).toBe('ok 1');
  });

  it('with a linger, holds a lone request until its time is up, so that the next ones share its batch', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, { maxBatchSize: 10, maxInFlight: 1, lingerMs: 30 });
    const outcomes = [batcher.submit(1)];
    await new Promise((resolve) => setTimeout(resolve, 5));
    outcomes.push(batcher.submit(2), batcher.submit(3));
    expect(runner.batches).toEqual([]);
    await waitUntil(() => runner.batches.length > 0, { what: 'the lingering batch to run' });
    expect(runner.batches).toEqual([[1, 2, 3]]);
    await runner.flush();
    expect(await Promise.all(outcomes)).toEqual(['ok 1', 'ok 2', 'ok 3']);
    await batcher.idle();
  });

  it('with a linger, runs a full batch at once', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, { maxBatchSize: 2, maxInFlight: 1, lingerMs: 60_000 });
    const outcomes = [batcher.submit(1), batcher.submit(2)];
    expect(runner.batches).toEqual([[1, 2]]);
    await runner.flush();
    expect(await Promise.all(outcomes)).toEqual(['ok 1', 'ok 2']);
    expect(() => new Batcher(runner.run, { maxBatchSize: 2, maxInFlight: 1, lingerMs: -1 })).toThrow(/lingerMs/);
  });

  it('groups the requests that arrive while a batch is in flight, up to the batch size', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, { maxBatchSize: 3, maxInFlight: 1 });
    const outcomes = [1, 2, 3, 4, 5, 6].map((n) => batcher.submit(n));
    expect(runner.batches).toEqual([[1]]);
    await runner.flush();
    expect(runner.batches).toEqual([[1], [2, 3, 4]]);
    await runner.flush();
    await runner.flush();
    expect(runner.batches).toEqual([[1], [2, 3, 4], [5, 6]]);
    expect(await Promise.all(outcomes)).toEqual(['ok 1', 'ok 2', 'ok 3', 'ok 4', 'ok 5', 'ok 6']);
  });

  it('runs up to maxInFlight batches at once', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, { maxBatchSize: 10, maxInFlight: 2 });
    const outcomes = [1, 2, 3, 4].map((n) => batcher.submit(n));
    expect(runner.batches).toEqual([[1], [2]]);
    await runner.flush();
    expect(runner.batches).toEqual([[1], [2], [3, 4]]);
    await runner.flush();
    await Promise.all(outcomes);
  });

  it('rejects every request of a batch that failed because the database is unavailable', async () => {
    const down = new StoreUnavailableError('down', false);
    const runner = controlledRunner((b) => (b.length > 1 ? down : { kind: 'done', outcomes: ['ok'] }));
    const batcher = new Batcher(runner.run, { maxBatchSize: 10, maxInFlight: 1 });
    const first = batcher.submit(1);
    const rest = [2, 3].map((n) => batcher.submit(n).catch((e: unknown) => e));
    await runner.flush();
    await runner.flush();
    expect(await first).toBe('ok');
    expect(await Promise.all(rest)).toEqual([down, down]);
    expect(runner.batches).toEqual([[1], [2, 3]]);
  });

  it('runs the requests of a batch one by one when the runner asks to split, or fails otherwise', async () => {
    for (const failure of [{ kind: 'split' } as const, new StoreError('a bad request in the batch')]) {
      const runner = controlledRunner((b) =>
        b.length > 1 ? failure : b[0] === 3 ? new StoreError('bad 3') : { kind: 'done', outcomes: [`ok ${b[0]}`] },
      );
      const batcher = new Batcher(runner.run, { maxBatchSize: 10, maxInFlight: 1 });
      const outcomes = [1, 2, 3, 4].map((n) => batcher.submit(n).catch((e: unknown) => (e as Error).message));
      for (let i = 0; i < 6; i++) await runner.flush();
      expect(await Promise.all(outcomes)).toEqual(['ok 1', 'ok 2', 'bad 3', 'ok 4']);
      expect(runner.batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
    }
  });

  it('resolves idle() once nothing is queued or running', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, { maxBatchSize: 2, maxInFlight: 1 });
    await batcher.idle();
    const outcomes = [1, 2, 3].map((n) => batcher.submit(n));
    let idle = false;
    const waiting = batcher.idle().then(() => (idle = true));
    await runner.flush();
    expect(idle).toBe(false);
    await runner.flush();
    await waiting;
    await Promise.all(outcomes);
  });

  it('refuses nonsense settings', () => {
    const runner = controlledRunner();
    expect(() => new Batcher(runner.run, { maxBatchSize: 0, maxInFlight: 1 })).toThrow(/maxBatchSize/);
    expect(() => new Batcher(runner.run, { maxBatchSize: 1, maxInFlight: 0.5 })).toThrow(/maxInFlight/);
  });
});
