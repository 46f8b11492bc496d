/**
 * The switch proper of a simulated node: a forward the interceptable switch let through (or that an
 * interceptor resumed) goes out over a real channel if the outgoing channel's policy and balance allow
 * it, else it fails with the failure LND's link gives (htlcswitch/link.go); the outgoing HTLC's
 * resolution then resolves the incoming one.
 */
import { wrapFailurePacket, type FailureMessage } from '../protocol/index.js';
import { malformedFailure } from './htlc.js';
import { emitHtlcEvent, forwardEvent, linkFailEvent, type OutgoingKey } from './htlc-events.js';
import { failIncoming, resolveIncoming } from './htlc-resolution.js';
import type { NodeChannel } from './node-channels.js';
import type { Forwarding, IncomingHtlc, NodeContext } from './node-context.js';

/** DefaultOutgoingCltvRejectDelta: an outgoing expiry this close (blocks) leaves no time to forward. */
const OUTGOING_CLTV_REJECT_DELTA = 3;

/** Why the link refuses a forward: the failure sent back, and the names LND's link_fail_event gives it. */
export interface LinkRefusal {
  readonly failure: FailureMessage;
  readonly wireFailure: string;
  readonly failureString: string;
}

/**
 * The link's checks of a forward over `out` (functional core), in LND's order; undefined when the
 * HTLC may go out. `incomingAmountMsat` and `incomingExpiry` (block height) are the incoming HTLC's;
 * `update` signs `out`'s channel_update, which most failures carry.
 */
export function linkRefusal(
  f: Forwarding,
  incomingAmountMsat: bigint,
  incomingExpiry: number,
  out: NodeChannel,
  height: number,
  update: () => Uint8Array,
): LinkRefusal | undefined {
  const policy = out.policy;
  const fee = BigInt(policy.feeBaseMsat) + (f.outgoingAmountMsat * BigInt(policy.feeProportionalMillionths)) / 1_000_000n;
  if (f.outgoingAmountMsat < policy.htlcMinimumMsat) {
    return { failure: { kind: 'amountBelowMinimum', htlcMsat: f.outgoingAmountMsat, channelUpdate: update() }, wireFailure: 'AMOUNT_BELOW_MINIMUM', failureString: 'AmountBelowMinimum' };
  }
  if (incomingAmountMsat < f.outgoingAmountMsat + fee) {
    return { failure: { kind: 'feeInsufficient', htlcMsat: incomingAmountMsat, channelUpdate: update() }, wireFailure: 'FEE_INSUFFICIENT', failureString: 'FeeInsufficient' };
  }
  if (incomingExpiry < f.outgoingExpiry + policy.cltvExpiryDelta) {
    return { failure: { kind: 'incorrectCltvExpiry', cltvExpiry: incomingExpiry, channelUpdate: update() }, wireFailure: 'INCORRECT_CLTV_EXPIRY', failureString: 'IncorrectCltvExpiry' };
  }
  if (f.outgoingExpiry <= height + OUTGOING_CLTV_REJECT_DELTA) {
    return { failure: { kind: 'expiryTooSoon', channelUpdate: update() }, wireFailure: 'EXPIRY_TOO_SOON', failureString: 'ExpiryTooSoon' };
  }
  if (out.localMsat < f.outgoingAmountMsat) return temporaryChannelFailure(update());
  return undefined;
}

const temporaryChannelFailure = (channelUpdate: Uint8Array): LinkRefusal => ({
  failure: { kind: 'temporaryChannelFailure', channelUpdate },
  wireFailure: 'TEMPORARY_CHANNEL_FAILURE',
  failureString: 'TemporaryChannelFailure',
});

/** Fails `htlc` as the link does: a link_fail_event, then the failure back to the peer. */
function linkFail(node: NodeContext, htlc: IncomingHtlc, refusal: LinkRefusal): void {
  emitHtlcEvent(node.run, linkFailEvent(htlc, refusal.wireFailure, refusal.failureString, node.now()));
  failIncoming(node, htlc, refusal.failure);
}

/** Forwards `htlc` over its outgoing channel, or fails it. */
export function switchForward(node: NodeContext, htlc: IncomingHtlc): void {
  const f = htlc.forwarding;
  if (f === undefined) return;
  const out = node.channels.get(f.outgoingChanId);
  if (out === undefined || out.peer === undefined) {
    // The virtual channel, or any channel the node does not have.
    linkFail(node, htlc, { failure: { kind: 'unknownNextPeer' }, wireFailure: 'UNKNOWN_NEXT_PEER', failureString: 'UnknownNextPeer' });
    return;
  }
  const refusal = linkRefusal(f, htlc.incomingAmountMsat, htlc.offer.expiry, out, node.chain.height, () => node.channels.channelUpdate(out));
  if (refusal !== undefined) {
    linkFail(node, htlc, refusal);
    return;
  }
  const added = out.peer.addHtlc(out.scid, { amountMsat: f.outgoingAmountMsat, expiry: f.outgoingExpiry, paymentHash: htlc.offer.paymentHash, onion: f.onionBlob });
  if (!added.ok) {
    linkFail(node, htlc, temporaryChannelFailure(node.channels.channelUpdate(out)));
    return;
  }
  out.localMsat -= f.outgoingAmountMsat;
  htlc.state = 'forwarded';
  const forwardKey: OutgoingKey = { outgoing_channel_id: out.scid.toString(), outgoing_htlc_id: added.htlcId.toString() };
  const emit = (event: Record<string, unknown>): void => emitHtlcEvent(node.run, forwardEvent(htlc, forwardKey, node.now(), event));
  const info = {
    incoming_timelock: htlc.offer.expiry,
    outgoing_timelock: f.outgoingExpiry,
    incoming_amt_msat: htlc.incomingAmountMsat.toString(),
    outgoing_amt_msat: f.outgoingAmountMsat.toString(),
  };
  emit({ forward_event: { info } });
  void added.resolution.then((resolution) => {
    switch (resolution.kind) {
      case 'fulfill':
        out.remoteMsat += f.outgoingAmountMsat;
        emit({ settle_event: { preimage: Buffer.from(resolution.preimage) } });
        resolveIncoming(node, htlc, resolution);
        return;
      case 'fail':
        out.localMsat += f.outgoingAmountMsat;
        emit({ forward_fail_event: {} });
        if (htlc.sharedSecret !== undefined) resolveIncoming(node, htlc, { kind: 'fail', reason: wrapFailurePacket(htlc.sharedSecret, resolution.reason) });
        return;
      case 'failMalformed': {
        out.localMsat += f.outgoingAmountMsat;
        emit({ forward_fail_event: {} });
        // BOLT 4: the node that gets update_fail_malformed_htlc reports the failure as its own.
        failIncoming(node, htlc, malformedFailure(resolution.failureCode, resolution.sha256OfOnion));
        return;
      }
    }
  });
}
