/**
 * Payments from B for the harness: an invoice through Router.SendPaymentV2 (LND picks the route, MPP
 * allowed), or an explicit route through Router.SendToRouteV2.
 */
import type { LndRpc } from './lnd-rpc.js';

/** lnrpc.Failure as proto-loader decodes it (the fields the harness reads). */
export interface Failure {
  code: string;
  failure_source_index: number;
  htlc_msat: string;
  height: number;
  cltv_expiry: number;
  channel_update: { chan_id: string } | null;
}

/** lnrpc.HTLCAttempt (the fields the harness reads). */
export interface HtlcAttempt {
  status: 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED';
  failure: Failure | null;
  preimage: Buffer;
  route: { hops: { chan_id: string; pub_key: string; amt_to_forward_msat: string }[] } | null;
}

/** lnrpc.Payment (the fields the harness reads). */
export interface Payment {
  payment_hash: string;
  status: 'UNKNOWN' | 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED' | 'INITIATED';
  failure_reason: string;
  value_msat: string;
  payment_preimage: string;
  htlcs: HtlcAttempt[];
}

/** A payment in progress: its updates so far and its end. */
export interface PaymentInProgress {
  /** Resolves with the first SUCCEEDED or FAILED update; rejects on a stream error. */
  readonly done: Promise<Payment>;
  /** The latest update, if any. */
  latest(): Payment | undefined;
  /** The final payment if it ends within `ms`, else undefined. */
  within(ms: number): Promise<Payment | undefined>;
  cancel(): void;
}

/** Pays `paymentRequest` from `payer` (SendPaymentV2; `timeoutSeconds` bounds new attempts, not held ones). */
export function payInvoice(payer: LndRpc, paymentRequest: string, options: { timeoutSeconds?: number; maxParts?: number; amtMsat?: bigint; outgoingChanIds?: string[]; noInflightUpdates?: boolean } = {}): PaymentInProgress {
  const request: Record<string, unknown> = {
    payment_request: paymentRequest,
    timeout_seconds: options.timeoutSeconds ?? 60,
    fee_limit_sat: '1000',
    max_parts: options.maxParts ?? 16,
    // The benchmark asks for the final update only: fewer messages on B's stream while it times.
    no_inflight_updates: options.noInflightUpdates ?? false,
  };
  if (options.amtMsat !== undefined) request['amt_msat'] = options.amtMsat.toString();
  if (options.outgoingChanIds !== undefined) request['outgoing_chan_ids'] = options.outgoingChanIds;
  const stream = payer.serverStream('router', 'SendPaymentV2', request);
  let last: Payment | undefined;
  const done = new Promise<Payment>((resolve, reject) => {
    stream.on('data', (message: unknown) => {
      last = message as Payment;
      if (last.status === 'SUCCEEDED' || last.status === 'FAILED') resolve(last);
    });
    stream.on('error', reject);
    stream.on('end', () => {
      if (last && (last.status === 'SUCCEEDED' || last.status === 'FAILED')) resolve(last);
      else reject(new Error(`SendPaymentV2 ended without a final status (last: ${last?.status ?? 'none'})`));
    });
  });
  done.catch(() => undefined); // the caller may only look at within(); never an unhandled rejection
  return {
    done,
    latest: () => last,
    within: (ms) => Promise.race([done, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]),
    cancel: () => stream.cancel(),
  };
}

/** Sends along `route` (SendToRouteV2): resolves with the attempt once it succeeds or fails (held: waits). */
export function sendToRoute(payer: LndRpc, paymentHash: Buffer, route: object, timeoutMs = 600_000): Promise<HtlcAttempt> {
  return payer.call<HtlcAttempt>('router', 'SendToRouteV2', { payment_hash: paymentHash, route, skip_temp_err: true }, timeoutMs);
}

/** Whether `promise` settles within `ms` (true) or is still pending (false). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  const winner = await Promise.race([promise.then(() => true, () => true), new Promise<symbol>((resolve) => setTimeout(() => resolve(marker), ms))]);
  return winner !== marker;
}

/** A failure as a short record for the observations. */
export function describeFailure(failure: Failure | null | undefined): Record<string, unknown> | null {
  if (!failure) return null;
  return { code: failure.code, failure_source_index: failure.failure_source_index, htlc_msat: failure.htlc_msat, height: failure.height };
}
