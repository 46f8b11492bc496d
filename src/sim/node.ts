/**
 * A simulated LND node, the public face: its options, identity and connection facts, and the API the
 * cluster, tests and chaos suite drive it with. The work is done by the parts it owns (node-context.ts):
 * node-lifecycle.ts (folder, start/stop), node-channels.ts (channels, liquidity), forwarding.ts and
 * switch-forward.ts (the HTLC pipeline), htlc-resolution.ts and final-resolutions.ts (how HTLCs end and
 * what is kept of them), node-backend.ts (what its gRPC services see). It can be stopped and started
 * again on the same port with the same key, certificate and macaroon; channel state survives, held
 * HTLCs are replayed as LND replays them after a restart.
 */
import { bytesToHex, ecdhWithPrivateKey, virtualChannelId, type NodeCircuitKey } from '../protocol/index.js';
import type { SimChain, SimNetwork } from './chain.js';
import { NodeCircuitMap } from './circuit-map.js';
import { FinalResolutions, type FinalResolution, type ResolvedHtlc } from './final-resolutions.js';
import { addIncomingHtlc, expireOnChain, forceClose } from './forwarding.js';
import type { AddHtlcResult, HtlcOffer, HtlcReceiver } from './htlc.js';
import type { KeyPair } from './keys.js';
import { KnownSharedSecrets } from './known-secrets.js';
import type { BackendSettings } from './node-backend.js';
import { NodeChannels, type NodeChannel, type OpenChannelOptions } from './node-channels.js';
import type { IncomingState, NodeContext } from './node-context.js';
import { DEFAULT_LND_VERSION, versionMessage } from './node-info.js';
import { openRun, prepareNodeFiles, replayHtlcs, stopRun, type NodeFiles } from './node-lifecycle.js';

export { DEFAULT_LND_VERSION } from './node-info.js';
export { DEFAULT_POLICY, type NodeChannel } from './node-channels.js';
export type { ResolvedHtlc } from './final-resolutions.js';

export interface SimNodeOptions {
  /** A short name (logs, aliases). */
  readonly name: string;
  /** The node's folder: tls.cert, tls.key, admin.macaroon, macaroon root key. Created if absent. */
  readonly dir: string;
  readonly chain: SimChain;
  readonly keys: KeyPair;
  /** Listening host (default 127.0.0.1). */
  readonly host?: string;
  /** Listening port; 0 (default) takes a free one at first start and keeps it for restarts. */
  readonly port?: number;
  readonly network?: SimNetwork;
  /** `--requireinterceptor` (default true). */
  readonly requireInterceptor?: boolean;
  /** `--store-final-htlc-resolutions` (default true). */
  readonly storeFinalHtlcResolutions?: boolean;
  /** LND version reported, "major.minor.patch-pre" (default 0.21.2-beta). */
  readonly lndVersion?: string;
  /** Clock, unix milliseconds (timestamps of events and channel updates). */
  readonly now?: () => number;
}

/** Connection facts a client needs, and the node's virtual channel. */
export interface SimNodeInfo {
  readonly name: string;
  /** Hex of the 33-byte compressed identity key. */
  readonly pubkey: string;
  readonly host: string;
  readonly port: number;
  /** host:port */
  readonly address: string;
  /** PEM certificate to pin (LND's tls.cert). */
  readonly certPath: string;
  /** Binary macaroon (LND's admin.macaroon); send it hex-encoded in the `macaroon` metadata. */
  readonly macaroonPath: string;
  readonly macaroonHex: string;
  /** The virtual channel id lnmux's route hints name for this node. */
  readonly virtualScid: bigint;
}

export class SimNode implements HtlcReceiver {
  readonly name: string;
  readonly keys: KeyPair;
  readonly chain: SimChain;
  readonly network: SimNetwork;
  /** `--requireinterceptor`; a restart may change it (as restarting lnd with other flags does). */
  #requireInterceptor: boolean;
  readonly storeFinalHtlcResolutions: boolean;
  readonly lndVersion: string;
  readonly host: string;
  readonly #dir: string;
  readonly #files: NodeFiles;
  #port: number;
  readonly #node: NodeContext;
  /**
   * Shared secrets of onions this node will receive, handed over by a payer that built them
   * (benchmarks: see known-secrets.ts); empty, the node computes every ECDH itself as LND does.
   */
  readonly knownSharedSecrets = new KnownSharedSecrets();

