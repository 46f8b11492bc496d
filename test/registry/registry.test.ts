import { describe, expect, it } from 'vitest';
import { paymentHashOf, setId, type CircuitKey } from '../../src/protocol/index.js';
import { Registry } from '../../src/registry/registry.js';
import type { ArrivedHtlc, Decision, InvoiceView, RegistryConfig } from '../../src/registry/types.js';

const NODE_A = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : i));
const NODE_B = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 3 : 100 + i));
const HASH = new Uint8Array(32).fill(7);
const PREIMAGE = new Uint8Array(32).fill(9);
const T0 = 1_800_000_000_000; // unix ms
const EXPIRES_AT = T0 / 1000 + 3600; // unix s
const HEIGHT = 800_000;

const config: RegistryConfig = { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 };
const open: InvoiceView = { kind: 'open' };

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
    autoFailHeight: HEIGHT + 61,
    totalMsat: 10_000n,
    invoiceAmountMsat: 10_000n,
    invoiceExpiresAt: EXPIRES_AT,
    minFinalCltvExpiryDelta: 40,
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
    expect(settled).toEqual([
      { kind: 'settleReleased', paymentHash: HASH, setId: commit.setId, amountMsat: 10_000n },
      { kind: 'settle', key: k, paymentHash: HASH, preimage: PREIMAGE, outcome: 'settled' },
    ]);
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
    expect(settled.filter((d) => d.kind === 'settle').map((d) => d.kind === 'settle' && d.key)).toEqual([a, b]);
  });

  it('completes a set with a part that takes it above its total_msat (LND settles once the parts reach it) and commits every part', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 6_000n), invoice: open }, T0);
    const over = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 5_000n), invoice: open }, T0);
    expect(kinds(over)).toEqual(['hold', 'commitSettle']);
    const commit = over[1];
    expect(commit?.kind === 'commitSettle' && commit.htlcs.map((h) => h.amountMsat)).toEqual([6_000n, 5_000n]);
    // Complete: a further part cannot join.
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 3n), 4_000n), invoice: open }, T0))).toEqual(['setClosed']);
  });

  it("waits for the payer's total_msat when it is above the invoice amount, and never completes short of the invoice amount", () => {
    const r = registry();
    const total = { totalMsat: 15_000n };
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n, total), invoice: open }, T0))).toEqual(['hold']);
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 5_000n, total), invoice: open }, T0))).toEqual(['hold', 'commitSettle']);
    // A total_msat below the invoice amount never reaches the registry (inspect.ts); were one to, the
    // set still waits for the invoice amount.
    const short = registry();
    const low = { totalMsat: 5_000n };
    expect(kinds(short.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 5_000n, low), invoice: open }, T0))).toEqual(['hold']);
    expect(kinds(short.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 5_000n, low), invoice: open }, T0))).toEqual(['hold', 'commitSettle']);
  });

  it('fails a part whose total_msat differs from the set\'s with incorrect_or_unknown_payment_details, and keeps the others', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 6_000n), invoice: open }, T0);
    const other = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 4_000n, { totalMsat: 12_000n }), invoice: open }, T0);
    expect(outcomes(other)).toEqual(['totalMismatch']);
    expect(other[0]?.kind === 'fail' && other[0].message).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 4_000n, height: HEIGHT });
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 3n), 4_000n), invoice: open }, T0))).toEqual(['hold', 'commitSettle']);
  });

  it('fails a part that arrives while its set holds its total and waits for a reconnecting node (overpayment)', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 6_000n), invoice: open }, T0);
    r.step({ kind: 'nodeDisconnected', node: Buffer.from(NODE_B).toString('hex') }, T0);
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 4_000n), invoice: open }, T0))).toEqual(['hold']);
    const extra = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 1_000n), invoice: open }, T0);
    expect(outcomes(extra)).toEqual(['overpayment']);
  });

  it("fails a new part whose expiry is below the height plus the invoice's min_final_cltv_expiry_delta; the height plus c itself passes", () => {
    const r = registry();
    const below = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 5_000n, { expiry: HEIGHT + 39 }), invoice: open }, T0);
    expect(outcomes(below)).toEqual(['finalCltvTooSoon']);
    expect(below[0]?.kind === 'fail' && below[0].message).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 5_000n, height: HEIGHT });
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 5_000n, { expiry: HEIGHT + 40 }), invoice: open }, T0))).toEqual(['hold']);
    // LND's upper bound: at most 65,535 blocks above the height.
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 4n), 5_000n, { expiry: HEIGHT + 65_536 }), invoice: open }, T0))).toEqual(['finalCltvTooFar']);
    // Another invoice c: the rule follows the part's own.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 3n), 5_000n, { expiry: HEIGHT + 30, minFinalCltvExpiryDelta: 30 }), invoice: open }, T0))).toEqual([
      'hold',
      'commitSettle',
    ]);
  });

  it("fails every part with mpp_timeout once the timeout passed since the set's FIRST part, however late the others came", () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 3_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 3_000n), invoice: open }, T0 + 60_000);
    // A later part does not move the deadline: a payer cannot keep a set alive by adding parts.
    expect(r.nextDeadline()).toBe(T0 + 120_000);
    expect(r.step({ kind: 'tick' }, T0 + 119_999)).toEqual([]);
    const failed = r.step({ kind: 'tick' }, T0 + 120_000);
    expect(outcomes(failed)).toEqual(['mppTimeout', 'mppTimeout']);
    expect(failed[0]?.kind === 'fail' && failed[0].message).toEqual({ kind: 'mppTimeout' });
    expect(failed.map((d) => d.kind === 'fail' && d.key)).toEqual([key(NODE_A, 1n), key(NODE_B, 1n)]);
    expect(r.nextDeadline()).toBeUndefined();
    expect(r.heldHtlcCount).toBe(0);
    // A new part starts a new set with a deadline of its own.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 7_000n), invoice: open }, T0 + 130_000))).toEqual(['hold']);
    expect(r.nextDeadline()).toBe(T0 + 250_000);
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
    const committed: InvoiceView = { kind: 'settleCommitted', setId: new Uint8Array(32), htlcs: [key(NODE_B, 9n)] };
    const cases: [InvoiceView, number, string][] = [
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
    const invoice: InvoiceView = { kind: 'settleCommitted', setId: setId([k]), htlcs: [k] };
    const late = EXPIRES_AT * 1000 + 1;
    const ds = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n, { expiry: HEIGHT + 1 }), invoice }, late);
    // Every member of the set is offered again: released, whatever its expiry (invariant 2).
    expect(ds.filter((d) => d.kind === 'settle')).toEqual([{ kind: 'settle', key: k, paymentHash: HASH, preimage: PREIMAGE, outcome: 'replayToSettled' }]);
    const released: InvoiceView = { ...invoice, released: true };
    expect(registry().step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n, { expiry: HEIGHT + 1 }), invoice: released }, late)).toEqual([
      { kind: 'settle', key: k, paymentHash: HASH, preimage: PREIMAGE, outcome: 'replayToSettled' },
    ]);
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
    // With memory gone, a replay is decided by what the store says (which knows k final: released).
    const invoice: InvoiceView = { kind: 'settleCommitted', setId: commit.setId, htlcs: [k], released: true };
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

  it('forgets a restored set whose decision the store no longer holds, members never offered again included', () => {
    const r = registry();
    const offered = key(NODE_A, 1n);
    const absent = key(NODE_B, 2n);
    const committed: InvoiceView = { kind: 'settleCommitted', setId: setId([offered, absent]), htlcs: [offered, absent] };
    r.step({ kind: 'htlcArrived', htlc: htlc(offered, 5_000n), invoice: committed }, T0);
    // A reload finds the decision gone (revoked by the instance that made it, before any SETTLE).
    expect(outcomes(r.step({ kind: 'settleRefused', paymentHash: HASH, invoice: open }, T0))).toEqual(['invoiceUnknown']);
    expect(r.heldHtlcCount).toBe(0);
    // The member that was never offered again no longer points at the forgotten set.
    expect(r.step({ kind: 'htlcFinal', key: absent, settled: false }, T0)).toEqual([]);
  });

  it('never fails the parts of a set whose SETTLEs went out, whatever a later store answer says (invariant 2)', () => {
    const r = registry();
    const k = key(NODE_A, 1n);
    const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    expect(kinds(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0))).toEqual(['settleReleased', 'settle']);
    expect(r.step({ kind: 'settleRefused', paymentHash: HASH, invoice: open }, T0)).toEqual([]);
    expect(r.heldHtlcCount).toBe(1);
    // A replay of the part is settled again.
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(k, 10_000n), invoice: open }, T0))).toEqual(['replayToSettled']);
  });

  it('fails a new part whose expiry is within the safety margin, and held parts when blocks reach it', () => {
    const r = registry();
    // c = 10: the invoice's own rule passes, lnmux's safety margin (expiryMarginBlocks) does not.
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 1_000n, { expiry: HEIGHT + 10, minFinalCltvExpiryDelta: 10 }), invoice: open }, T0))).toEqual([
      'expiryTooSoon',
    ]);
    // An invoice with c = 20, so that a part expiring at HEIGHT + 20 is accepted and then held.
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 1_000n, { expiry: HEIGHT + 20, minFinalCltvExpiryDelta: 20 }), invoice: open }, T0);
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
    const commit = r.step({ kind: 'applicationSettle', setId: accepted.setId }, T0 + 1);
    expect(kinds(commit)).toEqual(['commitSettle']);
    // Settling twice is harmless.
    expect(r.step({ kind: 'applicationSettle', setId: accepted.setId }, T0 + 2)).toEqual([]);
    expect(outcomes(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: accepted.setId }, T0 + 3))).toEqual([
      'settleReleased',
      'settled',
    ]);
    expect(r.step({ kind: 'applicationSettle', setId: accepted.setId }, T0 + 4)).toEqual([
      { kind: 'applicationSettleAnswered', setId: accepted.setId, answer: 'alreadySettled' },
    ]);
  });

  it('refuses to settle a set id it does not hold complete', () => {
    const r = registry({ mode: 'hold' });
    const unknown = new Uint8Array(32).fill(3);
    expect(r.step({ kind: 'applicationSettle', setId: unknown }, T0)).toEqual([
      { kind: 'applicationSettleAnswered', setId: unknown, answer: 'unknownSet' },
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
    expect(undecided.step({ kind: 'applicationSettle', setId: accepted.setId }, T0)).toEqual([
      { kind: 'applicationSettleAnswered', setId: accepted.setId, answer: 'unknownSet' },
    ]);
  });
});

