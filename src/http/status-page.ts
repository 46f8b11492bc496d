/**
 * The operator's status page: one server-rendered HTML page, no script, readable in any browser and in
 * a terminal browser: the instance's role and term, the height, every node with its connection and
 * streams (and why it is down), the sets held with their parts and age, and the HTLCs failed since the
 * start by reason. It refreshes itself every 5 s. Pure: status in, HTML out.
 */
import type { MuxStatus } from '../mux/status.js';
import { readinessOf } from '../mux/status.js';

export interface StatusPageInput {
  /** Undefined while lnmux starts (waiting for its database). */
  readonly status: MuxStatus | undefined;
  /** HTLCs failed since the start, by reason. */
  readonly failures: ReadonlyMap<string, number>;
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

function row(name: string, html: string): string {
  return `<tr><th>${name}</th><td>${html}</td></tr>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
