/**
 * BOLT 4 "Failure Messages": the `failuremsg` inside a returned error packet, "a 2-byte type
 * `failure_code` followed by data applicable to that type", then an optional TLV stream (BOLT 1).
 * Encrypting it for the return path is failure-onion.ts's job; this file only reads and writes it.
 */
import { decodeBigSize, encodeBigSize } from './bigsize.js';
import { concatBytes, readU64, u64ToBytes } from './bytes.js';
import { FAILURE_CODE, failureKindOf, type KnownFailureKind } from './failure-code.js';
import { err, ok, type Result } from './result.js';
import { decodeTlvStream, encodeTlvStream, type TlvError, type TlvRecord } from './tlv.js';

export { FAILURE_CODE, FAILURE_FLAG, failureKindOf, type KnownFailureKind } from './failure-code.js';

/** The optional TLV stream after a message's data; absent when there is none. */
interface Extension {
  readonly tlvs?: readonly TlvRecord[];
}

/** `channel_update` as the UPDATE failures carry it: opaque bytes, possibly empty (BOLT 4 "Rationale"). */
interface WithChannelUpdate {
  readonly channelUpdate: Uint8Array;
}

/**
 * A failure message of BOLT 4 "Failure Messages", by `kind` (the spec's name in camelCase). Amounts
 * are msat (bigint), heights and expiries are block heights. `unknown` keeps a code BOLT 4 does not
 * define, with its raw data.
 */
export type FailureMessage =
  | ({ readonly kind: 'temporaryNodeFailure' | 'permanentNodeFailure' | 'requiredNodeFeatureMissing' } & Extension)
  | ({ readonly kind: 'invalidOnionVersion' | 'invalidOnionHmac' | 'invalidOnionKey' | 'invalidOnionBlinding'; readonly sha256OfOnion: Uint8Array } & Extension)
  | ({ readonly kind: 'temporaryChannelFailure' | 'expiryTooSoon' } & WithChannelUpdate & Extension)
  | ({ readonly kind: 'permanentChannelFailure' | 'requiredChannelFeatureMissing' | 'unknownNextPeer' } & Extension)
  | ({ readonly kind: 'amountBelowMinimum' | 'feeInsufficient'; readonly htlcMsat: bigint } & WithChannelUpdate & Extension)
  | ({ readonly kind: 'incorrectCltvExpiry'; readonly cltvExpiry: number } & WithChannelUpdate & Extension)
  | ({ readonly kind: 'incorrectOrUnknownPaymentDetails'; readonly htlcMsat: bigint; readonly height: number } & Extension)
  | ({ readonly kind: 'finalIncorrectCltvExpiry'; readonly cltvExpiry: number } & Extension)
  | ({ readonly kind: 'finalIncorrectHtlcAmount'; readonly incomingHtlcAmtMsat: bigint } & Extension)
  | ({ readonly kind: 'channelDisabled'; readonly disabledFlags: number } & WithChannelUpdate & Extension)
  | ({ readonly kind: 'expiryTooFar' | 'mppTimeout' } & Extension)
  | ({ readonly kind: 'invalidOnionPayload'; readonly type: bigint; readonly offset: number } & Extension)
  | { readonly kind: 'unknown'; readonly code: number; readonly data: Uint8Array };

/**
 * Why a failure message could not be read. `offset` counts from the first byte of the code.
 * - `truncated`: the bytes end before the code (no `code`) or inside the data;
 * - `notCanonical`: the BigSize `type` of `invalid_onion_payload` is not minimal;
 * - `invalidTlvStream`: the bytes after the data are not a valid TLV stream (`cause.offset` counts
 *   from the start of that stream).
 */
export type FailureMessageError =
  | { readonly kind: 'truncated'; readonly code?: number; readonly offset: number }
  | { readonly kind: 'notCanonical'; readonly code: number; readonly offset: number }
  | { readonly kind: 'invalidTlvStream'; readonly code: number; readonly offset: number; readonly cause: TlvError };

