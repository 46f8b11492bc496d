import { describe, expect, it } from 'vitest';
import { setId, type CircuitKey } from '../../src/protocol/set-id.js';
import { Registry } from '../../src/registry/registry.js';
import type { ArrivedHtlc, Decision, InvoiceStatus, RegistryConfig } from '../../src/registry/types.js';

const NODE_A = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : i));
const NODE_B = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 3 : 100 + i));
const HASH = new Uint8Array(32).fill(7);
const PREIMAGE = new Uint8Array(32).fill(9);
const T0 = 1_800_000_000_000; // unix ms
const EXPIRES_AT = T0 / 1000 + 3600; // unix s
const HEIGHT = 800_000;

const config: RegistryConfig = { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 10 };
const open: InvoiceStatus = { kind: 'open' };

function key(node: Uint8Array, htlcId: bigint, chanId = 555n): CircuitKey {
  return { nodePubkey: node, chanId, htlcId };
}

function htlc(k: CircuitKey, amountMsat: bigint, overrides: Partial<ArrivedHtlc> = {}): ArrivedHtlc {
  return {
    key: k,
    paymentHash: HASH,
    preimage: PREIMAGE,
    amountMsat,
    expiry: HEIGHT + 40,
    totalMsat: 10_000n,
    invoiceAmountMsat: 10_000n,
    invoiceExpiresAt: EXPIRES_AT,
    sharedSecret: new Uint8Array(32).fill(1),
    ...overrides,
  };
}

function registry(overrides: Partial<RegistryConfig> = {}): Registry {
  const r = new Registry({ ...config, ...overrides });
  r.step({ kind: 'blockConnected', height: HEIGHT }, T0);
  return r;
}

const kinds = (ds: Decision[]) => ds.map((d) => d.kind);
const outcomes = (ds: Decision[]) => ds.map((d) => (d.kind === 'fail' || d.kind === 'settle' ? d.outcome : d.kind));

