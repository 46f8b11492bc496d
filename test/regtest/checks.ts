/**
 * What real LND does, observed on the regtest network without lnmux. Each check
 * records what it saw in `Observations` (written to JSON and summarised in docs/regtest.md, "LND
 * behaviour observed"); a few are assertions the run fails on:
 *  - B pays A's own invoice with a RESUME-everything interceptor connected on A;
 *  - an HTLC for a virtual channel is held on A until an interceptor answers, and SETTLE with the
 *    preimage completes B's payment.
 *
 * The virtual channel's HTLCs come from B paying along an explicit route B -> A -> V (lib/virtual-hop.ts),
 * exactly as a payer of an lnmux invoice does through A's route hint.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Network } from './network.js';
import { describeRequest, Interceptor, type InterceptRequest } from './lib/interceptor.js';
import { describeGrpcError, LndRpc } from './lib/lnd-rpc.js';
import { describeFailure, payInvoice, sendToRoute, settlesWithin, type HtlcAttempt, type Payment } from './lib/payments.js';
import { waitFor } from '../support/wait.js';
import { sleep } from './lib/util.js';
import {
  finalHopFailure, incorrectOrUnknownPaymentDetails, newVirtualNode, newVirtualPayment, virtualRoute, virtualScid,
  type VirtualNode, type VirtualPayment,
} from './lib/virtual-hop.js';

/** Observations by check name, JSON-able. */
export type Observations = Record<string, unknown>;

/** A failed expectation of the harness (as opposed to a behaviour merely recorded). */
export class CheckFailed extends Error {
  override name = 'CheckFailed';
}

function expectThat(condition: boolean, message: string): void {
  if (!condition) throw new CheckFailed(message);
}

interface Context {
  readonly network: Network;
  readonly obs: Observations;
  readonly log: (line: string) => void;
  readonly virtual: VirtualNode;
  /** HtlcEvents seen on A, each tagged with the check running when it arrived. */
  readonly htlcEvents: { check: string; event: Record<string, unknown> }[];
  current: string;
}

/** Runs every check in order and returns the observations. Throws CheckFailed on a failed assertion. */
export async function runLndChecks(network: Network, log: (line: string) => void): Promise<Observations> {
  const ctx: Context = { network, obs: {}, log, virtual: newVirtualNode(), htlcEvents: [], current: 'start' };
  const events = subscribeHtlcEvents(ctx);
  const checks: [string, (ctx: Context) => Promise<void>][] = [
    ['getInfo', checkGetInfo],
    ['tlsCertificate', checkTls],
    ['macaroons', checkMacaroons],
    ['ownInvoiceWithoutInterceptor', checkOwnInvoiceWithoutInterceptor],
    ['ownInvoiceWithResumeInterceptor', checkOwnInvoiceWithInterceptor],
    ['virtualHtlcLifecycle', checkVirtualHtlcLifecycle],
    ['resumeToVirtualChannel', checkResume],
    ['failureCodes', checkFailureCodes],
    ['settleAndFinalResolution', checkSettle],
    ['restartWhileHeld', checkRestartWhileHeld],
    ['autoFailHeight', checkAutoFail],
  ];
  try {
    for (const [name, check] of checks) {
      await runOne(ctx, name, check);
    }
  } finally {
    events.cancel();
  }
  ctx.obs['htlcEventsOnA'] = ctx.htlcEvents;
  return ctx.obs;
}

/** Longest a check may run: past it, it is recorded as an unexpected error and the next one runs. */
const CHECK_TIMEOUT_MS = 120_000;

