/**
 * The demo scenario behind `lnmux demo` (src/cli/demo.ts): the whole product in one command, no setup. A simulated 3-node LND cluster (real gRPC,
 * TLS, macaroons, onions), the embedded database and lnmux; then payments that show the fail-over:
 * through one node, split across two, with a node down, with a node out of liquidity. Exits 0 only if
 * every payment settled and the database agrees.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { bytesToHex } from '../protocol/index.js';
import { Mux } from '../mux/mux.js';
import { startCluster, type PaymentResult, type SimCluster } from '../sim/index.js';
import { sleep, systemClock } from '../shell/clock.js';

export interface DemoOptions {
  /** Where progress lines go (default stdout). */
  readonly print?: (line: string) => void;
  /** lnmux's logs (default: silent; `--verbose` shows them on stderr). */
  readonly verbose?: boolean;
}

interface Step {
  readonly title: string;
  readonly amountMsat: bigint;
  /** Changes the cluster before paying. */
  readonly before?: (cluster: SimCluster) => Promise<void> | void;
  /** What the payment must show (parts through which nodes). */
  readonly expect: (result: PaymentResult & { status: 'succeeded' }) => string | undefined;
}

/** Runs the demo; resolves true when every payment settled and the database agrees. */
export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-demo-'));
  const started = Date.now();
  print('lnmux demo: a simulated 3-node LND cluster, the embedded database, and lnmux in one process.');
  const cluster = await startCluster({ nodes: 3, dir: join(dir, 'cluster') });
  const infos = cluster.nodeInfos();
  const name = new Map(infos.map((n, i) => [n.pubkey, `node ${String.fromCharCode(65 + i)}`]));
  for (const n of infos) print(`  ${name.get(n.pubkey)} ${n.pubkey.slice(0, 16)}… on ${n.address}`);

  const logger = options.verbose ? pino({ level: 'info' }, pino.destination(2)) : pino({ level: 'silent' });
  const mux = await Mux.open(
    {
      network: 'regtest',
      identityKey: bytesToHex(randomBytes(32)),
      nodes: infos.map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
      database: { dataDir: join(dir, 'lnmux-data') },
      settlement: { mppTimeoutSeconds: 30 },
    },
    { logger, migrate: true },
  );
  let allGood = true;
  try {
    await mux.start();
    await waitFor(() => cluster.nodes.every((node) => node.interceptorConnected), 20_000, 'lnmux to intercept on every node');
    print(`  lnmux ${mux.nodePubkey.slice(0, 16)}… intercepts on all three nodes\n`);

    const via = (r: PaymentResult & { status: 'succeeded' }) => [...new Set(r.parts.map((p) => name.get(p.firstHop)))];
    const steps: Step[] = [
      {
        title: 'Single payment',
        amountMsat: 50_000_000n,
        expect: (r) => (r.parts.length === 1 ? undefined : `expected one part, got ${r.parts.length}`),
      },
      {
        title: 'Multi-part payment across two nodes (each node alone is short of liquidity)',
        amountMsat: 150_000_000n,
        before: (c) => {
          c.setInboundLiquidity(0, 100_000_000n);
          c.setInboundLiquidity(1, 100_000_000n);
          c.setInboundLiquidity(2, 0n);
        },
        expect: (r) => (via(r).length >= 2 ? undefined : `expected parts through two nodes, got ${via(r).join(', ')}`),
      },
      {
        title: 'Node A is down: the payment goes through a survivor',
        amountMsat: 40_000_000n,
        before: async (c) => {
          for (let i = 0; i < 3; i++) c.setInboundLiquidity(i, 1_000_000_000n);
          await c.node(0).stop();
        },
        expect: (r) => (via(r).includes('node A') ? 'a part went through the stopped node A' : undefined),
      },
      {
        title: "Node B's inbound liquidity is exhausted: the payment goes through node C",
        amountMsat: 60_000_000n,
        before: (c) => c.setInboundLiquidity(1, 0n),
        expect: (r) => (via(r).every((n) => n === 'node C') ? undefined : `expected node C only, got ${via(r).join(', ')}`),
      },
    ];

    for (const [i, step] of steps.entries()) {
      await step.before?.(cluster);
      const invoice = await mux.createInvoice({ amountMsat: step.amountMsat, description: `lnmux demo ${i + 1}` });
      const hash = bytesToHex(invoice.paymentHash);
      print(`${i + 1}. ${step.title}`);
      print(`   invoice ${hash.slice(0, 16)}… for ${step.amountMsat / 1000n} sat, ${infos.length} route hints`);
      const t0 = Date.now();
      const result = await cluster.payer.pay(invoice.paymentRequest);
      if (result.status !== 'succeeded') {
        allGood = false;
        print(`   FAILED: ${result.reason}${result.failure ? ` (${result.failure.kind})` : ''}${result.detail ? `: ${result.detail}` : ''}`);
        continue;
      }
      const failedAttempts = result.attempts.length - result.parts.length;
      print(
        `   paid in ${Date.now() - t0} ms: ${result.parts.length} part(s) via ${via(result).join(' + ')}` +
          (failedAttempts > 0 ? `, after ${failedAttempts} failed attempt(s)` : ''),
      );
      const preimageHash = createHash('sha256').update(result.preimage).digest('hex');
      const problem = preimageHash !== hash ? 'the preimage the payer got does not hash to the invoice' : step.expect(result);
      const stored = await waitForState(mux, hash, 'settled', 10_000);
      if (problem !== undefined) {
        allGood = false;
        print(`   UNEXPECTED: ${problem}`);
      }
      if (stored !== 'settled') {
        allGood = false;
        print(`   DATABASE DISAGREES: invoice state ${stored ?? 'missing'}, expected settled`);
      } else {
        print(`   database: invoice settled, preimage checks out`);
      }
    }
    print(allGood ? `\nAll payments settled (${((Date.now() - started) / 1000).toFixed(1)} s).` : '\nSome payments did not settle.');
    return allGood;
  } finally {
    await mux.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How often the demo looks again at what it waits for, ms. */
const POLL_MS = 50;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(systemClock, POLL_MS);
  }
}

async function waitForState(mux: Mux, hash: string, state: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const invoice = await mux.getInvoice(hash);
    if (invoice?.state === state || Date.now() > deadline) return invoice?.state;
    await sleep(systemClock, POLL_MS);
  }
}