describe('Registry deadlines across many sets', () => {
  const hash = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n & 0xff : i === 1 ? n >> 8 : 0));
  const part = (n: number, htlcId: bigint, amountMsat: bigint) =>
    htlc(key(NODE_A, htlcId, BigInt(1000 + n)), amountMsat, { paymentHash: hash(n) });

  it('gives the earliest deadline of a set still waiting, not of sets that completed or timed out', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 3_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: part(2, 1n, 3_000n), invoice: open }, T0 + 1_000);
    r.step({ kind: 'htlcArrived', htlc: part(3, 1n, 3_000n), invoice: open }, T0 + 2_000);
    expect(r.nextDeadline()).toBe(T0 + 120_000);
    // Set 1 completes: its deadline no longer counts.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: part(1, 2n, 7_000n), invoice: open }, T0 + 3_000))).toEqual(['hold', 'commitSettle']);
    expect(r.nextDeadline()).toBe(T0 + 121_000);
    // Set 2 times out; set 3 is next.
    expect(outcomes(r.step({ kind: 'tick' }, T0 + 121_000))).toEqual(['mppTimeout']);
    expect(r.nextDeadline()).toBe(T0 + 122_000);
  });

  it('fails at one tick every part of every due set once, and leaves the sets not yet due', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 2_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: part(2, 1n, 2_000n), invoice: open }, T0 + 10);
    r.step({ kind: 'htlcArrived', htlc: part(1, 2n, 2_000n), invoice: open }, T0 + 20);
    // A replay of a held part is not counted twice.
    r.step({ kind: 'htlcArrived', htlc: part(1, 1n, 2_000n), invoice: open }, T0 + 30);
    r.step({ kind: 'htlcArrived', htlc: part(2, 2n, 2_000n), invoice: open }, T0 + 50_000);
    r.step({ kind: 'htlcArrived', htlc: part(3, 1n, 2_000n), invoice: open }, T0 + 50_000);
    const failed = r.step({ kind: 'tick' }, T0 + 120_010);
    expect(failed.map((d) => d.kind === 'fail' && [d.outcome, d.key.chanId, d.key.htlcId])).toEqual([
      ['mppTimeout', 1001n, 1n],
      ['mppTimeout', 1001n, 2n],
      ['mppTimeout', 1002n, 1n],
      ['mppTimeout', 1002n, 2n],
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
    expect(kinds(r.step({ kind: 'applicationSettle', setId: accepted.setId }, T0 + 10))).toEqual(['commitSettle']);
    expect(r.nextDeadline()).toBe(T0 + 60_005);
    expect(outcomes(r.step({ kind: 'tick' }, T0 + 60_005))).toEqual(['holdTimeout', 'setReleased']);
  });
});

