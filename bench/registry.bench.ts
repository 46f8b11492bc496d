/**
 * The registry's cost per payment while it holds many HTLCs of incomplete sets: what the settlement
 * engine does for a 1-part payment (step htlcArrived, settleCommitted, htlcFinal, and after each step
 * nextDeadline() to arm its one timer), with H parts of other payments waiting (MPP timeout one hour).
 * Pure CPU, one process. Baseline: the same with nothing held (H = 0), in the same run.
 *
 * Before/after: set BENCH_REGISTRY_BEFORE to the path of another registry.ts (e.g. a `git archive` of an
 * older commit's src/ with node_modules linked); both are measured in this run, rounds alternating.
 *
 * Run: `npm run bench -- registry`. Figures go to docs/benchmarks.md, `## End to end`.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Registry as RegistryClass } from '../src/registry/registry.js';
import type { ArrivedHtlc, RegistryConfig } from '../src/registry/types.js';
import { machine, median } from './lib/measure.js';

type RegistryCtor = new (config: RegistryConfig) => RegistryClass;

const HELD = (process.env['BENCH_HELD'] ?? '0,1000,10000,50000').split(',').map(Number);
const PAYMENTS = Number(process.env['BENCH_PAYMENTS'] ?? 500);
const ROUNDS = 7;
const CONFIG: RegistryConfig = { mode: 'auto', mppTimeoutMs: 3_600_000, holdTimeoutMs: 600_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 };
const NODE = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : i));

let nextHtlcId = 0n;
function arrived(amountMsat: bigint, totalMsat: bigint): ArrivedHtlc {
  return {
    key: { nodePubkey: NODE, chanId: 1n, htlcId: nextHtlcId++ },
    paymentHash: randomBytes(32),
    preimage: randomBytes(32),
    amountMsat,
    expiry: 2_000,
    autoFailHeight: 2_021,
    totalMsat,
    invoiceAmountMsat: totalMsat,
    invoiceExpiresAt: 4_000_000_000,
    minFinalCltvExpiryDelta: 40,
    sharedSecret: randomBytes(32),
  };
}

/** A registry holding `held` parts of incomplete sets. */
function loaded(Registry: RegistryCtor, held: number, now: number): RegistryClass {
  const r = new Registry(CONFIG);
  r.step({ kind: 'blockConnected', height: 1_000 }, now);
  for (let i = 0; i < held; i++) {
    r.step({ kind: 'htlcArrived', htlc: arrived(50n, 100n), invoice: { kind: 'open' } }, now);
    r.nextDeadline();
  }
  return r;
}

/** One round: PAYMENTS 1-part payments through `r`, as the engine drives it; us per payment. */
function round(r: RegistryClass, payments: readonly ArrivedHtlc[], now: number): number {
  const start = process.hrtime.bigint();
  for (const htlc of payments) {
    const decisions = r.step({ kind: 'htlcArrived', htlc, invoice: { kind: 'open' } }, now);
    r.nextDeadline();
    const commit = decisions.find((d) => d.kind === 'commitSettle');
    if (commit?.kind !== 'commitSettle') throw new Error('expected a commit');
    r.step({ kind: 'settleCommitted', paymentHash: htlc.paymentHash, setId: commit.setId }, now);
    r.nextDeadline();
    r.step({ kind: 'htlcFinal', key: htlc.key, settled: true }, now);
    r.nextDeadline();
  }
  return Number(process.hrtime.bigint() - start) / 1_000 / payments.length;
}

async function main(): Promise<void> {
  const versions: { name: string; Registry: RegistryCtor }[] = [];
  const before = process.env['BENCH_REGISTRY_BEFORE'];
  if (before !== undefined) {
    versions.push({ name: 'before', Registry: ((await import(pathToFileURL(before).href)) as { Registry: RegistryCtor }).Registry });
  }
  versions.push({ name: before !== undefined ? 'after (this tree)' : 'this tree', Registry: ((await import('../src/registry/registry.js')) as { Registry: RegistryCtor }).Registry });

  const rows: { version: string; held: number; us: number }[] = [];
  for (const held of HELD) {
    const now = Date.now();
    const registries = versions.map((v) => ({ v, r: loaded(v.Registry, held, now) }));
    const samples = new Map(versions.map((v) => [v.name, [] as number[]]));
    for (let k = 0; k <= ROUNDS; k++) {
      for (const { v, r } of registries) {
        const us = round(r, Array.from({ length: PAYMENTS }, () => arrived(100n, 100n)), now);
        if (k > 0) samples.get(v.name)!.push(us); // round 0 warms up
      }
    }
    for (const v of versions) rows.push({ version: v.name, held, us: median(samples.get(v.name)!) });
  }

  console.log(`\n${machine()}; ${PAYMENTS} payments per round, median of ${ROUNDS} rounds\n`);
  console.log(`| registry | HTLCs held | us per 1-part payment (3 steps + 3 nextDeadline) | x same registry, nothing held |${before !== undefined ? ' x before, same H |' : ''}`);
  console.log(`|---|---:|---:|---:|${before !== undefined ? '---:|' : ''}`);
  for (const row of rows) {
    const base = rows.find((r) => r.version === row.version && r.held === HELD[0])!;
    const old = rows.find((r) => r.version === 'before' && r.held === row.held);
    console.log(
      `| ${row.version} | ${row.held.toLocaleString('en-US')} | ${row.us.toFixed(1)} | ${(row.us / base.us).toFixed(2)} |${before !== undefined ? ` ${old ? (row.us / old.us).toFixed(3) : '-'} |` : ''}`,
    );
  }
}

await main();
