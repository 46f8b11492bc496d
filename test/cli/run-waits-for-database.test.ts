/**
 * `lnmux run` started while its PostgreSQL cannot be reached: it says so once, keeps trying, and starts
 * once the database answers (a TCP proxy in front of the test server plays the outage). Its one node is
 * unreachable (nothing listens), with readable certificate and macaroon files: not a reason to refuse
 * the start (run-refuses-misconfigured-node.test.ts has the ones that are). Its HTTP listener answers
 * from the start: /healthz 200, /readyz 503 while it waits, then 503 naming the unreachable node.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { NODE_A, writeUnreachableNodeConfig } from './support.js';
import { ensureTlsCertificate } from '../../src/sim/tls-cert.js';
import { migrateUp } from '../../src/store/index.js';
import { waitUntil } from '../support/wait.js';
import { createTestDatabase, describeOnPostgres } from '../store/helpers.js';
import { startProxy, type Proxy } from '../store/proxy.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const TSX = import.meta.resolve('tsx');

describeOnPostgres('lnmux run while the database is down', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('waits for the database, saying so once, then starts', { timeout: 90_000 }, async () => {
    const database = await createTestDatabase();
    cleanup.push(database.drop);
    await migrateUp({ databaseUrl: database.url, onWarning: () => {} });
    const upstream = new URL(database.url);
    const proxy: Proxy = await startProxy(upstream.hostname, Number(upstream.port || 5432));
    cleanup.push(() => proxy.close());
    proxy.mode = 'down';
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);

    const dir = mkdtempSync(join(tmpdir(), 'lnmux-run-'));
    const tls = await ensureTlsCertificate(dir);
    writeFileSync(join(dir, 'admin.macaroon'), Buffer.from('0201036c6e64', 'hex'));
    writeUnreachableNodeConfig(dir, { tlsCertPath: tls.certPath, macaroonPath: 'admin.macaroon' }, `dsn: "${viaProxy.href}"\nconnectTimeoutSeconds: 1`, 'logging:\n  level: info\n');
    const child = spawn(process.execPath, ['--import', TSX, BIN, '-c', 'multiplexer.yml', 'run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });

    const waiting = (): number => output.split('\n').filter((line) => line.includes('Database unreachable; waiting for it')).length;
    await waitUntil(() => waiting() > 0, { what: 'lnmux run to say it waits for the database', timeoutMs: 60_000 });
    expect(child.exitCode).toBe(null);
    // Its HTTP listener is up from the start: alive, not ready while the database is awaited.
    const listening = /"address":"([^"]+)","paths"/.exec(output);
    expect(listening).not.toBeNull();
    const http = `http://${listening![1]}`;
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    const starting = await fetch(`${http}/readyz`);
    expect({ status: starting.status, text: await starting.text() }).toEqual({ status: 503, text: 'not ready: starting (waiting for the database)\n' });
    // Let it retry a few times (one a second) before the database comes back.
    const triedBefore = proxy.refused;
    await waitUntil(() => proxy.refused >= triedBefore + 3, { what: 'lnmux run to try the database three more times', timeoutMs: 30_000, observed: () => proxy.refused - triedBefore });
    proxy.mode = 'up';
    // Logs (stdout) and the banner (stderr) come through two pipes: wait for both.
    await waitUntil(() => output.includes('lnmux running') && output.includes('Database reachable; starting'), { what: 'lnmux run to start once the database answers', timeoutMs: 30_000 });
    expect(waiting()).toBe(1);
    expect(output).toContain('Node unreachable at start; starting anyway and retrying it');
    // Started, its one node unreachable: alive, not ready, the node named; the metrics are served.
    const readyz = await fetch(`${http}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toContain(`node ${NODE_A}`);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toContain(`lnmux_node_state{node="${NODE_A}",state="ready"} 0`);
    expect(metrics).toMatch(/lnmux_role\{role="(active|standby)"\} 1/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
