/**
 * The store's domain types: invoices, HTLC circuit keys, and the outcome of every operation as a union on
 * `kind`. Expected conditions (an unknown invoice, a set refused because another set was committed) are
 * outcomes; only I/O and broken invariants throw (see errors.ts).
 */
import type { CircuitKey } from '../protocol/index.js';
import type { Leadership, LeadershipOptions } from './leadership.js';

/** An invoice's life: open -> cancelled, or open -> settleCommitted -> settled | failed. */
export type InvoiceState = 'open' | 'cancelled' | 'settleCommitted' | 'settled' | 'failed';

/** Every invoice state, in life order. */
export const INVOICE_STATES: readonly InvoiceState[] = Object.freeze([
  'open',
  'cancelled',
  'settleCommitted',
  'settled',
  'failed',
]);

/** The state of one HTLC of a committed set. */
export type HtlcState = 'settleCommitted' | 'settled' | 'failed';

/** A final HTLC outcome, as LND reports it (`--store-final-htlc-resolutions`). */
export type HtlcFinalState = 'settled' | 'failed';


/** One HTLC of a set handed to {@link InvoiceStore.commitSettle}. */
export interface SetHtlc extends CircuitKey {
  /** The HTLC's amount in msat (what the final hop receives), u64 >= 1. */
  readonly amountMsat: bigint;
}

/** A BOLT 11 invoice carries a description (`d`) or the SHA256 of one (`h`), never both. */
export type InvoiceDescription =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'hash'; readonly hash: Uint8Array };

/**
 * Where an invoice's preimage comes from (docs/store.md, "Invoice kinds"):
 * - `stateless`: lnmux derives it from the payment_addr (protocol/stateless-invoice.ts);
 * - `hold`: the application gave the payment hash and settles with the preimage, stored with the commit;
 * - `goLnmux`: made by the Go lnmux with the same identity key (its scheme, protocol/go-lnmux-payment-addr.ts),
 *   recorded when its first HTLC arrives; its payment request is not known.
 */
export type InvoiceKind = 'stateless' | 'hold' | 'goLnmux';

/** Every invoice kind. */
export const INVOICE_KINDS: readonly InvoiceKind[] = Object.freeze(['stateless', 'hold', 'goLnmux']);

/** What {@link InvoiceStore.recordInvoice} stores. */
export interface NewInvoice {
  /** The 32-byte payment hash. */
  readonly hash: Uint8Array;
  /** Default `stateless`. */
  readonly kind?: InvoiceKind;
  /** Invoice amount in msat, u64 in 1 .. 2^63-1; absent: an amountless invoice (the payer chooses). */
  readonly amountMsat?: bigint;
  /** Amountless invoices only: the least the payer may pay, msat, 1 .. 2^63-1. */
  readonly minAmountMsat?: bigint;
  /** The 32-byte payment_addr (payment secret) the invoice carries. */
  readonly paymentAddr: Uint8Array;
  readonly description: InvoiceDescription;
  /** The BOLT 11 string; absent only for a `goLnmux` invoice. */
  readonly paymentRequest?: string;
  /** BOLT 11 `m`, 1 .. 639 bytes. */
  readonly metadata?: Uint8Array;
  /** The invoice's BOLT 11 timestamp. */
  readonly createdAt: Date;
  /** createdAt plus the invoice's expiry. */
  readonly expiresAt: Date;
}

/** The fields an invoice has in each state ({@link InvoiceState}): each state carries exactly the fields it has. */
export type InvoiceStateFields =
  | { readonly state: 'open' }
  | { readonly state: 'cancelled'; readonly cancelledAt: Date }
  | {
      readonly state: 'settleCommitted';
      /** The committed set's 32-byte set_id. */
      readonly setId: Uint8Array;
      readonly settleCommittedAt: Date;
    }
  | {
      readonly state: 'settled' | 'failed';
      readonly setId: Uint8Array;
      readonly settleCommittedAt: Date;
      /** When the last HTLC of the set reached its final state. */
      readonly finalizedAt: Date;
    };

