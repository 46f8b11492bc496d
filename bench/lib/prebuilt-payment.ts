/**
 * Payments whose onions are built before a benchmark's timed window: the same route and payloads the
 * simulator's payer builds (src/sim/payer.ts: payer -> cluster node -> payee over the invoice's route
 * hint, final payload with payment_data, final CLTV = height + `c` + 3), split into `parts` equal
 * shards spread over the cluster nodes. Sending one is then only `addHtlc` on the node's channel, so the
 * payer's onion construction (two ECDH and two key derivations on tiny-secp256k1, about 1 ms per onion
 * here) stays out of what is timed. Each part keeps the shared secret with its first hop, which the
 * benchmark may hand to that node (src/sim/known-secrets.ts).
 */
import { randomBytes } from 'node:crypto';
import { isPrivate } from 'tiny-secp256k1';
import type { DecodedInvoice } from '../../src/protocol/bolt11.js';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { encodeHopPayload } from '../../src/protocol/hop-payload.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import type { HtlcOffer } from '../../src/sim/htlc.js';

/** BOLT 11 default min_final_cltv_expiry_delta, blocks, and LND's sender padding (routing.BlockPadding). */
const DEFAULT_MIN_FINAL_CLTV = 18;
const BLOCK_PADDING = 3;

/** One HTLC of a payment: the cluster node (index) it enters through and what the payer adds there. */
export interface PrebuiltPart {
  readonly node: number;
  readonly offer: HtlcOffer;
  /** The onion's shared secret with the cluster node (its first hop), 32 bytes. */
  readonly firstHopSecret: Uint8Array;
}

export interface PrebuiltPayment {
  readonly paymentHash: string;
  readonly parts: readonly PrebuiltPart[];
}

function sessionKey(): Uint8Array {
  for (;;) {
    const key = randomBytes(32);
    if (isPrivate(key)) return key;
  }
}

/**
 * Builds `parts` HTLCs paying `invoice` (its whole amount, or `sendMsat` of it to leave the set
 * incomplete), part i entering through node (firstNode + i) mod nodes. `nodePubkeys`: the cluster's
 * node ids in order, hex. Throws if the invoice has no route hint through one of them.
 */
export function prebuildPayment(
  invoice: DecodedInvoice,
  options: { parts: number; firstNode: number; nodePubkeys: readonly string[]; height: number; sendMsat?: bigint },
): PrebuiltPayment {
  const total = invoice.amountMsat;
  if (total === undefined || invoice.paymentSecret === undefined) throw new Error('invoice without amount or payment secret');
  const send = options.sendMsat ?? total;
  const hints = new Map((invoice.routeHints ?? []).map((hint) => [bytesToHex(hint[0]!.pubkey), hint]));
  const parts: PrebuiltPart[] = [];
  const shard = send / BigInt(options.parts);
  for (let i = 0; i < options.parts; i++) {
    const node = (options.firstNode + i) % options.nodePubkeys.length;
    const hint = hints.get(options.nodePubkeys[node]!);
    if (hint === undefined || hint.length !== 1) throw new Error(`no one-hop route hint through node ${node}`);
    const hop = hint[0]!;
    const amount = i === options.parts - 1 ? send - shard * BigInt(options.parts - 1) : shard;
    const finalExpiry = options.height + (invoice.minFinalCltvExpiryDelta ?? DEFAULT_MIN_FINAL_CLTV) + BLOCK_PADDING;
    const finalPayload = encodeHopPayload({
      amtToForwardMsat: amount,
      outgoingCltvValue: finalExpiry,
      paymentData: { paymentAddr: invoice.paymentSecret, totalMsat: total },
      otherRecords: [],
    });
    const hopPayload = encodeHopPayload({ amtToForwardMsat: amount, outgoingCltvValue: finalExpiry, shortChannelId: hop.shortChannelId, otherRecords: [] });
    const fee = BigInt(hop.feeBaseMsat) + (amount * BigInt(hop.feeProportionalMillionths)) / 1_000_000n;
    const { onion, sharedSecrets } = buildOnion(
      [
        { publicKey: hop.pubkey, payload: hopPayload },
        { publicKey: invoice.payeePubkey, payload: finalPayload },
      ],
      sessionKey(),
      invoice.paymentHash,
    );
    parts.push({
      node,
      offer: { amountMsat: amount + fee, expiry: finalExpiry + hop.cltvExpiryDelta, paymentHash: invoice.paymentHash, onion },
      firstHopSecret: sharedSecrets[0]!,
    });
  }
  return { paymentHash: bytesToHex(invoice.paymentHash), parts };
}
