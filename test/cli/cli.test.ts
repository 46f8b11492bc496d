/**
 * The `lnmux` command line, each test on an embedded database in a temp dir. The commands run in this
 * process (`main` with the argv a user would type, its stdout and stderr captured): what costs is the
 * embedded database (initdb once, then an open per command), not the process. One test runs the real
 * executable as a user does, in child processes started together.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { decodeInvoice } from '../../src/protocol/bolt11-decode.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { virtualChannelId } from '../../src/protocol/virtual-scid.js';
import { pgliteTemplate } from '../store/helpers.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
/** tsx resolved from here: the commands run in other working directories. */
const TSX = import.meta.resolve('tsx');
const NODE_A = '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8';
const NODE_C = '026ff75cb2ff49b864833aa3c93970069070231a9ad64819252e190406dd0a6976';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where the in-process commands of the current test write (stdout, stderr); elsewhere writes go through. */
const sink = new AsyncLocalStorage<{ stdout: string; stderr: string }>();

beforeAll(() => {
  for (const [stream, key] of [[process.stdout, 'stdout'], [process.stderr, 'stderr']] as const) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const into = sink.getStore();
      if (into === undefined) return write(chunk, ...rest);
      into[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
      return true;
    }) as typeof stream.write);
  }
});
afterAll(() => {
  vi.restoreAllMocks();
});

/**
 * `lnmux ...args` in this process, as if started in `cwd` (a relative `-c` file is taken from there, as
 * the executable takes it from its working directory): its exit status and what it wrote.
 */
async function lnmux(args: readonly string[], cwd?: string): Promise<Run> {
  const argv = args.map((arg, i) => (cwd !== undefined && i > 0 && (args[i - 1] === '-c' || args[i - 1] === '--config') ? resolve(cwd, arg) : arg));
  const into = { stdout: '', stderr: '' };
  // `run` listens for SIGINT / SIGTERM first thing: take its listeners off again.
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = signals.map((signal) => new Set(process.listeners(signal)));
  try {
    const code = await sink.run(into, () => main(argv));
    return { code, ...into };
  } finally {
    signals.forEach((signal, i) => process.listeners(signal).filter((l) => !before[i]!.has(l)).forEach((l) => process.off(signal, l)));
  }
}

/** The real executable (src/cli/bin.ts under tsx) in a child process started in `cwd`. */
function lnmuxProcess(args: readonly string[], cwd?: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function configDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-cli-'));
  writeFileSync(join(dir, 'multiplexer.yml'), yaml);
  return dir;
}

/**
 * A config dir whose embedded database folder (`data`) holds a fresh PostgreSQL cluster already, from
 * the tests' PGlite template: the commands skip initdb (about 15 s). No lnmux schema in it yet.
 */
async function configDirWithCluster(yaml: string): Promise<string> {
  const dir = configDir(yaml);
  const archive = join(dir, 'template.tar.gz');
  writeFileSync(archive, new Uint8Array(await (await pgliteTemplate()).arrayBuffer()));
  mkdirSync(join(dir, 'data'));
  execFileSync('tar', ['-xzf', archive, '-C', join(dir, 'data')], { stdio: 'ignore' });
  return dir;
}

const GOOD = `network: regtest
identityKey: "${'42'.repeat(32)}"
metrics:
  listen: 127.0.0.1:0
nodes:
  - pubkey: "${NODE_A}"
    address: 127.0.0.1:10009
    tlsCertPath: a/tls.cert
    macaroonPath: a/admin.macaroon
  - pubkey: "${NODE_C}"
    address: 127.0.0.1:10010
    tlsCertPath: c/tls.cert
    macaroonPath: c/admin.macaroon
database:
  dataDir: data
`;

