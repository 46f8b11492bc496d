/**
 * Hand-made HTLCs for what the payer would never send: an onion payer -> cluster node -> virtual node
 * built with src/protocol (buildOnion, encodeHopPayload), with any field of either hop's payload
 * chosen by the test, added to a cluster node's channel with the payer (`node.addHtlc`), and its
 * outcome read back as the payer would (failure decrypted with the route's shared secrets).
 */
import { randomBytes } from 'node:crypto';
import { isPrivate } from 'tiny-secp256k1';
import { decodeFailureMessage, type FailureMessage } from '../../../src/protocol/failure-message.js';
import { decryptFailurePacket } from '../../../src/protocol/failure-onion.js';
import { encodeHopPayload, encodeLegacyHopData, type PaymentData } from '../../../src/protocol/hop-payload.js';
import { buildOnion } from '../../../src/protocol/sphinx-build.js';
import { generateKey, hmacSha256 } from '../../../src/protocol/sphinx-keys.js';
import type { SimCluster } from '../../../src/sim/cluster.js';
import type { AddRefusal } from '../../../src/sim/htlc.js';

/** BOLT 4 onion layout: version (1), public key (33), hop_payloads (1300), HMAC (32). */
const HOP_PAYLOADS_OFFSET = 34;
const HOP_PAYLOADS_LENGTH = 1300;
const HMAC_OFFSET = HOP_PAYLOADS_OFFSET + HOP_PAYLOADS_LENGTH;

/** The payer's default final CLTV margin over the invoice's `c` (40) plus LND's block padding (3). */
const FINAL_CLTV_MARGIN = 43;

export interface RawHtlcSpec {
  /** The cluster node the HTLC is added to (over its channel with the payer). */
  readonly node: number;
  readonly paymentHash: Uint8Array;
  /** The virtual node's public key (the onion's last hop). */
  readonly virtualPubkey: Uint8Array;
  /** What the virtual node receives (the cluster node's amt_to_forward), msat. */
  readonly amountMsat: bigint;
  /** The MPP record of the final payload; absent: none. */
  readonly paymentData?: PaymentData;
  /** Fee paid to the cluster node for the virtual hop, msat (default 0). */
  readonly feeMsat?: bigint;
  /** CLTV delta given to the cluster node for the virtual hop, blocks (default 40, the hint's). */
  readonly cltvDelta?: number;
  /**
   * The HTLC's expiry at the virtual node, in blocks above the current height (default 43: the
   * invoice's `c` of 40 plus LND's block padding of 3).
   */
  readonly finalCltvDelta?: number;
  /** The final payload's amt_to_forward when it must differ from amountMsat. */
  readonly finalAmountMsat?: bigint;
  /** The final payload's outgoing_cltv_value when it must differ from the HTLC's. */
  readonly finalCltv?: number;
  /** Raw bytes of the final payload instead of an encoded one (a malformed payload). */
  readonly finalPayloadBytes?: Uint8Array;
  /** The final hop in the legacy (pre-TLV) hop_data format: amt_to_forward and outgoing_cltv_value only. */
  readonly legacyFinal?: boolean;
  /** Replaces the onion for the virtual node with garbage (the cluster node's own layer stays valid). */
  readonly garbleNextOnion?: boolean;
}

/** How a hand-made HTLC ended, seen from the payer. */
export type RawOutcome =
  | { readonly kind: 'settled'; readonly preimage: Uint8Array }
  | { readonly kind: 'failed'; readonly hopIndex: number; readonly failure: FailureMessage }
  /** update_fail_malformed_htlc from the cluster node (it could not peel its own layer). */
  | { readonly kind: 'malformed'; readonly failureCode: number }
  | { readonly kind: 'refused'; readonly refusal: AddRefusal }
  | { readonly kind: 'unreadable' };

export interface SentHtlc {
  /** The onion as added to the cluster node. */
  readonly onion: Uint8Array;
  readonly chanId: bigint;
  readonly htlcId: bigint;
  readonly outcome: Promise<RawOutcome>;
}

function sessionKey(): Uint8Array {
  for (;;) {
    const key = randomBytes(32);
    if (isPrivate(key)) return key;
  }
}

