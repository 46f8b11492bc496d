import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF, validateBackoff, type BackoffPolicy } from '../../src/lnd/backoff.js';

const policy: BackoffPolicy = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.5 };

describe('backoffDelayMs', () => {
  it('doubles from the initial delay up to the cap when the random draw is 0 (no jitter taken)', () => {
    const delays = [0, 1, 2, 3, 4, 5, 60].map((n) => backoffDelayMs(n, policy, () => 0));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('takes off at most the jitter fraction: a draw near 1 gives half the delay with jitter 0.5', () => {
    expect(backoffDelayMs(0, policy, () => 0.999_999)).toBeCloseTo(50, 3);
    expect(backoffDelayMs(10, policy, () => 0.5)).toBe(750);
  });

  it('stays within [initialMs * (1 - jitter), maxMs] for any attempt, policy and draw', () => {
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.double({ min: 1, max: 10_000, noNaN: true }),
        fc.double({ min: 1, max: 100, noNaN: true }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initialMs, factor, multiplier, jitter, draw) => {
          const p = { initialMs, maxMs: initialMs * factor, multiplier, jitter };
          const delay = backoffDelayMs(attempt, p, () => draw);
          expect(delay).toBeGreaterThanOrEqual(initialMs * (1 - jitter) - 1e-9);
          expect(delay).toBeLessThanOrEqual(p.maxMs);
        },
      ),
    );
  });

  it('never decreases from one attempt to the next for the same draw', () => {
    fc.assert(
      fc.property(fc.nat(200), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, draw) => {
        expect(backoffDelayMs(n + 1, DEFAULT_BACKOFF, () => draw)).toBeGreaterThanOrEqual(backoffDelayMs(n, DEFAULT_BACKOFF, () => draw));
      }),
    );
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(backoffDelayMs(0, policy, () => -3)).toBe(100);
    expect(backoffDelayMs(0, policy, () => 7)).toBe(50);
  });
});

describe('validateBackoff', () => {
  it('names the field that is out of range', () => {
    expect(() => validateBackoff({ ...policy, initialMs: 0 })).toThrow(/backoff.initialMs/);
    expect(() => validateBackoff({ ...policy, maxMs: 50 })).toThrow(/backoff.maxMs/);
    expect(() => validateBackoff({ ...policy, multiplier: 0.5 })).toThrow(/backoff.multiplier/);
    expect(() => validateBackoff({ ...policy, jitter: 1.5 })).toThrow(/backoff.jitter/);
    expect(validateBackoff(DEFAULT_BACKOFF)).toBe(DEFAULT_BACKOFF);
  });
});
