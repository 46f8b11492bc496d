/**
 * lnmux's own side of a payment, without gRPC or the simulator: the settlement engine (inspection with
 * the onion peel, registry, store: invoice lookup per HTLC, settle commit, final state per HTLC) fed
 * in process with HTLCs whose onions are built beforehand, answered by node links that only record
 * the SETTLE and report the HTLC final at once, as LND's final event would.
 *
 * Rows, in one process, per backend (the local PostgreSQL, a fresh database; PGlite in process):
 * - raw secp256k1 ECDH (tiny-secp256k1 pointMultiply): the floor of one HTLC (baseline, ratio 1);
 * - inspectHtlc of one HTLC (peel, payload, payment_addr check): CPU only;
 * - the engine, 1-part and 4-part payments, IN_FLIGHT payments at once (closed loop): payments/s (until
 *   every HTLC's final state is recorded), this process's CPU per payment, the PostgreSQL backends' CPU
 *   per payment, SQL statements per payment.
 * The end-to-end benchmark (e2e.bench.ts) measures the same work through gRPC; the difference is the
 * gateway and its transport.
 *
 * Run: `npm run bench -- settle-path`. Figures go to docs/benchmarks.md, `## End to end`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { pointMultiply } from 'tiny-secp256k1';
import { SettlementEngine } from '../src/mux/engine.js';
import { makeInvoice } from '../src/mux/invoice-factory.js';
import type { NodeCircuitKey } from '../src/protocol/index.js';
import type { InterceptorResponse } from '../src/lnd/index.js';
import { settleStoreOf } from '../src/mux/settle-store.js';
import { bytesToHex } from '../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../src/protocol/ecdh.js';
import { encodeHopPayload } from '../src/protocol/hop-payload.js';
import { deriveKeyring, type Keyring } from '../src/protocol/keyring.js';
import { buildOnion } from '../src/protocol/sphinx-build.js';
import { virtualChannelId } from '../src/protocol/virtual-scid.js';
import { inspectHtlc, type OfferedHtlc } from '../src/mux/inspect.js';
import { nodeKeyPair } from '../src/sim/keys.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import { backendCpu, cpuBetween } from './lib/pg-backend-cpu.js';
import { machine, measureSync, median } from './lib/measure.js';

const PAYMENTS = Number(process.env['BENCH_PAYMENTS'] ?? 1_000);
const IN_FLIGHT = 100;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const AMOUNT_MSAT = 100_000n;
const HEIGHT = 1_000;
const BASE_URL = process.env['LNMUX_BENCH_DATABASE_URL'] ?? process.env['LNMUX_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const keyring: Keyring = deriveKeyring(randomBytes(32));
const nodes = [0, 1, 2].map((i) => {
  const keys = nodeKeyPair(`settle-path-node-${i}`, 'bench');
  return { pubkey: keys.publicKey, pubkeyHex: bytesToHex(keys.publicKey), virtualChannelId: virtualChannelId(keys.publicKey) };
});

interface Payment {
  readonly hash: Uint8Array;
  readonly record: Parameters<Store['recordInvoice']>[0];
  readonly parts: readonly { readonly node: number; readonly htlc: Omit<OfferedHtlc, 'key'> }[];
}

/** An lnmux invoice and the HTLCs that pay it in `parts` parts, as the cluster nodes would offer them. */
function payment(parts: number): Payment {
  const created = makeInvoice(
    { amountMsat: AMOUNT_MSAT, description: 'settle path bench' },
    { keyring, network: 'regtest', nodes, feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40, minFinalCltvExpiryDelta: 40, defaultExpirySeconds: 3600 },
    Date.now() / 1000,
  );
  const each = AMOUNT_MSAT / BigInt(parts);
  return {
    hash: created.paymentHash,
    record: {
      hash: created.paymentHash,
      amountMsat: AMOUNT_MSAT,
      paymentAddr: created.paymentAddr,
      description: { kind: 'text', text: 'settle path bench' },
      paymentRequest: created.paymentRequest,
      createdAt: new Date(created.createdAt * 1000),
      expiresAt: new Date(created.expiresAt * 1000),
    },
    parts: Array.from({ length: parts }, (_, i) => {
      const amount = i === parts - 1 ? AMOUNT_MSAT - each * BigInt(parts - 1) : each;
      const expiry = HEIGHT + 43;
      const payload = encodeHopPayload({ amtToForwardMsat: amount, outgoingCltvValue: expiry, paymentData: { paymentAddr: created.paymentAddr, totalMsat: AMOUNT_MSAT }, otherRecords: [] });
      const { onion } = buildOnion([{ publicKey: keyring.nodePubkey, payload }], nodeKeyPair(`session-${Math.random()}`).privateKey, created.paymentHash);
      const node = i % nodes.length;
      return {
        node,
        htlc: {
          paymentHash: created.paymentHash,
          incomingAmountMsat: amount,
          outgoingAmountMsat: amount,
          incomingExpiry: expiry + 40,
          outgoingExpiry: expiry,
          outgoingRequestedChanId: nodes[node]!.virtualChannelId,
          onionBlob: onion,
          autoFailHeight: expiry + 40 - 19,
        },
      };
    }),
  };
}