/** Builds the onion of `spec`; `sharedSecrets[0]` is the cluster node's, `[1]` the virtual node's. */
export function buildRawOnion(cluster: SimCluster, spec: RawHtlcSpec): { onion: Uint8Array; sharedSecrets: Uint8Array[]; expiry: number; amountMsat: bigint } {
  const node = cluster.node(spec.node);
  const outgoingExpiry = cluster.chain.height + (spec.finalCltvDelta ?? FINAL_CLTV_MARGIN);
  const nodePayload = encodeHopPayload({
    amtToForwardMsat: spec.amountMsat,
    outgoingCltvValue: outgoingExpiry,
    shortChannelId: node.virtualScid,
    otherRecords: [],
  });
  const finalPayload =
    spec.finalPayloadBytes ??
    (spec.legacyFinal === true
      ? encodeLegacyHopData({ shortChannelId: 0n, amtToForwardMsat: spec.finalAmountMsat ?? spec.amountMsat, outgoingCltvValue: spec.finalCltv ?? outgoingExpiry })
      : undefined) ??
    encodeHopPayload({
      amtToForwardMsat: spec.finalAmountMsat ?? spec.amountMsat,
      outgoingCltvValue: spec.finalCltv ?? outgoingExpiry,
      ...(spec.paymentData !== undefined ? { paymentData: spec.paymentData } : {}),
      otherRecords: [],
    });
  const built = buildOnion(
    [
      { publicKey: node.publicKey, payload: nodePayload },
      { publicKey: spec.virtualPubkey, payload: finalPayload, ...(spec.legacyFinal === true ? { format: 'legacy' as const } : {}) },
    ],
    sessionKey(),
    spec.paymentHash,
  );
  let onion = built.onion;
  if (spec.garbleNextOnion === true) {
    // The cluster node's frame (length prefix < 253 bytes: one byte, payload, next HMAC) stays; every
    // byte after it becomes the start of the next onion's hop_payloads once peeled: randomize them and
    // the next HMAC, then re-authenticate the outer layer so that the cluster node still accepts it.
    const frameEnd = 1 + nodePayload.length + 32;
    onion = Uint8Array.from(onion);
    onion.set(randomBytes(HOP_PAYLOADS_LENGTH - frameEnd + 32), HOP_PAYLOADS_OFFSET + frameEnd - 32);
    const mu = generateKey('mu', built.sharedSecrets[0]!);
    onion.set(hmacSha256(mu, onion.subarray(HOP_PAYLOADS_OFFSET, HMAC_OFFSET), spec.paymentHash), HMAC_OFFSET);
  }
  return {
    onion,
    sharedSecrets: built.sharedSecrets,
    expiry: outgoingExpiry + (spec.cltvDelta ?? 40),
    amountMsat: spec.amountMsat + (spec.feeMsat ?? 0n),
  };
}

/** Adds the HTLC of `spec` to its cluster node; the outcome resolves when the HTLC is removed. */
export function sendRawHtlc(cluster: SimCluster, spec: RawHtlcSpec): SentHtlc {
  const { onion, sharedSecrets, expiry, amountMsat } = buildRawOnion(cluster, spec);
  const chanId = cluster.payerChannelId(spec.node);
  const added = cluster.node(spec.node).addHtlc(chanId, { amountMsat, expiry, paymentHash: spec.paymentHash, onion });
  if (!added.ok) return { onion, chanId, htlcId: -1n, outcome: Promise.resolve({ kind: 'refused', refusal: added.refusal }) };
  return {
    onion,
    chanId,
    htlcId: added.htlcId,
    outcome: added.resolution.then((resolution): RawOutcome => {
      switch (resolution.kind) {
        case 'fulfill':
          return { kind: 'settled', preimage: resolution.preimage };
        case 'failMalformed':
          return { kind: 'malformed', failureCode: resolution.failureCode };
        case 'onChainTimeout':
          return { kind: 'unreadable' };
        case 'fail': {
          const decrypted = decryptFailurePacket(sharedSecrets, resolution.reason);
          if (!decrypted.ok) return { kind: 'unreadable' };
          const decoded = decodeFailureMessage(decrypted.value.failureMessage);
          if (!decoded.ok) return { kind: 'unreadable' };
          return { kind: 'failed', hopIndex: decrypted.value.hopIndex, failure: decoded.value };
        }
      }
    }),
  };
}
