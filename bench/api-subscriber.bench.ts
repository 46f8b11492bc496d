/**
 * Does a SubscribeInvoices subscriber that never reads slow the HTLC path? (issue 13's acceptance.)
 *
 * One process: the simulated cluster (3 nodes), a Mux in auto-settle mode on a fresh PostgreSQL database
 * (LNMUX_BENCH_DATABASE_URL, default the local one), and the API server in front of it (plaintext on
 * loopback: the macaroon check is not what is measured). Each round pays PAYMENTS invoices made
 * beforehand, IN_FLIGHT at once, timing each payment from `pay` to its settle (the payer's HTLC
 * settled: the whole HTLC path, interception to SETTLE), while a second loop makes invoice changes
 * through the API (AddInvoice then CancelInvoice), so that at least 1,000 invoice changes happen in
 * the round (the payments' own settle-committed and settled events count too; the figure printed is
 * counted from the stream's indexes: events, not just index gaps). Rounds alternate (ABBA order): baseline (no subscriber), and with one
 * subscriber from index 0 that never reads (raw HTTP/2 with a window of 0: see stalledSubscriber; the
 * counts of the server's page reads and sequencer passes show it stalled); a fresh subscriber each round. Per kind, the median over ROUNDS rounds of each round's p50 and p99.
 *
 * Run: `npm run bench -- api-subscriber`. Figures go to docs/benchmarks.md, "The API".
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:http2';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { startApiServer } from '../src/api/index.js';
import { LnmuxClient } from '../src/client/index.js';
import { parseConfig, type MuxConfigInput } from '../src/mux/config.js';
import { Mux } from '../src/mux/mux.js';
import { startCluster, type SimCluster } from '../src/sim/cluster.js';
import { openStore } from '../src/store/open.js';
import { machine, median, percentile } from './lib/measure.js';

const PAYMENTS = Number(process.env['BENCH_PAYMENTS'] ?? 300);
const IN_FLIGHT = 10;
const CHURN = Number(process.env['BENCH_CHURN'] ?? 400);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
/** never (default): a subscriber that never reads; reading: one that reads everything, in its own process. */
const SUBSCRIBER = process.env['BENCH_SUBSCRIBER'] === 'reading' ? 'reading' : 'never';
const BASE_URL = process.env['LNMUX_BENCH_DATABASE_URL'] ?? process.env['LNMUX_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Round {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly changes: bigint;
  readonly seconds: number;
  /** Calls made on the Mux's stream during the round (by the API server: the bench calls them between rounds only): pages of events read, sequencer passes. */
  readonly pages: number;
  readonly passes: number;
}

/** The API server's reads of the stream, counted (it calls these on the Mux). */
const streamCalls = { pages: 0, passes: 0 };

/** The highest index of the stream, paging from `from` (the server's subscribers may have sequenced the events already). */
async function lastIndex(mux: Mux, from: bigint): Promise<bigint> {
  let last = from;
  for (;;) {
    const page = await mux.listInvoiceEvents(last, 1000);
    if (page.length === 0) return last;
    last = page.at(-1)!.index;
  }
}

/**
 * A SubscribeInvoices call from index 0 whose client never reads: raw HTTP/2 with a stream window of 0
 * bytes, so the server can send no event at all (a paused grpc-js stream would not do: the transport
 * under it keeps accepting events, and the server keeps reading them for it). The request is the empty
 * SubscribeInvoicesRequest (from_index 0) in its 5-byte gRPC frame.
 */
function stalledSubscriber(address: string): { close: () => void } {
  const session = connect(`http://${address}`, { settings: { initialWindowSize: 0 } });
  const stream = session.request({ ':method': 'POST', ':path': '/lnmux.v1.Lnmux/SubscribeInvoices', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => undefined);
  session.on('error', () => undefined);
  stream.end(Buffer.alloc(5));
  stream.pause();
  return { close: () => session.destroy() };
}

/** bench/lib/reading-subscriber.ts in a child process, once it is past the history. */
async function readingSubscriber(address: string, history: bigint): Promise<{ close: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./lib/reading-subscriber.ts', import.meta.url).pathname, address, String(history)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`reading subscriber exited with ${code}`)));
  });
  return { close: () => child.kill() };
}

