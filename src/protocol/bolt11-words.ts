/**
 * 5-bit words, the unit of a BOLT 11 data part (Bech32, BIP-0173). Byte strings are regrouped into
 * words big-endian and padded with 0 bits ("MUST pad field data to a multiple of 5 bits, using 0s");
 * integers are written in the fewest words ("no leading 0 field-elements").
 */
import { bech32 } from '@scure/base';

/** Regroups bytes into 5-bit words, the last one padded with 0 bits. */
export function bytesToWords(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bech32.toWords(bytes));
}

/**
 * Regroups words into bytes in canonical form: fewer than 5 padding bits, all 0.
 * Returns undefined otherwise (a field written with excess or non-zero padding).
 */
export function wordsToBytes(words: Uint8Array): Uint8Array | undefined {
  return bech32.fromWordsUnsafe(Array.from(words)) ?? undefined;
}

/**
 * Regroups words into bytes, appending 0 bits up to a byte boundary: the signed message of BOLT 11
 * "Data Part" ("with 0 bits appended to pad to a byte boundary").
 */
export function wordsToBytesPadded(words: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((words.length * 5) / 8));
  let carry = 0;
  let bits = 0;
  let j = 0;
  for (const word of words) {
    carry = ((carry << 5) | word) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (carry >> bits) & 0xff;
    }
  }
  if (bits > 0) out[j] = (carry << (8 - bits)) & 0xff;
  return out;
}

/** Writes a non-negative integer in the fewest big-endian words (0 is no word at all). */
export function uintToWords(value: bigint): Uint8Array {
  const words: number[] = [];
  for (let rest = value; rest > 0n; rest >>= 5n) words.unshift(Number(rest & 31n));
  return Uint8Array.from(words);
}

/** Writes a non-negative integer in exactly `count` big-endian words (the 35-bit timestamp). */
export function uintToFixedWords(value: bigint, count: number): Uint8Array {
  const words = new Uint8Array(count);
  let rest = value;
  for (let i = count - 1; i >= 0; i--) {
    words[i] = Number(rest & 31n);
    rest >>= 5n;
  }
  return words;
}

/** Reads big-endian words as an unsigned integer. */
export function wordsToUint(words: Uint8Array): bigint {
  let value = 0n;
  for (const word of words) value = (value << 5n) | BigInt(word);
  return value;
}
