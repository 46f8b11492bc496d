/**
 * The HTLC-set registry: one state machine owns every HTLC set; everything else sends it events and
 * carries out the decisions it returns. No I/O, no timers, no clock: the caller passes `now` and asks
 * for the next deadline.
 *
 * Safety (docs/architecture.md, "Safety invariants"):
 * - commit before settle: a `settle` decision comes only from a `settleCommitted` event, or for an
 *   HTLC the store already lists in the committed set (replay);
 * - once settled, always settled: committed-set HTLCs offered again are settled again, checked before
 *   any rule that could fail them (invoice expiry, block height, timeouts);
 * - never a partial settle: a set is committed only when its parts add up to at least its total_msat,
 *   which is at least the invoice amount (BOLT 4 "Basic Multi-Part Payments" as LND applies it: parts
 *   may pay more, docs/sphinx.md), and once its commit is requested no timer fails any part of it (the
 *   commit's outcome may be unknown);
 * - a set counts only live parts (invariant 7): a part leaves its set when its node reports it failed,
 *   when its node comes back without offering it again, or when its node runs without the interceptor;
 *   a part whose node is disconnected is unconfirmed, and no set is committed, nor its SETTLEs
 *   released, while one of its parts is unconfirmed; a part within `autoFailMarginBlocks` of its
 *   node's auto-fail height is failed by lnmux first and never committed. A part lost after the
 *   commit but before any SETTLE went out makes the registry ask the store to revoke the decision;
 * - the registry trusts the store's answer over its own memory when they disagree (settleRefused).
 *
 * The MPP timeout runs per set, from its first part's arrival (BOLT 4 "Basic Multi-Part Payments"): a
 * payer cannot keep a set alive by adding parts.
 */
import {
  bytesToHex,
  circuitKeyFromString,
  circuitKeyString,
  setId as computeSetId,
  equalBytes,
  paymentHashOf,
  type CircuitKey,
  type FailureMessage,
} from '../protocol/index.js';
import { DeadlineQueue } from './deadline-queue.js';
import { flatCopy, packBytes, unpackBytes, type PackedBytes } from './flat-string.js';
import type {
  ArrivedHtlc,
  Decision,
  FailOutcome,
  InvoiceView,
  PartLostReason,
  RegistryConfig,
  RegistryEvent,
  SettleOutcome,
} from './types.js';

/**
 * What the registry keeps of a held part: the fields its later decisions read (settle, fail, the block
 * margins, the commit's amounts, its node's liveness), in one fixed shape. The ArrivedHtlc as inspect.ts
 * builds it (spreads, optional fields) gets a hidden class and an out-of-object property array of its
 * own in V8, and each 32-byte Uint8Array costs about 215 bytes: the part keeps its shared secret and
 * preimage packed (flat-string.ts), and its payment hash is its set's. Its circuit key is kept as its
 * string alone, turned back into a CircuitKey for a decision (`keyOf`): the key object and its two
 * bigints cost another 100 bytes (docs/benchmarks.md, "How cost grows").
 */
interface HeldPart {
  /** Its circuit key string (flat): its key in #hashByPart and in a committed set's members. */
  readonly id: string;
  /** The preimage its arrival carried (the set's own string when equal); the set's, if known, wins. */
  readonly preimage: PackedBytes | undefined;
  readonly amountMsat: bigint;
  readonly expiry: number;
  readonly autoFailHeight: number;
  /** The final hop's shared secret, to encrypt a failure back to the sender. */
  readonly sharedSecret: PackedBytes;
  /** The node holding it, pubkey hex (one string per node, see Registry.#nodeId). */
  readonly node: string;
  /** Offered by its node since that node's interceptor stream last went down (or never went down). */
  confirmed: boolean;
  /** Released sets only: a settleAtRisk for this part was reported. */
  atRiskReported: boolean;
}

/** A set that waits for parts holds nothing else in its phase: one object serves them all. */
const ACCEPTING: Phase = Object.freeze({ kind: 'accepting' });

type Phase =
  /** Collecting parts until they pay the invoice amount (and every part is confirmed live). */
  | { readonly kind: 'accepting' }
  /** Hold mode: complete, waiting for the application's settle (`applicationSettled` once it came) or cancel. */
  | { readonly kind: 'accepted'; readonly setId: Uint8Array; readonly acceptedAtMs: number; applicationSettled: boolean }
  /** The commit of this set is requested and its outcome not known yet; `lost`: a part left meanwhile. */
  | { readonly kind: 'committing'; readonly setId: Uint8Array; lost: boolean }
  /**
   * The store holds this set: its parts are settled, every other HTLC fails. `released`: SETTLEs went
   * out (the preimage is public); until then a lost part can still have the decision revoked.
   * `restored`: committed by an earlier run or another instance, which may have sent SETTLEs already:
   * released once every member is offered again (never revoked for a member near its expiry: invariant 2).
   */
  | {
      readonly kind: 'committed';
      readonly setId: Uint8Array;
      readonly members: ReadonlySet<string>;
      released: boolean;
      readonly restored?: boolean;
    }
  /** A part of the committed, unreleased set was lost: the store is asked to revoke the decision. */
  | { readonly kind: 'revoking'; readonly setId: Uint8Array; readonly members: ReadonlySet<string> };

