/**
 * The LND interceptor stream, gateway <-> simulator, over real gRPC + TLS on loopback.
 *
 * 1. Round trips through one interceptor stream: the simulated node gets an HTLC for lnmux's virtual
 *    channel, peels its onion layer, offers it to the gateway, the gateway answers SETTLE, the node
 *    settles it back; timed from `addHtlc` to the node's resolution. One at a time (latency), then 64
 *    in flight (throughput). Baseline: the same HTLC on a node without interceptor, which fails it at
 *    once (unknown next peer): the node's own work, without the stream.
 * 2. Latency a regular forward pays for the interceptor: an HTLC forwarded to a real channel (the
 *    recipient behind the node), the gateway answering RESUME; p50/p99 against the same forward on a
 *    node without interceptor (`--requireinterceptor` off), in the same run.
 *
 * 3. The stream alone: the same round trip against the minimal LND-like server of the tests
 *    (test/lnd/support/fake-lnd.ts: no onion, no channel, no signature), against a bare unary call on
 *    the same connection; and the gateway's own conversion work per HTLC (decode + encode).
 *
 * Run: `npm run bench -- interceptor`. Figures go to docs/benchmarks.md, `## LND interceptor stream`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { bytesToHex } from '../src/protocol/bytes.js';
import { decodeInterceptRequest, encodeInterceptResponse } from '../src/lnd/convert.js';
import { NodeGateway } from '../src/lnd/node-gateway.js';
import { lndServices } from '../src/lnd/protos.js';
import { unary } from '../src/lnd/unary.js';
import { openLndConnection } from '../src/lnd/connection.js';
import { startCluster, type SimCluster } from '../src/sim/cluster.js';
import type { HtlcOffer } from '../src/sim/htlc.js';
import { FakeLnd, keyOf } from '../test/lnd/support/fake-lnd.js';
import { forwardOffer, virtualOffer } from '../test/lnd/support/sim-payments.js';
import { makeTlsFiles } from '../test/lnd/support/tls.js';
import { machine, measureAsync, measureSync, median, percentile, printTable, type Measurement } from './lib/measure.js';

const AMOUNT_MSAT = 10_000n;
const FORWARD_SAMPLES = Number(process.env['BENCH_FORWARD_SAMPLES'] ?? 300);
const FORWARD_ROUNDS = 5;
const PIPELINE = 64;
const PIPELINE_TOTAL = 3_000;

async function offerAndWait(cluster: SimCluster, offer: HtlcOffer): Promise<string> {
  const added = cluster.node(0).addHtlc(cluster.payerChannelId(0), offer);
  if (!added.ok) throw new Error(`HTLC refused: ${added.refusal}`);
  return (await added.resolution).kind;
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A gateway on node 0 that settles what it knows the preimage of and resumes everything else. */
async function startAnsweringGateway(cluster: SimCluster, preimages: Map<string, Uint8Array>): Promise<NodeGateway> {
  const info = cluster.node(0).info;
  const gateway = new NodeGateway({
    address: info.address,
    tlsCert: info.certPath,
    macaroon: info.macaroonPath,
    tlsServerName: 'localhost',
    pubkey: info.pubkey,
    network: 'regtest',
  });
  gateway.start();
  void (async () => {
    for await (const event of gateway.events()) {
      if (event.kind !== 'htlc') continue;
      const { htlc } = event;
      const preimage = htlc.nextHop.kind === 'channel' && htlc.nextHop.chanId === cluster.node(0).virtualScid
        ? preimages.get(bytesToHex(htlc.paymentHash))
        : undefined;
      const sent = await gateway.send(
        preimage ? { kind: 'settle', circuitKey: htlc.circuitKey, preimage } : { kind: 'resume', circuitKey: htlc.circuitKey },
      );
      if (!sent.ok) throw new Error(`response not sent: ${sent.error.kind}`);
    }
  })();
  await waitFor(() => gateway.state.kind === 'ready' && cluster.node(0).interceptorConnected);
  return gateway;
}

/** Latency of one regular forward offered alone, us. */
async function forwardLatency(cluster: SimCluster, offer: HtlcOffer): Promise<number> {
  const start = process.hrtime.bigint();
  const outcome = await offerAndWait(cluster, offer);
  if (outcome !== 'fulfill') throw new Error(`forward not fulfilled: ${outcome}`);
  return Number(process.hrtime.bigint() - start) / 1_000;
}