describe('Registry, a set counts only live parts (invariant 7)', () => {
  const NODE_A_HEX = Buffer.from(NODE_A).toString('hex');
  const NODE_C = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 3 : 0x0c));

  it('drops a part its node failed on its own, so a retry through another node completes the set with live parts only', () => {
    const r = registry();
    const a = key(NODE_A, 1n);
    const b = key(NODE_B, 1n);
    const c = key(NODE_C, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n), invoice: open }, T0);
    const lost = r.step({ kind: 'htlcFinal', key: a, settled: false }, T0 + 1);
    expect(lost).toEqual([{ kind: 'partLost', key: a, paymentHash: HASH, reason: 'failedByNode', amountMsat: 5_000n, heldMsat: 0n }]);
    r.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: open }, T0 + 2);
    // The payer retries the lost half through C: 5,000 + 5,000 of live parts. Counting A's dead part
    // would have completed the set at B's arrival, with half the money.
    const done = r.step({ kind: 'htlcArrived', htlc: htlc(c, 5_000n), invoice: open }, T0 + 3);
    expect(kinds(done)).toEqual(['hold', 'commitSettle']);
    const commit = done[1];
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    expect(commit.htlcs.map((h) => h.key)).toEqual([b, c]);
    const released = r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 4);
    expect(released.filter((d) => d.kind === 'settle').map((d) => d.kind === 'settle' && d.key)).toEqual([b, c]);
  });

  it('keeps its parts in arrival order as they come, leave and are offered again: the commit and the SETTLEs follow it', () => {
    const r = registry();
    const [a, b, c, d, e] = [key(NODE_A, 1n), key(NODE_A, 2n), key(NODE_B, 1n), key(NODE_C, 1n), key(NODE_B, 2n)];
    for (const k of [a, b, c]) r.step({ kind: 'htlcArrived', htlc: htlc(k, 2_000n), invoice: open }, T0);
    expect(r.step({ kind: 'htlcFinal', key: b, settled: false }, T0 + 1)).toMatchObject([{ kind: 'partLost', key: b, heldMsat: 4_000n }]);
    // A offered again keeps its place and is counted once.
    expect(r.step({ kind: 'htlcArrived', htlc: htlc(a, 2_000n), invoice: open }, T0 + 2)).toMatchObject([{ kind: 'hold', key: a, heldMsat: 4_000n }]);
    // Down to one part, then back to two and more.
    expect(r.step({ kind: 'htlcFinal', key: c, settled: false }, T0 + 3)).toMatchObject([{ kind: 'partLost', key: c, heldMsat: 2_000n }]);
    expect(r.heldHtlcCount).toBe(1);
    expect(r.step({ kind: 'htlcArrived', htlc: htlc(d, 3_000n), invoice: open }, T0 + 4)).toMatchObject([{ kind: 'hold', key: d, heldMsat: 5_000n }]);
    const done = r.step({ kind: 'htlcArrived', htlc: htlc(e, 5_000n), invoice: open }, T0 + 5);
    const commit = done[1];
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    expect(commit.htlcs).toEqual([
      { key: a, amountMsat: 2_000n },
      { key: d, amountMsat: 3_000n },
      { key: e, amountMsat: 5_000n },
    ]);
    expect(commit.setId).toEqual(setId([a, d, e]));
    expect(commit.preimage).toEqual(PREIMAGE);
    const released = r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 6);
    expect(released.filter((x) => x.kind === 'settle')).toEqual(
      [a, d, e].map((k) => ({ kind: 'settle', key: k, paymentHash: HASH, preimage: PREIMAGE, outcome: 'settled' })),
    );
  });

  it('fails each held part with its own shared secret, and the set\'s hash, when its set times out', () => {
    const r = registry();
    const secret = (n: number) => new Uint8Array(32).fill(n);
    const parts = [key(NODE_A, 1n), key(NODE_B, 1n), key(NODE_C, 1n)];
    // Secrets with bytes above 127 as well: every byte value must come back as it was.
    parts.forEach((k, i) => r.step({ kind: 'htlcArrived', htlc: htlc(k, 1_000n, { sharedSecret: secret(126 + i) }), invoice: open }, T0));
    const failed = r.step({ kind: 'tick' }, T0 + config.mppTimeoutMs);
    expect(failed).toEqual(
      parts.map((k, i) => ({
        kind: 'fail',
        key: k,
        paymentHash: HASH,
        outcome: 'mppTimeout',
        amountMsat: 1_000n,
        message: { kind: 'mppTimeout' },
        sharedSecret: secret(126 + i),
      })),
    );
    expect(r.heldHtlcCount).toBe(0);
  });

  it('ignores final events of HTLCs it does not hold', () => {
    const r = registry();
    expect(r.step({ kind: 'htlcFinal', key: key(NODE_A, 77n), settled: false }, T0)).toEqual([]);
    expect(r.step({ kind: 'htlcFinal', key: key(NODE_A, 78n), settled: true }, T0)).toEqual([]);
  });

  it('does not commit a complete set while a part is unconfirmed, and commits once its node offers it again', () => {
    const r = registry();
    const a = key(NODE_A, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 4_000n), invoice: open }, T0);
    r.step({ kind: 'nodeDisconnected', node: NODE_A_HEX }, T0 + 1);
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 6_000n), invoice: open }, T0 + 2))).toEqual(['hold']);
    // Node A comes back and offers its HTLC again: it is live, the set is complete and live.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(a, 4_000n), invoice: open }, T0 + 3))).toEqual(['hold', 'commitSettle']);
    expect(r.step({ kind: 'nodeReplayed', node: NODE_A_HEX }, T0 + 4)).toEqual([]);
  });

  it('drops the parts a reconnected node did not offer again, and keeps the set waiting for the rest', () => {
    const r = registry();
    const a = key(NODE_A, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 4_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 1_000n), invoice: open }, T0);
    r.step({ kind: 'nodeDisconnected', node: NODE_A_HEX }, T0 + 1);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 5_000n), invoice: open }, T0 + 2);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 1_000n), invoice: open }, T0 + 3);
    const replayed = r.step({ kind: 'nodeReplayed', node: NODE_A_HEX }, T0 + 4);
    expect(replayed).toEqual([{ kind: 'partLost', key: a, paymentHash: HASH, reason: 'notReplayed', amountMsat: 4_000n, heldMsat: 6_000n }]);
    expect(r.heldHtlcCount).toBe(2);
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 2n), 4_000n), invoice: open }, T0 + 5))).toEqual(['hold', 'commitSettle']);
  });

  it('drops every part of a node that runs without --requireinterceptor', () => {
    const r = registry();
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 2_000n), invoice: open }, T0);
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 2_000n), invoice: open }, T0);
    const lost = r.step({ kind: 'nodeHtlcsLost', node: NODE_A_HEX }, T0 + 1);
    expect(lost.map((d) => d.kind === 'partLost' && d.reason)).toEqual(['nodeWithoutInterceptor']);
    expect(r.heldHtlcCount).toBe(1);
  });

  it('fails, before its node would, a part within the margin of its auto-fail height, new or held', () => {
    const r = registry();
    const nearNow = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 1_000n, { autoFailHeight: HEIGHT + 3 }), invoice: open }, T0);
    expect(outcomes(nearNow)).toEqual(['autoFailHeightNear']);
    expect(nearNow[0]?.kind === 'fail' && nearNow[0].message).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 1_000n, height: HEIGHT });
    r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 2n), 1_000n, { autoFailHeight: HEIGHT + 20 }), invoice: open }, T0);
    expect(r.step({ kind: 'blockConnected', height: HEIGHT + 16 }, T0)).toEqual([]);
    expect(outcomes(r.step({ kind: 'blockConnected', height: HEIGHT + 17 }, T0))).toEqual(['autoFailHeightNear']);
    expect(r.heldHtlcCount).toBe(0);
  });

  it('revokes the decision when a part is lost while its commit is under way, and sends no SETTLE', () => {
    const r = registry();
    const a = key(NODE_A, 1n);
    const b = key(NODE_B, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n), invoice: open }, T0);
    const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    expect(kinds(r.step({ kind: 'htlcFinal', key: a, settled: false }, T0 + 1))).toEqual(['partLost']);
    expect(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 2)).toEqual([
      { kind: 'revokeSettle', paymentHash: HASH, setId: commit.setId },
    ]);
    // B offered again meanwhile: held, not settled.
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: open }, T0 + 3))).toEqual(['hold']);
    expect(r.step({ kind: 'settleRevoked', paymentHash: HASH, setId: commit.setId }, T0 + 4)).toEqual([]);
    expect(r.nextDeadline()).toBe(T0 + 4 + 120_000);
    const again = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_C, 1n), 5_000n), invoice: open }, T0 + 5);
    expect(kinds(again)).toEqual(['hold', 'commitSettle']);
  });

  it('holds the SETTLEs of a committed set until a part unconfirmed during the commit is offered again, or revokes if it is gone', () => {
    for (const fate of ['replayed', 'lost'] as const) {
      const r = registry();
      const a = key(NODE_A, 1n);
      r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n), invoice: open }, T0);
      const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 5_000n), invoice: open }, T0);
      if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
      r.step({ kind: 'nodeDisconnected', node: NODE_A_HEX }, T0 + 1);
      expect(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 2)).toEqual([]);
      if (fate === 'replayed') {
        expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n), invoice: open }, T0 + 3))).toEqual([
          'hold',
          'settleReleased',
          'settled',
          'settled',
        ]);
      } else {
        expect(kinds(r.step({ kind: 'nodeReplayed', node: NODE_A_HEX }, T0 + 3))).toEqual(['partLost', 'revokeSettle']);
      }
    }
  });

  it('answers a commit it did not ask for by reloading the store view, without throwing', () => {
    const r = registry();
    expect(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: new Uint8Array(32).fill(9) }, T0)).toEqual([
      { kind: 'reloadInvoice', paymentHash: HASH },
    ]);
  });

  it('reports money at risk: a released part failed by its node, or nearing its auto-fail height unsettled (once)', () => {
    const r = registry();
    const a = key(NODE_A, 1n);
    const b = key(NODE_B, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n, { autoFailHeight: HEIGHT + 30 }), invoice: open }, T0);
    const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n, { autoFailHeight: HEIGHT + 30 }), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0);
    expect(r.step({ kind: 'htlcFinal', key: a, settled: false }, T0)).toEqual([
      { kind: 'settleAtRisk', key: a, paymentHash: HASH, setId: commit.setId, reason: 'failedAfterRelease', amountMsat: 5_000n },
    ]);
    expect(outcomes(r.step({ kind: 'blockConnected', height: HEIGHT + 27 }, T0))).toEqual(['settleAtRisk']);
    expect(r.step({ kind: 'blockConnected', height: HEIGHT + 28 }, T0)).toEqual([]);
  });
});

