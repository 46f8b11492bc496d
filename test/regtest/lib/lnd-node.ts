/**
 * One LND node of the regtest network: its flags, its folder, start / stop / restart, RPC readiness.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Btcd } from './btcd.js';
import { LndRpc, type LndEndpoint } from './lnd-rpc.js';
import { killProcess, startProcess, stopProcess, type Child } from './processes.js';
import { waitFor } from '../../support/wait.js';

/** What a node needs to start. */
export interface LndNodeConfig {
  readonly name: string;
  readonly binDir: string;
  readonly dir: string;
  readonly rpcPort: number;
  readonly p2pPort: number;
  /** True for the cluster nodes lnmux attaches to: --requireinterceptor and --store-final-htlc-resolutions. */
  readonly clusterNode: boolean;
  /**
   * LND's --debuglevel. Default: 'info', and 'info,HSWC=debug' on cluster nodes, whose switch then logs
   * "Interceptor connected" (how the harness sees that lnmux holds the stream).
   */
  readonly debugLevel?: string;
}

/** The subset of GetInfoResponse the harness reads. */
export interface GetInfo {
  identity_pubkey: string;
  alias: string;
  version: string;
  commit_hash: string;
  block_height: number;
  synced_to_chain: boolean;
  synced_to_graph: boolean;
  num_active_channels: number;
  num_peers: number;
  uris: string[];
  require_htlc_interceptor: boolean;
  store_final_htlc_resolutions: boolean;
}

/** The flags the harness gives LND (before the chain backend flags). */
export function lndArgs(config: LndNodeConfig): string[] {
  const args = [
    `--lnddir=${config.dir}`,
    `--alias=${config.name}`,
    '--bitcoin.regtest',
    `--rpclisten=127.0.0.1:${config.rpcPort}`,
    `--listen=127.0.0.1:${config.p2pPort}`,
    '--norest',
    '--noseedbackup',
    '--nobootstrap',
    `--debuglevel=${config.debugLevel ?? (config.clusterNode ? 'info,HSWC=debug' : 'info')}`,
    // Quick gossip so the graph settles within seconds on regtest.
    '--trickledelay=50',
    '--gossip.sub-batch-delay=5ms',
    '--caches.rpc-graph-cache-duration=100ms',
  ];
  if (config.clusterNode) args.push('--requireinterceptor', '--store-final-htlc-resolutions');
  return args;
}

/** The flags that point LND at btcd. */
export function btcdBackendArgs(btcd: Btcd): string[] {
  return [
    '--bitcoin.node=btcd',
    `--btcd.rpchost=${btcd.rpcHost}`,
    `--btcd.rpcuser=${btcd.config.rpcUser}`,
    `--btcd.rpcpass=${btcd.config.rpcPass}`,
    `--btcd.rpccert=${btcd.rpcCertPath}`,
  ];
}

/** An LND process and its RPC client; restartable on the same folder and ports. */
export class LndNode {
  private child: Child | undefined;
  private client: LndRpc | undefined;
  private info: GetInfo | undefined;
  readonly endpoint: LndEndpoint;

  constructor(readonly config: LndNodeConfig, private readonly btcd: Btcd) {
    mkdirSync(config.dir, { recursive: true });
    this.endpoint = {
      address: `127.0.0.1:${config.rpcPort}`,
      tlsCertPath: join(config.dir, 'tls.cert'),
      macaroonPath: join(config.dir, 'data', 'chain', 'bitcoin', 'regtest', 'admin.macaroon'),
    };
  }

  get name(): string {
    return this.config.name;
  }

  /** The full command line arguments. */
  get args(): string[] {
    return [...lndArgs(this.config), ...btcdBackendArgs(this.btcd)];
  }

  /** host:port of the p2p listener. */
  get p2pAddress(): string {
    return `127.0.0.1:${this.config.p2pPort}`;
  }

  /** The node's identity pubkey (hex), known once started. */
  get pubkey(): string {
    if (this.info === undefined) throw new Error(`${this.name}: not started yet`);
    return this.info.identity_pubkey;
  }

  /** The RPC client (admin macaroon); throws when the node is not running. */
  get rpc(): LndRpc {
    if (this.client === undefined) throw new Error(`${this.name}: not running`);
    return this.client;
  }

  /** The lnd process id while it runs (its CPU time is read from /proc by the benchmark). */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && !this.child.hasExited();
  }

  get logPath(): string {
    return join(this.config.dir, 'lnd.out.log');
  }

  /** Where this run of the node starts in its log file (lines before it are from earlier runs). */
  private logStart = 0;

  /** The node's log since its latest start. */
  logSinceStart(): string {
    try {
      return readFileSync(this.logPath).subarray(this.logStart).toString('utf8');
    } catch {
      return '';
    }
  }

  /**
   * Whether an HtlcInterceptor client is attached now, from the switch's own log lines (needs HSWC at
   * debug, the cluster nodes' default): the latest "Interceptor connected" comes after the latest
   * "Interceptor disconnected" of this run of the node.
   */
  interceptorAttachedPerLog(): boolean {
    const log = this.logSinceStart();
    return log.lastIndexOf('HSWC: Interceptor connected') > log.lastIndexOf('HSWC: Interceptor disconnected');
  }

  /** Starts LND and waits until GetInfo answers (wallet created and unlocked, RPC up). */
  async start(): Promise<GetInfo> {
    if (this.running) throw new Error(`${this.name}: already running`);
    this.logStart = existsSync(this.logPath) ? statSync(this.logPath).size : 0;
    const child = startProcess(`lnd ${this.name}`, join(this.config.binDir, 'lnd'), this.args, this.logPath);
    this.child = child;
    await waitFor(async () => {
      if (child.hasExited()) throw new Error(`${this.name}: lnd exited at start; see ${child.logPath}`);
      return existsSync(this.endpoint.macaroonPath) ? true : undefined;
    }, { what: `${this.name} admin.macaroon`, timeoutMs: 90_000, intervalMs: 250, retryErrors: true });
    this.client = new LndRpc(this.endpoint);
    this.info = await waitFor(async () => {
      if (child.hasExited()) throw new Error(`${this.name}: lnd exited at start; see ${child.logPath}`);
      return await this.rpc.call<GetInfo>('lightning', 'GetInfo', {}, 5_000);
    }, { what: `${this.name} GetInfo`, timeoutMs: 90_000, intervalMs: 500, retryErrors: true });
    return this.info;
  }

  /** Stops LND gracefully (SIGTERM) and waits for its exit. */
  async stop(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    if (this.child !== undefined) await stopProcess(this.child, 30_000);
    this.child = undefined;
  }

  /** Kills LND at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    if (this.child !== undefined) await killProcess(this.child);
    this.child = undefined;
  }

  /** GetInfo now. */
  async getInfo(): Promise<GetInfo> {
    this.info = await this.rpc.call<GetInfo>('lightning', 'GetInfo');
    return this.info;
  }

  /** Waits until the node has processed block `height` and says it is synced to chain. */
  async waitSynced(height: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(async () => {
      const info = await this.getInfo();
      return info.synced_to_chain && info.block_height >= height ? true : undefined;
    }, { what: `${this.name} synced to height ${height}`, timeoutMs, intervalMs: 500, retryErrors: true });
  }
}