async function runOne(ctx: Context, name: string, check: (ctx: Context) => Promise<void>): Promise<void> {
  ctx.current = name;
  // LND lets go of a cancelled interceptor stream a moment after the client: the next check's interceptor
  // was once refused ("interceptor already exists") and the check after it hung on a payment nobody
  // answered. Each check starts once A's switch has said the previous interceptor disconnected.
  const A = ctx.network.nodes.A;
  const released = await waitFor(async () => (!A.running || !A.interceptorAttachedPerLog() ? true : undefined), {
    what: "A's switch to let go of the previous check's interceptor",
    timeoutMs: 15_000,
    intervalMs: 50,
  }).catch(() => false);
  if (released !== true) ctx.log(`check ${name}: A's log did not show the previous interceptor's disconnect within 15 s; running it anyway`);
  const started = performance.now();
  ctx.log(`check ${name}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`check ${name} still running after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    if (error instanceof CheckFailed) throw error;
    // An unexpected error is itself an observation; the next checks still run.
    const message = error instanceof Error ? error.message : String(error);
    ctx.obs[`${name}.unexpectedError`] = message;
    ctx.log(`check ${name}: unexpected error ${message}`);
  } finally {
    clearTimeout(timer);
  }
  ctx.obs[`${name}.durationMs`] = Math.round(performance.now() - started);
}

function subscribeHtlcEvents(ctx: Context): { cancel: () => void } {
  let cancelled = false;
  let stream: ReturnType<LndRpc['serverStream']> | undefined;
  const attach = (attemptsLeft: number): void => {
    if (cancelled) return;
    let current: ReturnType<LndRpc['serverStream']>;
    try {
      current = ctx.network.nodes.A.rpc.serverStream('router', 'SubscribeHtlcEvents', {});
    } catch {
      // A is down (the restart check): try again every second, for up to two minutes.
      if (attemptsLeft > 0) setTimeout(() => attach(attemptsLeft - 1), 1_000);
      return;
    }
    stream = current;
    current.on('data', (event: Record<string, unknown>) => ctx.htlcEvents.push({ check: ctx.current, event: jsonable(event) as Record<string, unknown> }));
    current.on('error', (error: unknown) => {
      if (cancelled) return;
      ctx.htlcEvents.push({ check: ctx.current, event: { streamError: describeGrpcError(error) } });
      setTimeout(() => attach(120), 1_000);
    });
  };
  attach(0);
  return { cancel: () => { cancelled = true; stream?.cancel(); } };
}

/** Buffers as hex, everything else as is: for the JSON observations. */
function jsonable(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map(jsonable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonable(v)]));
  }
  return value;
}

async function checkGetInfo(ctx: Context): Promise<void> {
  const a = await ctx.network.nodes.A.getInfo();
  const b = await ctx.network.nodes.B.getInfo();
  const { uris: _uris, block_hash: _hash, best_header_timestamp: _ts, ...stable } = a as unknown as Record<string, unknown>;
  ctx.obs['getInfo.A'] = jsonable(stable);
  ctx.obs['getInfo.flags'] = {
    A: { require_htlc_interceptor: a.require_htlc_interceptor, store_final_htlc_resolutions: a.store_final_htlc_resolutions },
    B: { require_htlc_interceptor: b.require_htlc_interceptor, store_final_htlc_resolutions: b.store_final_htlc_resolutions },
  };
  expectThat(a.require_htlc_interceptor && a.store_final_htlc_resolutions, 'A runs with --requireinterceptor and --store-final-htlc-resolutions (GetInfo)');
  expectThat(!b.require_htlc_interceptor && !b.store_final_htlc_resolutions, 'B runs without them (GetInfo)');
  const version = await ctx.network.nodes.A.rpc.call<Record<string, unknown>>('lightning', 'GetDebugInfo', {}).catch((e: unknown) => describeGrpcError(e));
  ctx.obs['getDebugInfo.A.keys'] = Object.keys(version);
}

async function checkTls(ctx: Context): Promise<void> {
  const a = ctx.network.nodes.A;
  const cert = new X509Certificate(readFileSync(a.endpoint.tlsCertPath));
  ctx.obs['tls.subjectAltName'] = cert.subjectAltName;
  ctx.obs['tls.keyType'] = cert.publicKey.asymmetricKeyType;
  ctx.obs['tls.validDays'] = Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000);
  // By IP without a TLS name override: does the certificate cover 127.0.0.1?
  const byIp = new LndRpc(a.endpoint, { tlsName: null });
  try {
    await byIp.call('lightning', 'GetInfo', {}, 10_000);
    ctx.obs['tls.connectBy127.0.0.1WithoutNameOverride'] = 'ok';
  } catch (error) {
    ctx.obs['tls.connectBy127.0.0.1WithoutNameOverride'] = describeGrpcError(error);
  } finally {
    byIp.close();
  }
  // With another node's certificate.
  const wrongCert = new LndRpc({ ...a.endpoint, tlsCertPath: ctx.network.nodes.C.endpoint.tlsCertPath });
  try {
    await wrongCert.call('lightning', 'GetInfo', {}, 10_000);
    ctx.obs['tls.otherNodesCertificate'] = 'ok (unexpected)';
  } catch (error) {
    ctx.obs['tls.otherNodesCertificate'] = describeGrpcError(error);
  } finally {
    wrongCert.close();
  }
}

