/**
 * Runs test/e2e/fixtures/lnmux-child.ts as a real child process (`node --import tsx`), reads the JSON
 * lines it reports, and tells how it ended (an exit code, or the signal that killed it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildSpec } from '../fixtures/lnmux-child.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../fixtures/lnmux-child.ts', import.meta.url));

export type ChildMessage = { readonly event: string } & Record<string, unknown>;

export interface LnmuxChild {
  readonly pid: number;
  /** Every message so far, in order. */
  readonly messages: readonly ChildMessage[];
  /** The first message (past or future) for which `match` holds; rejects if the child exits first. */
  message(match: (m: ChildMessage) => boolean, what: string): Promise<ChildMessage>;
  /** How the process ended. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) if the process still runs, and waits for its end. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnLnmux(spec: ChildSpec): LnmuxChild {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, LNMUX_CHILD: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: ChildMessage[] = [];
  const waiters: { match: (m: ChildMessage) => boolean; resolve: (m: ChildMessage) => void }[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let message: ChildMessage;
      try {
        message = JSON.parse(line) as ChildMessage;
      } catch {
        continue; // not ours (a stray print)
      }
      messages.push(message);
      for (const w of [...waiters]) {
        if (w.match(message)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(message);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
    if (process.env.LNMUX_E2E_LOG) process.stderr.write(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: child.pid!,
    messages,
    message(match, what) {
      const seen = messages.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then(({ code, signal }) =>
          reject(new Error(`lnmux child exited (code ${code}, signal ${signal}) before ${what}; stderr:\n${stderr}`)),
        );
      });
    },
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
