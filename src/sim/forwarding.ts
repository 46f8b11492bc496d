/**
 * A simulated node's forwarding pipeline, from the HTLC a peer adds to the interceptable switch: take
 * the HTLC, read its onion, offer the forward to the switch (and so to the interceptor), and carry out
 * what the switch or interceptor decides: resume into the switch proper, settle, or fail. Also moves
 * held HTLCs to the on-chain flow when their channel is force-closed.
 */
import { createHash } from 'node:crypto';
import { equalBytes, wrapFailurePacket, type FailureMessage } from '../protocol/index.js';
import type { AddHtlcResult, HtlcOffer, HtlcResolution } from './htlc.js';
import { failIncoming, resolveIncoming } from './htlc-resolution.js';
import type { InterceptedHtlc } from './intercept-messages.js';
import type { InterceptedForward, SwitchFailCode } from './interceptable-switch.js';
import type { NodeChannel } from './node-channels.js';
import type { IncomingHtlc, NodeContext } from './node-context.js';
import { readOnion } from './onion-link.js';
import { switchForward } from './switch-forward.js';

const sha256 = (data: Uint8Array): Uint8Array => createHash('sha256').update(data).digest();

/**
 * A peer adds an HTLC over channel `chanId` (BOLT 2 update_add_htlc). Refused at once when the node
 * is down, the channel unknown or closed, or the peer's balance (the node's inbound liquidity) too low.
 */
export function addIncomingHtlc(node: NodeContext, chanId: bigint, offer: HtlcOffer): AddHtlcResult {
  if (node.run === undefined) return { ok: false, refusal: 'peerOffline' };
  const channel = node.channels.get(chanId);
  if (channel === undefined || channel.closed) return { ok: false, refusal: 'unknownChannel' };
  if (offer.amountMsat > channel.remoteMsat) return { ok: false, refusal: 'insufficientBalance' };
  channel.remoteMsat -= offer.amountMsat;
  const htlcId = node.nextHtlcId.get(chanId) ?? 0n;
  node.nextHtlcId.set(chanId, htlcId + 1n);
  let deliver!: (resolution: HtlcResolution) => void;
  const resolution = new Promise<HtlcResolution>((resolve) => {
    deliver = resolve;
  });
  const htlc: IncomingHtlc = { key: { chanId, htlcId }, channel, offer, incomingAmountMsat: offer.amountMsat, state: 'new', deliver };
  node.incoming.set(htlc.key, htlc);
  setImmediate(() => processIncoming(node, htlc));
  return { ok: true, htlcId, resolution };
}

/** The link: reads a new HTLC's onion, then fails it or hands the forward to the switch. */
export function processIncoming(node: NodeContext, htlc: IncomingHtlc): void {
  if (node.run === undefined || htlc.state !== 'new') return;
  const decision = readOnion(htlc.offer, node.ecdh, node.chain.height);
  switch (decision.kind) {
    case 'malformed':
      resolveIncoming(node, htlc, decision.resolution);
      return;
    case 'fail':
      htlc.sharedSecret = decision.sharedSecret;
      failIncoming(node, htlc, decision.failure);
      return;
    case 'forward':
      htlc.sharedSecret = decision.sharedSecret;
      htlc.forwarding = decision.forwarding;
      htlc.state = 'intercept';
      offerToSwitch(node, htlc, false);
      return;
  }
}

/** Offers `htlc` to the run's interceptable switch (`isReplay`: again after a restart). */
export function offerToSwitch(node: NodeContext, htlc: IncomingHtlc, isReplay: boolean): void {
  const run = node.run;
  if (run === undefined) return;
  const intercepted = run.htlcSwitch.forward(forwardHandle(node, htlc), isReplay);
  if (!intercepted) switchForward(node, htlc);
}

/**
 * Force-closes `channel`: every incoming HTLC on it still held for the interceptor moves to LND's
 * on-chain flow (offered again with its expiry as deadline, settle-only).
 */