async function checkMacaroons(ctx: Context): Promise<void> {
  const a = ctx.network.nodes.A;
  const macaroonDir = join(a.config.dir, 'data', 'chain', 'bitcoin', 'regtest');
  const cases: [string, string | null, 'unary' | 'interceptor'][] = [
    ['none', null, 'unary'],
    ['garbageHex', 'deadbeef', 'unary'],
    ['otherNodesAdmin', readFileSync(ctx.network.nodes.C.endpoint.macaroonPath).toString('hex'), 'unary'],
    ['readonlyOnGetInfo', readFileSync(join(macaroonDir, 'readonly.macaroon')).toString('hex'), 'unary'],
    ['readonlyOnHtlcInterceptor', readFileSync(join(macaroonDir, 'readonly.macaroon')).toString('hex'), 'interceptor'],
    ['invoiceOnHtlcInterceptor', readFileSync(join(macaroonDir, 'invoice.macaroon')).toString('hex'), 'interceptor'],
    ['noneOnHtlcInterceptor', null, 'interceptor'],
  ];
  for (const [name, macaroonHex, kind] of cases) {
    const rpc = new LndRpc(a.endpoint, { macaroonHex });
    try {
      if (kind === 'unary') {
        await rpc.call('lightning', 'GetInfo', {}, 10_000);
        ctx.obs[`macaroon.${name}`] = 'ok';
      } else {
        const interceptor = new Interceptor(rpc, name);
        const end = await interceptor.endedWithin(5_000);
        ctx.obs[`macaroon.${name}`] = end ?? 'stream stayed open 5 s (accepted)';
        await interceptor.close();
      }
    } catch (error) {
      ctx.obs[`macaroon.${name}`] = describeGrpcError(error);
    } finally {
      rpc.close();
    }
  }
  // Invoices service with the invoice macaroon is allowed? (lnmux does not need it; recorded for the sim.)
}

async function addInvoiceOnA(ctx: Context, sat: number, memo: string): Promise<{ payment_request: string; r_hash: Buffer }> {
  return await ctx.network.nodes.A.rpc.call('lightning', 'AddInvoice', { value: String(sat), memo, expiry: '600' });
}

function describePayment(payment: Payment | undefined): Record<string, unknown> | string {
  if (!payment) return 'no update';
  return {
    status: payment.status,
    failure_reason: payment.failure_reason,
    htlcs: payment.htlcs.map((h) => ({ status: h.status, failure: describeFailure(h.failure) })),
  };
}

async function checkOwnInvoiceWithoutInterceptor(ctx: Context): Promise<void> {
  const invoice = await addInvoiceOnA(ctx, 10_000, 'own invoice, no interceptor');
  const payment = payInvoice(ctx.network.nodes.B.rpc, invoice.payment_request, { timeoutSeconds: 30 });
  const final = await payment.within(20_000);
  ctx.obs['ownInvoiceWithoutInterceptor.within20s'] = final ? describePayment(final) : { heldInFlight: describePayment(payment.latest()) };
  if (!final) {
    // Held: connect an interceptor that RESUMEs and see it complete.
    const interceptor = new Interceptor(ctx.network.nodes.A.rpc, 'resume-all');
    const resumer = resumeAll(interceptor);
    ctx.obs['ownInvoiceWithoutInterceptor.afterInterceptorResumes'] = describePayment(await payment.done);
    ctx.obs['ownInvoiceWithoutInterceptor.offeredToInterceptor'] = resumer.seen.map(describeRequest);
    await interceptor.close();
  }
}

