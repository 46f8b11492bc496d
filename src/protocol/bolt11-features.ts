/**
 * The `9` field of BOLT 11 ("Feature Bits"): a big-endian bit field in 5-bit words, bit 0 the least
 * significant. Even bits are required, odd bits optional ("it's ok to be odd", BOLT 1 / BOLT 9).
 */
import { err, ok, type Result } from './result.js';
import type { Bolt11Error, FeatureBits, FeatureSupport } from './bolt11-types.js';

type TypedFeature = Exclude<keyof FeatureBits, 'otherBits'>;

/** The even (required) bit of each typed feature (BOLT 9 table, context `9`). */
export const FEATURE_BIT: { readonly [K in TypedFeature]: number } = {
  varOnionOptin: 8,
  paymentSecret: 14,
  basicMpp: 16,
  paymentMetadata: 48,
};

const TYPED = Object.keys(FEATURE_BIT) as TypedFeature[];
const TYPED_BITS = new Set(TYPED.flatMap((name) => [FEATURE_BIT[name], FEATURE_BIT[name] + 1]));

/** The largest bit a `9` field can hold: 1023 words of 5 bits. */
export const MAX_FEATURE_BIT = 1023 * 5 - 1;

/**
 * The set bits of a feature vector, ascending. Throws RangeError for what BOLT 9 forbids an origin
 * node to write or what this codec's own decoder would reject: a bit out of range, an even bit it
 * does not know, a typed feature's bit in `otherBits` (except the odd twin of a required one), and
 * basic_mpp without payment_secret ("MUST set all transitive feature dependencies").
 */
export function featureBitsToList(features: FeatureBits): number[] {
  const bits = new Set<number>();
  for (const name of TYPED) {
    const support: FeatureSupport | undefined = features[name];
    if (support !== undefined) bits.add(FEATURE_BIT[name] + (support === 'required' ? 0 : 1));
  }
  if (features.basicMpp !== undefined && features.paymentSecret === undefined) {
    throw new RangeError('basicMpp needs paymentSecret (BOLT 9 dependency)');
  }
  for (const bit of features.otherBits ?? []) {
    if (!Number.isInteger(bit) || bit < 0 || bit > MAX_FEATURE_BIT) throw new RangeError(`feature bit out of range: ${bit}`);
    if (bit % 2 === 0) throw new RangeError(`even feature bit ${bit} is unknown to this codec; readers would fail the payment`);
    if (TYPED_BITS.has(bit) && !bits.has(bit - 1)) {
      throw new RangeError(`feature bit ${bit} belongs to a typed feature; set that property instead`);
    }
    bits.add(bit);
  }
  return [...bits].sort((a, b) => a - b);
}

/** Writes set bits as the fewest big-endian words (no leading 0 word; no word at all for none). */
export function featureListToWords(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return new Uint8Array(0);
  const top = Math.max(...bits);
  const length = Math.floor(top / 5) + 1;
  const words = new Uint8Array(length);
  for (const bit of bits) {
    const index = length - 1 - Math.floor(bit / 5);
    words[index] = (words[index] as number) | (1 << bit % 5);
  }
  return words;
}

/**
 * Reads a `9` field (BOLT 11 "Tagged Fields" and "Feature Bits", reader requirements): a leading 0
 * word is non-minimal (treated as invalid), an unknown even bit fails, unknown odd bits are kept in
 * `otherBits` and otherwise ignored. When both bits of a typed feature are set it is required.
 */
export function decodeFeatures(words: Uint8Array): Result<FeatureBits, Bolt11Error> {
  if (words.length > 0 && words[0] === 0) return err({ kind: 'nonMinimalField', field: '9' });
  const set = new Set<number>();
  for (let i = 0; i < words.length; i++) {
    const word = words[words.length - 1 - i] as number;
    for (let b = 0; b < 5; b++) if ((word >> b) & 1) set.add(i * 5 + b);
  }
  const features: { -readonly [K in keyof FeatureBits]: FeatureBits[K] } = {};
  for (const name of TYPED) {
    const even = FEATURE_BIT[name];
    if (set.delete(even)) features[name] = 'required';
    else if (set.delete(even + 1)) features[name] = 'optional';
  }
  const other = [...set].sort((a, b) => a - b);
  const unknownEven = other.find((bit) => bit % 2 === 0);
  if (unknownEven !== undefined) return err({ kind: 'unknownRequiredFeature', bit: unknownEven });
  if (other.length > 0) features.otherBits = other;
  if (features.basicMpp !== undefined && features.paymentSecret === undefined) {
    return err({ kind: 'missingFeatureDependency', bit: FEATURE_BIT.basicMpp, needs: FEATURE_BIT.paymentSecret });
  }
  return ok(features);
}
