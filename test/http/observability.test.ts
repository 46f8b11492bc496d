/**
 * Watching lnmux run: a Mux with its own prom-client registry in front of a simulated cluster, and the
 * HTTP listener of `lnmux run` (src/http/server.ts) on it, while payments flow. /metrics counts what
 * happened (a settled payment, a failed one), the gauges tell role, epoch, height and node states;
 * /healthz and /readyz answer as Kubernetes expects (not ready while a node is down); the status page
 * shows the same facts. A second Mux in the same process, with a registry of its own, counts apart (the
 * registry is injected, no global). Then the page in headless Chromium, when
 * installed (Debian's `chromium`, which .ci/run installs), with a screenshot in .tmp/test-output/.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/http/index.js';
import { Mux } from '../../src/mux/mux.js';
import { expectSucceeded } from '../e2e/support/checks.js';
import { muxConfig, sharedStore, startMux, stopMux, testLogger } from '../e2e/support/mux.js';
import { useCluster, useStore } from '../e2e/support/setup.js';
import { waitUntil } from '../support/wait.js';

const cluster = useCluster({ nodes: 2 });

/** The value of one sample of the exposition text, or undefined. `selector`: `name{label="v",...}` as printed. */
function sample(text: string, selector: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${selector} `));
  return line === undefined ? undefined : Number(line.slice(selector.length + 1));
}

async function get(server: HttpServer, path: string): Promise<{ status: number; text: string; type: string }> {
  const response = await fetch(`http://${server.address}${path}`);
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') ?? '' };
}

/** Debian's chromium, if installed. */
function chromiumPath(): string | undefined {
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
}

