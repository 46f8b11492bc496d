/**
 * The API's request count, `lnmux_api_requests_total{method, code}`, on the registry `lnmux run` gives
 * (no global metric: docs/library.md). Counted by a server interceptor placed before the macaroon check,
 * so that refused calls (UNAUTHENTICATED, PERMISSION_DENIED) count too, with the status code they got.
 */
import * as grpc from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';

/** A grpc status code's name (OK, UNAUTHENTICATED, ...), as the metric's `code` label. */
function codeName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}

/** Registers the counter on `registry` and returns the interceptor that counts each call once, at its status. */
export function apiMetricsInterceptor(registry: Registry): grpc.ServerInterceptor {
  const requests = new Counter({
    name: 'lnmux_api_requests_total',
    help: 'gRPC API calls by method (e.g. AddInvoice) and status code (OK, UNAUTHENTICATED, ...), counted when the call ends',
    labelNames: ['method', 'code'],
    registers: [registry],
  });
  return (method, call) => {
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    return new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        requests.inc({ method: name, code: codeName(status.code) });
        next(status);
      },
    });
  };
}
