/**
 * gRPC statuses of the daemon's API: an {@link ApiError} carries the code and a message that names the
 * field at fault, and the request readers here refuse every bad input with INVALID_ARGUMENT before a
 * handler uses it (docs/api.md lists the statuses of each RPC).
 */
import { status, type ServiceError } from '@grpc/grpc-js';

/** An expected refusal: answered with its gRPC code and message, logged at debug only. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** INVALID_ARGUMENT naming `field`. */
export function invalidArgument(field: string, message: string): ApiError {
  return new ApiError(status.INVALID_ARGUMENT, `${field}: ${message}`);
}

/** What grpc-js sends for `error`: an ApiError as it is, anything else as INTERNAL. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  if (error instanceof ApiError) return { code: error.code, details: error.message, message: error.message };
  const message = `internal error: ${error instanceof Error ? error.message : String(error)}`;
  return { code: status.INTERNAL, details: message, message };
}

/** The 32-byte `bytes` field `field` of a request (a hash, a set id). */
export function bytes32(request: Readonly<Record<string, unknown>>, field: string): Uint8Array {
  const value = request[field];
  if (!(value instanceof Uint8Array) || value.length === 0) throw invalidArgument(field, 'expected 32 bytes, got none');
  if (value.length !== 32) throw invalidArgument(field, `expected 32 bytes, got ${value.length}`);
  return Uint8Array.from(value);
}

/** An int64 / uint64 field, which the loader gives as a decimal string (protos.ts). */
export function integer(request: Readonly<Record<string, unknown>>, field: string): bigint {
  const value = request[field];
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw invalidArgument(field, `expected an integer, got ${JSON.stringify(value)}`);
}
