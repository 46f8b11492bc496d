/**
 * LND's protobuf messages <-> lnmux's domain types. The only file that knows the raw shapes (as
 * @grpc/proto-loader delivers them with the options in `protos.ts`); everything else in lnmux sees the
 * typed values below. Decoders of what LND sends return a `Result` and never throw; encoders of what
 * we send are total and throw only on programmer error (RangeError for a wrong length).
 *
 * Facts the decoders rely on (checked with proto-loader 0.8 on this machine):
 * - (u)int64 fields arrive as decimal strings (`longs: String`); we turn them into bigint.
 * - uint64 map keys (`custom_records`) arrive as 8-character strings: the key's 8 bytes,
 *   little-endian, one char per byte (protobufjs' "long hash"); decimal strings are accepted on
 *   encode, but an 8-char key is NOT (it encodes as 0), so encoders use decimal keys.
 */
import { err, FAILURE_PACKET_LENGTH, INTERCEPTOR_FAILURE_CODES, ok, type InterceptorFailureCode, type NodeCircuitKey, type Result } from '../protocol/index.js';

// ---------------------------------------------------------------------------------------------
// Domain types
// ---------------------------------------------------------------------------------------------

/** Where the HTLC was asked to go next, read from `outgoing_requested_chan_id` and field 12. */
export type NextHop =
  /** Channel id 0, no node id: the node itself is the final hop. */
  | { readonly kind: 'exit' }
  /** An ordinary channel-addressed forward (lnmux's virtual channel is one of these). */
  | { readonly kind: 'channel'; readonly chanId: bigint }
  /**
   * A blinded forward naming the next node (LND >= 0.20.3 / 0.21.2): channel id is the reserved
   * 0xffffffffffffffff and `nodeId` is a 33-byte compressed pubkey.
   */
  | { readonly kind: 'node'; readonly nodeId: Uint8Array };

/** The reserved `outgoing_requested_chan_id` of a node-addressed (blinded) forward. */
export const NODE_ID_FORWARD_SCID = 0xffff_ffff_ffff_ffffn;

/** An HTLC that LND holds and offers to its interceptor (`ForwardHtlcInterceptRequest`). */
export interface InterceptedHtlc {
  readonly circuitKey: NodeCircuitKey;
  /** Amount of the incoming HTLC, msat. */
  readonly incomingAmountMsat: bigint;
  /** Amount the next hop is asked to receive, msat. */
  readonly outgoingAmountMsat: bigint;
  /** CLTV expiry of the incoming HTLC, block height. */
  readonly incomingExpiry: number;
  /** CLTV expiry asked of the outgoing HTLC, block height. */
  readonly outgoingExpiry: number;
  /** 32 bytes; not unique per request (MPP parts share it). */
  readonly paymentHash: Uint8Array;
  /** `outgoing_requested_chan_id` as sent (see {@link nextHop} for its meaning). */
  readonly outgoingRequestedChanId: bigint;
  readonly nextHop: NextHop;
  /** The onion packet for the next hop (1366 bytes for a well-formed forward; not checked here). */
  readonly onionBlob: Uint8Array;
  /** Custom records (type >= 65536) of this node's onion payload. */
  readonly customRecords: ReadonlyMap<bigint, Uint8Array>;
  /** Custom records of the peer's `update_add_htlc` wire message. */
  readonly inWireCustomRecords: ReadonlyMap<bigint, Uint8Array>;
  /**
   * Block height at which LND fails the HTLC back by itself to avoid a force close (off-chain). For an
   * HTLC whose incoming channel is already closed on chain it is the settlement deadline instead, and
   * only a SETTLE has any effect (LND >= 0.20.2 / 0.21.1).
   */
  readonly autoFailHeight: number;
}

/** Length of a payment preimage and of a payment hash, bytes. */
export const PREIMAGE_LENGTH = 32;

/** The interceptor's answer for one held HTLC (`ForwardHtlcInterceptResponse`). */
export type InterceptorResponse =
  /** Settle with the preimage (32 bytes). LND checks it against the payment hash. */
  | { readonly kind: 'settle'; readonly circuitKey: NodeCircuitKey; readonly preimage: Uint8Array }
  /** Fail with a failure packet already encrypted by us as the final hop ({@link FAILURE_PACKET_LENGTH} bytes). */
  | { readonly kind: 'failWithMessage'; readonly circuitKey: NodeCircuitKey; readonly failureMessage: Uint8Array }
  /** Fail with a code for LND to turn into a failure it originates (onion errors, temporary failure). */
  | { readonly kind: 'failWithCode'; readonly circuitKey: NodeCircuitKey; readonly code: InterceptorFailureCode }
  /** Let LND forward the HTLC as it would without an interceptor. */
  | { readonly kind: 'resume'; readonly circuitKey: NodeCircuitKey };