describe('metrics, health and the status page while payments flow', () => {
  const { store } = useStore('pglite');
  const registry = new Registry();
  let mux: Mux;
  let http: HttpServer;

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), {}, { metricsRegistry: registry });
    http = await startHttpServer({ listen: '127.0.0.1:0', registry, source: () => mux, version: '0.0.0-test', log: testLogger() });
  });
  afterAll(async () => {
    await http?.stop();
    await stopMux(cluster(), mux);
  });

  it('counts a settled and a failed payment, with the settle and commit latencies, and tells role, epoch, height and nodes', async () => {
    const paid = await mux.createInvoice({ amountMsat: 20_000_000n, description: 'metrics: paid' });
    expectSucceeded(await cluster().payer.pay(paid.paymentRequest));
    const cancelled = await mux.createInvoice({ amountMsat: 30_000_000n, description: 'metrics: cancelled' });
    await mux.cancelInvoice(cancelled.paymentHash);
    expect((await cluster().payer.pay(cancelled.paymentRequest)).status).not.toBe('succeeded');
    // The settled part stays in the registry until its final state is recorded, which waits up to
    // FINAL_LINGER_MS for company (docs/architecture.md "What waits for the disk"): the payer can see
    // the preimage first.
    await waitUntil(() => mux.heldHtlcCount === 0, { what: 'the settled part to be forgotten once final' });

    const { status, text, type } = await get(http, '/metrics');
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    expect(sample(text, 'lnmux_htlcs_total{outcome="settled",reason="settled"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'lnmux_htlcs_total{outcome="failed",reason="invoiceCancelled"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'lnmux_htlcs_accepted_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'lnmux_settle_latency_seconds_count')).toBe(1);
    expect(sample(text, 'lnmux_settle_commit_seconds_count{outcome="committed"}')).toBe(1);
    expect(sample(text, 'lnmux_settle_latency_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(sample(text, 'lnmux_role{role="active"}')).toBe(1);
    expect(sample(text, 'lnmux_role{role="standby"}')).toBe(0);
    expect(sample(text, 'lnmux_leadership_epoch')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'lnmux_leadership_held')).toBe(1);
    expect(sample(text, 'lnmux_best_height')).toBeGreaterThan(0);
    expect(sample(text, 'lnmux_held_htlcs')).toBe(0);
    for (const node of cluster().nodeInfos()) {
      expect(sample(text, `lnmux_node_state{node="${node.pubkey}",state="ready"}`)).toBe(1);
      expect(sample(text, `lnmux_node_state{node="${node.pubkey}",state="backoff"}`)).toBe(0);
      expect(sample(text, `lnmux_node_stream_up{node="${node.pubkey}",stream="interceptor"}`)).toBe(1);
    }
  });

  it('is alive and ready while active with every node intercepting; not ready, with the node named, while one is down', async () => {
    expect(await get(http, '/healthz')).toMatchObject({ status: 200, text: 'ok\n' });
    expect(await get(http, '/readyz')).toMatchObject({ status: 200, text: 'ready: active\n' });
    const down = cluster().nodeInfos()[1]!.pubkey;
    await cluster().node(1).stop();
    try {
      await waitUntil(async () => (await get(http, '/readyz')).status === 503, { what: '/readyz to say not ready' });
      const readyz = await get(http, '/readyz');
      expect(readyz.text).toContain(`node ${down}`);
      expect((await get(http, '/healthz')).status).toBe(200);
      const metrics = (await get(http, '/metrics')).text;
      expect(sample(metrics, `lnmux_node_stream_up{node="${down}",stream="interceptor"}`)).toBe(0);
      const reconnects = ['session', 'interceptor', 'blocks', 'htlcEvents'].map((stream) => sample(metrics, `lnmux_node_reconnects_total{node="${down}",stream="${stream}"}`) ?? 0);
      expect(reconnects.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(1);
    } finally {
      await cluster().node(1).start();
    }
    await waitUntil(async () => (await get(http, '/readyz')).status === 200, { what: '/readyz to be ready again' });
  });

  it('serves a status page with the role, nodes, height and failures by reason', async () => {
    const page = await get(http, '/status');
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.text).toContain('<span id="role" class="ok">active</span>');
    for (const node of cluster().nodeInfos()) expect(page.text).toContain(node.pubkey);
    expect(page.text).toMatch(/<tr><td>invoiceCancelled<\/td><td>\d+<\/td><\/tr>/);
    // The payments settled in this file: listed, and charted with their settle latency.
    expect(page.text).toMatch(/<table id="recent">.*<td>\d+\.\d<\/td><\/tr>/s);
    expect(page.text).toMatch(/aria-label="settle latency of [1-9]\d* payments"/);
    expect((await get(http, '/')).text).toContain('<title>lnmux status</title>');
    expect((await get(http, '/nothing')).status).toBe(404);
  });

  it('keeps the counters of two Mux instances of one process apart: each has its own registry', async () => {
    // Opened, not started: on one PGlite store both would hold the leadership (one session); the
    // standby's role and readiness are covered by test/http/status.test.ts.
    const otherRegistry = new Registry();
    const other = await Mux.open(muxConfig(cluster()), { logger: testLogger('other'), store: sharedStore(store()), metricsRegistry: otherRegistry });
    try {
      const text = await otherRegistry.metrics();
      expect(sample(text, 'lnmux_role{role="standby"}')).toBe(1);
      expect(sample(text, 'lnmux_htlcs_accepted_total')).toBe(0);
      expect(sample(await registry.metrics(), 'lnmux_role{role="active"}')).toBe(1);
      expect(sample(await registry.metrics(), 'lnmux_htlcs_accepted_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await other.stop();
    }
  });

  it.skipIf(chromiumPath() === undefined)('renders in headless Chromium and saves a screenshot (skipped without Debian\'s chromium)', async () => {
    const chromium = chromiumPath()!;
    const out = join(process.cwd(), '.tmp', 'test-output');
    mkdirSync(out, { recursive: true });
    const screenshot = join(out, 'status-page.png');
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${join(out, 'chromium-profile')}`];
    const run = promisify(execFile);
    const dom = await run(chromium, [...flags, '--dump-dom', `http://${http.address}/status`], { timeout: 60_000 });
    expect(dom.stdout).toContain('lnmux 0.0.0-test');
    expect(dom.stdout).toMatch(/<span id="role" class="ok">active<\/span>/);
    for (const node of cluster().nodeInfos()) expect(dom.stdout).toContain(node.pubkey);
    await run(chromium, [...flags, '--window-size=1280,900', `--screenshot=${screenshot}`, `http://${http.address}/status`], { timeout: 60_000 });
    expect(existsSync(screenshot)).toBe(true);
  }, 120_000);
});
if (chromiumPath() === undefined) console.warn('status page: Debian\'s chromium is not installed: the headless Chromium test is skipped (.ci/run installs it)');