/** SQL statements sent by this process (pg.Client.query calls). */
let statements = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

/** Circuit keys stay unique across rounds: the store keeps every settled set's keys. */
let htlcId = 0n;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface EngineFigures {
  readonly perSecond: number;
  readonly cpuMs: number;
  readonly pgCpuMs: number;
  readonly statements: number;
}

/** One round: PAYMENTS payments of `parts` parts through a fresh engine over `store`. */
async function engineRound(store: Store, parts: number, databaseCpu: () => Promise<Map<number, number>>): Promise<EngineFigures> {
  const payments = Array.from({ length: PAYMENTS }, () => payment(parts));
  for (let i = 0; i < payments.length; i += 200) await Promise.all(payments.slice(i, i + 200).map((p) => store.recordInvoice(p.record)));
  const engine = new SettlementEngine({
    registry: { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 600_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 },
    policy: { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 40 },
    minFinalCltvExpiryDelta: 40,
    ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
    keyring,
    store: settleStoreOf(store),
    logger: pino({ level: process.env['BENCH_LOG'] ?? 'silent' }),
  });
  const waiting = new Map<string, () => void>();
  let finals = 0;
  engine.on('htlcFinal', () => finals++);
  for (const node of nodes) {
    engine.attachNode(
      {
        pubkey: node.pubkey,
        pubkeyHex: node.pubkeyHex,
        send: async (response: InterceptorResponse) => {
          if (response.kind !== 'settle') throw new Error(`unexpected ${response.kind}`);
          const id = `${node.pubkeyHex}:${response.circuitKey.chanId}:${response.circuitKey.htlcId}`;
          // The node settles; its final event follows.
          setImmediate(() => void engine.onHtlcFinal(node.pubkeyHex, response.circuitKey, true));
          waiting.get(id)?.();
        },
      },
      node.virtualChannelId,
    );
  }
  engine.onBlock(HEIGHT);
  const pay = (p: Payment): Promise<unknown> =>
    Promise.all(
      p.parts.map((part) => {
        const circuitKey: NodeCircuitKey = { chanId: 42n, htlcId: htlcId++ };
        const settled = new Promise<void>((resolve) => waiting.set(`${nodes[part.node]!.pubkeyHex}:${circuitKey.chanId}:${circuitKey.htlcId}`, resolve));
        void engine.onHtlc(nodes[part.node]!.pubkeyHex, { ...part.htlc, circuitKey });
        return settled;
      }),
    );
  const cpu0 = cpuMs();
  const statements0 = statements;
  const pg0 = await databaseCpu();
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < payments.length) await pay(payments[next++]!);
    }),
  );
  // The payments count as done once their HTLCs' final states are recorded too.
  while (finals < PAYMENTS * parts) await new Promise((r) => setTimeout(r, 1));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  const figures = {
    perSecond: (PAYMENTS * 1000) / elapsedMs,
    cpuMs: (cpuMs() - cpu0) / PAYMENTS,
    pgCpuMs: cpuBetween(pg0, await databaseCpu()) / PAYMENTS,
    statements: (statements - statements0) / PAYMENTS,
  };
  engine.stop();
  return figures;
}