/** A block of the node's chain (`chainrpc.BlockEpoch`). */
export interface BlockEpoch {
  /** Block height. */
  readonly height: number;
  /** Block hash, 32 bytes, in the internal byte order LND sends (reverse of the usual hex display). */
  readonly hash: Uint8Array;
}

/** The final resolution of an incoming HTLC (`routerrpc.FinalHtlcEvent`, needs --store-final-htlc-resolutions). */
export interface FinalHtlcEvent {
  readonly circuitKey: NodeCircuitKey;
  /** True if settled, false if failed. */
  readonly settled: boolean;
  /** True if resolved off-chain, false if resolved on chain. */
  readonly offchain: boolean;
  /** When LND recorded it, unix nanoseconds. */
  readonly timestampNs: bigint;
}

/** What `SubscribeHtlcEvents` delivers once decoded: final events, and the rest that we skip. */
export type HtlcEventItem =
  | { readonly kind: 'final'; readonly event: FinalHtlcEvent }
  /** The first message of every subscription: the point from which events are delivered. */
  | { readonly kind: 'subscribed' }
  /** Forward, settle, link-fail events: not final, of no use to lnmux. */
  | { readonly kind: 'other' };

/** The answer of `Lightning.LookupHtlcResolution`. */
export type HtlcResolution =
  | { readonly kind: 'final'; readonly settled: boolean; readonly offchain: boolean }
  /** LND has no final resolution for this HTLC (yet): gRPC NotFound. */
  | { readonly kind: 'notFound' };

/** What lnmux reads from `Lightning.GetInfo`. */
export interface NodeInfo {
  /** 33-byte compressed pubkey, lower-case hex. */
  readonly identityPubkey: string;
  readonly alias: string;
  /** `chains[0].network`: 'mainnet', 'testnet', 'testnet4', 'signet', 'regtest', 'simnet'; '' if absent. */
  readonly network: string;
  /** Block height, as LND sees it. */
  readonly blockHeight: number;
  readonly syncedToChain: boolean;
  /** `--requireinterceptor` */
  readonly requireHtlcInterceptor: boolean;
  /** `--store-final-htlc-resolutions` */
  readonly storeFinalHtlcResolutions: boolean;
  /** Human-readable version string, e.g. '0.21.2-beta commit=v0.21.2-beta'. */
  readonly version: string;
}

/** What lnmux reads from `Versioner.GetVersion`. */
export interface NodeVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** 'beta' for LND releases; 'beta.rc1' and the like for release candidates. */
  readonly preRelease: string;
  /** Full version string, e.g. '0.21.2-beta commit=v0.21.2-beta'. */
  readonly version: string;
  readonly commitHash: string;
}

/** Why a message from LND could not be decoded; names the field. */
export type ConvertError =
  | { readonly kind: 'missingField'; readonly field: string }
  | { readonly kind: 'invalidInteger'; readonly field: string; readonly value: string }
  | { readonly kind: 'invalidLength'; readonly field: string; readonly expected: number; readonly got: number }
  | { readonly kind: 'invalidMapKey'; readonly field: string }
  | { readonly kind: 'invalidType'; readonly field: string };

// ---------------------------------------------------------------------------------------------
// Raw shapes, as proto-loader delivers them (only the fields we use)
// ---------------------------------------------------------------------------------------------

export interface RawCircuitKey {
  readonly chan_id: string;
  readonly htlc_id: string;
}

export interface RawInterceptRequest {
  readonly incoming_circuit_key: RawCircuitKey | null;
  readonly incoming_amount_msat: string;
  readonly incoming_expiry: number;
  readonly payment_hash: Uint8Array;
  readonly outgoing_requested_chan_id: string;
  readonly outgoing_amount_msat: string;
  readonly outgoing_expiry: number;
  readonly custom_records: Readonly<Record<string, Uint8Array>>;
  readonly onion_blob: Uint8Array;
  readonly auto_fail_height: number;
  readonly in_wire_custom_records: Readonly<Record<string, Uint8Array>>;
  readonly outgoing_requested_node_id: Uint8Array;
}

