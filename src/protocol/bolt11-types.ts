/**
 * The data model of a BOLT 11 invoice ("Invoice Protocol for Lightning Payments").
 *
 * Two views of the same data part:
 * - `TaggedField`: the tagged fields in the order they are written, one entry per field, what
 *   the signature covers; used to re-encode an invoice byte for byte.
 * - `InvoiceFields`: the typed view an application reads and writes (one payment hash, one
 *   description, the route hints, ...).
 *
 * Amounts in millisatoshi (bigint), times in unix seconds, deltas in blocks.
 */

/** The BIP-0173 currency prefix after `ln` (BOLT 11 "Human-Readable Part"): mainnet, testnet, regtest, signet, simnet. */
export type Network = 'bc' | 'tb' | 'bcrt' | 'tbs' | 'sb';

/** One hop of an `r` field (BOLT 11 "Tagged Fields"; policy fields as in BOLT 7 `channel_update`). */
export interface RouteHintHop {
  /** 33-byte compressed public key of the node at the start of the channel. */
  readonly pubkey: Uint8Array;
  /** The channel's short_channel_id (u64). */
  readonly shortChannelId: bigint;
  /** Base fee in millisatoshi (u32). */
  readonly feeBaseMsat: number;
  /** Proportional fee in millionths (u32). */
  readonly feeProportionalMillionths: number;
  /** CLTV expiry delta in blocks (u16). */
  readonly cltvExpiryDelta: number;
}

/** Support level of a feature in the `9` field: the even bit is required, the odd bit optional (BOLT 9). */
export type FeatureSupport = 'required' | 'optional';

/**
 * The invoice feature vector (`9` field; bits as assigned in BOLT 9, context `9`).
 * The features this codec knows are typed; every other set bit is kept in `otherBits`.
 */
export interface FeatureBits {
  /** var_onion_optin, bits 8/9. */
  readonly varOnionOptin?: FeatureSupport;
  /** payment_secret, bits 14/15. */
  readonly paymentSecret?: FeatureSupport;
  /** basic_mpp, bits 16/17 (depends on payment_secret). */
  readonly basicMpp?: FeatureSupport;
  /** option_payment_metadata, bits 48/49. */
  readonly paymentMetadata?: FeatureSupport;
  /**
   * Every other set bit, ascending: unknown odd bits (a reader ignores them), and the odd twin of a
   * typed feature whose even bit is also set (BOLT 9: treated as required).
   */
  readonly otherBits?: readonly number[];
}

/** An on-chain fallback address (`f` field) of a version this codec knows. */
export type FallbackAddress =
  /** version 17: pay to public key hash (20 bytes). */
  | { readonly kind: 'p2pkh'; readonly hash: Uint8Array }
  /** version 18: pay to script hash (20 bytes). */
  | { readonly kind: 'p2sh'; readonly hash: Uint8Array }
  /** versions 0..16: a segwit witness version and program (BIP-141: 2..40 bytes, v0 20 or 32). */
  | { readonly kind: 'witness'; readonly version: number; readonly program: Uint8Array };

/**
 * A field kept as its 5-bit words: a type this reader does not know, or an `f` field of an unknown
 * version (19..31). BOLT 11 readers skip such fields; they are kept so that nothing signed is lost.
 */
export interface RawField {
  /** The 5-bit field type (0..31). */
  readonly type: number;
  /** The field's data as 5-bit words (each 0..31). */
  readonly words: Uint8Array;
}

/** One tagged field of the data part, as written (BOLT 11 "Tagged Fields"). */
export type TaggedField =
  | { readonly kind: 'paymentHash'; readonly value: Uint8Array }
  | { readonly kind: 'paymentSecret'; readonly value: Uint8Array }
  | { readonly kind: 'description'; readonly value: string }
  | { readonly kind: 'descriptionHash'; readonly value: Uint8Array }
  | { readonly kind: 'metadata'; readonly value: Uint8Array }
  | { readonly kind: 'payeeNodeKey'; readonly value: Uint8Array }
  | { readonly kind: 'expiry'; readonly seconds: number }
  | { readonly kind: 'minFinalCltvExpiryDelta'; readonly blocks: number }
  | { readonly kind: 'fallback'; readonly address: FallbackAddress }
  | { readonly kind: 'routeHint'; readonly hops: readonly RouteHintHop[] }
  | { readonly kind: 'features'; readonly features: FeatureBits }
  | ({ readonly kind: 'raw' } & RawField);

/** The typed content of an invoice: what `encodeInvoice` writes and `decodeInvoice` reads. */
export interface InvoiceFields {
  /** Currency prefix after `ln`. */
  readonly network: Network;
  /** Amount requested in millisatoshi; absent for "any amount". */
  readonly amountMsat?: bigint;
  /** Creation time, unix seconds (35 bits). */
  readonly timestamp: number;
  /** `p`: SHA256 of the payment preimage, 32 bytes. */
  readonly paymentHash: Uint8Array;
  /** `s`: the payment secret (payment_addr of BOLT 4), 32 bytes. Mandatory for writers and readers. */
  readonly paymentSecret: Uint8Array;
  /** `d`: description, UTF-8. Exactly one of description / descriptionHash. */
  readonly description?: string;
  /** `h`: SHA256 of a description kept elsewhere, 32 bytes. */
  readonly descriptionHash?: Uint8Array;
  /** `x`: seconds after `timestamp` until the invoice expires; absent means 3600. */
  readonly expirySeconds?: number;
  /** `c`: min_final_cltv_expiry_delta in blocks; absent means 18. */
  readonly minFinalCltvExpiryDelta?: number;
  /** `9`: feature bits; absent when no bit is set. */
  readonly features?: FeatureBits;
  /** `r` fields, most preferred first; each a route of one or more hops ending at the payee. */
  readonly routeHints?: readonly (readonly RouteHintHop[])[];
  /** `m`: payment_metadata to echo in the onion (BOLT 4), bytes. */
  readonly metadata?: Uint8Array;
  /** `f` fields of known versions, most preferred first. */
  readonly fallbacks?: readonly FallbackAddress[];
  /** `n`: the payee's 33-byte public key, written into the invoice; must be the signing key's. */
  readonly payeeNodeKey?: Uint8Array;
  /** Fields kept as words: unknown types and `f` fields of unknown versions. */
  readonly unknownFields?: readonly RawField[];
}

