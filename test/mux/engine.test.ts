/**
 * The settlement engine against fake ports: the safety invariants (docs/architecture.md) that live in the shell
 * (commit before settle, hold and retry on a database outage, RESUME first, bad input contained).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { decodeFailureMessage } from '../../src/protocol/failure-message.js';
import { decryptFailurePacket } from '../../src/protocol/failure-onion.js';
import { encodeHopPayload } from '../../src/protocol/hop-payload.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { circuitKeyString, setId, type CircuitKey } from '../../src/protocol/index.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import { createStatelessInvoice } from '../../src/protocol/stateless-invoice.js';
import { virtualChannelId } from '../../src/protocol/virtual-scid.js';
import { SettlementEngine } from '../../src/mux/engine.js';
import type { InterceptorResponse } from '../../src/lnd/index.js';
import type { NodeLink, SettleCommitResult, SettleStore, StoreInvoiceView } from '../../src/mux/ports.js';
import type { InvoiceView } from '../../src/registry/types.js';
import { quietFor, waitUntil } from '../support/wait.js';

const keyring = deriveKeyring(new Uint8Array(32).fill(0x42));
const NODE = Uint8Array.from(Buffer.from('020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8', 'hex'));
const NODE_HEX = bytesToHex(NODE);
const SCID = virtualChannelId(NODE);
const HEIGHT = 800_000;
const invoice = createStatelessInvoice(keyring, { amountMsat: 10_000n, expiresAt: 4_000_000_000 });

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class RecordingLink implements NodeLink {
  readonly pubkey = NODE;
  readonly pubkeyHex = NODE_HEX;
  readonly sent: InterceptorResponse[] = [];
  failNext = 0;
  connected = true;
  isConnected(): boolean {
    return this.connected;
  }
  async send(response: InterceptorResponse): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('stream ended');
    }
    this.sent.push(response);
  }
}

function engineWith(
  store: SettleStore,
  link = new RecordingLink(),
  options: { height?: number | undefined; logger?: pino.Logger; replayWindowMs?: number } = { height: HEIGHT },
) {
  const engine = new SettlementEngine({
    registry: { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 },
    policy: { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 40 },
    minFinalCltvExpiryDelta: 40,
    ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
    keyring,
    store,
    logger: options.logger ?? pino({ level: 'silent' }),
    storeRetryMs: 5,
    replayWindowMs: options.replayWindowMs ?? 50,
  });
  engine.attachNode(link, SCID);
  if (options.height !== undefined) engine.onBlock(options.height);
  return { engine, link };
}

/**
 * An HTLC whose final payload names a payment_addr lnmux did not make, and what its payer reads from
 * a FAIL (the failure decrypted with the onion's shared secret).
 */
function unknownInvoiceHtlc(htlcId: bigint) {
  const foreign = createStatelessInvoice(deriveKeyring(new Uint8Array(32).fill(9)), { amountMsat: 10_000n, expiresAt: 4_000_000_000 });
  const payload = encodeHopPayload({
    amtToForwardMsat: 10_000n,
    outgoingCltvValue: HEIGHT + 40,
    paymentData: { paymentAddr: foreign.paymentAddr, totalMsat: 10_000n },
    otherRecords: [],
  });
  const built = buildOnion([{ publicKey: keyring.nodePubkey, payload }], new Uint8Array(32).fill(Number(htlcId) + 1), invoice.paymentHash);
  const payerReads = (response: InterceptorResponse | undefined) => {
    if (response?.kind !== 'failWithMessage') throw new Error(`expected a FAIL with a message, got ${response?.kind}`);
    const decrypted = decryptFailurePacket(built.sharedSecrets, response.failureMessage);
    if (!decrypted.ok) throw new Error('the payer cannot read the failure');
    const decoded = decodeFailureMessage(decrypted.value.failureMessage);
    if (!decoded.ok) throw new Error('the payer cannot decode the failure');
    return decoded.value;
  };
  return { htlc: { ...htlc(htlcId), onionBlob: built.onion }, payerReads };
}

