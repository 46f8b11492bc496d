/**
 * The HTLC log writer: entries reach the store in batches; a database outage delays them (retried); an
 * entry the store refuses for good is dropped, so one bad entry (a payer's absurd amount) never stops
 * the log.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { htlcLogWriter } from '../../src/mux/batched-writer.js';
import type { HtlcLogEntry } from '../../src/store/types.js';
import { waitUntil } from '../support/wait.js';

const entry = (htlcId: bigint, amountMsat = 1_000n): HtlcLogEntry => ({
  key: { nodePubkey: new Uint8Array(33).fill(2), chanId: 1n, htlcId },
  event: 'accepted',
  hash: new Uint8Array(32),
  amountMsat,
  at: new Date(0),
});

describe('the HTLC log writer (BatchedWriter)', () => {
  it('retries through an outage, and drops what the store refuses for good without blocking later entries', async () => {
    const written: bigint[] = [];
    let outage = 2;
    const writer = htlcLogWriter({
      logger: pino({ level: 'silent' }),
      flushMs: 1,
      retryMs: 5,
      maxBatch: 1,
      write: async ([e]) => {
        if (outage-- > 0) throw Object.assign(new Error('connection refused'), { retryable: true });
        if (e!.key.htlcId === 2n) throw new RangeError('refused for good');
        written.push(e!.key.htlcId);
      },
    });
    writer.add(entry(1n));
    writer.add(entry(2n));
    writer.add(entry(3n));
    await waitUntil(() => written.length === 2, { what: 'two entries written', intervalMs: 5, observed: () => written });
    expect(written).toEqual([1n, 3n]);
    await writer.stop();
  });

  it('logs an amount beyond what the store holds as the largest it holds', async () => {
    const amounts: bigint[] = [];
    const writer = htlcLogWriter({ logger: pino({ level: 'silent' }), flushMs: 1, write: async (es) => void amounts.push(...es.map((e) => e.amountMsat)) });
    writer.add(entry(1n, 1n << 64n));
    await writer.stop();
    expect(amounts).toEqual([(1n << 63n) - 1n]);
  });
});
