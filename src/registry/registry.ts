/**
 * The HTLC-set registry: one state machine owns every HTLC set; everything else sends it events and
 * carries out the decisions it returns. No I/O, no timers, no clock: the caller passes `now` and asks
 * for the next deadline.
 *
 * Safety (DESIGN.md invariants):
 * - commit before settle: a `settle` decision comes only from a `settleCommitted` event, or for an
 *   HTLC the store already lists in the committed set (replay);
 * - once settled, always settled: committed-set HTLCs offered again are settled again, checked before
 *   any rule that could fail them (invoice expiry, block height, timeouts);
 * - never a partial settle: a set is committed only when it pays exactly the invoice amount, and once
 *   its commit is requested no timer fails any part of it (the commit's outcome may be unknown);
 * - the registry trusts the store's answer over its own memory when they disagree (settleRefused).
 */
import { bytesToHex } from '../protocol/bytes.js';
import type { FailureMessage } from '../protocol/failure-message.js';
import { circuitKeyId, setId as computeSetId, type CircuitKey } from '../protocol/set-id.js';
import { DeadlineQueue } from './deadline-queue.js';
import type {
  ArrivedHtlc,
  Decision,
  FailOutcome,
  InvoiceStatus,
  RegistryConfig,
  RegistryEvent,
} from './types.js';

interface HeldPart {
  readonly htlc: ArrivedHtlc;
  readonly arrivedAtMs: number;
}

type Phase =
  /** Collecting parts until they pay the invoice amount. */
  | { readonly kind: 'accepting' }
  /** Hold mode: complete, waiting for the application's settle or cancel. */
  | { readonly kind: 'accepted'; readonly setId: Uint8Array; readonly acceptedAtMs: number }
  /** The commit of this set is requested and its outcome not known yet. */
  | { readonly kind: 'committing'; readonly setId: Uint8Array }
  /** The store holds this set: its parts are settled, every other HTLC fails. */
  | { readonly kind: 'committed'; readonly setId: Uint8Array; readonly members: ReadonlySet<string> };

interface PaymentSet {
  readonly paymentHash: Uint8Array;
  readonly invoiceAmountMsat: bigint;
  readonly parts: Map<string, HeldPart>;
  sumMsat: bigint;
  phase: Phase;
}

/**
 * A deadline in the queue: a part's MPP timeout (`partId` set) or an accepted set's hold timeout. It
 * is live while its set still waits for it (see Registry.#isLive); the queue keeps stale ones until
 * they reach the top or a compaction.
 */
interface Deadline {
  /** Unix ms. */
  readonly at: number;
  readonly hashHex: string;
  readonly partId?: string;
}

/** The queue is compacted (stale deadlines dropped) when it reaches this size, or twice its size after the last compaction. */
const MIN_COMPACTION_SIZE = 1024;

export class Registry {
  readonly #config: RegistryConfig;
  readonly #sets = new Map<string, PaymentSet>();
  readonly #hashBySetId = new Map<string, string>();
  /** Circuit key id -> payment hash hex, for the parts of committed sets awaiting their final event. */
  readonly #hashByCommittedKey = new Map<string, string>();
  /**
   * Every MPP and hold deadline, earliest first. Looking one up must not cost a visit to every held
   * HTLC: the engine asks for the next deadline after every event.
   */
  readonly #deadlines = new DeadlineQueue<Deadline>();
  #compactAt = MIN_COMPACTION_SIZE;
  #height = 0;

  constructor(config: RegistryConfig) {
    this.#config = config;
  }

  /** The best chain height seen, blocks. */
  get height(): number {
    return this.#height;
  }