export interface RawInterceptResponse {
  readonly incoming_circuit_key: RawCircuitKey;
  readonly action: 'SETTLE' | 'FAIL' | 'RESUME';
  readonly preimage?: Buffer;
  readonly failure_message?: Buffer;
  readonly failure_code?: InterceptorFailureCode;
}

export interface RawBlockEpoch {
  readonly hash: Uint8Array;
  readonly height: number;
}

export interface RawHtlcEvent {
  readonly incoming_channel_id: string;
  readonly incoming_htlc_id: string;
  readonly timestamp_ns: string;
  readonly event?: string;
  readonly final_htlc_event?: { readonly settled: boolean; readonly offchain: boolean } | null;
}

export interface RawLookupHtlcResolutionRequest {
  readonly chan_id: string;
  readonly htlc_index: string;
}

export interface RawLookupHtlcResolutionResponse {
  readonly settled: boolean;
  readonly offchain: boolean;
}

export interface RawGetInfoResponse {
  readonly identity_pubkey: string;
  readonly alias: string;
  readonly block_height: number;
  readonly synced_to_chain: boolean;
  readonly chains: readonly { readonly network: string }[];
  readonly require_htlc_interceptor: boolean;
  readonly store_final_htlc_resolutions: boolean;
  readonly version: string;
}

export interface RawVersion {
  readonly version: string;
  readonly commit_hash: string;
  readonly app_major: number;
  readonly app_minor: number;
  readonly app_patch: number;
  readonly app_pre_release: string;
}

// ---------------------------------------------------------------------------------------------
// Field decoders
// ---------------------------------------------------------------------------------------------

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const DECIMAL = /^[0-9]{1,20}$/;

/** A u64 from proto-loader's decimal string (or a safe number, as hand-built messages may hold). */
export function decodeU64(value: unknown, field: string): Result<bigint, ConvertError> {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return ok(BigInt(value));
  if (typeof value === 'bigint' && value >= 0n && value <= U64_MAX) return ok(value);
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    return err({ kind: 'invalidInteger', field, value: String(value) });
  }
  const n = BigInt(value);
  return n <= U64_MAX ? ok(n) : err({ kind: 'invalidInteger', field, value });
}

function decodeU32(value: unknown, field: string): Result<number, ConvertError> {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff
    ? ok(value)
    : err({ kind: 'invalidInteger', field, value: String(value) });
}

function decodeI32(value: unknown, field: string): Result<number, ConvertError> {
  return typeof value === 'number' && Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff
    ? ok(value)
    : err({ kind: 'invalidInteger', field, value: String(value) });
}

function decodeBytes(value: unknown, field: string, length?: number): Result<Uint8Array, ConvertError> {
  if (!(value instanceof Uint8Array)) return err({ kind: 'invalidType', field });
  if (length !== undefined && value.length !== length) {
    return err({ kind: 'invalidLength', field, expected: length, got: value.length });
  }
  // A copy: proto-loader's Buffers are views into the received frame, and a plain Uint8Array compares
  // equal to other Uint8Arrays.
  return ok(new Uint8Array(value));
}

function decodeNodeCircuitKey(value: unknown, field: string): Result<NodeCircuitKey, ConvertError> {
  if (value === null || value === undefined || typeof value !== 'object') return err({ kind: 'missingField', field });
  const raw = value as Partial<RawCircuitKey>;
  const chanId = decodeU64(raw.chan_id, `${field}.chan_id`);
  if (!chanId.ok) return chanId;
  const htlcId = decodeU64(raw.htlc_id, `${field}.htlc_id`);
  if (!htlcId.ok) return htlcId;
  return ok({ chanId: chanId.value, htlcId: htlcId.value });
}

/** A key of a protobuf `map<uint64, bytes>`: 8 chars, one per byte, little-endian. */
export function decodeU64MapKey(key: string): bigint | undefined {
  if (key.length !== 8) return undefined;
  let value = 0n;
  for (let i = 7; i >= 0; i--) {
    const code = key.charCodeAt(i);
    if (code > 0xff) return undefined;
    value = (value << 8n) | BigInt(code);
  }
  return value;
}

