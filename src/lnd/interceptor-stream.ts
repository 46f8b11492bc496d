/**
 * `Router.HtlcInterceptor`: LND offers each HTLC it holds, we answer each by its circuit key.
 *
 * What LND does (lnrpc/routerrpc/forward_interceptor.go, htlcswitch/interceptable_switch.go,
 * htlcswitch/held_htlc_set.go, v0.21.2-beta):
 * - One interceptor stream per node; a second one fails at once with "interceptor already exists".
 * - With `--requireinterceptor`, an HTLC that arrives while no interceptor is connected is failed (if
 *   new) or held (if replayed from LND's own restart), and every held HTLC is offered again, with the
 *   same circuit key, when an interceptor connects. So the same circuit key can come more than once:
 *   answers must be idempotent.
 * - A response for a circuit key LND no longer holds ("forward does not exist"), a FAIL with both a
 *   message and a code, a failure message that is not 292 bytes, a code LND does not accept, a preimage
 *   that does not match, and a FAIL or RESUME for an HTLC whose channel is closed on chain all END THE
 *   STREAM with an error; the HTLCs still held are offered again on the next stream.
 * - LND never acknowledges a response. A write that completed only means the bytes went to the
 *   transport; the proof that LND applied it is the final HTLC event (or LookupHtlcResolution).
 */
import type * as grpc from '@grpc/grpc-js';
import { err, ok, type NodeCircuitKey, type Result } from '../protocol/index.js';
import { type Clock, systemClock } from '../shell/clock.js';
import type { LndConnection } from './connection.js';
import {
  decodeCircuitKeyOf,
  decodeInterceptRequest,
  encodeInterceptResponse,
  type ConvertError,
  type InterceptedHtlc,
  type InterceptorResponse,
} from './convert.js';
import { readStream, type CancelReason, type StreamEnd, type StreamReader } from './stream-reader.js';

/** What the interceptor stream yields. */
export type InterceptorItem =
  | { readonly kind: 'htlc'; readonly htlc: InterceptedHtlc }
  /**
   * LND sent a request we cannot read. With a circuit key, it can still be answered (FAIL); without one
   * it cannot be answered at all and LND will auto-fail it at its auto_fail_height.
   */
  | { readonly kind: 'malformed'; readonly circuitKey: NodeCircuitKey | null; readonly error: ConvertError };

/** Why a response was not handed to the transport. Never assume such a response reached LND. */
export type SendFailure =
  /** The stream had ended (or ended before the write completed). */
  | { readonly kind: 'streamEnded'; readonly end: StreamEnd }
  /** The write did not complete within the write timeout; the stream is cancelled as stuck. */
  | { readonly kind: 'writeTimeout'; readonly timeoutMs: number }
  /** The local stream refused the write (already destroyed). */
  | { readonly kind: 'writeFailed'; readonly details: string };

/** The outcome of `send`: ok when the response was handed to the transport of a live stream. */
export type SendResult = Result<void, SendFailure>;

/** One interceptor session. Iterate it for the HTLCs; answer with `send`. */
export interface InterceptorStream extends StreamReader<InterceptorItem> {
  /**
   * Sends `response` and resolves when it has been written to the transport (ok) or could not be
   * (err, with why). Never rejects; throws RangeError at once for a response LND would refuse for its
   * shape (wrong preimage or failure message length).
   */
  send(response: InterceptorResponse): Promise<SendResult>;
  /** Responses whose write has not completed yet. */
  readonly pendingWrites: number;
}

export interface InterceptorStreamOptions {
  /** A write that does not complete within this many ms marks the stream stuck (default 10 s). */
  readonly writeTimeoutMs?: number;
  readonly clock?: Clock;
}

/** Default write timeout, ms: HTTP/2 flow control stalls a write only when LND stopped reading. */
export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;

function decodeItem(raw: unknown): InterceptorItem {
  const decoded = decodeInterceptRequest(raw);
  if (decoded.ok) return { kind: 'htlc', htlc: decoded.value };
  return { kind: 'malformed', circuitKey: decodeCircuitKeyOf(raw), error: decoded.error };
}

/** Opens `Router.HtlcInterceptor` on `connection`. The call starts at once; LND registers us when it arrives. */
export function openInterceptorStream(
  connection: LndConnection,
  options: InterceptorStreamOptions = {},
): InterceptorStream {
  const clock = options.clock ?? systemClock;
  const writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
  const call = (connection.router as unknown as { HtlcInterceptor(): grpc.ClientDuplexStream<unknown, unknown> })
    .HtlcInterceptor();
  const reader = readStream(call, decodeItem);
  const pending = new Set<(end: StreamEnd) => void>();

  void reader.ended.then((end) => {
    for (const fail of [...pending]) fail(end);
  });

  const send = (response: InterceptorResponse): Promise<SendResult> => {
    const raw = encodeInterceptResponse(response); // throws RangeError on a malformed response
    const endNow = reader.end;
    if (endNow) return Promise.resolve(err({ kind: 'streamEnded', end: endNow }));
    return new Promise<SendResult>((resolve) => {
      let done = false;
      const finish = (result: SendResult): void => {
        if (done) return;
        done = true;
        cancelTimer();
        pending.delete(onEnd);
        resolve(result);
      };
      const onEnd = (end: StreamEnd): void => finish(err({ kind: 'streamEnded', end }));
      pending.add(onEnd);
      const cancelTimer = clock.timer(writeTimeoutMs, () => {
        finish(err({ kind: 'writeTimeout', timeoutMs: writeTimeoutMs }));
        reader.cancel('stuck');
      });
      try {
        call.write(raw, (error: Error | null | undefined) => {
          if (error) return finish(err({ kind: 'writeFailed', details: error.message }));
          // grpc-js calls back even when the transport write failed, after ending the call with
          // UNAVAILABLE; the status reaches us a turn later. Look again then.
          setImmediate(() => {
            const end = reader.end;
            finish(end ? err({ kind: 'streamEnded', end }) : ok(undefined));
          });
        });
      } catch (error) {
        finish(err({ kind: 'writeFailed', details: (error as Error).message }));
      }
    });
  };

  return {
    ended: reader.ended,
    accepted: reader.accepted,
    get end() {
      return reader.end;
    },
    get received() {
      return reader.received;
    },
    get pendingWrites() {
      return pending.size;
    },
    cancel: (reason: CancelReason) => reader.cancel(reason),
    send,
    [Symbol.asyncIterator]: () => reader[Symbol.asyncIterator](),
  };
}