async function round(cluster: SimCluster, mux: Mux, client: LnmuxClient, address: string, subscriber: boolean): Promise<Round> {
  const invoices: { paymentRequest: string }[] = [];
  for (let i = 0; i < PAYMENTS; i++) invoices.push(await mux.createInvoice({ amountMsat: 10_000n, description: `bench ${i}` }));
  await mux.sequenceInvoiceEvents();
  const before = await lastIndex(mux, 0n);
  const subscription = subscriber ? (SUBSCRIBER === 'reading' ? await readingSubscriber(address, before) : stalledSubscriber(address)) : undefined;
  const latencies: number[] = [];
  const calls0 = { ...streamCalls };
  const start = performance.now();
  let next = 0;
  const paying = Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < invoices.length) {
        const invoice = invoices[next++]!;
        const t0 = performance.now();
        const result = await cluster.payer.pay(invoice.paymentRequest);
        latencies.push(performance.now() - t0);
        if (result.status !== 'succeeded') throw new Error(`payment failed: ${JSON.stringify(result)}`);
      }
    }),
  );
  const churning = (async () => {
    for (let i = 0; i < CHURN; i++) {
      const added = await client.addInvoice({ amountMsat: 1_000n, description: `churn ${i}`, paymentHash: randomBytes(32) });
      await client.cancelInvoice(added.paymentHash);
    }
  })();
  await Promise.all([paying, churning]);
  const seconds = (performance.now() - start) / 1000;
  const pages = streamCalls.pages - calls0.pages;
  const passes = streamCalls.passes - calls0.passes;
  // Every settled event written (they follow the settles) before the count.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await mux.sequenceInvoiceEvents();
  const after = await lastIndex(mux, before);
  subscription?.close();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies), changes: after - before, seconds, pages, passes };
}

async function main(): Promise<void> {
  const load = [loadavg()[0]!];
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const name = `lnmux_api_subscriber_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const store = await openStore({ databaseUrl: url.toString(), migrate: true });
  const cluster = await startCluster({ nodes: 3 });
  const input: MuxConfigInput = {
    network: 'regtest',
    identityKey: randomBytes(32).toString('hex'),
    nodes: cluster.nodeInfos().map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
    settlement: { mode: 'auto' },
    api: { listen: '127.0.0.1:0', insecurePlaintext: true },
    logging: { level: 'error' },
  };
  const config = parseConfig(input);
  const mux = await Mux.open(config, { store, logger: pino({ level: 'silent' }) });
  const listPage = mux.listInvoiceEvents.bind(mux);
  const sequence = mux.sequenceInvoiceEvents.bind(mux);
  mux.listInvoiceEvents = (after: bigint, limit: number) => (streamCalls.pages++, listPage(after, limit));
  mux.sequenceInvoiceEvents = () => (streamCalls.passes++, sequence());
  const server = await startApiServer({ api: config.api!, config, mux, log: pino({ level: 'silent' }) });
  await mux.start();
  while (!cluster.nodes.every((n) => n.interceptorConnected)) await new Promise((r) => setTimeout(r, 50));
  const client = await LnmuxClient.connect({ address: server.address, insecurePlaintext: true });
  try {
    await round(cluster, mux, client, server.address, false); // warm-up
    const rounds: Record<'baseline' | 'subscriber', Round[]> = { baseline: [], subscriber: [] };
    for (let r = 0; r < ROUNDS; r++) {
      // ABBA: the database grows every round (the invoices, their events), so neither kind always goes first.
      for (const kind of r % 2 === 0 ? (['baseline', 'subscriber'] as const) : (['subscriber', 'baseline'] as const)) {
        const figures = await round(cluster, mux, client, server.address, kind === 'subscriber');
        rounds[kind].push(figures);
        console.log(`${kind} round ${r + 1}: p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms, ${figures.changes} invoice changes in ${figures.seconds.toFixed(1)} s; the server read ${figures.pages} pages of events and ran ${figures.passes} sequencer passes`);
      }
    }
    load.push(loadavg()[0]!);
    console.log(`\n${machine()}; load average ${load.map((l) => l.toFixed(1)).join(' -> ')}; ${PAYMENTS} payments per round (${IN_FLIGHT} in flight) and ${CHURN} invoices added and cancelled through the API; median of ${ROUNDS} rounds\n`);
    console.log('| rounds | settle p50, ms | settle p99, ms | max, ms | invoice changes per round | x baseline p99 |');
    console.log('|---|---:|---:|---:|---:|---:|');
    const baseP99 = median(rounds.baseline.map((f) => f.p99));
    for (const kind of ['baseline', 'subscriber'] as const) {
      const m = (pick: (f: Round) => number) => median(rounds[kind].map(pick));
      const label = kind === 'baseline' ? 'no subscriber (baseline)' : SUBSCRIBER === 'reading' ? 'one SubscribeInvoices subscriber reading everything (another process)' : 'one SubscribeInvoices subscriber that never reads';
      console.log(`| ${label} | ${m((f) => f.p50).toFixed(1)} | ${m((f) => f.p99).toFixed(1)} | ${m((f) => f.max).toFixed(1)} | ${m((f) => Number(f.changes)).toFixed(0)} | ${(m((f) => f.p99) / baseP99).toFixed(2)} |`);
    }
  } finally {
    client.close();
    await server.stop();
    await mux.stop();
    await cluster.stop();
    await store.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
