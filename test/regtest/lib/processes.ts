/**
 * Child processes of the regtest harness (btcd, lnd, later lnmux), each in its own process group, with
 * its output in a log file, and a clean-up that runs on normal exit, on failure, on SIGINT/SIGTERM and on
 * an uncaught error: every group still alive is killed (SIGTERM, then SIGKILL) and the temp dir removed.
 *
 * A SIGKILL of the harness itself cannot be caught: its children would then stay; `ps -eo pid,pgid,cmd |
 * grep lnmux-regtest` finds them (their command lines name the temp dir).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';

/** A running child: its pid (also its process group id) and a promise of its exit. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process exits, with its code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  hasExited(): boolean;
}

interface Tracked {
  child: Child;
  proc: ChildProcess;
}

const running = new Map<number, Tracked>();
const tempDirs = new Set<string>();
let handlersInstalled = false;
let keepTempDirs = false;
let interrupted = false;

/** True once SIGINT/SIGTERM/SIGHUP arrived: what fails afterwards is the clean-up's doing, not a finding. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/**
 * Starts `command args` in a new process group (detached), stdout and stderr appended to `logPath`.
 * Throws when the command cannot be spawned (missing binary).
 */
export function startProcess(name: string, command: string, args: readonly string[], logPath: string): Child {
  installHandlers();
  const fd = openSync(logPath, 'a');
  const proc = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (proc.pid === undefined) {
    throw new Error(`${name}: could not start ${command}`);
  }
  const pid = proc.pid;
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      done = true;
      running.delete(pid);
      resolve({ code, signal });
    });
  });
  proc.on('error', () => undefined); // an 'exit' follows; spawn errors surface via hasExited()
  const child: Child = { name, pid, logPath, exited, hasExited: () => done };
  running.set(pid, { child, proc });
  return child;
}

/**
 * Stops a child's whole process group: SIGTERM, then SIGKILL after `graceMs` (milliseconds).
 * Resolves once it has exited.
 */
export async function stopProcess(child: Child, graceMs = 15_000): Promise<void> {
  if (child.hasExited()) return;
  signalGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Kills a child's process group at once (SIGKILL), as a crash would. Resolves once it has exited. */
export async function killProcess(child: Child): Promise<void> {
  if (child.hasExited()) return;
  signalGroup(child.pid, 'SIGKILL');
  await child.exited;
}

/** Registers a temp dir to remove on exit (unless LNMUX_REGTEST_KEEP=1 or keepTempDirsOnExit()). */
export function removeOnExit(dir: string): void {
  installHandlers();
  tempDirs.add(dir);
}

/** Leaves the temp dirs in place at exit (for a failed run's logs). */
export function keepTempDirsOnExit(): void {
  keepTempDirs = true;
}

/** Stops every child still running (SIGTERM, then SIGKILL after `graceMs`), then removes the temp dirs. */
export async function cleanUpAll(graceMs = 15_000): Promise<void> {
  await Promise.all([...running.values()].map(({ child }) => stopProcess(child, graceMs)));
  removeTempDirs();
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

function removeTempDirs(): void {
  if (keepTempDirs || process.env['LNMUX_REGTEST_KEEP'] === '1') {
    for (const dir of tempDirs) process.stderr.write(`regtest: kept ${dir}\n`);
    tempDirs.clear();
    return;
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Synchronous last resort: the 'exit' event allows no awaiting, so SIGKILL what is left. */
function killAllNow(): void {
  for (const pid of running.keys()) signalGroup(pid, 'SIGKILL');
  running.clear();
  removeTempDirs();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      interrupted = true;
      process.stderr.write(`regtest: ${signal}, stopping every child process\n`);
      void cleanUpAll(3_000).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`regtest: uncaught ${error.stack ?? String(error)}\n`);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`regtest: unhandled rejection ${reason instanceof Error ? reason.stack : String(reason)}\n`);
    killAllNow();
    process.exit(1);
  });
}
