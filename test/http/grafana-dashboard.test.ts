/**
 * docs/grafana/lnmux.json cannot rot: every metric its queries name is one the Mux and the API register
 * (a histogram's _bucket/_count/_sum series count as the histogram), and every label a query groups
 * by or matches on is one of that metric's labels.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { apiMetricsInterceptor } from '../../src/api/metrics.js';
import { MuxMetrics } from '../../src/mux/metrics.js';

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/grafana/lnmux.json'), 'utf8')) as { panels: Panel[] };

/** Every metric the library and the API register, with its label names. */
function registered(): Map<string, Set<string>> {
  const registry = new Registry();
  new MuxMetrics(registry, () => ({ role: 'standby', leadershipHeld: false, height: 0, heldHtlcs: 0, sets: [], nodes: [] }));
  apiMetricsInterceptor(registry);
  const metrics = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const labels = new Set<string>((metric as unknown as { labelNames: string[] }).labelNames);
    if ((metric as unknown as { type?: string }).type === 'histogram' || metric.constructor.name === 'Histogram') labels.add('le');
    metrics.set((metric as unknown as { name: string }).name, labels);
  }
  return metrics;
}

const PROMQL_WORDS = new Set(['by', 'without', 'le']);

describe('the Grafana dashboard (docs/grafana/lnmux.json)', () => {
  const metrics = registered();
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('has the panels the operators need', () => {
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const t of ['Settle latency', 'HTLCs by outcome', 'Held HTLCs', 'Node state', 'Role', 'Leadership epoch', 'Database errors']) expect(titles).toContain(t);
    expect(exprs.length).toBeGreaterThan(10);
  });

  it('queries only metrics the registry has, with their labels', () => {
    for (const { panel, expr } of exprs) {
      const names = [...expr.matchAll(/\blnmux_[a-z_]+/g)].map((m) => m[0]);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const series of names) {
        const name = metrics.has(series) ? series : series.replace(/_(bucket|count|sum)$/, '');
        expect(metrics.has(name), `${panel}: ${series} is not registered`).toBe(true);
        const labels = metrics.get(name)!;
        const used = [
          ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
          ...[...expr.matchAll(new RegExp(`${series}\\{([^}]*)\\}`, 'g'))].flatMap((m) => [...m[1]!.matchAll(/(\w+)=/g)].map((l) => l[1]!)),
        ];
        for (const label of used) {
          if (label === 'instance' || (PROMQL_WORDS.has(label) && label !== 'le')) continue;
          if (label === 'le' && !labels.has('le')) continue; // histogram_quantile over another series of the expression
          const owner = names.some((n) => metrics.get(metrics.has(n) ? n : n.replace(/_(bucket|count|sum)$/, ''))?.has(label));
          expect(owner, `${panel}: label ${label} belongs to none of ${names.join(', ')}`).toBe(true);
        }
      }
    }
  });
});
