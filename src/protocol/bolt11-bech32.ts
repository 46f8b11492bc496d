/**
 * Bech32 (BIP-0173) for BOLT 11 ("Encoding Overview"): without the 90-character limit, one case
 * throughout, and a reason for each rejection. Checksums come from @scure/base.
 */
import { bech32 } from '@scure/base';
import { err, ok, type Result } from './result.js';
import type { Bolt11Error } from './bolt11-types.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const CHECKSUM_LENGTH = 6;

/** A Bech32 string split into its lower-case human-readable part and its data words (checksum removed). */
export interface Bech32Parts {
  readonly hrp: string;
  readonly words: Uint8Array;
}

/**
 * Reads a Bech32 string of any length (BIP-0173, "also without the character limit"): characters
 * outside US-ASCII 33..126 or the data alphabet, mixed case, no separator or an empty
 * human-readable part, fewer than 6 data characters, and a wrong checksum each fail.
 */
export function decodeBech32(text: string): Result<Bech32Parts, Bolt11Error> {
  if (typeof text !== 'string' || !/^[\x21-\x7e]*$/.test(text)) return err({ kind: 'invalidBech32', reason: 'invalidCharacter' });
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) return err({ kind: 'invalidBech32', reason: 'mixedCase' });
  const separator = lower.lastIndexOf('1');
  if (separator < 1) return err({ kind: 'invalidBech32', reason: 'noSeparator' });
  const data = lower.slice(separator + 1);
  for (const char of data) if (!CHARSET.includes(char)) return err({ kind: 'invalidBech32', reason: 'invalidCharacter' });
  if (data.length < CHECKSUM_LENGTH) return err({ kind: 'invalidBech32', reason: 'tooShort' });
  const decoded = bech32.decodeUnsafe(lower, false);
  if (decoded === undefined) return err({ kind: 'invalidBech32', reason: 'badChecksum' });
  return ok({ hrp: decoded.prefix, words: Uint8Array.from(decoded.words) });
}

/** Writes a lower-case Bech32 string with no length limit. */
export function encodeBech32(hrp: string, words: Uint8Array): string {
  return bech32.encode(hrp, Array.from(words), false);
}