export function forceClose(node: NodeContext, channel: NodeChannel): void {
  channel.closed = true;
  for (const htlc of node.incoming.values()) {
    if (htlc.channel !== channel || htlc.state !== 'intercept') continue;
    htlc.state = 'onChain';
    node.run?.htlcSwitch.holdOnChain(forwardHandle(node, htlc));
  }
}

/** A block at `height`: the peer times out on chain every on-chain HTLC whose expiry is reached. */
export function expireOnChain(node: NodeContext, height: number): void {
  for (const htlc of node.incoming.values()) {
    if (htlc.state === 'onChain' && htlc.offer.expiry <= height) resolveIncoming(node, htlc, { kind: 'onChainTimeout' });
  }
}

/** The switch's handle on `htlc`: each action applies only while the HTLC is still held. */
export function forwardHandle(node: NodeContext, htlc: IncomingHtlc): InterceptedForward {
  const live = (): boolean => htlc.state === 'intercept';
  const settleable = (): boolean => htlc.state === 'intercept' || htlc.state === 'onChain';
  return {
    key: htlc.key,
    incomingExpiry: htlc.offer.expiry,
    resume: (modified) => {
      if (!live() || htlc.forwarding === undefined) return;
      if (modified?.inAmountMsat !== undefined) htlc.incomingAmountMsat = modified.inAmountMsat;
      if (modified?.outAmountMsat !== undefined) htlc.forwarding.outgoingAmountMsat = modified.outAmountMsat;
      switchForward(node, htlc);
    },
    settle: (preimage) => {
      if (!equalBytes(sha256(preimage), htlc.offer.paymentHash)) return 'preimage does not match hash';
      if (settleable()) resolveIncoming(node, htlc, { kind: 'fulfill', preimage: Uint8Array.from(preimage) });
      return undefined;
    },
    fail: (failurePacket) => {
      if (!live() || htlc.sharedSecret === undefined) return;
      resolveIncoming(node, htlc, { kind: 'fail', reason: wrapFailurePacket(htlc.sharedSecret, failurePacket) });
    },
    failWithCode: (code) => {
      if (live()) failIncoming(node, htlc, switchFailure(node, code, htlc));
    },
  };
}

/** What the interceptor is shown of a held HTLC (undefined before its onion is read). */
export function interceptedView(htlc: IncomingHtlc): InterceptedHtlc | undefined {
  const f = htlc.forwarding;
  if (f === undefined) return undefined;
  return {
    key: htlc.key,
    paymentHash: htlc.offer.paymentHash,
    incomingAmountMsat: htlc.incomingAmountMsat,
    incomingExpiry: htlc.offer.expiry,
    outgoingRequestedChanId: f.outgoingChanId,
    outgoingAmountMsat: f.outgoingAmountMsat,
    outgoingExpiry: f.outgoingExpiry,
    customRecords: f.customRecords,
    onionBlob: f.onionBlob,
  };
}

/** The failure the interceptable switch creates for `code` (interceptable_switch.go FailWithCode). */
function switchFailure(node: NodeContext, code: SwitchFailCode, htlc: IncomingHtlc): FailureMessage {
  const onionHash = (): Uint8Array => sha256(htlc.forwarding?.onionBlob ?? new Uint8Array(0));
  switch (code) {
    case 'temporaryChannelFailure':
      return { kind: 'temporaryChannelFailure', channelUpdate: node.channels.channelUpdate(htlc.channel) };
    case 'expiryTooSoon':
      return { kind: 'expiryTooSoon', channelUpdate: node.channels.channelUpdate(htlc.channel) };
    case 'expiryTooFar':
      return { kind: 'expiryTooFar' };
    case 'invalidOnionHmac':
    case 'invalidOnionKey':
    case 'invalidOnionVersion':
      return { kind: code, sha256OfOnion: onionHash() };
    default: {
      const never: never = code;
      throw new Error(`unknown switch failure ${String(never)}`);
    }
  }
}
