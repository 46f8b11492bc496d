/**
 * Reads BOLT 11 payment requests and checks them as a reader must before paying: Bech32 and
 * human-readable part, timestamp, every tagged field, the mandatory fields, then the signature.
 */
import { err, ok, type Result } from './result.js';
import { parseHumanReadablePart } from './bolt11-amount.js';
import { decodeBech32 } from './bolt11-bech32.js';
import { decodeTaggedField, splitTaggedFields } from './bolt11-fields.js';
import { checkSignature, signingHash } from './bolt11-signature.js';
import { contentOf } from './bolt11-typed.js';
import type { Bolt11Error, DecodedInvoice, TaggedField } from './bolt11-types.js';
import { wordsToBytes, wordsToUint } from './bolt11-words.js';

/** Words in the timestamp (35 bits). */
const TIMESTAMP_WORDS = 7;
/** Words in the signature (520 bits: R || S || recovery id). */
const SIGNATURE_WORDS = 104;

/**
 * The longest payment request read, characters: LND's limit (7089). BOLT 11 sets none, but decoding
 * costs time per character, and a request this long already fills every field a payer can use.
 */
export const MAX_PAYMENT_REQUEST_LENGTH = 7089;

/**
 * Decodes a payment request (upper or lower case, no `lightning:` prefix) and verifies its
 * signature: against the `n` field if there is one (low-S required), else by public-key recovery.
 * Implements the reader requirements of BOLT 11 "Encoding Overview", "Human-Readable Part",
 * "Data Part", "Tagged Fields" and "Feature Bits". Never throws: every failure is a `Bolt11Error`.
 * Known even feature bits are 8, 14, 16 and 48; any other even bit fails with `unknownRequiredFeature`.
 */
export function decodeInvoice(paymentRequest: string): Result<DecodedInvoice, Bolt11Error> {
  if (paymentRequest.length > MAX_PAYMENT_REQUEST_LENGTH) return err({ kind: 'tooLong', length: paymentRequest.length });
  const bech = decodeBech32(paymentRequest);
  if (!bech.ok) return bech;
  const { hrp, words } = bech.value;
  const prefix = parseHumanReadablePart(hrp);
  if (!prefix.ok) return prefix;
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) return err({ kind: 'tooShort' });

  const signed = words.subarray(0, words.length - SIGNATURE_WORDS);
  const slices = splitTaggedFields(signed.subarray(TIMESTAMP_WORDS));
  if (!slices.ok) return slices;
  const taggedFields: TaggedField[] = [];
  for (const slice of slices.value) {
    const field = decodeTaggedField(slice);
    if (!field.ok) return field;
    taggedFields.push(field.value);
  }
  const content = contentOf(taggedFields);
  if (!content.ok) return content;

  // 104 words are exactly 65 bytes: no padding, the conversion cannot fail.
  const signatureBytes = wordsToBytes(words.subarray(words.length - SIGNATURE_WORDS)) as Uint8Array;
  const signature = { compact: signatureBytes.slice(0, 64), recoveryId: signatureBytes[64] as number };
  const payee = checkSignature(signingHash(hrp, signed), signature, content.value.payeeNodeKey);
  if (!payee.ok) return payee;

  return ok({
    network: prefix.value.network,
    ...(prefix.value.amountMsat === undefined ? {} : { amountMsat: prefix.value.amountMsat }),
    timestamp: Number(wordsToUint(signed.subarray(0, TIMESTAMP_WORDS))),
    ...content.value,
    payeePubkey: payee.value,
    signature,
    paymentRequest: paymentRequest.toLowerCase(),
    taggedFields,
  });
}