async function withBackend(kind: 'postgres' | 'pglite', run: (store: Store, databaseCpu: () => Promise<Map<number, number>>) => Promise<void>): Promise<void> {
  if (kind === 'postgres') {
    const admin = new pg.Client({ connectionString: BASE_URL });
    await admin.connect();
    const name = `lnmux_settle_path_${process.pid}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(BASE_URL);
    url.pathname = `/${name}`;
    const store = await openStore({ databaseUrl: url.toString(), migrate: true });
    try {
      await run(store, () => backendCpu(admin, name));
    } finally {
      await store.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'lnmux-settle-path-'));
    const store = await openStore({ dataDir: dir, migrate: true, onWarning: () => undefined });
    try {
      await run(store, () => Promise.resolve(new Map()));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const load = [loadavg()[0]!];
  // CPU-only rows, interleaved with nothing else.
  const [sample] = payment(1).parts;
  const ecdhKey = keyring.identityPrivateKey();
  const ephemeral = nodeKeyPair('ephemeral', 'bench').publicKey;
  const ecdh = measureSync('raw secp256k1 ECDH (tiny-secp256k1 pointMultiply) (baseline)', () => pointMultiply(ephemeral, ecdhKey, true), 200, 9);
  const context = { virtualChannelId: nodes[0]!.virtualChannelId, policy: { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 40 }, ecdh: ecdhWithPrivateKey(ecdhKey), keyring, height: HEIGHT, minFinalCltvExpiryDelta: 40 };
  const offered: OfferedHtlc = { ...sample!.htlc, key: { nodePubkey: nodes[0]!.pubkey, chanId: 1n, htlcId: 1n } };
  const inspect = measureSync('inspectHtlc, one HTLC (peel + payload + payment_addr check)', () => {
    if (inspectHtlc(offered, context).kind !== 'arrived') throw new Error('not accepted');
  }, 200, 9);

  const rows: { backend: string; parts: number; f: EngineFigures }[] = [];
  for (const backend of ['postgres', 'pglite'] as const) {
    await withBackend(backend, async (store, databaseCpu) => {
      for (const parts of [1, 4]) {
        const rounds: EngineFigures[] = [];
        await engineRound(store, parts, databaseCpu); // warm-up
        for (let r = 0; r < ROUNDS; r++) rounds.push(await engineRound(store, parts, databaseCpu));
        const pick = (f: (x: EngineFigures) => number) => median(rounds.map(f));
        const f = { perSecond: pick((x) => x.perSecond), cpuMs: pick((x) => x.cpuMs), pgCpuMs: pick((x) => x.pgCpuMs), statements: pick((x) => x.statements) };
        rows.push({ backend, parts, f });
        console.log(`${backend} ${parts}-part: ${f.perSecond.toFixed(0)} payments/s, ${f.cpuMs.toFixed(2)} ms CPU/payment here, ${f.pgCpuMs.toFixed(2)} ms in PostgreSQL backends, ${f.statements.toFixed(1)} statements/payment`);
      }
    });
  }
  load.push(loadavg()[0]!);

  console.log(`\n${machine()}; load average ${load.map((l) => l.toFixed(1)).join(' -> ')}; ${PAYMENTS} payments per round, ${IN_FLIGHT} in flight, median of ${ROUNDS} rounds\n`);
  console.log('| operation | per second | CPU ms per payment (this process) | CPU ms in PostgreSQL backends | SQL statements per payment | x raw ECDH (CPU) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const ecdhMs = ecdh.microsPerOp / 1000;
  console.log(`| ${ecdh.name} | ${ecdh.opsPerSecond.toFixed(0)} | ${ecdhMs.toFixed(3)} | - | - | 1.00 |`);
  console.log(`| ${inspect.name} | ${inspect.opsPerSecond.toFixed(0)} | ${(inspect.microsPerOp / 1000).toFixed(3)} | - | - | ${(inspect.microsPerOp / ecdh.microsPerOp).toFixed(2)} |`);
  for (const { backend, parts, f } of rows) {
    console.log(
      `| engine, ${parts}-part payments, ${backend === 'postgres' ? 'PostgreSQL' : 'PGlite (in process)'} | ${f.perSecond.toFixed(0)} | ${f.cpuMs.toFixed(2)} | ${backend === 'postgres' ? f.pgCpuMs.toFixed(2) : '-'} | ${f.statements.toFixed(1)} | ${(f.cpuMs / ecdhMs).toFixed(1)} |`,
    );
  }
}

await main();
