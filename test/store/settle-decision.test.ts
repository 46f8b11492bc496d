import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hex } from '../../src/store/codec.js';
import {
  checkSettleCommit,
  decideSettles,
  type InvoiceForSettle,
  type SettleCommit,
} from '../../src/store/settle-decision.js';
import { bytes32, htlcSet } from './helpers.js';

const at = new Date('2025-01-01T00:00:00Z');

function request(hash: Uint8Array, total: bigint, parts = 1): SettleCommit {
  return { hash, ...htlcSet(total, parts) };
}

function invoices(entries: [Uint8Array, InvoiceForSettle][]): Map<string, InvoiceForSettle> {
  return new Map(entries.map(([h, i]) => [hex(h), i]));
}

const open = (amountMsat: bigint | undefined, more: Partial<InvoiceForSettle> = {}): InvoiceForSettle => ({
  state: 'open',
  kind: 'stateless',
  amountMsat,
  minAmountMsat: undefined,
  setId: null,
  settleCommittedAt: null,
  ...more,
});

describe('decideSettles for the invoice kinds (docs/store.md, "Invoice kinds")', () => {
  it('writes an amountless invoice\'s set of any amount, and one at or above its minimum only', () => {
    const free = bytes32();
    expect(decideSettles(invoices([[free, open(undefined)]]), [request(free, 1n)])).toEqual([{ kind: 'write' }]);
    const min = bytes32();
    const minimum = invoices([[min, open(undefined, { minAmountMsat: 5_000n })]]);
    expect(decideSettles(minimum, [request(min, 4_999n)])).toEqual([{ kind: 'amountMismatch', invoiceMsat: 5_000n, setMsat: 4_999n }]);
    expect(decideSettles(minimum, [request(min, 5_000n, 2)])).toEqual([{ kind: 'write' }]);
  });

  it('writes a hold or goLnmux invoice\'s set only with the preimage of its hash; a stateless one needs none', () => {
    const preimage = bytes32();
    const hash = new Uint8Array(createHash('sha256').update(preimage).digest());
    for (const kind of ['hold', 'goLnmux'] as const) {
      const rows = invoices([[hash, open(1_000n, { kind })]]);
      expect(decideSettles(rows, [request(hash, 1_000n)])).toEqual([{ kind: 'wrongPreimage' }]);
      expect(decideSettles(rows, [{ ...request(hash, 1_000n), preimage: bytes32() }])).toEqual([{ kind: 'wrongPreimage' }]);
      expect(decideSettles(rows, [{ ...request(hash, 1_000n), preimage }])).toEqual([{ kind: 'write' }]);
    }
    expect(decideSettles(invoices([[hash, open(1_000n)]]), [request(hash, 1_000n)])).toEqual([{ kind: 'write' }]);
  });
});

describe('decideSettles', () => {
  it('writes the set of an open invoice whose amounts add up exactly', () => {
    const h = bytes32();
    expect(decideSettles(invoices([[h, open(1_000n)]]), [request(h, 1_000n, 3)])).toEqual([{ kind: 'write' }]);
  });

  it('decides each state of the invoice', () => {
    const h = bytes32();
    const committed = bytes32();
    const r = request(h, 10n);
    const decided = (state: InvoiceForSettle['state']): InvoiceForSettle => ({
      state,
      kind: 'stateless',
      amountMsat: 10n,
      minAmountMsat: undefined,
      setId: state === 'open' || state === 'cancelled' ? null : committed,
      settleCommittedAt: state === 'open' || state === 'cancelled' ? null : at,
    });
    expect(decideSettles(invoices([]), [r])).toEqual([{ kind: 'unknown' }]);
    expect(decideSettles(invoices([[h, decided('cancelled')]]), [r])).toEqual([{ kind: 'cancelled' }]);
    for (const state of ['settleCommitted', 'settled', 'failed'] as const) {
      expect(decideSettles(invoices([[h, decided(state)]]), [r])).toEqual([
        { kind: 'alreadySettledWithOtherSet', setId: committed },
      ]);
      expect(decideSettles(invoices([[h, decided(state)]]), [{ ...r, setId: committed }])).toEqual([
        { kind: 'alreadyCommitted', state, settleCommittedAt: at },
      ]);
    }
  });

  it("refuses a set short of the invoice amount, and writes one above it (the payer's overpayment, as LND accepts it)", () => {
    const h = bytes32();
    expect(decideSettles(invoices([[h, open(10n)]]), [request(h, 9n)])).toEqual([
      { kind: 'amountMismatch', invoiceMsat: 10n, setMsat: 9n },
    ]);
    expect(decideSettles(invoices([[h, open(10n)]]), [request(h, 11n, 2)])).toEqual([{ kind: 'write' }]);
  });

  it('decides requests of one batch in order: the first set wins, its repeat follows it, others are refused', () => {
    const h = bytes32();
    const first = request(h, 10n);
    const second = request(h, 10n, 2);
    const verdicts = decideSettles(invoices([[h, open(10n)]]), [first, second, first, { ...request(h, 9n) }]);
    expect(verdicts).toEqual([
      { kind: 'write' },
      { kind: 'alreadySettledWithOtherSet', setId: first.setId },
      { kind: 'sameSetAsWrite', writeIndex: 0 },
      { kind: 'alreadySettledWithOtherSet', setId: first.setId },
    ]);
  });

  it('lets a refused set not block a later good one for the same invoice', () => {
    const h = bytes32();
    const good = request(h, 10n);
    expect(decideSettles(invoices([[h, open(10n)]]), [request(h, 3n), good])).toEqual([
      { kind: 'amountMismatch', invoiceMsat: 10n, setMsat: 3n },
      { kind: 'write' },
    ]);
  });
});

describe('checkSettleCommit', () => {
  it('accepts a well-formed set and names the field of a malformed one', () => {
    const good = request(bytes32(), 10n, 2);
    expect(() => checkSettleCommit(good)).not.toThrow();
    expect(() => checkSettleCommit({ ...good, hash: new Uint8Array(32).subarray(1) })).toThrow(/hash must be 32 bytes/);
    expect(() => checkSettleCommit({ ...good, htlcs: [] })).toThrow(/non-empty/);
    expect(() => checkSettleCommit({ ...good, htlcs: [{ ...good.htlcs[0]!, nodePubkey: new Uint8Array(32) }] })).toThrow(
      /htlcs\[0\]\.nodePubkey: expected a 33-byte compressed public key/,
    );
    expect(() => checkSettleCommit({ ...good, htlcs: [{ ...good.htlcs[0]!, htlcId: -1n }] })).toThrow(/htlcs\[0\]\.htlcId/);
    expect(() => checkSettleCommit({ ...good, htlcs: [good.htlcs[1]!, { ...good.htlcs[1]!, amountMsat: 1n }] })).toThrow(
      /htlcs\[1\] repeats/,
    );
  });
});