function decodeRecords(value: unknown, field: string): Result<ReadonlyMap<bigint, Uint8Array>, ConvertError> {
  const records = new Map<bigint, Uint8Array>();
  if (value === undefined || value === null) return ok(records);
  if (typeof value !== 'object') return err({ kind: 'invalidType', field });
  for (const [key, bytes] of Object.entries(value as Record<string, unknown>)) {
    const type = decodeU64MapKey(key);
    if (type === undefined) return err({ kind: 'invalidMapKey', field });
    const decoded = decodeBytes(bytes, `${field}[${type}]`);
    if (!decoded.ok) return decoded;
    records.set(type, decoded.value);
  }
  return ok(records);
}

function asRecord(value: unknown, field: string): Result<Record<string, unknown>, ConvertError> {
  return value !== null && typeof value === 'object'
    ? ok(value as Record<string, unknown>)
    : err({ kind: 'invalidType', field });
}

// ---------------------------------------------------------------------------------------------
// Message decoders (LND -> lnmux)
// ---------------------------------------------------------------------------------------------

/**
 * Decodes a `ForwardHtlcInterceptRequest`. Fails on a missing circuit key, a payment hash that is not
 * 32 bytes, a node id that is neither empty nor 33 bytes, or an integer out of range; the error
 * names the field. `decodeCircuitKeyOf` recovers the circuit key alone, to answer such an HTLC.
 */
export function decodeInterceptRequest(value: unknown): Result<InterceptedHtlc, ConvertError> {
  const rec = asRecord(value, 'ForwardHtlcInterceptRequest');
  if (!rec.ok) return rec;
  const raw = rec.value;
  const circuitKey = decodeNodeCircuitKey(raw['incoming_circuit_key'], 'incoming_circuit_key');
  if (!circuitKey.ok) return circuitKey;
  const incomingAmountMsat = decodeU64(raw['incoming_amount_msat'], 'incoming_amount_msat');
  if (!incomingAmountMsat.ok) return incomingAmountMsat;
  const outgoingAmountMsat = decodeU64(raw['outgoing_amount_msat'], 'outgoing_amount_msat');
  if (!outgoingAmountMsat.ok) return outgoingAmountMsat;
  const incomingExpiry = decodeU32(raw['incoming_expiry'], 'incoming_expiry');
  if (!incomingExpiry.ok) return incomingExpiry;
  const outgoingExpiry = decodeU32(raw['outgoing_expiry'], 'outgoing_expiry');
  if (!outgoingExpiry.ok) return outgoingExpiry;
  const paymentHash = decodeBytes(raw['payment_hash'], 'payment_hash', PREIMAGE_LENGTH);
  if (!paymentHash.ok) return paymentHash;
  const chanId = decodeU64(raw['outgoing_requested_chan_id'], 'outgoing_requested_chan_id');
  if (!chanId.ok) return chanId;
  const onionBlob = decodeBytes(raw['onion_blob'], 'onion_blob');
  if (!onionBlob.ok) return onionBlob;
  const customRecords = decodeRecords(raw['custom_records'], 'custom_records');
  if (!customRecords.ok) return customRecords;
  const inWireCustomRecords = decodeRecords(raw['in_wire_custom_records'], 'in_wire_custom_records');
  if (!inWireCustomRecords.ok) return inWireCustomRecords;
  const autoFailHeight = decodeI32(raw['auto_fail_height'], 'auto_fail_height');
  if (!autoFailHeight.ok) return autoFailHeight;

  // Field 12 is absent (empty) before LND 0.20.3 / 0.21.2 and for every non-blinded forward.
  const rawNodeId = raw['outgoing_requested_node_id'] ?? new Uint8Array(0);
  const nodeId = decodeBytes(rawNodeId, 'outgoing_requested_node_id');
  if (!nodeId.ok) return nodeId;
  let nextHop: NextHop;
  if (nodeId.value.length > 0) {
    if (nodeId.value.length !== 33) {
      return err({ kind: 'invalidLength', field: 'outgoing_requested_node_id', expected: 33, got: nodeId.value.length });
    }
    nextHop = { kind: 'node', nodeId: nodeId.value };
  } else if (chanId.value === 0n) {
    nextHop = { kind: 'exit' };
  } else {
    nextHop = { kind: 'channel', chanId: chanId.value };
  }

  return ok({
    circuitKey: circuitKey.value,
    incomingAmountMsat: incomingAmountMsat.value,
    outgoingAmountMsat: outgoingAmountMsat.value,
    incomingExpiry: incomingExpiry.value,
    outgoingExpiry: outgoingExpiry.value,
    paymentHash: paymentHash.value,
    outgoingRequestedChanId: chanId.value,
    nextHop,
    onionBlob: onionBlob.value,
    customRecords: customRecords.value,
    inWireCustomRecords: inWireCustomRecords.value,
    autoFailHeight: autoFailHeight.value,
  });
}

