/**
 * `Lightning.LookupHtlcResolution`: the final resolution LND stored for an incoming HTLC
 * (rpcserver.go). NotFound means no final resolution yet; Unavailable means LND runs without
 * `--store-final-htlc-resolutions` (which the checks refuse).
 */
import { err, ok, type NodeCircuitKey, type Result } from '../protocol/index.js';
import type { LndConnection } from './connection.js';
import {
  decodeLookupHtlcResolution,
  encodeLookupHtlcResolution,
  type ConvertError,
  type HtlcResolution,
} from './convert.js';
import { classifyRpcError, type RpcFailure } from './rpc-error.js';
import { unary } from './unary.js';

/** Why a lookup gave no answer. */
export type LookupFailure =
  | { readonly kind: 'rpcFailed'; readonly failure: RpcFailure }
  | { readonly kind: 'malformedResponse'; readonly error: ConvertError }
  /** The gateway has no connection to the node right now. */
  | { readonly kind: 'notConnected' };

/** Asks LND for the final resolution of the HTLC `key`. Never rejects. */
export async function lookupHtlcResolution(
  connection: LndConnection,
  key: NodeCircuitKey,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Result<HtlcResolution, LookupFailure>> {
  let raw: unknown;
  try {
    raw = await unary(connection.lightning, 'LookupHtlcResolution', encodeLookupHtlcResolution(key), timeoutMs, signal);
  } catch (error) {
    const failure = classifyRpcError(error);
    if (failure.kind === 'notFound') return ok({ kind: 'notFound' });
    return err({ kind: 'rpcFailed', failure });
  }
  const decoded = decodeLookupHtlcResolution(raw);
  return decoded.ok ? decoded : err({ kind: 'malformedResponse', error: decoded.error });
}
