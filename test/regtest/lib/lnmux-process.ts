/**
 * lnmux as a child process of the regtest harness: `lnmux -c <multiplexer.yml> <command>`.
 *
 * Every place that depends on how issue 5 shapes the CLI is marked TODO(issue 5); nothing else in the
 * scenarios needs to change when it lands.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Interceptor } from './interceptor.js';
import type { LndRpc } from './lnd-rpc.js';
import { killProcess, startProcess, stopProcess, type Child } from './processes.js';
import { waitFor } from './util.js';

const execFileAsync = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The command that runs the lnmux CLI: the TypeScript source through tsx, so no build step is needed.
 * TODO(issue 5): keep in step with package.json's `bin` (dist/cli/main.js) if the source entry moves.
 */
export function lnmuxCommand(): { command: string; args: string[] } {
  return { command: join(repoRoot, 'node_modules', '.bin', 'tsx'), args: [join(repoRoot, 'src', 'cli', 'main.ts')] };
}

/**
 * Whether the multiplexer exists yet. TODO(issue 5): src/mux/ is the shell issue 5 adds; once it has
 * landed this is simply true and may go.
 */
export function lnmuxAvailable(): boolean {
  return existsSync(join(repoRoot, 'src', 'mux'));
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

/** `lnmux migrate init` then `migrate up` (the seed's commands). TODO(issue 5): confirm the subcommands. */
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
 * `lnmux addinvoice --amt <sat> --desc <text> [--expiry <s>]`, whose stdout is JSON with the payment
 * request and hash. TODO(issue 5): the JSON field names (both spellings are accepted until then).
 */
export async function addInvoice(configPath: string, amountSat: bigint, description: string, expirySeconds?: number): Promise<LnmuxInvoice> {
  const args = ['addinvoice', '--amt', amountSat.toString(), '--desc', description];
  if (expirySeconds !== undefined) args.push('--expiry', String(expirySeconds));
  const printed = JSON.parse(await lnmuxCli(configPath, ...args)) as Record<string, unknown>;
  const paymentRequest = printed['paymentRequest'] ?? printed['payment_request'];
  const paymentHash = printed['paymentHash'] ?? printed['payment_hash'] ?? printed['hash'];
  if (typeof paymentRequest !== 'string' || typeof paymentHash !== 'string') {
    throw new Error(`lnmux addinvoice printed no payment request and hash: ${JSON.stringify(printed)}`);
  }
  return { paymentRequest, paymentHash };
}

/** A running `lnmux run`. */
export class LnmuxDaemon {
  private child: Child | undefined;

  constructor(private readonly configPath: string, private readonly logPath: string) {}

  /**
   * Starts `lnmux -c <config> run` and waits until it holds the interceptor stream of every cluster node.
   * `env` adds variables (a crash hook for the restart scenario).
   */
  async start(clusterNodes: readonly LndRpc[], env: Record<string, string> = {}): Promise<void> {
    const { command, args } = lnmuxCommand();
    // TODO(issue 5): `run` is the seed's command; startProcess passes no env yet, so env goes through a shell.
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    this.child = envArgs.length === 0
      ? startProcess('lnmux', command, [...args, '-c', this.configPath, 'run'], this.logPath)
      : startProcess('lnmux', 'env', [...envArgs, command, ...args, '-c', this.configPath, 'run'], this.logPath);
    const child = this.child;
    for (const node of clusterNodes) {
      await waitFor(`lnmux attached to ${node.endpoint.address}`, async () => {
        if (child.hasExited()) throw new Error(`lnmux exited at start; see ${this.logPath}`);
        return (await interceptorTaken(node)) ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
    }
  }

  get exited(): Promise<unknown> {
    return this.child?.exited ?? Promise.resolve();
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

/**
 * Whether some client holds the node's HtlcInterceptor stream: LND refuses a second one at once with
 * "interceptor already exists" and leaves the first untouched (observed, docs/regtest.md), so a probe
 * stream tells, from the outside, that lnmux is attached.
 */
export async function interceptorTaken(node: LndRpc): Promise<boolean> {
  const probe = new Interceptor(node, 'probe');
  const end = await probe.endedWithin(2_000);
  if (end === undefined) {
    await probe.close();
    return false;
  }
  return end.kind === 'error' && end.details.includes('interceptor already exists');
}