function htlc(
  htlcId: bigint,
  amountMsat = 10_000n,
  overrides: { outgoingRequestedChanId?: bigint; onionBlob?: Uint8Array; autoFailHeight?: number } = {},
) {
  const payload = encodeHopPayload({
    amtToForwardMsat: amountMsat,
    outgoingCltvValue: HEIGHT + 40,
    paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: 10_000n },
    otherRecords: [],
  });
  const onion = buildOnion([{ publicKey: keyring.nodePubkey, payload }], new Uint8Array(32).fill(Number(htlcId) + 1), invoice.paymentHash);
  return {
    circuitKey: { chanId: 7n, htlcId },
    paymentHash: invoice.paymentHash,
    incomingAmountMsat: amountMsat,
    outgoingAmountMsat: amountMsat,
    incomingExpiry: HEIGHT + 80,
    outgoingExpiry: HEIGHT + 40,
    outgoingRequestedChanId: overrides.outgoingRequestedChanId ?? SCID,
    onionBlob: overrides.onionBlob ?? onion.onion,
    autoFailHeight: overrides.autoFailHeight ?? HEIGHT + 61,
  };
}

function fakeStore(overrides: Partial<SettleStore> = {}): SettleStore {
  return {
    invoiceStatus: async () => ({ kind: 'open' }),
    recordGoLnmuxInvoice: async () => undefined,
    commitSettle: async () => ({ kind: 'committed' }),
    revokeSettle: async () => 'revoked',
    logHtlcs: async () => undefined,
    markHtlcFinal: async () => ({ kind: 'recorded' }),
    ...overrides,
  };
}