function resumeAll(interceptor: Interceptor): { seen: InterceptRequest[] } {
  const seen: InterceptRequest[] = [];
  void (async () => {
    while (true) {
      let request: InterceptRequest;
      try {
        request = await interceptor.next(3_600_000);
      } catch {
        return;
      }
      seen.push(request);
      interceptor.resume(request);
    }
  })();
  return { seen };
}

async function checkOwnInvoiceWithInterceptor(ctx: Context): Promise<void> {
  const interceptor = new Interceptor(ctx.network.nodes.A.rpc, 'resume-all');
  const resumer = resumeAll(interceptor);
  await sleep(500); // LND acknowledges no interceptor registration: nothing to wait on but time
  const invoice = await addInvoiceOnA(ctx, 10_000, 'own invoice, resume-all interceptor');
  const payment = payInvoice(ctx.network.nodes.B.rpc, invoice.payment_request, { timeoutSeconds: 30 });
  const final = await payment.within(60_000);
  ctx.obs['ownInvoiceWithResumeInterceptor.result'] = describePayment(final ?? payment.latest());
  ctx.obs['ownInvoiceWithResumeInterceptor.offeredToInterceptor'] = resumer.seen.map(describeRequest);
  await interceptor.close();
  expectThat(final?.status === 'SUCCEEDED', `B pays A's own invoice with a RESUME interceptor on A (got ${JSON.stringify(describePayment(final))})`);
}

/** Starts a payment B -> A -> V (not awaited: it is held until the interceptor decides). */
async function payVirtual(ctx: Context, amountMsat: bigint, payment: VirtualPayment = newVirtualPayment(), cluster: 'A' | 'C' = 'A'): Promise<{ payment: VirtualPayment; attempt: Promise<HtlcAttempt>; height: number }> {
  const channel = await ctx.network.channelFromB(cluster);
  const height = (await ctx.network.nodes.B.getInfo()).block_height;
  const clusterPubkey = ctx.network.nodes[cluster].pubkey;
  const route = virtualRoute({
    chanIdToCluster: channel.chan_id,
    clusterPubkeyHex: clusterPubkey,
    virtualPubkey: ctx.virtual.pubkey,
    virtualScid: virtualScid(clusterPubkey),
    amountMsat,
    paymentAddr: payment.paymentAddr,
    height,
  });
  const attempt = sendToRoute(ctx.network.nodes.B.rpc, payment.paymentHash, route);
  attempt.catch(() => undefined);
  return { payment, attempt, height };
}

function sameOffer(a: InterceptRequest, b: InterceptRequest): boolean {
  return JSON.stringify(describeRequest(a)) === JSON.stringify(describeRequest(b)) && a.onion_blob.equals(b.onion_blob);
}

async function pendingHtlcsOnA(ctx: Context): Promise<number> {
  const { channels } = await ctx.network.nodes.A.rpc.call<{ channels: { pending_htlcs: unknown[] }[] }>('lightning', 'ListChannels');
  return channels.reduce((n, c) => n + c.pending_htlcs.length, 0);
}

