/**
 * The read side of a server-streaming (or bidirectional) gRPC call as an async iterator of decoded
 * items, with a promise saying how the stream ended. Shared by the interceptor, block and HTLC event
 * streams.
 */
import type * as grpc from '@grpc/grpc-js';
import { AsyncQueue } from './async-queue.js';
import { classifyRpcError, type RpcFailure } from './rpc-error.js';

/** Why we cancel a stream ourselves. */
export type CancelReason =
  /** The gateway is stopping, or the node session is being torn down. */
  | 'stopped'
  /** The stream looked stuck (a write not completed in time, blocks lagging behind GetInfo). */
  | 'stuck';

/** How a stream ended. */
export type StreamEnd =
  | { readonly kind: 'cancelled'; readonly reason: CancelReason }
  /** The server or the transport ended it with an error status. */
  | { readonly kind: 'failed'; readonly failure: RpcFailure }
  /** The server ended it with status OK (LND's streams are endless: unexpected, treated like a failure). */
  | { readonly kind: 'completed' };

/** A readable gRPC stream, decoded. Iterate it once; it ends when the stream ends. */
export interface StreamReader<T> extends AsyncIterable<T> {
  /** Resolves once, when the stream has ended, with why. Never rejects. */
  readonly ended: Promise<StreamEnd>;
  /** How it ended, or undefined while it runs. */
  readonly end: StreamEnd | undefined;
  /** Number of messages received so far. */
  readonly received: number;
  /**
   * Resolves true once the server answered the call: its response headers (metadata) or a first
   * message arrived; false if the call ended before either. LND sends neither on its streams until
   * it has something to send, so a caller that needs "accepted" earlier adds a grace period
   * (see the gateway's stream loop).
   */
  readonly accepted: Promise<boolean>;
  /** Cancels the call (idempotent; a no-op once ended). */
  cancel(reason: CancelReason): void;
}

type ReadableCall = grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>;

/**
 * Wraps `call`: every message goes through `decode` (which must not throw) into the iterator.
 * Leaving the `for await` early cancels the call ('stopped').
 */
export function readStream<T>(call: ReadableCall, decode: (raw: unknown) => T): StreamReader<T> {
  let end: StreamEnd | undefined;
  let cancelReason: CancelReason | undefined;
  let received = 0;
  let resolveEnded!: (end: StreamEnd) => void;
  const ended = new Promise<StreamEnd>((resolve) => {
    resolveEnded = resolve;
  });

  const cancel = (reason: CancelReason): void => {
    if (end || cancelReason) return;
    cancelReason = reason;
    call.cancel();
  };
  const queue = new AsyncQueue<T>(() => cancel('stopped'));
  let resolveAccepted!: (accepted: boolean) => void;
  const accepted = new Promise<boolean>((resolve) => {
    resolveAccepted = resolve;
  });

  const finish = (value: StreamEnd): void => {
    if (end) return;
    end = value;
    resolveAccepted(false);
    queue.close();
    resolveEnded(value);
  };

  call.on('data', (raw: unknown) => {
    if (end) return;
    received++;
    resolveAccepted(true);
    queue.push(decode(raw));
  });
  call.on('metadata', () => resolveAccepted(true));
  call.on('error', (error: unknown) => {
    const failure = classifyRpcError(error);
    finish(cancelReason ? { kind: 'cancelled', reason: cancelReason } : { kind: 'failed', failure });
  });
  call.on('status', (status: grpc.StatusObject) => {
    // 'error' comes for every non-OK status; 'status' alone means OK.
    if (status.code === 0) finish(cancelReason ? { kind: 'cancelled', reason: cancelReason } : { kind: 'completed' });
  });
  call.on('end', () => {
    // 'end' can precede 'status'; the status decides. Nothing to do here.
  });

  return {
    ended,
    accepted,
    get end() {
      return end;
    },
    get received() {
      return received;
    },
    cancel,
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  };
}
