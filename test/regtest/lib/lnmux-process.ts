/**
 * lnmux as a child process of the regtest harness: `lnmux -c <multiplexer.yml> <command>`.
 *
 * The commands and their output are those of src/cli/.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LndNode } from './lnd-node.js';
import { killProcess, startProcess, stopProcess, type Child } from './processes.js';
import { waitFor } from '../../support/wait.js';

const execFileAsync = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The command that runs the lnmux CLI: the TypeScript source of package.json's `bin` (src/cli/bin.ts)
 * in one node process with tsx's loader, so no build step is needed, and a signal reaches lnmux once
 * (the `tsx` wrapper would relay a group signal a second time, and lnmux's `run` handles one).
 */
export function lnmuxCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'bin.ts')] };
}

/** Runs a one-shot CLI command (migrate, addinvoice) and returns its stdout. Throws with stderr on failure. */
export async function lnmuxCli(configPath: string, ...args: string[]): Promise<string> {
  const { command, args: prefix } = lnmuxCommand();
  try {
    const { stdout } = await execFileAsync(command, [...prefix, '-c', configPath, ...args], { cwd: repoRoot, timeout: 120_000 });
    return stdout;
  } catch (error) {
    const stderr = typeof error === 'object' && error !== null && 'stderr' in error ? String((error as { stderr: unknown }).stderr) : '';
    throw new Error(`lnmux ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error });
  }
}

/** `lnmux migrate init` then `migrate up` (the seed's commands). */
export async function migrate(configPath: string): Promise<void> {
  await lnmuxCli(configPath, 'migrate', 'init');
  await lnmuxCli(configPath, 'migrate', 'up');
}

/** An invoice as `lnmux addinvoice` prints it. */
export interface LnmuxInvoice {
  readonly paymentRequest: string;
  readonly paymentHash: string;
}

/**
 * `lnmux addinvoice --amt <sat> --desc <text> [--expiry <s>]`, whose stdout is JSON:
 * `{payment_request, payment_hash, amount_msat, expires_at}`.
 */
/** `lnmux addinvoice`: `amountSat` undefined makes an amountless invoice (`--amountless`). */
export async function addInvoice(configPath: string, amountSat: bigint | undefined, description: string, expirySeconds?: number): Promise<LnmuxInvoice> {
  const amount = amountSat === undefined ? ['--amountless'] : ['--amt', amountSat.toString()];
  const args = ['addinvoice', ...amount, '--desc', description];
  if (expirySeconds !== undefined) args.push('--expiry', String(expirySeconds));
  const printed = JSON.parse(await lnmuxCli(configPath, ...args)) as Record<string, unknown>;
  const paymentRequest = printed['payment_request'];
  const paymentHash = printed['payment_hash'];
  if (typeof paymentRequest !== 'string' || typeof paymentHash !== 'string') {
    throw new Error(`lnmux addinvoice printed no payment request and hash: ${JSON.stringify(printed)}`);
  }
  return { paymentRequest, paymentHash };
}

/** A running `lnmux run`. */
export class LnmuxDaemon {
  private child: Child | undefined;

  /**
   * `nodeArgs` go to node before the loader (the benchmark's `--cpu-prof`, for instance); the process is
   * node itself, so {@link pid} is lnmux's own.
   */
  constructor(private readonly configPath: string, private readonly logPath: string, private readonly nodeArgs: readonly string[] = []) {}

  /** The process id of the running lnmux (node running src/cli/bin.ts), for its CPU time in /proc. */
  get pid(): number | undefined {
    return this.child !== undefined && !this.child.hasExited() ? this.child.pid : undefined;
  }

  /** Starts `lnmux -c <config> run` and waits until it holds the interceptor stream of every cluster node. */
  async start(clusterNodes: readonly LndNode[]): Promise<void> {
    const { command, args } = lnmuxCommand();
    this.child = startProcess('lnmux', command, [...this.nodeArgs, ...args, '-c', this.configPath, 'run'], this.logPath);
    await this.waitAttached(clusterNodes);
  }

  /**
   * Waits until an interceptor is attached to each node, per the node's own log (see
   * LndNode.interceptorAttachedPerLog; nothing else competes for the stream in the scenarios), while
   * lnmux keeps running. Unlike a probe stream, this never takes the slot from lnmux.
   */
  async waitAttached(clusterNodes: readonly LndNode[], timeoutMs = 90_000): Promise<void> {
    const child = this.child;
    if (child === undefined) throw new Error('lnmux is not running');
    for (const node of clusterNodes) {
      await waitFor(async () => {
        if (child.hasExited()) throw new Error(`lnmux exited; see ${this.logPath}`);
        return node.interceptorAttachedPerLog() ? true : undefined;
      }, { what: `lnmux attached to ${node.name}`, timeoutMs, intervalMs: 250, retryErrors: true });
    }
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
    this.child = undefined;
  }

  async kill(): Promise<void> {
    if (this.child) await killProcess(this.child);
    this.child = undefined;
  }
}
