/**
 * Tagged fields of a BOLT 11 data part ("Tagged Fields"): `type` (5 bits), `data_length` (10 bits,
 * big-endian, in words) and `data_length` 5-bit words, one codec per field type.
 */
import { utf8ToBytes } from './bytes.js';
import { err, ok, type Result } from './result.js';
import { decodeFallback, encodeFallback } from './bolt11-fallback.js';
import { decodeFeatures, featureBitsToList, featureListToWords } from './bolt11-features.js';
import { decodeRouteHint, encodeRouteHint } from './bolt11-route-hint.js';
import { isCompressedPubkey } from './bolt11-signature.js';
import type { Bolt11Error, FieldLetter, TaggedField } from './bolt11-types.js';
import { bytesToWords, uintToWords, wordsToBytes, wordsToUint } from './bolt11-words.js';

/** The 5-bit type of each field BOLT 11 defines, by its bech32 letter. */
export const FIELD_TYPE: { readonly [L in FieldLetter]: number } = {
  p: 1, s: 16, d: 13, m: 27, n: 19, h: 23, x: 6, c: 24, f: 9, r: 3, '9': 5,
};

/** The largest `data_length`: 10 bits. */
export const MAX_FIELD_WORDS = 1023;

/** One field cut out of the data part, not yet interpreted. */
export interface FieldSlice {
  readonly type: number;
  readonly words: Uint8Array;
}

const LETTER_OF = new Map<number, FieldLetter>(
  Object.entries(FIELD_TYPE).map(([letter, type]) => [type, letter as FieldLetter]),
);
const HASH_WORDS = 52; // 256 bits
const PUBKEY_WORDS = 53; // 264 bits
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Cuts the words between the timestamp and the signature into fields; a field running past the end is `truncatedField`. */
export function splitTaggedFields(words: Uint8Array): Result<FieldSlice[], Bolt11Error> {
  const fields: FieldSlice[] = [];
  let at = 0;
  while (at < words.length) {
    const type = words[at] as number;
    if (at + 3 > words.length) return err({ kind: 'truncatedField', type });
    const length = ((words[at + 1] as number) << 5) | (words[at + 2] as number);
    if (at + 3 + length > words.length) return err({ kind: 'truncatedField', type });
    fields.push({ type, words: words.slice(at + 3, at + 3 + length) });
    at += 3 + length;
  }
  return ok(fields);
}

/**
 * Interprets one field (BOLT 11 "Tagged Fields", reader requirements): `p`, `h`, `s`, `n` of the
 * wrong length fail; `x`, `c`, `9` with a leading 0 word are treated as invalid; `f` of an unknown
 * version and unknown types are kept raw; byte-valued data must be padded with fewer than 5 zero bits.
 */
export function decodeTaggedField(slice: FieldSlice): Result<TaggedField, Bolt11Error> {
  const { type, words } = slice;
  const letter = LETTER_OF.get(type);
  switch (letter) {
    case 'p':
    case 's':
    case 'h': {
      const value = fixedBytes(letter, words, HASH_WORDS);
      if (!value.ok) return value;
      const kind = letter === 'p' ? 'paymentHash' : letter === 's' ? 'paymentSecret' : 'descriptionHash';
      return ok({ kind, value: value.value });
    }
    case 'n': {
      const value = fixedBytes(letter, words, PUBKEY_WORDS);
      if (!value.ok) return value;
      if (!isCompressedPubkey(value.value)) return err({ kind: 'invalidPayeeNodeKey' });
      return ok({ kind: 'payeeNodeKey', value: value.value });
    }
    case 'd': {
      const bytes = paddedBytes(letter, words);
      if (!bytes.ok) return bytes;
      try {
        return ok({ kind: 'description', value: utf8.decode(bytes.value) });
      } catch {
        return err({ kind: 'invalidDescription' });
      }
    }
    case 'm': {
      const bytes = paddedBytes(letter, words);
      return bytes.ok ? ok({ kind: 'metadata', value: bytes.value }) : bytes;
    }
    case 'x':
    case 'c': {
      const value = minimalUint(letter, words);
      if (!value.ok) return value;
      return ok(letter === 'x' ? { kind: 'expiry', seconds: value.value } : { kind: 'minFinalCltvExpiryDelta', blocks: value.value });
    }
    case 'f': {
      const read = decodeFallback(words);
      if (!read.ok) return read;
      return ok(read.value.kind === 'address' ? { kind: 'fallback', address: read.value.address } : { kind: 'raw', ...read.value.field });
    }
    case 'r': {
      const bytes = paddedBytes(letter, words);
      if (!bytes.ok) return bytes;
      const hops = decodeRouteHint(bytes.value);
      return hops.ok ? ok({ kind: 'routeHint', hops: hops.value }) : hops;
    }
    case '9': {
      const features = decodeFeatures(words);
      return features.ok ? ok({ kind: 'features', features: features.value }) : features;
    }
    case undefined:
      return ok({ kind: 'raw', type, words });
  }
}

