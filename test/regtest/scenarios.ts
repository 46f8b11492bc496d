/**
 * Payments through lnmux on the real regtest network : lnmux attached to A and C, B pays.
 *
 *  1. single part via A (B restricted to its channel to A);
 *  2. via C with A stopped;
 *  3. an MPP that needs both channels (more than either can carry);
 *  4. an expired invoice and 5. a wrong amount: B sees incorrect_or_unknown_payment_details from the
 *     final hop (LND's own payer refuses both, so B sends along an explicit route built from the invoice);
 *  6. half of an MPP payment held at A while blocks are mined one by one: lnmux fails it itself, as the
 *     final node, before A's auto-fail height (docs/architecture.md, invariant 7: a part is never left to LND);
 *  7. an amountless invoice (`addinvoice --amountless`), B choosing the amount;
 *  8. a hold invoice via A (lnmux as a library in this process, the application's payment hash): held
 *     while complete, a wrong preimage refused, settled with the right one (B's channels are too drained
 *     by then for a second MPP across both nodes; the simulator tests hold invoices across two nodes);
 *  9. lnmux killed between the commit and the SETTLE, restarted: the HTLC is re-offered and settled.
 *
 * The CLI details live in lib/lnmux-process.ts and multiplexer-config.ts. Each scenario records what it
 * saw; a failed expectation throws CheckFailed.
 */
import { createHash, randomBytes } from 'node:crypto';
import pino from 'pino';
import { PreimageError } from '../../src/index.js';
import { loadConfigFile } from '../../src/mux/config.js';
import { Mux, type MuxEvents } from '../../src/mux/mux.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { CheckFailed, type Observations } from './checks.js';
import { CHANNEL_CAPACITY_SAT, type Network } from './network.js';
import { addInvoice, LnmuxDaemon, migrate, type LnmuxInvoice } from './lib/lnmux-process.js';
import { describeFailure, payInvoice, sendToRoute, settlesWithin, type Payment } from './lib/payments.js';
import type { LndNode } from './lib/lnd-node.js';
import { TcpProxy } from './lib/tcp-proxy.js';
import { waitFor } from '../support/wait.js';
import { sleep } from './lib/util.js';
import { virtualRoute } from './lib/virtual-hop.js';
import { multiplexerYaml } from './multiplexer-config.js';

function expectThat(condition: boolean, message: string): void {
  if (!condition) throw new CheckFailed(message);
}

