/**
 * Converts between the ordered tagged fields of a BOLT 11 data part and the typed `InvoiceFields`,
 * applying the "Tagged Fields" requirements: exactly one `p`, `s`, and one of `d` / `h` for
 * writers; readers use the first of each field, need `p` and `s`, and need exactly one of `d`, `h`.
 */
import { err, ok, type Result } from './result.js';
import { FALLBACK_TYPE } from './bolt11-fallback.js';
import { FIELD_TYPE } from './bolt11-fields.js';
import type {
  Bolt11Error,
  FallbackAddress,
  FeatureBits,
  InvoiceFields,
  RawField,
  RouteHintHop,
  TaggedField,
} from './bolt11-types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The invoice content carried by the tagged fields, everything but network, amount and timestamp. */
export type TaggedContent = Omit<InvoiceFields, 'network' | 'amountMsat' | 'timestamp'>;

/**
 * The tagged fields `encodeInvoice` writes, in this order: s, p, d, h, m, n, x, c, each f, each r,
 * 9 (omitted when no bit is set, as BOLT 11 requires), then the unknown fields.
 * Throws TypeError without a payment secret or without exactly one of description / descriptionHash,
 * RangeError for an unknown field whose type BOLT 11 defines (other than `f` of version 19..31).
 */
export function taggedFieldsOf(fields: InvoiceFields): TaggedField[] {
  if (fields.paymentSecret === undefined) throw new TypeError('paymentSecret is required (BOLT 11: exactly one `s` field)');
  if ((fields.description === undefined) === (fields.descriptionHash === undefined)) {
    throw new TypeError('exactly one of description / descriptionHash is required (BOLT 11: one `d` or one `h`)');
  }
  const out: TaggedField[] = [
    { kind: 'paymentSecret', value: fields.paymentSecret },
    { kind: 'paymentHash', value: fields.paymentHash },
  ];
  if (fields.description !== undefined) out.push({ kind: 'description', value: fields.description });
  if (fields.descriptionHash !== undefined) out.push({ kind: 'descriptionHash', value: fields.descriptionHash });
  if (fields.metadata !== undefined) out.push({ kind: 'metadata', value: fields.metadata });
  if (fields.payeeNodeKey !== undefined) out.push({ kind: 'payeeNodeKey', value: fields.payeeNodeKey });
  if (fields.expirySeconds !== undefined) out.push({ kind: 'expiry', seconds: fields.expirySeconds });
  if (fields.minFinalCltvExpiryDelta !== undefined) {
    out.push({ kind: 'minFinalCltvExpiryDelta', blocks: fields.minFinalCltvExpiryDelta });
  }
  for (const address of fields.fallbacks ?? []) out.push({ kind: 'fallback', address });
  for (const hops of fields.routeHints ?? []) out.push({ kind: 'routeHint', hops });
  if (fields.features !== undefined && hasAnyBit(fields.features)) out.push({ kind: 'features', features: fields.features });
  for (const raw of fields.unknownFields ?? []) {
    if (KNOWN_TYPES.has(raw.type) && !(raw.type === FALLBACK_TYPE && (raw.words[0] ?? 0) >= 19)) {
      throw new RangeError(`unknown field of type ${raw.type}: BOLT 11 defines that type; use its property`);
    }
    out.push({ kind: 'raw', type: raw.type, words: raw.words });
  }
  return out;
}

/**
 * The typed content of decoded tagged fields: the first `p`, `s`, `d`, `h`, `m`, `n`, `x`, `c`, `9`,
 * every `r` and `f` in order, every raw field. Fails without `p` or `s`, or unless exactly one of
 * `d` and `h` is present (BOLT 11 "Tagged Fields", reader requirements).
 */
export function contentOf(tagged: readonly TaggedField[]): Result<TaggedContent, Bolt11Error> {
  const first = <K extends TaggedField['kind']>(kind: K) =>
    tagged.find((f): f is Extract<TaggedField, { kind: K }> => f.kind === kind);
  const paymentHash = first('paymentHash');
  if (paymentHash === undefined) return err({ kind: 'missingPaymentHash' });
  const paymentSecret = first('paymentSecret');
  if (paymentSecret === undefined) return err({ kind: 'missingPaymentSecret' });
  const description = first('description');
  const descriptionHash = first('descriptionHash');
  if (description === undefined && descriptionHash === undefined) return err({ kind: 'missingDescription' });
  if (description !== undefined && descriptionHash !== undefined) return err({ kind: 'conflictingDescription' });

  const content: Mutable<TaggedContent> = { paymentHash: paymentHash.value, paymentSecret: paymentSecret.value };
  if (description !== undefined) content.description = description.value;
  if (descriptionHash !== undefined) content.descriptionHash = descriptionHash.value;
  const metadata = first('metadata');
  if (metadata !== undefined) content.metadata = metadata.value;
  const payee = first('payeeNodeKey');
  if (payee !== undefined) content.payeeNodeKey = payee.value;
  const expiry = first('expiry');
  if (expiry !== undefined) content.expirySeconds = expiry.seconds;
  const cltv = first('minFinalCltvExpiryDelta');
  if (cltv !== undefined) content.minFinalCltvExpiryDelta = cltv.blocks;
  const features = first('features');
  if (features !== undefined) content.features = features.features;

  const fallbacks: FallbackAddress[] = [];
  const routeHints: (readonly RouteHintHop[])[] = [];
  const unknownFields: RawField[] = [];
  for (const field of tagged) {
    if (field.kind === 'fallback') fallbacks.push(field.address);
    else if (field.kind === 'routeHint') routeHints.push(field.hops);
    else if (field.kind === 'raw') unknownFields.push({ type: field.type, words: field.words });
  }
  if (fallbacks.length > 0) content.fallbacks = fallbacks;
  if (routeHints.length > 0) content.routeHints = routeHints;
  if (unknownFields.length > 0) content.unknownFields = unknownFields;
  return ok(content);
}

const KNOWN_TYPES = new Set(Object.values(FIELD_TYPE));

function hasAnyBit(features: FeatureBits): boolean {
  return Object.values(features).some((v) => v !== undefined && !(Array.isArray(v) && v.length === 0));
}