interface PaymentSet {
  /**
   * The payment hash, packed (flat-string.ts): its key in the registry's maps, shared by its parts and
   * deadlines, and the one copy of the hash the set keeps (decisions unpack it).
   */
  readonly hash: PackedBytes;
  /** msat; undefined for an amountless invoice. */
  readonly invoiceAmountMsat: bigint | undefined;
  /**
   * The preimage the SETTLEs carry: derived (stateless invoices), or a hold invoice's, given by the
   * application (applicationSettle) or restored from the store. Undefined until then.
   */
  preimage: PackedBytes | undefined;
  /** A hold invoice's set: accepted whatever the mode, settled only with the application's preimage. */
  readonly needsPreimage: boolean;
  /** The payer's echo of the invoice's metadata, from the set's first part. */
  readonly paymentMetadata: Uint8Array | undefined;
  /**
   * The MPP total_msat every part of the set carries (its first part's; at least the invoice amount,
   * see inspect.ts): the set is complete once its parts add up to at least this.
   */
  readonly totalMsat: bigint;
  /**
   * The live parts, in arrival order (decisions about them come out in this order), each id once. An
   * array, not a Map: a one-part set, the common case, then costs about 56 bytes instead of 184, and the
   * registry-wide #hashByPart already finds a part's set by id (docs/benchmarks.md, "How cost grows").
   * Lookups by id scan it: the set's other per-part work (#allConfirmed on every arrival) scans it too.
   */
  parts: HeldPart[];
  sumMsat: bigint;
  /** When the current round of collecting began (its first part arrived), unix ms: the MPP timeout counts from here. */
  firstArrivedAtMs: number;
  phase: Phase;
}

/**
 * A deadline in the queue: a set's MPP timeout or an accepted set's hold timeout. It is live while its
 * set still waits for it (see Registry.#isLive); the queue keeps stale ones until they reach the top or
 * a compaction.
 */
interface Deadline {
  /** Unix ms. */
  readonly at: number;
  readonly hash: PackedBytes;
  readonly kind: 'mpp' | 'hold';
}

/**
 * The most blocks a final HTLC may expire above the height: LND v0.21.2 refuses more
 * (invoices.MaxFinalCltvDelta, htlcswitch/hop.ValidateFinalHtlc) with incorrect_or_unknown_payment_details.
 */
const MAX_FINAL_CLTV_DELTA = 65_535;

/** The queue is compacted (stale deadlines dropped) when it reaches this size, or twice its size after the last compaction. */
const MIN_COMPACTION_SIZE = 1024;

export class Registry {
  readonly #config: RegistryConfig;
  /** By packed payment hash. */
  readonly #sets = new Map<PackedBytes, PaymentSet>();
  /** Packed set id -> packed payment hash, for sets past accepting (the application settles by set id). */
  readonly #hashBySetId = new Map<PackedBytes, PackedBytes>();
  /** Circuit key id -> packed payment hash, for every part of every set held (a final event finds its set). */
  readonly #hashByPart = new Map<string, PackedBytes>();
  /**
   * Every MPP and hold deadline, earliest first. Looking one up must not cost a visit to every held
   * HTLC: the engine asks for the next deadline after every event.
   */
  readonly #deadlines = new DeadlineQueue<Deadline>();
  #compactAt = MIN_COMPACTION_SIZE;
  #height = 0;
  /** Each cluster node's pubkey hex, one flat string per node shared by all its held parts. */
  readonly #nodeIds = new Map<string, string>();

  constructor(config: RegistryConfig) {
    this.#config = config;
  }