/**
 * Regular forwards one at a time, alternating between the two nodes so that both see the same load
 * (the machine is shared); `rounds` rounds of `perRound` each. Returns per-round p50 and p99 (us).
 */
async function forwardRounds(
  plain: SimCluster,
  intercepted: SimCluster,
  rounds: number,
  perRound: number,
): Promise<{ plain: { p50: number[]; p99: number[] }; intercepted: { p50: number[]; p99: number[] } }> {
  const out = { plain: { p50: [] as number[], p99: [] as number[] }, intercepted: { p50: [] as number[], p99: [] as number[] } };
  for (let round = 0; round < rounds; round++) {
    // Onions are built before timing (two ECDH each); each pays a fresh recipient invoice.
    const offers = Array.from({ length: perRound }, () => [forwardOffer(plain, 0, AMOUNT_MSAT), forwardOffer(intercepted, 0, AMOUNT_MSAT)] as const);
    const a: number[] = [];
    const b: number[] = [];
    for (const [p, i] of offers) {
      a.push(await forwardLatency(plain, p));
      b.push(await forwardLatency(intercepted, i));
    }
    out.plain.p50.push(percentile(a, 50));
    out.plain.p99.push(percentile(a, 99));
    out.intercepted.p50.push(percentile(b, 50));
    out.intercepted.p99.push(percentile(b, 99));
  }
  return out;
}

async function pipelined(cluster: SimCluster, offer: HtlcOffer): Promise<Measurement> {
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    let next = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PIPELINE }, async () => {
        while (next < PIPELINE_TOTAL) {
          next++;
          if ((await offerAndWait(cluster, offer)) !== 'fulfill') throw new Error('not settled');
        }
      }),
    );
    rounds.push(Number(process.hrtime.bigint() - start) / 1_000 / PIPELINE_TOTAL);
  }
  const microsPerOp = median(rounds);
  return { name: `settle round trip, ${PIPELINE} in flight`, opsPerSecond: 1e6 / microsPerOp, microsPerOp, rounds: 5, opsPerRound: PIPELINE_TOTAL };
}

/** Section 3: the stream alone, against the minimal LND-like server, and the gateway's conversions. */
async function streamAlone(): Promise<void> {
  const tls = makeTlsFiles();
  const macaroon = randomBytes(32);
  const pubkey = `02${'ab'.repeat(32)}`;
  const fake = await FakeLnd.start({ tls, macaroon, pubkey });
  const connection = openLndConnection({ address: fake.address, tlsCert: tls.cert, macaroon, tlsServerName: 'localhost' });
  const gateway = new NodeGateway({ address: fake.address, tlsCert: tls.cert, macaroon, tlsServerName: 'localhost', pubkey, network: 'regtest' });
  try {
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest();
    gateway.start();
    void (async () => {
      for await (const event of gateway.events()) {
        if (event.kind === 'htlc') await gateway.send({ kind: 'settle', circuitKey: event.htlc.circuitKey, preimage });
      }
    })();
    await waitFor(() => gateway.state.kind === 'ready' && fake.interceptorConnected);
    let htlcId = 0n;
    const roundTrip = async (): Promise<void> => {
      const id = htlcId++;
      fake.offer({ chanId: 1n, htlcId: id, paymentHash });
      await fake.until(() => !fake.held.has(keyOf(1n, id)));
    };
    const bare = await measureAsync('bare unary call (GetVersion), same kind of connection', () => unary(connection.versioner, 'GetVersion', {}, 10_000), 300, 7);
    const sequential = await measureAsync('settle round trip, one at a time', roundTrip, 300, 7);
    const rounds: number[] = [];
    for (let round = 0; round < 5; round++) {
      let next = 0;
      const start = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: PIPELINE }, async () => {
          while (next++ < PIPELINE_TOTAL) await roundTrip();
        }),
      );
      rounds.push(Number(process.hrtime.bigint() - start) / 1_000 / PIPELINE_TOTAL);
    }
    const micros = median(rounds);
    const pipelinedFake: Measurement = { name: `settle round trip, ${PIPELINE} in flight`, opsPerSecond: 1e6 / micros, microsPerOp: micros, rounds: 5, opsPerRound: PIPELINE_TOTAL };
    console.log('\n### The stream alone (minimal LND-like server: no onion, no channel)');
    printTable([bare, sequential, pipelinedFake], bare);

    // The gateway's own work per HTLC: decode the request as grpc-js delivers it, encode the answer.
    const method = (lndServices().packageDefinition['routerrpc.Router'] as unknown as Record<string, { responseDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer }>)['HtlcInterceptor']!;
    const raw = method.responseDeserialize(
      method.responseSerialize({
        incoming_circuit_key: { chan_id: '123', htlc_id: '4' },
        incoming_amount_msat: '10001',
        incoming_expiry: 900_120,
        payment_hash: paymentHash,
        outgoing_requested_chan_id: '9223372036854775809',
        outgoing_amount_msat: '10000',
        outgoing_expiry: 900_080,
        onion_blob: Buffer.alloc(1366, 7),
        auto_fail_height: 900_100,
      }),
    );
    const noop = measureSync('baseline: copy a 1366-byte onion', () => new Uint8Array(Buffer.alloc(1366)), 20_000, 7);
    const convert = measureSync('decode request + encode SETTLE', () => {
      const htlc = decodeInterceptRequest(raw);
      if (!htlc.ok) throw new Error('decode');
      return encodeInterceptResponse({ kind: 'settle', circuitKey: htlc.value.circuitKey, preimage });
    }, 20_000, 7);
    console.log('\n### The gateway\'s conversion per HTLC');
    printTable([noop, convert], noop);
  } finally {
    await gateway.stop();
    connection.close();
    await fake.stop();
    tls.remove();
  }
}

