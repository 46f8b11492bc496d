/**
 * gRPC failures from LND, classified. LND returns most errors as plain Go errors, which gRPC sends
 * with status UNKNOWN and the error's text; a few (NotFound, Unavailable, InvalidArgument) carry a
 * real code. Where LND gives no code, the class is read from LND's own error text, quoted below from
 * LND v0.21.2-beta; that text is LND's API in practice (lncli and every client depend on it).
 */
import { status as Status, type ServiceError } from '@grpc/grpc-js';

/** A failed gRPC call or stream, classified for the gateway's decisions. */
export interface RpcFailure {
  readonly kind:
    /** The macaroon is missing, malformed, for another node, or lacks a permission. */
    | 'unauthenticated'
    /** Another interceptor stream is open on the node (one at a time: router_server.go). */
    | 'interceptorAlreadyExists'
    /** No connection: refused, TLS failure, keepalive timeout, server shut down. */
    | 'unavailable'
    /** The call's deadline passed (a probe or lookup took too long). */
    | 'deadlineExceeded'
    /** We cancelled the call. */
    | 'cancelled'
    /** LND answered not found (LookupHtlcResolution: no final resolution yet). */
    | 'notFound'
    /** Anything else: LND refused a response (InvalidArgument, unknown circuit key, ...), internal errors. */
    | 'other';
  /** The gRPC status code (number, see grpc.status). */
  readonly code: number;
  /** The status details: LND's error text. */
  readonly details: string;
}

/**
 * LND's macaroon failures, all sent with status UNKNOWN:
 * - macaroons/service.go `RawMacaroonFromContext`: "expected 1 macaroon, got N",
 * - macaroon-bakery `Checker.Allow`: "verification failed: ...", "permission denied",
 * - macaroons/service.go: "cannot get macaroon: root key with id X doesn't exist", unknown
 *   version/invalid id ("invalid macaroon ID", "unknown macaroon version"), hex decode errors
 *   ("encoding/hex: invalid byte").
 */
const LND_AUTH_TEXT =
  /expected 1 macaroon|verification failed|permission denied|cannot get macaroon|root key with id|invalid macaroon|unknown macaroon|macaroon|encoding\/hex/i;

/** LND's `ErrInterceptorAlreadyExists` (lnrpc/routerrpc/router_server.go). */
const LND_INTERCEPTOR_EXISTS_TEXT = /interceptor already exists/i;

/** Classifies an error thrown or emitted by a grpc-js call. Anything that is not a ServiceError is 'other'. */
export function classifyRpcError(error: unknown): RpcFailure {
  const e = error as Partial<ServiceError> | null;
  const code = typeof e?.code === 'number' ? e.code : Status.UNKNOWN;
  const details =
    typeof e?.details === 'string' && e.details !== ''
      ? e.details
      : error instanceof Error
        ? error.message
        : String(error);
  return { kind: kindOf(code, details), code, details };
}

function kindOf(code: number, details: string): RpcFailure['kind'] {
  switch (code) {
    case Status.UNAUTHENTICATED:
    case Status.PERMISSION_DENIED:
      return 'unauthenticated';
    case Status.UNAVAILABLE:
      return 'unavailable';
    case Status.DEADLINE_EXCEEDED:
      return 'deadlineExceeded';
    case Status.CANCELLED:
      return 'cancelled';
    case Status.NOT_FOUND:
      return 'notFound';
    case Status.UNKNOWN:
      if (LND_INTERCEPTOR_EXISTS_TEXT.test(details)) return 'interceptorAlreadyExists';
      if (LND_AUTH_TEXT.test(details)) return 'unauthenticated';
      return 'other';
    default:
      return 'other';
  }
}

/** `UNAVAILABLE: connection refused` and the like, for logs. */
export function describeRpcFailure(failure: RpcFailure): string {
  const name = Status[failure.code] ?? String(failure.code);
  return `${name}: ${failure.details}`;
}
