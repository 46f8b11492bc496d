import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../src/registry/deadline-queue.js';

interface Entry {
  readonly at: number;
  readonly id: number;
}

function drain(queue: DeadlineQueue<Entry>): Entry[] {
  const out: Entry[] = [];
  for (let e = queue.pop(); e !== undefined; e = queue.pop()) out.push(e);
  return out;
}

const deadlines = fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 });

describe('DeadlineQueue', () => {
  it('is empty when new: no entry to peek at or pop', () => {
    const queue = new DeadlineQueue<Entry>();
    expect(queue.size).toBe(0);
    expect(queue.peek()).toBeUndefined();
    expect(queue.pop()).toBeUndefined();
  });

  it('pops every pushed entry once, earliest deadline first, and peek shows what pop returns', () => {
    fc.assert(
      fc.property(deadlines, (ats) => {
        const queue = new DeadlineQueue<Entry>();
        ats.forEach((at, id) => queue.push({ at, id }));
        expect(queue.size).toBe(ats.length);
        const out: Entry[] = [];
        for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
          expect(queue.pop()).toBe(top);
          out.push(top);
        }
        expect(out.map((e) => e.at)).toEqual([...ats].sort((a, b) => a - b));
        expect(out.map((e) => e.id).sort((a, b) => a - b)).toEqual(ats.map((_, id) => id));
      }),
    );
  });

  it('keeps the order when pushes and pops interleave', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(-1)), { maxLength: 300 }), (ops) => {
        const queue = new DeadlineQueue<Entry>();
        const model: number[] = [];
        ops.forEach((op, id) => {
          if (op >= 0) {
            queue.push({ at: op, id });
            model.push(op);
            model.sort((a, b) => a - b);
          } else {
            expect(queue.pop()?.at).toBe(model.shift());
          }
        });
        expect(drain(queue).map((e) => e.at)).toEqual(model);
      }),
    );
  });

  it('retain drops the entries it is told to and keeps the rest in deadline order', () => {
    fc.assert(
      fc.property(deadlines, fc.func(fc.boolean()), (ats, keepId) => {
        const queue = new DeadlineQueue<Entry>();
        ats.forEach((at, id) => queue.push({ at, id }));
        const popped = queue.pop();
        queue.retain((e) => keepId(e.id));
        const out = drain(queue);
        const expected = ats.map((_, id) => id).filter((id) => id !== popped?.id && keepId(id));
        expect(out.map((e) => e.id).sort((a, b) => a - b)).toEqual(expected);
        expect(out.map((e) => e.at)).toEqual([...out.map((e) => e.at)].sort((a, b) => a - b));
      }),
    );
  });
});