/** A fresh PostgreSQL database for one run, dropped at the end. */
export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * Creates `lnmux_regtest_<random>` on the server of `adminUrl` (default LNMUX_REGTEST_DATABASE_URL or
 * postgres://postgres@127.0.0.1:5432/postgres). Throws when the server is unreachable.
 */
export async function createScratchDatabase(adminUrl = process.env['LNMUX_REGTEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres'): Promise<ScratchDatabase> {
  const name = `lnmux_regtest_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

interface Ctx {
  readonly network: Network;
  readonly configPath: string;
  readonly databaseUrl: string;
  /** Writes a config at `path` with the given node addresses (the restart scenario points A at a proxy). */
  readonly writeConfig: (path: string, addressOf: (name: 'A' | 'C') => string) => string;
  readonly lnmux: LnmuxDaemon;
  readonly obs: Observations;
  readonly log: (line: string) => void;
}

/** Runs the lnmux scenarios on a running network. Returns the observations; throws CheckFailed. */
export async function runLnmuxScenarios(network: Network, databaseUrl: string, log: (line: string) => void): Promise<Observations> {
  const identityKeyHex = randomBytes(32).toString('hex');
  const writeConfig = (path: string, addressOf: (name: 'A' | 'C') => string): string => {
    writeFileSync(path, multiplexerYaml({
      nodes: (['A', 'C'] as const).map((name) => ({
        pubkey: network.nodes[name].pubkey,
        address: addressOf(name),
        tlsCertPath: network.nodes[name].endpoint.tlsCertPath,
        macaroonPath: network.nodes[name].endpoint.macaroonPath,
      })),
      identityKeyHex,
      databaseUrl,
      network: 'regtest',
      logLevel: 'debug',
    }));
    return path;
  };
  const configPath = writeConfig(join(network.dir, 'multiplexer.yml'), (name) => network.nodes[name].endpoint.address);
  const ctx: Ctx = {
    network, configPath, databaseUrl, writeConfig, lnmux: new LnmuxDaemon(configPath, join(network.dir, 'lnmux.log')), obs: {}, log,
  };

  await migrate(configPath);
  await ctx.lnmux.start(clusterNodes(network));
  log('lnmux attached to A and C');

  const scenarios: [string, (ctx: Ctx) => Promise<void>][] = [
    ['singlePartViaA', singlePartViaA],
    ['viaCWithAStopped', viaCWithAStopped],
    ['mppNeedsBothNodes', mppNeedsBothNodes],
    ['expiredInvoice', expiredInvoice],
    ['wrongAmount', wrongAmount],
    ['heldPartNearAutoFail', heldPartNearAutoFail],
    ['amountlessViaA', amountlessViaA],
    // These two stop the shared lnmux and run their own.
    ['holdInvoiceViaA', holdInvoiceViaA],
    ['restartBetweenCommitAndSettle', restartBetweenCommitAndSettle],
  ];
  try {
    for (const [name, scenario] of scenarios) {
      log(`scenario ${name}`);
      // The checks and earlier scenarios fail payments on purpose: B's mission control must not carry
      // their penalties (B -> A, A -> the virtual node) into the next payment.
      await network.nodes.B.rpc.call('router', 'ResetMissionControl', {});
      const started = performance.now();
      await scenario(ctx);
      ctx.obs[`${name}.durationMs`] = Math.round(performance.now() - started);
    }
  } finally {
    await ctx.lnmux.stop();
  }
  return ctx.obs;
}

function clusterNodes(network: Network): [LndNode, LndNode] {
  return [network.nodes.A, network.nodes.C];
}

function summary(payment: Payment | undefined): Record<string, unknown> {
  if (!payment) return { status: 'no final update' };
  return {
    status: payment.status,
    failure_reason: payment.failure_reason,
    parts: payment.htlcs.map((h) => ({ status: h.status, firstHop: h.route?.hops[0]?.chan_id, failure: describeFailure(h.failure) })),
  };
}

async function payAndWait(ctx: Ctx, invoice: LnmuxInvoice, options: Parameters<typeof payInvoice>[2] = {}): Promise<Payment> {
  return await payInvoice(ctx.network.nodes.B.rpc, invoice.paymentRequest, { timeoutSeconds: 60, ...options }).done;
}

async function singlePartViaA(ctx: Ctx): Promise<void> {
  const invoice = await addInvoice(ctx.configPath, 10_000n, 'regtest single part via A');
  const toA = await ctx.network.channelFromB('A');
  const payment = await payAndWait(ctx, invoice, { maxParts: 1, outgoingChanIds: [toA.chan_id] });
  ctx.obs['singlePartViaA'] = summary(payment);
  expectThat(payment.status === 'SUCCEEDED', `single part via A settles (${JSON.stringify(summary(payment))})`);
}

async function viaCWithAStopped(ctx: Ctx): Promise<void> {
  await ctx.network.nodes.A.stop();
  try {
    const invoice = await addInvoice(ctx.configPath, 20_000n, 'regtest via C, A stopped');
    const payment = await payAndWait(ctx, invoice);
    ctx.obs['viaCWithAStopped'] = summary(payment);
    const toC = await ctx.network.channelFromB('C');
    expectThat(payment.status === 'SUCCEEDED', `pays via C while A is down (${JSON.stringify(summary(payment))})`);
    expectThat(payment.htlcs.some((h) => h.status === 'SUCCEEDED' && h.route?.hops[0]?.chan_id === toC.chan_id), 'the settled part went through C');
  } finally {
    await ctx.network.startNode('A');
  }
  // lnmux reconnects to A by itself.
  await ctx.lnmux.waitAttached([ctx.network.nodes.A]);
}

async function mppNeedsBothNodes(ctx: Ctx): Promise<void> {
  // More than either channel can carry (capacity minus reserve and fees), less than both together.
  const amountSat = (CHANNEL_CAPACITY_SAT * 14n) / 10n;
  const invoice = await addInvoice(ctx.configPath, amountSat, 'regtest MPP across A and C');
  const payment = await payAndWait(ctx, invoice, { maxParts: 16 });
  ctx.obs['mppNeedsBothNodes'] = summary(payment);
  const [toA, toC] = [await ctx.network.channelFromB('A'), await ctx.network.channelFromB('C')];
  const settledVia = new Set(payment.htlcs.filter((h) => h.status === 'SUCCEEDED').map((h) => h.route?.hops[0]?.chan_id));
  expectThat(payment.status === 'SUCCEEDED', `the MPP settles (${JSON.stringify(summary(payment))})`);
  expectThat(settledVia.has(toA.chan_id) && settledVia.has(toC.chan_id), 'settled parts went through both A and C');
}

async function amountlessViaA(ctx: Ctx): Promise<void> {
  const invoice = await addInvoice(ctx.configPath, undefined, 'regtest amountless, B chooses');
  const toA = await ctx.network.channelFromB('A');
  const payment = await payAndWait(ctx, invoice, { maxParts: 1, amtMsat: 12_345_000n, outgoingChanIds: [toA.chan_id] });
  ctx.obs['amountlessViaA'] = summary(payment);
  expectThat(payment.status === 'SUCCEEDED', `an amountless invoice settles for the amount B chose (${JSON.stringify(summary(payment))})`);
  expectThat(payment.value_msat === '12345000', `B paid the amount it chose (value_msat ${payment.value_msat})`);
}

/**
 * A hold invoice (the application's payment hash) paid by B via A, with lnmux as a library in this
 * process (the daemon's API has no hold invoices yet): the complete set is held in auto mode, a wrong
 * preimage is refused, the right one settles it and B learns it.
 */
async function holdInvoiceViaA(ctx: Ctx): Promise<void> {
  await ctx.lnmux.stop();
  const mux = await Mux.open(loadConfigFile(ctx.configPath), { logger: pino({ level: 'warn' }, pino.destination(2)) });
  await mux.start();
  try {
    for (const node of clusterNodes(ctx.network)) {
      await waitFor(async () => (node.interceptorAttachedPerLog() ? true : undefined), { what: `the library's lnmux attached to ${node.name}`, timeoutMs: 90_000, intervalMs: 250 });
    }
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest();
    const invoice = await mux.createInvoice({ paymentHash, amountMsat: 25_000_000n, description: 'regtest hold invoice via A' });
    const accepted = new Promise<MuxEvents['accepted'][0]>((resolve) => {
      mux.on('accepted', (event) => {
        if (event.paymentHash === paymentHash.toString('hex')) resolve(event);
      });
    });
    const toA = await ctx.network.channelFromB('A');
    const payment = payInvoice(ctx.network.nodes.B.rpc, invoice.paymentRequest, { timeoutSeconds: 120, maxParts: 1, outgoingChanIds: [toA.chan_id] });
    const event = await Promise.race([
      accepted,
      sleep(60_000).then(() => {
        throw new CheckFailed('the hold invoice\'s set was not accepted within 60 s');
      }),
    ]);
    ctx.obs['hold.acceptedParts'] = event.htlcs.length;
    expectThat(event.needsPreimage, 'the set waits for the application\'s preimage');
    ctx.obs['hold.heldWhileUndecided'] = !(await settlesWithin(payment.done, 2_000));
    expectThat(ctx.obs['hold.heldWhileUndecided'] === true, 'B\'s payment waits while the application has not settled');
    const wrong = await mux.settle(event.setId, { preimage: randomBytes(32) }).then(() => 'settled', (error: unknown) => (error instanceof PreimageError ? 'refused' : String(error)));
    expectThat(wrong === 'refused', `a wrong preimage is refused (${wrong})`);
    await mux.settle(event.setId, { preimage });
    const final = await payment.done;
    ctx.obs['holdInvoiceViaA'] = summary(final);
    expectThat(final.status === 'SUCCEEDED', `the hold invoice settles with the application's preimage (${JSON.stringify(summary(final))})`);
    expectThat(final.payment_preimage === preimage.toString('hex'), 'B learns the application\'s preimage');
  } finally {
    await mux.stop();
  }
}

