/**
 * A simulated cluster in one process: N LND-compatible nodes sharing one chain, a payer with a
 * channel to each node, and behind each node a plain recipient reachable over a real channel (the
 * regular traffic lnmux must RESUME). The library API tests, the demo and `lnmux sim` start.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '../protocol/index.js';
import { SimChain, type BlockEpoch, type SimNetwork } from './chain.js';
import { shortChannelId } from './htlc.js';
import { keyPairOf, nodeKeyPair } from './keys.js';
import { SimNode, type SimNodeInfo } from './node.js';
import { SimPayer } from './payer.js';
import { SimRecipient } from './recipient.js';

export interface ClusterOptions {
  /** Number of LND nodes (default 3). */
  readonly nodes?: number;
  /**
   * Index of this cluster's first node (default 0): its nodes are node-<first>, node-<first+1>, ...
   * with the names, seeded keys and channel ids those indices give. Several clusters started with the
   * same `seed` and disjoint indices (in several threads or processes) then form one cluster: one
   * chain (same block hashes), one payer key, distinct nodes and channel ids.
   */
  readonly firstNodeIndex?: number;
  /** Folder for the nodes' files (node-<i>/tls.cert, admin.macaroon, …); default a fresh temporary folder, removed by stop(). */
  readonly dir?: string;
  /** Derive every key from this seed (same pubkeys on every run); default random keys. */
  readonly seed?: string;
  /**
   * The private keys (32 bytes each) of the first nodes, in order: to pay invoices made elsewhere for
   * nodes with these keys (their route hints name them). The other nodes' keys come from `seed`.
   */
  readonly nodePrivateKeys?: readonly Uint8Array[];
  readonly network?: SimNetwork;
  /** Chain height at start, blocks (default 1,000). */
  readonly startHeight?: number;
  /** First port; node i listens on basePort + i. Default: free ports (kept across node restarts). */
  readonly basePort?: number;
  /** `--requireinterceptor` on every node (default true). */
  readonly requireInterceptor?: boolean;
  /** `--store-final-htlc-resolutions` on every node (default true). */
  readonly storeFinalHtlcResolutions?: boolean;
  /** LND version the nodes report (default 0.21.2-beta). */
  readonly lndVersion?: string;
  /** Payer's balance in its channel with each node, i.e. each node's inbound liquidity, msat (default 0.1 BTC). */
  readonly inboundMsat?: bigint;
  /** Each node's balance towards its recipient, msat (default 0.1 BTC). */
  readonly outboundMsat?: bigint;
}

/** What a client needs to reach one node, plus its channels in the simulation. */
export interface ClusterNodeInfo extends SimNodeInfo {
  /** The payer's channel with this node (the incoming channel of every circuit key the payer creates). */
  readonly payerChannelId: bigint;
  /** The node's channel to its recipient (a real channel: forwards over it are regular traffic). */
  readonly recipientChannelId: bigint;
  readonly recipientPubkey: string;
}

export class SimCluster {
  readonly chain: SimChain;
  readonly nodes: readonly SimNode[];
  readonly recipients: readonly SimRecipient[];
  readonly payer: SimPayer;
  readonly dir: string;
  readonly network: SimNetwork;
  readonly #payerChannels: readonly bigint[];
  readonly #recipientChannels: readonly bigint[];
  readonly #removeDir: boolean;

  constructor(parts: {
    chain: SimChain;
    nodes: readonly SimNode[];
    recipients: readonly SimRecipient[];
    payer: SimPayer;
    dir: string;
    network: SimNetwork;
    payerChannels: readonly bigint[];
    recipientChannels: readonly bigint[];
    removeDir: boolean;
  }) {
    this.chain = parts.chain;
    this.nodes = parts.nodes;
    this.recipients = parts.recipients;
    this.payer = parts.payer;
    this.dir = parts.dir;
    this.network = parts.network;
    this.#payerChannels = parts.payerChannels;
    this.#recipientChannels = parts.recipientChannels;
    this.#removeDir = parts.removeDir;
  }

  /** Connection facts of every node, in order. */
  nodeInfos(): ClusterNodeInfo[] {
    return this.nodes.map((node, i) => ({
      ...node.info,
      payerChannelId: this.#payerChannels[i] as bigint,
      recipientChannelId: this.#recipientChannels[i] as bigint,
      recipientPubkey: bytesToHex((this.recipients[i] as SimRecipient).publicKey),
    }));
  }

  /** The payer's channel id with node `index`. */
  payerChannelId(index: number): bigint {
    const id = this.#payerChannels[index];
    if (id === undefined) throw new RangeError(`no node ${index}`);
    return id;
  }

