/**
 * Translation between routerrpc's interceptor messages and the switch's types, with the checks
 * LND's lnrpc/routerrpc/forward_interceptor.go (v0.21.2-beta) makes on every response, and the
 * gRPC status each violation ends the stream with.
 */
import { status } from '@grpc/grpc-js';
import { decodeU64MapKey } from '../lnd/index.js';
import { err, FAILURE_PACKET_LENGTH, INTERCEPTOR_FAILURE_CODES, ok, type InterceptorFailureCode, type NodeCircuitKey, type Result } from '../protocol/index.js';
import type { FwdResolution, SwitchFailCode } from './interceptable-switch.js';
import { MIN_CUSTOM_RECORD_TYPE } from './onion-link.js';

/** A gRPC status an LND handler ends a call with. */
export interface LndStatus {
  readonly code: status;
  readonly details: string;
}

/** A Go error that is not a gRPC status reaches the client as UNKNOWN with its text. */
export const goError = (details: string): LndStatus => ({ code: status.UNKNOWN, details });

/** Reads a uint64 decoded by proto-loader (decimal string with `longs: String`). */
export function u64(value: unknown): bigint {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return BigInt(value);
  return 0n;
}

/** The switch failure each failure code an interceptor may send asks for (forward_interceptor.go). */
const SWITCH_FAIL_CODE: Readonly<Record<InterceptorFailureCode, SwitchFailCode>> = {
  TEMPORARY_CHANNEL_FAILURE: 'temporaryChannelFailure',
  INVALID_ONION_VERSION: 'invalidOnionVersion',
  INVALID_ONION_HMAC: 'invalidOnionHmac',
  INVALID_ONION_KEY: 'invalidOnionKey',
};

/**
 * The switch failure for a FAIL without failure_message: RESERVED (the enum's zero, i.e. no code
 * set) means temporary_channel_failure, as in LND; undefined for a code LND does not accept.
 */
function switchFailCode(failureCode: string): SwitchFailCode | undefined {
  if (failureCode === 'RESERVED') return 'temporaryChannelFailure';
  const accepted: readonly string[] = INTERCEPTOR_FAILURE_CODES;
  return accepted.includes(failureCode) ? SWITCH_FAIL_CODE[failureCode as InterceptorFailureCode] : undefined;
}

/** The fields of a ForwardHtlcInterceptResponse as proto-loader decodes them (PROTO_LOADER_OPTIONS, src/lnd/protos.ts). */
export interface InterceptResponseMessage {
  readonly incoming_circuit_key?: { readonly chan_id?: unknown; readonly htlc_id?: unknown } | null;
  readonly action?: string | number;
  readonly preimage?: Uint8Array;
  readonly failure_message?: Uint8Array;
  readonly failure_code?: string | number;
  readonly in_amount_msat?: unknown;
  readonly out_amount_msat?: unknown;
  readonly out_wire_custom_records?: Readonly<Record<string, Uint8Array>>;
}

/**
 * Validates a response like forward_interceptor.go's resolveFromClient. An error is the status
 * that ends the interceptor stream.
 */
