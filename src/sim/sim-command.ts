/**
 * `lnmux sim`: runs a simulated LND cluster until stopped, and writes what a client needs to reach
 * each node (address, TLS certificate, macaroon, pubkey, virtual channel id) to a JSON file. The CLI
 * calls {@link runSimulator}; the demo and tests may call it too.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type ClusterOptions, type SimCluster } from './cluster.js';

/** A node in the cluster description: every u64 as a decimal string. */
export interface SimNodeDescription {
  readonly name: string;
  readonly pubkey: string;
  readonly address: string;
  readonly certPath: string;
  readonly macaroonPath: string;
  readonly macaroonHex: string;
  readonly virtualScid: string;
  readonly payerChannelId: string;
  readonly recipientChannelId: string;
  readonly recipientPubkey: string;
}

export interface SimClusterDescription {
  readonly network: string;
  readonly height: number;
  readonly dir: string;
  readonly nodes: readonly SimNodeDescription[];
}

/** The JSON-safe description of a running cluster. */
export function describeCluster(cluster: SimCluster): SimClusterDescription {
  return {
    network: cluster.network,
    height: cluster.chain.height,
    dir: cluster.dir,
    nodes: cluster.nodeInfos().map((n) => ({
      name: n.name,
      pubkey: n.pubkey,
      address: n.address,
      certPath: n.certPath,
      macaroonPath: n.macaroonPath,
      macaroonHex: n.macaroonHex,
      virtualScid: n.virtualScid.toString(),
      payerChannelId: n.payerChannelId.toString(),
      recipientChannelId: n.recipientChannelId.toString(),
      recipientPubkey: n.recipientPubkey,
    })),
  };
}

export interface SimCommandOptions extends ClusterOptions {
  /** Where to write the cluster description (JSON); default `<dir>/cluster.json`. */
  readonly infoFile?: string;
  /** Mine a block every this many milliseconds; default never (mine through the API). */
  readonly blockIntervalMs?: number;
  /** Where progress lines go (default: nowhere). */
  readonly log?: (line: string) => void;
}

export interface RunningSimulator {
  readonly cluster: SimCluster;
  readonly infoFile: string;
  readonly description: SimClusterDescription;
  /** Stops block mining and every node. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster (see {@link startCluster}), writes its description to `infoFile` and logs one
 * line per node. Throws if the cluster cannot start or the file cannot be written.
 */
export async function runSimulator(options: SimCommandOptions = {}): Promise<RunningSimulator> {
  const log = options.log ?? (() => undefined);
  const cluster = await startCluster(options);
  const description = describeCluster(cluster);
  const infoFile = options.infoFile ?? join(cluster.dir, 'cluster.json');
  try {
    await writeFile(infoFile, `${JSON.stringify(description, null, 2)}\n`);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  log(`lnmux sim: ${cluster.nodes.length} LND nodes on ${cluster.network}, height ${cluster.chain.height}; description in ${infoFile}`);
  for (const node of description.nodes) log(`  ${node.name} ${node.pubkey} at ${node.address} (virtual channel ${node.virtualScid})`);
  let timer: NodeJS.Timeout | undefined;
  if (options.blockIntervalMs !== undefined) {
    if (!(options.blockIntervalMs > 0)) throw new RangeError(`blockIntervalMs: expected a positive number, got ${options.blockIntervalMs}`);
    timer = setInterval(() => cluster.mine(1), options.blockIntervalMs);
    timer.unref();
  }
  return {
    cluster,
    infoFile,
    description,
    stop: async () => {
      if (timer !== undefined) clearInterval(timer);
      await cluster.stop();
    },
  };
}