/** The 65-byte compact signature of BOLT 11 "Data Part": R || S and a recovery id. */
export interface InvoiceSignature {
  /** R || S, 64 bytes. */
  readonly compact: Uint8Array;
  /** Recovery id, 0..3. */
  readonly recoveryId: number;
}

/** An invoice read from a payment request whose signature checked out. */
export interface DecodedInvoice extends InvoiceFields {
  /** The payee: the `n` field if present (the signature verified against it), else the recovered key. */
  readonly payeePubkey: Uint8Array;
  readonly signature: InvoiceSignature;
  /** The payment request, in lower case. */
  readonly paymentRequest: string;
  /** Every tagged field in the order written, duplicates and skipped fields included. */
  readonly taggedFields: readonly TaggedField[];
}

/** The letter of each field type that carries an error (BOLT 11 "Tagged Fields"). */
export type FieldLetter = 'p' | 's' | 'd' | 'h' | 'm' | 'n' | 'x' | 'c' | 'f' | 'r' | '9';

/** Why a payment request was rejected; each case names the BOLT 11 rule it breaks. */
export type Bolt11Error =
  /** Longer than any sane invoice (see MAX_PAYMENT_REQUEST_LENGTH): refused before any work. */
  | { readonly kind: 'tooLong'; readonly length: number }
  /** A feature is set without the feature it depends on (BOLT 9, BOLT 11 reader: MUST NOT pay). */
  | { readonly kind: 'missingFeatureDependency'; readonly bit: number; readonly needs: number }
  /** Not Bech32 (BIP-0173): `reason` says which rule. */
  | {
      readonly kind: 'invalidBech32';
      readonly reason: 'invalidCharacter' | 'mixedCase' | 'noSeparator' | 'tooShort' | 'badChecksum';
    }
  /** The human-readable part does not start with `ln` and a currency prefix this reader understands. */
  | { readonly kind: 'unknownPrefix'; readonly prefix: string }
  /** The amount is not a positive decimal integer without leading zeros, followed by at most one multiplier, below 2^64 msat. */
  | { readonly kind: 'invalidAmount'; readonly amount: string }
  /** A `p` amount whose last decimal is not 0 (less than a millisatoshi). */
  | { readonly kind: 'subMillisatoshiAmount'; readonly amount: string }
  /** The data part is shorter than a timestamp and a signature. */
  | { readonly kind: 'tooShort' }
  /** A tagged field runs past the signature. */
  | { readonly kind: 'truncatedField'; readonly type: number }
  /** A `p`, `h`, `s` or `n` field whose data_length is not 52, 52, 52, 53. */
  | { readonly kind: 'badFieldLength'; readonly field: FieldLetter; readonly length: number }
  /** A `c`, `x` or `9` field beginning with a 0 word (non-minimal data_length). */
  | { readonly kind: 'nonMinimalField'; readonly field: FieldLetter }
  /** An `x` or `c` value above 2^53 - 1. */
  | { readonly kind: 'valueTooLarge'; readonly field: FieldLetter }
  /** A byte-valued field whose padding is longer than 4 bits or not zero. */
  | { readonly kind: 'invalidPadding'; readonly field: FieldLetter }
  /** A `d` field that is not valid UTF-8. */
  | { readonly kind: 'invalidDescription' }
  /** An `r` field that is not a whole number of 51-byte hops, or whose hop pubkey is not a point. */
  | { readonly kind: 'invalidRouteHint'; readonly reason: 'length' | 'pubkey' }
  /** An `f` field without a version, or of a known version whose program does not fit that version. */
  | { readonly kind: 'invalidFallback'; readonly version?: number }
  /** An `n` field that is not a valid compressed public key. */
  | { readonly kind: 'invalidPayeeNodeKey' }
  | { readonly kind: 'missingPaymentHash' }
  | { readonly kind: 'missingPaymentSecret' }
  /** Neither `d` nor `h`. */
  | { readonly kind: 'missingDescription' }
  /** Both `d` and `h`. */
  | { readonly kind: 'conflictingDescription' }
  /** An even (required) feature bit this reader does not know. */
  | { readonly kind: 'unknownRequiredFeature'; readonly bit: number }
  /** The recovery id is not 0..3 (the last signature byte). */
  | { readonly kind: 'invalidRecoveryId'; readonly recoveryId: number }
  /** Public-key recovery failed: R or S out of range, or no point for R. */
  | { readonly kind: 'unrecoverableSignature' }
  /** With an `n` field, S is above n/2 (not low-S). */
  | { readonly kind: 'highS' }
  /** With an `n` field, the signature does not verify against it. */
  | { readonly kind: 'invalidSignature' };