  /** Number of HTLCs held in memory (for metrics). */
  get heldHtlcCount(): number {
    let count = 0;
    for (const set of this.#sets.values()) count += set.parts.size;
    return count;
  }

  /** Applies one event at time `nowMs` (unix ms) and returns what must be done, in order. */
  step(event: RegistryEvent, nowMs: number): Decision[] {
    const out: Decision[] = [];
    switch (event.kind) {
      case 'htlcArrived':
        this.#onHtlcArrived(event.htlc, event.invoice, nowMs, out);
        break;
      case 'settleCommitted':
        this.#onSettleCommitted(event.paymentHash, event.setId, out);
        break;
      case 'settleRefused':
        this.#onSettleRefused(event.paymentHash, event.invoice, out);
        break;
      case 'settleRequested':
        this.#onSettleRequested(event.setId, out);
        break;
      case 'invoiceCancelled':
        this.#release(bytesToHex(event.paymentHash), 'invoiceCancelled', out);
        break;
      case 'blockConnected':
        this.#onBlock(event.height, out);
        break;
      case 'htlcFinal':
        this.#onHtlcFinal(event.key);
        break;
      case 'tick':
        this.#onTick(nowMs, out);
        break;
      default:
        assertNever(event);
    }
    return out;
  }

  /** The earliest time (unix ms) at which a `tick` has work to do, or undefined if none. */
  nextDeadline(): number | undefined {
    for (let top = this.#deadlines.peek(); top !== undefined; top = this.#deadlines.peek()) {
      if (this.#isLive(top)) return top.at;
      this.#deadlines.pop();
    }
    return undefined;
  }

  /**
   * Whether a queued deadline still applies: its part still waits in a set that is accepting (MPP
   * timeout), or its set is still accepted and undecided (hold timeout). A set never goes back to
   * accepting with the parts it had (a refused commit releases them), so a deadline found stale stays
   * stale and can be dropped.
   */
  #isLive(deadline: Deadline): boolean {
    const set = this.#sets.get(deadline.hashHex);
    if (set === undefined) return false;
    if (deadline.partId === undefined) {
      return set.phase.kind === 'accepted' && set.phase.acceptedAtMs + this.#config.holdTimeoutMs === deadline.at;
    }
    if (set.phase.kind !== 'accepting') return false;
    const part = set.parts.get(deadline.partId);
    return part !== undefined && part.arrivedAtMs + this.#config.mppTimeoutMs === deadline.at;
  }

  #schedule(deadline: Deadline): void {
    this.#deadlines.push(deadline);
    if (this.#deadlines.size < this.#compactAt) return;
    // Amortized O(1) per deadline: stale entries never outnumber the live ones by much for long.
    this.#deadlines.retain((d) => this.#isLive(d));
    this.#compactAt = Math.max(MIN_COMPACTION_SIZE, 2 * this.#deadlines.size);
  }

  #onHtlcArrived(htlc: ArrivedHtlc, invoice: InvoiceStatus, nowMs: number, out: Decision[]): void {
    const hashHex = bytesToHex(htlc.paymentHash);
    const id = circuitKeyId(htlc.key);
    const set = this.#sets.get(hashHex);

    if (set !== undefined) {
      const phase = set.phase;
      if (phase.kind === 'committed') {
        if (phase.members.has(id)) out.push(settle(htlc, 'replayToSettled'));
        else out.push(this.#fail(htlc, 'invoiceAlreadySettled'));
        return;
      }
      const held = set.parts.get(id);
      if (held !== undefined) {
        // The same HTLC offered again (reconnect): it is already counted, keep the newest offer.
        set.parts.set(id, { htlc, arrivedAtMs: held.arrivedAtMs });
        out.push(hold(htlc, set.sumMsat));
        return;
      }
      if (phase.kind !== 'accepting') {
        out.push(this.#fail(htlc, 'setClosed'));
        return;
      }
    } else {
      switch (invoice.kind) {
        case 'settleCommitted':
          if (invoice.htlcs.some((key) => circuitKeyId(key) === id)) out.push(settle(htlc, 'replayToSettled'));
          else out.push(this.#fail(htlc, 'invoiceAlreadySettled'));
          return;
        case 'unknown':
          out.push(this.#fail(htlc, 'invoiceUnknown'));
          return;
        case 'cancelled':
          out.push(this.#fail(htlc, 'invoiceCancelled'));
          return;
        case 'open':
          break;
        default:
          assertNever(invoice);
      }
    }

    // A new part. Replays of committed sets were handled above, so these rules cannot fail them.
    if (nowMs >= htlc.invoiceExpiresAt * 1000) {
      out.push(this.#fail(htlc, 'invoiceExpired'));
      return;
    }
    if (htlc.expiry <= this.#height + this.#config.expiryMarginBlocks) {
      out.push(this.#fail(htlc, 'expiryTooSoon'));
      return;
    }
    const target = set ?? this.#newSet(hashHex, htlc);
    if (target.sumMsat + htlc.amountMsat > target.invoiceAmountMsat) {
      out.push(this.#fail(htlc, 'overpayment'));
      if (target.parts.size === 0) this.#sets.delete(hashHex);
      return;
    }
    target.parts.set(id, { htlc, arrivedAtMs: nowMs });
    this.#schedule({ at: nowMs + this.#config.mppTimeoutMs, hashHex, partId: id });
    target.sumMsat += htlc.amountMsat;
    out.push(hold(htlc, target.sumMsat));
    if (target.sumMsat === target.invoiceAmountMsat) this.#onComplete(hashHex, target, nowMs, out);
  }

  #newSet(hashHex: string, htlc: ArrivedHtlc): PaymentSet {
    const set: PaymentSet = {
      paymentHash: htlc.paymentHash,
      invoiceAmountMsat: htlc.invoiceAmountMsat,
      parts: new Map(),
      sumMsat: 0n,
      phase: { kind: 'accepting' },
    };
    this.#sets.set(hashHex, set);
    return set;
  }

  #onComplete(hashHex: string, set: PaymentSet, nowMs: number, out: Decision[]): void {
    const parts = [...set.parts.values()];
    const setId = computeSetId(parts.map((p) => p.htlc.key));
    this.#hashBySetId.set(bytesToHex(setId), hashHex);
    const htlcs = parts.map((p) => ({ key: p.htlc.key, amountMsat: p.htlc.amountMsat }));
    if (this.#config.mode === 'auto') {
      set.phase = { kind: 'committing', setId };
      out.push({ kind: 'commitSettle', paymentHash: set.paymentHash, setId, htlcs });
    } else {
      set.phase = { kind: 'accepted', setId, acceptedAtMs: nowMs };
      this.#schedule({ at: nowMs + this.#config.holdTimeoutMs, hashHex });
      out.push({ kind: 'setAccepted', paymentHash: set.paymentHash, setId, amountMsat: set.sumMsat, htlcs });
    }
  }

  #onSettleRequested(setId: Uint8Array, out: Decision[]): void {
    const hashHex = this.#hashBySetId.get(bytesToHex(setId));
    const set = hashHex === undefined ? undefined : this.#sets.get(hashHex);
    if (set === undefined || set.phase.kind === 'accepting') {
      out.push({ kind: 'settleRequestAnswered', setId, answer: 'unknownSet' });
      return;
    }
    if (set.phase.kind === 'committed') {
      out.push({ kind: 'settleRequestAnswered', setId, answer: 'alreadySettled' });
      return;
    }
    if (set.phase.kind === 'committing') return; // the commit under way answers
    set.phase = { kind: 'committing', setId: set.phase.setId };
    const htlcs = [...set.parts.values()].map((p) => ({ key: p.htlc.key, amountMsat: p.htlc.amountMsat }));
    out.push({ kind: 'commitSettle', paymentHash: set.paymentHash, setId: set.phase.setId, htlcs });
  }

  #onSettleCommitted(paymentHash: Uint8Array, setId: Uint8Array, out: Decision[]): void {
    const hashHex = bytesToHex(paymentHash);
    const set = this.#sets.get(hashHex);
    if (set === undefined) return;
    const members = new Set(set.parts.keys());
    if (set.phase.kind !== 'committing' || bytesToHex(set.phase.setId) !== bytesToHex(setId)) {
      // The store committed a set this registry did not ask for (cannot happen with one active
      // instance): the store's answer wins.
      throw new Error(`settleCommitted for set ${bytesToHex(setId)} that the registry did not commit`);
    }
    this.#markCommitted(hashHex, set, setId, members);
    for (const part of set.parts.values()) out.push(settle(part.htlc, 'settled'));
  }

  #onSettleRefused(paymentHash: Uint8Array, invoice: InvoiceStatus, out: Decision[]): void {
    const hashHex = bytesToHex(paymentHash);
    const set = this.#sets.get(hashHex);
    if (set === undefined) return;
    if (invoice.kind !== 'settleCommitted') {
      // The store's refusal is final: the set it refused can no longer be committed.
      if (set.phase.kind !== 'accepting') this.#hashBySetId.delete(bytesToHex(set.phase.setId));
      set.phase = { kind: 'accepting' };
      this.#release(hashHex, invoice.kind === 'cancelled' ? 'invoiceCancelled' : 'invoiceUnknown', out);
      return;
    }
    const members = new Set(invoice.htlcs.map(circuitKeyId));
    for (const [id, part] of set.parts) {
      if (members.has(id)) out.push(settle(part.htlc, 'replayToSettled'));
      else {
        out.push(this.#fail(part.htlc, 'invoiceAlreadySettled'));
        set.parts.delete(id);
      }
    }
    this.#markCommitted(hashHex, set, invoice.setId, members);
  }

  #markCommitted(hashHex: string, set: PaymentSet, setId: Uint8Array, members: ReadonlySet<string>): void {
    set.phase = { kind: 'committed', setId, members };
    for (const id of set.parts.keys()) this.#hashByCommittedKey.set(id, hashHex);
  }

  /** A committed part reached its final state in LND; once all have, the store alone remembers the set. */
  #onHtlcFinal(key: CircuitKey): void {
    const id = circuitKeyId(key);
    const hashHex = this.#hashByCommittedKey.get(id);
    if (hashHex === undefined) return;
    this.#hashByCommittedKey.delete(id);
    const set = this.#sets.get(hashHex);
    if (set === undefined) return;
    set.parts.delete(id);
    if (set.parts.size === 0) this.#forget(hashHex, set);
  }

  #onBlock(height: number, out: Decision[]): void {
    if (height <= this.#height) return;
    this.#height = height;
    for (const [hashHex, set] of this.#sets) {
      const tooSoon = [...set.parts.values()].filter(
        (p) => p.htlc.expiry <= height + this.#config.expiryMarginBlocks,
      );
      if (tooSoon.length === 0) continue;
      if (set.phase.kind === 'accepted') this.#release(hashHex, 'expiryTooSoon', out);
      else if (set.phase.kind === 'accepting') this.#failParts(hashHex, set, tooSoon, 'expiryTooSoon', out);
      // committing / committed: the decision may be durable already; LND's own auto-fail is the backstop.
    }
  }

  #onTick(nowMs: number, out: Decision[]): void {
    // The due deadlines, earliest first, grouped by set (a part once, even if queued twice).
    const due = new Map<string, { parts: Map<string, HeldPart>; hold: boolean }>();
    for (let top = this.#deadlines.peek(); top !== undefined && top.at <= nowMs; top = this.#deadlines.peek()) {
      this.#deadlines.pop();
      if (!this.#isLive(top)) continue;
      let entry = due.get(top.hashHex);
      if (entry === undefined) {
        entry = { parts: new Map(), hold: false };
        due.set(top.hashHex, entry);
      }
      if (top.partId === undefined) entry.hold = true;
      else entry.parts.set(top.partId, this.#sets.get(top.hashHex)!.parts.get(top.partId)!);
    }
    for (const [hashHex, { parts, hold }] of due) {
      const set = this.#sets.get(hashHex);
      if (set === undefined) continue;
      if (hold) this.#release(hashHex, 'holdTimeout', out);
      else this.#failParts(hashHex, set, [...parts.values()], 'mppTimeout', out);
    }
  }

  /** Fails some parts of a set that is still accepting; the rest keep waiting. */
  #failParts(hashHex: string, set: PaymentSet, parts: readonly HeldPart[], outcome: FailOutcome, out: Decision[]) {
    for (const part of parts) {
      out.push(this.#fail(part.htlc, outcome));
      set.parts.delete(circuitKeyId(part.htlc.key));
      set.sumMsat -= part.htlc.amountMsat;
    }
    if (set.parts.size === 0) this.#forget(hashHex, set);
  }

  /** Fails every part of a set that is not committing or committed, and forgets it. */
  #release(hashHex: string, outcome: FailOutcome, out: Decision[]): void {
    const set = this.#sets.get(hashHex);
    if (set === undefined || set.phase.kind === 'committing' || set.phase.kind === 'committed') return;
    for (const part of set.parts.values()) out.push(this.#fail(part.htlc, outcome));
    if (set.phase.kind === 'accepted') {
      out.push({ kind: 'setReleased', paymentHash: set.paymentHash, setId: set.phase.setId, outcome });
    }
    this.#forget(hashHex, set);
  }

  #forget(hashHex: string, set: PaymentSet): void {
    this.#sets.delete(hashHex);
    if (set.phase.kind !== 'accepting') this.#hashBySetId.delete(bytesToHex(set.phase.setId));
  }

  #fail(htlc: ArrivedHtlc, outcome: FailOutcome): Decision {
    return {
      kind: 'fail',
      key: htlc.key,
      paymentHash: htlc.paymentHash,
      outcome,
      message: failureFor(outcome, htlc, this.#height),
      sharedSecret: htlc.sharedSecret,
    };
  }
}

/**
 * The BOLT 4 failure message for an outcome. Every reason but the MPP timeout gives the same
 * incorrect_or_unknown_payment_details, so that a prober cannot tell an unknown invoice from an
 * expired, cancelled or settled one (BOLT 4, "Failure Messages", final node requirements).
 */
export function failureFor(outcome: FailOutcome, htlc: ArrivedHtlc, height: number): FailureMessage {
  if (outcome === 'mppTimeout') return { kind: 'mppTimeout' };
  return { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: htlc.amountMsat, height };
}

function settle(htlc: ArrivedHtlc, outcome: 'settled' | 'replayToSettled'): Decision {
  return { kind: 'settle', key: htlc.key, paymentHash: htlc.paymentHash, preimage: htlc.preimage, outcome };
}

function hold(htlc: ArrivedHtlc, heldMsat: bigint): Decision {
  return {
    kind: 'hold',
    key: htlc.key,
    paymentHash: htlc.paymentHash,
    amountMsat: htlc.amountMsat,
    expiry: htlc.expiry,
    heldMsat,
    totalMsat: htlc.invoiceAmountMsat,
  };
}

function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