  /** The pubkey hex of a part's node: the one string of that node (a few nodes, many parts). */
  #nodeId(nodePubkey: Uint8Array): string {
    const hex = bytesToHex(nodePubkey);
    let id = this.#nodeIds.get(hex);
    if (id === undefined) {
      id = flatCopy(hex);
      this.#nodeIds.set(id, id);
    }
    return id;
  }

  /** The best chain height seen, blocks. */
  get height(): number {
    return this.#height;
  }

  /** Number of HTLCs held in memory (for metrics). */
  get heldHtlcCount(): number {
    return this.#hashByPart.size;
  }

  /** The sets held in memory, one summary each (status page, metrics; read at scrape time, not per HTLC). */
  heldSets(): { paymentHashHex: string; phase: Phase['kind']; parts: number; heldMsat: bigint; firstArrivedAtMs: number }[] {
    return [...this.#sets].map(([hash, set]) => ({
      paymentHashHex: bytesToHex(unpackBytes(hash)),
      phase: set.phase.kind,
      parts: set.parts.length,
      heldMsat: set.sumMsat,
      firstArrivedAtMs: set.firstArrivedAtMs,
    }));
  }

  /** Whether this HTLC is a part of a set held now (an offer of it is a replay). */
  /** True while a set of this payment hash is in memory (any phase). */
  holdsSet(paymentHash: Uint8Array): boolean {
    return this.#sets.has(packBytes(paymentHash));
  }

  holdsPart(key: CircuitKey): boolean {
    return this.#hashByPart.has(circuitKeyString(key));
  }

  /** Applies one event at time `nowMs` (unix ms) and returns what must be done, in order. */
  step(event: RegistryEvent, nowMs: number): Decision[] {
    const out: Decision[] = [];
    switch (event.kind) {
      case 'htlcArrived':
        this.#onHtlcArrived(event.htlc, event.invoice, nowMs, out);
        break;
      case 'settleCommitted':
        this.#onSettleCommitted(event.paymentHash, event.setId, nowMs, out);
        break;
      case 'settleRefused':
        this.#onSettleRefused(event.paymentHash, event.invoice, out);
        break;
      case 'settleRevoked':
        this.#onSettleRevoked(event.paymentHash, event.setId, nowMs, out);
        break;
      case 'applicationSettle':
        this.#onApplicationSettle(event.setId, event.preimage, nowMs, out);
        break;
      case 'invoiceCancelled':
        this.#release(packBytes(event.paymentHash), 'invoiceCancelled', out);
        break;
      case 'blockConnected':
        this.#onBlock(event.height, out);
        break;
      case 'htlcFinal':
        this.#onHtlcFinal(event.key, event.settled, nowMs, out);
        break;
      case 'nodeDisconnected':
        this.#onNodeDisconnected(event.node);
        break;
      case 'nodeReplayed':
        this.#loseNodeParts(event.node, (part) => !part.confirmed, 'notReplayed', nowMs, out);
        break;
      case 'nodeHtlcsLost':
        this.#loseNodeParts(event.node, () => true, 'nodeWithoutInterceptor', nowMs, out);
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
   * Whether a queued deadline still applies: its set is accepting and the deadline is its current
   * round's MPP timeout, or its set is accepted and the deadline is its hold timeout. A stale deadline
   * stays stale (a new round or a new acceptance schedules a new deadline), so it can be dropped.
   */
  #isLive(deadline: Deadline): boolean {
    const set = this.#sets.get(deadline.hash);
    if (set === undefined) return false;
    if (deadline.kind === 'hold') {
      return set.phase.kind === 'accepted' && set.phase.acceptedAtMs + this.#config.holdTimeoutMs === deadline.at;
    }
    return set.phase.kind === 'accepting' && set.firstArrivedAtMs + this.#config.mppTimeoutMs === deadline.at;
  }

  #schedule(deadline: Deadline): void {
    this.#deadlines.push(deadline);
    if (this.#deadlines.size < this.#compactAt) return;
    // Amortized O(1) per deadline: stale entries never outnumber the live ones by much for long.
    this.#deadlines.retain((d) => this.#isLive(d));
    this.#compactAt = Math.max(MIN_COMPACTION_SIZE, 2 * this.#deadlines.size);
  }

  /** Starts a new round of collecting: the MPP timeout counts from `nowMs`. */
  #beginRound(set: PaymentSet, nowMs: number): void {
    set.phase = ACCEPTING;
    set.firstArrivedAtMs = nowMs;
    this.#schedule({ at: nowMs + this.#config.mppTimeoutMs, hash: set.hash, kind: 'mpp' });
  }

  #onHtlcArrived(htlc: ArrivedHtlc, invoice: InvoiceView, nowMs: number, out: Decision[]): void {
    const hash = packBytes(htlc.paymentHash);
    // Kept as a map key while the part is held: flat (flat-string.ts).
    const id = flatCopy(circuitKeyString(htlc.key));
    const set = this.#sets.get(hash);

    if (set !== undefined) {
      const phase = set.phase;
      const at = partIndex(set, id);
      if (at >= 0) {
        // The same HTLC offered again (reconnect): its node still holds it. Keep the newest offer.
        set.parts[at] = heldPart(id, htlc, set, set.parts[at]!.node);
        if (phase.kind === 'committed' && phase.released) out.push(settle(htlc.key, htlc.paymentHash, preimageOf(set, htlc.preimage), 'replayToSettled'));
        else out.push(hold(htlc, set.sumMsat));
        this.#proceed(hash, set, nowMs, out);
        return;
      }
      if (phase.kind === 'committed' && !phase.released && phase.members.has(id)) {
        // A member of a restored set offered again: it counts towards the release.
        addPart(set, heldPart(id, htlc, set, this.#nodeId(htlc.key.nodePubkey)));
        set.sumMsat += htlc.amountMsat;
        out.push(hold(htlc, set.sumMsat));
        this.#proceed(hash, set, nowMs, out);
        return;
      }
      if (phase.kind === 'committed' || phase.kind === 'revoking') {
        // Not a held part: a part of the set that already reached its final state, or a stranger.
        if (phase.members.has(id) && phase.kind === 'committed' && phase.released) {
          out.push(settle(htlc.key, htlc.paymentHash, preimageOf(set, htlc.preimage), 'replayToSettled'));
        } else out.push(this.#fail(htlc, phase.members.has(id) ? 'setClosed' : 'invoiceAlreadySettled'));
        return;
      }
      if (phase.kind !== 'accepting') {
        out.push(this.#fail(htlc, 'setClosed'));
        return;
      }
    } else {
      switch (invoice.kind) {
        case 'settleCommitted':
          if (!invoice.htlcs.some((key) => circuitKeyString(key) === id)) out.push(this.#fail(htlc, 'invoiceAlreadySettled'));
          else if (invoice.released === true) out.push(settle(htlc.key, htlc.paymentHash, invoice.preimage ?? htlc.preimage, 'replayToSettled'));
          else this.#restoreCommitted(hash, htlc, invoice, nowMs, out);
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
    if (set !== undefined && htlc.totalMsat !== set.totalMsat) {
      // Every part of a set names the same total (LND: ResultHtlcSetTotalMismatch).
      out.push(this.#fail(htlc, 'totalMismatch'));
      return;
    }
    if (set !== undefined && this.#isComplete(set)) {
      // The set holds its total already and waits only for a part's node to come back: more is not needed.
      out.push(this.#fail(htlc, 'overpayment'));
      return;
    }
    // BOLT 4 / BOLT 11: the final expiry must leave at least the invoice's min_final_cltv_expiry_delta
    // (LND: expiry < height + c fails, equal passes; docs/sphinx.md, "Final-hop rules").
    if (htlc.expiry < this.#height + htlc.minFinalCltvExpiryDelta) {
      out.push(this.#fail(htlc, 'finalCltvTooSoon'));
      return;
    }
    if (htlc.expiry - this.#height > MAX_FINAL_CLTV_DELTA) {
      out.push(this.#fail(htlc, 'finalCltvTooFar'));
      return;
    }
    if (htlc.expiry <= this.#height + this.#config.expiryMarginBlocks) {
      out.push(this.#fail(htlc, 'expiryTooSoon'));
      return;
    }
    if (this.#nearAutoFail(htlc)) {
      out.push(this.#fail(htlc, 'autoFailHeightNear'));
      return;
    }
    const target = set ?? this.#newSet(hash, htlc, nowMs);
    if (invoice.kind === 'open' && invoice.acceptedAtMs !== undefined && invoice.acceptedAtMs < target.firstArrivedAtMs) {
      // A part offered again after a restart: the nodes kept holding it, so its set's timeout kept running.
      target.firstArrivedAtMs = invoice.acceptedAtMs;
      this.#schedule({ at: invoice.acceptedAtMs + this.#config.mppTimeoutMs, hash: target.hash, kind: 'mpp' });
    }
    addPart(target, heldPart(id, htlc, target, this.#nodeId(htlc.key.nodePubkey)));
    this.#hashByPart.set(id, target.hash);
    target.sumMsat += htlc.amountMsat;
    out.push(hold(htlc, target.sumMsat));
    this.#proceed(hash, target, nowMs, out);
  }

  /**
   * A member of a set the store holds as committed, offered after a restart or to a new leader, while no
   * HTLC of the set is known final: the set is rebuilt as committed and not released. Its SETTLEs go out
   * once every member is offered again, or at once if one is reported settled (the preimage is out);
   * a member reported failed revokes it. Releasing on the first replay could give the preimage for
   * less: the instance that committed may have been holding the SETTLEs back for a part since lost.
   */
  #restoreCommitted(
    hash: PackedBytes,
    htlc: ArrivedHtlc,
    invoice: Extract<InvoiceView, { kind: 'settleCommitted' }>,
    nowMs: number,
    out: Decision[],
  ): void {
    const members = new Set(invoice.htlcs.map((key) => flatCopy(circuitKeyString(key))));
    const set = this.#createSet(hash, htlc, nowMs, { kind: 'committed', setId: invoice.setId, members, released: false, restored: true });
    const preimage = invoice.preimage ?? htlc.preimage;
    set.preimage = preimage === undefined ? undefined : packBytes(preimage);
    this.#hashBySetId.set(packBytes(invoice.setId), set.hash);
    for (const member of members) this.#hashByPart.set(member, set.hash);
    addPart(set, heldPart(flatCopy(circuitKeyString(htlc.key)), htlc, set, this.#nodeId(htlc.key.nodePubkey)));
    set.sumMsat = htlc.amountMsat;
    out.push(hold(htlc, set.sumMsat));
    this.#proceed(hash, set, nowMs, out);
  }

  #createSet(hash: PackedBytes, htlc: ArrivedHtlc, nowMs: number, phase: Phase): PaymentSet {
    const set: PaymentSet = {
      hash,
      invoiceAmountMsat: htlc.invoiceAmountMsat,
      preimage: htlc.preimage === undefined ? undefined : packBytes(htlc.preimage),
      needsPreimage: htlc.preimage === undefined,
      paymentMetadata: htlc.paymentMetadata,
      totalMsat: htlc.totalMsat,
      parts: [],
      sumMsat: 0n,
      firstArrivedAtMs: nowMs,
      phase,
    };
    this.#sets.set(hash, set);
    return set;
  }

  #newSet(hash: PackedBytes, htlc: ArrivedHtlc, nowMs: number): PaymentSet {
    const set = this.#createSet(hash, htlc, nowMs, { kind: 'accepting' });
    this.#beginRound(set, nowMs);
    return set;
  }

  /** Why a held HTLC must not be kept or settled at the current height, if it must not. */
  #tooSoon(htlc: Pick<ArrivedHtlc, 'expiry' | 'autoFailHeight'>): FailOutcome | undefined {
    if (htlc.expiry <= this.#height + this.#config.expiryMarginBlocks) return 'expiryTooSoon';
    if (this.#nearAutoFail(htlc)) return 'autoFailHeightNear';
    return undefined;
  }

  #revoke(set: PaymentSet, setId: Uint8Array, members: ReadonlySet<string>, out: Decision[]): void {
    set.phase = { kind: 'revoking', setId, members };
    out.push({ kind: 'revokeSettle', paymentHash: unpackBytes(set.hash), setId });
  }

  #nearAutoFail(htlc: Pick<ArrivedHtlc, 'autoFailHeight'>): boolean {
    return htlc.autoFailHeight <= this.#height + this.#config.autoFailMarginBlocks;
  }

  /**
   * The parts add up to the set's total_msat (more is allowed: payers add noise to each part's amount,
   * LND settles a set once its parts reach total_msat). The invoice amount is checked again here, not
   * only by inspect.ts, because settling for less than it is the one loss this state machine must
   * never allow.
   */
  #isComplete(set: PaymentSet): boolean {
    const invoiceMsat = set.invoiceAmountMsat ?? 0n;
    return set.sumMsat >= (set.totalMsat > invoiceMsat ? set.totalMsat : invoiceMsat);
  }

  #allConfirmed(set: PaymentSet): boolean {
    for (const part of set.parts) if (!part.confirmed) return false;
    return true;
  }

  /**
   * Takes the set as far as its parts allow: a complete set of live parts is accepted (hold) or
   * committed (auto); an accepted set the application settled is committed; a committed set's SETTLEs
   * are released. Each step waits while a part is unconfirmed (its node is reconnecting).
   */
  #proceed(hash: PackedBytes, set: PaymentSet, nowMs: number, out: Decision[]): void {
    if (!this.#allConfirmed(set)) return;
    const phase = set.phase;
    if (phase.kind === 'accepting' && this.#isComplete(set)) this.#onComplete(hash, set, nowMs, out);
    else if (phase.kind === 'accepted' && phase.applicationSettled) this.#commit(set, phase.setId, out);
    else if (phase.kind === 'committed' && !phase.released) {
      const held = heldIds(set);
      for (const member of phase.members) if (!held.has(member)) return; // a restored set waits for every member
      if (phase.restored !== true && set.parts.some((p) => this.#tooSoon(p) !== undefined)) {
        // Too close to a node's auto-fail height to hand out the preimage now: take the decision back.
        this.#revoke(set, phase.setId, phase.members, out);
        return;
      }
      phase.released = true;
      out.push(released(set, phase.setId));
      for (const part of set.parts) out.push(settlePart(set, part, phase.restored === true ? 'replayToSettled' : 'settled'));
    }
  }

  #onComplete(hash: PackedBytes, set: PaymentSet, nowMs: number, out: Decision[]): void {
    const parts = [...set.parts];
    const setId = computeSetId(parts.map(keyOf));
    this.#hashBySetId.set(packBytes(setId), set.hash);
    if (this.#config.mode === 'auto' && !set.needsPreimage) {
      this.#commit(set, setId, out);
    } else {
      set.phase = { kind: 'accepted', setId, acceptedAtMs: nowMs, applicationSettled: false };
      // A hold invoice's set has no hold timeout (as LND's): the block margins are its limit.
      if (!set.needsPreimage) this.#schedule({ at: nowMs + this.#config.holdTimeoutMs, hash: set.hash, kind: 'hold' });
      const htlcs = parts.map((p) => ({ key: keyOf(p), amountMsat: p.amountMsat }));
      out.push({
        kind: 'setAccepted',
        paymentHash: unpackBytes(set.hash),
        setId,
        amountMsat: set.sumMsat,
        htlcs,
        needsPreimage: set.needsPreimage,
        ...(set.paymentMetadata !== undefined ? { paymentMetadata: set.paymentMetadata } : {}),
      });
    }
  }

  #commit(set: PaymentSet, setId: Uint8Array, out: Decision[]): void {
    set.phase = { kind: 'committing', setId, lost: false };
    const htlcs = set.parts.map((p) => ({ key: keyOf(p), amountMsat: p.amountMsat }));
    out.push({
      kind: 'commitSettle',
      paymentHash: unpackBytes(set.hash),
      setId,
      htlcs,
      ...(set.preimage !== undefined ? { preimage: unpackBytes(set.preimage) } : {}),
    });
  }

  #onApplicationSettle(setId: Uint8Array, preimage: Uint8Array | undefined, nowMs: number, out: Decision[]): void {
    const hash = this.#hashBySetId.get(packBytes(setId));
    const set = hash === undefined ? undefined : this.#sets.get(hash);
    if (set === undefined || set.phase.kind === 'accepting' || set.phase.kind === 'revoking') {
      out.push({ kind: 'applicationSettleAnswered', setId, answer: 'unknownSet' });
      return;
    }
    // A wrong preimage is refused whatever the set's phase: never an OK for a settle that could not work.
    if (set.needsPreimage && preimage !== undefined && !equalBytes(paymentHashOf(preimage), unpackBytes(set.hash))) {
      out.push({ kind: 'applicationSettleAnswered', setId, answer: 'wrongPreimage' });
      return;
    }
    if (set.phase.kind === 'committed') {
      out.push({ kind: 'applicationSettleAnswered', setId, answer: 'alreadySettled' });
      return;
    }
    if (set.phase.kind === 'committing') return; // the commit under way answers
    if (set.needsPreimage) {
      if (preimage === undefined) {
        out.push({ kind: 'applicationSettleAnswered', setId, answer: 'preimageRequired' });
        return;
      }
      set.preimage = packBytes(preimage);
    }
    set.phase.applicationSettled = true;
    // Committed at once, or as soon as every part is confirmed live.
    this.#proceed(hash!, set, nowMs, out);
  }

  #onSettleCommitted(paymentHash: Uint8Array, setId: Uint8Array, nowMs: number, out: Decision[]): void {
    const hash = packBytes(paymentHash);
    const set = this.#sets.get(hash);
    const phase = set?.phase;
    if (set === undefined || phase?.kind !== 'committing' || bytesToHex(phase.setId) !== bytesToHex(setId)) {
      // The store committed a set this registry did not ask for (cannot happen with one active
      // instance): the store's answer wins. Its view comes back as settleRefused.
      out.push({ kind: 'reloadInvoice', paymentHash });
      return;
    }
    const members = heldIds(set);
    if (phase.lost) {
      // A part left while the commit was under way, and no SETTLE has gone out: take the decision back.
      this.#revoke(set, setId, members, out);
      return;
    }
    set.phase = { kind: 'committed', setId, members, released: false };
    this.#proceed(hash, set, nowMs, out);
  }

  #onSettleRevoked(paymentHash: Uint8Array, setId: Uint8Array, nowMs: number, out: Decision[]): void {
    const hash = packBytes(paymentHash);
    const set = this.#sets.get(hash);
    if (set === undefined || set.phase.kind !== 'revoking' || bytesToHex(set.phase.setId) !== bytesToHex(setId)) return;
    this.#hashBySetId.delete(packBytes(setId));
    const held = heldIds(set);
    for (const member of set.phase.members) if (!held.has(member) && this.#hashByPart.get(member) === hash) this.#hashByPart.delete(member);
    if (set.parts.length === 0) {
      this.#forget(hash, set);
      return;
    }
    // The live parts wait for the payer to pay the rest again; those too close to their expiry fail now.
    this.#beginRound(set, nowMs);
    const tooSoon: [HeldPart, FailOutcome][] = [];
    for (const part of set.parts) {
      const outcome = this.#tooSoon(part);
      if (outcome !== undefined) tooSoon.push([part, outcome]);
    }
    if (tooSoon.length > 0) this.#failTooSoon(hash, set, tooSoon, out);
    if (this.#sets.get(hash) === set) this.#proceed(hash, set, nowMs, out);
  }

  #onSettleRefused(paymentHash: Uint8Array, invoice: InvoiceView, out: Decision[]): void {
    const hash = packBytes(paymentHash);
    const set = this.#sets.get(hash);
    if (set === undefined) return;
    if (invoice.kind !== 'settleCommitted') {
      const phase = set.phase;
      // SETTLEs went out: the preimage is public, its parts are never failed (invariant 2), whatever the store says.
      if (phase.kind === 'committed' && phase.released) return;
      // The store's refusal is final: the set it refused can no longer be committed.
      if (phase.kind !== 'accepting') this.#hashBySetId.delete(packBytes(phase.setId));
      // Members never offered again (a restored set) are filed under this hash too: they go with it.
      if (phase.kind === 'committed' || phase.kind === 'revoking') this.#dropMembers(hash, phase.members);
      set.phase = { kind: 'accepting' };
      this.#release(hash, invoice.kind === 'cancelled' ? 'invoiceCancelled' : 'invoiceUnknown', out);
      return;
    }
    const members = new Set(invoice.htlcs.map(circuitKeyString));
    if (invoice.preimage !== undefined) set.preimage = packBytes(invoice.preimage);
    // A copy: parts leave the set during the loop.
    for (const part of [...set.parts]) {
      if (members.has(part.id)) out.push(settlePart(set, part, 'replayToSettled'));
      else {
        out.push(this.#failPart(set, part, 'invoiceAlreadySettled'));
        this.#removePart(set, part.id);
      }
    }
    if (set.phase.kind !== 'accepting') this.#hashBySetId.delete(packBytes(set.phase.setId));
    set.phase = { kind: 'committed', setId: invoice.setId, members, released: true };
    if (set.parts.length === 0) this.#forget(hash, set);
  }

  /** LND's final resolution of an HTLC: a committed part is done; a held part failed by its node is lost. */
  #onHtlcFinal(key: CircuitKey, settled: boolean, nowMs: number, out: Decision[]): void {
    const id = circuitKeyString(key);
    const hash = this.#hashByPart.get(id);
    if (hash === undefined) return;
    const set = this.#sets.get(hash)!;
    const phase = set.phase;
    const part = findPart(set, id);
    if (phase.kind === 'committed' && !phase.released && part === undefined) {
      // A member of a restored set that was not offered again: it is final at its node.
      this.#hashByPart.delete(id);
      if (settled) {
        // A SETTLE reached a node before the restart: the preimage is out, settle every other member.
        phase.released = true;
        out.push(released(set, phase.setId));
        for (const held of set.parts) out.push(settlePart(set, held, 'replayToSettled'));
        if (set.parts.length === 0) this.#forget(hash, set);
      } else {
        this.#revoke(set, phase.setId, phase.members, out);
      }
      return;
    }
    if (phase.kind === 'committed' && phase.released) {
      if (part === undefined) {
        this.#hashByPart.delete(id);
        return;
      }
      if (!settled) {
        out.push({
          kind: 'settleAtRisk',
          key,
          paymentHash: unpackBytes(set.hash),
          setId: phase.setId,
          reason: 'failedAfterRelease',
          amountMsat: part.amountMsat,
        });
      }
      this.#removePart(set, id);
      if (set.parts.length === 0) this.#forget(hash, set);
      return;
    }
    // No SETTLE went out for this set, so the node cannot have settled it: only a failure is possible.
    this.#losePart(hash, set, id, 'failedByNode', nowMs, out);
  }

  #onNodeDisconnected(node: string): void {
    for (const set of this.#sets.values()) {
      if (set.phase.kind === 'committed' && set.phase.released) continue;
      for (const part of set.parts) if (part.node === node) part.confirmed = false;
    }
  }

  /** Parts of `node` matching `which` leave their sets (sets whose SETTLEs went out keep theirs). */
  #loseNodeParts(node: string, which: (part: HeldPart) => boolean, reason: PartLostReason, nowMs: number, out: Decision[]): void {
    for (const [hash, set] of [...this.#sets]) {
      if (set.phase.kind === 'committed' && set.phase.released) continue;
      for (const part of [...set.parts]) {
        if (part.node === node && which(part) && this.#sets.get(hash) === set) this.#losePart(hash, set, part.id, reason, nowMs, out);
      }
      if (this.#sets.get(hash) === set) this.#proceed(hash, set, nowMs, out);
    }
  }

  /** A held part its node no longer holds leaves its set; nothing is sent to the node. */
  #losePart(hash: PackedBytes, set: PaymentSet, id: string, reason: PartLostReason, nowMs: number, out: Decision[]): void {
    const part = findPart(set, id);
    if (part === undefined) return;
    this.#removePart(set, id);
    out.push({
      kind: 'partLost',
      key: keyOf(part),
      paymentHash: unpackBytes(set.hash),
      reason,
      amountMsat: part.amountMsat,
      heldMsat: set.sumMsat,
    });
    const phase = set.phase;
    switch (phase.kind) {
      case 'accepting':
        break;
      case 'accepted':
        out.push({ kind: 'setReleased', paymentHash: unpackBytes(set.hash), setId: phase.setId, outcome: 'partLost' });
        this.#hashBySetId.delete(packBytes(phase.setId));
        if (set.parts.length > 0) this.#beginRound(set, nowMs);
        break;
      case 'committing':
        phase.lost = true;
        return; // the commit's answer decides (settleCommitted revokes)
      case 'committed':
        // Not released (released sets never lose parts this way): no SETTLE went out, take it back.
        this.#revoke(set, phase.setId, phase.members, out);
        return;
      case 'revoking':
        return;
      default:
        assertNever(phase);
    }
    if (set.parts.length === 0) this.#forget(hash, set);
  }

  #removePart(set: PaymentSet, id: string): void {
    const at = partIndex(set, id);
    if (at < 0) return;
    const part = set.parts[at]!;
    set.parts.splice(at, 1);
    set.sumMsat -= part.amountMsat;
    this.#hashByPart.delete(id);
  }

  #onBlock(height: number, out: Decision[]): void {
    if (height <= this.#height) return;
    this.#height = height;
    for (const [hash, set] of [...this.#sets]) {
      const phase = set.phase;
      if (phase.kind === 'committed' && phase.released) {
        for (const part of set.parts) {
          if (part.atRiskReported || !this.#nearAutoFail(part)) continue;
          part.atRiskReported = true;
          out.push({
            kind: 'settleAtRisk',
            key: keyOf(part),
            paymentHash: unpackBytes(set.hash),
            setId: phase.setId,
            reason: 'expiryNear',
            amountMsat: part.amountMsat,
          });
        }
        continue;
      }
      const tooSoon: [HeldPart, FailOutcome][] = [];
      for (const part of set.parts) {
        const outcome = this.#tooSoon(part);
        if (outcome !== undefined) tooSoon.push([part, outcome]);
      }
      if (tooSoon.length === 0) continue;
      if (phase.kind === 'accepted') this.#release(hash, tooSoon[0]![1], out);
      else if (phase.kind === 'accepting') this.#failTooSoon(hash, set, tooSoon, out);
      // Not released, committed by this instance (no SETTLE went out): take it back, see #proceed.
      else if (phase.kind === 'committed' && phase.restored !== true) this.#revoke(set, phase.setId, phase.members, out);
      // committing: its answer is checked at release (#proceed); revoking: failed once the revoke is done.
    }
  }

  #failTooSoon(hash: PackedBytes, set: PaymentSet, tooSoon: readonly [HeldPart, FailOutcome][], out: Decision[]): void {
    for (const [part, outcome] of tooSoon) {
      out.push(this.#failPart(set, part, outcome));
      this.#removePart(set, part.id);
    }
    if (set.parts.length === 0) this.#forget(hash, set);
  }

  #onTick(nowMs: number, out: Decision[]): void {
    // The due deadlines, earliest first, one answer per set.
    const due = new Map<PackedBytes, Deadline['kind']>();
    for (let top = this.#deadlines.peek(); top !== undefined && top.at <= nowMs; top = this.#deadlines.peek()) {
      this.#deadlines.pop();
      if (this.#isLive(top)) due.set(top.hash, top.kind);
    }
    for (const [hash, kind] of due) this.#release(hash, kind === 'hold' ? 'holdTimeout' : 'mppTimeout', out);
  }

  /** Fails every part of a set that is not committing, committed or revoking, and forgets it. */
  #release(hash: PackedBytes, outcome: FailOutcome, out: Decision[]): void {
    const set = this.#sets.get(hash);
    if (set === undefined) return;
    const phase = set.phase;
    if (phase.kind !== 'accepting' && phase.kind !== 'accepted') return;
    for (const part of set.parts) out.push(this.#failPart(set, part, outcome));
    if (phase.kind === 'accepted') {
      out.push({ kind: 'setReleased', paymentHash: unpackBytes(set.hash), setId: phase.setId, outcome });
    }
    this.#forget(hash, set);
  }

  #forget(hash: PackedBytes, set: PaymentSet): void {
    this.#sets.delete(hash);
    for (const part of set.parts) this.#hashByPart.delete(part.id);
    if (set.phase.kind === 'committed' || set.phase.kind === 'revoking') this.#dropMembers(hash, set.phase.members);
    if (set.phase.kind !== 'accepting') this.#hashBySetId.delete(packBytes(set.phase.setId));
  }

  /** The committed set `hash`'s members leave #hashByPart (those filed under another set stay). */
  #dropMembers(hash: PackedBytes, members: ReadonlySet<string>): void {
    for (const id of members) if (this.#hashByPart.get(id) === hash) this.#hashByPart.delete(id);
  }

  /** A FAIL for an HTLC that did not join a set (its arrival's fields). */
  #fail(htlc: Pick<ArrivedHtlc, 'key' | 'paymentHash' | 'amountMsat' | 'sharedSecret'>, outcome: FailOutcome): Decision {
    return {
      kind: 'fail',
      key: htlc.key,
      paymentHash: htlc.paymentHash,
      outcome,
      amountMsat: htlc.amountMsat,
      message: failureFor(outcome, htlc, this.#height),
      sharedSecret: htlc.sharedSecret,
    };
  }

  /** A FAIL for a held part of `set`: the same decision, its hash and secret unpacked. */
  #failPart(set: PaymentSet, part: HeldPart, outcome: FailOutcome): Decision {
    return this.#fail({ key: keyOf(part), paymentHash: unpackBytes(set.hash), amountMsat: part.amountMsat, sharedSecret: unpackBytes(part.sharedSecret) }, outcome);
  }
}

/**
 * The BOLT 4 failure message for an outcome. Every reason but the MPP timeout gives the same
 * incorrect_or_unknown_payment_details, so that a prober cannot tell an unknown invoice from an
 * expired, cancelled or settled one (BOLT 4, "Failure Messages", final node requirements).
 */
export function failureFor(outcome: FailOutcome, htlc: Pick<ArrivedHtlc, 'amountMsat'>, height: number): FailureMessage {
  if (outcome === 'mppTimeout') return { kind: 'mppTimeout' };
  return { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: htlc.amountMsat, height };
}

/**
 * A SETTLE with the set's preimage (or, for a replay, the one its arrival or the store's view carries).
 * @throws Error if none is known: a committed hold invoice whose preimage the store did not give back,
 *   a broken invariant; the engine logs it and the HTLC stays held (never failed: invariant 2).
 */
function settle(key: CircuitKey, paymentHash: Uint8Array, preimage: Uint8Array | undefined, outcome: SettleOutcome): Decision {
  if (preimage === undefined) throw new Error(`invariant: no preimage to settle ${circuitKeyString(key)}`);
  return { kind: 'settle', key, paymentHash, preimage, outcome };
}

/** The preimage a SETTLE of `set` carries: the set's, or else `own`, the one the HTLC's arrival carried. */
function preimageOf(set: PaymentSet, own: Uint8Array | undefined): Uint8Array | undefined {
  return set.preimage !== undefined ? unpackBytes(set.preimage) : own;
}

/** A SETTLE for a held part of `set` (see {@link settle}). */
function settlePart(set: PaymentSet, part: HeldPart, outcome: SettleOutcome): Decision {
  const packed = set.preimage ?? part.preimage;
  return settle(keyOf(part), unpackBytes(set.hash), packed === undefined ? undefined : unpackBytes(packed), outcome);
}

/**
 * The held copy of an arrived HTLC, a part of `set` (see HeldPart), confirmed live. Its payment hash is
 * the set's (the set is keyed by it); its preimage is the set's string when the two are equal.
 */
function heldPart(id: string, htlc: ArrivedHtlc, set: PaymentSet, node: string): HeldPart {
  const preimage = htlc.preimage === undefined ? undefined : packBytes(htlc.preimage);
  return {
    id,
    preimage: preimage !== undefined && preimage === set.preimage ? set.preimage : preimage,
    amountMsat: htlc.amountMsat,
    expiry: htlc.expiry,
    autoFailHeight: htlc.autoFailHeight,
    sharedSecret: packBytes(htlc.sharedSecret),
    node,
    confirmed: true,
    atRiskReported: false,
  };
}

/** A held part's circuit key, from its id (circuitKeyString's output: the parse gives the same key back). */
function keyOf(part: HeldPart): CircuitKey {
  return circuitKeyFromString(part.id);
}

/** Where the part with circuit key id `id` is in `set.parts`, or -1. */
function partIndex(set: PaymentSet, id: string): number {
  for (let i = 0; i < set.parts.length; i++) if (set.parts[i]!.id === id) return i;
  return -1;
}

function findPart(set: PaymentSet, id: string): HeldPart | undefined {
  const at = partIndex(set, id);
  return at < 0 ? undefined : set.parts[at];
}

/** The circuit key ids of the set's parts. */
function heldIds(set: PaymentSet): Set<string> {
  return new Set(set.parts.map((p) => p.id));
}

/**
 * Appends a part. A set's first part gets an array of its own length: pushing onto an empty array
 * reserves 17 slots (docs/benchmarks.md, "How cost grows").
 */
function addPart(set: PaymentSet, part: HeldPart): void {
  if (set.parts.length === 0) set.parts = [part];
  else set.parts.push(part);
}

function released(set: PaymentSet, setId: Uint8Array): Decision {
  return {
    kind: 'settleReleased',
    paymentHash: unpackBytes(set.hash),
    setId,
    amountMsat: set.sumMsat,
    ...(set.paymentMetadata !== undefined ? { paymentMetadata: set.paymentMetadata } : {}),
  };
}

function hold(htlc: ArrivedHtlc, heldMsat: bigint): Decision {
  return {
    kind: 'hold',
    key: htlc.key,
    paymentHash: htlc.paymentHash,
    amountMsat: htlc.amountMsat,
    expiry: htlc.expiry,
    heldMsat,
    ...(htlc.invoiceAmountMsat !== undefined ? { invoiceAmountMsat: htlc.invoiceAmountMsat } : {}),
    totalMsat: htlc.totalMsat,
  };
}

function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
