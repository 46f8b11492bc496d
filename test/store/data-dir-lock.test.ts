/**
 * The embedded database's data directory is locked for the process that opened it: a second opener
 * gets DataDirLockedError naming the directory and the holder's pid; a lock whose process is gone is
 * taken over; closing releases it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir, LOCK_FILE_NAME } from '../../src/store/data-dir-lock.js';
import { DataDirLockedError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'lnmux-lock-')), 'data');

/** A process that lives until killed, and one that has exited (its pid is free). */
const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
afterAll(() => {
  sleeper.kill('SIGKILL');
});
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('the data directory lock', () => {
  it('writes the holder’s pid and host, refuses a second opener in this process, and is released', async () => {
    const dir = fresh();
    const release = await lockDataDir(dir);
    const lockFile = join(dir, LOCK_FILE_NAME);
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
    const second = await lockDataDir(dir).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(DataDirLockedError);
    expect(second).toMatchObject({ holderPid: process.pid, lockFile });
    await release();
    expect(existsSync(lockFile)).toBe(false);
    await (await lockDataDir(dir))();
  });

  it('refuses a directory another live process holds, naming the directory and its pid', async () => {
    const dir = fresh();
    await (await lockDataDir(dir))();
    writeFileSync(join(dir, LOCK_FILE_NAME), `${sleeper.pid}\n${hostname()}\n`);
    const error = await lockDataDir(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect((error as Error).message).toContain(`the embedded database ${dir} is in use by process ${sleeper.pid} on ${hostname()}`);
  });

  it('takes over a lock whose process is gone, or that names no pid', async () => {
    const dir = fresh();
    await (await lockDataDir(dir))();
    for (const stale of [`${await deadPid()}\n${hostname()}\n`, '', 'garbage']) {
      writeFileSync(join(dir, LOCK_FILE_NAME), stale);
      const release = await lockDataDir(dir);
      expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
      await release();
    }
  });

  it('never takes over another host’s lock (it cannot see that host’s processes)', async () => {
    const dir = fresh();
    await (await lockDataDir(dir))();
    writeFileSync(join(dir, LOCK_FILE_NAME), `${await deadPid()}\nsome-other-host\n`);
    await expect(lockDataDir(dir)).rejects.toThrow(/in use by process \d+ on some-other-host/);
  });
});

describe('an embedded store on a data directory', () => {
  it('holds the lock while open: a second store on the directory is refused until the first closes', { timeout: 60_000 }, async () => {
    const dataDir = fresh();
    const first = await openStore({ dataDir, migrate: true, onWarning: () => {} });
    await expect(openStore({ dataDir, migrate: true, onWarning: () => {} })).rejects.toBeInstanceOf(DataDirLockedError);
    await first.close();
    const second = await openStore({ dataDir, migrate: true, onWarning: () => {} });
    await second.close();
    expect(existsSync(join(dataDir, LOCK_FILE_NAME))).toBe(false);
  });
});