  /** The channel id from node `index` to its recipient. */
  recipientChannelId(index: number): bigint {
    const id = this.#recipientChannels[index];
    if (id === undefined) throw new RangeError(`no node ${index}`);
    return id;
  }

  /** Sets node `index`'s inbound liquidity from the payer, msat: an HTLC above it fails at the payer. */
  setInboundLiquidity(index: number, msat: bigint): void {
    this.node(index).setInboundLiquidity(this.payerChannelId(index), msat);
  }

  /** Node `index`; throws RangeError if there is none. */
  node(index: number): SimNode {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`no node ${index}`);
    return node;
  }

  /**
   * An invoice of recipient `index` (reached through node `index` over a real channel: paying it is
   * regular forwarding traffic, which an interceptor must RESUME).
   */
  recipientInvoice(index: number, amountMsat: bigint, options: { expirySeconds?: number; nowSeconds?: number } = {}): {
    paymentRequest: string;
    preimage: Uint8Array;
    paymentHash: Uint8Array;
  } {
    const recipient = this.recipients[index];
    if (recipient === undefined) throw new RangeError(`no recipient ${index}`);
    return recipient.createInvoice({ amountMsat, network: this.network, ...options });
  }

  /** Mines `count` blocks on the shared chain; every running node sees them. */
  mine(count = 1): BlockEpoch {
    return this.chain.mine(count);
  }

  /** Stops every node (and removes the temporary folder if the cluster made it). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    if (this.#removeDir) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a cluster: a chain, `nodes` LND nodes serving gRPC on 127.0.0.1 (each with its own TLS
 * certificate, macaroon and identity key), a payer with a channel to each node and a recipient
 * behind each node. Throws if a node cannot start (port taken).
 */
export async function startCluster(options: ClusterOptions = {}): Promise<SimCluster> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new RangeError(`nodes: expected an integer in [1, 64], got ${count}`);
  const first = options.firstNodeIndex ?? 0;
  if (!Number.isInteger(first) || first < 0 || first + count > 64) throw new RangeError(`firstNodeIndex: expected an integer in [0, ${64 - count}], got ${first}`);
  const removeDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'lnmux-sim-')));
  const chain = new SimChain(options.startHeight ?? 1_000, options.seed ?? `lnmux-sim-${Math.random()}`);
  const payer = new SimPayer(nodeKeyPair('payer', options.seed), chain);
  const inbound = options.inboundMsat ?? 10_000_000_000n;
  const outbound = options.outboundMsat ?? 10_000_000_000n;
  const nodes: SimNode[] = [];
  const recipients: SimRecipient[] = [];
  const payerChannels: bigint[] = [];
  const recipientChannels: bigint[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const n = first + i;
      const privateKey = options.nodePrivateKeys?.[i];
      const node = await SimNode.create({
        name: `node-${n}`,
        dir: join(dir, `node-${n}`),
        chain,
        keys: privateKey !== undefined ? keyPairOf(privateKey) : nodeKeyPair(`node-${n}`, options.seed),
        ...(options.basePort === undefined ? {} : { port: options.basePort + n }),
        ...(options.network === undefined ? {} : { network: options.network }),
        ...(options.requireInterceptor === undefined ? {} : { requireInterceptor: options.requireInterceptor }),
        ...(options.storeFinalHtlcResolutions === undefined ? {} : { storeFinalHtlcResolutions: options.storeFinalHtlcResolutions }),
        ...(options.lndVersion === undefined ? {} : { lndVersion: options.lndVersion }),
      });
      const recipient = new SimRecipient(`recipient-${n}`, nodeKeyPair(`recipient-${n}`, options.seed), chain);
      const payerScid = shortChannelId(500 + n, 1, 0);
      const recipientScid = shortChannelId(600 + n, 2, 1);
      node.openChannel({ scid: payerScid, peerPublicKey: payer.keys.publicKey, localMsat: 0n, remoteMsat: inbound });
      const toRecipient = node.openChannel({ scid: recipientScid, peerPublicKey: recipient.publicKey, peer: recipient, localMsat: outbound, remoteMsat: 0n });
      recipient.addInboundRoute({ nodePublicKey: node.publicKey, shortChannelId: recipientScid, policy: toRecipient.policy });
      payer.addChannel(node, payerScid);
      nodes.push(node);
      recipients.push(recipient);
      payerChannels.push(payerScid);
      recipientChannels.push(recipientScid);
    }
    for (const node of nodes) await node.start();
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    if (removeDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return new SimCluster({ chain, nodes, recipients, payer, dir, network: options.network ?? 'regtest', payerChannels, recipientChannels, removeDir });
}
