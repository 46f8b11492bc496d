/**
 * Benchmark helpers: run an operation in timed rounds and report the median, so that one noisy round
 * (GC, the other core busy) does not decide a figure. Figures go to docs/benchmarks.md by hand, with
 * the date and the machine; benchmarks are never timed assertions in tests.
 */
import { cpus } from 'node:os';

export interface Measurement {
  readonly name: string;
  /** Median operations per second over the rounds. */
  readonly opsPerSecond: number;
  /** Median microseconds per operation over the rounds. */
  readonly microsPerOp: number;
  readonly rounds: number;
  readonly opsPerRound: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Times `op` synchronously: a warm-up round, then `rounds` rounds of `opsPerRound` calls each.
 * Returns the median throughput.
 */
export function measureSync(name: string, op: () => unknown, opsPerRound = 2_000, rounds = 7): Measurement {
  for (let i = 0; i < opsPerRound; i++) op();
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) op();
    perRound.push(Number(process.hrtime.bigint() - start) / 1_000 / opsPerRound);
  }
  const microsPerOp = median(perRound);
  return { name, opsPerSecond: 1_000_000 / microsPerOp, microsPerOp, rounds, opsPerRound };
}

/** Like measureSync for an async operation, awaited one at a time. */
export async function measureAsync(
  name: string,
  op: () => Promise<unknown>,
  opsPerRound = 500,
  rounds = 7,
): Promise<Measurement> {
  for (let i = 0; i < opsPerRound; i++) await op();
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) await op();
    perRound.push(Number(process.hrtime.bigint() - start) / 1_000 / opsPerRound);
  }
  const microsPerOp = median(perRound);
  return { name, opsPerSecond: 1_000_000 / microsPerOp, microsPerOp, rounds, opsPerRound };
}

/** The machine line printed above every benchmark table. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} x ${cpu}`;
}

/** Prints measurements as a Markdown table, with each row's ratio to `baseline` when given. */
export function printTable(rows: readonly Measurement[], baseline?: Measurement): void {
  console.log(`\n${machine()}\n`);
  console.log(`| operation | ops/s (median) | us/op | ${baseline ? `x ${baseline.name} |` : ''}`);
  console.log(`|---|---:|---:|${baseline ? '---:|' : ''}`);
  for (const m of rows) {
    const ratio = baseline ? ` ${(m.microsPerOp / baseline.microsPerOp).toFixed(2)} |` : '';
    console.log(`| ${m.name} | ${Math.round(m.opsPerSecond).toLocaleString('en-US')} | ${m.microsPerOp.toFixed(1)} |${ratio}`);
  }
}
