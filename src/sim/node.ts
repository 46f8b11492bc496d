/**
 * A simulated LND node: an identity key, channels with balances, LND's HTLC forwarding for what
 * reaches it over those channels (peel its own onion layer, hand forwards to the interceptable
 * switch, forward or fail as LND does), final-resolution bookkeeping, and LND's gRPC API over TLS
 * with macaroons ({@link createLndServer}). It can be stopped and started again on the same port with
 * the same key, certificate and macaroon; channel state survives, held HTLCs are replayed as LND
 * replays them after a restart.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { chainHashOf, type BlockEpoch, type SimChain, type SimNetwork } from './chain.js';
import { signedChannelUpdate, type ChannelPolicy } from './channel-update.js';
import type { AddHtlcResult, HtlcOffer, HtlcReceiver, HtlcResolution } from './htlc.js';
import type { InterceptedHtlc } from './intercept-messages.js';
import { NodeCircuitMap } from './circuit-map.js';
import { InterceptableSwitch, type InterceptedForward, type SwitchFailCode } from './interceptable-switch.js';
import type { KeyPair } from './keys.js';
import { createLndServer, type LndBackend } from './lnd-server.js';
import { mintAdminMacaroon, newMacaroonKey, type MacaroonKey } from './macaroon.js';
import {
  bytesToHex,
  createFailurePacket,
  decodeHopPayload,
  ecdhWithPrivateKey,
  encodeFailureMessage,
  equalBytes,
  FAILURE_CODE,
  peelOnion,
  virtualChannelId,
  wrapFailurePacket,
  type Ecdh,
  type FailureMessage,
  type NodeCircuitKey,
  type OnionError,
} from '../protocol/index.js';
import { DEFAULT_LND_VERSION, getInfoMessage, versionMessage } from './node-info.js';
import { ensureTlsCertificate, type TlsFiles } from './tls-cert.js';

export { DEFAULT_LND_VERSION } from './node-info.js';

/** LND's default forwarding policy (lncfg / chainreg defaults): 1 sat base, 1 ppm, 80 blocks. */
export const DEFAULT_POLICY: ChannelPolicy = {
  cltvExpiryDelta: 80,
  htlcMinimumMsat: 1_000n,
  htlcMaximumMsat: 0xffff_ffff_ffffn,
  feeBaseMsat: 1_000,
  feeProportionalMillionths: 1,
};


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

/** An incoming HTLC as the node resolved it (see {@link SimNode.onHtlcResolved}). */
export interface ResolvedHtlc {
  readonly key: NodeCircuitKey;
  readonly paymentHash: Uint8Array;
  /** The incoming HTLC's amount, msat. */
  readonly amountMsat: bigint;
  /** The channel its onion asked to forward over (absent when the onion was not decoded). */
  readonly outgoingChanId?: bigint;
  readonly settled: boolean;
  readonly offchain: boolean;
}

type IncomingState = 'new' | 'intercept' | 'forwarded' | 'onChain' | 'resolved';

interface Forwarding {
  readonly outgoingChanId: bigint;
  outgoingAmountMsat: bigint;
  readonly outgoingExpiry: number;
  readonly customRecords: ReadonlyMap<bigint, Uint8Array>;
  readonly onionBlob: Uint8Array;
}

interface IncomingHtlc {
  readonly key: NodeCircuitKey;
  readonly channel: NodeChannel;
  readonly offer: HtlcOffer;
  /** The amount the switch takes as incoming (RESUME_MODIFIED may change it), msat. */
  incomingAmountMsat: bigint;
  state: IncomingState;
  sharedSecret?: Uint8Array;
  forwarding?: Forwarding;
  readonly deliver: (resolution: HtlcResolution) => void;
}

interface Run {
  stopped: boolean;
  readonly server: grpc.Server;
  readonly htlcSwitch: InterceptableSwitch;
  interceptorClaimed: boolean;
  readonly htlcEventListeners: Set<(event: Record<string, unknown>) => void>;
  stopBlocks: () => void;
}

