/**
 * The seed's regtest network, for real: btcd and three LND nodes A, B, C in a temp dir on loopback ports.
 * B is the payer with channels B->A and B->C; A and C are the cluster nodes lnmux attaches to (they run
 * with --requireinterceptor and --store-final-htlc-resolutions).
 *
 * As a script, `tsx test/regtest/network.ts` starts the network, prints how to reach each node (and the
 * lncli command lines) and keeps it up until Ctrl-C, for manual experiments.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Btcd, COINBASE_MATURITY, SEGWIT_ACTIVATION_HEIGHT } from './lib/btcd.js';
import { LndNode } from './lib/lnd-node.js';
import { removeOnExit } from './lib/processes.js';
import { waitFor } from '../support/wait.js';
import { freePorts, since } from './lib/util.js';

/** Capacity of each of B's channels, in sat. An invoice above about 490,000 sat needs both (MPP). */
export const CHANNEL_CAPACITY_SAT = 500_000n;

export type NodeName = 'A' | 'B' | 'C';

export interface NetworkOptions {
  /** Folder with lnd, lncli, btcd, btcctl (from build.sh). */
  readonly binDir: string;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
  /**
   * Capacity of each of B's channels, sat (default CHANNEL_CAPACITY_SAT). The benchmark opens larger ones
   * so that thousands of payments fit without rebalancing; at most 16,777,215 (no wumbo channels).
   */
  readonly channelCapacitySat?: bigint;
}

/** A channel as ListChannels gives it (the fields the harness reads). */
export interface Channel {
  chan_id: string;
  remote_pubkey: string;
  active: boolean;
  capacity: string;
  local_balance: string;
  remote_balance: string;
  channel_point: string;
}

/** A running network. `close()` stops everything; the process exit handlers do too. */
export class Network {
  constructor(
    readonly dir: string,
    readonly binDir: string,
    readonly btcd: Btcd,
    readonly nodes: Readonly<Record<NodeName, LndNode>>,
    private readonly log: (line: string) => void,
  ) {}

  /** Mines `blocks` blocks (to B's address) and waits until every running node has them. */
  async mine(blocks: number): Promise<number> {
    const height = await this.btcd.mine(blocks);
    await Promise.all(Object.values(this.nodes).filter((node) => node.running).map((node) => node.waitSynced(height)));
    return height;
  }

  /** B's channel to `peer` (A or C). */
  async channelFromB(peer: 'A' | 'C'): Promise<Channel> {
    const { channels } = await this.nodes.B.rpc.call<{ channels: Channel[] }>('lightning', 'ListChannels');
    const channel = channels.find((c) => c.remote_pubkey === this.nodes[peer].pubkey);
    if (channel === undefined) throw new Error(`B has no channel to ${peer}`);
    return channel;
  }

  /** Restarts a stopped node and waits until it is synced and its channel with B is active again. */
  async startNode(name: NodeName): Promise<void> {
    const node = this.nodes[name];
    await node.start();
    const height = await this.btcd.blockCount();
    await node.waitSynced(height);
    if (name !== 'B') await this.waitChannelActive(name);
  }

  /** Waits until B's channel to `peer` is active on both ends (peers reconnect on their own). */
  async waitChannelActive(peer: 'A' | 'C', timeoutMs = 120_000): Promise<void> {
    await waitFor(async () => {
      const fromB = await this.channelFromB(peer);
      const { channels } = await this.nodes[peer].rpc.call<{ channels: Channel[] }>('lightning', 'ListChannels');
      return fromB.active && channels.some((c) => c.active) ? true : undefined;
    }, { what: `B<->${peer} channel active`, timeoutMs, intervalMs: 500, retryErrors: true });
  }

