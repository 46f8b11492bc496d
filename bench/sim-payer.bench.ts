/**
 * What the simulated cluster can carry: whole payments, from the payer's BOLT 11 invoice (decoded
 * beforehand) to the preimage, through a simulated node over real gRPC + TLS to a plain grpc-js
 * interceptor that settles by payment hash (no onion work of its own).
 *
 * Rows: one payment at a time (latency), then 32 in flight (throughput). Baseline: the CPU-only
 * onion work of one payment in the same run (payer builds the 2-hop onion, the node peels its layer,
 * the virtual node peels the last): what no simulator can avoid.
 *
 * Run: `npm run bench -- sim-payer`. Figures go to docs/benchmarks.md, `## Simulator: payments end to end`.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { decodeInvoice, encodeInvoice, type DecodedInvoice } from '../src/protocol/bolt11.js';
import { ecdhWithPrivateKey } from '../src/protocol/ecdh.js';
import { encodeHopPayload } from '../src/protocol/hop-payload.js';
import { buildOnion } from '../src/protocol/sphinx-build.js';
import { peelOnion } from '../src/protocol/sphinx-peel.js';
import { startCluster, type SimCluster } from '../src/sim/cluster.js';
import { nodeKeyPair, type KeyPair } from '../src/sim/keys.js';
import { lndServices } from '../src/lnd/index.js';
import { measureAsync, measureSync, printTable, type Measurement } from './lib/measure.js';

const AMOUNT_MSAT = 10_000n;
const IN_FLIGHT = 32;

function invoices(cluster: SimCluster, virtual: KeyPair, count: number, preimages: Map<string, Buffer>): DecodedInvoice[] {
  const node = cluster.node(0);
  return Array.from({ length: count }, () => {
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest();
    preimages.set(paymentHash.toString('hex'), preimage);
    const request = encodeInvoice(
      {
        network: 'bcrt',
        amountMsat: AMOUNT_MSAT,
        timestamp: Math.floor(Date.now() / 1000),
        paymentHash,
        paymentSecret: randomBytes(32),
        description: 'bench',
        minFinalCltvExpiryDelta: 40,
        routeHints: [[{ pubkey: node.publicKey, shortChannelId: node.virtualScid, feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40 }]],
      },
      virtual.privateKey,
    );
    const decoded = decodeInvoice(request);
    if (!decoded.ok) throw new Error('invoice does not decode');
    return decoded.value;
  });
}

/** A plain grpc-js interceptor on node 0 that settles every HTLC whose preimage it knows. */
function interceptor(cluster: SimCluster, preimages: Map<string, Buffer>): grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>> {
  const info = cluster.node(0).info;
  const credentials = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(readFileSync(info.certPath)),
    grpc.credentials.createFromMetadataGenerator((_p, callback) => {
      const metadata = new grpc.Metadata();
      metadata.add('macaroon', info.macaroonHex);
      callback(null, metadata);
    }),
  );
  const { Router } = lndServices();
  const router = new Router(info.address, credentials, { 'grpc.ssl_target_name_override': 'localhost' }) as unknown as {
    HtlcInterceptor: () => grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;
  };
  const stream = router.HtlcInterceptor();
  stream.on('data', (request: Record<string, unknown>) => {
    const preimage = preimages.get(Buffer.from(request['payment_hash'] as Buffer).toString('hex'));
    stream.write(preimage === undefined
      ? { incoming_circuit_key: request['incoming_circuit_key'], action: 'RESUME' }
      : { incoming_circuit_key: request['incoming_circuit_key'], action: 'SETTLE', preimage });
  });
  stream.on('error', () => undefined);
  return stream;
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 1, seed: 'bench' });
  const virtual = nodeKeyPair('virtual', 'bench');
  const preimages = new Map<string, Buffer>();
  const stream = interceptor(cluster, preimages);
  while (!cluster.node(0).interceptorConnected) await new Promise((resolve) => setTimeout(resolve, 5));

  // Baseline: the onion work of one payment, CPU only.
  const node = cluster.node(0);
  const nodeEcdh = ecdhWithPrivateKey(node.keys.privateKey);
  const virtualEcdh = ecdhWithPrivateKey(virtual.privateKey);
  const hash = randomBytes(32);
  const session = nodeKeyPair('session', 'bench').privateKey;
  const payloads = [
    encodeHopPayload({ amtToForwardMsat: AMOUNT_MSAT, outgoingCltvValue: 1_043, shortChannelId: node.virtualScid, otherRecords: [] }),
    encodeHopPayload({ amtToForwardMsat: AMOUNT_MSAT, outgoingCltvValue: 1_043, paymentData: { paymentAddr: randomBytes(32), totalMsat: AMOUNT_MSAT }, otherRecords: [] }),
  ];
  const baseline = measureSync(
    'onion work of one payment (build 2 hops + 2 peels, CPU only)',
    () => {
      const { onion } = buildOnion([{ publicKey: node.publicKey, payload: payloads[0]! }, { publicKey: virtual.publicKey, payload: payloads[1]! }], session, hash);
      const first = peelOnion(onion, hash, nodeEcdh);
      if (!first.ok || first.value.next.kind !== 'forward') throw new Error('peel failed');
      if (!peelOnion(first.value.next.onion, hash, virtualEcdh).ok) throw new Error('peel failed');
    },
    200,
  );

  const serialCount = 150;
  const serialInvoices = invoices(cluster, virtual, serialCount * 8, preimages);
  let next = 0;
  const serial: Measurement = await measureAsync(
    'payment, one at a time (payer -> node -> interceptor SETTLE -> payer)',
    async () => {
      const result = await cluster.payer.payInvoice(serialInvoices[next++]!);
      if (result.status !== 'succeeded') throw new Error(`payment ${result.status}`);
    },
    serialCount,
  );

  const rounds = 7;
  const perRound = IN_FLIGHT * 8;
  const parallelInvoices = invoices(cluster, virtual, perRound * (rounds + 1), preimages);
  let p = 0;
  const batch = async (): Promise<void> => {
    let left = perRound;
    const worker = async (): Promise<void> => {
      while (left > 0) {
        left -= 1;
        const result = await cluster.payer.payInvoice(parallelInvoices[p++]!);
        if (result.status !== 'succeeded') throw new Error(`payment ${result.status}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  };
  const parallelBatch = await measureAsync(`${perRound} payments, ${IN_FLIGHT} in flight`, batch, 1, rounds);
  const parallel: Measurement = {
    ...parallelBatch,
    name: `payment, ${IN_FLIGHT} in flight (throughput)`,
    opsPerSecond: parallelBatch.opsPerSecond * perRound,
    microsPerOp: parallelBatch.microsPerOp / perRound,
  };

  printTable([baseline, serial, parallel], baseline);
  stream.cancel();
  await cluster.stop();
}

await main();
