/**
 * A node's `channel_update` (BOLT 7) for one of its channels, signed with its identity key: what
 * LND puts into the UPDATE failures it creates (temporary_channel_failure, expiry_too_soon,
 * fee_insufficient, incorrect_cltv_expiry), with the message type prefix 258 as LND writes it.
 */
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { concatBytes, u64ToBytes } from '../protocol/index.js';

/** A channel's forwarding policy in one direction. */
export interface ChannelPolicy {
  /** Minimum difference between incoming and outgoing expiry, blocks. */
  readonly cltvExpiryDelta: number;
  readonly htlcMinimumMsat: bigint;
  readonly htlcMaximumMsat: bigint;
  readonly feeBaseMsat: number;
  readonly feeProportionalMillionths: number;
}

export interface ChannelUpdateFields {
  /** Genesis hash of the chain, internal byte order (32 bytes). */
  readonly chainHash: Uint8Array;
  readonly shortChannelId: bigint;
  /** Unix seconds. */
  readonly timestamp: number;
  /** Whether the signing node is node_2 (its pubkey sorts after the peer's): channel_flags bit 0. */
  readonly direction: 0 | 1;
  readonly disabled?: boolean;
  readonly policy: ChannelPolicy;
}

const u16 = (v: number): Uint8Array => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
const u32 = (v: number): Uint8Array => Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);

/** BOLT 7 message type of channel_update. */
export const CHANNEL_UPDATE_TYPE = 258;

/**
 * Encodes and signs a channel_update: type (u16 258) then signature (64 bytes, compact, low S) over
 * the double SHA256 of everything after it. `privateKey` is the node's identity key (32 bytes).
 */
export function signedChannelUpdate(fields: ChannelUpdateFields, privateKey: Uint8Array): Uint8Array {
  const body = concatBytes(
    fields.chainHash,
    u64ToBytes(fields.shortChannelId),
    u32(fields.timestamp),
    Uint8Array.of(1), // message_flags: must_be_one (htlc_maximum_msat present)
    Uint8Array.of(fields.direction | (fields.disabled === true ? 2 : 0)),
    u16(fields.policy.cltvExpiryDelta),
    u64ToBytes(fields.policy.htlcMinimumMsat),
    u32(fields.policy.feeBaseMsat),
    u32(fields.policy.feeProportionalMillionths),
    u64ToBytes(fields.policy.htlcMaximumMsat),
  );
  const digest = createHash('sha256').update(createHash('sha256').update(body).digest()).digest();
  const signature = secp256k1.sign(digest, privateKey, { prehash: false });
  return concatBytes(u16(CHANNEL_UPDATE_TYPE), signature, body);
}