  private constructor(options: SimNodeOptions, files: NodeFiles) {
    this.name = options.name;
    this.keys = options.keys;
    this.chain = options.chain;
    this.network = options.network ?? 'regtest';
    this.#requireInterceptor = options.requireInterceptor ?? true;
    this.storeFinalHtlcResolutions = options.storeFinalHtlcResolutions ?? true;
    this.lndVersion = options.lndVersion ?? DEFAULT_LND_VERSION;
    // Refuse a version that does not parse now, not at the first GetVersion.
    versionMessage(this.lndVersion);
    this.host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#dir = options.dir;
    this.#files = files;
    const now = options.now ?? Date.now;
    this.#node = {
      name: this.name,
      keys: this.keys,
      chain: this.chain,
      network: this.network,
      ecdh: this.knownSharedSecrets.wrap(ecdhWithPrivateKey(options.keys.privateKey)),
      now,
      channels: new NodeChannels(this.name, this.keys, this.network, now),
      incoming: new NodeCircuitMap(),
      nextHtlcId: new Map(),
      resolutions: new FinalResolutions(this.storeFinalHtlcResolutions),
      run: undefined,
    };
    // On chain, the peer times an expired HTLC out whether this node runs or not.
    this.chain.onBlock((block) => expireOnChain(this.#node, block.height));
  }

  /**
   * Prepares a node in `options.dir` (TLS certificate, macaroon root key and admin.macaroon, reused
   * when present) without starting it.
   */
  static async create(options: SimNodeOptions): Promise<SimNode> {
    return new SimNode(options, await prepareNodeFiles(options.dir));
  }

  /** `--requireinterceptor` of the current (or next) run. */
  get requireInterceptor(): boolean {
    return this.#requireInterceptor;
  }

  get publicKey(): Uint8Array {
    return this.keys.publicKey;
  }

  /** The virtual channel id of this node (last 8 bytes of its pubkey, top bit set). */
  get virtualScid(): bigint {
    return virtualChannelId(this.keys.publicKey);
  }

  /** Whether the gRPC server runs (the node is up). */
  get online(): boolean {
    return this.#node.run !== undefined;
  }

  get port(): number {
    return this.#port;
  }

  get info(): SimNodeInfo {
    return {
      name: this.name,
      pubkey: bytesToHex(this.keys.publicKey),
      host: this.host,
      port: this.#port,
      address: `${this.host}:${this.#port}`,
      certPath: this.#files.tls.certPath,
      macaroonPath: this.#files.macaroonPath,
      macaroonHex: Buffer.from(this.#files.macaroon).toString('hex'),
      virtualScid: this.virtualScid,
    };
  }

  /** The node's folder. */
  get dir(): string {
    return this.#dir;
  }

  /** Starts the gRPC server (same port as before after a restart) and replays the HTLCs LND would replay. */
  async start(): Promise<void> {
    if (this.#node.run !== undefined) return;
    const settings: BackendSettings = {
      macaroonKey: this.#files.macaroonKey,
      lndVersion: this.lndVersion,
      requireInterceptor: () => this.requireInterceptor,
    };
    this.#port = await openRun(this.#node, { host: this.host, port: this.#port, tls: this.#files.tls }, settings);
    replayHtlcs(this.#node);
  }

  /** Stops the gRPC server at once (every stream ends, as when lnd exits). Channel state is kept. */
  async stop(): Promise<void> {
    await stopRun(this.#node);
  }

  /**
   * Stops and starts again, optionally with `--requireinterceptor` changed: a node restarted without it
   * forwards the HTLCs it replays while no interceptor is registered (for the virtual channel, that
   * fails them), as LND does.
   */
  async restart(options: { readonly requireInterceptor?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.requireInterceptor !== undefined) this.#requireInterceptor = options.requireInterceptor;
    await this.start();
  }

  /**
   * Inspection (not an LND API): calls `listener` with every incoming HTLC this node resolves from now
   * on, settled or failed, whether the node runs or not (on-chain timeouts). Returns the function
   * that stops it. The chaos suite's checker reads the nodes' side of every payment through it.
   */
  onHtlcResolved(listener: (record: ResolvedHtlc) => void): () => void {
    return this.#node.resolutions.onResolved(listener);
  }

  /** Opens a channel with a peer. `localMsat`: the node's balance; `remoteMsat`: the peer's. */
  openChannel(options: OpenChannelOptions): NodeChannel {
    return this.#node.channels.open(options);
  }

  /** The channel with id `scid`, if any. */
  channel(scid: bigint): NodeChannel | undefined {
    return this.#node.channels.get(scid);
  }

  /**
   * Force-closes channel `scid` (as if its commitment confirmed): no more HTLCs over it, and every
   * incoming HTLC on it still held for the interceptor moves to LND's on-chain flow: offered again
   * with the settlement deadline (its expiry) as auto_fail_height, settle-only, and timed out by the
   * peer once the chain reaches the deadline.
   */
  forceCloseChannel(scid: bigint): void {
    forceClose(this.#node, this.#node.channels.require(scid));
  }

  /** Sets what the node can still receive over `scid` (the peer's balance), msat. */
  setInboundLiquidity(scid: bigint, msat: bigint): void {
    this.#node.channels.require(scid).remoteMsat = msat;
  }

  /** Sets what the node can still send over `scid` (its own balance), msat. */
  setOutboundLiquidity(scid: bigint, msat: bigint): void {
    this.#node.channels.require(scid).localMsat = msat;
  }

  /** Incoming HTLCs not yet resolved, with their state. */
  pendingHtlcs(): { key: NodeCircuitKey; state: IncomingState; amountMsat: bigint; paymentHash: Uint8Array }[] {
    return this.#node.incoming.values().map((h) => ({ key: h.key, state: h.state, amountMsat: h.offer.amountMsat, paymentHash: h.offer.paymentHash }));
  }

  /** Whether an interceptor client holds the node's HtlcInterceptor stream now. */
  get interceptorConnected(): boolean {
    const run = this.#node.run;
    return run !== undefined && run.interceptorClaimed;
  }

  /** Circuit keys the interceptable switch holds now (empty while the node is down). */
  heldHtlcs(): NodeCircuitKey[] {
    return this.#node.run?.htlcSwitch.heldKeys() ?? [];
  }

  /** The stored final resolution of an incoming HTLC, if any. */
  finalResolution(key: NodeCircuitKey): FinalResolution | undefined {
    return this.#node.resolutions.get(key);
  }

  /**
   * A peer adds an HTLC over channel `chanId` (BOLT 2 update_add_htlc). Refused at once when the
   * node is down, the channel unknown, or the peer's balance (the node's inbound liquidity) too low:
   * the sender's own link fails it, with temporary_channel_failure for a payer.
   */
  addHtlc(chanId: bigint, offer: HtlcOffer): AddHtlcResult {
    return addIncomingHtlc(this.#node, chanId, offer);
  }
}