/** Held without interceptor, first offer, a second interceptor, re-offer after reconnect, invalid responses, FAIL with a failure_message. */
async function checkVirtualHtlcLifecycle(ctx: Context): Promise<void> {
  const amountMsat = 20_000_000n;
  const virtualScidA = virtualScid(ctx.network.nodes.A.pubkey);

  // 1. No interceptor connected, --requireinterceptor: a new HTLC (not a replay) is failed back at once.
  const unattended = await payVirtual(ctx, amountMsat);
  const resolvedEarly = await settlesWithin(unattended.attempt, 10_000);
  ctx.obs['virtual.noInterceptor.resolvedWithin10s'] = resolvedEarly;
  if (resolvedEarly) {
    const result = await unattended.attempt;
    ctx.obs['virtual.noInterceptor.atB'] = { status: result.status, failure: describeFailure(result.failure), channelUpdateChanId: result.failure?.channel_update?.chan_id ?? null };
    expectThat(result.status === 'FAILED', 'a new HTLC for the virtual channel does not succeed while no interceptor is connected');
  } else {
    ctx.obs['virtual.noInterceptor.pendingHtlcsOnA'] = await pendingHtlcsOnA(ctx);
  }

  // 2. First interceptor connected, then a payment: the HTLC is offered.
  const first = new Interceptor(ctx.network.nodes.A.rpc, 'first');
  await sleep(500); // LND acknowledges no interceptor registration: nothing to wait on but time
  if (!resolvedEarly) {
    // Held after all: answer it so it does not linger into the next steps.
    const held = await first.next(15_000);
    first.send({ incoming_circuit_key: held.incoming_circuit_key, action: 'FAIL' });
  }
  const { payment, attempt, height } = await payVirtual(ctx, amountMsat);
  const offer = await first.next(15_000);
  ctx.obs['virtual.offer'] = describeRequest(offer);
  ctx.obs['virtual.offer.relations'] = {
    outgoingRequestedChanIdIsVirtualScid: offer.outgoing_requested_chan_id === virtualScidA.toString(),
    paymentHashMatches: offer.payment_hash.equals(payment.paymentHash),
    incomingExpiryMinusHeight: offer.incoming_expiry - height,
    outgoingExpiryMinusHeight: offer.outgoing_expiry - height,
    incomingExpiryMinusAutoFailHeight: offer.incoming_expiry - offer.auto_fail_height,
    onionBlobLength: offer.onion_blob.length,
    amountsEqual: offer.incoming_amount_msat === offer.outgoing_amount_msat,
  };

  // 3. A second interceptor while the first is connected.
  const second = new Interceptor(ctx.network.nodes.A.rpc, 'second');
  ctx.obs['virtual.secondInterceptor.end'] = (await second.endedWithin(5_000)) ?? 'stream stayed open 5 s';
  ctx.obs['virtual.secondInterceptor.receivedOffers'] = second.received.length;
  ctx.obs['virtual.firstInterceptorAfterSecond'] = (await first.endedWithin(1_000)) ?? 'still open';
  await second.close();

  // 4. The first disconnects without answering; a new one connects: the re-offer.
  await first.close();
  await sleep(500); // LND tells no client when it has dropped an interceptor: nothing to wait on but time
  const third = new Interceptor(ctx.network.nodes.A.rpc, 'third');
  const reoffer = await third.next(15_000);
  ctx.obs['virtual.reofferAfterReconnect.identicalToFirstOffer'] = sameOffer(offer, reoffer);
  ctx.obs['virtual.reofferAfterReconnect.heldStill'] = !(await settlesWithin(attempt, 100));

  // 5. Invalid responses: each on a fresh stream, how LND answers, and whether the HTLC stays held.
  const key = offer.incoming_circuit_key;
  const invalid: [string, object][] = [
    ['failureMessageWrongLength', { incoming_circuit_key: key, action: 'FAIL', failure_message: Buffer.alloc(100, 1) }],
    ['failureMessageAndCode', { incoming_circuit_key: key, action: 'FAIL', failure_message: Buffer.alloc(292, 1), failure_code: 'INVALID_ONION_HMAC' }],
    ['failureCodeNotAllowed', { incoming_circuit_key: key, action: 'FAIL', failure_code: 'INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS' }],
    ['settleWithoutPreimage', { incoming_circuit_key: key, action: 'SETTLE' }],
    ['settleWrongPreimage', { incoming_circuit_key: key, action: 'SETTLE', preimage: Buffer.alloc(32, 7) }],
    ['settlePreimageWrongLength', { incoming_circuit_key: key, action: 'SETTLE', preimage: Buffer.alloc(31, 7) }],
    ['unknownCircuitKey', { incoming_circuit_key: { chan_id: key.chan_id, htlc_id: '999999' }, action: 'RESUME' }],
    ['missingCircuitKey', { action: 'RESUME' }],
  ];
  let current = third;
  for (const [name, response] of invalid) {
    current.send(response);
    const end = await current.endedWithin(5_000);
    ctx.obs[`virtual.invalidResponse.${name}`] = end ?? 'no error: stream stayed open 5 s';
    if (end) {
      await sleep(300); // LND tells no client when it has dropped an interceptor: nothing to wait on but time
      current = new Interceptor(ctx.network.nodes.A.rpc, `after-${name}`);
      const again = await current.next(15_000).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
      ctx.obs[`virtual.invalidResponse.${name}.reofferedOnReconnect`] = typeof again === 'string' ? again : sameOffer(offer, again);
    }
  }
  ctx.obs['virtual.invalidResponses.htlcStillHeld'] = !(await settlesWithin(attempt, 100));

  // 6. FAIL with a failure_message encrypted as the final hop would (incorrect_or_unknown_payment_details).
  const message = incorrectOrUnknownPaymentDetails(amountMsat, height);
  current.send({ incoming_circuit_key: key, action: 'FAIL', failure_message: finalHopFailure(offer.onion_blob, ctx.virtual, message) });
  const failed = await attempt;
  ctx.obs['virtual.failWithFinalHopMessage.atB'] = { status: failed.status, failure: describeFailure(failed.failure) };
  ctx.obs['virtual.failWithFinalHopMessage.streamAfter'] = (await current.endedWithin(1_000)) ?? 'still open';

  // 7. A second answer for the same, now resolved, circuit key.
  current.send({ incoming_circuit_key: key, action: 'RESUME' });
  ctx.obs['virtual.answerAfterResolved'] = (await current.endedWithin(5_000)) ?? 'no error: stream stayed open 5 s';
  await current.close();
}

