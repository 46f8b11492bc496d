/**
 * The onion hop payload, BOLT 4 "Packet Structure" / "`payload` format": a TLV stream (BOLT 1) with
 * `amt_to_forward` (2), `outgoing_cltv_value` (4), `short_channel_id` (6) and `payment_data` (8).
 *
 * This reads payloads of routes that are not blinded, the only kind lnmux's invoices create: the
 * blinded-route records (10 `encrypted_recipient_data`, 12 `current_path_key`) are refused, as
 * BOLT 4 requires of a reader outside a blinded route that cannot decrypt them.
 */
import { readU64, u64ToBytes, concatBytes } from './bytes.js';
import { err, ok, type Result } from './result.js';
import { encodeTlvStream, scanTlvStream, type TlvError, type TlvRecord, type TlvRecordAt } from './tlv.js';
import { decodeTruncatedUint, encodeTruncatedUint } from './truncated-int.js';

/** The TLV types of BOLT 4's hop payload. */
export const HOP_PAYLOAD_TYPE = {
  amtToForward: 2n,
  outgoingCltvValue: 4n,
  shortChannelId: 6n,
  paymentData: 8n,
  encryptedRecipientData: 10n,
  currentPathKey: 12n,
  paymentMetadata: 16n,
  totalAmountMsat: 18n,
} as const;

/** `payment_data` (type 8): the invoice's payment secret (`payment_addr`) and the whole payment's amount. */
export interface PaymentData {
  /** 32 bytes, the `payment_secret` the invoice gave. */
  readonly paymentAddr: Uint8Array;
  /** Total amount of the (multi-part) payment, msat. */
  readonly totalMsat: bigint;
}

/** A decoded hop payload. Every record other than types 2, 4, 6 and 8 is kept in `otherRecords`. */
export interface HopPayload {
  /** `amt_to_forward` (type 2), msat. */
  readonly amtToForwardMsat: bigint;
  /** `outgoing_cltv_value` (type 4), a block height. */
  readonly outgoingCltvValue: number;
  /** `short_channel_id` (type 6) of the outgoing channel; present exactly for intermediate hops. */
  readonly shortChannelId?: bigint;
  /** `payment_data` (type 8); final hops only. */
  readonly paymentData?: PaymentData;
  /** The other records, in increasing type order (payment_metadata, total_amount_msat, odd types). */
  readonly otherRecords: readonly TlvRecord[];
}

/** Whether the payload is read by the final node or by a node that forwards the HTLC. */
export type HopRole = 'final' | 'intermediate';

/**
 * What was wrong: a TLV stream error (see {@link TlvError}), an unknown even type, a value of the
 * wrong length or not minimally encoded, a required record missing, a record the role forbids, or a
 * blinded-route record.
 */
export type PayloadViolation =
  | TlvError['kind']
  | 'unknownEvenType'
  | 'badLength'
  | 'notMinimal'
  | 'missing'
  | 'forbidden'
  | 'blindedRouteUnsupported';

/**
 * A refused payload, with what BOLT 4's `invalid_onion_payload` carries: the offending TLV `type`
 * and the byte `offset` in the payload. `offset` counts from the first byte of the TLV stream (as Core
 * Lightning counts; LND always sends 0) and points at the start of the offending record; for a
 * missing record, where it would have been (before the first record of a higher type). `type` is 0
 * when the fault comes before any type could be read. `reason` is for logs; match on `violation`.
 * A blinded-route record (`violation: 'blindedRouteUnsupported'`) is where BOLT 4 asks an erring node
 * inside a blinded route for `invalid_onion_blinding` instead: the caller chooses the failure.
 */
export interface InvalidPayload {
  readonly kind: 'invalidOnionPayload';
  readonly type: bigint;
  readonly offset: number;
  readonly violation: PayloadViolation;
  readonly reason: string;
}

const invalid = (type: bigint, offset: number, violation: PayloadViolation, reason: string) =>
  err<InvalidPayload>({ kind: 'invalidOnionPayload', type, offset, violation, reason });

function readTruncated(record: TlvRecordAt, maxLength: 4 | 8, name: string): Result<bigint, InvalidPayload> {
  const read = decodeTruncatedUint(record.value, maxLength);
  if (read.ok) return read;
  return read.error.kind === 'tooLong'
    ? invalid(record.type, record.offset, 'badLength', `${name} longer than ${maxLength} bytes`)
    : invalid(record.type, record.offset, 'notMinimal', `${name} has a leading zero byte`);
}