/** A stored invoice. */
export type Invoice = Omit<NewInvoice, 'kind'> &
  InvoiceStateFields & {
    readonly kind: InvoiceKind;
    /** Position in creation order, for paging: grows with every recorded invoice. */
    readonly sequence: bigint;
    /** A `hold` or `goLnmux` invoice whose settle was committed: the preimage its set settles with. */
    readonly preimage?: Uint8Array;
  };

/** A stored HTLC of a committed set. */
export interface StoredHtlc extends SetHtlc {
  /** The invoice's payment hash. */
  readonly hash: Uint8Array;
  /** The set the HTLC belongs to. */
  readonly setId: Uint8Array;
  readonly state: HtlcState;
}

/** An HTLC whose settle was committed but whose final state is unknown: replay its SETTLE after a restart. */
export interface UnfinalizedHtlc extends SetHtlc {
  readonly hash: Uint8Array;
  readonly setId: Uint8Array;
  /** The invoice's payment_addr, from which the preimage is derived again. */
  readonly paymentAddr: Uint8Array;
  readonly settleCommittedAt: Date;
}

/** Query for {@link InvoiceStore.listInvoices}. */
export interface ListInvoicesQuery {
  /** Only invoices in one of these states; all states when absent or empty. */
  readonly states?: readonly InvoiceState[];
  /**
   * Paging cursor: the `nextCursor` of the previous page. Forward: invoices with sequence above it;
   * backward: below it. Absent: from the start (forward) or the end (backward).
   */
  readonly cursor?: bigint;
  /** Page size, 1 .. 1000. */
  readonly limit: number;
  /** 'forward' (oldest first, the default) or 'backward' (newest first). */
  readonly direction?: 'forward' | 'backward';
  /** Only invoices created at or after this time (the BOLT 11 timestamp, `createdAt`). */
  readonly createdFrom?: Date;
  /** Only invoices created before this time. */
  readonly createdBefore?: Date;
}

/** One page of invoices. */
export interface InvoicePage {
  readonly invoices: readonly Invoice[];
  /** Cursor for the next page, or null when this page is the last. */
  readonly nextCursor: bigint | null;
}

/**
 * A change of an invoice, as the durable invoice stream tells it (invoice-events.ts):
 * - `created`: recorded (amountMsat: the invoice amount, absent for an amountless invoice);
 * - `accepted`: hold mode or a hold invoice, a complete set is held (setId, amountMsat: the set's);
 * - `released`: an accepted set was let go before its settle (setId, reason);
 * - `settleCommitted`: the settle decision and the set are committed, the preimage released (setId, amountMsat);
 * - `settleRevoked`: a committed decision was taken back before any SETTLE left (a part was lost): open again;
 * - `settled` / `failed`: every HTLC of the committed set is final at its node (failed: one failed);
 * - `cancelled`: the invoice can never be paid.
 */
export type InvoiceEventKind =
  | 'created'
  | 'accepted'
  | 'released'
  | 'settleCommitted'
  | 'settleRevoked'
  | 'settled'
  | 'failed'
  | 'cancelled';

/** Every invoice event kind. */
export const INVOICE_EVENT_KINDS: readonly InvoiceEventKind[] = Object.freeze([
  'created',
  'accepted',
  'released',
  'settleCommitted',
  'settleRevoked',
  'settled',
  'failed',
  'cancelled',
]);

/** One event of the invoice stream. */
export interface InvoiceEvent {
  /** The stream's index: grows with every event, never reused; resume after the last one seen. */
  readonly index: bigint;
  readonly hash: Uint8Array;
  readonly kind: InvoiceEventKind;
  /** The set, for every kind but created and cancelled. */
  readonly setId?: Uint8Array;
  /** msat: the invoice amount (created), the set's amount (accepted, settleCommitted). */
  readonly amountMsat?: bigint;
  /** released: why. */
  readonly reason?: string;
  /** When the change was written (the database's clock). */
  readonly at: Date;
}

/** An event the Mux writes itself (the registry's in-memory state: held sets). */
export interface NewInvoiceEvent {
  readonly hash: Uint8Array;
  readonly kind: 'accepted' | 'released';
  readonly setId: Uint8Array;
  readonly amountMsat?: bigint;
  readonly reason?: string;
  readonly at: Date;
}