describe('Registry, hold mode, a part lost from an accepted set', () => {
  it('releases the accepted set, keeps its live parts waiting, and accepts a new set once the rest is paid again', () => {
    const r = registry({ mode: 'hold' });
    const a = key(NODE_A, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n), invoice: open }, T0);
    const [, accepted] = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 5_000n), invoice: open }, T0);
    if (accepted?.kind !== 'setAccepted') throw new Error('expected setAccepted');
    expect(outcomes(r.step({ kind: 'htlcFinal', key: a, settled: false }, T0 + 1))).toEqual(['partLost', 'setReleased']);
    expect(r.step({ kind: 'applicationSettle', setId: accepted.setId }, T0 + 2)).toEqual([
      { kind: 'applicationSettleAnswered', setId: accepted.setId, answer: 'unknownSet' },
    ]);
    const again = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 2n), 5_000n), invoice: open }, T0 + 3);
    expect(kinds(again)).toEqual(['hold', 'setAccepted']);
    expect(again[1]?.kind === 'setAccepted' && again[1].setId).not.toEqual(accepted.setId);
  });
});

describe('Registry, MPP timeout across a restart', () => {
  it('counts the timeout of a set from the logged arrival of a part offered again after a restart', () => {
    const r = registry();
    const replayed: InvoiceView = { kind: 'open', acceptedAtMs: T0 - 100_000 };
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 4_000n), invoice: replayed }, T0))).toEqual(['hold']);
    expect(r.nextDeadline()).toBe(T0 + 20_000);
    expect(outcomes(r.step({ kind: 'tick' }, T0 + 20_000))).toEqual(['mppTimeout']);
  });
});

