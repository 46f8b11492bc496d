/**
 * A backend in another language, unchanged: a Python client generated from lnmuxd's .proto as vendored
 * (proto/lnmux/lnmux.proto, by grpc_tools.protoc at run time) drives `lnmux run` (a real child process,
 * hold mode, the API on a loopback port) over the simulated cluster: over TLS with admin.macaroon, as
 * the daemon serves by default (the client trusts the tls.cert `lnmux run` made and sends the macaroon's
 * hex in the `macaroon` metadata, as LND's Python clients do), and in plaintext without credentials, as
 * lnmuxd's clients speak (api.insecurePlaintext). test/api/lnmuxd_client.py creates an
 * invoice, this test pays it through the simulator's payer, and the client receives the set on
 * SubscribeInvoiceAccepted, settles it and sees SETTLED from WaitForInvoiceFinalStatus (docs/api.md).
 *
 * Needs a python3 with Debian's python3-grpcio and python3-grpc-tools (.ci/run installs them); without
 * one the test is skipped and says so in its name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LNMUXD_PROTO_FILE } from '../../src/api/index.js';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { migrateUp } from '../../src/store/index.js';
import { expectSucceeded, sha256Hex } from '../e2e/support/checks.js';
import { intercepting } from '../e2e/support/mux.js';
import { TEST_DATABASE_URL, useCluster } from '../e2e/support/setup.js';
import { waitUntil, within } from '../support/wait.js';
import { createTestDatabase } from '../store/helpers.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const TSX = import.meta.resolve('tsx');
const CLIENT = join(import.meta.dirname, 'lnmuxd_client.py');

/** The first python3 that imports grpc and grpc_tools: LNMUX_TEST_PYTHON, then PATH's, then Debian's. */
function findPython(): string | undefined {
  const candidates = [process.env.LNMUX_TEST_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => c !== undefined && c !== '');
  return candidates.find((python) => spawnSync(python, ['-c', 'import grpc, grpc_tools.protoc'], { stdio: 'ignore', timeout: 20_000 }).status === 0);
}

const PYTHON = findPython();
const NAME =
  "a Python client generated from lnmuxd's .proto, unchanged, creates an invoice, receives it accepted, settles it and sees SETTLED";
const MODES = [
  { mode: 'tls', title: 'over TLS with admin.macaroon (the default)' },
  { mode: 'plaintext', title: 'in plaintext without credentials (api.insecurePlaintext)' },
] as const;

type Line = { readonly event: string } & Record<string, unknown>;

/** A child process whose stdout is JSON lines (others ignored), with a wait for the first line that matches. */
function linesOf(child: ChildProcess, onLine: (line: Line) => void = () => {}): { lines: Line[]; output: () => string } {
  const lines: Line[] = [];
  let buffered = '';
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-50_000);
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        const line = JSON.parse(text) as Line;
        lines.push(line);
        onLine(line);
      } catch {
        // not a JSON line
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-50_000);
    if (process.env.LNMUX_E2E_LOG) process.stderr.write(chunk);
  });
  return { lines, output: () => output };
}