/**
 * Decodes a hop payload (the TLV stream, without the BigSize length that precedes it in the onion)
 * and checks it against BOLT 4 "`payload` format" requirements for `role`:
 * - the TLV stream is valid (BOLT 1): no truncation, minimal type and length, strictly increasing;
 * - no unknown even type (BOLT 1: "if `type` is even: MUST fail to parse");
 * - known values have exactly their length and minimal truncated integers (tu64, tu32);
 * - `amt_to_forward` and `outgoing_cltv_value` present; `short_channel_id` present for an
 *   intermediate hop and absent for the final one; `payment_data` absent for an intermediate hop
 *   (writer requirements that LND's reader also enforces);
 * - no blinded-route records (lnmux creates no blinded paths).
 * Never throws; every refusal is an {@link InvalidPayload}.
 */
export function decodeHopPayload(bytes: Uint8Array, role: HopRole): Result<HopPayload, InvalidPayload> {
  const scanned = scanTlvStream(bytes);
  if (!scanned.ok) {
    const e = scanned.error;
    return invalid(e.type ?? 0n, e.offset, e.kind, `invalid TLV stream: ${e.kind}`);
  }
  const records = scanned.value;
  let amtToForwardMsat: bigint | undefined;
  let outgoingCltvValue: number | undefined;
  let shortChannelId: bigint | undefined;
  let paymentData: PaymentData | undefined;
  const otherRecords: TlvRecord[] = [];
  for (const record of records) {
    const { type, value, offset } = record;
    switch (type) {
      case HOP_PAYLOAD_TYPE.amtToForward: {
        const read = readTruncated(record, 8, 'amt_to_forward');
        if (!read.ok) return read;
        amtToForwardMsat = read.value;
        break;
      }
      case HOP_PAYLOAD_TYPE.outgoingCltvValue: {
        const read = readTruncated(record, 4, 'outgoing_cltv_value');
        if (!read.ok) return read;
        outgoingCltvValue = Number(read.value);
        break;
      }
      case HOP_PAYLOAD_TYPE.shortChannelId:
        if (value.length !== 8) return invalid(type, offset, 'badLength', 'short_channel_id is not 8 bytes');
        shortChannelId = readU64(value);
        break;
      case HOP_PAYLOAD_TYPE.paymentData: {
        if (value.length < 32) return invalid(type, offset, 'badLength', 'payment_data shorter than 32 bytes');
        const total = readTruncated({ type, offset, value: value.subarray(32) }, 8, 'payment_data total_msat');
        if (!total.ok) return total;
        paymentData = { paymentAddr: value.slice(0, 32), totalMsat: total.value };
        break;
      }
      case HOP_PAYLOAD_TYPE.encryptedRecipientData:
      case HOP_PAYLOAD_TYPE.currentPathKey:
        return invalid(type, offset, 'blindedRouteUnsupported', 'blinded route records are not supported');
      case HOP_PAYLOAD_TYPE.paymentMetadata:
        otherRecords.push({ type, value });
        break;
      case HOP_PAYLOAD_TYPE.totalAmountMsat: {
        const read = readTruncated(record, 8, 'total_amount_msat');
        if (!read.ok) return read;
        otherRecords.push({ type, value });
        break;
      }
      default:
        if (type % 2n === 0n) return invalid(type, offset, 'unknownEvenType', `unknown even type ${type}`);
        otherRecords.push({ type, value });
    }
  }
  const { amtToForward, outgoingCltvValue: cltvType, shortChannelId: scidType, paymentData: dataType } = HOP_PAYLOAD_TYPE;
  const offsetOf = (type: bigint) => records.find((r) => r.type === type)?.offset ?? 0;
  // A missing record is reported where it would have been: before the first record of a higher type.
  const missing = (type: bigint, name: string) =>
    invalid(type, records.find((r) => r.type > type)?.offset ?? bytes.length, 'missing', `${name} is missing`);
  const forbidden = (type: bigint, name: string) =>
    invalid(type, offsetOf(type), 'forbidden', `${name} is not allowed for a ${role} hop`);
  if (amtToForwardMsat === undefined) return missing(amtToForward, 'amt_to_forward');
  if (outgoingCltvValue === undefined) return missing(cltvType, 'outgoing_cltv_value');
  if (role === 'intermediate') {
    if (shortChannelId === undefined) return missing(scidType, 'short_channel_id');
    if (paymentData !== undefined) return forbidden(dataType, 'payment_data');
  } else if (shortChannelId !== undefined) {
    return forbidden(scidType, 'short_channel_id');
  }
  return ok({
    amtToForwardMsat,
    outgoingCltvValue,
    ...(shortChannelId !== undefined && { shortChannelId }),
    ...(paymentData !== undefined && { paymentData }),
    otherRecords,
  });
}

