/**
 * The state the parts of a simulated node share (channels, incoming HTLCs, final resolutions, the
 * current run), so that each part can live in its own file as functions of it; SimNode owns it.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Ecdh, NodeCircuitKey } from '../protocol/index.js';
import type { SimChain, SimNetwork } from './chain.js';
import type { NodeCircuitMap } from './circuit-map.js';
import type { FinalResolutions } from './final-resolutions.js';
import type { HtlcOffer, HtlcResolution } from './htlc.js';
import type { InterceptableSwitch } from './interceptable-switch.js';
import type { KeyPair } from './keys.js';
import type { NodeChannel, NodeChannels } from './node-channels.js';

/**
 * Where an incoming HTLC is: `new` (not decoded yet), `intercept` (in the interceptable switch),
 * `forwarded` (out over a real channel), `onChain` (its channel force-closed while held), `resolved`.
 */
export type IncomingState = 'new' | 'intercept' | 'forwarded' | 'onChain' | 'resolved';

/** What the incoming HTLC's onion asks this node to forward. */
export interface Forwarding {
  readonly outgoingChanId: bigint;
  /** msat; RESUME_MODIFIED may change it. */
  outgoingAmountMsat: bigint;
  /** Block height. */
  readonly outgoingExpiry: number;
  readonly customRecords: ReadonlyMap<bigint, Uint8Array>;
  /** The onion for the next hop. */
  readonly onionBlob: Uint8Array;
}

/** An HTLC a peer added to this node, until it is resolved. */
export interface IncomingHtlc {
  readonly key: NodeCircuitKey;
  readonly channel: NodeChannel;
  readonly offer: HtlcOffer;
  /** The amount the switch takes as incoming (RESUME_MODIFIED may change it), msat. */
  incomingAmountMsat: bigint;
  state: IncomingState;
  /** Set once this node's onion layer is peeled: what it encrypts failures with. */
  sharedSecret?: Uint8Array;
  forwarding?: Forwarding;
  /** Hands the resolution back to the peer that added the HTLC. */
  readonly deliver: (resolution: HtlcResolution) => void;
}

/** One run of the node, start to stop: what LND keeps in memory only. */
export interface Run {
  stopped: boolean;
  readonly server: grpc.Server;
  readonly htlcSwitch: InterceptableSwitch;
  interceptorClaimed: boolean;
  readonly htlcEventListeners: Set<(event: Record<string, unknown>) => void>;
  stopBlocks: () => void;
}

export interface NodeContext {
  readonly name: string;
  readonly keys: KeyPair;
  readonly chain: SimChain;
  readonly network: SimNetwork;
  /** ECDH with the node's identity key: peels its onion layer. */
  readonly ecdh: Ecdh;
  /** Clock, unix milliseconds. */
  readonly now: () => number;
  readonly channels: NodeChannels;
  /** Incoming HTLCs not yet resolved, in arrival order. */
  readonly incoming: NodeCircuitMap<IncomingHtlc>;
  /** Per channel, the HTLC index the peer's next HTLC gets (LND numbers each channel's HTLCs from 0). */
  readonly nextHtlcId: Map<bigint, bigint>;
  readonly resolutions: FinalResolutions;
  /** The current run; undefined while the node is down. */
  run: Run | undefined;
}