async function checkResume(ctx: Context): Promise<void> {
  const interceptor = new Interceptor(ctx.network.nodes.A.rpc, 'resume');
  const { attempt } = await payVirtual(ctx, 15_000_000n);
  const offer = await interceptor.next(15_000);
  interceptor.resume(offer);
  const result = await attempt;
  ctx.obs['resume.atB'] = { status: result.status, failure: describeFailure(result.failure) };
  await interceptor.close();
}

async function checkFailureCodes(ctx: Context): Promise<void> {
  const interceptor = new Interceptor(ctx.network.nodes.A.rpc, 'fail-codes');
  for (const code of ['RESERVED', 'TEMPORARY_CHANNEL_FAILURE', 'INVALID_ONION_HMAC', 'INVALID_ONION_KEY', 'INVALID_ONION_VERSION']) {
    const { attempt } = await payVirtual(ctx, 11_000_000n);
    const offer = await interceptor.next(15_000);
    interceptor.send({ incoming_circuit_key: offer.incoming_circuit_key, action: 'FAIL', failure_code: code });
    const result = await attempt;
    ctx.obs[`failureCode.${code}.atB`] = { status: result.status, failure: describeFailure(result.failure) };
  }
  // A failure_message of the right length that nobody on the route encrypted (random bytes).
  const { attempt } = await payVirtual(ctx, 11_000_000n);
  const offer = await interceptor.next(15_000);
  interceptor.send({ incoming_circuit_key: offer.incoming_circuit_key, action: 'FAIL', failure_message: randomBytes(292) });
  const result = await attempt;
  ctx.obs['failureMessage.random292Bytes.atB'] = { status: result.status, failure: describeFailure(result.failure) };
  await interceptor.close();
}

interface HtlcResolution { settled: boolean; offchain: boolean }

async function checkSettle(ctx: Context): Promise<void> {
  const interceptor = new Interceptor(ctx.network.nodes.A.rpc, 'settle');
  const { payment, attempt } = await payVirtual(ctx, 25_000_000n);
  const offer = await interceptor.next(15_000);
  const key = offer.incoming_circuit_key;
  const lookup = (): Promise<HtlcResolution> => ctx.network.nodes.A.rpc.call<HtlcResolution>('lightning', 'LookupHtlcResolution', { chan_id: key.chan_id, htlc_index: key.htlc_id });
  ctx.obs['lookupHtlcResolution.whileHeld'] = await lookup().catch(describeGrpcError);
  interceptor.send({ incoming_circuit_key: key, action: 'SETTLE', preimage: payment.preimage });
  const result = await attempt;
  ctx.obs['settle.atB'] = { status: result.status, preimageMatches: result.preimage.equals(payment.preimage), failure: describeFailure(result.failure) };
  expectThat(result.status === 'SUCCEEDED', 'SETTLE with the preimage completes B\'s payment');
  ctx.obs['lookupHtlcResolution.afterSettle'] = await waitFor(async () => await lookup().catch(() => undefined), { what: 'final resolution on A', timeoutMs: 30_000, intervalMs: 250, retryErrors: true })
    .catch((error: unknown) => describeGrpcError(error));
  ctx.obs['lookupHtlcResolution.unknownHtlc'] = await ctx.network.nodes.A.rpc.call('lightning', 'LookupHtlcResolution', { chan_id: key.chan_id, htlc_index: '999999' }).catch(describeGrpcError);
  ctx.obs['lookupHtlcResolution.onBWithoutFlag'] = await ctx.network.nodes.B.rpc.call('lightning', 'LookupHtlcResolution', { chan_id: key.chan_id, htlc_index: key.htlc_id }).catch(describeGrpcError);
  // A SETTLE sent again for the settled key.
  interceptor.send({ incoming_circuit_key: key, action: 'SETTLE', preimage: payment.preimage });
  ctx.obs['settle.again'] = (await interceptor.endedWithin(5_000)) ?? 'no error: stream stayed open 5 s';
  await interceptor.close();
}