describe('lnmuxd compatibility: a client in another language', () => {
  const cluster = useCluster();
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it.skipIf(PYTHON === undefined).each(MODES)(
    PYTHON === undefined
      ? `${NAME}, $title (SKIPPED: no python3 imports grpc and grpc_tools; apt-get install python3-grpcio python3-grpc-tools)`
      : `${NAME}, $title`,
    { timeout: 120_000 },
    async ({ mode }) => {
      const c = cluster();
      const dir = mkdtempSync(join(tmpdir(), 'lnmux-python-'));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      // PostgreSQL when the tests have one, else the embedded database; migrated before lnmux run opens it.
      let database: string;
      if (TEST_DATABASE_URL !== undefined) {
        const created = await createTestDatabase();
        cleanup.push(created.drop);
        await migrateUp({ databaseUrl: created.url });
        database = `  dsn: "${created.url}"`;
      } else {
        await migrateUp({ dataDir: join(dir, 'data') });
        database = `  dataDir: "${join(dir, 'data')}"`;
      }
      const nodes = c
        .nodeInfos()
        .map((n) => `  - pubkey: "${n.pubkey}"\n    address: ${n.address}\n    tlsCertPath: "${n.certPath}"\n    macaroonPath: "${n.macaroonPath}"`)
        .join('\n');
      writeFileSync(
        join(dir, 'multiplexer.yml'),
        `network: regtest\nidentityKey: "${bytesToHex(randomBytes(32))}"\nnodes:\n${nodes}\ndatabase:\n${database}\n` +
          `settlement:\n  mode: hold\napi:\n  listen: 127.0.0.1:0\n${mode === 'plaintext' ? '  insecurePlaintext: true\n' : ''}` +
          'logging:\n  level: info\nmetrics:\n  listen: 127.0.0.1:0\n',
      );

      const lnmux = spawn(process.execPath, ['--import', TSX, BIN, '-c', 'multiplexer.yml', 'run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      const lnmuxExited = new Promise<number | null>((resolve) => lnmux.on('exit', (code) => resolve(code)));
      cleanup.push(async () => {
        if (lnmux.exitCode === null) lnmux.kill('SIGKILL');
        await lnmuxExited;
      });
      const daemon = linesOf(lnmux);
      let address: string | undefined;
      await waitUntil(() => {
        address ??= daemon.lines.find((l) => typeof l['address'] === 'string' && String(l['msg']).startsWith('API listening'))?.['address'] as string | undefined;
        return address !== undefined && intercepting(c);
      }, { what: 'lnmux run to serve the API and intercept', timeoutMs: 60_000 }).catch((error: Error) => {
        throw new Error(`${error.message}\n${daemon.output()}`);
      });
      const listening = daemon.lines.find((l) => String(l['msg']).startsWith('API listening'))!;
      const credentials: string[] = [];
      if (mode === 'plaintext') {
        // The start warns that the API is plaintext without authentication.
        expect(listening['level']).toBe(40);
        expect(String(listening['msg'])).toContain('WITHOUT authentication');
      } else {
        // The default: the certificate and macaroons made at first start in api.dataDir, next to the config.
        expect(listening['level']).toBe(30);
        expect(listening['tlsCertPath']).toBe(join(dir, 'lnmux-api', 'tls.cert'));
        credentials.push(join(dir, 'lnmux-api', 'tls.cert'), join(dir, 'lnmux-api', 'admin.macaroon'));
        for (const path of credentials) expect(existsSync(path)).toBe(true);
      }

      let payment: ReturnType<typeof c.payer.pay> | undefined;
      const python = spawn(PYTHON!, [CLIENT, LNMUXD_PROTO_FILE, address!, ...credentials], { stdio: ['pipe', 'pipe', 'pipe'] });
      const pythonExited = new Promise<number | null>((resolve) => python.on('exit', (code) => resolve(code)));
      cleanup.push(async () => {
        if (python.exitCode === null) python.kill('SIGKILL');
        await pythonExited;
      });
      const client = linesOf(python, (line) => {
        if (line.event !== 'invoice') return;
        payment = c.payer.pay(String(line['payment_request']));
        python.stdin!.write('paying\n');
      });

      const code = await within(pythonExited, `the Python client to finish; its output:\n${client.output()}`, 90_000);
      expect(code, `the Python client failed; its output:\n${client.output()}\nlnmux:\n${daemon.output()}`).toBe(0);
      const events = client.lines.map((l) => l.event);
      expect(events).toEqual(['info', 'invoice', 'accepted', 'settled', 'final', 'listed', 'done']);
      expect(client.lines.find((l) => l.event === 'final')?.['status']).toBe('SETTLED');
      const info = client.lines[0]!;
      expect(info['network']).toBe('regtest');
      expect(info['nodes']).toEqual(c.nodeInfos().map((n) => n.pubkey));

      expect(payment).toBeDefined();
      const result = await within(payment!, 'the payment to succeed');
      expectSucceeded(result);
      // The payer paid the invoice AddInvoice made: its preimage hashes to the hash the client was given.
      expect(sha256Hex(result.preimage)).toBe(client.lines.find((l) => l.event === 'invoice')?.['hash']);

      lnmux.kill('SIGTERM');
      expect(await within(lnmuxExited, 'lnmux run to stop')).toBe(0);
    },
  );
});
