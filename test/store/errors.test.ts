import { describe, expect, it } from 'vitest';
import { StoreError, StoreUnavailableError, isUnavailable, toStoreError } from '../../src/store/errors.js';
import { u64FromSql, u64ToSql } from '../../src/store/codec.js';

/** A server ErrorResponse as pg and PGlite raise it. */
function serverError(code: string, severity = 'ERROR'): Error {
  return Object.assign(new Error(`server says ${code}`), { code, severity });
}

describe('error classification', () => {
  it('treats socket errors and pg’s own connection errors as unavailable', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']) {
      expect(isUnavailable(Object.assign(new Error(code), { code }))).toBe(true);
    }
    expect(isUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isUnavailable(new AggregateError([new Error('a')], ''))).toBe(true);
  });

  it('treats the retryable SQLSTATEs as unavailable, and the rest as errors', () => {
    for (const code of ['08006', '08001', '53300', '57P01', '57P03', '57014', '40001', '40P01', '55P03']) {
      expect(isUnavailable(serverError(code))).toBe(true);
    }
    for (const code of ['23505', '42P01', '3D000', '28P01', '42601']) {
      expect(isUnavailable(serverError(code))).toBe(false);
    }
  });

  it('flags a connection failure during COMMIT as maybe committed, and a server refusal of COMMIT as not', () => {
    const lost = toStoreError(new Error('Connection terminated unexpectedly'), 'commitSettle', 'db', true);
    expect(lost).toBeInstanceOf(StoreUnavailableError);
    expect((lost as StoreUnavailableError).mayHaveCommitted).toBe(true);
    const refused = toStoreError(serverError('40001'), 'commitSettle', 'db', true);
    expect((refused as StoreUnavailableError).mayHaveCommitted).toBe(false);
    const shutdown = toStoreError(serverError('57P01', 'FATAL'), 'commitSettle', 'db', true);
    expect((shutdown as StoreUnavailableError).mayHaveCommitted).toBe(true);
  });

  it('names a missing schema and the command that creates it', () => {
    const error = toStoreError(serverError('42P01'), 'getInvoice', 'db');
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toMatch(/lnmux migrate up/);
    expect(error.cause).toBeInstanceOf(Error);
  });
});

describe('u64 columns', () => {
  it('store every u64 as the signed bigint with the same bits, and read it back exactly', () => {
    const cases: [bigint, string][] = [
      [0n, '0'],
      [(1n << 63n) - 1n, '9223372036854775807'],
      [1n << 63n, '-9223372036854775808'],
      [(1n << 64n) - 1n, '-1'],
      [0x8000_1234_5678_9abcn, '-9223352020856431940'], // python3: 0x8000123456789abc - 2**64,
    ];
    for (const [u64, sql] of cases) {
      expect(u64ToSql(u64)).toBe(sql);
      expect(u64FromSql(sql)).toBe(u64);
    }
  });
});