/** The wire types of the fields a failure message's data is made of. */
type FieldCodec = 'u16' | 'u32' | 'u64' | 'bigsize' | 'sha256' | 'u16Bytes';

/** Each known message's data, field by field, as BOLT 4 "Failure Messages" lists it. */
const LAYOUT: { readonly [K in KnownFailureKind]: readonly (readonly [field: string, codec: FieldCodec])[] } = {
  temporaryNodeFailure: [],
  permanentNodeFailure: [],
  requiredNodeFeatureMissing: [],
  invalidOnionVersion: [['sha256OfOnion', 'sha256']],
  invalidOnionHmac: [['sha256OfOnion', 'sha256']],
  invalidOnionKey: [['sha256OfOnion', 'sha256']],
  temporaryChannelFailure: [['channelUpdate', 'u16Bytes']],
  permanentChannelFailure: [],
  requiredChannelFeatureMissing: [],
  unknownNextPeer: [],
  amountBelowMinimum: [['htlcMsat', 'u64'], ['channelUpdate', 'u16Bytes']],
  feeInsufficient: [['htlcMsat', 'u64'], ['channelUpdate', 'u16Bytes']],
  incorrectCltvExpiry: [['cltvExpiry', 'u32'], ['channelUpdate', 'u16Bytes']],
  expiryTooSoon: [['channelUpdate', 'u16Bytes']],
  incorrectOrUnknownPaymentDetails: [['htlcMsat', 'u64'], ['height', 'u32']],
  finalIncorrectCltvExpiry: [['cltvExpiry', 'u32']],
  finalIncorrectHtlcAmount: [['incomingHtlcAmtMsat', 'u64']],
  channelDisabled: [['disabledFlags', 'u16'], ['channelUpdate', 'u16Bytes']],
  expiryTooFar: [],
  invalidOnionPayload: [['type', 'bigsize'], ['offset', 'u16']],
  mppTimeout: [],
  invalidOnionBlinding: [['sha256OfOnion', 'sha256']],
};

type FieldValue = number | bigint | Uint8Array;
const FIXED_WIDTH = { u16: 2, u32: 4, u64: 8, sha256: 32 } as const;

/** Reads one field at `offset`: its value and end, or why it could not ('truncated', 'notCanonical'). */
function readField(bytes: Uint8Array, offset: number, codec: FieldCodec): { value: FieldValue; end: number } | 'truncated' | 'notCanonical' {
  if (codec === 'bigsize') {
    const read = decodeBigSize(bytes, offset);
    return read.ok ? { value: read.value.value, end: offset + read.value.length } : read.error.kind;
  }
  const width = codec === 'u16Bytes' ? 2 : FIXED_WIDTH[codec];
  if (offset + width > bytes.length) return 'truncated';
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, width);
  switch (codec) {
    case 'u16':
      return { value: view.getUint16(0), end: offset + 2 };
    case 'u32':
      return { value: view.getUint32(0), end: offset + 4 };
    case 'u64':
      return { value: readU64(bytes, offset), end: offset + 8 };
    case 'sha256':
      return { value: bytes.slice(offset, offset + 32), end: offset + 32 };
    case 'u16Bytes': {
      const end = offset + 2 + view.getUint16(0);
      return end > bytes.length ? 'truncated' : { value: bytes.slice(offset + 2, end), end };
    }
  }
}

/**
 * Decodes a failure message (`failuremsg`, BOLT 4 "Failure Messages"): the code, the data its
 * layout gives, then the optional TLV stream, which must be valid (BOLT 1) when present. A code BOLT 4
 * does not define decodes as `unknown` with all the bytes after the code as `data`. Never throws.
 */