/** The circuit key of a request that `decodeInterceptRequest` refused, if that part is readable. */
export function decodeCircuitKeyOf(value: unknown): NodeCircuitKey | null {
  if (value === null || typeof value !== 'object') return null;
  const key = decodeNodeCircuitKey((value as Record<string, unknown>)['incoming_circuit_key'], 'incoming_circuit_key');
  return key.ok ? key.value : null;
}

/** Decodes a `chainrpc.BlockEpoch` (hash must be 32 bytes). */
export function decodeBlockEpoch(value: unknown): Result<BlockEpoch, ConvertError> {
  const rec = asRecord(value, 'BlockEpoch');
  if (!rec.ok) return rec;
  const height = decodeU32(rec.value['height'], 'height');
  if (!height.ok) return height;
  const hash = decodeBytes(rec.value['hash'], 'hash', 32);
  if (!hash.ok) return hash;
  return ok({ height: height.value, hash: hash.value });
}

/** Decodes a `routerrpc.HtlcEvent`, keeping only what lnmux uses: final events. */
export function decodeHtlcEvent(value: unknown): Result<HtlcEventItem, ConvertError> {
  const rec = asRecord(value, 'HtlcEvent');
  if (!rec.ok) return rec;
  const raw = rec.value;
  if (raw['event'] === 'subscribed_event') return ok({ kind: 'subscribed' });
  if (raw['event'] !== 'final_htlc_event') return ok({ kind: 'other' });
  const final = asRecord(raw['final_htlc_event'], 'final_htlc_event');
  if (!final.ok) return final;
  const chanId = decodeU64(raw['incoming_channel_id'], 'incoming_channel_id');
  if (!chanId.ok) return chanId;
  const htlcId = decodeU64(raw['incoming_htlc_id'], 'incoming_htlc_id');
  if (!htlcId.ok) return htlcId;
  const timestampNs = decodeU64(raw['timestamp_ns'], 'timestamp_ns');
  if (!timestampNs.ok) return timestampNs;
  return ok({
    kind: 'final',
    event: {
      circuitKey: { chanId: chanId.value, htlcId: htlcId.value },
      settled: final.value['settled'] === true,
      offchain: final.value['offchain'] === true,
      timestampNs: timestampNs.value,
    },
  });
}

/** Decodes a `LookupHtlcResolutionResponse` (the NotFound case is a gRPC status, see `lookup.ts`). */
export function decodeLookupHtlcResolution(value: unknown): Result<HtlcResolution, ConvertError> {
  const rec = asRecord(value, 'LookupHtlcResolutionResponse');
  if (!rec.ok) return rec;
  return ok({ kind: 'final', settled: rec.value['settled'] === true, offchain: rec.value['offchain'] === true });
}

const PUBKEY_HEX = /^0[23][0-9a-f]{64}$/;

/** Decodes a `GetInfoResponse`. Fails if identity_pubkey is not a 33-byte compressed key in hex. */
export function decodeGetInfo(value: unknown): Result<NodeInfo, ConvertError> {
  const rec = asRecord(value, 'GetInfoResponse');
  if (!rec.ok) return rec;
  const raw = rec.value;
  const pubkey = typeof raw['identity_pubkey'] === 'string' ? raw['identity_pubkey'].toLowerCase() : '';
  if (!PUBKEY_HEX.test(pubkey)) return err({ kind: 'invalidType', field: 'identity_pubkey' });
  const blockHeight = decodeU32(raw['block_height'], 'block_height');
  if (!blockHeight.ok) return blockHeight;
  const chains = Array.isArray(raw['chains']) ? (raw['chains'] as unknown[]) : [];
  const first = chains[0] as { network?: unknown } | undefined;
  return ok({
    identityPubkey: pubkey,
    alias: typeof raw['alias'] === 'string' ? raw['alias'] : '',
    network: typeof first?.network === 'string' ? first.network : '',
    blockHeight: blockHeight.value,
    syncedToChain: raw['synced_to_chain'] === true,
    requireHtlcInterceptor: raw['require_htlc_interceptor'] === true,
    storeFinalHtlcResolutions: raw['store_final_htlc_resolutions'] === true,
    version: typeof raw['version'] === 'string' ? raw['version'] : '',
  });
}

