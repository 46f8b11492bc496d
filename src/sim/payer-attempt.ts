/**
 * One HTLC attempt of the simulated payer, as data (functional core): the routes an invoice offers
 * from the payer's channels, the hop payloads and the amount and expiry to send over a route, and what
 * the HTLC's resolution means for the payer.
 */
import { createHash } from 'node:crypto';
import {
  bytesToHex,
  decodeFailureMessage,
  decryptFailurePacket,
  DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
  encodeHopPayload,
  HOP_PAYLOAD_TYPE,
  equalBytes,
  type DecodedInvoice,
  type FailureMessage,
} from '../protocol/index.js';
import { malformedFailure, type AddRefusal, type HtlcReceiver, type HtlcResolution } from './htlc.js';

/** LND's sender adds this many blocks to the final CLTV (routing.BlockPadding). */
export const BLOCK_PADDING = 3;

/** How one HTLC attempt ended. */
export type AttemptOutcome =
  | { readonly kind: 'settled'; readonly preimage: Uint8Array }
  /** The payer's own channel refused the HTLC (peer offline, balance too low): a local temporary_channel_failure. */
  | { readonly kind: 'refused'; readonly refusal: AddRefusal }
  /** A failure from hop `hopIndex` of the route (0: the payer's peer), decrypted and decoded. */
  | { readonly kind: 'failed'; readonly hopIndex: number; readonly erringNode: string; readonly failure: FailureMessage }
  /** The payer's channel was force-closed and the HTLC timed out on chain (no failure message). */
  | { readonly kind: 'onChainTimeout' }
  /** A failure no hop's keys could authenticate, or whose message could not be decoded. */
  | { readonly kind: 'unreadableFailure'; readonly hopIndex?: number };

/** One HTLC the payer sent (or tried to). */
export interface Attempt {
  /** Index of the route hint used in the invoice (-1: direct channel to the payee). */
  readonly routeHint: number;
  /** Hex pubkey of the first hop (the cluster node). */
  readonly firstHop: string;
  /** Amount delivered to the payee by this part, msat. */
  readonly amountMsat: bigint;
  /** Circuit key at the first hop (its incoming channel and HTLC index), when the HTLC was added. */
  readonly chanId?: bigint;
  readonly htlcId?: bigint;
  readonly outcome: AttemptOutcome;
}

/** A forwarding hop of a route hint. */
export interface Hop {
  readonly publicKey: Uint8Array;
  readonly shortChannelId: bigint;
  readonly feeBaseMsat: number;
  readonly feeProportionalMillionths: number;
  readonly cltvExpiryDelta: number;
}

/** The payer's channel to a peer. */
export interface PayerChannel {
  readonly receiver: HtlcReceiver;
  readonly chanId: bigint;
}

export interface Route {
  /** Index of the route hint in the invoice (-1: direct channel to the payee). */
  readonly index: number;
  readonly peer: PayerChannel;
  /** Forwarding hops, first hop first; the payee comes after the last. */
  readonly hops: readonly Hop[];
}

/**
 * Routes the invoice allows from the payer's channels (`peers`, by hex pubkey): each hint starting at
 * a peer, and a direct channel to the payee.
 */
export function routesFrom(invoice: DecodedInvoice, peers: ReadonlyMap<string, PayerChannel>): Route[] {
  const routes: Route[] = [];
  (invoice.routeHints ?? []).forEach((hint, index) => {
    const first = hint[0];
    if (first === undefined) return;
    const peer = peers.get(bytesToHex(first.pubkey));
    if (peer === undefined) return;
    routes.push({
      index,
      peer,
      hops: hint.map((h) => ({
        publicKey: h.pubkey,
        shortChannelId: h.shortChannelId,
        feeBaseMsat: h.feeBaseMsat,
        feeProportionalMillionths: h.feeProportionalMillionths,
        cltvExpiryDelta: h.cltvExpiryDelta,
      })),
    });
  });
  const direct = peers.get(bytesToHex(invoice.payeePubkey));
  if (direct !== undefined) routes.push({ index: -1, peer: direct, hops: [] });
  return routes;
}

/**
 * The hop payloads (first hop first, the payee's last) for sending `shardMsat` of `totalMsat` over
 * `hops` at block `height`, and the amount (msat) and expiry (block height) of the HTLC to add to the
 * payer's channel.
 */
export function routePayloads(
  hops: readonly Hop[],
  invoice: DecodedInvoice,
  shardMsat: bigint,
  totalMsat: bigint,
  mpp: boolean,
  height: number,
): { readonly payloads: Uint8Array[]; readonly amountMsat: bigint; readonly expiry: number } {
  const finalExpiry = height + (invoice.minFinalCltvExpiryDelta ?? DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA) + BLOCK_PADDING;
  // Walk back from the payee: each forwarding hop receives what it forwards plus its fee, and an
  // expiry its CLTV delta later than what it forwards.
  const payloads: Uint8Array[] = [];
  payloads.unshift(
    encodeHopPayload({
      amtToForwardMsat: shardMsat,
      outgoingCltvValue: finalExpiry,
      ...(mpp && invoice.paymentSecret !== undefined ? { paymentData: { paymentAddr: invoice.paymentSecret, totalMsat } } : {}),
      // BOLT 4: the payer echoes the invoice's `m` as payment_metadata (type 16).
      otherRecords: invoice.metadata !== undefined ? [{ type: HOP_PAYLOAD_TYPE.paymentMetadata, value: invoice.metadata }] : [],
    }),
  );
  let amount = shardMsat;
  let expiry = finalExpiry;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as Hop;
    payloads.unshift(encodeHopPayload({ amtToForwardMsat: amount, outgoingCltvValue: expiry, shortChannelId: hop.shortChannelId, otherRecords: [] }));
    amount += BigInt(hop.feeBaseMsat) + (amount * BigInt(hop.feeProportionalMillionths)) / 1_000_000n;
    expiry += hop.cltvExpiryDelta;
  }
  return { payloads, amountMsat: amount, expiry };
}

/**
 * What the resolution of an HTLC sent over `nodes` (first hop first, payee last) with the onion's
 * `sharedSecrets` means for the payer.
 */
export function interpretResolution(resolution: HtlcResolution, paymentHash: Uint8Array, sharedSecrets: readonly Uint8Array[], nodes: readonly Uint8Array[]): AttemptOutcome {
  switch (resolution.kind) {
    case 'fulfill': {
      const hash = createHash('sha256').update(resolution.preimage).digest();
      if (!equalBytes(hash, paymentHash)) return { kind: 'unreadableFailure' };
      return { kind: 'settled', preimage: resolution.preimage };
    }
    case 'onChainTimeout':
      return { kind: 'onChainTimeout' };
    case 'failMalformed':
      // Only the payer's direct peer can send update_fail_malformed_htlc to it.
      return { kind: 'failed', hopIndex: 0, erringNode: bytesToHex(nodes[0] as Uint8Array), failure: malformedFailure(resolution.failureCode, resolution.sha256OfOnion) };
    case 'fail': {
      const decrypted = decryptFailurePacket(sharedSecrets, resolution.reason);
      if (!decrypted.ok) return { kind: 'unreadableFailure' };
      const { hopIndex, failureMessage } = decrypted.value;
      const decoded = decodeFailureMessage(failureMessage);
      if (!decoded.ok) return { kind: 'unreadableFailure', hopIndex };
      return { kind: 'failed', hopIndex, erringNode: bytesToHex(nodes[hopIndex] as Uint8Array), failure: decoded.value };
    }
  }
}
