/**
 * The typed shapes of `lnmux.v1.Lnmux` (proto/lnmux/v1/lnmux.proto) as `lnmux/client` gives them: every
 * amount a bigint of millisatoshis, hashes, preimages, set ids and public keys raw bytes (Uint8Array),
 * times Dates (absent when the .proto says 0, "not yet"), enums as the library's names.
 */

export type InvoiceState = 'open' | 'cancelled' | 'settleCommitted' | 'settled' | 'failed';
export type InvoiceKind = 'stateless' | 'hold' | 'goLnmux';
export type InvoiceEventKind = 'created' | 'accepted' | 'released' | 'settleCommitted' | 'settleRevoked' | 'settled' | 'failed' | 'cancelled';
export type Role = 'active' | 'standby';

export interface NodeInfo {
  /** 33 bytes. */
  readonly pubKey: Uint8Array;
  /** idle, connecting, checking, ready, refused, backoff, stopped. */
  readonly state: string;
  /** Why it is refused or backing off ('' otherwise). */
  readonly reason: string;
  /** Blocks; 0 before it was ready. */
  readonly height: number;
  /** Its interceptor stream: open, closed, ... */
  readonly interceptor: string;
}

export interface Info {
  readonly version: string;
  /** The virtual node's public key, 33 bytes: the payee of every invoice. */
  readonly identityPubkey: Uint8Array;
  readonly network: string;
  readonly role: Role;
  /** The highest chain height any node reported (0 before one was ready). */
  readonly bestHeight: number;
  readonly nodes: readonly NodeInfo[];
  /** settlement.mode auto (true) or hold (false). */
  readonly autoSettle: boolean;
  /** HTLCs held in memory by this instance now. */
  readonly heldHtlcs: number;
}

export interface AddInvoiceRequest {
  /** msat; absent: an amountless invoice (the payer chooses). */
  readonly amountMsat?: bigint;
  /** Amountless only: the least the payer may pay, msat. */
  readonly minAmountMsat?: bigint;
  /** The description (UTF-8, at most 639 bytes), or */
  readonly description?: string;
  /** its SHA256, 32 bytes. Not both. */
  readonly descriptionHash?: Uint8Array;
  /** Seconds until it expires (absent: the daemon's invoice.defaultExpirySeconds). */
  readonly expirySeconds?: number;
  /** A hold invoice: the payment hash (32 bytes) of a preimage the application keeps. */
  readonly paymentHash?: Uint8Array;
  /** BOLT 11 payment metadata, 1 to 639 bytes. */
  readonly metadata?: Uint8Array;
}

export interface AddedInvoice {
  readonly paymentRequest: string;
  /** 32 bytes. */
  readonly paymentHash: Uint8Array;
  /** 32 bytes; undefined for a hold invoice (the application has it). */
  readonly preimage: Uint8Array | undefined;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface Invoice {
  readonly paymentHash: Uint8Array;
  readonly kind: InvoiceKind;
  readonly state: InvoiceState;
  /** '' for a goLnmux invoice. */
  readonly paymentRequest: string;
  /** msat; undefined for an amountless invoice. */
  readonly amountMsat: bigint | undefined;
  /** Amountless: the least the payer may pay, msat (undefined: any). */
  readonly minAmountMsat: bigint | undefined;
  readonly description: string;
  readonly descriptionHash: Uint8Array | undefined;
  readonly metadata: Uint8Array | undefined;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly cancelledAt: Date | undefined;
  readonly settleCommittedAt: Date | undefined;
  readonly finalizedAt: Date | undefined;
  /** The committed set (undefined before SETTLE_COMMITTED). */
  readonly setId: Uint8Array | undefined;
  /** Position in creation order. */
  readonly sequence: bigint;
  /** Once paid and known to lnmux. */
  readonly preimage: Uint8Array | undefined;
}

export interface ListInvoicesRequest {
  /** Only these states (absent or empty: all). */
  readonly states?: readonly InvoiceState[];
  /** Created at or after. */
  readonly createdFrom?: Date;
  /** Created before. */
  readonly createdBefore?: Date;
  /** Page size, 1 to 1000 (absent: 100). */
  readonly limit?: number;
  /** The previous page's nextCursor. */
  readonly cursor?: bigint;
  /** Newest first. */
  readonly reverse?: boolean;
}

export interface InvoicePage {
  readonly invoices: readonly Invoice[];
  /** Pass as cursor for the next page; undefined when this page is the last. */
  readonly nextCursor: bigint | undefined;
}

export interface SetPart {
  /** chan_id:htlc_id@node_pubkey. */
  readonly circuitKey: string;
  readonly amountMsat: bigint;
}

export interface AcceptedSet {
  readonly setId: Uint8Array;
  readonly paymentHash: Uint8Array;
  /** The parts' sum, msat. */
  readonly amountMsat: bigint;
  readonly parts: readonly SetPart[];
  /** A hold invoice's set: settleSet needs the preimage. */
  readonly needsPreimage: boolean;
  readonly paymentMetadata: Uint8Array | undefined;
}

export interface InvoiceEvent {
  /** Grows with every event; resume with subscribeInvoices(index). */
  readonly index: bigint;
  readonly paymentHash: Uint8Array;
  readonly kind: InvoiceEventKind;
  /** Every kind but created and cancelled. */
  readonly setId: Uint8Array | undefined;
  /** msat (created: the invoice's, 0 for amountless; accepted, settleCommitted: the set's). */
  readonly amountMsat: bigint;
  /** released: why. */
  readonly reason: string;
  readonly at: Date;
}
