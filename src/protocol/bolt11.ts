/**
 * BOLT 11 invoices: the public surface of the bolt11-*.ts modules.
 *
 * `encodeInvoice(fields, privateKey)` writes and signs; `decodeInvoice(paymentRequest)` reads and
 * verifies, returning a Result. `signInvoice` re-encodes ordered tagged fields byte for byte.
 */
export type {
  Bolt11Error,
  DecodedInvoice,
  FallbackAddress,
  FeatureBits,
  FeatureSupport,
  FieldLetter,
  InvoiceFields,
  InvoiceSignature,
  Network,
  RawField,
  RouteHintHop,
  TaggedField,
} from './bolt11-types.js';
export { encodeInvoice, signInvoice, MAX_TIMESTAMP, type UnsignedInvoice } from './bolt11-encode.js';
export { decodeInvoice } from './bolt11-decode.js';
export { FEATURE_BIT } from './bolt11-features.js';
export { formatAmount, parseAmount } from './bolt11-amount.js';

/** Expiry when an invoice has no `x` field, seconds (BOLT 11 "Tagged Fields"). */
export const DEFAULT_EXPIRY_SECONDS = 3600;
/** min_final_cltv_expiry_delta when an invoice has no `c` field, blocks (BOLT 11 "Tagged Fields"). */
export const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA = 18;
