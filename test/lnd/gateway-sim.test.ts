/**
 * The gateway against the LND-compatible simulator (src/sim): real gRPC over TLS with each node's
 * own certificate and macaroon, the payer paying through the cluster with real onions, LND's
 * `--requireinterceptor` replays across a node restart. No timed assertions.
 */
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { startCluster, type ClusterOptions, type SimCluster } from '../../src/sim/cluster.js';
import { NodeGateway, type GatewayEvent, type NodeGatewayConfig } from '../../src/lnd/node-gateway.js';
import { EventLog, isHtlc, isState } from './support/event-log.js';
import { virtualInvoice, virtualOffer } from './support/sim-payments.js';
import { waitUntil } from '../support/wait.js';

const FAST = { initialMs: 5, maxMs: 50, multiplier: 2, jitter: 0.5 };
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cluster(options: ClusterOptions = {}): Promise<SimCluster> {
  const c = await startCluster({ nodes: 1, ...options });
  cleanups.push(() => c.stop());
  return c;
}

function gatewayFor(c: SimCluster, index: number, config: Partial<NodeGatewayConfig> = {}): { gateway: NodeGateway; log: EventLog } {
  const info = c.node(index).info;
  const gateway = new NodeGateway({
    address: info.address,
    tlsCert: info.certPath,
    macaroon: info.macaroonPath,
    // The simulator's certificate, like LND's, names localhost (and 127.0.0.1); Node refuses an IP as TLS server name.
    tlsServerName: 'localhost',
    pubkey: info.pubkey,
    network: 'regtest',
    backoff: FAST,
    ...config,
  });
  const log = new EventLog(gateway);
  gateway.start();
  cleanups.push(() => gateway.stop());
  return { gateway, log };
}

/** Settles HTLCs for the virtual channel whose preimage it knows, resumes every other forward. */
function answer(gateway: NodeGateway, log: EventLog, virtualScid: bigint, preimages: Map<string, Uint8Array>): void {
  void (async () => {
    for (;;) {
      const { htlc } = await log.next(isHtlc);
      const preimage = preimages.get(bytesToHex(htlc.paymentHash));
      if (htlc.nextHop.kind === 'channel' && htlc.nextHop.chanId === virtualScid && preimage) {
        await gateway.send({ kind: 'settle', circuitKey: htlc.circuitKey, preimage });
      } else if (htlc.nextHop.kind === 'channel' && htlc.nextHop.chanId === virtualScid) {
        await gateway.send({ kind: 'failWithCode', circuitKey: htlc.circuitKey, code: 'TEMPORARY_CHANNEL_FAILURE' });
      } else {
        await gateway.send({ kind: 'resume', circuitKey: htlc.circuitKey });
      }
    }
  })();
}