describe('SettlementEngine', () => {
  it('sends no SETTLE until the store has committed the decision and the set (invariant 1)', async () => {
    const commit = deferred<SettleCommitResult>();
    const requested: unknown[] = [];
    const { engine, link } = engineWith(
      fakeStore({
        commitSettle: (hash, id, htlcs) => {
          requested.push({ hash, id, htlcs });
          return commit.promise;
        },
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n, 4_000n));
    await engine.onHtlc(NODE_HEX, htlc(2n, 6_000n));
    await waitUntil(() => requested.length === 1, { what: 'the commit request', intervalMs: 5 });
    await quietFor(20); // the point: nothing more happens meanwhile (asserted below)
    expect(link.sent).toEqual([]);

    commit.resolve({ kind: 'committed' });
    await waitUntil(() => link.sent.length === 2, { what: 'two SETTLEs', intervalMs: 5 });
    expect(link.sent.map((r) => r.kind)).toEqual(['settle', 'settle']);
    expect(link.sent[0]?.kind === 'settle' && link.sent[0].preimage).toEqual(invoice.preimage);
    engine.stop();
  });

  it('holds and retries while the database is down, and settles only once a commit succeeds', async () => {
    let attempts = 0;
    const { engine, link } = engineWith(
      fakeStore({
        commitSettle: async () => {
          attempts++;
          if (attempts <= 3) throw Object.assign(new Error('connection refused'), { retryable: true });
          return { kind: 'committed' };
        },
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n));
    await waitUntil(() => attempts >= 3, { what: 'three failed commits', intervalMs: 5 });
    expect(link.sent).toEqual([]);
    await waitUntil(() => link.sent.length === 1, { what: 'the SETTLE after the commit', intervalMs: 5 });
    expect(attempts).toBe(4);
    engine.stop();
  });

  it('never settles a set the store refused (another set won), and fails its HTLCs', async () => {
    const winner: CircuitKey = { nodePubkey: NODE, chanId: 9n, htlcId: 9n };
    const refusedWith: InvoiceView = { kind: 'settleCommitted', setId: setId([winner]), htlcs: [winner] };
    const { engine, link } = engineWith(fakeStore({ commitSettle: async () => ({ kind: 'refused', invoice: refusedWith }) }));
    await engine.onHtlc(NODE_HEX, htlc(1n));
    await waitUntil(() => link.sent.length === 1, { what: 'the answer', intervalMs: 5 });
    expect(link.sent[0]?.kind).toBe('failWithMessage');
    engine.stop();
  });

  it('RESUMEs a forward for another channel at once, even while the database hangs (invariant 5)', async () => {
    const never = new Promise<InvoiceView>(() => undefined);
    const { engine, link } = engineWith(fakeStore({ invoiceStatus: () => never, commitSettle: () => new Promise(() => undefined) }));
    // An HTLC of ours waits on the hung database...
    void engine.onHtlc(NODE_HEX, htlc(1n));
    // ...while a regular forward goes through.
    await engine.onHtlc(NODE_HEX, htlc(2n, 10_000n, { outgoingRequestedChanId: 12345n }));
    expect(link.sent).toEqual([{ kind: 'resume', circuitKey: { chanId: 7n, htlcId: 2n } }]);
    engine.stop();
  });

  it('answers garbage onions with a failure code and keeps serving (invariant 4)', async () => {
    const { engine, link } = engineWith(fakeStore());
    await engine.onHtlc(NODE_HEX, htlc(1n, 10_000n, { onionBlob: new Uint8Array(1366).fill(0xab) }));
    await engine.onHtlc(NODE_HEX, htlc(2n, 10_000n, { onionBlob: new Uint8Array(5) }));
    expect(link.sent.map((r) => (r.kind === 'failWithCode' ? r.code : r.kind))).toEqual([
      'INVALID_ONION_VERSION',
      'INVALID_ONION_HMAC',
    ]);
    await engine.onHtlc(NODE_HEX, htlc(3n));
    await waitUntil(() => link.sent.length === 3, { what: 'the good HTLC settled', intervalMs: 5 });
    expect(link.sent[2]?.kind).toBe('settle');
    engine.stop();
  });

  it('settles again an HTLC the store lists in the committed set when it is offered after a restart (invariant 2)', async () => {
    const key: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 1n };
    const other: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 2n };
    // A part of a two-part set, whose other part reached its final state (released): the lookup says so.
    const committed: InvoiceView = { kind: 'settleCommitted', setId: setId([key, other]), htlcs: [key, other], released: true };
    let commits = 0;
    const { engine, link } = engineWith(
      fakeStore({
        invoiceStatus: async () => committed,
        commitSettle: async () => {
          commits++;
          return { kind: 'committed' };
        },
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n, 4_000n));
    expect(link.sent.map((r) => r.kind)).toEqual(['settle']);
    expect(commits).toBe(0);
    engine.stop();
  });

  it('takes the commit straight for a part that completes its set alone, without a lookup, and fails it when the store refuses the set', async () => {
    let lookups = 0;
    const { engine, link } = engineWith(
      fakeStore({
        invoiceStatus: async () => {
          lookups++;
          return { kind: 'open' };
        },
        commitSettle: async () => ({ kind: 'refused', invoice: { kind: 'cancelled' } }),
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n));
    await waitUntil(() => link.sent.length === 1, { what: 'the answer', intervalMs: 5 });
    expect(lookups).toBe(0);
    expect(link.sent.map((r) => r.kind)).toEqual(['failWithMessage']);
    engine.stop();
  });

  it('does not assume an undelivered SETTLE arrived: the re-offered HTLC is settled again', async () => {
    const link = new RecordingLink();
    link.failNext = 1;
    const { engine } = engineWith(fakeStore(), link);
    await engine.onHtlc(NODE_HEX, htlc(1n));
    await quietFor(20); // the point: nothing more happens meanwhile (asserted below)
    expect(link.sent).toEqual([]);
    // LND keeps the HTLC and offers it again on the next stream.
    await engine.onHtlc(NODE_HEX, htlc(1n));
    expect(link.sent.map((r) => r.kind)).toEqual(['settle']);
    engine.stop();
  });

  it('records final events only for HTLCs of settled sets, tells the application, and forgets the set', async () => {
    const marked: string[] = [];
    const { engine, link } = engineWith(fakeStore({
        markHtlcFinal: async (key, settled) => {
          marked.push(`${key.htlcId}:${settled}`);
          return { kind: 'recorded' };
        },
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n));
    await waitUntil(() => link.sent.length === 1, { what: 'the SETTLE', intervalMs: 5 });
    const finals: unknown[] = [];
    engine.on('htlcFinal', (e) => finals.push(e));
    expect(engine.heldHtlcCount).toBe(1);
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 99n }, true); // a regular forward
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 1n }, true);
    expect(marked).toEqual(['1:true']);
    // The application hears of it, and the settled set leaves memory (the store remembers it).
    expect(finals).toEqual([{ circuitKey: `7:1@${NODE_HEX}`, settled: true }]);
    expect(engine.heldHtlcCount).toBe(0);
    engine.stop();
  });

  it('tells the application of an HTLC final once when it is reported twice (event stream and reconciliation), and of its invoice once', async () => {
    const recorded = new Set<string>();
    const { engine, link } = engineWith(
      fakeStore({
        markHtlcFinal: async (key) => {
          const id = circuitKeyString(key);
          if (recorded.has(id)) return { kind: 'alreadyFinal' };
          recorded.add(id);
          return { kind: 'recorded', invoiceFinal: { paymentHash: key.nodePubkey, state: 'settled' } };
        },
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n));
    await waitUntil(() => link.sent.length === 1, { what: 'the SETTLE', intervalMs: 5 });
    const finals: unknown[] = [];
    const settled: unknown[] = [];
    engine.on('htlcFinal', (e) => finals.push(e));
    engine.on('settled', (e) => settled.push(e));
    const key: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 1n };
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 1n }, true);
    // A reconciliation read the HTLC as unfinalized before that was written, and its lookup tells it again.
    engine.expectFinal(key);
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 1n }, true);
    expect(recorded).toEqual(new Set([circuitKeyString(key)]));
    expect(finals).toEqual([{ circuitKey: `7:1@${NODE_HEX}`, settled: true }]);
    expect(settled).toHaveLength(1);
    expect(engine.heldHtlcCount).toBe(0);
    engine.stop();
  });

  it('drops a held part its node reported failed, commits no set with it, and commits the live parts once they pay the invoice', async () => {
    const requested: bigint[][] = [];
    const { engine, link } = engineWith(
      fakeStore({
        commitSettle: async (_hash, _id, htlcs) => {
          requested.push(htlcs.map((h) => h.key.htlcId));
          return { kind: 'committed' };
        },
      }),
    );
    const lost: unknown[] = [];
    engine.on('partLost', (e) => lost.push(e));
    await engine.onHtlc(NODE_HEX, htlc(1n, 5_000n));
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 1n }, false);
    expect(lost).toEqual([{ paymentHash: bytesToHex(invoice.paymentHash), circuitKey: `7:1@${NODE_HEX}`, reason: 'failedByNode', amountMsat: 5_000n }]);
    await engine.onHtlc(NODE_HEX, htlc(2n, 5_000n));
    await quietFor(20); // the point: nothing more happens meanwhile (asserted below)
    expect(requested).toEqual([]);
    await engine.onHtlc(NODE_HEX, htlc(3n, 5_000n));
    await waitUntil(() => link.sent.length === 2, { what: 'two SETTLEs', intervalMs: 5 });
    expect(requested).toEqual([[2n, 3n]]);
    engine.stop();
  });

  it('asks the store to revoke a commit whose part was lost before release, and sends no SETTLE', async () => {
    const commit = deferred<SettleCommitResult>();
    const revoked: string[] = [];
    const { engine, link } = engineWith(
      fakeStore({
        commitSettle: () => commit.promise,
        revokeSettle: async (_hash, id) => {
          revoked.push(bytesToHex(id));
          return 'revoked';
        },
      }),
    );
    await engine.onHtlc(NODE_HEX, htlc(1n, 5_000n));
    await engine.onHtlc(NODE_HEX, htlc(2n, 5_000n));
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 1n }, false);
    commit.resolve({ kind: 'committed' });
    await waitUntil(() => revoked.length === 1, { what: 'the revoke', intervalMs: 5 });
    await quietFor(20); // the point: nothing more happens meanwhile (asserted below)
    expect(link.sent).toEqual([]);
    expect(engine.heldHtlcCount).toBe(1);
    engine.stop();
  });

  it('takes a part not offered again within the replay window after its node reconnected as gone', async () => {
    const { engine } = engineWith(fakeStore());
    const lost: string[] = [];
    engine.on('partLost', (e) => lost.push(e.reason));
    await engine.onHtlc(NODE_HEX, htlc(1n, 4_000n));
    await engine.onHtlc(NODE_HEX, htlc(2n, 4_000n));
    engine.onInterceptorDown(NODE_HEX);
    engine.onInterceptorUp(NODE_HEX);
    await engine.onHtlc(NODE_HEX, htlc(2n, 4_000n)); // offered again: live
    await waitUntil(() => lost.length === 1, { what: 'the replay window to close', intervalMs: 5 });
    expect(lost).toEqual(['notReplayed']);
    expect(engine.heldHtlcCount).toBe(1);
    engine.stop();
  });

  it('never FAILs an HTLC held in LND\'s on-chain flow (only SETTLE is accepted there): it is left to LND', async () => {
    const { engine, link } = engineWith(
      fakeStore({ invoiceStatus: async () => ({ kind: 'cancelled' }), commitSettle: async () => ({ kind: 'refused', invoice: { kind: 'cancelled' } }) }),
    );
    // auto_fail_height equal to the incoming expiry: LND offers it from the on-chain flow.
    await engine.onHtlc(NODE_HEX, htlc(1n, 10_000n, { autoFailHeight: HEIGHT + 80 }));
    await engine.onHtlc(NODE_HEX, htlc(2n, 10_000n));
    expect(link.sent.map((r) => `${r.kind}:${r.circuitKey.htlcId}`)).toEqual(['failWithMessage:2']);
    engine.stop();
  });

  it('survives application listeners that throw or reject', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { engine, link } = engineWith(fakeStore());
      engine.on('committed', () => {
        throw new Error('listener bug');
      });
      engine.on('committed', async () => {
        throw new Error('async listener bug');
      });
      const heard: string[] = [];
      engine.on('committed', (e) => heard.push(e.paymentHash));
      await engine.onHtlc(NODE_HEX, htlc(1n));
      await waitUntil(() => link.sent.length === 1, { what: 'the SETTLE', intervalMs: 5 });
      await quietFor(20); // the point: nothing more happens meanwhile (asserted below)
      expect(heard).toEqual([bytesToHex(invoice.paymentHash)]);
      expect(unhandled).toEqual([]);
      engine.stop();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('holds the SETTLEs of a set whose node dropped its stream during the commit, before the engine read that event', async () => {
    const commit = deferred<SettleCommitResult>();
    const { engine, link } = engineWith(fakeStore({ commitSettle: () => commit.promise }));
    await engine.onHtlc(NODE_HEX, htlc(1n));
    link.connected = false; // the transport knows; no stream event has reached the engine yet
    commit.resolve({ kind: 'committed' });
    await quietFor(20); // the point: nothing more happens meanwhile (asserted below)
    expect(link.sent).toEqual([]);
    // The node comes back and offers its HTLC again: live, so the set is released.
    link.connected = true;
    engine.onInterceptorUp(NODE_HEX);
    await engine.onHtlc(NODE_HEX, htlc(1n));
    expect(link.sent.map((r) => r.kind)).toEqual(['settle']);
    engine.stop();
  });

  it('holds an HTLC for the virtual node until a node tells the height, then fails it with that height, never 0; a forward goes on at once', async () => {
    const { engine, link } = engineWith(fakeStore(), new RecordingLink(), { height: undefined });
    const unknown = unknownInvoiceHtlc(1n);
    const answered = engine.onHtlc(NODE_HEX, unknown.htlc);
    await engine.onHtlc(NODE_HEX, htlc(2n, 10_000n, { outgoingRequestedChanId: 12345n }));
    expect(link.sent.map((r) => r.kind)).toEqual(['resume']);
    engine.onBlock(HEIGHT + 5, NODE_HEX);
    await answered;
    expect(link.sent.map((r) => r.kind)).toEqual(['resume', 'failWithMessage']);
    expect(unknown.payerReads(link.sent[1])).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 10_000n, height: HEIGHT + 5 });
    engine.stop();
  });

  it('at debug, logs each step of an HTLC (inspected, invoice loaded, registry stepped, commit asked, response sent) without the preimage, and tells its observer', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const observed: string[] = [];
    const engine = new SettlementEngine({
      registry: { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 },
      policy: { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 40 },
      minFinalCltvExpiryDelta: 40,
      ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
      keyring,
      store: fakeStore(),
      logger,
      storeRetryMs: 5,
      observer: {
        htlcResumed: () => observed.push('resumed'),
        htlcAccepted: () => observed.push('accepted'),
        htlcSettled: (reason) => observed.push(`settled:${reason}`),
        htlcFailed: (reason) => observed.push(`failed:${reason}`),
        htlcLost: (reason) => observed.push(`lost:${reason}`),
        settleCommitted: (seconds, outcome) => observed.push(`commit:${outcome}:${seconds >= 0}`),
        settleReleased: (seconds) => observed.push(`released:${seconds >= 0}`),
        storeError: (operation) => observed.push(`storeError:${operation}`),
      },
    });
    const link = new RecordingLink();
    engine.attachNode(link, SCID);
    engine.onBlock(HEIGHT);
    await engine.onHtlc(NODE_HEX, htlc(1n, 10_000n));
    await waitUntil(() => link.sent.length === 1, { what: 'the SETTLE', intervalMs: 5 });
    const messages = lines.map((l) => l['msg']);
    for (const step of ['Htlc received', 'Htlc inspected', 'Loaded invoice from db', 'Registry stepped', 'Settle commit asked', 'Settle committed', 'Sending settle resolution']) {
      expect(messages).toContain(step);
    }
    await waitUntil(() => lines.some((l) => l['msg'] === 'Response sent'), { what: 'the response logged', intervalMs: 5 });
    expect(JSON.stringify(lines)).not.toContain(Buffer.from(invoice.preimage).toString('hex'));
    expect(observed).toEqual(['accepted', 'commit:committed:true', 'settled:settled', 'released:true']);
    engine.stop();
  });

  it('answers with the best height of the cluster when nodes disagree, and logs the node whose height it was', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const { engine, link } = engineWith(fakeStore(), new RecordingLink(), { height: undefined, logger });
    const behind = `03${'11'.repeat(32)}`;
    engine.onBlock(HEIGHT + 2, NODE_HEX);
    engine.onBlock(HEIGHT, behind);
    const unknown = unknownInvoiceHtlc(1n);
    await engine.onHtlc(NODE_HEX, unknown.htlc);
    expect(unknown.payerReads(link.sent[0])).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 10_000n, height: HEIGHT + 2 });
    expect(lines.find((l) => l['msg'] === 'Htlc rejected')).toMatchObject({
      reason: 'paymentAddrInvalid',
      height: HEIGHT + 2,
      heightNode: NODE_HEX,
      nodeHeights: { [NODE_HEX]: HEIGHT + 2, [behind]: HEIGHT },
    });
    engine.stop();
  });
});