async function main(): Promise<void> {
  // Two one-node clusters: the baseline node runs without --requireinterceptor and no interceptor.
  const plain = await startCluster({ nodes: 1, requireInterceptor: false, seed: 'bench-plain' });
  const intercepted = await startCluster({ nodes: 1, seed: 'bench-intercepted' });
  try {
    const { offer: virtual, preimage } = virtualOffer(intercepted, 0, AMOUNT_MSAT);
    const { offer: virtualPlain } = virtualOffer(plain, 0, AMOUNT_MSAT);
    const preimages = new Map([[bytesToHex(createHash('sha256').update(preimage).digest()), preimage]]);
    const gateway = await startAnsweringGateway(intercepted, preimages);

    const baseline = await measureAsync('node alone: HTLC to a missing channel, failed', () => offerAndWait(plain, virtualPlain), 300, 7);
    const roundTrip = await measureAsync('settle round trip through the interceptor stream', () => offerAndWait(intercepted, virtual), 300, 7);
    const throughput = await pipelined(intercepted, virtual);

    await forwardRounds(plain, intercepted, 1, 50); // warm-up
    const forwards = await forwardRounds(plain, intercepted, FORWARD_ROUNDS, FORWARD_SAMPLES);

    console.log('\n### Interceptor round trips (HTLC offered -> response received, at the node)');
    printTable([baseline, roundTrip, throughput], baseline);

    const ms = (us: number): string => (us / 1000).toFixed(2);
    const p50a = median(forwards.plain.p50);
    const p99a = median(forwards.plain.p99);
    const p50b = median(forwards.intercepted.p50);
    const p99b = median(forwards.intercepted.p99);
    console.log(`\n### Regular forward latency: ${FORWARD_ROUNDS} rounds of ${FORWARD_SAMPLES} forwards, one at a time, alternating; medians of the rounds\n\n${machine()}\n`);
    console.log('| forward (payer -> node -> recipient) | p50 ms | p99 ms |');
    console.log('|---|---:|---:|');
    console.log(`| no interceptor (baseline) | ${ms(p50a)} | ${ms(p99a)} |`);
    console.log(`| interceptor answering RESUME via the gateway | ${ms(p50b)} | ${ms(p99b)} |`);
    console.log(`| added by the interceptor | ${ms(p50b - p50a)} | ${ms(p99b - p99a)} |`);
    await gateway.stop();
  } finally {
    await plain.stop();
    await intercepted.stop();
  }
}

// BENCH_PART=sim or BENCH_PART=stream runs one part only.
const part = process.env['BENCH_PART'];
if (part !== 'stream') await main();
if (part !== 'sim') await streamAlone();
