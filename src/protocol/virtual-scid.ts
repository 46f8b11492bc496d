/**
 * The virtual channel id of a cluster node: the `short_channel_id` that lnmux's invoices put in the
 * route hint "cluster node -> virtual node". The channel does not exist; LND hands the HTLC for it to
 * the interceptor, and lnmux recognises it by this id.
 *
 * Derivation (docs/protocol.md "Virtual channel ids"): the last 8 bytes of the node's
 * 33-byte compressed public key, read as a big-endian u64, with the top bit (2^63) set.
 *
 * Why it cannot collide with a real channel: BOLT 7 packs a real short_channel_id as
 * block height (3 bytes) | transaction index (3 bytes) | output index (2 bytes). With the top bit set,
 * the "block height" is at least 0x800000 = 8,388,608, which the Bitcoin chain reaches in roughly
 * 160 years at one block per 10 minutes. It is also deterministic (every lnmux instance and every
 * restart agrees) and distinct per node with overwhelming probability (63 bits of a public key).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { readU64 } from './bytes.js';

/** Length of a compressed secp256k1 public key (SEC1: 0x02/0x03 prefix + 32-byte x). */
export const COMPRESSED_PUBKEY_LENGTH = 33;

const TOP_BIT = 1n << 63n;

/**
 * Throws unless `value` is a 33-byte compressed secp256k1 public key on the curve.
 * TypeError for a value that is not a Uint8Array, RangeError for a wrong length, prefix or point.
 * The messages name `argument` and never print the value.
 */
function assertCompressedPubkey(value: unknown, argument: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${argument}: expected a Uint8Array`);
  if (value.length !== COMPRESSED_PUBKEY_LENGTH) {
    throw new RangeError(`${argument}: expected ${COMPRESSED_PUBKEY_LENGTH} bytes, got ${value.length}`);
  }
  if (value[0] !== 0x02 && value[0] !== 0x03) {
    throw new RangeError(`${argument}: expected a compressed public key (prefix 0x02 or 0x03)`);
  }
  if (!secp256k1.utils.isValidPublicKey(value, true)) {
    throw new RangeError(`${argument}: not a point on secp256k1`);
  }
}

/**
 * The virtual channel id (u64) of the cluster node `nodePubkey` (33-byte compressed secp256k1 key):
 * its last 8 bytes as a big-endian u64, OR 2^63. Always >= 2^63.
 *
 * @throws TypeError if `nodePubkey` is not a Uint8Array; RangeError if it is not a 33-byte compressed
 *   public key on secp256k1.
 */
export function virtualChannelId(nodePubkey: Uint8Array): bigint {
  assertCompressedPubkey(nodePubkey, 'nodePubkey');
  return readU64(nodePubkey, COMPRESSED_PUBKEY_LENGTH - 8) | TOP_BIT;
}

/**
 * Formats a short_channel_id (u64) in BOLT 7's human-readable form "BLOCKxTXxOUTPUT" (block height:
 * top 3 bytes, transaction index: next 3 bytes, output index: last 2 bytes), e.g. for logs.
 * A virtual channel id formats with a block height >= 8388608.
 *
 * @throws TypeError if `scid` is not a bigint; RangeError outside 0..2^64-1.
 */
export function formatShortChannelId(scid: bigint): string {
  if (typeof scid !== 'bigint') throw new TypeError('scid: expected a bigint');
  if (scid < 0n || scid > 0xffff_ffff_ffff_ffffn) throw new RangeError(`scid: u64 out of range: ${scid}`);
  const block = scid >> 40n;
  const tx = (scid >> 16n) & 0xff_ffffn;
  const output = scid & 0xffffn;
  return `${block}x${tx}x${output}`;
}