export function parseInterceptResponse(message: InterceptResponseMessage): Result<{ key: NodeCircuitKey; resolution: FwdResolution }, LndStatus> {
  const circuit = message.incoming_circuit_key;
  if (circuit === undefined || circuit === null) {
    return err({ code: status.INVALID_ARGUMENT, details: 'CircuitKey missing from ForwardHtlcInterceptResponse' });
  }
  const key: NodeCircuitKey = { chanId: u64(circuit.chan_id), htlcId: u64(circuit.htlc_id) };
  const preimage = message.preimage ?? new Uint8Array(0);
  const failureMessage = message.failure_message ?? new Uint8Array(0);
  const failureCode = message.failure_code ?? 'RESERVED';
  switch (message.action ?? 'SETTLE') {
    case 'RESUME':
      return ok({ key, resolution: { action: 'resume' } });
    case 'RESUME_MODIFIED': {
      for (const type of Object.keys(message.out_wire_custom_records ?? {})) {
        // protobufjs always gives a uint64 map key as 8 chars; anything else cannot come off the wire.
        const value = decodeU64MapKey(type);
        if (value === undefined || value < MIN_CUSTOM_RECORD_TYPE) {
          return err({
            code: status.INVALID_ARGUMENT,
            details: `failed to validate custom records: custom records entry with TLV type below min: ${MIN_CUSTOM_RECORD_TYPE}`,
          });
        }
      }
      const inAmountMsat = u64(message.in_amount_msat);
      const outAmountMsat = u64(message.out_amount_msat);
      return ok({
        key,
        resolution: {
          action: 'resumeModified',
          ...(inAmountMsat > 0n ? { inAmountMsat } : {}),
          ...(outAmountMsat > 0n ? { outAmountMsat } : {}),
        },
      });
    }
    case 'FAIL': {
      if (failureMessage.length > 0) {
        if (failureCode !== 'RESERVED' && failureCode !== 0) {
          return err({ code: status.INVALID_ARGUMENT, details: 'failure message and failure code are mutually exclusive' });
        }
        if (failureMessage.length !== FAILURE_PACKET_LENGTH) {
          return err({ code: status.INVALID_ARGUMENT, details: 'failure message length invalid' });
        }
        return ok({ key, resolution: { action: 'fail', failureMessage: Uint8Array.from(failureMessage) } });
      }
      const code = switchFailCode(String(failureCode));
      if (code === undefined) return err({ code: status.INVALID_ARGUMENT, details: `unsupported failure code: ${String(failureCode)}` });
      return ok({ key, resolution: { action: 'failWithCode', code } });
    }
    case 'SETTLE':
      if (preimage.length === 0) return err(goError('missing preimage'));
      if (preimage.length !== 32) return err(goError(`invalid preimage length of ${preimage.length}, want 32`));
      return ok({ key, resolution: { action: 'settle', preimage: Uint8Array.from(preimage) } });
    default:
      return err({ code: status.INVALID_ARGUMENT, details: `unrecognized resolve action ${String(message.action)}` });
  }
}

/** What the switch offers an interceptor, before translation to a ForwardHtlcInterceptRequest. */
export interface InterceptedHtlc {
  readonly key: NodeCircuitKey;
  readonly paymentHash: Uint8Array;
  readonly incomingAmountMsat: bigint;
  /** Block height. */
  readonly incomingExpiry: number;
  readonly outgoingRequestedChanId: bigint;
  readonly outgoingAmountMsat: bigint;
  /** Block height. */
  readonly outgoingExpiry: number;
  /** In-onion records of type >= 65536. */
  readonly customRecords: ReadonlyMap<bigint, Uint8Array>;
  /** The 1366-byte onion for the next hop. */
  readonly onionBlob: Uint8Array;
}

/** A ForwardHtlcInterceptRequest object for grpc-js (uint64 as decimal strings, bytes as Buffer). */
export function interceptRequestMessage(htlc: InterceptedHtlc, autoFailHeight: number): Record<string, unknown> {
  const customRecords: Record<string, Buffer> = {};
  for (const [type, value] of htlc.customRecords) customRecords[type.toString()] = Buffer.from(value);
  return {
    incoming_circuit_key: { chan_id: htlc.key.chanId.toString(), htlc_id: htlc.key.htlcId.toString() },
    incoming_amount_msat: htlc.incomingAmountMsat.toString(),
    incoming_expiry: htlc.incomingExpiry,
    payment_hash: Buffer.from(htlc.paymentHash),
    outgoing_requested_chan_id: htlc.outgoingRequestedChanId.toString(),
    outgoing_amount_msat: htlc.outgoingAmountMsat.toString(),
    outgoing_expiry: htlc.outgoingExpiry,
    custom_records: customRecords,
    onion_blob: Buffer.from(htlc.onionBlob),
    auto_fail_height: autoFailHeight,
    in_wire_custom_records: {},
    outgoing_requested_node_id: Buffer.alloc(0),
  };
}
