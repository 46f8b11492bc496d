/**
 * How an incoming HTLC ends at a simulated node: balances move, the final resolution is recorded and
 * reported, the final_htlc_event goes out, and the peer that added it gets the resolution.
 */
import { createFailurePacket, encodeFailureMessage, type FailureMessage } from '../protocol/index.js';
import type { HtlcResolution } from './htlc.js';
import { emitHtlcEvent, finalHtlcEvent } from './htlc-events.js';
import type { IncomingHtlc, NodeContext } from './node-context.js';

/** Fails `htlc` back with `failure`, encrypted as this node (needs the peeled shared secret). */
export function failIncoming(node: NodeContext, htlc: IncomingHtlc, failure: FailureMessage): void {
  if (htlc.sharedSecret === undefined) return;
  resolveIncoming(node, htlc, { kind: 'fail', reason: createFailurePacket(htlc.sharedSecret, encodeFailureMessage(failure)) });
}

/** Resolves `htlc` once (later calls do nothing): a settle credits the node, anything else the peer. */
export function resolveIncoming(node: NodeContext, htlc: IncomingHtlc, resolution: HtlcResolution): void {
  if (htlc.state === 'resolved') return;
  const offchain = htlc.state !== 'onChain';
  htlc.state = 'resolved';
  node.incoming.delete(htlc.key);
  const settled = resolution.kind === 'fulfill';
  if (settled) htlc.channel.localMsat += htlc.offer.amountMsat;
  else htlc.channel.remoteMsat += htlc.offer.amountMsat;
  node.resolutions.record({
    key: htlc.key,
    paymentHash: htlc.offer.paymentHash,
    amountMsat: htlc.offer.amountMsat,
    ...(htlc.forwarding === undefined ? {} : { outgoingChanId: htlc.forwarding.outgoingChanId }),
    settled,
    offchain,
  });
  emitHtlcEvent(node.run, finalHtlcEvent(htlc, settled, offchain, node.now()));
  // On a later turn, as a message to the peer would arrive: the sender's handlers never run inside
  // this node's call stack.
  setImmediate(() => htlc.deliver(resolution));
}