/*
 * A part of a committed, unreleased set that its node failed is reported to the store (markHtlcFinal
 * 'failed') before, or after, the registry hears of it: Cluster.#reconcileFinal and a new term mark every
 * unfinalized HTLC as awaited (expectFinal), so the store's write comes first. The registry then asks to
 * revoke the decision, and the store must not refuse it for a part that failed: only a settled part
 * means the preimage is out (store/revoke.ts). Refused, the engine would settle the surviving part: the
 * preimage for half the invoice (docs/architecture.md, invariant 7). The model store below answers as
 * src/store does (test/store/revoke.test.ts checks the real one).
 */
describe('SettlementEngine: a lost part of a committed, unreleased set whose failure the store heard first', () => {
  /** As src/store answers: a set committed, final states recorded, revoke refused once a part is settled. */
  function modelStore() {
    let committed: { setId: Uint8Array; keys: CircuitKey[] } | undefined;
    const final = new Map<string, boolean>();
    let commitGate!: () => void;
    const gate = new Promise<void>((r) => (commitGate = r));
    const revokes: string[] = [];
    const store: SettleStore = {
      invoiceStatus: async (): Promise<StoreInvoiceView> =>
        committed === undefined ? { kind: 'open' } : { kind: 'settleCommitted', setId: committed.setId, htlcs: committed.keys },
      recordGoLnmuxInvoice: async () => undefined,
      logHtlcs: async () => undefined,
      commitSettle: async (_hash, setId, htlcs): Promise<SettleCommitResult> => {
        await gate;
        committed = { setId, keys: htlcs.map((h) => h.key) };
        return { kind: 'committed' };
      },
      revokeSettle: async () => {
        if (committed === undefined) return 'revoked';
        // store/revoke.ts SETTLED_PARTS: a settled HTLC of the set -> notRevocable (partSettled)
        if (committed.keys.some((k) => final.get(circuitKeyString(k)) === true)) {
          revokes.push('notRevocable');
          return 'notRevocable';
        }
        committed = undefined;
        revokes.push('revoked');
        return 'revoked';
      },
      markHtlcFinal: async (key, settled) => {
        if (committed?.keys.some((k) => circuitKeyString(k) === circuitKeyString(key))) final.set(circuitKeyString(key), settled);
        return { kind: 'recorded' };
      },
    };
    return { store, commitGate, revokes, final };
  }

  it('a part of a committed, unreleased set failed at its node while it reconnected is revoked, not settled short (invariant 7)', async () => {
    const { store, commitGate, revokes } = modelStore();
    const { engine, link } = engineWith(store, new RecordingLink(), { height: HEIGHT, replayWindowMs: 10_000 });

    // Two halves: the set is complete, its commit under way.
    await engine.onHtlc(NODE_HEX, htlc(1n, 5_000n));
    await engine.onHtlc(NODE_HEX, htlc(2n, 5_000n));
    // The node's connection drops while the commit is under way: the parts are unconfirmed, the
    // committed set is not released.
    engine.onInterceptorDown(NODE_HEX);
    commitGate();
    await quietFor(30);
    expect(link.sent).toEqual([]);

    // The node comes back; its final-HTLC subscription opens first: Cluster.#reconcileFinal does exactly
    // this for every unfinalized HTLC of the node (listUnfinalizedHtlcs holds both parts now):
    const part2: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 2n };
    const part1: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 1n };
    engine.expectFinal(part1);
    engine.expectFinal(part2);
    // ... and the node failed part 2 while lnmux was away (LookupHtlcResolution: final, not settled).
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 2n }, false);
    engine.onInterceptorUp(NODE_HEX);
    await engine.onHtlc(NODE_HEX, htlc(1n, 5_000n)); // part 1 replayed: live
    await waitUntil(() => revokes.length > 0, { what: 'a revoke', intervalMs: 5 });
    await quietFor(50);

    // Half of the invoice must not be settled: the revoke must succeed and no SETTLE go out.
    expect(revokes).toEqual(['revoked']);
    expect(link.sent.filter((r) => r.kind === 'settle')).toEqual([]);
    engine.stop();
  });

  it('a restored set (new term, beginTerm expectFinal) whose member is reported failed is revoked, not settled short', async () => {
    const { store, revokes, final } = modelStore();
    const part1: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 1n };
    const part2: CircuitKey = { nodePubkey: NODE, chanId: 7n, htlcId: 2n };
    // The previous term committed {1, 2}; no SETTLE left (it was holding them for a lost part).
    const sid = setId([part1, part2]);
    let committed: { setId: Uint8Array; keys: CircuitKey[] } | undefined = { setId: sid, keys: [part1, part2] };
    store.invoiceStatus = async () => (committed === undefined ? { kind: 'open' } : { kind: 'settleCommitted', setId: committed.setId, htlcs: committed.keys });
    store.markHtlcFinal = async (key, settled) => {
      final.set(circuitKeyString(key), settled);
      return { kind: 'recorded' };
    };
    store.revokeSettle = async () => {
      if (committed!.keys.some((k) => final.get(circuitKeyString(k)) === true)) {
        revokes.push('notRevocable');
        return 'notRevocable';
      }
      committed = undefined;
      revokes.push('revoked');
      return 'revoked';
    };
    const { engine, link } = engineWith(store, new RecordingLink(), { height: HEIGHT, replayWindowMs: 10_000 });
    engine.expectFinal(part1); // beginTerm: every unfinalized HTLC
    engine.expectFinal(part2);
    await engine.onHtlc(NODE_HEX, htlc(1n, 5_000n)); // member 1 offered again: the set is restored, waits for 2
    await engine.onHtlcFinal(NODE_HEX, { chanId: 7n, htlcId: 2n }, false); // member 2 reported failed
    await waitUntil(() => revokes.length > 0, { what: 'a revoke', intervalMs: 5 });
    await quietFor(50);
    expect(revokes).toEqual(['revoked']);
    expect(link.sent.filter((r) => r.kind === 'settle')).toEqual([]);
    engine.stop();
  });
});