/** Outcome of {@link InvoiceStore.recordInvoice}. */
export type RecordInvoiceOutcome =
  | { readonly kind: 'recorded'; readonly invoice: Invoice }
  /** An invoice with this hash exists already (it is returned, unchanged). */
  | { readonly kind: 'alreadyExists'; readonly invoice: Invoice };

/** Outcome of {@link InvoiceStore.cancelInvoice}. */
export type CancelOutcome =
  | { readonly kind: 'cancelled'; readonly cancelledAt: Date }
  | { readonly kind: 'alreadyCancelled'; readonly cancelledAt: Date }
  /** A settle was committed first: the invoice can no longer be cancelled. */
  | { readonly kind: 'settleCommitted' | 'settled' | 'failed'; readonly setId: Uint8Array }
  | { readonly kind: 'unknown' };

/** Outcome of {@link InvoiceStore.commitSettle}. Only `committed` and `alreadyCommitted` allow a SETTLE. */
export type SettleCommitOutcome =
  /** This call committed the decision and the set. */
  | { readonly kind: 'committed'; readonly settleCommittedAt: Date }
  /** The same set was committed before (a retry, a restart): settle it, as before. */
  | {
      readonly kind: 'alreadyCommitted';
      readonly state: 'settleCommitted' | 'settled' | 'failed';
      readonly settleCommittedAt: Date;
    }
  /** A different set was committed for this invoice: fail the HTLCs of this one. */
  | { readonly kind: 'alreadySettledWithOtherSet'; readonly setId: Uint8Array }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'unknown' }
  /** The set's amounts add up to less than the invoice amount (never a partial settle; more is accepted, as LND does). */
  | { readonly kind: 'amountMismatch'; readonly invoiceMsat: bigint; readonly setMsat: bigint }
  /** A hold or goLnmux invoice's commit without the preimage of its payment hash: nothing written (no one could settle). */
  | { readonly kind: 'wrongPreimage' }
  /** An HTLC of the set is already recorded in another invoice's set: an upstream bug, nothing written. */
  | { readonly kind: 'htlcInOtherSet'; readonly key: CircuitKey }
  /**
   * The request's fence is stale: the leadership it names has moved on to `currentEpoch` (null: never
   * taken). Nothing was written and nothing was decided: this instance no longer leads (leadership.ts).
   */
  | { readonly kind: 'fenced'; readonly currentEpoch: bigint | null };

/**
 * A settle request's fencing token: the leadership (leadership.ts) name and the epoch of the term that
 * decided it. The commit goes through only if that epoch is still the current one, checked in the
 * commit's own transaction.
 */
export interface SettleFence {
  readonly leadership: string;
  readonly epoch: bigint;
}

/** Outcome of {@link InvoiceStore.markHtlcFinal}. */
export type HtlcFinalOutcome =
  /**
   * Recorded. `invoiceState` is the invoice's state once this was committed; `invoiceFinalized` is true on
   * exactly one outcome per invoice: the one whose commit moved it to settled or failed (notify once).
   */
  | {
      readonly kind: 'recorded';
      readonly hash: Uint8Array;
      readonly invoiceState: 'settleCommitted' | 'settled' | 'failed';
      readonly invoiceFinalized: boolean;
    }
  /** The HTLC was final already (a repeated event): nothing changed. `state` is the recorded one. */
  | { readonly kind: 'alreadyFinal'; readonly hash: Uint8Array; readonly state: HtlcFinalState }
  /** The key is in no committed set. */
  | { readonly kind: 'unknown' };

/** What the HTLC log says happened to an HTLC: it joined its set, lnmux failed it, or its node dropped it. */
export type HtlcLogEvent = 'accepted' | 'failed' | 'lost';

/** One entry of the HTLC log (see htlc-log.ts). */
export interface HtlcLogEntry {
  readonly key: CircuitKey;
  readonly event: HtlcLogEvent;
  readonly hash: Uint8Array;
  /** The HTLC's amount towards the virtual node, msat. */
  readonly amountMsat: bigint;
  /** Why it was failed or lost (the registry's outcome name); absent for 'accepted'. */
  readonly reason?: string;
  readonly at: Date;
}