/**
 * The payer's echo of the invoice's metadata (BOLT 11 `m`): the final payload's `payment_metadata`
 * (BOLT 4, type 16), kept in `otherRecords`; undefined when the payload has none.
 */
export function paymentMetadataOf(payload: HopPayload): Uint8Array | undefined {
  return payload.otherRecords.find((r) => r.type === HOP_PAYLOAD_TYPE.paymentMetadata)?.value;
}

/**
 * Encodes a hop payload as a canonical TLV stream (BOLT 4 "`payload` format"): truncated integers
 * for `amt_to_forward`, `outgoing_cltv_value` and `total_msat`, records sorted by type. It writes what
 * it is given, role rules included or not (the simulator builds invalid payloads on purpose).
 * Throws RangeError for values out of range (amount not a u64, CLTV not a u32), a `paymentAddr` that
 * is not 32 bytes, or an `otherRecords` entry of type 2, 4, 6, 8 or a duplicate type.
 */
export function encodeHopPayload(payload: HopPayload): Uint8Array {
  const { amtToForwardMsat, outgoingCltvValue, shortChannelId, paymentData, otherRecords } = payload;
  if (!Number.isSafeInteger(outgoingCltvValue)) throw new RangeError(`outgoing_cltv_value is not an integer: ${outgoingCltvValue}`);
  const records: TlvRecord[] = [
    { type: HOP_PAYLOAD_TYPE.amtToForward, value: encodeTruncatedUint(amtToForwardMsat, 8) },
    { type: HOP_PAYLOAD_TYPE.outgoingCltvValue, value: encodeTruncatedUint(BigInt(outgoingCltvValue), 4) },
  ];
  if (shortChannelId !== undefined) records.push({ type: HOP_PAYLOAD_TYPE.shortChannelId, value: u64ToBytes(shortChannelId) });
  if (paymentData !== undefined) {
    if (paymentData.paymentAddr.length !== 32) throw new RangeError(`paymentAddr must be 32 bytes, got ${paymentData.paymentAddr.length}`);
    records.push({
      type: HOP_PAYLOAD_TYPE.paymentData,
      value: concatBytes(paymentData.paymentAddr, encodeTruncatedUint(paymentData.totalMsat, 8)),
    });
  }
  for (const record of otherRecords) {
    if (record.type <= 8n && record.type >= 2n && record.type % 2n === 0n) {
      throw new RangeError(`otherRecords may not hold type ${record.type}: it has its own field`);
    }
  }
  return encodeTlvStream([...records, ...otherRecords]);
}

/** The legacy (pre-TLV) `hop_data` a payer may still send (BOLT 4 retired it; LND reads it). */
export interface LegacyHopData {
  /** The outgoing channel; 0 for the final hop. */
  readonly shortChannelId: bigint;
  /** `amt_to_forward`, msat. */
  readonly amtToForwardMsat: bigint;
  /** `outgoing_cltv_value`, a block height. */
  readonly outgoingCltvValue: number;
}

const LEGACY_LENGTH = 33;

/**
 * Reads the 33-byte legacy `hop_data` (realm 0, short_channel_id, amt_to_forward u64,
 * outgoing_cltv_value u32, 12 bytes of padding), as lightning-onion's HopData.Decode does: the
 * padding is not checked. Throws RangeError for another length or realm (peelOnion gives neither).
 */
export function decodeLegacyHopData(bytes: Uint8Array): LegacyHopData {
  if (bytes.length !== LEGACY_LENGTH || bytes[0] !== 0) throw new RangeError('legacy hop_data: expected 33 bytes starting with realm 0');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    shortChannelId: view.getBigUint64(1),
    amtToForwardMsat: view.getBigUint64(9),
    outgoingCltvValue: view.getUint32(17),
  };
}

/** Writes a legacy `hop_data` (33 bytes, zero padding), for tests of payers that still send it. */
export function encodeLegacyHopData(data: LegacyHopData): Uint8Array {
  const bytes = new Uint8Array(LEGACY_LENGTH);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(1, BigInt.asUintN(64, data.shortChannelId));
  view.setBigUint64(9, BigInt.asUintN(64, data.amtToForwardMsat));
  view.setUint32(17, data.outgoingCltvValue >>> 0);
  return bytes;
}