/** Pays `invoice` along an explicit route B -> A -> virtual node, as LND's payer would not (expired, wrong amount). */
async function payAlongHint(ctx: Ctx, invoice: LnmuxInvoice, amountMsat: bigint, totalMsat = amountMsat): Promise<Awaited<ReturnType<typeof sendToRoute>>> {
  const decoded = await ctx.network.nodes.B.rpc.call<{
    destination: string; payment_hash: string; payment_addr: Buffer; num_msat: string;
    route_hints: { hop_hints: { node_id: string; chan_id: string }[] }[];
  }>('lightning', 'DecodePayReq', { pay_req: invoice.paymentRequest });
  const hint = decoded.route_hints.map((h) => h.hop_hints[0]).find((h) => h?.node_id === ctx.network.nodes.A.pubkey);
  if (!hint) throw new CheckFailed('the invoice has a route hint through A');
  const height = (await ctx.network.nodes.B.getInfo()).block_height;
  const route = virtualRoute({
    chanIdToCluster: (await ctx.network.channelFromB('A')).chan_id,
    clusterPubkeyHex: ctx.network.nodes.A.pubkey,
    virtualPubkey: Buffer.from(decoded.destination, 'hex'),
    virtualScid: BigInt(hint.chan_id),
    amountMsat,
    totalMsat,
    paymentAddr: decoded.payment_addr,
    height,
  });
  return await sendToRoute(ctx.network.nodes.B.rpc, Buffer.from(decoded.payment_hash, 'hex'), route, 120_000);
}

