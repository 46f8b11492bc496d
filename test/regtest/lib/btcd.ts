/**
 * btcd on regtest for the harness: started with RPC credentials on loopback ports, in its own folder
 * (its config file too, so nothing is written under $HOME), and driven with btcctl.
 *
 * btcd has no wallet and mines only to its --miningaddr; it activates segwit on regtest only after 432
 * blocks (three BIP 9 windows of 144), so funding transactions are rejected before that height.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, stopProcess, type Child } from './processes.js';
import { waitFor } from '../../support/wait.js';

const execFileAsync = promisify(execFile);

/** Height past which segwit is active on btcd regtest (see the module comment). */
export const SEGWIT_ACTIVATION_HEIGHT = 432;

/** Blocks before a coinbase output can be spent. */
export const COINBASE_MATURITY = 100;

export interface BtcdConfig {
  readonly binDir: string;
  readonly dir: string;
  readonly rpcPort: number;
  readonly p2pPort: number;
  readonly rpcUser: string;
  readonly rpcPass: string;
}

/** A btcd process; restartable with a new mining address. */
export class Btcd {
  private child: Child | undefined;
  readonly rpcCertPath: string;

  constructor(readonly config: BtcdConfig) {
    mkdirSync(config.dir, { recursive: true });
    this.rpcCertPath = join(config.dir, 'rpc.cert');
    // Empty config files: without them btcd and btcctl create default ones under $HOME.
    writeFileSync(join(config.dir, 'btcd.conf'), '');
    writeFileSync(join(config.dir, 'btcctl.conf'), '');
  }

  /** host:port of the RPC listener. */
  get rpcHost(): string {
    return `127.0.0.1:${this.config.rpcPort}`;
  }

  /** Starts btcd (mining to `miningAddress` if given) and waits until its RPC answers. */
  async start(miningAddress?: string): Promise<void> {
    const { dir, rpcPort, p2pPort, rpcUser, rpcPass, binDir } = this.config;
    const args = [
      '--regtest',
      `--configfile=${join(dir, 'btcd.conf')}`,
      `--datadir=${join(dir, 'data')}`,
      `--logdir=${join(dir, 'logs')}`,
      `--rpccert=${this.rpcCertPath}`,
      `--rpckey=${join(dir, 'rpc.key')}`,
      `--rpcuser=${rpcUser}`,
      `--rpcpass=${rpcPass}`,
      `--rpclisten=127.0.0.1:${rpcPort}`,
      `--listen=127.0.0.1:${p2pPort}`,
      '--txindex',
      '--nobanning',
      '--debuglevel=info',
      '--rpcmaxwebsockets=50',
    ];
    if (miningAddress !== undefined) args.push(`--miningaddr=${miningAddress}`);
    this.child = startProcess('btcd', join(binDir, 'btcd'), args, join(dir, 'btcd.out.log'));
    const child = this.child;
    await waitFor(async () => {
      if (child.hasExited()) throw new Error(`btcd exited at start; see ${child.logPath}`);
      return await this.blockCount();
    }, { what: 'btcd RPC', timeoutMs: 60_000, intervalMs: 250, retryErrors: true });
  }

  /** Stops btcd (SIGTERM) and waits for its exit. */
  async stop(): Promise<void> {
    if (this.child !== undefined) await stopProcess(this.child);
    this.child = undefined;
  }

  /** Restarts btcd with a new mining address (its chain is kept). */
  async restartMiningTo(address: string): Promise<void> {
    await this.stop();
    await this.start(address);
  }

  /** Runs a btcctl command and returns its trimmed stdout. */
  async ctl(...args: string[]): Promise<string> {
    const { binDir, dir, rpcUser, rpcPass } = this.config;
    const { stdout } = await execFileAsync(join(binDir, 'btcctl'), [
      '--regtest',
      `--configfile=${join(dir, 'btcctl.conf')}`,
      `--rpcuser=${rpcUser}`,
      `--rpcpass=${rpcPass}`,
      `--rpcserver=${this.rpcHost}`,
      `--rpccert=${this.rpcCertPath}`,
      ...args,
    ], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  }

  /** The current block height. */
  async blockCount(): Promise<number> {
    return Number(await this.ctl('getblockcount'));
  }

  /** Mines `blocks` blocks to the mining address (in batches of 100) and returns the new height. */
  async mine(blocks: number): Promise<number> {
    for (let left = blocks; left > 0; left -= 100) await this.ctl('generate', String(Math.min(100, left)));
    return await this.blockCount();
  }
}
