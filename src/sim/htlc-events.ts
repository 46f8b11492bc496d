/**
 * The HtlcEvent messages (routerrpc SubscribeHtlcEvents, proto shape) a simulated node emits, as
 * LND's htlcswitch fills them: forward, settle, forward_fail, link_fail, final_htlc events.
 */
import type { IncomingHtlc, Run } from './node-context.js';

/** An HtlcEvent's outgoing side: the channel and HTLC index the node forwarded over (decimal strings). */
export interface OutgoingKey {
  readonly outgoing_channel_id: string;
  readonly outgoing_htlc_id: string;
}

/** `nowMs` (unix milliseconds) as HtlcEvent's timestamp_ns. */
const timestampNs = (nowMs: number): string => (BigInt(nowMs) * 1_000_000n).toString();

/** A FORWARD event for `htlc` forwarded as `outgoing`; `event` is the oneof member (forward_event, ...). */
export function forwardEvent(htlc: IncomingHtlc, outgoing: OutgoingKey, nowMs: number, event: Record<string, unknown>): Record<string, unknown> {
  return {
    incoming_channel_id: htlc.key.chanId.toString(),
    incoming_htlc_id: htlc.key.htlcId.toString(),
    ...outgoing,
    timestamp_ns: timestampNs(nowMs),
    event_type: 'FORWARD',
    ...event,
  };
}

/** The link_fail_event of a forward the switch refused; `wireFailure` and `failureString` as LND names them. */
export function linkFailEvent(htlc: IncomingHtlc, wireFailure: string, failureString: string, nowMs: number): Record<string, unknown> {
  const f = htlc.forwarding;
  return {
    incoming_channel_id: htlc.key.chanId.toString(),
    outgoing_channel_id: (f?.outgoingChanId ?? 0n).toString(),
    incoming_htlc_id: htlc.key.htlcId.toString(),
    outgoing_htlc_id: '0',
    timestamp_ns: timestampNs(nowMs),
    event_type: 'FORWARD',
    link_fail_event: {
      info: {
        incoming_timelock: htlc.offer.expiry,
        outgoing_timelock: f?.outgoingExpiry ?? 0,
        incoming_amt_msat: htlc.incomingAmountMsat.toString(),
        outgoing_amt_msat: (f?.outgoingAmountMsat ?? 0n).toString(),
      },
      wire_failure: wireFailure,
      failure_detail: 'NO_DETAIL',
      failure_string: failureString,
    },
  };
}

/** The final_htlc_event once an incoming HTLC is resolved for good. */
export function finalHtlcEvent(htlc: IncomingHtlc, settled: boolean, offchain: boolean, nowMs: number): Record<string, unknown> {
  return {
    incoming_channel_id: htlc.key.chanId.toString(),
    outgoing_channel_id: '0',
    incoming_htlc_id: htlc.key.htlcId.toString(),
    outgoing_htlc_id: '0',
    timestamp_ns: timestampNs(nowMs),
    event_type: 'UNKNOWN',
    final_htlc_event: { settled, offchain },
  };
}

/** Sends `event` to the run's SubscribeHtlcEvents streams; nothing while the node is down. */
export function emitHtlcEvent(run: Run | undefined, event: Record<string, unknown>): void {
  if (run === undefined) return;
  for (const listener of [...run.htlcEventListeners]) listener(event);
}
