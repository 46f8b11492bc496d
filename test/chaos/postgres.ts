/**
 * A private PostgreSQL server for the chaos suite: initdb into a folder under /tmp, its own port on
 * 127.0.0.1, stopped and started at will. Never the shared server on 5432. As root, initdb and postgres
 * run as the `postgres` user (they refuse to run as root), through `runuser`.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The newest `<root>/<version>/bin` holding initdb, pg_ctl and postgres; undefined if none. `root`:
 * LNMUX_CHAOS_PG_ROOT, else Debian's /usr/lib/postgresql.
 */
export function findPostgresBin(root = process.env.LNMUX_CHAOS_PG_ROOT ?? '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(bin, tool)))) return bin;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Owner {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
}

async function ownerForRoot(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { user: 'postgres', uid, gid };
}

export class PrivatePostgres {
  readonly port: number;
  readonly #bin: string;
  readonly #dataDir: string;
  readonly #logFile: string;
  readonly #owner: Owner | undefined;

  private constructor(bin: string, dir: string, port: number, owner: Owner | undefined) {
    this.#bin = bin;
    this.#dataDir = join(dir, 'data');
    this.#logFile = join(dir, 'postgres.log');
    this.port = port;
    this.#owner = owner;
  }

  /** Connection string of the `postgres` database, as the superuser `postgres` (trust auth, loopback only). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get logFile(): string {
    return this.#logFile;
  }

  /**
   * Creates a cluster in `dir` (made, and given to the postgres user when running as root) and starts
   * it. Throws with initdb's / pg_ctl's output when either fails.
   */
  static async create(bin: string, dir: string): Promise<PrivatePostgres> {
    mkdirSync(dir, { recursive: true });
    const owner = await ownerForRoot();
    if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
    const pg = new PrivatePostgres(bin, dir, await freePort(), owner);
    await pg.#tool('initdb', ['-D', pg.#dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    await pg.start();
    return pg;
  }

  async #tool(tool: string, args: readonly string[]): Promise<string> {
    const path = join(this.#bin, tool);
    const [file, argv] = this.#owner === undefined ? [path, [...args]] : ['runuser', ['-u', this.#owner.user, '--', path, ...args]];
    try {
      const { stdout } = await run(file, argv, { cwd: '/tmp', timeout: 120_000 });
      return stdout;
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${tool} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: error });
    }
  }

  /**
   * Starts the server and waits until it accepts connections. fsync is off: the suite crashes
   * processes, not the machine, and the page cache survives a process crash.
   */
  async start(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=100`;
    await this.#tool('pg_ctl', ['-D', this.#dataDir, '-l', this.#logFile, '-o', options, '-w', '-t', '60', 'start']);
  }

  /** Stops the server: 'immediate' (a crash: no checkpoint, recovery at the next start) or 'fast'. */
  async stop(mode: 'immediate' | 'fast' = 'fast'): Promise<void> {
    await this.#tool('pg_ctl', ['-D', this.#dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /** Stops the server if it runs (errors ignored: used on the way out). */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
  }
}