async function checkRestartWhileHeld(ctx: Context): Promise<void> {
  const a = ctx.network.nodes.A;
  const interceptor = new Interceptor(a.rpc, 'before-restart');
  const { payment, attempt } = await payVirtual(ctx, 12_000_000n);
  const offer = await interceptor.next(15_000);
  await a.stop();
  ctx.obs['restart.interceptorStreamWhenLndStops'] = (await interceptor.endedWithin(10_000)) ?? 'still open 10 s after lnd stopped';
  ctx.obs['restart.heldAtBWhileADown'] = !(await settlesWithin(attempt, 1_000));
  await ctx.network.startNode('A');
  // A replays the HTLC after its restart: with no interceptor connected a replay is held, not failed.
  ctx.obs['restart.heldAfterRestartWithoutInterceptor'] = !(await settlesWithin(attempt, 5_000));
  const after = new Interceptor(a.rpc, 'after-restart');
  const reoffer = await after.next(60_000);
  ctx.obs['restart.reoffer'] = describeRequest(reoffer);
  ctx.obs['restart.reofferSameCircuitKey'] = JSON.stringify(reoffer.incoming_circuit_key) === JSON.stringify(offer.incoming_circuit_key);
  ctx.obs['restart.reofferIdentical'] = sameOffer(offer, reoffer);
  after.send({ incoming_circuit_key: reoffer.incoming_circuit_key, action: 'SETTLE', preimage: payment.preimage });
  const result = await attempt;
  ctx.obs['restart.settleAfterRestart.atB'] = { status: result.status, failure: describeFailure(result.failure) };
  await after.close();
}

async function checkAutoFail(ctx: Context): Promise<void> {
  const interceptor = new Interceptor(ctx.network.nodes.A.rpc, 'auto-fail');
  const { attempt } = await payVirtual(ctx, 13_000_000n);
  const offer = await interceptor.next(15_000);
  const height = (await ctx.network.nodes.A.getInfo()).block_height;
  ctx.obs['autoFail.offer'] = { height, incoming_expiry: offer.incoming_expiry, auto_fail_height: offer.auto_fail_height };
  // Mine to one block before auto_fail_height: still held; then to it.
  await ctx.network.mine(offer.auto_fail_height - height - 1);
  ctx.obs['autoFail.heldOneBlockBefore'] = !(await settlesWithin(attempt, 3_000));
  await ctx.network.mine(1);
  const done = await settlesWithin(attempt, 30_000);
  ctx.obs['autoFail.resolvedAtAutoFailHeight'] = done;
  if (done) {
    const result = await attempt;
    ctx.obs['autoFail.atB'] = { status: result.status, failure: describeFailure(result.failure) };
  }
  ctx.obs['autoFail.interceptorToldAnything'] = interceptor.received.length > 1 ? interceptor.received.slice(1).map(describeRequest) : 'nothing';
  interceptor.send({ incoming_circuit_key: offer.incoming_circuit_key, action: 'RESUME' });
  ctx.obs['autoFail.answerAfterAutoFail'] = (await interceptor.endedWithin(5_000)) ?? 'no error: stream stayed open 5 s';
  await interceptor.close();
}