describe('Registry, auto mode', () => {
  it('holds a single part that pays the invoice, asks to commit it, and settles only after the commit', () => {
    const r = registry();
    const k = key(NODE_A, 1n);
    const arrived = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0);
    expect(kinds(arrived)).toEqual(['hold', 'commitSettle']);
    const commit = arrived[1];
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    expect(commit.setId).toEqual(setId([k]));
    expect(commit.htlcs).toEqual([{ key: k, amountMsat: 10_000n }]);

    const settled = r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 5);
    expect(settled).toEqual([{ kind: 'settle', key: k, paymentHash: HASH, preimage: PREIMAGE, outcome: 'settled' }]);
  });

  it('assembles an MPP set across two nodes that share a channel id and counts each part once', () => {
    const r = registry();
    const a = key(NODE_A, 1n, 999n);
    const b = key(NODE_B, 1n, 999n);
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(a, 4_000n), invoice: open }, T0))).toEqual(['hold']);
    // The same HTLC offered again after a reconnect is not counted twice.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(a, 4_000n), invoice: open }, T0 + 1))).toEqual(['hold']);
    const done = r.step({ kind: 'htlcArrived', htlc: htlc(b, 6_000n), invoice: open }, T0 + 2);
    expect(kinds(done)).toEqual(['hold', 'commitSettle']);
    const commit = done[1];
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    expect(commit.setId).toEqual(setId([b, a]));
    const settled = r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 3);
    expect(settled.map((d) => d.kind === 'settle' && d.key)).toEqual([a, b]);
  });

  it('fails a part that would take the set above the invoice amount and keeps the others', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 6_000n), invoice: open }, T0);
    const over = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 5_000n), invoice: open }, T0);
    expect(outcomes(over)).toEqual(['overpayment']);
    const d = over[0];
    expect(d?.kind === 'fail' && d.message).toEqual({
      kind: 'incorrectOrUnknownPaymentDetails',
      htlcMsat: 5_000n,
      height: HEIGHT,
    });
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 3n), 4_000n), invoice: open }, T0))).toEqual([
      'hold',
      'commitSettle',
    ]);
  });

  it('fails each part alone with mpp_timeout when it waited longer than the MPP timeout', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 3_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 3_000n), invoice: open }, T0 + 60_000);
    expect(r.nextDeadline()).toBe(T0 + 120_000);
    expect(r.step({ kind: 'tick' }, T0 + 119_999)).toEqual([]);
    const first = r.step({ kind: 'tick' }, T0 + 120_000);
    expect(outcomes(first)).toEqual(['mppTimeout']);
    expect(first[0]?.kind === 'fail' && first[0].message).toEqual({ kind: 'mppTimeout' });
    expect(first[0]?.kind === 'fail' && first[0].key).toEqual(key(NODE_A, 1n));
    expect(r.nextDeadline()).toBe(T0 + 180_000);
    // The survivor still counts: 3,000 + 7,000 completes the set.
    const done = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 7_000n), invoice: open }, T0 + 130_000);
    expect(kinds(done)).toEqual(['hold', 'commitSettle']);
  });

  it('never fails a part of a set whose commit was requested, whatever the clock or the chain does', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n), invoice: open }, T0);
    expect(r.nextDeadline()).toBeUndefined();
    expect(r.step({ kind: 'tick' }, T0 + 10 * 120_000)).toEqual([]);
    expect(r.step({ kind: 'blockConnected', height: HEIGHT + 100 }, T0 + 10 * 120_000)).toEqual([]);
  });

  it('fails with the same message whether the invoice is unknown, cancelled, expired or settled by another set', () => {
    const r = registry();
    const committed: InvoiceStatus = { kind: 'settleCommitted', setId: new Uint8Array(32), htlcs: [key(NODE_B, 9n)] };
    const cases: [InvoiceStatus, number, string][] = [
      [{ kind: 'unknown' }, T0, 'invoiceUnknown'],
      [{ kind: 'cancelled' }, T0, 'invoiceCancelled'],
      [open, EXPIRES_AT * 1000, 'invoiceExpired'],
      [committed, T0, 'invoiceAlreadySettled'],
    ];
    for (const [invoice, now, outcome] of cases) {
      const [d, ...rest] = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n), invoice }, now);
      expect(rest).toEqual([]);
      expect(d?.kind === 'fail' && d.outcome).toBe(outcome);
      expect(d?.kind === 'fail' && d.message).toEqual({
        kind: 'incorrectOrUnknownPaymentDetails',
        htlcMsat: 10_000n,
        height: HEIGHT,
      });
    }
  });

  it('settles again an HTLC of the committed set offered after a restart, even past the invoice expiry', () => {
    const r = registry();
    const k = key(NODE_A, 1n);
    const invoice: InvoiceStatus = { kind: 'settleCommitted', setId: setId([k]), htlcs: [k] };
    const late = EXPIRES_AT * 1000 + 1;
    const ds = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n, { expiry: HEIGHT + 1 }), invoice }, late);
    expect(ds).toEqual([{ kind: 'settle', key: k, paymentHash: HASH, preimage: PREIMAGE, outcome: 'replayToSettled' }]);
  });

  it('settles a replay of a set it committed itself and fails any other HTLC for that invoice', () => {
    const r = registry();
    const k = key(NODE_A, 1n);
    const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    // Before the commit is known: an extra HTLC cannot join, the member waits.
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 1n), invoice: open }, T0))).toEqual([
      'setClosed',
    ]);
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0))).toEqual(['hold']);
    r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0);
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0))).toEqual([
      'replayToSettled',
    ]);
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 2n), 1n), invoice: open }, T0))).toEqual([
      'invoiceAlreadySettled',
    ]);
  });

  it('forgets a committed set once LND reports every part final, and then relies on the store', () => {
    const r = registry();
    const k = key(NODE_A, 1n);
    const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0);
    expect(r.heldHtlcCount).toBe(1);
    r.step({ kind: 'htlcFinal', key: k, settled: true }, T0);
    expect(r.heldHtlcCount).toBe(0);
    // With memory gone, a replay is decided by what the store says.
    const invoice: InvoiceStatus = { kind: 'settleCommitted', setId: commit.setId, htlcs: [k] };
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice }, T0))).toEqual(['replayToSettled']);
  });

  it('follows the store when it refuses the commit because another set won', () => {
    const r = registry();
    const mine = key(NODE_A, 1n);
    const theirs = key(NODE_B, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(mine, 10_000n), invoice: open }, T0);
    const refused = r.step(
      { kind: 'settleRefused', paymentHash: HASH, invoice: { kind: 'settleCommitted', setId: setId([theirs]), htlcs: [theirs] } },
      T0,
    );
    expect(outcomes(refused)).toEqual(['invoiceAlreadySettled']);
  });

  it('fails the whole set when the store refuses the commit because the invoice was cancelled', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 5_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 5_000n), invoice: open }, T0);
    const refused = r.step({ kind: 'settleRefused', paymentHash: HASH, invoice: { kind: 'cancelled' } }, T0);
    expect(outcomes(refused)).toEqual(['invoiceCancelled', 'invoiceCancelled']);
    expect(r.heldHtlcCount).toBe(0);
  });

  it('fails a new part whose expiry is within the safety margin, and held parts when blocks reach it', () => {
    const r = registry();
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 1_000n, { expiry: HEIGHT + 10 }), invoice: open }, T0))).toEqual([
      'expiryTooSoon',
    ]);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 1_000n, { expiry: HEIGHT + 20 }), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 3n), 1_000n, { expiry: HEIGHT + 40 }), invoice: open }, T0);
    expect(r.step({ kind: 'blockConnected', height: HEIGHT + 9 }, T0)).toEqual([]);
    const ds = r.step({ kind: 'blockConnected', height: HEIGHT + 10 }, T0);
    expect(outcomes(ds)).toEqual(['expiryTooSoon']);
    expect(ds[0]?.kind === 'fail' && ds[0].key).toEqual(key(NODE_A, 2n));
    expect(r.heldHtlcCount).toBe(1);
  });
});

