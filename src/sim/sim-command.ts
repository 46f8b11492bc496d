/**
 * `lnmux sim`: runs a simulated LND cluster until stopped, and writes what a client needs to reach
 * each node (address, TLS certificate, macaroon, pubkey, virtual channel id) to a JSON file. The CLI
 * calls {@link runSimulator}; the demo and tests may call it too.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bytesToHex, decodeInvoice } from '../protocol/index.js';
import { startCluster, type ClusterOptions, type SimCluster } from './cluster.js';
import { nodeKeyPair } from './keys.js';
import type { PaymentResult } from './payer.js';

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
  /** `host:port` of the control endpoint (`lnmux sim pay` posts to it), when the simulator serves one. */
  readonly control?: string;
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
  /**
   * Write `<dir>/multiplexer.yml` and `<dir>/identity.key` (a config for `lnmux run` in front of this
   * cluster, embedded database in `<dir>/lnmux-data`), unless either exists. Default true.
   */
  readonly writeMuxConfig?: boolean;
  /** The `metrics.listen` written into multiplexer.yml (default 127.0.0.1:2112). */
  readonly metricsListen?: string;
  /** Serve the control endpoint for `lnmux sim pay` on this loopback port (0: one the OS picks). Default: none. */
  readonly controlPort?: number;
}

export interface RunningSimulator {
  readonly cluster: SimCluster;
  readonly infoFile: string;
  readonly description: SimClusterDescription;
  /** The multiplexer.yml written for this cluster, if any. */
  readonly muxConfigFile?: string;
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
  const infoFile = options.infoFile ?? join(cluster.dir, 'cluster.json');
  let control: Server | undefined;
  let description = describeCluster(cluster);
  let muxConfigFile: string | undefined;
  try {
    if (options.controlPort !== undefined) {
      control = await serveControl(cluster, options.controlPort);
      description = { ...description, control: `127.0.0.1:${(control.address() as AddressInfo).port}` };
    }
    await writeFile(infoFile, `${JSON.stringify(description, null, 2)}\n`);
    if (options.writeMuxConfig ?? true) muxConfigFile = await writeMuxConfig(description, options);
  } catch (error) {
    control?.close();
    await cluster.stop();
    throw error;
  }
  log(`lnmux sim: ${cluster.nodes.length} LND nodes on ${cluster.network}, height ${cluster.chain.height}; description in ${infoFile}`);
  for (const node of description.nodes) log(`  ${node.name} ${node.pubkey} at ${node.address} (virtual channel ${node.virtualScid})`);
  if (muxConfigFile !== undefined) log(`lnmux config for this cluster: ${muxConfigFile} (lnmux -c ${muxConfigFile} run)`);
  if (description.control !== undefined) log(`payer: lnmux sim pay <payment_request> [--via <node>] (control endpoint ${description.control})`);
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
    ...(muxConfigFile !== undefined ? { muxConfigFile } : {}),
    stop: async () => {
      if (timer !== undefined) clearInterval(timer);
      if (control !== undefined) await new Promise<void>((resolve) => control.close(() => resolve()));
      await cluster.stop();
    },
  };
}

/**
 * Writes `multiplexer.yml` and `identity.key` (mode 0600) next to cluster.json, neither overwritten:
 * `lnmux -c <dir>/multiplexer.yml run` then intercepts on every node, with the embedded database,
 * debug logs in the console format. With a seed the identity key is derived from it (the same
 * virtual node on every run), else random. Returns the config's path.
 */
async function writeMuxConfig(description: SimClusterDescription, options: SimCommandOptions): Promise<string> {
  const file = join(description.dir, 'multiplexer.yml');
  const key = nodeKeyPair('lnmux identity', options.seed).privateKey;
  const flags = { flag: 'wx' as const };
  try {
    await writeFile(join(description.dir, 'identity.key'), `${bytesToHex(key)}\n`, { ...flags, mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const nodes = description.nodes
    .map((n) => `  - pubkey: "${n.pubkey}"   # ${n.name}\n    address: ${n.address}\n    tlsCertPath: ${n.certPath}\n    macaroonPath: ${n.macaroonPath}\n`)
    .join('');
  const text = `# Written by lnmux sim for its cluster (cluster.json): lnmux -c ${file} run
network: ${description.network}
identityKeyFile: identity.key
nodes:
${nodes}database:
  dataDir: lnmux-data
metrics:
  listen: ${options.metricsListen ?? '127.0.0.1:2112'}
logging:
  level: debug
  format: pretty
`;
  try {
    await writeFile(file, text, flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return file;
}

/** What `POST /pay` takes: a payment request, and optionally the node (name or pubkey) to pay through. */
export interface SimPayRequest {
  readonly paymentRequest: string;
  readonly via?: string;
}

/** What `POST /pay` answers: the payment's outcome, JSON-safe (bigints and bytes as strings). */
export type SimPayOutcome =
  | { readonly status: 'succeeded'; readonly preimage: string; readonly parts: readonly { readonly via: string; readonly amountMsat: string }[] }
  | { readonly status: 'failed'; readonly reason: string; readonly detail?: string };

/**
 * Pays through the cluster's payer; `via` keeps only that node's route hint (so the payment enters the
 * cluster there). Never throws on a bad request: answers `failed` with the reason.
 */
export async function simPay(cluster: SimCluster, request: SimPayRequest): Promise<SimPayOutcome> {
  const decoded = decodeInvoice(request.paymentRequest);
  if (!decoded.ok) return { status: 'failed', reason: 'invalidInvoice', detail: decoded.error.kind };
  let invoice = decoded.value;
  if (request.via !== undefined) {
    const node = cluster.nodeInfos().find((n) => n.name === request.via || n.pubkey === request.via);
    if (node === undefined) return { status: 'failed', reason: 'unknownNode', detail: `no node named ${request.via}: ${cluster.nodeInfos().map((n) => n.name).join(', ')}` };
    const hints = (invoice.routeHints ?? []).filter((hint) => hint.length > 0 && bytesToHex(hint[0]!.pubkey) === node.pubkey);
    if (hints.length === 0) return { status: 'failed', reason: 'noRoute', detail: `the invoice has no route hint through ${request.via}` };
    invoice = { ...invoice, routeHints: hints };
  }
  const result: PaymentResult = await cluster.payer.payInvoice(invoice);
  if (result.status === 'succeeded') {
    return { status: 'succeeded', preimage: bytesToHex(result.preimage), parts: result.parts.map((p) => ({ via: p.firstHop, amountMsat: p.amountMsat.toString() })) };
  }
  return { status: 'failed', reason: result.reason, ...(result.detail !== undefined ? { detail: result.detail } : {}) };
}

/** The control endpoint: `POST /pay` with a {@link SimPayRequest}, on loopback only. */
async function serveControl(cluster: SimCluster, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/pay') {
      response.writeHead(404).end();
      return;
    }
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      void (async () => {
        let outcome: SimPayOutcome;
        try {
          const parsed = JSON.parse(body) as Partial<SimPayRequest>;
          if (typeof parsed.paymentRequest !== 'string') throw new TypeError('paymentRequest: expected a string');
          outcome = await simPay(cluster, { paymentRequest: parsed.paymentRequest, ...(typeof parsed.via === 'string' ? { via: parsed.via } : {}) });
        } catch (error) {
          outcome = { status: 'failed', reason: 'badRequest', detail: (error as Error).message };
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(outcome)}\n`);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}