const sha256 = (data: Uint8Array): Uint8Array => createHash('sha256').update(data).digest();


/** BOLT 4 BADONION codes for an onion LND's iterator could not process (htlcswitch/hop/iterator.go). */
function malformedCode(error: OnionError): number {
  switch (error.kind) {
    case 'invalidOnionVersion':
      return FAILURE_CODE.invalidOnionVersion;
    case 'invalidOnionHmac':
      return FAILURE_CODE.invalidOnionHmac;
    default:
      // LND maps every other decoding error to invalid_onion_key.
      return FAILURE_CODE.invalidOnionKey;
  }
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
  readonly #tls: TlsFiles;
  readonly #macaroonKey: MacaroonKey;
  readonly #macaroon: Uint8Array;
  readonly #macaroonPath: string;
  readonly #ecdh: Ecdh;
  readonly #now: () => number;
  #port: number;
  #run: Run | undefined;
  readonly #channels = new Map<bigint, NodeChannel>();
  readonly #incoming = new NodeCircuitMap<IncomingHtlc>();
  readonly #nextHtlcId = new Map<bigint, bigint>();
  readonly #finalResolutions = new NodeCircuitMap<{ settled: boolean; offchain: boolean }>();
  readonly #resolvedListeners = new Set<(record: ResolvedHtlc) => void>();

  private constructor(options: SimNodeOptions, tls: TlsFiles, macaroonKey: MacaroonKey, macaroon: Uint8Array, macaroonPath: string) {
    this.name = options.name;
    this.keys = options.keys;
    this.chain = options.chain;
    this.network = options.network ?? 'regtest';
    this.#requireInterceptor = options.requireInterceptor ?? true;
    this.storeFinalHtlcResolutions = options.storeFinalHtlcResolutions ?? true;
    this.lndVersion = options.lndVersion ?? DEFAULT_LND_VERSION;
    versionMessage(this.lndVersion);
    this.host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#dir = options.dir;
    this.#tls = tls;
    this.#macaroonKey = macaroonKey;
    this.#macaroon = macaroon;
    this.#macaroonPath = macaroonPath;
    this.#ecdh = ecdhWithPrivateKey(options.keys.privateKey);
    this.#now = options.now ?? Date.now;
    // On chain, the peer times an expired HTLC out whether this node runs or not.
    this.chain.onBlock((block) => this.#expireOnChain(block.height));
  }

  /**
   * Prepares a node in `options.dir` (TLS certificate, macaroon root key and admin.macaroon, reused
   * when present) without starting it.
   */
  static async create(options: SimNodeOptions): Promise<SimNode> {
    await mkdir(options.dir, { recursive: true });
    const tls = await ensureTlsCertificate(options.dir);
    const rootKeyPath = join(options.dir, 'macaroons.rootkey');
    let macaroonKey: MacaroonKey;
    try {
      const rootKey = await readFile(rootKeyPath);
      if (rootKey.length !== 32) throw new Error('bad root key length');
      macaroonKey = { rootKey };
    } catch {
      macaroonKey = newMacaroonKey();
      await writeFile(rootKeyPath, macaroonKey.rootKey, { mode: 0o600 });
    }
    const macaroonPath = join(options.dir, 'admin.macaroon');
    let macaroon: Uint8Array;
    try {
      macaroon = await readFile(macaroonPath);
    } catch {
      macaroon = mintAdminMacaroon(macaroonKey);
      await writeFile(macaroonPath, macaroon, { mode: 0o600 });
    }
    return new SimNode(options, tls, macaroonKey, macaroon, macaroonPath);
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
    return this.#run !== undefined;
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
      certPath: this.#tls.certPath,
      macaroonPath: this.#macaroonPath,
      macaroonHex: Buffer.from(this.#macaroon).toString('hex'),
      virtualScid: this.virtualScid,
    };
  }

  /** The node's folder. */
  get dir(): string {
    return this.#dir;
  }

  /** Starts the gRPC server (same port as before after a restart) and replays the HTLCs LND would replay. */
  async start(): Promise<void> {
    if (this.#run !== undefined) return;
    const htlcSwitch = new InterceptableSwitch({ requireInterceptor: this.requireInterceptor, height: () => this.chain.height });
    const run: Run = {
      stopped: false,
      server: createLndServer(this.#backend(() => run)),
      htlcSwitch,
      interceptorClaimed: false,
      htlcEventListeners: new Set(),
      stopBlocks: () => undefined,
    };
    // The run exists before the port opens: a client that reconnects at once finds a live node.
    this.#run = run;
    try {
      this.#port = await new Promise<number>((resolve, reject) => {
        run.server.bindAsync(
          `${this.host}:${this.#port}`,
          grpc.ServerCredentials.createSsl(null, [{ cert_chain: this.#tls.cert, private_key: this.#tls.key }], false),
          (error, bound) => (error === null ? resolve(bound) : reject(error)),
        );
      });
    } catch (error) {
      run.stopped = true;
      this.#run = undefined;
      run.server.forceShutdown();
      throw new Error(`node ${this.name} cannot listen on ${this.host}:${this.#port}`, { cause: error });
    }
    run.stopBlocks = this.chain.onBlock((block) => {
      if (!run.stopped) run.htlcSwitch.blockConnected(block.height);
    });
    // After a restart the link re-forwards every HTLC that is locked in but has no outgoing circuit.
    for (const htlc of this.#incoming.values()) {
      if (htlc.state === 'intercept') this.#offerToSwitch(htlc, true);
      else if (htlc.state === 'onChain') run.htlcSwitch.holdOnChain(this.#forwardHandle(htlc));
      else if (htlc.state === 'new') this.#process(htlc);
    }
  }

  /** Stops the gRPC server at once (every stream ends, as when lnd exits). Channel state is kept. */
  async stop(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    run.stopped = true;
    this.#run = undefined;
    run.stopBlocks();
    run.htlcSwitch.clear();
    run.server.forceShutdown();
    // Wait until its listener is closed: a restart binds the same port, and a connection accepted by the
    // old listener meanwhile would reach a stopped node (that answers nothing useful) for good.
    await new Promise<void>((resolve) => run.server.tryShutdown(() => resolve()));
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
    this.#resolvedListeners.add(listener);
    return () => this.#resolvedListeners.delete(listener);
  }

  /** Opens a channel with a peer. `localMsat`: the node's balance; `remoteMsat`: the peer's. */
  openChannel(options: {
    scid: bigint;
    peerPublicKey: Uint8Array;
    peer?: HtlcReceiver;
    localMsat: bigint;
    remoteMsat: bigint;
    policy?: Partial<ChannelPolicy>;
  }): NodeChannel {
    if (this.#channels.has(options.scid)) throw new RangeError(`scid ${options.scid} already used on node ${this.name}`);
    const channel: NodeChannel = {
      scid: options.scid,
      peerPublicKey: options.peerPublicKey,
      ...(options.peer === undefined ? {} : { peer: options.peer }),
      localMsat: options.localMsat,
      remoteMsat: options.remoteMsat,
      closed: false,
      policy: { ...DEFAULT_POLICY, ...options.policy },
    };
    this.#channels.set(options.scid, channel);
    return channel;
  }

  /** The channel with id `scid`, if any. */
  channel(scid: bigint): NodeChannel | undefined {
    return this.#channels.get(scid);
  }

  /**
   * Force-closes channel `scid` (as if its commitment confirmed): no more HTLCs over it, and every
   * incoming HTLC on it still held for the interceptor moves to LND's on-chain flow: offered again
   * with the settlement deadline (its expiry) as auto_fail_height, settle-only, and timed out by the
   * peer once the chain reaches the deadline.
   */
  forceCloseChannel(scid: bigint): void {
    const channel = this.#channels.get(scid);
    if (channel === undefined) throw new RangeError(`no channel ${scid} on node ${this.name}`);
    channel.closed = true;
    for (const htlc of this.#incoming.values()) {
      if (htlc.channel !== channel || htlc.state !== 'intercept') continue;
      htlc.state = 'onChain';
      this.#run?.htlcSwitch.holdOnChain(this.#forwardHandle(htlc));
    }
  }

  #expireOnChain(height: number): void {
    for (const htlc of this.#incoming.values()) {
      if (htlc.state === 'onChain' && htlc.offer.expiry <= height) this.#resolveIncoming(htlc, { kind: 'onChainTimeout' });
    }
  }

  /** Sets what the node can still receive over `scid` (the peer's balance), msat. */
  setInboundLiquidity(scid: bigint, msat: bigint): void {
    const channel = this.#channels.get(scid);
    if (channel === undefined) throw new RangeError(`no channel ${scid} on node ${this.name}`);
    channel.remoteMsat = msat;
  }

  /** Sets what the node can still send over `scid` (its own balance), msat. */
  setOutboundLiquidity(scid: bigint, msat: bigint): void {
    const channel = this.#channels.get(scid);
    if (channel === undefined) throw new RangeError(`no channel ${scid} on node ${this.name}`);
    channel.localMsat = msat;
  }

  /** Incoming HTLCs not yet resolved, with their state. */
  pendingHtlcs(): { key: NodeCircuitKey; state: IncomingState; amountMsat: bigint; paymentHash: Uint8Array }[] {
    return this.#incoming.values().map((h) => ({ key: h.key, state: h.state, amountMsat: h.offer.amountMsat, paymentHash: h.offer.paymentHash }));
  }

  /** Whether an interceptor client holds the node's HtlcInterceptor stream now. */
  get interceptorConnected(): boolean {
    const run = this.#run;
    return run !== undefined && run.interceptorClaimed;
  }

  /** Circuit keys the interceptable switch holds now (empty while the node is down). */
  heldHtlcs(): NodeCircuitKey[] {
    return this.#run?.htlcSwitch.heldKeys() ?? [];
  }

  /** The stored final resolution of an incoming HTLC, if any. */
  finalResolution(key: NodeCircuitKey): { settled: boolean; offchain: boolean } | undefined {
    return this.#finalResolutions.get(key);
  }

  /**
   * A peer adds an HTLC over channel `chanId` (BOLT 2 update_add_htlc). Refused at once when the
   * node is down, the channel unknown, or the peer's balance (the node's inbound liquidity) too low:
   * the sender's own link fails it, with temporary_channel_failure for a payer.
   */
  addHtlc(chanId: bigint, offer: HtlcOffer): AddHtlcResult {
    if (this.#run === undefined) return { ok: false, refusal: 'peerOffline' };
    const channel = this.#channels.get(chanId);
    if (channel === undefined || channel.closed) return { ok: false, refusal: 'unknownChannel' };
    if (offer.amountMsat > channel.remoteMsat) return { ok: false, refusal: 'insufficientBalance' };
    channel.remoteMsat -= offer.amountMsat;
    const htlcId = this.#nextHtlcId.get(chanId) ?? 0n;
    this.#nextHtlcId.set(chanId, htlcId + 1n);
    let deliver!: (resolution: HtlcResolution) => void;
    const resolution = new Promise<HtlcResolution>((resolve) => {
      deliver = resolve;
    });
    const htlc: IncomingHtlc = {
      key: { chanId, htlcId },
      channel,
      offer,
      incomingAmountMsat: offer.amountMsat,
      state: 'new',
      deliver,
    };
    this.#incoming.set(htlc.key, htlc);
    setImmediate(() => this.#process(htlc));
    return { ok: true, htlcId, resolution };
  }

  // ---- the link: decode, then exit hop or forward --------------------------------------------

  #process(htlc: IncomingHtlc): void {
    if (this.#run === undefined || htlc.state !== 'new') return;
    const peeled = peelOnion(htlc.offer.onion, htlc.offer.paymentHash, this.#ecdh);
    if (!peeled.ok) {
      this.#resolveIncoming(htlc, { kind: 'failMalformed', failureCode: malformedCode(peeled.error), sha256OfOnion: sha256(htlc.offer.onion) });
      return;
    }
    htlc.sharedSecret = peeled.value.sharedSecret;
    const next = peeled.value.next;
    const payload = decodeHopPayload(peeled.value.payload, next.kind === 'final' ? 'final' : 'intermediate');
    if (!payload.ok) {
      // LND reports the offending type and always offset 0 (htlcswitch/hop/payload.go).
      this.#failIncoming(htlc, { kind: 'invalidOnionPayload', type: payload.error.type, offset: 0 });
      return;
    }
    if (next.kind === 'final' || payload.value.shortChannelId === undefined) {
      // An exit hop: the simulated nodes hold no invoices of their own.
      this.#failIncoming(htlc, { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: htlc.offer.amountMsat, height: this.chain.height });
      return;
    }
    const customRecords = new Map<bigint, Uint8Array>();
    for (const record of payload.value.otherRecords) if (record.type >= 65536n) customRecords.set(record.type, record.value);
    htlc.forwarding = {
      outgoingChanId: payload.value.shortChannelId,
      outgoingAmountMsat: payload.value.amtToForwardMsat,
      outgoingExpiry: payload.value.outgoingCltvValue,
      customRecords,
      onionBlob: next.onion,
    };
    htlc.state = 'intercept';
    this.#offerToSwitch(htlc, false);
  }

  #offerToSwitch(htlc: IncomingHtlc, isReplay: boolean): void {
    const run = this.#run;
    if (run === undefined) return;
    const intercepted = run.htlcSwitch.forward(this.#forwardHandle(htlc), isReplay);
    if (!intercepted) this.#switchForward(htlc);
  }

  #forwardHandle(htlc: IncomingHtlc): InterceptedForward {
    const live = (): boolean => htlc.state === 'intercept';
    const settleable = (): boolean => htlc.state === 'intercept' || htlc.state === 'onChain';
    return {
      key: htlc.key,
      incomingExpiry: htlc.offer.expiry,
      resume: (modified) => {
        if (!live() || htlc.forwarding === undefined) return;
        if (modified?.inAmountMsat !== undefined) htlc.incomingAmountMsat = modified.inAmountMsat;
        if (modified?.outAmountMsat !== undefined) htlc.forwarding.outgoingAmountMsat = modified.outAmountMsat;
        this.#switchForward(htlc);
      },
      settle: (preimage) => {
        if (!equalBytes(sha256(preimage), htlc.offer.paymentHash)) return 'preimage does not match hash';
        if (settleable()) this.#resolveIncoming(htlc, { kind: 'fulfill', preimage: Uint8Array.from(preimage) });
        return undefined;
      },
      fail: (failurePacket) => {
        if (!live() || htlc.sharedSecret === undefined) return;
        this.#resolveIncoming(htlc, { kind: 'fail', reason: wrapFailurePacket(htlc.sharedSecret, failurePacket) });
      },
      failWithCode: (code) => {
        if (live()) this.#failIncoming(htlc, this.#switchFailure(code, htlc));
      },
    };
  }

  #interceptedView(htlc: IncomingHtlc): InterceptedHtlc | undefined {
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

  // ---- the switch proper: forward over a real channel, or fail ---------------------------------

  #switchForward(htlc: IncomingHtlc): void {
    const f = htlc.forwarding;
    if (f === undefined) return;
    const out = this.#channels.get(f.outgoingChanId);
    if (out === undefined || out.peer === undefined) {
      // The virtual channel, or any channel the node does not have.
      this.#linkFail(htlc, { kind: 'unknownNextPeer' }, 'UNKNOWN_NEXT_PEER', 'UnknownNextPeer');
      return;
    }
    const policy = out.policy;
    const height = this.chain.height;
    const fee = BigInt(policy.feeBaseMsat) + (f.outgoingAmountMsat * BigInt(policy.feeProportionalMillionths)) / 1_000_000n;
    if (f.outgoingAmountMsat < policy.htlcMinimumMsat) {
      this.#linkFail(htlc, { kind: 'amountBelowMinimum', htlcMsat: f.outgoingAmountMsat, channelUpdate: this.#channelUpdate(out) }, 'AMOUNT_BELOW_MINIMUM', 'AmountBelowMinimum');
      return;
    }
    if (htlc.incomingAmountMsat < f.outgoingAmountMsat + fee) {
      this.#linkFail(htlc, { kind: 'feeInsufficient', htlcMsat: htlc.incomingAmountMsat, channelUpdate: this.#channelUpdate(out) }, 'FEE_INSUFFICIENT', 'FeeInsufficient');
      return;
    }
    if (htlc.offer.expiry < f.outgoingExpiry + policy.cltvExpiryDelta) {
      this.#linkFail(htlc, { kind: 'incorrectCltvExpiry', cltvExpiry: htlc.offer.expiry, channelUpdate: this.#channelUpdate(out) }, 'INCORRECT_CLTV_EXPIRY', 'IncorrectCltvExpiry');
      return;
    }
    if (f.outgoingExpiry <= height + 3) {
      // DefaultOutgoingCltvRejectDelta: no time left to forward.
      this.#linkFail(htlc, { kind: 'expiryTooSoon', channelUpdate: this.#channelUpdate(out) }, 'EXPIRY_TOO_SOON', 'ExpiryTooSoon');
      return;
    }
    if (out.localMsat < f.outgoingAmountMsat) {
      this.#linkFail(htlc, { kind: 'temporaryChannelFailure', channelUpdate: this.#channelUpdate(out) }, 'TEMPORARY_CHANNEL_FAILURE', 'TemporaryChannelFailure');
      return;
    }
    const added = out.peer.addHtlc(out.scid, { amountMsat: f.outgoingAmountMsat, expiry: f.outgoingExpiry, paymentHash: htlc.offer.paymentHash, onion: f.onionBlob });
    if (!added.ok) {
      this.#linkFail(htlc, { kind: 'temporaryChannelFailure', channelUpdate: this.#channelUpdate(out) }, 'TEMPORARY_CHANNEL_FAILURE', 'TemporaryChannelFailure');
      return;
    }
    out.localMsat -= f.outgoingAmountMsat;
    htlc.state = 'forwarded';
    const outgoingHtlcId = added.htlcId;
    const forwardKey = { outgoing_channel_id: out.scid.toString(), outgoing_htlc_id: outgoingHtlcId.toString() };
    const info = {
      incoming_timelock: htlc.offer.expiry,
      outgoing_timelock: f.outgoingExpiry,
      incoming_amt_msat: htlc.incomingAmountMsat.toString(),
      outgoing_amt_msat: f.outgoingAmountMsat.toString(),
    };
    this.#emitForwardEvent(htlc, forwardKey, { forward_event: { info } });
    void added.resolution.then((resolution) => {
      switch (resolution.kind) {
        case 'fulfill':
          out.remoteMsat += f.outgoingAmountMsat;
          this.#emitForwardEvent(htlc, forwardKey, { settle_event: { preimage: Buffer.from(resolution.preimage) } });
          this.#resolveIncoming(htlc, resolution);
          return;
        case 'fail':
          out.localMsat += f.outgoingAmountMsat;
          this.#emitForwardEvent(htlc, forwardKey, { forward_fail_event: {} });
          if (htlc.sharedSecret !== undefined) this.#resolveIncoming(htlc, { kind: 'fail', reason: wrapFailurePacket(htlc.sharedSecret, resolution.reason) });
          return;
        case 'failMalformed': {
          out.localMsat += f.outgoingAmountMsat;
          this.#emitForwardEvent(htlc, forwardKey, { forward_fail_event: {} });
          // BOLT 4: the node that gets update_fail_malformed_htlc reports the failure as its own.
          const kind = resolution.failureCode === FAILURE_CODE.invalidOnionVersion ? 'invalidOnionVersion'
            : resolution.failureCode === FAILURE_CODE.invalidOnionHmac ? 'invalidOnionHmac' : 'invalidOnionKey';
          this.#failIncoming(htlc, { kind, sha256OfOnion: resolution.sha256OfOnion });
          return;
        }
      }
    });
  }

  #linkFail(htlc: IncomingHtlc, failure: FailureMessage, wireFailure: string, failureString: string): void {
    const f = htlc.forwarding;
    this.#emit({
      incoming_channel_id: htlc.key.chanId.toString(),
      outgoing_channel_id: (f?.outgoingChanId ?? 0n).toString(),
      incoming_htlc_id: htlc.key.htlcId.toString(),
      outgoing_htlc_id: '0',
      timestamp_ns: (BigInt(this.#now()) * 1_000_000n).toString(),
      event_type: 'FORWARD',
      link_fail_event: {
        info: {
          incoming_timelock: htlc.offer.expiry,
          outgoing_timelock: f?.outgoingExpiry ?? 0,
          incoming_amt_msat: htlc.incomingAmountMsat.toString(),
          outgoing_amt_msat: (f?.outgoingAmountMsat ?? 0n).toString(),
        },
        wire_failure: wireFailure,
        failure_detail: 'NO_DETAIL',
        failure_string: failureString,
      },
    });
    this.#failIncoming(htlc, failure);
  }

  #emitForwardEvent(htlc: IncomingHtlc, outgoing: { outgoing_channel_id: string; outgoing_htlc_id: string }, event: Record<string, unknown>): void {
    this.#emit({
      incoming_channel_id: htlc.key.chanId.toString(),
      incoming_htlc_id: htlc.key.htlcId.toString(),
      ...outgoing,
      timestamp_ns: (BigInt(this.#now()) * 1_000_000n).toString(),
      event_type: 'FORWARD',
      ...event,
    });
  }

  /** The failure the interceptable switch creates for `code` (interceptable_switch.go FailWithCode). */
  #switchFailure(code: SwitchFailCode, htlc: IncomingHtlc): FailureMessage {
    const onionHash = (): Uint8Array => sha256(htlc.forwarding?.onionBlob ?? new Uint8Array(0));
    switch (code) {
      case 'temporaryChannelFailure':
        return { kind: 'temporaryChannelFailure', channelUpdate: this.#channelUpdate(htlc.channel) };
      case 'expiryTooSoon':
        return { kind: 'expiryTooSoon', channelUpdate: this.#channelUpdate(htlc.channel) };
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

  #channelUpdate(channel: NodeChannel): Uint8Array {
    const ours = Buffer.from(this.keys.publicKey);
    const direction = ours.compare(Buffer.from(channel.peerPublicKey)) < 0 ? 0 : 1;
    return signedChannelUpdate(
      { chainHash: chainHashOf(this.network), shortChannelId: channel.scid, timestamp: Math.floor(this.#now() / 1000), direction, policy: channel.policy },
      this.keys.privateKey,
    );
  }

  // ---- resolution of the incoming HTLC ---------------------------------------------------------

  #failIncoming(htlc: IncomingHtlc, failure: FailureMessage): void {
    if (htlc.sharedSecret === undefined) return;
    this.#resolveIncoming(htlc, { kind: 'fail', reason: createFailurePacket(htlc.sharedSecret, encodeFailureMessage(failure)) });
  }

  #resolveIncoming(htlc: IncomingHtlc, resolution: HtlcResolution): void {
    if (htlc.state === 'resolved') return;
    const offchain = htlc.state !== 'onChain';
    htlc.state = 'resolved';
    this.#incoming.delete(htlc.key);
    const settled = resolution.kind === 'fulfill';
    if (settled) htlc.channel.localMsat += htlc.offer.amountMsat;
    else htlc.channel.remoteMsat += htlc.offer.amountMsat;
    if (this.storeFinalHtlcResolutions) this.#finalResolutions.set(htlc.key, { settled, offchain });
    if (this.#resolvedListeners.size > 0) {
      const record: ResolvedHtlc = {
        key: htlc.key,
        paymentHash: htlc.offer.paymentHash,
        amountMsat: htlc.offer.amountMsat,
        ...(htlc.forwarding === undefined ? {} : { outgoingChanId: htlc.forwarding.outgoingChanId }),
        settled,
        offchain,
      };
      for (const listener of [...this.#resolvedListeners]) listener(record);
    }
    this.#emit({
      incoming_channel_id: htlc.key.chanId.toString(),
      outgoing_channel_id: '0',
      incoming_htlc_id: htlc.key.htlcId.toString(),
      outgoing_htlc_id: '0',
      timestamp_ns: (BigInt(this.#now()) * 1_000_000n).toString(),
      event_type: 'UNKNOWN',
      final_htlc_event: { settled, offchain },
    });
    setImmediate(() => htlc.deliver(resolution));
  }

  #emit(event: Record<string, unknown>): void {
    const run = this.#run;
    if (run === undefined) return;
    for (const listener of [...run.htlcEventListeners]) listener(event);
  }

  // ---- what the gRPC services see ---------------------------------------------------------------

  #backend(currentRun: () => Run | undefined): LndBackend {
    const live = (): Run | undefined => {
      const run = currentRun();
      return run !== undefined && !run.stopped ? run : undefined;
    };
    return {
      macaroonKey: this.#macaroonKey,
      version: () => versionMessage(this.lndVersion),
      getInfo: () =>
        getInfoMessage({
          lndVersion: this.lndVersion,
          publicKey: this.keys.publicKey,
          alias: this.name,
          network: this.network,
          tip: this.chain.tip(),
          nowSeconds: Math.floor(this.#now() / 1000),
          channels: [...this.#channels.values()].map((c) => ({
            peerPublicKey: c.peerPublicKey,
            active: !c.closed && (c.peer === undefined || !('online' in c.peer) || (c.peer as { online: boolean }).online),
          })),
          requireInterceptor: this.requireInterceptor,
          storeFinalHtlcResolutions: this.storeFinalHtlcResolutions,
        }),
      lookupHtlcResolution: (key) => {
        if (!this.storeFinalHtlcResolutions) return { kind: 'unavailable' };
        const found = this.#finalResolutions.get(key);
        return found === undefined ? { kind: 'unknown' } : { kind: 'found', ...found };
      },
      claimInterceptor: () => {
        const run = live();
        if (run === undefined || run.interceptorClaimed) return false;
        run.interceptorClaimed = true;
        return true;
      },
      setInterceptor: (send) => {
        const run = live();
        if (run === undefined) return;
        if (send === undefined) {
          run.interceptorClaimed = false;
          run.htlcSwitch.setInterceptor(undefined);
          return;
        }
        run.htlcSwitch.setInterceptor((forward, autoFailHeight) => {
          const htlc = this.#incoming.get(forward.key);
          const view = htlc === undefined ? undefined : this.#interceptedView(htlc);
          if (view !== undefined) send(view, autoFailHeight);
        });
      },
      resolveIntercepted: (key, resolution) => {
        const run = live();
        if (run === undefined) return 'routerrpc server shutting down';
        return run.htlcSwitch.resolve(key, resolution);
      },
      subscribeHtlcEvents: (listener) => {
        const run = live();
        if (run === undefined) return () => undefined;
        run.htlcEventListeners.add(listener);
        return () => run.htlcEventListeners.delete(listener);
      },
      tip: () => this.chain.tip(),
      blockAt: (height) => this.chain.blockAt(height),
      onBlock: (listener: (block: BlockEpoch) => void) => this.chain.onBlock(listener),
    };
  }
}
