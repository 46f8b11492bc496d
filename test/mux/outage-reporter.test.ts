/**
 * A database outage in the logs (issue 14 §4): one line when it starts, one a minute while it lasts,
 * one when it ends, the error's message without a stack trace, whichever part of lnmux (an engine's
 * lookup, the leader loop) saw the failures.
 */
import { describe, expect, it } from 'vitest';
import { makeLogger } from '../../src/cli/logger.js';
import { isExpectedOutage, OutageReporter } from '../../src/mux/outage-reporter.js';
import { StoreError, StoreUnavailableError } from '../../src/store/index.js';
import { ManualClock } from '../lnd/support/manual-clock.js';

function reporter(): { outages: OutageReporter; clock: ManualClock; lines: string[] } {
  const lines: string[] = [];
  const clock = new ManualClock();
  const outages = new OutageReporter({ log: makeLogger({ level: 'debug', format: 'json', write: (line) => lines.push(line) }), clock });
  return { outages, clock, lines };
}

const down = new StoreUnavailableError('connect ECONNREFUSED 127.0.0.1:5432', false);

describe('database outage reporter', () => {
  it('logs one line at the start, one a minute, one at the end, for failures every 200 ms over 150 s', () => {
    const { outages, clock, lines } = reporter();
    for (let t = 0; t < 150_000; t += 200) {
      outages.failed(t % 1000 === 0 ? 'leadership' : 'invoice lookup', down);
      clock.advance(200);
    }
    outages.succeeded();
    outages.succeeded(); // no outage going on: nothing
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => r['msg'])).toEqual([
      'Database unavailable; holding and retrying',
      'Database still unavailable; retrying',
      'Database still unavailable; retrying',
      'Database available again',
    ]);
    expect(records[0]).toMatchObject({ level: 40, operation: 'leadership', err: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(records[1]).toMatchObject({ forSeconds: 60, failedCalls: 301 });
    expect(records[3]).toMatchObject({ level: 30, afterSeconds: 150, failedCalls: 750, operations: ['leadership', 'invoice lookup'] });
    // Integers, and no stack trace anywhere.
    for (const line of lines) expect(line).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  it('starts a new story for the next outage', () => {
    const { outages, clock, lines } = reporter();
    outages.failed('settle commit', down);
    clock.advance(5_000);
    outages.succeeded();
    expect(outages.ongoing).toBe(false);
    outages.failed('settle commit', down);
    expect(outages.ongoing).toBe(true);
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual([
      'Database unavailable; holding and retrying',
      'Database available again',
      'Database unavailable; holding and retrying',
    ]);
  });

  it('takes StoreUnavailableError (retryable) as an expected outage, not another StoreError', () => {
    expect(isExpectedOutage(down)).toBe(true);
    expect(isExpectedOutage(new StoreError('constraint violated'))).toBe(false);
    expect(isExpectedOutage(new Error('bug'))).toBe(false);
    expect(isExpectedOutage(undefined)).toBe(false);
  });
});
