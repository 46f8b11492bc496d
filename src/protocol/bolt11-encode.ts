/**
 * Writes and signs BOLT 11 payment requests: human-readable part, 35-bit timestamp, tagged fields,
 * then the 520-bit recoverable signature (BOLT 11 "Data Part"), all in Bech32 without length limit.
 */
import { concatBytes, equalBytes } from './bytes.js';
import { formatHumanReadablePart } from './bolt11-amount.js';
import { encodeBech32 } from './bolt11-bech32.js';
import { encodeTaggedField } from './bolt11-fields.js';
import { publicKeyOf, signHash, signingHash } from './bolt11-signature.js';
import { taggedFieldsOf } from './bolt11-typed.js';
import type { InvoiceFields, Network, TaggedField } from './bolt11-types.js';
import { bytesToWords, uintToFixedWords } from './bolt11-words.js';

/** The largest timestamp: 35 bits of unix seconds. */
export const MAX_TIMESTAMP = 2 ** 35 - 1;

/** An invoice before signing, its tagged fields in the order to write them. */
export interface UnsignedInvoice {
  readonly network: Network;
  /** Millisatoshi; absent for "any amount". */
  readonly amountMsat?: bigint;
  /** Unix seconds. */
  readonly timestamp: number;
  readonly taggedFields: readonly TaggedField[];
}

/**
 * Encodes and signs an invoice with the payee's 32-byte private key, fields in the order of
 * `taggedFieldsOf` (BOLT 11 writer requirements). Deterministic: the same fields and key give the
 * same string (RFC6979, low-S). Returns the payment request in lower case.
 *
 * Throws TypeError for an invalid private key, a missing payment secret, or not exactly one of
 * description / descriptionHash; RangeError for a value out of range (amount, timestamp, lengths,
 * feature bits, route hints) or a `payeeNodeKey` that is not the signing key's.
 */
export function encodeInvoice(fields: InvoiceFields, privateKey: Uint8Array): string {
  return signInvoice(
    { network: fields.network, amountMsat: fields.amountMsat, timestamp: fields.timestamp, taggedFields: taggedFieldsOf(fields) },
    privateKey,
  );
}

/**
 * Encodes and signs tagged fields exactly as given, in their order, duplicates and raw fields
 * included: re-encodes a decoded invoice (`DecodedInvoice.taggedFields`) byte for byte, provided its
 * amount was written in the shortest form and its signature low-S (as this signer writes them).
 * No check of which fields are present; use `encodeInvoice` to make invoices. Throws as
 * `encodeInvoice` does.
 */
export function signInvoice(invoice: UnsignedInvoice, privateKey: Uint8Array): string {
  for (const field of invoice.taggedFields) {
    // An EC multiplication: only paid by invoices that carry an `n` field.
    if (field.kind === 'payeeNodeKey' && !equalBytes(field.value, publicKeyOf(privateKey))) {
      throw new RangeError('payeeNodeKey is not the public key of the signing key');
    }
  }
  const { timestamp } = invoice;
  if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP) {
    throw new RangeError(`timestamp must be an integer in 0..2^35-1: ${timestamp}`);
  }
  const hrp = formatHumanReadablePart(invoice.network, invoice.amountMsat);
  const data = concatBytes(uintToFixedWords(BigInt(timestamp), 7), ...invoice.taggedFields.map(encodeTaggedField));
  const { compact, recoveryId } = signHash(signingHash(hrp, data), privateKey);
  const signature = bytesToWords(concatBytes(compact, Uint8Array.of(recoveryId)));
  return encodeBech32(hrp, concatBytes(data, signature));
}