export function decodeFailureMessage(bytes: Uint8Array): Result<FailureMessage, FailureMessageError> {
  if (bytes.length < 2) return err({ kind: 'truncated', offset: bytes.length });
  const code = (bytes[0]! << 8) | bytes[1]!;
  const kind = failureKindOf(code);
  if (kind === undefined) return ok({ kind: 'unknown', code, data: bytes.slice(2) });
  const message: Record<string, unknown> = { kind };
  let offset = 2;
  for (const [field, codec] of LAYOUT[kind]) {
    const read = readField(bytes, offset, codec);
    if (typeof read === 'string') return err({ kind: read, code, offset });
    message[field] = read.value;
    offset = read.end;
  }
  if (offset < bytes.length) {
    const tlvs = decodeTlvStream(bytes.subarray(offset));
    if (!tlvs.ok) return err({ kind: 'invalidTlvStream', code, offset: offset + tlvs.error.offset, cause: tlvs.error });
    message.tlvs = tlvs.value;
  }
  return ok(message as FailureMessage);
}

function writeField(codec: FieldCodec, value: unknown, field: string): Uint8Array {
  const isInt = (max: number) => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
  const fail = (expected: string) => new RangeError(`failure message field ${field} must be ${expected}`);
  switch (codec) {
    case 'u16':
    case 'u32': {
      const width = codec === 'u16' ? 2 : 4;
      if (!isInt(width === 2 ? 0xffff : 0xffff_ffff)) throw fail(`a ${codec}`);
      const out = new Uint8Array(width);
      const view = new DataView(out.buffer);
      if (width === 2) view.setUint16(0, value as number);
      else view.setUint32(0, value as number);
      return out;
    }
    case 'u64':
      if (typeof value !== 'bigint') throw fail('a bigint');
      return u64ToBytes(value);
    case 'bigsize':
      if (typeof value !== 'bigint') throw fail('a bigint');
      return encodeBigSize(value);
    case 'sha256':
      if (!(value instanceof Uint8Array) || value.length !== 32) throw fail('32 bytes');
      return value;
    case 'u16Bytes':
      if (!(value instanceof Uint8Array) || value.length > 0xffff) throw fail('at most 65535 bytes');
      return concatBytes(Uint8Array.of(value.length >> 8, value.length & 0xff), value);
  }
}

/**
 * Encodes a failure message: u16 `failure_code`, the data fields, then `tlvs` as a canonical TLV
 * stream when present and non-empty (BOLT 4 "Failure Messages"). The result is `failuremsg`, before
 * padding and encryption. Throws RangeError for a field out of range, or an `unknown` message whose
 * code is not a u16 or is one BOLT 4 defines (build that kind instead).
 */
export function encodeFailureMessage(message: FailureMessage): Uint8Array {
  if (message.kind === 'unknown') {
    const { code, data } = message;
    if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new RangeError(`failure code is not a u16: ${code}`);
    if (failureKindOf(code) !== undefined) throw new RangeError(`failure code ${code} is ${failureKindOf(code)}, not unknown`);
    return concatBytes(Uint8Array.of(code >> 8, code & 0xff), data);
  }
  const code = FAILURE_CODE[message.kind];
  const fields = message as unknown as Record<string, unknown>;
  const parts: Uint8Array[] = [Uint8Array.of(code >> 8, code & 0xff)];
  for (const [field, codec] of LAYOUT[message.kind]) parts.push(writeField(codec, fields[field], field));
  if (message.tlvs !== undefined && message.tlvs.length > 0) parts.push(encodeTlvStream(message.tlvs));
  return concatBytes(...parts);
}

/**
 * The failures a cluster node is asked to create itself, in LND's spelling: the codes LND accepts in
 * `ForwardHtlcInterceptResponse.failure_code` (any other ends the
 * stream with InvalidArgument: lnrpc/routerrpc/forward_interceptor.go). LND builds the failure
 * itself: the onion ones carry SHA256(onion_blob), TEMPORARY_CHANNEL_FAILURE a channel update.
 */
export const INTERCEPTOR_FAILURE_CODES = Object.freeze([
  'TEMPORARY_CHANNEL_FAILURE',
  'INVALID_ONION_VERSION',
  'INVALID_ONION_HMAC',
  'INVALID_ONION_KEY',
] as const);
export type InterceptorFailureCode = (typeof INTERCEPTOR_FAILURE_CODES)[number];
