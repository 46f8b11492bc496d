/**
 * A simulated node's channels and their liquidity: opening, looking up, balances, and the signed
 * channel_update the node puts into the failures it creates for a channel.
 */
import { chainHashOf, type SimNetwork } from './chain.js';
import { signedChannelUpdate, type ChannelPolicy } from './channel-update.js';
import type { HtlcReceiver } from './htlc.js';
import type { KeyPair } from './keys.js';

/** LND's default forwarding policy (lncfg / chainreg defaults): 1 sat base, 1 ppm, 80 blocks. */
export const DEFAULT_POLICY: ChannelPolicy = {
  cltvExpiryDelta: 80,
  htlcMinimumMsat: 1_000n,
  htlcMaximumMsat: 0xffff_ffff_ffffn,
  feeBaseMsat: 1_000,
  feeProportionalMillionths: 1,
};

/** A channel of this node with a peer. Balances are msat; the node's policy applies to HTLCs it sends out on it. */
export interface NodeChannel {
  readonly scid: bigint;
  readonly peerPublicKey: Uint8Array;
  /** Where HTLCs forwarded out over this channel go; absent for a peer that only sends (the payer). */
  readonly peer?: HtlcReceiver;
  /** The node's balance: what it can send over the channel (its outbound liquidity), msat. */
  localMsat: bigint;
  /** The peer's balance: what the node can receive (its inbound liquidity), msat. */
  remoteMsat: bigint;
  /** Force-closed: no new HTLCs; its pending incoming HTLCs resolve on chain. */
  closed: boolean;
  readonly policy: ChannelPolicy;
}

/** What {@link NodeChannels.open} takes. `localMsat`: the node's balance; `remoteMsat`: the peer's. */
export interface OpenChannelOptions {
  readonly scid: bigint;
  readonly peerPublicKey: Uint8Array;
  readonly peer?: HtlcReceiver;
  readonly localMsat: bigint;
  readonly remoteMsat: bigint;
  readonly policy?: Partial<ChannelPolicy>;
}

export class NodeChannels {
  readonly #byScid = new Map<bigint, NodeChannel>();
  readonly #nodeName: string;
  readonly #keys: KeyPair;
  readonly #network: SimNetwork;
  readonly #now: () => number;

  /** `now`: clock, unix milliseconds (the channel_update timestamp). */
  constructor(nodeName: string, keys: KeyPair, network: SimNetwork, now: () => number) {
    this.#nodeName = nodeName;
    this.#keys = keys;
    this.#network = network;
    this.#now = now;
  }

  /** Opens a channel; throws RangeError if `scid` is taken on this node. */
  open(options: OpenChannelOptions): NodeChannel {
    if (this.#byScid.has(options.scid)) throw new RangeError(`scid ${options.scid} already used on node ${this.#nodeName}`);
    const channel: NodeChannel = {
      scid: options.scid,
      peerPublicKey: options.peerPublicKey,
      ...(options.peer === undefined ? {} : { peer: options.peer }),
      localMsat: options.localMsat,
      remoteMsat: options.remoteMsat,
      closed: false,
      policy: { ...DEFAULT_POLICY, ...options.policy },
    };
    this.#byScid.set(options.scid, channel);
    return channel;
  }

  /** The channel with id `scid`, if any. */
  get(scid: bigint): NodeChannel | undefined {
    return this.#byScid.get(scid);
  }

  /** The channel with id `scid`; throws RangeError naming it if the node has none. */
  require(scid: bigint): NodeChannel {
    const channel = this.#byScid.get(scid);
    if (channel === undefined) throw new RangeError(`no channel ${scid} on node ${this.#nodeName}`);
    return channel;
  }

  /** Every channel, in opening order. */
  values(): NodeChannel[] {
    return [...this.#byScid.values()];
  }

  /** The node's current channel_update for `channel`, signed (what its UPDATE failures carry). */
  channelUpdate(channel: NodeChannel): Uint8Array {
    // BOLT 7: direction 0 when this node's key sorts first.
    const ours = Buffer.from(this.#keys.publicKey);
    const direction = ours.compare(Buffer.from(channel.peerPublicKey)) < 0 ? 0 : 1;
    return signedChannelUpdate(
      { chainHash: chainHashOf(this.#network), shortChannelId: channel.scid, timestamp: Math.floor(this.#now() / 1000), direction, policy: channel.policy },
      this.#keys.privateKey,
    );
  }
}