describe('Registry, the release of a committed set checks its parts again', () => {
  const NODE_A_HEX = Buffer.from(NODE_A).toString('hex');
  const settles = (ds: Decision[]) => ds.filter((d) => d.kind === 'settle').map((d) => d.kind === 'settle' && d.key);

  it('revokes, rather than releases, a committed set waiting for a part once another part nears its auto-fail height', () => {
    const r = registry();
    const a = key(NODE_A, 1n);
    const b = key(NODE_B, 1n);
    r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n, { expiry: HEIGHT + 100, autoFailHeight: HEIGHT + 121 }), invoice: open }, T0);
    const [, commit] = r.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n, { expiry: HEIGHT + 100, autoFailHeight: HEIGHT + 30 }), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    r.step({ kind: 'nodeDisconnected', node: NODE_A_HEX }, T0 + 1);
    expect(r.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 2)).toEqual([]);
    // Node A stays away; the chain comes within the margin of B's auto-fail height.
    expect(kinds(r.step({ kind: 'blockConnected', height: HEIGHT + 27 }, T0 + 3))).toEqual(['revokeSettle']);
    expect(settles(r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n, { expiry: HEIGHT + 100, autoFailHeight: HEIGHT + 121 }), invoice: open }, T0 + 4))).toEqual([]);
    // Once revoked, B (too close to its node's auto-fail height) is failed; A waits for the rest.
    const revoked = r.step({ kind: 'settleRevoked', paymentHash: HASH, setId: commit.setId }, T0 + 5);
    expect(revoked.map((d) => d.kind === 'fail' && [d.outcome, d.key])).toEqual([['autoFailHeightNear', b]]);
    expect(r.heldHtlcCount).toBe(1);
  });

  it('after a restart, settles the members of a committed set only once every member is offered again', () => {
    const a = key(NODE_A, 1n);
    const b = key(NODE_B, 1n);
    const committed: InvoiceView = { kind: 'settleCommitted', setId: setId([a, b]), htlcs: [a, b] };
    const r = registry();
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: committed }, T0))).toEqual(['hold']);
    expect(outcomes(r.step({ kind: 'htlcArrived', htlc: htlc(a, 5_000n), invoice: committed }, T0 + 1))).toEqual([
      'hold',
      'settleReleased',
      'replayToSettled',
      'replayToSettled',
    ]);
  });

  it('after a restart, settles at once when a member is reported settled (the preimage is out), and revokes when one is reported failed', () => {
    const a = key(NODE_A, 1n);
    const b = key(NODE_B, 1n);
    const committed: InvoiceView = { kind: 'settleCommitted', setId: setId([a, b]), htlcs: [a, b] };
    const settledElsewhere = registry();
    settledElsewhere.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: committed }, T0);
    expect(settles(settledElsewhere.step({ kind: 'htlcFinal', key: a, settled: true }, T0 + 1))).toEqual([b]);

    const lost = registry();
    lost.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: committed }, T0);
    expect(kinds(lost.step({ kind: 'htlcFinal', key: a, settled: false }, T0 + 1))).toEqual(['revokeSettle']);

    // The store already knows an HTLC of the set final: settle the replay at once.
    const known = registry();
    expect(outcomes(known.step({ kind: 'htlcArrived', htlc: htlc(b, 5_000n), invoice: { ...committed, released: true } }, T0))).toEqual(['replayToSettled']);
  });
});

