/**
 * The API commands (`lnmux invoice|set|status|subscribe`) end to end against a running API server (TLS,
 * macaroons in a temp api.dataDir) over a Mux on the simulated cluster in hold mode. The commands run in
 * this process (`main` with the argv a user types, stdout and stderr captured) with the config's `api`
 * section or the flags; `subscribe` runs as the real executable in a child process, stopped with ctrl-c.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { main } from '../../src/cli/main.js';
import { parseConfig } from '../../src/mux/config.js';
import type { Mux } from '../../src/mux/mux.js';
import { muxConfig, newIdentityKey, startMux, stopMux } from '../e2e/support/mux.js';
import { useCluster, useStore } from '../e2e/support/setup.js';
import { waitFor } from '../support/wait.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const TSX = import.meta.resolve('tsx');
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

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

/** `lnmux ...args` in this process. */
async function lnmux(...args: string[]): Promise<Run> {
  const into = { stdout: '', stderr: '' };
  const code = await sink.run(into, () => main(args));
  return { code, ...into };
}

/** `lnmux ...args` that must succeed: its JSON output. */
async function json(...args: string[]): Promise<Record<string, unknown>> {
  const run = await lnmux(...args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe('lnmux invoice|set|status|subscribe against a running daemon API', () => {
  const cluster = useCluster();
  const { store } = useStore('pglite');
  const identityKey = newIdentityKey();
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-cli-api-'));
  const dataDir = join(dir, 'lnmux-api');
  const cfg = join(dir, 'multiplexer.yml');
  let mux: Mux;
  let server: ApiServer;
  /** The connection flags, without the config. */
  let flags: (macaroon?: string) => string[];

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), { identityKey, settlement: { mode: 'hold' } });
    const input = { ...muxConfig(cluster(), { identityKey, settlement: { mode: 'hold' } }), api: { listen: '127.0.0.1:0', dataDir } };
    const config = parseConfig(input);
    server = await startApiServer({ api: config.api!, config, mux, log: pino({ level: 'silent' }), version: '0.1.0', streamPollMs: 50 });
    // The config a user has: the daemon's, with the port it listens on (YAML reads JSON).
    writeFileSync(cfg, JSON.stringify({ ...input, api: { listen: server.address, dataDir } }));
    writeFileSync(join(dir, 'no-api.yml'), JSON.stringify(muxConfig(cluster(), { identityKey })));
    flags = (macaroon = 'admin') => ['--rpcserver', server.address, '--tlscertpath', join(dataDir, 'tls.cert'), '--macaroonpath', join(dataDir, `${macaroon}.macaroon`)];
  });
  afterAll(async () => {
    await server.stop();
    await stopMux(cluster(), mux);
    rmSync(dir, { recursive: true, force: true });
  });

  async function heldSet(hash: string): Promise<Record<string, unknown>> {
    return waitFor(async () => ((await json('set', 'list', '-c', cfg))['sets'] as Record<string, unknown>[]).find((s) => s['payment_hash'] === hash), {
      what: 'the set to be held',
    });
  }

  it('lnmux status: version, role, height, nodes and held sets, from the config', async () => {
    const status = await json('-c', cfg, 'status');
    expect(status).toMatchObject({ version: '0.1.0', role: 'active', network: 'regtest', auto_settle: false, held_sets: [] });
    expect(status['best_height']).toBeGreaterThan(0);
    expect((status['nodes'] as Record<string, unknown>[]).map((n) => [n['pub_key'], n['state']])).toEqual(cluster().nodeInfos().map((n) => [n.pubkey, 'ready']));
  });

  it('a hold invoice: invoice add --hash, set list, set settle refused without --preimage (exit 2), settled with it, invoice lookup', async () => {
    const preimage = randomBytes(32);
    const hash = sha256(preimage);
    const added = await json('invoice', 'add', '--amt', '50', '--desc', 'escrow', '--hash', hash, '-c', cfg);
    expect(added).toMatchObject({ payment_hash: hash });
    expect(added['preimage']).toBeUndefined();
    const paying = cluster().payer.pay(added['payment_request'] as string);
    const set = await heldSet(hash);
    expect(set).toMatchObject({ amount_msat: '50000', needs_preimage: true });
    const refused = await lnmux('set', 'settle', set['set_id'] as string, ...flags());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^lnmux: the daemon refused the request: preimage/);
    expect(await json('set', 'settle', set['set_id'] as string, '--preimage', preimage.toString('hex'), ...flags())).toEqual({ settled: set['set_id'] });
    expect((await paying).status).toBe('succeeded');
    const invoice = await json('invoice', 'lookup', hash, '-c', cfg);
    expect(invoice).toMatchObject({ payment_hash: hash, kind: 'hold', amount_msat: '50000', description: 'escrow', preimage: preimage.toString('hex'), set_id: set['set_id'] });
    expect(['settleCommitted', 'settled']).toContain(invoice['state']);
  });

  it('set cancel refuses a held set; invoice cancel and invoice list --state', async () => {
    const added = await json('invoice', 'add', '--amountless', '--min-amt-msat', '2000', '--desc', 'tip', '-c', cfg);
    const paying = cluster().payer.pay(added['payment_request'] as string, { amountMsat: 3_000n });
    const set = await heldSet(added['payment_hash'] as string);
    expect(await json('set', 'cancel', set['set_id'] as string, '-c', cfg)).toEqual({ cancelled: set['set_id'] });
    expect((await paying).status).toBe('failed');
    const other = await json('invoice', 'add', '--amt-msat', '1500', '--desc', 'gone', '-c', cfg);
    expect(await json('invoice', 'cancel', other['payment_hash'] as string, '-c', cfg)).toEqual({ cancelled: other['payment_hash'] });
    const page = await json('invoice', 'list', '--state', 'cancelled', '--limit', '10', '-c', cfg);
    expect((page['invoices'] as Record<string, unknown>[]).map((i) => i['payment_hash']).sort()).toEqual([added['payment_hash'], other['payment_hash']].sort());
    expect(page['next_cursor']).toBeUndefined();
    const open = await json('invoice', 'list', '--state', 'open', '--reverse', '-c', cfg);
    expect((open['invoices'] as unknown[]).length).toBe(0);
  });

  it('says what is wrong: daemon not running (1), macaroon refused or too weak (1), bad input and missing files (2)', async () => {
    const down = await lnmux('status', '--rpcserver', '127.0.0.1:1', '--tlscertpath', join(dataDir, 'tls.cert'), '--macaroonpath', join(dataDir, 'admin.macaroon'), '--timeout', '5');
    expect(down).toMatchObject({ code: 1, stdout: '' });
    expect(down.stderr).toMatch(/^lnmux: cannot reach the daemon at 127\.0\.0\.1:1 \(is `lnmux run` running with an api section\?\)/);

    const weak = await lnmux('invoice', 'add', '--amt', '1', '--desc', 'x', ...flags('readonly'));
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/^lnmux: the macaroon .*readonly\.macaroon does not allow this: macaroon lacks invoices:write/);

    const forged = join(dir, 'forged.macaroon');
    writeFileSync(forged, randomBytes(48));
    const refused = await lnmux('status', '--rpcserver', server.address, '--tlscertpath', join(dataDir, 'tls.cert'), '--macaroonpath', forged);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^lnmux: the daemon refused the macaroon .*forged\.macaroon: macaroon: /);

    const missing = await lnmux('status', '--rpcserver', server.address, '--tlscertpath', join(dir, 'nope.cert'), '--macaroonpath', forged);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^lnmux: --tlscertpath: cannot read .*nope\.cert/);

    const noApi = await lnmux('status', '-c', join(dir, 'no-api.yml'));
    expect(noApi.code).toBe(2);
    expect(noApi.stderr).toMatch(/no-api\.yml has no api section/);

    const notFound = await lnmux('invoice', 'lookup', '00'.repeat(32), '-c', cfg);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toMatch(/^lnmux: NOT_FOUND: /);
    expect((await lnmux('invoice', 'lookup', 'abc', '-c', cfg)).code).toBe(2);
    expect((await lnmux('invoice', 'add', '--desc', 'no amount', '-c', cfg)).code).toBe(2);
  });

  it('lnmux subscribe prints the stream as JSON lines from --from-index, and stops on ctrl-c with status 0', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, 'subscribe', '-c', cfg, '--from-index', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const added = await json('invoice', 'add', '--amt', '7', '--desc', 'streamed', '-c', cfg);
      const lines = () => stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      const created = await waitFor(() => lines().find((e) => e['payment_hash'] === added['payment_hash']), { what: 'the created event', timeoutMs: 30_000 });
      expect(created).toMatchObject({ kind: 'created', amount_msat: '7000' });
      const indexes = lines().map((e) => BigInt(e['index'] as string));
      expect(indexes[0]).toBe(1n);
      expect(indexes).toEqual([...indexes].sort((a, b) => (a < b ? -1 : 1)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