describe('Registry, hold mode', () => {
  it('tells the application about a complete set and commits it only when the application settles it', () => {
    const r = registry({ mode: 'hold' });
    const k = key(NODE_A, 1n);
    const ds = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0);
    expect(kinds(ds)).toEqual(['hold', 'setAccepted']);
    const accepted = ds[1];
    if (accepted?.kind !== 'setAccepted') throw new Error('expected setAccepted');
    expect(accepted.amountMsat).toBe(10_000n);
    const commit = r.step({ kind: 'settleRequested', setId: accepted.setId }, T0 + 1);
    expect(kinds(commit)).toEqual(['commitSettle']);
    // Settling twice is harmless.
    expect(r.step({ kind: 'settleRequested', setId: accepted.setId }, T0 + 2)).toEqual([]);
    expect(outcomes(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: accepted.setId }, T0 + 3))).toEqual([
      'settled',
    ]);
    expect(r.step({ kind: 'settleRequested', setId: accepted.setId }, T0 + 4)).toEqual([
      { kind: 'settleRequestAnswered', setId: accepted.setId, answer: 'alreadySettled' },
    ]);
  });

  it('refuses to settle a set id it does not hold complete', () => {
    const r = registry({ mode: 'hold' });
    const unknown = new Uint8Array(32).fill(3);
    expect(r.step({ kind: 'settleRequested', setId: unknown }, T0)).toEqual([
      { kind: 'settleRequestAnswered', setId: unknown, answer: 'unknownSet' },
    ]);
  });

  it('releases an accepted set that the application cancels or leaves undecided past the hold timeout', () => {
    const cancelled = registry({ mode: 'hold' });
    cancelled.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n), invoice: open }, T0);
    expect(outcomes(cancelled.step({ kind: 'invoiceCancelled', paymentHash: HASH }, T0))).toEqual([
      'invoiceCancelled',
      'setReleased',
    ]);

    const undecided = registry({ mode: 'hold' });
    const [, accepted] = undecided.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n), invoice: open }, T0);
    if (accepted?.kind !== 'setAccepted') throw new Error('expected setAccepted');
    expect(undecided.nextDeadline()).toBe(T0 + 60_000);
    const released = undecided.step({ kind: 'tick' }, T0 + 60_000);
    expect(outcomes(released)).toEqual(['holdTimeout', 'setReleased']);
    expect(undecided.step({ kind: 'settleRequested', setId: accepted.setId }, T0)).toEqual([
      { kind: 'settleRequestAnswered', setId: accepted.setId, answer: 'unknownSet' },
    ]);
  });
});

