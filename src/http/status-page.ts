/**
 * The operator's status page: one server-rendered HTML page, no script, readable in any browser and in
 * a terminal browser: the instance's role and term, the height, every node with its connection and
 * streams (and why it is down), the sets held with their parts and age, the last payments received, the
 * settle latency over the last minutes as a small SVG chart, and the HTLCs failed since the start by
 * reason. It refreshes itself every 5 s. Pure: status in, HTML out.
 */
import type { RecentSettle } from '../mux/metrics.js';
import type { MuxStatus } from '../mux/status.js';
import { readinessOf } from '../mux/status.js';

export interface StatusPageInput {
  /** Undefined while lnmux starts (waiting for its database). */
  readonly status: MuxStatus | undefined;
  /** HTLCs failed since the start, by reason. */
  readonly failures: ReadonlyMap<string, number>;
  /** The last payments received, oldest first. */
  readonly recent: readonly RecentSettle[];
  /** lnmux's version. */
  readonly version: string;
  /** Now, unix ms (the sets' ages). */
  readonly nowMs: number;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}h1{font-size:1.4rem}
h2{font-size:1.1rem;margin-top:1.5rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#f3f3f3}.ok{color:#176b1d;font-weight:600}.bad{color:#a31515;font-weight:600}code{font-size:.85rem}`;

export function renderStatusPage(input: StatusPageInput): string {
  const { status } = input;
  const body: string[] = [`<h1>lnmux ${escapeHtml(input.version)}</h1>`];
  if (status === undefined) {
    body.push('<p id="role" class="bad">starting: waiting for the database</p>');
  } else {
    const readiness = readinessOf(status);
    body.push(
      '<table id="summary">',
      row('role', `<span id="role" class="${status.role === 'active' ? 'ok' : ''}">${status.role}</span>`),
      row('epoch', status.epoch !== undefined ? String(status.epoch) : '-'),
      row('leadership session', status.role === 'active' ? (status.leadershipHeld ? 'held' : '<span class="bad">lost: commits wait</span>') : '-'),
      row('height', String(status.height)),
      row('ready', readiness.ready ? '<span id="ready" class="ok">yes</span>' : `<span id="ready" class="bad">no</span>: ${readiness.reasons.map(escapeHtml).join('; ')}`),
      row('held HTLCs', String(status.heldHtlcs)),
      '</table>',
      '<h2>Nodes</h2>',
      '<table id="nodes"><tr><th>node</th><th>state</th><th>interceptor</th><th>blocks</th><th>htlc events</th><th>height</th><th>detail</th></tr>',
      ...status.nodes.map(
        (n) =>
          `<tr><td><code>${escapeHtml(n.pubkey)}</code></td><td class="${n.state === 'ready' ? 'ok' : 'bad'}">${n.state}</td>` +
          `<td>${n.streams.interceptor}</td><td>${n.streams.blocks}</td><td>${n.streams.htlcEvents}</td>` +
          `<td>${n.height ?? '-'}</td><td>${escapeHtml(n.detail ?? '')}</td></tr>`,
      ),
      '</table>',
      `<h2>Held sets (${status.sets.length})</h2>`,
    );
    if (status.sets.length === 0) body.push('<p id="sets">none</p>');
    else {
      body.push(
        '<table id="sets"><tr><th>payment hash</th><th>phase</th><th>parts</th><th>held, msat</th><th>age, s</th></tr>',
        ...status.sets.map(
          (s) =>
            `<tr><td><code>${escapeHtml(s.paymentHash)}</code></td><td>${s.phase}</td><td>${s.parts}</td>` +
            `<td>${s.heldMsat}</td><td>${Math.max(0, Math.round((input.nowMs - s.firstArrivedAtMs) / 1000))}</td></tr>`,
        ),
        '</table>',
      );
    }
  }
  body.push(...recentPayments(input.recent, input.nowMs));
  body.push('<h2>Failures since start, by reason</h2>');
  if (input.failures.size === 0) body.push('<p id="failures">none</p>');
  else {
    body.push(
      '<table id="failures"><tr><th>reason</th><th>HTLCs</th></tr>',
      ...[...input.failures].sort((a, b) => b[1] - a[1]).map(([reason, count]) => `<tr><td>${escapeHtml(reason)}</td><td>${count}</td></tr>`),
      '</table>',
    );
  }
  body.push('<p><a href="/metrics">metrics</a> · <a href="/readyz">readyz</a> · <a href="/healthz">healthz</a></p>');
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">' +
    `<title>lnmux status</title><style>${STYLE}</style></head><body>${body.join('\n')}</body></html>\n`
  );
}

/** The chart's window: the settle latency of the payments received in the last minutes. */
const CHART_WINDOW_MS = 10 * 60_000;
const CHART_WIDTH = 600;
const CHART_HEIGHT = 120;

/** The last payments received (newest first, ten of them) and their settle latency over the last 10 minutes. */
function recentPayments(recent: readonly RecentSettle[], nowMs: number): string[] {
  const out = ['<h2>Recent payments</h2>'];
  if (recent.length === 0) return [...out, '<p id="recent">none yet</p>'];
  out.push(
    '<table id="recent"><tr><th>received, s ago</th><th>payment hash</th><th>amount, msat</th><th>settle latency, ms</th></tr>',
    ...recent
      .slice(-10)
      .reverse()
      .map(
        (p) =>
          `<tr><td>${Math.max(0, Math.round((nowMs - p.atMs) / 1000))}</td><td><code>${escapeHtml(p.paymentHash)}</code></td>` +
          `<td>${p.amountMsat}</td><td>${(p.seconds * 1000).toFixed(1)}</td></tr>`,
      ),
    '</table>',
  );
  const window = recent.filter((p) => p.atMs >= nowMs - CHART_WINDOW_MS);
  const maxMs = Math.max(1, ...window.map((p) => p.seconds * 1000));
  const dots = window.map((p) => {
    const x = ((p.atMs - (nowMs - CHART_WINDOW_MS)) / CHART_WINDOW_MS) * CHART_WIDTH;
    const y = CHART_HEIGHT - ((p.seconds * 1000) / maxMs) * (CHART_HEIGHT - 10);
    return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="#1f5fa8"/>`;
  });
  out.push(
    `<h2>Settle latency, last 10 minutes (max ${maxMs.toFixed(1)} ms)</h2>`,
    `<svg id="latency" role="img" aria-label="settle latency of ${window.length} payments" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" ` +
      `viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" style="border:1px solid #ccc;background:#fafafa">${dots.join('')}</svg>`,
  );
  return out;
}

function row(name: string, html: string): string {
  return `<tr><th>${name}</th><td>${html}</td></tr>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
