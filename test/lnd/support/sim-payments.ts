/**
 * Payments into a simulated cluster for the gateway's tests and benchmark, built from the protocol
 * core's public functions: an invoice of a virtual node with one route hint per cluster node, and a
 * ready-made HTLC (onion payer -> node -> virtual node) to offer a node directly.
 */
import { createHash, randomBytes } from 'node:crypto';
import { encodeInvoice } from '../../../src/protocol/bolt11.js';
import { encodeHopPayload } from '../../../src/protocol/hop-payload.js';
import { buildOnion } from '../../../src/protocol/sphinx-build.js';
import type { SimCluster } from '../../../src/sim/cluster.js';
import type { HtlcOffer } from '../../../src/sim/htlc.js';
import { nodeKeyPair } from '../../../src/sim/keys.js';

export interface VirtualPayment {
  readonly paymentRequest: string;
  readonly preimage: Uint8Array;
  readonly paymentHash: Uint8Array;
}

/** Hop hint policy of lnmux's invoices (docs/protocol.md): fee 0, CLTV delta 40; min_final_cltv_expiry 40. */
const HINT_CLTV_DELTA = 40;
const FINAL_CLTV_DELTA = 40;

/** A BOLT 11 invoice of a fresh virtual node, one route hint per cluster node over its virtual channel. */
export function virtualInvoice(cluster: SimCluster, amountMsat: bigint): VirtualPayment {
  const virtualKey = nodeKeyPair('virtual');
  const preimage = randomBytes(32);
  const paymentHash = createHash('sha256').update(preimage).digest();
  const paymentRequest = encodeInvoice(
    {
      network: 'bcrt',
      amountMsat,
      timestamp: Math.floor(Date.now() / 1000),
      paymentHash,
      paymentSecret: randomBytes(32),
      description: 'gateway test',
      minFinalCltvExpiryDelta: FINAL_CLTV_DELTA,
      features: { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional' },
      routeHints: cluster.nodes.map((node) => [
        { pubkey: node.publicKey, shortChannelId: node.virtualScid, feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: HINT_CLTV_DELTA },
      ]),
    },
    virtualKey.privateKey,
  );
  return { paymentRequest, preimage, paymentHash };
}

/**
 * An HTLC the payer could add to node `index`: its onion names the node's virtual channel as the next
 * hop and carries a final payload for a virtual node. Offer it with
 * `cluster.node(index).addHtlc(cluster.payerChannelId(index), offer)`.
 */
export function virtualOffer(cluster: SimCluster, index: number, amountMsat: bigint): { offer: HtlcOffer; preimage: Uint8Array } {
  const node = cluster.node(index);
  const virtualKey = nodeKeyPair('virtual');
  const preimage = randomBytes(32);
  const paymentHash = createHash('sha256').update(preimage).digest();
  const finalExpiry = cluster.chain.height + FINAL_CLTV_DELTA + 3;
  const { onion } = buildOnion(
    [
      {
        publicKey: node.publicKey,
        payload: encodeHopPayload({ amtToForwardMsat: amountMsat, outgoingCltvValue: finalExpiry, shortChannelId: node.virtualScid, otherRecords: [] }),
      },
      {
        publicKey: virtualKey.publicKey,
        payload: encodeHopPayload({
          amtToForwardMsat: amountMsat,
          outgoingCltvValue: finalExpiry,
          paymentData: { paymentAddr: randomBytes(32), totalMsat: amountMsat },
          otherRecords: [],
        }),
      },
    ],
    nodeKeyPair('session').privateKey,
    paymentHash,
  );
  return { offer: { amountMsat, expiry: finalExpiry + HINT_CLTV_DELTA, paymentHash, onion }, preimage };
}

/**
 * A regular forward: an HTLC the payer could add to node `index`, for a fresh invoice of the
 * recipient behind it, over the node's real channel to that recipient (the traffic an interceptor
 * must RESUME). Pays the node's fee (its default policy) and CLTV delta.
 */
export function forwardOffer(cluster: SimCluster, index: number, amountMsat: bigint): HtlcOffer {
  const node = cluster.node(index);
  const recipient = cluster.recipients[index]!;
  const channel = node.channel(cluster.recipientChannelId(index))!;
  const { paymentHash } = recipient.addInvoice({ amountMsat });
  const finalExpiry = cluster.chain.height + 18 + 3;
  const fee = BigInt(channel.policy.feeBaseMsat) + (amountMsat * BigInt(channel.policy.feeProportionalMillionths)) / 1_000_000n;
  const { onion } = buildOnion(
    [
      {
        publicKey: node.publicKey,
        payload: encodeHopPayload({ amtToForwardMsat: amountMsat, outgoingCltvValue: finalExpiry, shortChannelId: cluster.recipientChannelId(index), otherRecords: [] }),
      },
      {
        publicKey: recipient.publicKey,
        payload: encodeHopPayload({
          amtToForwardMsat: amountMsat,
          outgoingCltvValue: finalExpiry,
          paymentData: { paymentAddr: randomBytes(32), totalMsat: amountMsat },
          otherRecords: [],
        }),
      },
    ],
    nodeKeyPair('session').privateKey,
    paymentHash,
  );
  return { amountMsat: amountMsat + fee, expiry: finalExpiry + channel.policy.cltvExpiryDelta, paymentHash, onion };
}
