/**
 * A minimal HtlcInterceptor client over plain grpc-js, for the checks: it queues what LND offers, sends
 * what it is told to, and records how the stream ended (the gRPC status LND closed it with).
 */
import type { LndRpc } from './lnd-rpc.js';
import { describeGrpcError } from './lnd-rpc.js';

/** ForwardHtlcInterceptRequest as proto-loader decodes it (uint64 as decimal strings, bytes as Buffer). */
export interface InterceptRequest {
  incoming_circuit_key: { chan_id: string; htlc_id: string };
  incoming_amount_msat: string;
  incoming_expiry: number;
  payment_hash: Buffer;
  outgoing_requested_chan_id: string;
  outgoing_amount_msat: string;
  outgoing_expiry: number;
  custom_records: Record<string, Buffer>;
  onion_blob: Buffer;
  auto_fail_height: number;
  in_wire_custom_records: Record<string, Buffer>;
  outgoing_requested_node_id: Buffer;
}

/** How the stream ended: cleanly, or with a gRPC status. */
export type StreamEnd = { kind: 'ended' } | { kind: 'error'; code: string; details: string };

export class Interceptor {
  private readonly queue: InterceptRequest[] = [];
  private readonly waiters: ((request: InterceptRequest) => void)[] = [];
  private endResult: StreamEnd | undefined;
  private readonly endWaiters: ((end: StreamEnd) => void)[] = [];
  private readonly stream;
  /** Every request received, in order. */
  readonly received: InterceptRequest[] = [];

  constructor(rpc: LndRpc, private readonly label = 'interceptor') {
    this.stream = rpc.duplex('router', 'HtlcInterceptor');
    this.stream.on('data', (message: unknown) => {
      const request = message as InterceptRequest;
      this.received.push(request);
      const waiter = this.waiters.shift();
      if (waiter) waiter(request);
      else this.queue.push(request);
    });
    this.stream.on('error', (error: unknown) => this.finish({ kind: 'error', ...describeGrpcError(error) }));
    this.stream.on('end', () => this.finish({ kind: 'ended' }));
  }

  /** The next request LND offers; rejects after `timeoutMs` or when the stream ends first. */
  next(timeoutMs = 30_000): Promise<InterceptRequest> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.endResult) return Promise.reject(new Error(`${this.label}: stream ended (${JSON.stringify(this.endResult)})`));
    return new Promise<InterceptRequest>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(onRequest);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: no HTLC offered within ${timeoutMs} ms`));
      }, timeoutMs);
      const onRequest = (request: InterceptRequest): void => {
        clearTimeout(timer);
        resolve(request);
      };
      this.waiters.push(onRequest);
      void this.ended().then((end) => {
        const i = this.waiters.indexOf(onRequest);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        clearTimeout(timer);
        reject(new Error(`${this.label}: stream ended (${JSON.stringify(end)})`));
      });
    });
  }

  /** Whether a request arrives within `ms` (without consuming it). */
  async offersWithin(ms: number): Promise<boolean> {
    if (this.queue.length > 0) return true;
    const before = this.received.length;
    await new Promise((resolve) => setTimeout(resolve, ms)); // the point: whether anything arrives within the window
    return this.received.length > before;
  }

  /** Sends a ForwardHtlcInterceptResponse. */
  send(response: object): void {
    this.stream.write(response);
  }

  /** RESUME for a request. */
  resume(request: InterceptRequest): void {
    this.send({ incoming_circuit_key: request.incoming_circuit_key, action: 'RESUME' });
  }

  /** Resolves with how the stream ended. */
  ended(): Promise<StreamEnd> {
    if (this.endResult) return Promise.resolve(this.endResult);
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  /** The end if it has come within `ms`, else undefined (stream still open). */
  async endedWithin(ms: number): Promise<StreamEnd | undefined> {
    return await Promise.race([this.ended(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
  }

  /** Cancels the stream from our side (a client disconnect) and waits for it to end. */
  async close(): Promise<void> {
    if (this.endResult) return;
    this.stream.cancel();
    await this.ended();
  }

  private finish(end: StreamEnd): void {
    if (this.endResult) return;
    this.endResult = end;
    for (const waiter of this.endWaiters.splice(0)) waiter(end);
  }
}

/** A request as a JSON-able record (bytes as hex, the onion as its length and first bytes). */
export function describeRequest(request: InterceptRequest): Record<string, unknown> {
  const hexMap = (m: Record<string, Buffer>): Record<string, string> =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [Buffer.from(k, 'latin1').length === 8 ? Buffer.from(k, 'latin1').readBigUInt64LE().toString() : k, v.toString('hex')]));
  return {
    incoming_circuit_key: request.incoming_circuit_key,
    incoming_amount_msat: request.incoming_amount_msat,
    incoming_expiry: request.incoming_expiry,
    payment_hash: request.payment_hash.toString('hex'),
    outgoing_requested_chan_id: request.outgoing_requested_chan_id,
    outgoing_amount_msat: request.outgoing_amount_msat,
    outgoing_expiry: request.outgoing_expiry,
    custom_records: hexMap(request.custom_records),
    onion_blob: `${request.onion_blob.length} bytes, version byte ${request.onion_blob[0] ?? 'none'}`,
    auto_fail_height: request.auto_fail_height,
    in_wire_custom_records: hexMap(request.in_wire_custom_records),
    outgoing_requested_node_id: request.outgoing_requested_node_id.toString('hex'),
  };
}
