/**
 * What the settlement engine needs from the outside world, as narrow interfaces: the store's settle
 * path and one link per cluster node. The adapters over src/store and src/lnd implement them; tests
 * implement them with fakes to prove the invariants.
 */
import type { InterceptorResponse } from '../lnd/index.js';
import type { CircuitKey } from '../protocol/index.js';
import type { InvoiceView } from '../registry/types.js';
import type { StoredTerms } from './inspect.js';
import type { HtlcLogEntry } from '../store/types.js';


/** One cluster node's interceptor stream, seen from the engine. */
export interface NodeLink {
  readonly pubkey: Uint8Array;
  readonly pubkeyHex: string;
  /** Sends a response; rejects if it could not be written (it is then not assumed delivered). */
  send(response: InterceptorResponse): Promise<void>;
  /**
   * Whether the interceptor stream is open right now, as the transport knows it (ahead of the events
   * the engine has read). Absent: assumed open.
   */
  isConnected?(): boolean;
}

/**
 * The store's view of an invoice for an arriving HTLC: the registry's view, and for a hold or goLnmux
 * invoice its stored terms (inspect.ts acceptStoredTerms).
 */
export type StoreInvoiceView = InvoiceView & { readonly stored?: StoredTerms };

/** A Go lnmux invoice, as its payment_addr proves it (inspect.ts), recorded at its first HTLC. */
export interface GoLnmuxInvoice {
  readonly paymentHash: Uint8Array;
  readonly paymentAddr: Uint8Array;
  /** msat */
  readonly amountMsat: bigint;
  /** unix seconds */
  readonly expiresAt: number;
}

export type SettleCommitResult =
  | { readonly kind: 'committed' }
  | { readonly kind: 'refused'; readonly invoice: InvoiceView };

/**
 * The store's settle path. Every method rejects with an error whose `retryable` is true when the
 * database could not be reached: the engine then holds and retries, and never assumes a commit.
 */
export interface SettleStore {
  /** The invoice's state for an arriving HTLC `key` (with its logged arrival, if any), or for a reload (no key). */
  invoiceStatus(paymentHash: Uint8Array, key?: CircuitKey): Promise<StoreInvoiceView>;
  /**
   * Records a Go lnmux invoice when its first HTLC arrives (the payment_addr proved it); an invoice
   * already recorded under its hash is left as it is.
   */
  recordGoLnmuxInvoice(invoice: GoLnmuxInvoice): Promise<void>;
  /** Appends to the HTLC log (accepted parts, failed and lost HTLCs with their reason). */
  logHtlcs(entries: readonly HtlcLogEntry[]): Promise<void>;
  /**
   * Commits the settle decision and the whole set in one transaction (idempotent for the same set), with
   * the set's `preimage` (the store keeps a hold or goLnmux invoice's).
   */
  commitSettle(
    paymentHash: Uint8Array,
    setId: Uint8Array,
    htlcs: readonly { readonly key: CircuitKey; readonly amountMsat: bigint }[],
    preimage?: Uint8Array,
  ): Promise<SettleCommitResult>;
  /**
   * Takes back a committed decision for which no SETTLE went out (a part of the set was lost before
   * the release): 'revoked' (the invoice is open again) or 'notRevocable' (the decision stands).
   */
  revokeSettle(paymentHash: Uint8Array, setId: Uint8Array): Promise<'revoked' | 'notRevocable'>;
  /** Records LND's final resolution of a settled-set HTLC. */
  markHtlcFinal(key: CircuitKey, settled: boolean): Promise<HtlcFinalRecorded>;
}

/** What {@link SettleStore.markHtlcFinal} did. */
export type HtlcFinalRecorded =
  /** Recorded now. `invoiceFinal`: the invoice's final state, when this made every HTLC of its set final (once per invoice). */
  | { readonly kind: 'recorded'; readonly invoiceFinal?: { readonly paymentHash: Uint8Array; readonly state: 'settled' | 'failed' } }
  /**
   * Recorded before: the same resolution told twice (the event stream, and a reconciliation's lookup
   * of an HTLC it read as unfinalized just before the first was written).
   */
  | { readonly kind: 'alreadyFinal' }
  /** The store holds no such HTLC in a committed set. */
  | { readonly kind: 'unknown' };
