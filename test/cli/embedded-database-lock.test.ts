/**
 * The embedded database is one process's: `lnmux addinvoice` in another shell while `lnmux run` has the
 * data directory open is refused, naming the directory and run's pid, instead of writing an invoice the
 * daemon never sees; once run stops, addinvoice works.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTlsCertificate } from '../../src/sim/tls-cert.js';
import { waitUntil } from '../support/wait.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const TSX = import.meta.resolve('tsx');
const NODE_A = '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8';

function lnmux(args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, BIN, '-c', 'multiplexer.yml', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the embedded database with lnmux run', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('refuses addinvoice from another process while run holds the data directory, naming it and run’s pid', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lnmux-lock-cli-'));
    const tls = await ensureTlsCertificate(dir);
    writeFileSync(join(dir, 'admin.macaroon'), Buffer.from('0201036c6e64', 'hex'));
    // One node, unreachable (nothing listens): run starts and keeps retrying it.
    writeFileSync(
      join(dir, 'multiplexer.yml'),
      `network: regtest
identityKey: "${'42'.repeat(32)}"
metrics:
  listen: 127.0.0.1:0
nodes:
  - pubkey: "${NODE_A}"
    address: 127.0.0.1:1
    tlsCertPath: ${tls.certPath}
    macaroonPath: admin.macaroon
database:
  dataDir: data
`,
    );
    const migrated = await lnmux(['migrate', 'up'], dir);
    expect(migrated.code, migrated.stderr).toBe(0);

    const run = spawn(process.execPath, ['--import', TSX, BIN, '-c', 'multiplexer.yml', 'run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    run.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    run.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (run.exitCode === null) run.kill('SIGKILL');
      await exited;
    });
    await waitUntil(() => output.includes('lnmux running'), { what: 'lnmux run to start', timeoutMs: 60_000 });

    const refused = await lnmux(['addinvoice', '--amt', '5', '--desc', 'x'], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`lnmux: the embedded database ${join(dir, 'data')} is in use by process ${run.pid} on `);
    expect(refused.stdout).toBe('');

    run.kill('SIGTERM');
    expect(await exited).toBe(0);
    const created = await lnmux(['addinvoice', '--amt', '5', '--desc', 'x'], dir);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('lnbcrt');
  });
});