describe('Registry deadlines across many sets', () => {
  const hash = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n & 0xff : i === 1 ? n >> 8 : 0));
  const part = (n: number, htlcId: bigint, amountMsat: bigint) =>
    htlc(key(NODE_A, htlcId, BigInt(1000 + n)), amountMsat, { paymentHash: hash(n) });

  it('gives the earliest deadline of a part still waiting, not of parts whose set completed or timed out', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 3_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: part(2, 1n, 3_000n), invoice: open }, T0 + 1_000);
    r.step({ kind: 'htlcArrived', htlc: part(3, 1n, 3_000n), invoice: open }, T0 + 2_000);
    expect(r.nextDeadline()).toBe(T0 + 120_000);
    // Set 1 completes: its first part's deadline no longer counts.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: part(1, 2n, 7_000n), invoice: open }, T0 + 3_000))).toEqual(['hold', 'commitSettle']);
    expect(r.nextDeadline()).toBe(T0 + 121_000);
    // Set 2's part times out alone; set 3's is next.
    expect(outcomes(r.step({ kind: 'tick' }, T0 + 121_000))).toEqual(['mppTimeout']);
    expect(r.nextDeadline()).toBe(T0 + 122_000);
  });

  it('fails at one tick every due part of every set once, and leaves the parts not yet due', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 2_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: part(2, 1n, 2_000n), invoice: open }, T0 + 10);
    r.step({ kind: 'htlcArrived', htlc: part(1, 2n, 2_000n), invoice: open }, T0 + 20);
    // A replay of a held part keeps its first arrival time and is not counted twice.
    r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 2_000n), invoice: open }, T0 + 30);
    r.step({ kind: 'htlcArrived', htlc: part(2, 2n, 2_000n), invoice: open }, T0 + 50_000);
    const failed = r.step({ kind: 'tick' }, T0 + 120_020);
    expect(failed.map((d) => d.kind === 'fail' && [d.outcome, d.key.chanId, d.key.htlcId])).toEqual([
      ['mppTimeout', 1001n, 1n],
      ['mppTimeout', 1001n, 2n],
      ['mppTimeout', 1002n, 1n],
    ]);
    expect(r.heldHtlcCount).toBe(1);
    expect(r.nextDeadline()).toBe(T0 + 170_000);
    expect(r.step({ kind: 'tick' }, T0 + 120_021)).toEqual([]);
  });

  it('still times out a waiting part after thousands of other payments settled around it', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: part(0, 1n, 3_000n), invoice: open }, T0);
    for (let n = 1; n <= 3_000; n++) {
      const [, commit] = r.step({ kind: 'htlcArrived', htlc: part(n, 1n, 10_000n), invoice: open }, T0 + n);
      if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
      r.step({ kind: 'settleCommitted', paymentHash: hash(n), setId: commit.setId }, T0 + n);
      r.step({ kind: 'htlcFinal', key: commit.htlcs[0]!.key, settled: true }, T0 + n);
      if (n % 1_000 === 0) expect(r.nextDeadline()).toBe(T0 + 120_000);
    }
    expect(r.heldHtlcCount).toBe(1);
    const failed = r.step({ kind: 'tick' }, T0 + 120_000);
    expect(outcomes(failed)).toEqual(['mppTimeout']);
    expect(r.nextDeadline()).toBeUndefined();
  });

  it('drops the hold deadline of an accepted set once the application settles it', () => {
    const r = registry({ mode: 'hold' });
    const [, accepted] = r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 10_000n), invoice: open }, T0);
    if (accepted?.kind !== 'setAccepted') throw new Error('expected setAccepted');
    r.step({ kind: 'htlcArrived', htlc: part(2, 1n, 10_000n), invoice: open }, T0 + 5);
    expect(r.nextDeadline()).toBe(T0 + 60_000);
    expect(kinds(r.step({ kind: 'settleRequested', setId: accepted.setId }, T0 + 10))).toEqual(['commitSettle']);
    expect(r.nextDeadline()).toBe(T0 + 60_005);
    expect(outcomes(r.step({ kind: 'tick' }, T0 + 60_005))).toEqual(['holdTimeout', 'setReleased']);
  });
});
