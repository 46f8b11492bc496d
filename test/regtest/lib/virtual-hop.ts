/**
 * A stand-in for lnmux's virtual node, for the checks that run before lnmux exists: B pays along an
 * explicit route B -> A -> V, where V is a key of ours and the A -> V hop is a channel that does not exist
 * (the virtual scid). A offers that HTLC to its interceptor exactly as it will offer lnmux's.
 *
 * `finalHopFailure` encrypts a BOLT 4 failure as V would, with lnmux's own protocol code, so the checks
 * can see how real LND (B) reads a `failure_message` sent through the interceptor.
 */
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  createFailurePacket,
  ecdhWithPrivateKey,
  encodeFailureMessage,
  FAILURE_CODE,
  hexToBytes,
  ONION_PACKET_LENGTH,
  virtualChannelId,
} from '../../../src/protocol/index.js';

/** A virtual node: its private key and compressed pubkey. */
export interface VirtualNode {
  readonly privateKey: Uint8Array;
  readonly pubkey: Uint8Array;
}

/** A fresh random virtual node key. */
export function newVirtualNode(): VirtualNode {
  const privateKey = secp256k1.utils.randomSecretKey();
  return { privateKey, pubkey: secp256k1.getPublicKey(privateKey, true) };
}

/** The virtual channel id of a cluster node (docs/protocol.md), from its pubkey in hex. */
export function virtualScid(clusterNodePubkeyHex: string): bigint {
  return virtualChannelId(hexToBytes(clusterNodePubkeyHex));
}

/** A payment to the virtual node: a preimage of ours, its hash, and an MPP payment_addr. */
export interface VirtualPayment {
  readonly preimage: Buffer;
  readonly paymentHash: Buffer;
  readonly paymentAddr: Buffer;
}

/** A fresh random payment. */
export function newVirtualPayment(): VirtualPayment {
  const preimage = randomBytes(32);
  return { preimage, paymentHash: Buffer.from(sha256(preimage)), paymentAddr: randomBytes(32) };
}

/** Parameters of the route B -> A -> V. */
export interface VirtualRouteInput {
  /** B's channel to the cluster node (decimal chan_id). */
  readonly chanIdToCluster: string;
  readonly clusterPubkeyHex: string;
  readonly virtualPubkey: Uint8Array;
  readonly virtualScid: bigint;
  /** Amount V receives, msat; also the MPP total unless `totalMsat` is given. */
  readonly amountMsat: bigint;
  readonly totalMsat?: bigint;
  readonly paymentAddr: Buffer;
  /** Current block height. */
  readonly height: number;
  /** The final hop's CLTV delta, blocks (invoice `c`; lnmux's default 40). */
  readonly finalCltvDelta?: number;
  /** The cluster node's CLTV delta on the virtual hop, blocks (lnmux's hop hint default 40). */
  readonly hopCltvDelta?: number;
}

/**
 * The lnrpc.Route for SendToRouteV2 (proto-loader field names; uint64 as decimal strings). No fees: the
 * virtual hop's policy is 0/0, as lnmux's hop hints say.
 */
export function virtualRoute(input: VirtualRouteInput): object {
  const finalExpiry = input.height + (input.finalCltvDelta ?? 40);
  const amount = input.amountMsat.toString();
  return {
    total_time_lock: finalExpiry + (input.hopCltvDelta ?? 40),
    total_amt_msat: amount,
    total_fees_msat: '0',
    hops: [
      { chan_id: input.chanIdToCluster, pub_key: input.clusterPubkeyHex, amt_to_forward_msat: amount, fee_msat: '0', expiry: finalExpiry, tlv_payload: true },
      {
        chan_id: input.virtualScid.toString(),
        pub_key: Buffer.from(input.virtualPubkey).toString('hex'),
        amt_to_forward_msat: amount,
        fee_msat: '0',
        expiry: finalExpiry,
        tlv_payload: true,
        mpp_record: { payment_addr: input.paymentAddr, total_amt_msat: (input.totalMsat ?? input.amountMsat).toString() },
      },
    ],
  };
}

/** BOLT 4 failure code incorrect_or_unknown_payment_details (PERM | 15). */
export const INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS = FAILURE_CODE.incorrectOrUnknownPaymentDetails;

/**
 * The 292-byte `failure_message` V returns for `failureMessage` (code and data, BOLT 4 "Returning
 * Errors"), encrypted with the shared secret of the onion's ephemeral key (bytes 1..33 of `onionBlob`)
 * and V's private key.
 */
export function finalHopFailure(onionBlob: Uint8Array, virtual: VirtualNode, failureMessage: Uint8Array): Buffer {
  if (onionBlob.length !== ONION_PACKET_LENGTH) throw new RangeError(`onionBlob: expected ${ONION_PACKET_LENGTH} bytes, got ${onionBlob.length}`);
  const sharedSecret = ecdhWithPrivateKey(virtual.privateKey)(onionBlob.subarray(1, 34));
  if (sharedSecret === undefined) throw new RangeError('onionBlob: the ephemeral key is not a point on the curve');
  return Buffer.from(createFailurePacket(sharedSecret, failureMessage));
}

/** incorrect_or_unknown_payment_details with its data: htlc_msat (u64) and height (u32). */
export function incorrectOrUnknownPaymentDetails(htlcMsat: bigint, height: number): Buffer {
  return Buffer.from(encodeFailureMessage({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat, height }));
}
