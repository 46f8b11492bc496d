/**
 * An lnmux child process of the chaos suite (lnmux-child.ts): spawned, watched (its role from its
 * stdout lines, its logs appended to a file), killed with SIGKILL or stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MuxConfigInput } from '../../src/mux/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./lnmux-child.ts', import.meta.url));

export type Role = 'starting' | 'standby' | 'active' | 'dead';

export class LnmuxProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  role: Role = 'starting';
  /** Date.now() of the last role change reported. */
  roleAt = 0;
  /** Set before a kill the suite means; an exit without it is unplanned. */
  expectedExit = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(name: string, config: MuxConfigInput, logFile: string, onUnplannedExit: (p: LnmuxProcess, how: string) => void) {
    this.name = name;
    const log = createWriteStream(logFile, { flags: 'a' });
    this.#child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, LNMUX_CHAOS_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stderr!.pipe(log);
    let buffered = '';
    this.#child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        log.write(`${line}\n`);
        try {
          const message = JSON.parse(line) as { event?: string; role?: string };
          if (message.event === 'role' && (message.role === 'active' || message.role === 'standby')) {
            this.role = message.role;
            this.roleAt = Date.now();
          }
        } catch {
          // not one of the child's report lines
        }
      }
    });
    this.exited = new Promise((resolve) => {
      this.#child.on('exit', (code, signal) => {
        this.role = 'dead';
        this.roleAt = Date.now();
        if (!this.expectedExit) onUnplannedExit(this, signal ?? `code ${code}`);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGKILL (a crash, kill -9) and wait for the exit. */
  async kill(): Promise<void> {
    this.expectedExit = true;
    if (this.alive) this.#child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a clean stop), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.expectedExit = true;
    if (!this.alive) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