async function expiredInvoice(ctx: Ctx): Promise<void> {
  const invoice = await addInvoice(ctx.configPath, 5_000n, 'regtest expired', 1);
  await sleep(3_000); // the point: the invoice's 1 s expiry elapses (lnmux reads the clock, there is no event)
  const attempt = await payAlongHint(ctx, invoice, 5_000_000n);
  ctx.obs['expiredInvoice.atB'] = { status: attempt.status, failure: describeFailure(attempt.failure) };
  expectThat(attempt.status === 'FAILED' && attempt.failure?.code === 'INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS' && attempt.failure.failure_source_index === 2,
    `an expired invoice fails with incorrect_or_unknown_payment_details from the final hop (${JSON.stringify(ctx.obs['expiredInvoice.atB'])})`);
}

async function wrongAmount(ctx: Ctx): Promise<void> {
  const invoice = await addInvoice(ctx.configPath, 5_000n, 'regtest wrong amount');
  const attempt = await payAlongHint(ctx, invoice, 4_000_000n);
  ctx.obs['wrongAmount.atB'] = { status: attempt.status, failure: describeFailure(attempt.failure) };
  expectThat(attempt.status === 'FAILED' && attempt.failure?.code === 'INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS' && attempt.failure.failure_source_index === 2,
    `a wrong amount fails with incorrect_or_unknown_payment_details from the final hop (${JSON.stringify(ctx.obs['wrongAmount.atB'])})`);
}

/**
 * Half of an MPP payment (total_msat = the invoice) along B -> A -> virtual node: lnmux holds it for the
 * rest, which never comes (the MPP timeout is 120 s). Blocks are mined one at a time: A would fail the
 * HTLC itself at its auto_fail_height (incoming expiry - 19 = 61 blocks from now, with
 * temporary_channel_failure from A); lnmux must fail it first, from the final hop, with
 * incorrect_or_unknown_payment_details, and log why.
 */
async function heldPartNearAutoFail(ctx: Ctx): Promise<void> {
  const invoice = await addInvoice(ctx.configPath, 10_000n, 'regtest part held near auto-fail');
  const startHeight = (await ctx.network.nodes.B.getInfo()).block_height;
  let resolvedAt: number | undefined;
  const attempt = payAlongHint(ctx, invoice, 5_000_000n, 10_000_000n);
  const logged = async (event: string) => (await htlcLog(ctx.databaseUrl, invoice.paymentHash)).find((e) => e.event === event);
  await waitFor(() => logged('accepted'), { what: 'lnmux to hold the half at A', timeoutMs: 60_000, intervalMs: 250, retryErrors: true });
  let height = startHeight;
  while (resolvedAt === undefined && height < startHeight + 70) {
    height = await ctx.network.mine(1);
    // Give A, lnmux and B time to see the block and answer before the next one.
    if (await settlesWithin(attempt, 1_500)) resolvedAt = height;
  }
  const result = await attempt;
  const failed = await waitFor(() => logged('failed'), { what: 'the failure in lnmux\'s HTLC log', timeoutMs: 60_000, intervalMs: 250, retryErrors: true });
  ctx.obs['heldPartNearAutoFail'] = {
    blocksMined: (resolvedAt ?? height) - startHeight,
    status: result.status,
    failure: describeFailure(result.failure),
    loggedReason: failed.reason,
  };
  expectThat(result.status === 'FAILED' && result.failure?.code === 'INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS' && result.failure.failure_source_index === 2,
    `a part held near its node's auto-fail height is failed by lnmux as the final hop (${JSON.stringify(ctx.obs['heldPartNearAutoFail'])})`);
  expectThat((resolvedAt ?? height) - startHeight < 61,
    `lnmux failed the part before A's auto-fail height (${JSON.stringify(ctx.obs['heldPartNearAutoFail'])})`);
}

