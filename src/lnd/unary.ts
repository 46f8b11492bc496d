/** A unary gRPC call as a promise, with a deadline and cancellation. */
import type * as grpc from '@grpc/grpc-js';

type UnaryMethod = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

/**
 * Calls unary `method` of `client` with `request`; resolves with the raw response, rejects with the
 * grpc-js ServiceError (DEADLINE_EXCEEDED after `timeoutMs`, CANCELLED when `signal` aborts).
 * Throws TypeError if the client has no such method (a programming error).
 */
export function unary(
  client: grpc.Client,
  method: string,
  request: unknown,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<unknown> {
  const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
  if (typeof fn !== 'function') throw new TypeError(`no unary method ${method} on this client`);
  return new Promise((resolve, reject) => {
    const call = fn.call(client, request, { deadline: Date.now() + timeoutMs }, (error, response) => {
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response);
    });
    const onAbort = (): void => call.cancel();
    if (signal?.aborted) call.cancel();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