/**
 * Writes one field: type, data_length, data. Throws RangeError for a value the field cannot hold
 * (hash not 32 bytes, key not a compressed point, integer not a safe non-negative integer, data over
 * 1023 words, a description that is not well-formed UTF-16) or a raw type/word outside 0..31.
 */
export function encodeTaggedField(field: TaggedField): Uint8Array {
  const [type, data] = fieldData(field);
  if (data.length > MAX_FIELD_WORDS) throw new RangeError(`${field.kind} field too long: ${data.length} words`);
  const out = new Uint8Array(3 + data.length);
  out[0] = type;
  out[1] = data.length >> 5;
  out[2] = data.length & 31;
  out.set(data, 3);
  return out;
}

function fieldData(field: TaggedField): [number, Uint8Array] {
  switch (field.kind) {
    case 'paymentHash':
      return [FIELD_TYPE.p, bytesToWords(exactLength(field.value, 32, 'paymentHash'))];
    case 'paymentSecret':
      return [FIELD_TYPE.s, bytesToWords(exactLength(field.value, 32, 'paymentSecret'))];
    case 'descriptionHash':
      return [FIELD_TYPE.h, bytesToWords(exactLength(field.value, 32, 'descriptionHash'))];
    case 'payeeNodeKey':
      if (!isCompressedPubkey(field.value)) throw new RangeError('payeeNodeKey is not a compressed public key');
      return [FIELD_TYPE.n, bytesToWords(field.value)];
    case 'description':
      if (LONE_SURROGATE.test(field.value)) throw new RangeError('description is not well-formed UTF-16');
      return [FIELD_TYPE.d, bytesToWords(utf8ToBytes(field.value))];
    case 'metadata':
      return [FIELD_TYPE.m, bytesToWords(field.value)];
    case 'expiry':
      return [FIELD_TYPE.x, uintToWords(safeUint(field.seconds, 'expiry seconds'))];
    case 'minFinalCltvExpiryDelta':
      return [FIELD_TYPE.c, uintToWords(safeUint(field.blocks, 'minFinalCltvExpiryDelta'))];
    case 'fallback':
      return [FIELD_TYPE.f, encodeFallback(field.address)];
    case 'routeHint':
      return [FIELD_TYPE.r, bytesToWords(encodeRouteHint(field.hops))];
    case 'features':
      return [FIELD_TYPE['9'], featureListToWords(featureBitsToList(field.features))];
    case 'raw':
      if (!Number.isInteger(field.type) || field.type < 0 || field.type > 31) throw new RangeError(`field type out of range: ${field.type}`);
      if (field.words.some((w) => w > 31)) throw new RangeError('raw field word out of range 0..31');
      return [field.type, field.words];
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fixedBytes(field: FieldLetter, words: Uint8Array, length: number): Result<Uint8Array, Bolt11Error> {
  if (words.length !== length) return err({ kind: 'badFieldLength', field, length: words.length });
  return paddedBytes(field, words);
}

function paddedBytes(field: FieldLetter, words: Uint8Array): Result<Uint8Array, Bolt11Error> {
  const bytes = wordsToBytes(words);
  return bytes === undefined ? err({ kind: 'invalidPadding', field }) : ok(bytes);
}

function minimalUint(field: FieldLetter, words: Uint8Array): Result<number, Bolt11Error> {
  if (words.length > 0 && words[0] === 0) return err({ kind: 'nonMinimalField', field });
  const value = wordsToUint(words);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return err({ kind: 'valueTooLarge', field });
  return ok(Number(value));
}

function exactLength(bytes: Uint8Array, length: number, name: string): Uint8Array {
  if (bytes.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${bytes.length}`);
  return bytes;
}

function safeUint(value: number, name: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer: ${value}`);
  return BigInt(value);
}
