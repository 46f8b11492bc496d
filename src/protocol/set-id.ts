/**
 * HTLC identities and the id of an HTLC set.
 *
 * An HTLC is identified by its circuit key on the node that holds it: (node pubkey, incoming chan_id,
 * htlc_id). The node pubkey is part of the key because two cluster nodes can have channels with the
 * same id (a channel between two cluster nodes has one id on both sides) and each numbers its HTLCs on
 * its own. The set_id names the set of HTLCs that a settle or cancel decision covers:
 *
 *   set_id = SHA256(k_1 || k_2 || ... || k_n)
 *   k_i    = node_pubkey (33 bytes, compressed) || chan_id (u64, big-endian) || htlc_id (u64, big-endian)
 *
 * with the 49-byte k_i sorted bytewise (lexicographically, ascending), so the id does not depend on the
 * order in which the HTLCs arrived. A set never holds the same HTLC twice, and is never empty.
 */
import { createHash } from 'node:crypto';
import { bytesToHex, concatBytes, u64ToBytes } from './bytes.js';

/** The identity of one HTLC: the node that holds it, its incoming channel, its id in that channel. */
export interface CircuitKey {
  /** 33-byte compressed public key of the cluster node that holds the HTLC. */
  readonly nodePubkey: Uint8Array;
  /** Incoming channel id (u64 short_channel_id, as LND's `incoming_circuit_key.chan_id`). */
  readonly chanId: bigint;
  /** HTLC index in the incoming channel (u64, as LND's `incoming_circuit_key.htlc_id`). */
  readonly htlcId: bigint;
}

/** Length of the canonical serialization of a circuit key: 33 + 8 + 8 bytes. */
export const CIRCUIT_KEY_LENGTH = 49;

/** Length of a set_id: a SHA256 digest. */
export const SET_ID_LENGTH = 32;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

function assertCircuitKey(key: CircuitKey, argument: string): void {
  if (typeof key !== 'object' || key === null) throw new TypeError(`${argument}: expected a CircuitKey`);
  const { nodePubkey, chanId, htlcId } = key;
  if (!(nodePubkey instanceof Uint8Array)) throw new TypeError(`${argument}.nodePubkey: expected a Uint8Array`);
  if (nodePubkey.length !== 33 || (nodePubkey[0] !== 0x02 && nodePubkey[0] !== 0x03)) {
    throw new RangeError(`${argument}.nodePubkey: expected a 33-byte compressed public key`);
  }
  if (typeof chanId !== 'bigint') throw new TypeError(`${argument}.chanId: expected a bigint`);
  if (typeof htlcId !== 'bigint') throw new TypeError(`${argument}.htlcId: expected a bigint`);
  if (chanId < 0n || chanId > U64_MAX) throw new RangeError(`${argument}.chanId: u64 out of range: ${chanId}`);
  if (htlcId < 0n || htlcId > U64_MAX) throw new RangeError(`${argument}.htlcId: u64 out of range: ${htlcId}`);
}

/**
 * The canonical 49-byte serialization of a circuit key: node_pubkey (33) || chan_id (u64 BE) ||
 * htlc_id (u64 BE). Usable as a map key (hex) or a database key.
 *
 * @throws TypeError for a field of the wrong type; RangeError for a pubkey that is not 33 bytes with a
 *   0x02/0x03 prefix, or a chanId / htlcId outside 0..2^64-1.
 */
export function encodeCircuitKey(key: CircuitKey): Uint8Array {
  assertCircuitKey(key, 'key');
  return concatBytes(key.nodePubkey, u64ToBytes(key.chanId), u64ToBytes(key.htlcId));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The set_id of a set of HTLCs: SHA256 over their canonical circuit keys ({@link encodeCircuitKey}),
 * sorted bytewise. Independent of the order of `htlcs`. 32 bytes.
 *
 * @throws RangeError if `htlcs` is empty or names the same HTLC twice (same node, chan_id and
 *   htlc_id); TypeError / RangeError as {@link encodeCircuitKey} for a malformed key.
 */
export function setId(htlcs: readonly CircuitKey[]): Uint8Array {
  if (!Array.isArray(htlcs)) throw new TypeError('htlcs: expected an array of CircuitKey');
  if (htlcs.length === 0) throw new RangeError('htlcs: a set has at least one HTLC');
  const encoded = htlcs.map((key, i) => {
    assertCircuitKey(key, `htlcs[${i}]`);
    return concatBytes(key.nodePubkey, u64ToBytes(key.chanId), u64ToBytes(key.htlcId));
  });
  encoded.sort(compareBytes);
  const hash = createHash('sha256');
  for (let i = 0; i < encoded.length; i++) {
    const current = encoded[i] as Uint8Array;
    if (i > 0 && compareBytes(encoded[i - 1] as Uint8Array, current) === 0) {
      throw new RangeError(`htlcs: duplicate HTLC ${formatEncodedKey(current)}`);
    }
    hash.update(current);
  }
  return new Uint8Array(hash.digest());
}

/** Hex digits of the node pubkey shown by {@link circuitKeyString}: enough to tell cluster nodes apart. */
const PUBKEY_PREFIX_HEX_DIGITS = 12;

function formatEncodedKey(encoded: Uint8Array): string {
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const pubkeyHex = bytesToHex(encoded.subarray(0, 33)).slice(0, PUBKEY_PREFIX_HEX_DIGITS);
  return `${view.getBigUint64(33)}:${view.getBigUint64(41)}@${pubkeyHex}`;
}

/**
 * A short human-readable form of a circuit key for logs: "chanId:htlcId@pubkeyprefix", chan_id and
 * htlc_id in decimal (as LND logs them), then the first 12 hex digits of the node pubkey, e.g.
 * "1161084279062528:7@020723c6f220". Not an identifier: use {@link encodeCircuitKey} for that.
 *
 * @throws as {@link encodeCircuitKey}.
 */
export function circuitKeyString(key: CircuitKey): string {
  return formatEncodedKey(encodeCircuitKey(key));
}

/** True if `a` and `b` name the same HTLC: same node pubkey bytes, chan_id and htlc_id. Total. */
export function equalCircuitKeys(a: CircuitKey, b: CircuitKey): boolean {
  if (a.chanId !== b.chanId || a.htlcId !== b.htlcId) return false;
  const pa = a.nodePubkey;
  const pb = b.nodePubkey;
  if (pa.length !== pb.length) return false;
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return false;
  return true;
}

/** A stable map key for a circuit key: "<node pubkey hex>:<chan_id>:<htlc_id>". */
export function circuitKeyId(key: CircuitKey): string {
  return `${bytesToHex(key.nodePubkey)}:${key.chanId}:${key.htlcId}`;
}