/** Decodes a `verrpc.Version`. */
export function decodeVersion(value: unknown): Result<NodeVersion, ConvertError> {
  const rec = asRecord(value, 'Version');
  if (!rec.ok) return rec;
  const raw = rec.value;
  const major = decodeU32(raw['app_major'], 'app_major');
  if (!major.ok) return major;
  const minor = decodeU32(raw['app_minor'], 'app_minor');
  if (!minor.ok) return minor;
  const patch = decodeU32(raw['app_patch'], 'app_patch');
  if (!patch.ok) return patch;
  return ok({
    major: major.value,
    minor: minor.value,
    patch: patch.value,
    preRelease: typeof raw['app_pre_release'] === 'string' ? raw['app_pre_release'] : '',
    version: typeof raw['version'] === 'string' ? raw['version'] : '',
    commitHash: typeof raw['commit_hash'] === 'string' ? raw['commit_hash'] : '',
  });
}

// ---------------------------------------------------------------------------------------------
// Encoders (lnmux -> LND)
// ---------------------------------------------------------------------------------------------

function encodeNodeCircuitKey(key: NodeCircuitKey): RawCircuitKey {
  if (key.chanId < 0n || key.chanId > U64_MAX) throw new RangeError(`circuitKey.chanId out of u64 range: ${key.chanId}`);
  if (key.htlcId < 0n || key.htlcId > U64_MAX) throw new RangeError(`circuitKey.htlcId out of u64 range: ${key.htlcId}`);
  return { chan_id: key.chanId.toString(), htlc_id: key.htlcId.toString() };
}

/**
 * Encodes an interceptor response as LND's `ForwardHtlcInterceptResponse`. Throws RangeError for a
 * preimage that is not 32 bytes, a failure message that is not {@link FAILURE_PACKET_LENGTH} bytes,
 * or a circuit key out of u64 range: LND would end the stream for the first two.
 */
export function encodeInterceptResponse(response: InterceptorResponse): RawInterceptResponse {
  const incoming_circuit_key = encodeNodeCircuitKey(response.circuitKey);
  switch (response.kind) {
    case 'settle':
      if (response.preimage.length !== PREIMAGE_LENGTH) {
        throw new RangeError(`preimage must be ${PREIMAGE_LENGTH} bytes, got ${response.preimage.length}`);
      }
      return { incoming_circuit_key, action: 'SETTLE', preimage: Buffer.from(response.preimage) };
    case 'failWithMessage':
      if (response.failureMessage.length !== FAILURE_PACKET_LENGTH) {
        throw new RangeError(
          `failureMessage must be ${FAILURE_PACKET_LENGTH} bytes, got ${response.failureMessage.length}`,
        );
      }
      // failure_code stays 0 (RESERVED): LND refuses a message together with a code.
      return { incoming_circuit_key, action: 'FAIL', failure_message: Buffer.from(response.failureMessage) };
    case 'failWithCode':
      if (!INTERCEPTOR_FAILURE_CODES.includes(response.code)) {
        throw new RangeError(`failure code not accepted by LND's interceptor: ${String(response.code)}`);
      }
      return { incoming_circuit_key, action: 'FAIL', failure_code: response.code };
    case 'resume':
      return { incoming_circuit_key, action: 'RESUME' };
    default: {
      const never: never = response;
      throw new TypeError(`unknown interceptor response kind: ${(never as { kind: string }).kind}`);
    }
  }
}

/** Encodes a `LookupHtlcResolutionRequest` for the HTLC with this circuit key. */
export function encodeLookupHtlcResolution(key: NodeCircuitKey): RawLookupHtlcResolutionRequest {
  const raw = encodeNodeCircuitKey(key);
  return { chan_id: raw.chan_id, htlc_index: raw.htlc_id };
}

/** A human-readable description of a decode error, naming the field. */
export function describeConvertError(error: ConvertError): string {
  switch (error.kind) {
    case 'missingField':
      return `${error.field}: missing`;
    case 'invalidInteger':
      return `${error.field}: not an integer in range: ${error.value}`;
    case 'invalidLength':
      return `${error.field}: expected ${error.expected} bytes, got ${error.got}`;
    case 'invalidMapKey':
      return `${error.field}: a key is not a u64`;
    case 'invalidType':
      return `${error.field}: wrong type`;
    default: {
      const never: never = error;
      return String(never);
    }
  }
}
