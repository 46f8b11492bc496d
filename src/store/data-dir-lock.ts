/**
 * The embedded database's data directory lock: `<dataDir>/lnmux.lock` holds the pid and host of the one
 * process that has the directory open. PGlite is a single PostgreSQL backend per directory with no lock
 * of its own; a second process (an `lnmux addinvoice` beside `lnmux run`) would write invoices the
 * first never sees, or corrupt the files. So a second opener gets DataDirLockedError naming the holder.
 *
 * The file appears whole (written to a temporary file, then hard-linked into place: the link fails if
 * a lock exists), so a reader never sees a half-written one. A lock whose process is gone (same host,
 * no such pid, or this very pid without this process holding it: a restarted container) is stale and
 * taken over. Two processes taking over the same stale lock at the same instant could both remove it
 * before one links its own: a narrow race, left as it is for a database meant for development.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DataDirLockedError, StoreError } from './errors.js';

export const LOCK_FILE_NAME = 'lnmux.lock';

/** Lock files this process holds. */
const held = new Set<string>();

interface Holder {
  readonly pid: number;
  readonly host: string;
}

/**
 * Locks `dataDir` (created if absent) for this process; resolves with the function that releases it
 * (idempotent). @throws DataDirLockedError when another live process (or another store of this one)
 * holds it; StoreError when the lock file cannot be written.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const dir = resolve(dataDir);
  const lockFile = join(dir, LOCK_FILE_NAME);
  const me: Holder = { pid: process.pid, host: hostname() };
  const content = `${me.pid}\n${me.host}\n`;
  try {
    await mkdir(dir, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      const temporary = join(dir, `.${LOCK_FILE_NAME}.${me.pid}.${randomBytes(4).toString('hex')}`);
      await writeFile(temporary, content, { mode: 0o644 });
      try {
        await link(temporary, lockFile);
        held.add(lockFile);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        await unlink(temporary).catch(() => {});
      }
      const holder = await readHolder(lockFile);
      if (holder === undefined) continue; // removed meanwhile: try again
      if (attempt >= 2 || !isStale(holder, lockFile, me)) throw new DataDirLockedError(dir, lockFile, holder.pid, holder.host);
      await unlink(lockFile).catch(() => {});
    }
  } catch (error) {
    if (error instanceof DataDirLockedError) throw error;
    throw new StoreError(`cannot lock the embedded database ${dir} (lock file ${lockFile}): ${(error as Error).message}`, { cause: error });
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    held.delete(lockFile);
    const holder = await readHolder(lockFile);
    if (holder?.pid === me.pid && holder.host === me.host) await unlink(lockFile).catch(() => {});
  };
}

/** The holder the lock file names; undefined when it is gone. Unreadable content names pid 0 (stale). */
async function readHolder(lockFile: string): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await readFile(lockFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const [pid, host] = text.split('\n');
  const parsed = Number(pid);
  return { pid: Number.isSafeInteger(parsed) && parsed > 0 ? parsed : 0, host: host ?? '' };
}

function isStale(holder: Holder, lockFile: string, me: Holder): boolean {
  if (holder.pid === 0) return true;
  // Another host's process cannot be seen from here: never taken over (the message says to delete it).
  if (holder.host !== me.host) return false;
  if (holder.pid === me.pid) return !held.has(lockFile);
  return !isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
