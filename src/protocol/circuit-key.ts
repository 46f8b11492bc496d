/**
 * The identity of an HTLC, in one place: its circuit key.
 *
 * LND names an HTLC by its incoming circuit key, (chan_id, htlc_id), unique on one node only
 * ({@link NodeCircuitKey}). lnmux sees HTLCs from every cluster node, and two of them can have channels
 * with the same id (a channel between two cluster nodes has one id on both sides) while each numbers its
 * HTLCs on its own: across the cluster an HTLC is (node pubkey, chan_id, htlc_id) ({@link CircuitKey}).
 * Logs, store rows, events and map keys all print it as {@link circuitKeyString}.
 */
import { bytesToHex, concatBytes, hexToBytes, u64ToBytes } from './bytes.js';

/** An HTLC as one LND node knows it: LND's `CircuitKey` (incoming channel, HTLC index). */
export interface NodeCircuitKey {
  /** Incoming short channel id, u64 (LND's `incoming_circuit_key.chan_id`). */
  readonly chanId: bigint;
  /** HTLC index in the incoming channel, u64 (LND's `incoming_circuit_key.htlc_id`). */
  readonly htlcId: bigint;
}

/** An HTLC anywhere in the cluster: the node that holds it and its circuit key there. */
export interface CircuitKey extends NodeCircuitKey {
  /** 33-byte compressed public key of the cluster node that holds the HTLC. */
  readonly nodePubkey: Uint8Array;
}

/** Length of the canonical serialization of a circuit key: 33 + 8 + 8 bytes. */
export const CIRCUIT_KEY_LENGTH = 49;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * Throws unless `key` is a well-formed circuit key; `argument` names it in the message.
 *
 * @throws TypeError for a field of the wrong type; RangeError for a pubkey that is not 33 bytes with a
 *   0x02/0x03 prefix, or a chanId / htlcId outside 0..2^64-1.
 */
export function assertCircuitKey(key: CircuitKey, argument = 'key'): void {
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
 * htlc_id (u64 BE). What the set_id hashes (set-id.ts).
 *
 * @throws as {@link assertCircuitKey}.
 */
export function encodeCircuitKey(key: CircuitKey): Uint8Array {
  assertCircuitKey(key);
  return concatBytes(key.nodePubkey, u64ToBytes(key.chanId), u64ToBytes(key.htlcId));
}

/** The string form of an encoded key ({@link encodeCircuitKey}), as {@link circuitKeyString} prints it. */
export function encodedCircuitKeyString(encoded: Uint8Array): string {
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  return `${view.getBigUint64(33)}:${view.getBigUint64(41)}@${bytesToHex(encoded.subarray(0, 33))}`;
}

/**
 * The one string form of a circuit key, in logs, events, store messages and as a map key:
 * "chan_id:htlc_id@node_pubkey", chan_id and htlc_id in decimal (as LND logs them) and the node's full
 * compressed pubkey in hex, e.g. "1161084279062528:7@020723c6f2…". Injective: two keys print the same
 * string only if they name the same HTLC. Total (no validation: it runs on the HTLC path).
 */
export function circuitKeyString(key: CircuitKey): string {
  return `${key.chanId}:${key.htlcId}@${bytesToHex(key.nodePubkey)}`;
}

/** What {@link circuitKeyString} prints: decimal integers without leading zeros, the pubkey in lowercase hex. */
const CIRCUIT_KEY_STRING = /^(0|-?[1-9][0-9]*):(0|-?[1-9][0-9]*)@((?:[0-9a-f]{2})*)$/;

/**
 * The circuit key a {@link circuitKeyString} output names: its inverse, on every key it prints (it
 * validates nothing either). For code that keeps a key as its string alone: the registry's held parts,
 * where the key object and its two bigints cost about 100 bytes per held HTLC (docs/benchmarks.md,
 * "How cost grows").
 *
 * @throws RangeError for a string that circuitKeyString does not print.
 */
export function circuitKeyFromString(s: string): CircuitKey {
  const match = CIRCUIT_KEY_STRING.exec(s);
  if (match === null) throw new RangeError(`not a circuit key string: ${JSON.stringify(s)}`);
  return { nodePubkey: hexToBytes(match[3]!), chanId: BigInt(match[1]!), htlcId: BigInt(match[2]!) };
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