/** lnmux's HTLC log for one payment hash (lnmux.htlc_log). */
async function htlcLog(databaseUrl: string, paymentHashHex: string): Promise<{ event: string; reason: string | null }[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ event: string; reason: string | null }>(
      'SELECT event, reason FROM lnmux.htlc_log WHERE hash = $1 ORDER BY at', [Buffer.from(paymentHashHex, 'hex')]);
    return rows;
  } finally {
    await client.end();
  }
}

/** The invoice's state in lnmux's database (lnmux.invoices.state), or undefined if absent. */
async function invoiceState(databaseUrl: string, paymentHashHex: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ state: string }>('SELECT state FROM lnmux.invoices WHERE hash = $1', [Buffer.from(paymentHashHex, 'hex')]);
    return rows[0]?.state;
  } finally {
    await client.end();
  }
}

/**
 * lnmux killed after it committed the settle decision and before its SETTLE reached LND, then restarted:
 * lnmux reaches A through a TCP proxy whose lnmux-to-A direction is frozen once B pays, so the offer
 * arrives and the decision is committed (invoice state `settleCommitted`) while the SETTLE stays in the
 * proxy; lnmux is SIGKILLed and the proxy drops what it held. A keeps the HTLC (--requireinterceptor) and
 * offers it again to the restarted lnmux, which must settle it from the database.
 */
async function restartBetweenCommitAndSettle(ctx: Ctx): Promise<void> {
  await ctx.lnmux.stop();
  const proxy = await TcpProxy.start(ctx.network.nodes.A.endpoint.address);
  const proxiedConfig = ctx.writeConfig(join(ctx.network.dir, 'multiplexer-proxied.yml'), (name) => (name === 'A' ? proxy.address : ctx.network.nodes[name].endpoint.address));
  const daemon = new LnmuxDaemon(proxiedConfig, join(ctx.network.dir, 'lnmux-proxied.log'));
  try {
    await daemon.start(clusterNodes(ctx.network));
    const invoice = await addInvoice(ctx.configPath, 30_000n, 'regtest restart between commit and settle');
    proxy.freezeUpstream();
    const toA = await ctx.network.channelFromB('A');
    const payment = payInvoice(ctx.network.nodes.B.rpc, invoice.paymentRequest, { timeoutSeconds: 60, maxParts: 1, outgoingChanIds: [toA.chan_id] });
    ctx.obs['restart.stateBeforeKill'] = await waitFor(async () => {
      const state = await invoiceState(ctx.databaseUrl, invoice.paymentHash);
      return state === 'settleCommitted' || state === 'settled' ? state : undefined;
    }, { what: 'the settle decision committed', timeoutMs: 60_000, intervalMs: 100, retryErrors: true });
    await daemon.kill();
    proxy.dropAll();
    proxy.thaw();
    ctx.obs['restart.heldWhileLnmuxDown'] = !(await settlesWithin(payment.done, 3_000));
    expectThat(ctx.obs['restart.stateBeforeKill'] === 'settleCommitted', 'the SETTLE did not reach A before the kill (the proxy held it)');
    await daemon.start(clusterNodes(ctx.network));
    const final = await payment.done;
    ctx.obs['restart.afterRestart'] = summary(final);
    expectThat(final.status === 'SUCCEEDED', `the committed set settles after lnmux restarts (${JSON.stringify(summary(final))})`);
    ctx.obs['restart.finalState'] = await waitFor(async () => {
      const state = await invoiceState(ctx.databaseUrl, invoice.paymentHash);
      return state === 'settled' ? state : undefined;
    }, { what: 'the invoice settled in the database', timeoutMs: 30_000, intervalMs: 250, retryErrors: true }).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  } finally {
    await daemon.stop();
    await proxy.close();
  }
}
