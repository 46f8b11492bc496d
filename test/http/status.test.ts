/**
 * Readiness (what /readyz answers) and the status page, from a MuxStatus: an active instance is ready
 * with every node intercepting, a standby with every node ready; anything else names what is missing.
 * The page escapes what it shows and says when lnmux is still starting.
 */
import { describe, expect, it } from 'vitest';
import { renderStatusPage } from '../../src/http/status-page.js';
import { readinessOf, type MuxStatus, type NodeStatus } from '../../src/mux/status.js';

const A = `02${'aa'.repeat(32)}`;
const B = `03${'bb'.repeat(32)}`;

function node(pubkey: string, state: NodeStatus['state'], interceptor: NodeStatus['streams']['interceptor'], detail?: string): NodeStatus {
  return { pubkey, state, streams: { interceptor, blocks: 'open', htlcEvents: 'open' }, height: 800_000, ...(detail !== undefined ? { detail } : {}) };
}

function status(overrides: Partial<MuxStatus>): MuxStatus {
  return { role: 'active', epoch: 7n, leadershipHeld: true, height: 800_000, heldHtlcs: 0, sets: [], nodes: [], ...overrides };
}

describe('readinessOf', () => {
  it('is ready when active with every node ready and intercepting', () => {
    expect(readinessOf(status({ nodes: [node(A, 'ready', 'open'), node(B, 'ready', 'open')] }))).toEqual({ ready: true, reasons: [] });
  });

  it('is not ready when active and a node does not intercept, or is down, and says which', () => {
    const r = readinessOf(status({ nodes: [node(A, 'ready', 'backoff'), node(B, 'backoff', 'closed', 'GetInfo: unavailable')] }));
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([`node ${A}: interceptor stream backoff`, `node ${B} is backoff: GetInfo: unavailable`]);
  });

  it('is not ready when active with its leadership session lost', () => {
    expect(readinessOf(status({ leadershipHeld: false, nodes: [node(A, 'ready', 'open')] })).reasons).toEqual(['leadership session lost: settle commits wait']);
  });

  it('is ready as a standby whose nodes are all ready (its interceptors wait), and not while one is not', () => {
    const standby = { role: 'standby' as const, leadershipHeld: false, epoch: undefined };
    expect(readinessOf(status({ ...standby, nodes: [node(A, 'ready', 'standby'), node(B, 'ready', 'standby')] })).ready).toBe(true);
    expect(readinessOf(status({ ...standby, nodes: [node(A, 'ready', 'standby'), node(B, 'connecting', 'closed')] })).ready).toBe(false);
  });
});

describe('renderStatusPage', () => {
  it('shows role, epoch, height, nodes, held sets with their age and failures by reason, escaped', () => {
    const html = renderStatusPage({
      status: status({
        nodes: [node(A, 'ready', 'open'), node(B, 'refused', 'closed', 'pubkey <mismatch>')],
        heldHtlcs: 2,
        sets: [{ paymentHash: 'ab'.repeat(32), phase: 'accepting', parts: 2, heldMsat: 150_000n, firstArrivedAtMs: 1_000 }],
      }),
      failures: new Map([['mppTimeout', 3], ['invoiceUnknown', 5]]),
      recent: [],
      version: '1.2.3',
      nowMs: 31_000,
    });
    expect(html).toContain('<h1>lnmux 1.2.3</h1>');
    expect(html).toContain('<span id="role" class="ok">active</span>');
    expect(html).toContain('<tr><th>epoch</th><td>7</td></tr>');
    expect(html).toContain('<tr><th>height</th><td>800000</td></tr>');
    expect(html).toContain('pubkey &lt;mismatch&gt;');
    expect(html).not.toContain('<mismatch>');
    expect(html).toContain(`<tr><td><code>${'ab'.repeat(32)}</code></td><td>accepting</td><td>2</td><td>150000</td><td>30</td></tr>`);
    // Most frequent first.
    expect(html.indexOf('invoiceUnknown')).toBeLessThan(html.indexOf('mppTimeout'));
    expect(html).not.toContain('<script');
  });

  it('lists the last payments received, newest first, and charts their settle latency over the last 10 minutes', () => {
    const nowMs = 1_000_000;
    const recent = [
      { atMs: nowMs - 11 * 60_000, paymentHash: '01'.repeat(32), amountMsat: 1_000n, seconds: 0.5 },
      { atMs: nowMs - 60_000, paymentHash: '02'.repeat(32), amountMsat: 2_000n, seconds: 0.004 },
      { atMs: nowMs - 2_000, paymentHash: '03'.repeat(32), amountMsat: 3_000n, seconds: 0.008 },
    ];
    const html = renderStatusPage({ status: undefined, failures: new Map(), recent, version: '1', nowMs });
    expect(html).toContain(`<tr><td>2</td><td><code>${'03'.repeat(32)}</code></td><td>3000</td><td>8.0</td></tr>`);
    expect(html.indexOf('03'.repeat(32))).toBeLessThan(html.indexOf('02'.repeat(32)));
    // The chart: the two payments of the last 10 minutes (the older one is listed, not charted), scaled to the slowest.
    expect(html).toContain('aria-label="settle latency of 2 payments"');
    expect(html).toContain('(max 8.0 ms)');
    expect(html.match(/<circle /g)).toHaveLength(2);
  });

  it('says lnmux is starting before its Mux is open', () => {
    const html = renderStatusPage({ status: undefined, failures: new Map(), recent: [], version: '1', nowMs: 0 });
    expect(html).toContain('starting: waiting for the database');
  });
});