/** Outcome of {@link InvoiceStore.revokeSettle}. */
export type RevokeSettleOutcome =
  /** The invoice is open again; the set's HTLC rows are gone. */
  | { readonly kind: 'revoked' }
  /**
   * Nothing changed: the invoice is unknown, no longer names this set (`otherState`), or an HTLC of the
   * set is settled already (`partSettled`: a SETTLE did reach a node, the decision stands). A failed
   * HTLC does not stop a revoke.
   */
  | { readonly kind: 'notRevocable'; readonly reason: 'unknownInvoice' | 'otherState' | 'partSettled' }
  /** The fence's epoch is not the leadership's current one: nothing changed (another instance leads). */
  | { readonly kind: 'fenced'; readonly currentEpoch: bigint | null };

/** A lease held by one instance (docs/architecture.md, invariant 6). Times are the database's clock. */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Grows by one each time the lease changes hands or is taken again after it expired: a fencing token. */
  readonly epoch: bigint;
  readonly expiresAt: Date;
}

/** Outcome of {@link LeaseStore.acquireLease}. */
export type AcquireLeaseOutcome =
  | { readonly kind: 'acquired'; readonly lease: Lease }
  | { readonly kind: 'heldByOther'; readonly lease: Lease };

/** Outcome of {@link LeaseStore.renewLease}. */
export type RenewLeaseOutcome =
  | { readonly kind: 'renewed'; readonly lease: Lease }
  /** Another holder took the lease, or it was released. */
  | { readonly kind: 'lost' };

/** Outcome of {@link LeaseStore.releaseLease}. */
export type ReleaseLeaseOutcome = { readonly kind: 'released' } | { readonly kind: 'notHeld' };

/**
 * Invoices and the HTLCs of their committed sets. Every method checks its arguments first (TypeError /
 * RangeError naming the field, before any I/O); after that it throws only the classes of errors.ts:
 * StoreUnavailableError (retryable) for I/O, StoreError for broken invariants.
 */
export interface InvoiceStore {
  /** Records a created invoice (state open). */
  recordInvoice(invoice: NewInvoice): Promise<RecordInvoiceOutcome>;
  /** The invoice with this 32-byte payment hash, or undefined. */
  getInvoice(hash: Uint8Array): Promise<Invoice | undefined>;
  /** A page of invoices in sequence order, optionally of some states only. */
  listInvoices(query: ListInvoicesQuery): Promise<InvoicePage>;
  /** Cancels an open invoice for good: it can never be paid afterwards. */
  cancelInvoice(hash: Uint8Array): Promise<CancelOutcome>;
  /**
   * Commits the settle decision and the whole HTLC set in one transaction, under the invoice's row lock.
   * The same set again gives `alreadyCommitted`; a different set is refused. Resolves only after COMMIT.
   * With a `fence`, nothing is written (outcome `fenced`) unless its epoch is the leadership's current one.
   * A hold or goLnmux invoice's commit carries its `preimage` (32 bytes, SHA256 = hash), written with
   * the decision (outcome `wrongPreimage` without it); stateless invoices ignore it.
   */
  commitSettle(
    hash: Uint8Array,
    setId: Uint8Array,
    htlcs: readonly SetHtlc[],
    fence?: SettleFence,
    preimage?: Uint8Array,
  ): Promise<SettleCommitOutcome>;
  /**
   * Takes back the settle decision of `setId`, for which no SETTLE was sent (a part of the set was lost
   * before the preimage was released): the invoice is open again. See revoke.ts.
   */
  revokeSettle(hash: Uint8Array, setId: Uint8Array, fence?: SettleFence): Promise<RevokeSettleOutcome>;
  /** Appends entries to the HTLC log (an HTLC's entry for an event it already has is kept). */
  recordHtlcLog(entries: readonly HtlcLogEntry[]): Promise<void>;
  /** The HTLC log of one payment hash, in time order: what happened to every HTLC lnmux did not settle. */
  listHtlcLog(hash: Uint8Array): Promise<readonly HtlcLogEntry[]>;
  /** The invoice for an arriving HTLC and, if the HTLC joined its set before (logged), when. One round trip. */
  getInvoiceForHtlc(hash: Uint8Array, key: CircuitKey): Promise<{ readonly invoice: Invoice | undefined; readonly acceptedAt: Date | undefined }>;
  /** Records an HTLC's final state and rolls the invoice up once every HTLC of its set is final. */
  markHtlcFinal(key: CircuitKey, state: HtlcFinalState): Promise<HtlcFinalOutcome>;
  /** The HTLC of a committed set with this key (a replay after reconnect or restart), or undefined. */
  findSettledHtlc(key: CircuitKey): Promise<StoredHtlc | undefined>;
  /** The HTLCs of the invoice's committed set (empty when none), ordered by key. */
  listInvoiceHtlcs(hash: Uint8Array): Promise<readonly StoredHtlc[]>;
  /** Every HTLC whose settle is committed but not final, oldest decision first: what a restart replays. */
  listUnfinalizedHtlcs(): Promise<readonly UnfinalizedHtlc[]>;
  /** Writes `accepted` / `released` events (the others are written with the changes themselves). */
  recordInvoiceEvents(events: readonly NewInvoiceEvent[]): Promise<void>;
  /** Gives the committed events without a stream index theirs (invoice-events.ts); the highest given, if any. */
  sequenceInvoiceEvents(): Promise<bigint | undefined>;
  /** The events with an index above `after`, in index order, at most `limit` (1 .. 1000). */
  listInvoiceEvents(after: bigint, limit: number): Promise<readonly InvoiceEvent[]>;
}