  /** Stops every process and removes the temp dir. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.nodes).map((node) => node.stop()));
    await this.btcd.stop();
    this.log('network stopped');
  }
}

/**
 * Starts btcd and A, B, C; funds B; opens B->A and B->C (`channelCapacitySat` each); mines to confirm
 * and announce them; waits until the channels are active and every node's graph has both.
 * Throws with the failing step on any error (the caller's clean-up stops what started).
 */
export async function startNetwork(options: NetworkOptions): Promise<Network> {
  const log = options.log ?? ((line: string) => process.stderr.write(`regtest: ${line}\n`));
  const capacitySat = options.channelCapacitySat ?? CHANNEL_CAPACITY_SAT;
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-regtest-'));
  removeOnExit(dir);
  log(`temp dir ${dir}`);

  const [btcdRpc, btcdP2p, ...lndPorts] = await freePorts(8);
  const port = (i: number): number => {
    const p = lndPorts[i];
    if (p === undefined) throw new Error('freePorts returned too few ports');
    return p;
  };
  const btcd = new Btcd({
    binDir: options.binDir,
    dir: join(dir, 'btcd'),
    rpcPort: btcdRpc ?? 0,
    p2pPort: btcdP2p ?? 0,
    rpcUser: 'regtest',
    rpcPass: 'regtest',
  });
  const debugLevel = process.env['LNMUX_REGTEST_LND_DEBUGLEVEL'];
  const node = (name: NodeName, i: number, clusterNode: boolean): LndNode => new LndNode({
    name, binDir: options.binDir, dir: join(dir, name), rpcPort: port(2 * i), p2pPort: port(2 * i + 1), clusterNode,
    ...(debugLevel !== undefined && debugLevel !== '' ? { debugLevel } : {}),
  }, btcd);
  const nodes = { A: node('A', 0, true), B: node('B', 1, false), C: node('C', 2, true) };
  const network = new Network(dir, options.binDir, btcd, nodes, log);

  // btcd first, without a mining address: the nodes need a backend to start, B's address comes later.
  await btcd.start();
  await Promise.all(Object.values(nodes).map((n) => n.start()));
  log(`btcd and A, B, C up (${since(started)} ms)`);

  // btcd mines only to --miningaddr: restart it mining to B, mine past segwit activation and coinbase
  // maturity. The nodes reconnect to btcd by themselves.
  const { address } = await nodes.B.rpc.call<{ address: string }>('lightning', 'NewAddress', { type: 'WITNESS_PUBKEY_HASH' });
  await btcd.restartMiningTo(address);
  const height = await network.mine(SEGWIT_ACTIVATION_HEIGHT + COINBASE_MATURITY + 8);
  await waitFor(async () => {
    const balance = await nodes.B.rpc.call<{ confirmed_balance: string }>('lightning', 'WalletBalance');
    return BigInt(balance.confirmed_balance) > 10n * capacitySat ? balance.confirmed_balance : undefined;
  }, { what: 'B confirmed balance', timeoutMs: 60_000, intervalMs: 250, retryErrors: true });
  log(`mined to height ${height}, B funded (${since(started)} ms)`);

  // Channels B->A and B->C; six confirmations so they are announced and enter every node's graph.
  for (const peer of ['A', 'C'] as const) {
    await nodes.B.rpc.call('lightning', 'ConnectPeer', {
      addr: { pubkey: nodes[peer].pubkey, host: nodes[peer].p2pAddress }, perm: true, timeout: '30',
    });
  }
  for (const peer of ['A', 'C'] as const) {
    await waitFor(async () => {
      const { peers } = await nodes.B.rpc.call<{ peers: { pub_key: string }[] }>('lightning', 'ListPeers');
      return peers.some((p) => p.pub_key === nodes[peer].pubkey) ? true : undefined;
    }, { what: `B connected to ${peer}`, timeoutMs: 60_000, intervalMs: 250, retryErrors: true });
    await nodes.B.rpc.call('lightning', 'OpenChannelSync', {
      node_pubkey: Buffer.from(nodes[peer].pubkey, 'hex'),
      local_funding_amount: capacitySat.toString(),
      sat_per_vbyte: '2',
    });
  }
  await waitFor(async () => {
    const mempool = JSON.parse(await btcd.ctl('getrawmempool')) as string[];
    return mempool.length >= 2 ? true : undefined;
  }, { what: 'both funding transactions in the mempool', timeoutMs: 60_000, intervalMs: 250, retryErrors: true });
  await network.mine(6);
  await network.waitChannelActive('A');
  await network.waitChannelActive('C');
  await waitFor(async () => {
    const counts = await Promise.all(Object.values(nodes).map(async (n) => {
      const graph = await n.rpc.call<{ edges: unknown[] }>('lightning', 'DescribeGraph', { include_unannounced: true });
      return graph.edges.length;
    }));
    return counts.every((c) => c >= 2) ? true : undefined;
  }, { what: 'every node sees both channels in its graph', timeoutMs: 120_000, intervalMs: 1_000, retryErrors: true });
  log(`channels B->A and B->C active and in every graph (${since(started)} ms)`);
  return network;
}

/** The lncli command line for a node (for the docs and the interactive mode). */
export function lncliCommand(network: Network, name: NodeName): string {
  const node = network.nodes[name];
  return [
    join(network.binDir, 'lncli'), '--network=regtest', `--lnddir=${node.config.dir}`, `--rpcserver=${node.endpoint.address}`,
  ].join(' ');
}

async function main(): Promise<void> {
  const { binDirOrBuild } = await import('./lib/binaries.js');
  const binDir = await binDirOrBuild();
  const network = await startNetwork({ binDir });
  const summary = Object.fromEntries((['A', 'B', 'C'] as const).map((name) => {
    const n = network.nodes[name];
    return [name, { pubkey: n.pubkey, rpc: n.endpoint.address, p2p: n.p2pAddress, ...n.endpoint, lncli: lncliCommand(network, name) }];
  }));
  const summaryPath = join(network.dir, 'network.json');
  writeFileSync(summaryPath, JSON.stringify(summary, null, 2));
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n(also in ${summaryPath}). Ctrl-C stops the network.\n`);
  await new Promise<never>(() => undefined);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
