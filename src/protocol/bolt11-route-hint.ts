/**
 * The `r` field of BOLT 11 ("Tagged Fields"): one or more hops of 51 bytes each, `pubkey` (33),
 * `short_channel_id` (8), `fee_base_msat` (4), `fee_proportional_millionths` (4),
 * `cltv_expiry_delta` (2), all big-endian.
 */
import { readU64, u64ToBytes } from './bytes.js';
import { err, ok, type Result } from './result.js';
import { isCompressedPubkey } from './bolt11-signature.js';
import type { Bolt11Error, RouteHintHop } from './bolt11-types.js';

/** Bytes per hop. */
export const ROUTE_HINT_HOP_LENGTH = 51;

/** Hops that fit in one field: its data is at most 1023 words, 639 bytes. */
export const MAX_ROUTE_HINT_HOPS = Math.floor(639 / ROUTE_HINT_HOP_LENGTH);

/**
 * Writes the hops of one `r` field. Throws RangeError for no hop or more than 12, a pubkey that is
 * not 33 bytes starting with 02 or 03, a short_channel_id outside u64, fees outside u32, a delta
 * outside u16. Whether each pubkey is on the curve is not checked here (a point decompression,
 * about a third of the cost of the signature): check node keys once, where they are configured.
 */
export function encodeRouteHint(hops: readonly RouteHintHop[]): Uint8Array {
  if (hops.length < 1 || hops.length > MAX_ROUTE_HINT_HOPS) {
    throw new RangeError(`a route hint has 1..${MAX_ROUTE_HINT_HOPS} hops, got ${hops.length}`);
  }
  const out = new Uint8Array(hops.length * ROUTE_HINT_HOP_LENGTH);
  const view = new DataView(out.buffer);
  hops.forEach((hop, i) => {
    const at = i * ROUTE_HINT_HOP_LENGTH;
    const { pubkey } = hop;
    if (pubkey.length !== 33 || (pubkey[0] !== 2 && pubkey[0] !== 3)) {
      throw new RangeError(`route hint hop ${i}: pubkey is not a 33-byte compressed key`);
    }
    out.set(hop.pubkey, at);
    out.set(u64ToBytes(hop.shortChannelId), at + 33);
    view.setUint32(at + 41, checkUint(hop.feeBaseMsat, 0xffff_ffff, 'feeBaseMsat'));
    view.setUint32(at + 45, checkUint(hop.feeProportionalMillionths, 0xffff_ffff, 'feeProportionalMillionths'));
    view.setUint16(at + 49, checkUint(hop.cltvExpiryDelta, 0xffff, 'cltvExpiryDelta'));
  });
  return out;
}

/** Reads the hops of one `r` field: a non-zero whole number of hops, each pubkey a valid point. */
export function decodeRouteHint(bytes: Uint8Array): Result<RouteHintHop[], Bolt11Error> {
  if (bytes.length === 0 || bytes.length % ROUTE_HINT_HOP_LENGTH !== 0) {
    return err({ kind: 'invalidRouteHint', reason: 'length' });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hops: RouteHintHop[] = [];
  for (let at = 0; at < bytes.length; at += ROUTE_HINT_HOP_LENGTH) {
    const pubkey = bytes.slice(at, at + 33);
    if (!isCompressedPubkey(pubkey)) return err({ kind: 'invalidRouteHint', reason: 'pubkey' });
    hops.push({
      pubkey,
      shortChannelId: readU64(bytes, at + 33),
      feeBaseMsat: view.getUint32(at + 41),
      feeProportionalMillionths: view.getUint32(at + 45),
      cltvExpiryDelta: view.getUint16(at + 49),
    });
  }
  return ok(hops);
}

function checkUint(value: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} out of range 0..${max}: ${value}`);
  return value;
}