describe('Registry: the invoice kinds (docs/library.md, "Invoices")', () => {
  it('completes an amountless invoice\'s set at the payer\'s total_msat, not before', () => {
    const r = registry();
    const amountless = { invoiceAmountMsat: undefined, totalMsat: 7_000n };
    expect(kinds(r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 3_000n, amountless), invoice: open }, T0))).toEqual(['hold']);
    const done = r.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_B, 1n), 4_000n, amountless), invoice: open }, T0 + 1);
    expect(kinds(done)).toEqual(['hold', 'commitSettle']);
  });

  describe('a hold invoice (no preimage known): accepted in auto mode, settled only with the application\'s preimage', () => {
    const PRE = new Uint8Array(32).fill(0x33);
    const PAYMENT_HASH = paymentHashOf(PRE);
    const part = (k: CircuitKey, amountMsat: bigint) => htlc(k, amountMsat, { preimage: undefined, paymentHash: PAYMENT_HASH });

    function accepted(r: Registry) {
      r.step({ kind: 'htlcArrived', htlc: part(key(NODE_A, 1n), 4_000n), invoice: open }, T0);
      const done = r.step({ kind: 'htlcArrived', htlc: part(key(NODE_B, 1n), 6_000n), invoice: open }, T0 + 1);
      const acceptedSet = done.find((d) => d.kind === 'setAccepted');
      if (acceptedSet?.kind !== 'setAccepted') throw new Error(`expected setAccepted, got ${kinds(done).join()}`);
      expect(acceptedSet.needsPreimage).toBe(true);
      return acceptedSet.setId;
    }

    it('answers preimageRequired and wrongPreimage, then commits with the right preimage and settles every part with it', () => {
      const r = registry();
      const id = accepted(r);
      expect(r.step({ kind: 'applicationSettle', setId: id }, T0 + 2)).toEqual([{ kind: 'applicationSettleAnswered', setId: id, answer: 'preimageRequired' }]);
      expect(r.step({ kind: 'applicationSettle', setId: id, preimage: PREIMAGE }, T0 + 3)).toEqual([{ kind: 'applicationSettleAnswered', setId: id, answer: 'wrongPreimage' }]);
      const commit = r.step({ kind: 'applicationSettle', setId: id, preimage: PRE }, T0 + 4);
      expect(commit).toEqual([expect.objectContaining({ kind: 'commitSettle', setId: id, preimage: PRE })]);
      const settled = r.step({ kind: 'settleCommitted', paymentHash: PAYMENT_HASH, setId: id }, T0 + 5);
      expect(settled.filter((d) => d.kind === 'settle').map((d) => d.kind === 'settle' && d.preimage)).toEqual([PRE, PRE]);
    });

    it('answers wrongPreimage, never OK, to a settle with a wrong preimage while the set is committing or committed', () => {
      const r = registry();
      const id = accepted(r);
      expect(kinds(r.step({ kind: 'applicationSettle', setId: id, preimage: PRE }, T0 + 2))).toEqual(['commitSettle']);
      const wrong = { kind: 'applicationSettle', setId: id, preimage: PREIMAGE } as const;
      expect(r.step(wrong, T0 + 3)).toEqual([{ kind: 'applicationSettleAnswered', setId: id, answer: 'wrongPreimage' }]);
      r.step({ kind: 'settleCommitted', paymentHash: PAYMENT_HASH, setId: id }, T0 + 4);
      expect(r.step(wrong, T0 + 5)).toEqual([{ kind: 'applicationSettleAnswered', setId: id, answer: 'wrongPreimage' }]);
      expect(r.step({ kind: 'applicationSettle', setId: id, preimage: PRE }, T0 + 6)).toEqual([{ kind: 'applicationSettleAnswered', setId: id, answer: 'alreadySettled' }]);
    });

    it('has no hold timeout: still accepted long after the hold timeout, released by its parts\' expiry margin', () => {
      const r = registry({ mode: 'hold' });
      const id = accepted(r);
      expect(r.nextDeadline()).toBeUndefined();
      expect(r.step({ kind: 'tick' }, T0 + 10 * config.holdTimeoutMs)).toEqual([]);
      const released = r.step({ kind: 'blockConnected', height: HEIGHT + 30 }, T0 + 10 * config.holdTimeoutMs);
      expect(released.find((d) => d.kind === 'setReleased')).toEqual(expect.objectContaining({ setId: id, outcome: 'expiryTooSoon' }));
    });

    it('settles a committed set offered after a restart with the preimage the store kept', () => {
      const r = registry();
      const a = key(NODE_A, 1n);
      const view: InvoiceView = { kind: 'settleCommitted', setId: setId([a]), htlcs: [a], preimage: PRE };
      const decisions = r.step({ kind: 'htlcArrived', htlc: part(a, 10_000n), invoice: view }, T0);
      expect(decisions.filter((d) => d.kind === 'settle')).toEqual([expect.objectContaining({ preimage: PRE, outcome: 'replayToSettled' })]);
    });
  });

  it('hands the payer\'s payment_metadata to the application with the accepted set and the release', () => {
    const metadata = Uint8Array.from([1, 0xfa]);
    const hold = registry({ mode: 'hold' });
    const accepted = hold.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n, { paymentMetadata: metadata }), invoice: open }, T0);
    expect(accepted.find((d) => d.kind === 'setAccepted')).toEqual(expect.objectContaining({ paymentMetadata: metadata, needsPreimage: false }));
    const auto = registry();
    const [, commit] = auto.step({ kind: 'htlcArrived', htlc: htlc(key(NODE_A, 1n), 10_000n, { paymentMetadata: metadata }), invoice: open }, T0);
    if (commit?.kind !== 'commitSettle') throw new Error('expected commitSettle');
    const released = auto.step({ kind: 'settleCommitted', paymentHash: HASH, setId: commit.setId }, T0 + 1);
    expect(released[0]).toEqual(expect.objectContaining({ kind: 'settleReleased', paymentMetadata: metadata }));
  });
});