describe('lnmux command line', () => {
  it('migrates the embedded database and creates an invoice with a route hint per node (the seed\'s commands)', async () => {
    const dir = configDir(GOOD);
    const before = await lnmux(['-c', 'multiplexer.yml', 'migrate', 'version'], dir);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ state: 'uninitialized', database_version: 0 });

    // Creating an invoice before the schema is there is refused, naming the command that fixes it.
    const early = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5000', '--desc', 'test'], dir);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/migrate/);

    expect((await lnmux(['-c', 'multiplexer.yml', 'migrate', 'init'], dir)).code).toBe(0);
    const up = await lnmux(['-c', 'multiplexer.yml', 'migrate', 'up'], dir);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ state: 'current' });

    const added = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5000', '--desc', 'test', '--expiry', '600'], dir);
    expect(added.code, added.stderr).toBe(0);
    const out = JSON.parse(added.stdout) as { payment_request: string; payment_hash: string; amount_msat: string };
    expect(out.amount_msat).toBe('5000000');
    const decoded = decodeInvoice(out.payment_request);
    if (!decoded.ok) throw new Error(JSON.stringify(decoded.error));
    expect(decoded.value.amountMsat).toBe(5_000_000n);
    expect(decoded.value.description).toBe('test');
    expect(decoded.value.expirySeconds).toBe(600);
    expect(decoded.value.minFinalCltvExpiryDelta).toBe(40);
    expect(Buffer.from(decoded.value.paymentHash).toString('hex')).toBe(out.payment_hash);
    expect(decoded.value.routeHints?.map((hint) => hint.map((h) => Buffer.from(h.pubkey).toString('hex')))).toEqual([[NODE_A], [NODE_C]]);
    expect(decoded.value.routeHints?.[0]?.[0]?.shortChannelId).toBe(virtualChannelId(Buffer.from(NODE_A, 'hex')));
  }, 120_000); // five commands, each opening the embedded database (the first creates it: initdb)

  it('binds the database to the identity key at `migrate up`; `run` and `migrate up` with another key exit 1 naming both pubkeys', async () => {
    const dir = await configDirWithCluster(GOOD);
    const up = await lnmux(['-c', 'multiplexer.yml', 'migrate', 'up'], dir);
    expect(up.code, up.stderr).toBe(0);
    const otherKey = '43'.repeat(32);
    writeFileSync(join(dir, 'other.yml'), GOOD.replace('42'.repeat(32), otherKey));
    const pubkey = (key: string) => Buffer.from(deriveKeyring(Buffer.from(key, 'hex')).nodePubkey).toString('hex');
    for (const args of [['run'], ['migrate', 'up']]) {
      const refused = await lnmux(['-c', 'other.yml', ...args], dir);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain('identity key mismatch');
      expect(refused.stderr).toContain(`belongs to virtual node ${pubkey('42'.repeat(32))}`);
      expect(refused.stderr).toContain(`the key of ${pubkey(otherKey)}`);
      expect(refused.stderr).not.toContain(otherKey);
      expect(refused.stderr).not.toContain('42'.repeat(32));
    }
  }, 120_000); // three commands, each opening the embedded database (made from the template: no initdb)

  it('refuses bad flags with exit status 2, naming the flag', async () => {
    const dir = configDir(GOOD);
    const badAmount = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '12abc', '--desc', 'x'], dir);
    expect(badAmount.code).toBe(2);
    expect(badAmount.stderr).toMatch(/--amt <sat>.*expected a positive integer, got "12abc"/);
    const both = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '1', '--amt-msat', '1000', '--desc', 'x'], dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with/);
    const noDescription = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5'], dir);
    expect(noDescription.code).toBe(2);
    expect(noDescription.stderr).toContain('give a description with --desc <text> or --desc-hash <hex>');
    // The invoice kinds' flags: an amountless invoice is never made by forgetting --amt.
    const noAmount = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--desc', 'x'], dir);
    expect(noAmount.code).toBe(2);
    expect(noAmount.stderr).toContain('give the amount with --amt <sat> or --amt-msat <msat>, or --amountless');
    const minimumWithAmount = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5', '--min-amt-msat', '1000', '--desc', 'x'], dir);
    expect(minimumWithAmount.code).toBe(2);
    expect(minimumWithAmount.stderr).toContain('--min-amt-msat: only with --amountless');
    const shortHash = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5', '--hash', 'abcd', '--desc', 'x'], dir);
    expect(shortHash.code).toBe(2);
    expect(shortHash.stderr).toMatch(/--hash <hex>.*expected 32 bytes as 64 hex characters/);
    const oddMetadata = await lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5', '--metadata', 'abc', '--desc', 'x'], dir);
    expect(oddMetadata.code).toBe(2);
    expect(oddMetadata.stderr).toMatch(/--metadata <hex>.*expected 1 to 639 bytes/);
    const unknown = await lnmux(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  }, 60_000);

  it('refuses a bad configuration with exit status 2, naming each field', async () => {
    const dir = configDir(GOOD.replace('network: regtest', 'network: regtestnet').replace('address: 127.0.0.1:10010', 'address: nowhere'));
    const run = await lnmux(['-c', 'multiplexer.yml', 'migrate', 'version'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('network:');
    expect(run.stderr).toContain('nodes[1].address: expected host:port, got "nowhere"');
    expect(run.stderr).not.toContain('42'.repeat(32));
    const missing = await lnmux(['-c', '/nonexistent/multiplexer.yml', 'run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config file /nonexistent/multiplexer.yml');
  }, 60_000);

  it('refuses, with exit status 2, a database.dsnEnv whose variable is not set, naming it', async () => {
    const dir = configDir(GOOD.replace('  dataDir: data\n', '  dsnEnv: LNMUX_TEST_UNSET_DSN\n'));
    delete process.env.LNMUX_TEST_UNSET_DSN;
    for (const args of [['migrate', 'version'], ['run']]) {
      const refused = await lnmux(['-c', 'multiplexer.yml', ...args], dir);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain('database.dsnEnv: environment variable LNMUX_TEST_UNSET_DSN is not set');
    }
  }, 60_000);

  it('is an executable: exit status, stdout and stderr of real processes, a relative config file taken from the working directory', async () => {
    const dir = configDir(GOOD.replace('network: regtest', 'network: regtestnet'));
    const [badConfig, unknown, missing] = await Promise.all([
      lnmuxProcess(['-c', 'multiplexer.yml', 'migrate', 'version'], dir),
      lnmuxProcess(['frobnicate']),
      lnmuxProcess(['-c', '/nonexistent/multiplexer.yml', 'run']),
    ]);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain('network:');
    expect(badConfig.stdout).toBe('');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config file /nonexistent/multiplexer.yml');
  }, 60_000);
});