describe('gateway and simulator', () => {
  it('as a standby connects, checks and follows blocks without registering an interceptor; intercept(true) registers it on the same connection, intercept(false) frees the slot', async () => {
    const c = await cluster();
    const { gateway, log } = gatewayFor(c, 0, { intercept: false });
    await log.next(isState('ready'));
    await log.next((e) => e.kind === 'stream' && e.stream === 'interceptor' && e.state.kind === 'standby');
    await log.next((e) => e.kind === 'block');
    expect(c.node(0).interceptorConnected).toBe(false);
    expect(gateway.intercepting).toBe(false);

    gateway.intercept(true);
    await waitUntil(() => c.node(0).interceptorConnected, { what: 'the interceptor registered at the node', intervalMs: 5 });
    const invoice = virtualInvoice(c, 21_000n);
    answer(gateway, log, c.node(0).virtualScid, new Map([[bytesToHex(invoice.paymentHash), invoice.preimage]]));
    expect((await c.payer.pay(invoice.paymentRequest)).status).toBe('succeeded');

    gateway.intercept(false);
    await waitUntil(() => !c.node(0).interceptorConnected, { what: 'the interceptor gone from the node', intervalMs: 5 });
    expect(gateway.state.kind).toBe('ready');
    // The session lived on: one connection, checked once (no 'connecting' after the first).
    expect(log.events.filter((e) => e.kind === 'state' && e.state.kind === 'connecting')).toHaveLength(1);
    gateway.intercept(true);
    await waitUntil(() => c.node(0).interceptorConnected, { what: 'the interceptor registered at the node', intervalMs: 5 });
  });

  it('settles a payment the payer makes to a virtual invoice, and the final event arrives', async () => {
    const c = await cluster();
    const { gateway, log } = gatewayFor(c, 0);
    await log.next(isState('ready'));
    await log.next((e) => e.kind === 'finalHtlcSubscribed');
    await waitUntil(() => c.node(0).interceptorConnected, { what: 'the interceptor registered at the node', intervalMs: 5 });
    const invoice = virtualInvoice(c, 42_000n);
    answer(gateway, log, c.node(0).virtualScid, new Map([[bytesToHex(invoice.paymentHash), invoice.preimage]]));

    const result = await c.payer.pay(invoice.paymentRequest);
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    const part = result.parts[0]!;
    const final = await log.next((e) => e.kind === 'finalHtlc');
    expect(final).toMatchObject({ event: { circuitKey: { chanId: part.chanId, htlcId: part.htlcId }, settled: true, offchain: true } });
    expect(await gateway.lookupHtlcResolution({ chanId: part.chanId!, htlcId: part.htlcId! })).toEqual({
      ok: true,
      value: { kind: 'final', settled: true, offchain: true },
    });
  });

  it('resumes a regular forward, which then reaches its recipient', async () => {
    const c = await cluster();
    const { gateway, log } = gatewayFor(c, 0);
    await log.next(isState('ready'));
    await waitUntil(() => c.node(0).interceptorConnected, { what: 'the interceptor registered at the node', intervalMs: 5 });
    answer(gateway, log, c.node(0).virtualScid, new Map());
    const invoice = c.recipientInvoice(0, 10_000n);
    const result = await c.payer.pay(invoice.paymentRequest);
    expect(result.status).toBe('succeeded');
    const offered = log.events.find((e): e is Extract<GatewayEvent, { kind: 'htlc' }> => isHtlc(e));
    expect(offered?.htlc.nextHop).toEqual({ kind: 'channel', chanId: c.recipientChannelId(0) });
  });

  it('gets a held HTLC again, same circuit key, after the node restarts, and the payment completes', async () => {
    const c = await cluster();
    const { gateway, log } = gatewayFor(c, 0);
    await log.next(isState('ready'));
    await waitUntil(() => c.node(0).interceptorConnected, { what: 'the interceptor registered at the node', intervalMs: 5 });
    const { offer, preimage } = virtualOffer(c, 0, 20_000n);
    const added = c.node(0).addHtlc(c.payerChannelId(0), offer);
    expect(added.ok).toBe(true);
    if (!added.ok) return;
    const first = await log.next(isHtlc); // held, not answered
    expect(first.htlc.circuitKey).toEqual({ chanId: c.payerChannelId(0), htlcId: added.htlcId });

    const mark = log.mark();
    await c.node(0).restart();
    const replay = await log.next(isHtlc, mark);
    expect(replay.htlc.circuitKey).toEqual(first.htlc.circuitKey);
    expect(replay.htlc.onionBlob).toEqual(first.htlc.onionBlob);
    await log.next((e) => e.kind === 'finalHtlcSubscribed', mark);
    expect((await gateway.send({ kind: 'settle', circuitKey: replay.htlc.circuitKey, preimage })).ok).toBe(true);
    expect(await added.resolution).toEqual({ kind: 'fulfill', preimage: new Uint8Array(preimage) });
    expect(await log.next((e) => e.kind === 'finalHtlc')).toMatchObject({ event: { circuitKey: first.htlc.circuitKey, settled: true } });
  });

  const refusals: Array<[string, ClusterOptions, (c: SimCluster) => Partial<NodeGatewayConfig>, (c: SimCluster) => object]> = [
    [
      'a node whose pubkey is not the configured one, naming both',
      { nodes: 2 },
      (c) => ({ pubkey: c.node(1).info.pubkey }),
      (c) => ({ kind: 'pubkeyMismatch', configured: c.node(1).info.pubkey, reported: c.node(0).info.pubkey }),
    ],
    ['a node on another network', { network: 'signet' }, () => ({}), () => ({ kind: 'networkMismatch', configured: 'regtest', reported: 'signet' })],
    ['a node without --requireinterceptor', { requireInterceptor: false }, () => ({}), () => ({ kind: 'interceptorNotRequired' })],
    ['a node without --store-final-htlc-resolutions', { storeFinalHtlcResolutions: false }, () => ({}), () => ({ kind: 'finalResolutionsNotStored' })],
    ['an LND too old', { lndVersion: '0.20.1-beta' }, () => ({}), () => ({ kind: 'versionTooOld', version: '0.20.1-beta', minimum: '0.20.2' })],
    [
      'a node that refuses our macaroon',
      { nodes: 2 },
      (c) => ({ macaroon: c.node(1).info.macaroonPath }),
      () => ({ kind: 'unauthenticated', method: 'GetVersion' }),
    ],
    [
      "a macaroon that lacks the interceptor's permission (LND's readonly.macaroon)",
      {},
      (c) => ({ macaroon: join(dirname(c.node(0).info.macaroonPath), 'readonly.macaroon') }),
      () => ({ kind: 'macaroonLacksPermission', methods: ['/routerrpc.Router/HtlcInterceptor'], details: 'permission denied' }),
    ],
  ];

  for (const [name, options, config, reason] of refusals) {
    it(`refuses ${name}, and retries it`, async () => {
      const c = await cluster(options);
      const { log } = gatewayFor(c, 0, config(c));
      const refused = await log.next(isState('refused'));
      expect(refused.state.reasons).toHaveLength(1);
      expect(refused.state.reasons[0]).toMatchObject(reason(c));
      await log.next(isState('backoff'));
      await log.next(isState('refused')); // retried
      expect(c.node(0).interceptorConnected).toBe(false);
    });
  }
});
