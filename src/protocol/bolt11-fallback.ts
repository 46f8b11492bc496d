/**
 * The `f` field of BOLT 11 ("Tagged Fields"): an on-chain fallback address, a 5-bit version then the
 * program. Versions 0..16 are segwit witness programs (BIP-141), 17 a P2PKH and 18 a P2SH hash.
 * Readers "MUST skip over `f` fields that use an unknown `version`": those are kept as raw fields.
 */
import { err, ok, type Result } from './result.js';
import type { Bolt11Error, FallbackAddress, RawField } from './bolt11-types.js';
import { bytesToWords, wordsToBytes } from './bolt11-words.js';

/** The field type of `f`. */
export const FALLBACK_TYPE = 9;

const P2PKH_VERSION = 17;
const P2SH_VERSION = 18;

/** Writes a fallback address as words. Throws RangeError for a version or program length BIP-141 forbids. */
export function encodeFallback(address: FallbackAddress): Uint8Array {
  const version =
    address.kind === 'p2pkh' ? P2PKH_VERSION : address.kind === 'p2sh' ? P2SH_VERSION : address.version;
  const program = address.kind === 'witness' ? address.program : address.hash;
  if ((address.kind === 'witness' && !(version >= 0 && version <= 16)) || !fits(version, program.length)) {
    throw new RangeError(`fallback version ${version} cannot hold a ${program.length}-byte program`);
  }
  const words = bytesToWords(program);
  const out = new Uint8Array(1 + words.length);
  out[0] = version;
  out.set(words, 1);
  return out;
}

/**
 * Reads an `f` field: a known version gives an address (its program in canonical padding and of a
 * length the version allows, else `invalidFallback`); an unknown version (19..31) gives a raw field.
 */
export function decodeFallback(
  words: Uint8Array,
): Result<{ kind: 'address'; address: FallbackAddress } | { kind: 'raw'; field: RawField }, Bolt11Error> {
  const version = words[0];
  if (version === undefined) return err({ kind: 'invalidFallback' });
  if (version > P2SH_VERSION) return ok({ kind: 'raw', field: { type: FALLBACK_TYPE, words } });
  const program = wordsToBytes(words.subarray(1));
  if (program === undefined || !fits(version, program.length)) return err({ kind: 'invalidFallback', version });
  const address: FallbackAddress =
    version === P2PKH_VERSION
      ? { kind: 'p2pkh', hash: program }
      : version === P2SH_VERSION
        ? { kind: 'p2sh', hash: program }
        : { kind: 'witness', version, program };
  return ok({ kind: 'address', address });
}

function fits(version: number, length: number): boolean {
  if (version === P2PKH_VERSION || version === P2SH_VERSION) return length === 20;
  if (version === 0) return length === 20 || length === 32;
  return Number.isInteger(version) && version >= 1 && version <= 16 && length >= 2 && length <= 40;
}
