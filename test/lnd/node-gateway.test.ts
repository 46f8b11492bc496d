/**
 * The gateway against an LND-like gRPC server over real TLS on loopback (test/lnd/support/fake-lnd.ts,
 * a stand-in for the simulator). No timed assertions: every wait is for an event, bounded only by the
 * test timeout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLndConnection } from '../../src/lnd/connection.js';
import { type InterceptedHtlc } from '../../src/lnd/convert.js';
import { FAILURE_PACKET_LENGTH } from '../../src/protocol/index.js';
import { openInterceptorStream } from '../../src/lnd/interceptor-stream.js';
import { NodeGateway, type GatewayEvent, type NodeGatewayConfig } from '../../src/lnd/node-gateway.js';
import { EventLog, isHtlc, isState, isStream } from './support/event-log.js';
import { FakeLnd, keyOf, type FakeLndOptions } from './support/fake-lnd.js';
import { ManualClock } from './support/manual-clock.js';
import { makeTlsFiles, type TlsFiles } from './support/tls.js';

const PUBKEY = `02${'ab'.repeat(32)}`;
const OTHER = `03${'cd'.repeat(32)}`;
const MACAROON = randomBytes(64);
const FAST = { initialMs: 5, maxMs: 50, multiplier: 2, jitter: 0.5 };

let tls: TlsFiles;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  tls = makeTlsFiles();
});
afterAll(() => tls.remove());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startFake(options: Partial<FakeLndOptions> = {}): Promise<FakeLnd> {
  const fake = await FakeLnd.start({ tls, macaroon: MACAROON, pubkey: PUBKEY, ...options });
  cleanups.push(() => fake.stop());
  return fake;
}

function startGateway(fake: FakeLnd, config: Partial<NodeGatewayConfig> = {}): { gateway: NodeGateway; log: EventLog } {
  const gateway = new NodeGateway({
    address: fake.address,
    tlsCert: tls.certPath,
    macaroon: MACAROON,
    tlsServerName: 'localhost',
    pubkey: PUBKEY,
    network: 'regtest',
    backoff: FAST,
    ...config,
  });
  const log = new EventLog(gateway);
  gateway.start();
  cleanups.push(() => gateway.stop());
  return { gateway, log };
}

function payment(): { preimage: Uint8Array; paymentHash: Uint8Array } {
  const preimage = randomBytes(32);
  return { preimage, paymentHash: createHash('sha256').update(preimage).digest() };
}

const htlcWithKey = (chanId: bigint, htlcId: bigint) => (e: GatewayEvent): e is Extract<GatewayEvent, { kind: 'htlc' }> =>
  isHtlc(e) && e.htlc.circuitKey.chanId === chanId && e.htlc.circuitKey.htlcId === htlcId;

async function ready(fake: FakeLnd, log: EventLog): Promise<void> {
  await log.next(isState('ready'));
  await fake.until(() => fake.interceptorConnected, 'the interceptor registered at the fake LND');
}

describe('checks before intercepting', () => {
  it('becomes ready when the node passes every check, with what GetInfo said', async () => {
    const fake = await startFake();
    const { log } = startGateway(fake);
    const event = await log.next(isState('ready'));
    expect(event.state).toMatchObject({
      kind: 'ready',
      info: { identityPubkey: PUBKEY, network: 'regtest', requireHtlcInterceptor: true, storeFinalHtlcResolutions: true },
      version: { major: 0, minor: 21, patch: 2 },
    });
    expect(log.stateKinds().slice(0, 3)).toEqual(['connecting', 'checking', 'ready']);
  });

  it("knows the node's height from GetInfo when it becomes ready, before any block epoch or interceptor stream", async () => {
    const fake = await startFake();
    fake.height = 812_345;
    const { gateway, log } = startGateway(fake);
    let atReady: number | undefined;
    gateway.onState((state) => {
      if (state.kind === 'ready') atReady = gateway.blockHeight;
    });
    await log.next(isState('ready'));
    expect(atReady).toBe(812_345);
  });

  const refusals: Array<[string, Partial<FakeLndOptions>, Partial<NodeGatewayConfig>, object]> = [
    ['a node with another pubkey, naming both', { pubkey: OTHER }, {}, { kind: 'pubkeyMismatch', configured: PUBKEY, reported: OTHER }],
    ['a node on another network', { network: 'testnet' }, {}, { kind: 'networkMismatch', configured: 'regtest', reported: 'testnet' }],
    ['a node without --requireinterceptor', { requireInterceptor: false }, {}, { kind: 'interceptorNotRequired' }],
    ['a node without --store-final-htlc-resolutions', { storeFinalHtlcResolutions: false }, {}, { kind: 'finalResolutionsNotStored' }],
    [
      'an LND too old (0.21.0 lacks the on-chain settle fix)',
      { version: { major: 0, minor: 21, patch: 0 } },
      {},
      { kind: 'versionTooOld', version: '0.21.0-beta', minimum: '0.21.1' },
    ],
    [
      'a node that refuses our macaroon',
      {},
      { macaroon: randomBytes(64) },
      { kind: 'unauthenticated', method: 'GetVersion', details: 'verification failed: signature mismatch after caveat verification' },
    ],
  ];

  for (const [name, fakeOptions, gatewayConfig, reason] of refusals) {
    it(`refuses ${name}, and retries it`, async () => {
      const fake = await startFake(fakeOptions);
      const { log } = startGateway(fake, gatewayConfig);
      const refused = await log.next(isState('refused'));
      expect(refused.state.reasons).toEqual([reason]);
      const backoff = await log.next(isState('backoff'));
      expect(backoff.state).toMatchObject({ attempt: 1, cause: { kind: 'refused', reasons: [reason] } });
      // Retried, not given up on:
      expect((await log.next(isState('connecting'))).state).toEqual({ kind: 'connecting', attempt: 1 });
      await log.next(isState('refused'));
      expect(fake.interceptorConnected).toBe(false);
    });
  }

  it('becomes ready once a refused node is fixed', async () => {
    const fake = await startFake({ requireInterceptor: false });
    const { log } = startGateway(fake);
    await log.next(isState('refused'));
    fake.requireInterceptor = true;
    await ready(fake, log);
  });

  it('does not let a failing node stop another one', async () => {
    const bad = await startFake({ network: 'signet' });
    const good = await startFake();
    const failing = startGateway(bad);
    const working = startGateway(good);
    await ready(good, working.log);
    const { preimage, paymentHash } = payment();
    good.offer({ chanId: 9n, htlcId: 0n, paymentHash });
    const offered = await working.log.next(isHtlc);
    expect(await working.gateway.send({ kind: 'settle', circuitKey: offered.htlc.circuitKey, preimage })).toEqual({ ok: true, value: undefined });
    await good.until(() => good.finals.get(keyOf(9n, 0n))?.settled === true, 'HTLC 9:0 settled at the good node');
    // Meanwhile the other node keeps being refused and retried.
    await failing.log.next(isState('refused'));
    await failing.log.next(isState('refused'));
  });

  it('cannot reach a node by IP address when the certificate names localhost, unless told the name', async () => {
    const fake = await startFake();
    const { log } = startGateway(fake, { tlsServerName: undefined });
    const backoff = await log.next(isState('backoff'));
    expect(backoff.state.cause).toMatchObject({ kind: 'rpcFailed', method: 'GetVersion', failure: { kind: 'unavailable' } });
  });

  it('reports an unreadable certificate file as a config problem and retries', async () => {
    const fake = await startFake();
    const { log } = startGateway(fake, { tlsCert: `${tls.dir}/missing.cert` });
    const backoff = await log.next(isState('backoff'));
    expect(backoff.state.cause).toMatchObject({ kind: 'configUnreadable' });
    expect(backoff.state.cause.kind === 'configUnreadable' && backoff.state.cause.details).toMatch(/^tlsCert: cannot read file/);
    await log.next(isState('connecting'));
  });

  it('backs off by the delays drawn from the injected random and clock, growing to the cap', async () => {
    const clock = new ManualClock();
    const fake = await startFake({ network: 'testnet' });
    const { log } = startGateway(fake, {
      clock,
      random: () => 0.5,
      backoff: { initialMs: 100, maxMs: 400, multiplier: 2, jitter: 0.5 },
    });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const backoff = await log.next(isState('backoff'));
      delays.push(backoff.state.attemptMs);
      // Nothing happens until the clock moves by the delay.
      expect(clock.pending).toEqual([backoff.state.attemptMs]);
      if (i === 3) fake.network = 'regtest';
      clock.advance(backoff.state.attemptMs);
    }
    // base 100, 200, 400, 400 (cap), less a quarter (jitter 0.5 x draw 0.5)
    expect(delays).toEqual([75, 150, 300, 300]);
    await ready(fake, log);
  });
});

describe('interceptor stream', () => {
  it('offers a held HTLC, carries the SETTLE, and the final event and the lookup confirm it', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake);
    await ready(fake, log);
    await log.next((e) => e.kind === 'finalHtlcSubscribed');
    const { preimage, paymentHash } = payment();
    fake.offer({ chanId: 0x8000_0000_0000_0005n, htlcId: 3n, paymentHash, amountMsat: 5_000n, customRecords: new Map([[65537n, Uint8Array.from([1, 2])]]) });
    const { htlc } = await log.next(isHtlc);
    expect(htlc).toMatchObject<Partial<InterceptedHtlc>>({
      circuitKey: { chanId: 0x8000_0000_0000_0005n, htlcId: 3n },
      outgoingAmountMsat: 5_000n,
      incomingAmountMsat: 5_001n,
      paymentHash: new Uint8Array(paymentHash),
    });
    expect([...htlc.customRecords]).toEqual([[65537n, Uint8Array.from([1, 2])]]);

    expect(await gateway.send({ kind: 'settle', circuitKey: htlc.circuitKey, preimage })).toEqual({ ok: true, value: undefined });
    const final = await log.next((e) => e.kind === 'finalHtlc');
    expect(final).toMatchObject({ node: PUBKEY, event: { circuitKey: htlc.circuitKey, settled: true, offchain: true } });
    expect(await gateway.lookupHtlcResolution(htlc.circuitKey)).toEqual({ ok: true, value: { kind: 'final', settled: true, offchain: true } });
    expect(await gateway.lookupHtlcResolution({ chanId: 1n, htlcId: 1n })).toEqual({ ok: true, value: { kind: 'notFound' } });
  });

  it('carries FAIL with a failure message, FAIL with a code, and RESUME', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake);
    await ready(fake, log);
    for (let i = 0n; i < 3n; i++) fake.offer({ chanId: 7n, htlcId: i, paymentHash: payment().paymentHash });
    const failureMessage = new Uint8Array(FAILURE_PACKET_LENGTH).fill(0x42);
    const answers = [
      { kind: 'failWithMessage', circuitKey: { chanId: 7n, htlcId: 0n }, failureMessage },
      { kind: 'failWithCode', circuitKey: { chanId: 7n, htlcId: 1n }, code: 'INVALID_ONION_HMAC' },
      { kind: 'resume', circuitKey: { chanId: 7n, htlcId: 2n } },
    ] as const;
    for (const answer of answers) {
      await log.next(htlcWithKey(answer.circuitKey.chanId, answer.circuitKey.htlcId));
      expect((await gateway.send(answer)).ok).toBe(true);
    }
    await fake.until(() => fake.resolutions.length === 3, 'three resolutions at the fake LND');
    expect(fake.resolutions[0]).toMatchObject({ key: '7:0', action: 'FAIL', failureCode: 'RESERVED' });
    expect(new Uint8Array((fake.resolutions[0] as { failureMessage: Buffer }).failureMessage)).toEqual(failureMessage);
    expect(fake.resolutions[1]).toMatchObject({ key: '7:1', action: 'FAIL', failureCode: 'INVALID_ONION_HMAC' });
    expect(fake.resolutions[2]).toEqual({ key: '7:2', action: 'RESUME' });
  });

  it('reconnects every stream after the node restarts', async () => {
    const fake = await startFake();
    const { log } = startGateway(fake);
    await ready(fake, log);
    await log.next(isStream('blocks', 'open'));
    const mark = log.mark();
    await fake.restart();
    for (const stream of ['interceptor', 'blocks', 'htlcEvents']) {
      const backoff = await log.next(isStream(stream, 'backoff'), mark);
      // A crashed LND: UNAVAILABLE, or CANCELLED when the server resets the streams as it goes down.
      expect(backoff.state).toMatchObject({ kind: 'backoff', end: { kind: 'failed' } });
    }
    await fake.until(() => fake.interceptorConnected, 'the interceptor registered at the fake LND');
    fake.mineBlock();
    const block = await log.next((e) => e.kind === 'block' && e.block.height === fake.height);
    expect(block).toMatchObject({ node: PUBKEY });
  });

  it('gets the held HTLCs again, same circuit keys, after the node restarts, and settles them', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake);
    await ready(fake, log);
    const payments = [payment(), payment()];
    payments.forEach((p, i) => fake.offer({ chanId: 11n, htlcId: BigInt(i), paymentHash: p.paymentHash }));
    await log.next(htlcWithKey(11n, 0n));
    await log.next(htlcWithKey(11n, 1n));

    await fake.restart(); // LND keeps the HTLCs held across its restart (--requireinterceptor)
    await log.next(isStream('interceptor', 'backoff'));
    const replays = [await log.next(htlcWithKey(11n, 0n)), await log.next(htlcWithKey(11n, 1n))];
    expect(fake.offers.get('11:0')).toBe(2);
    expect(fake.offers.get('11:1')).toBe(2);
    for (const [i, replay] of replays.entries()) {
      expect(replay.htlc.paymentHash).toEqual(new Uint8Array(payments[i]!.paymentHash));
      expect((await gateway.send({ kind: 'settle', circuitKey: replay.htlc.circuitKey, preimage: payments[i]!.preimage })).ok).toBe(true);
    }
    await fake.until(() => fake.finals.size === 2, 'two HTLCs final at the fake LND');
    expect([...fake.finals.values()].every((f) => f.settled)).toBe(true);
  });

  it('gets the held HTLC again after the node ended the stream over a response it refused', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake);
    await ready(fake, log);
    const { preimage, paymentHash } = payment();
    fake.offer({ chanId: 12n, htlcId: 0n, paymentHash });
    const { htlc } = await log.next(isHtlc);
    await gateway.send({ kind: 'settle', circuitKey: htlc.circuitKey, preimage: randomBytes(32) }); // wrong preimage
    const backoff = await log.next(isStream('interceptor', 'backoff'));
    expect(backoff.state).toMatchObject({ end: { kind: 'failed', failure: { kind: 'other', details: 'preimage does not match hash' } } });
    const replay = await log.next(htlcWithKey(12n, 0n));
    expect((await gateway.send({ kind: 'settle', circuitKey: replay.htlc.circuitKey, preimage })).ok).toBe(true);
    await fake.until(() => fake.finals.get('12:0')?.settled === true, 'HTLC 12:0 settled at the fake LND');
  });

  it('waits while another interceptor holds the node, then takes over and gets the held HTLCs', async () => {
    const fake = await startFake();
    const other = openLndConnection({ address: fake.address, tlsCert: tls.cert, macaroon: MACAROON, tlsServerName: 'localhost' });
    cleanups.push(() => other.close());
    const otherStream = openInterceptorStream(other);
    await fake.until(() => fake.interceptorConnected, 'the interceptor registered at the fake LND');
    fake.offer({ chanId: 13n, htlcId: 0n, paymentHash: payment().paymentHash });

    const { log } = startGateway(fake);
    const backoff = await log.next(isStream('interceptor', 'backoff'));
    expect(backoff.state).toMatchObject({ end: { kind: 'failed', failure: { kind: 'interceptorAlreadyExists' } } });
    otherStream.cancel('stopped');
    const replay = await log.next(htlcWithKey(13n, 0n));
    expect(replay.node).toBe(PUBKEY);
  });
});

describe('stream acceptance', () => {
  const isAccepted =
    (stream: string) =>
    (e: GatewayEvent): boolean =>
      e.kind === 'stream' && e.stream === stream && e.state.kind === 'open' && e.state.accepted;

  it('reports a stream accepted only once LND accepted it: a refused interceptor call never is', async () => {
    const fake = await startFake();
    const other = openLndConnection({ address: fake.address, tlsCert: tls.cert, macaroon: MACAROON, tlsServerName: 'localhost' });
    cleanups.push(() => other.close());
    const otherStream = openInterceptorStream(other);
    await fake.until(() => fake.interceptorConnected, 'the interceptor registered at the fake LND');

    const { log } = startGateway(fake);
    const backoff = await log.next(isStream('interceptor', 'backoff'));
    expect(backoff.state).toMatchObject({ end: { kind: 'failed', failure: { kind: 'interceptorAlreadyExists' } } });
    const before = log.events.slice(0, log.events.indexOf(backoff));
    expect(before.some((e) => e.kind === 'stream' && e.stream === 'interceptor' && e.state.kind === 'open' && !e.state.accepted)).toBe(true);
    expect(before.some(isAccepted('interceptor'))).toBe(false);

    otherStream.cancel('stopped');
    await log.next(isAccepted('interceptor'));
    expect(fake.interceptorConnected).toBe(true);
  });

  it('reports a stream accepted once its first message arrives', async () => {
    const fake = await startFake();
    const { log } = startGateway(fake);
    await ready(fake, log);
    fake.mineBlock(); // LND's block stream sends the best block at once; the fake's at the next block
    await log.next(isAccepted('blocks'));
  });
});

describe('response delivery', () => {
  it('reports a response as not sent when no interceptor stream is open', async () => {
    const fake = await startFake({ requireInterceptor: false });
    const { gateway, log } = startGateway(fake);
    await log.next(isState('refused'));
    expect(await gateway.send({ kind: 'resume', circuitKey: { chanId: 1n, htlcId: 1n } })).toEqual({
      ok: false,
      error: { kind: 'notConnected' },
    });
    expect(await gateway.lookupHtlcResolution({ chanId: 1n, htlcId: 1n })).toEqual({ ok: false, error: { kind: 'notConnected' } });
    // A response LND would refuse for its shape is a programming error, connected or not.
    expect(() => gateway.send({ kind: 'settle', circuitKey: { chanId: 1n, htlcId: 1n }, preimage: new Uint8Array(31) })).toThrow(RangeError);
  });

  it('reports a response on a stream the node has ended as not sent, with how it ended', async () => {
    const fake = await startFake();
    const connection = openLndConnection({ address: fake.address, tlsCert: tls.cert, macaroon: MACAROON, tlsServerName: 'localhost' });
    cleanups.push(() => connection.close());
    const stream = openInterceptorStream(connection);
    await fake.until(() => fake.interceptorConnected, 'the interceptor registered at the fake LND');
    fake.failInterceptor('interceptable switch quit');
    const end = await stream.ended;
    expect(end).toMatchObject({ kind: 'failed', failure: { kind: 'other', details: 'interceptable switch quit' } });
    expect(await stream.send({ kind: 'resume', circuitKey: { chanId: 1n, htlcId: 2n } })).toEqual({
      ok: false,
      error: { kind: 'streamEnded', end },
    });
  });

  it('reports writes the node does not take in time, then treats the stream as stuck and reconnects', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake, { writeTimeoutMs: 200 });
    await ready(fake, log);
    fake.pauseInterceptorReads(); // LND stops reading: HTTP/2 flow control soon stalls our writes
    const failureMessage = new Uint8Array(FAILURE_PACKET_LENGTH);
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50_000 && gateway.streamState('interceptor').kind === 'open'; i++) {
      sends.push(gateway.send({ kind: 'failWithMessage', circuitKey: { chanId: 14n, htlcId: BigInt(i) }, failureMessage }));
      if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const results = (await Promise.all(sends)) as Array<{ ok: boolean; error?: { kind: string } }>;
    expect(results.some((r) => !r.ok && r.error?.kind === 'writeTimeout')).toBe(true);
    // Every response is reported one way or the other, none is left pending.
    expect(results.every((r) => r.ok || ['writeTimeout', 'streamEnded', 'notConnected'].includes(r.error!.kind))).toBe(true);
    const backoff = await log.next(isStream('interceptor', 'backoff'));
    expect(backoff.state).toMatchObject({ end: { kind: 'cancelled', reason: 'stuck' } });
    await log.next(isStream('interceptor', 'open'));
    await fake.until(() => fake.interceptorConnected, 'the interceptor registered at the fake LND');
  });
});

describe('stuck streams and probes', () => {
  it('restarts a block stream that stays behind the height GetInfo reports', async () => {
    const fake = await startFake();
    const { log } = startGateway(fake, { probeIntervalMs: 20 });
    await ready(fake, log);
    await log.next((e) => e.kind === 'block');
    fake.height += 3; // the node moved on, but its block stream said nothing
    const backoff = await log.next(isStream('blocks', 'backoff'));
    expect(backoff.state).toMatchObject({ end: { kind: 'cancelled', reason: 'stuck' } });
    const block = await log.next((e) => e.kind === 'block');
    expect(block.kind === 'block' && block.block.height).toBe(fake.height);
  });

  it('leaves a node that a probe finds restarted without --requireinterceptor', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake, { probeIntervalMs: 20 });
    await ready(fake, log);
    fake.requireInterceptor = false;
    await log.next(isStream('interceptor', 'closed'));
    const refused = await log.next(isState('refused'));
    expect(refused.state.reasons).toEqual([{ kind: 'interceptorNotRequired' }]);
    await fake.until(() => !fake.interceptorConnected, 'the interceptor gone from the fake LND');
    expect(gateway.streamState('interceptor')).toEqual({ kind: 'closed' });
  });
});

describe('stop', () => {
  it('cancels every stream, the node sees the interceptor leave, and the events end with stopped', async () => {
    const fake = await startFake();
    const { gateway, log } = startGateway(fake);
    await ready(fake, log);
    await gateway.stop();
    await fake.until(() => !fake.interceptorConnected, 'the interceptor gone from the fake LND');
    await log.done;
    expect(log.stateKinds().at(-1)).toBe('stopped');
    for (const stream of ['interceptor', 'blocks', 'htlcEvents'] as const) {
      expect(gateway.streamState(stream)).toEqual({ kind: 'closed' });
    }
    await gateway.stop(); // idempotent
    expect(() => gateway.start()).toThrow(/already started or stopped/);
  });

  it('stops while backing off without waiting for the delay', async () => {
    const clock = new ManualClock();
    const fake = await startFake({ network: 'testnet' });
    const { gateway, log } = startGateway(fake, { clock });
    await log.next(isState('backoff'));
    await gateway.stop(); // the clock never moves: only the abort can end the sleep
    expect(gateway.state).toEqual({ kind: 'stopped' });
  });
});

describe('configuration', () => {
  const base = { address: '127.0.0.1:10009', tlsCert: new Uint8Array(), macaroon: new Uint8Array(), pubkey: PUBKEY, network: 'regtest' };

  it('names the field of a bad config', () => {
    expect(() => new NodeGateway({ ...base, pubkey: 'xyz' })).toThrow(/^pubkey:/);
    expect(() => new NodeGateway({ ...base, network: '' })).toThrow(/^network:/);
    expect(() => new NodeGateway({ ...base, address: 'localhost' })).toThrow(/^address:/);
    expect(() => new NodeGateway({ ...base, probeIntervalMs: 0 })).toThrow(/^probeIntervalMs:/);
    expect(() => new NodeGateway({ ...base, backoff: { maxMs: 1 } })).toThrow(/backoff.maxMs/);
  });
});