/** Leases in PostgreSQL, for one active instance per cluster. Durations in milliseconds. */
export interface LeaseStore {
  /** Takes the lease if it is free, expired, or already ours (then it is extended). */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<AcquireLeaseOutcome>;
  /** Extends the lease if `holder` still holds it. */
  renewLease(name: string, holder: string, ttlMs: number): Promise<RenewLeaseOutcome>;
  /** Ends the lease now if `holder` holds it, so a standby can take over at once. */
  releaseLease(name: string, holder: string): Promise<ReleaseLeaseOutcome>;
}

/** The virtual node a database belongs to (docs/architecture.md, invariant 8). */
export interface NodeIdentity {
  /** 33-byte compressed public key of the identity key the database was bound to. */
  readonly nodePubkey: Uint8Array;
  /** When it was bound. */
  readonly recordedAt: Date;
}

/** Outcome of {@link IdentityStore.bindNodeIdentity}. */
export type NodeIdentityOutcome =
  /** The database was not bound: this call bound it to the given key. */
  | ({ readonly kind: 'recorded' } & NodeIdentity)
  /** The database is bound to the given key already. */
  | ({ readonly kind: 'matched' } & NodeIdentity)
  /** The database is bound to another key (`nodePubkey`): refuse to run it with `configuredPubkey`. */
  | ({ readonly kind: 'mismatch'; readonly configuredPubkey: Uint8Array } & NodeIdentity);

/** The identity binding: a database belongs to one virtual node, written once, never changed. */
export interface IdentityStore {
  /**
   * Binds the database to `nodePubkey` (33-byte compressed public key, never the private key) if it is
   * not bound yet, else compares: race-safe, idempotent, never overwrites. A mismatch is an outcome;
   * `requireNodeIdentity` turns it into IdentityKeyMismatchError.
   */
  bindNodeIdentity(nodePubkey: Uint8Array): Promise<NodeIdentityOutcome>;
  /** The key the database is bound to, or undefined while none is. */
  nodeIdentity(): Promise<NodeIdentity | undefined>;
}

/** The store: invoices, leases, its identity binding, the leadership, and its lifetime. */
export interface Store extends InvoiceStore, LeaseStore, IdentityStore {
  /**
   * The leadership of cluster `name` for instance `holder` (leadership.ts): a PostgreSQL session
   * holding an advisory lock, with an epoch for fencing settle commits. Connects on its first take.
   */
  leadership(name: string, holder: string, options?: LeadershipOptions): Leadership;
  /** 'postgres' (a server, durable) or 'embedded' (PGlite: never fsyncs, not for money in production). */
  readonly backend: 'postgres' | 'embedded';
  /** Waits for queued writes, then closes every connection. Further calls throw StoreClosedError. */
  close(): Promise<void>;
}
