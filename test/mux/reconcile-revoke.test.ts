/**
 * A part of a committed, unreleased set that its node failed is reported to the store (markHtlcFinal
 * 'failed') before, or after, the registry hears of it: Cluster.#reconcileFinal and a new term mark every
 * unfinalized HTLC as awaited (expectFinal), so the store's write comes first. The registry then asks to
 * revoke the decision, and the store must not refuse it for a part that failed: only a settled part
 * means the preimage is out (store/revoke.ts). Refused, the engine would settle the surviving part: the
 * preimage for half the invoice (docs/architecture.md, invariant 7). The model store below answers as
 * src/store does (test/store/revoke.test.ts checks the real one).
 */
import pino from 'pino';
import { expect, it } from 'vitest';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { encodeHopPayload } from '../../src/protocol/hop-payload.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { circuitKeyString, type CircuitKey } from '../../src/protocol/index.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import { createStatelessInvoice } from '../../src/protocol/stateless-invoice.js';
import { virtualChannelId } from '../../src/protocol/virtual-scid.js';
import { SettlementEngine } from '../../src/mux/engine.js';
import type { InterceptorResponse } from '../../src/lnd/index.js';
import type { NodeLink, SettleCommitResult, SettleStore, StoreInvoiceView } from '../../src/mux/ports.js';
import { quietFor, waitUntil } from '../support/wait.js';

const keyring = deriveKeyring(new Uint8Array(32).fill(0x42));
const NODE = Uint8Array.from(Buffer.from('020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8', 'hex'));
const NODE_HEX = bytesToHex(NODE);
const SCID = virtualChannelId(NODE);
const HEIGHT = 800_000;
const invoice = createStatelessInvoice(keyring, { amountMsat: 10_000n, expiresAt: 4_000_000_000 });

function htlc(htlcId: bigint, amountMsat: bigint) {
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
    outgoingRequestedChanId: SCID,
    onionBlob: onion.onion,
    autoFailHeight: HEIGHT + 61,
  };
}

class Link implements NodeLink {
  readonly pubkey = NODE;
  readonly pubkeyHex = NODE_HEX;
  readonly sent: InterceptorResponse[] = [];
  isConnected(): boolean {
    return true;
  }
  async send(response: InterceptorResponse): Promise<void> {
    this.sent.push(response);
  }
}

/** As src/store answers: a set committed, final states recorded, revoke refused once a part is final. */
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
      return undefined;
    },
  };
  return { store, commitGate, revokes, final };
}

it('a part of a committed, unreleased set failed at its node while it reconnected is revoked, not settled short (invariant 7)', async () => {
  const { store, commitGate, revokes } = modelStore();
  const link = new Link();
  const engine = new SettlementEngine({
    registry: { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 },
    policy: { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 40 },
    minFinalCltvExpiryDelta: 40,
    ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
    keyring,
    store,
    logger: pino({ level: 'silent' }),
    storeRetryMs: 5,
    replayWindowMs: 10_000,
  });
  engine.attachNode(link, SCID);
  engine.onBlock(HEIGHT);

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
  const { setId } = await import('../../src/protocol/index.js');
  // The previous term committed {1, 2}; no SETTLE left (it was holding them for a lost part).
  const sid = setId([part1, part2]);
  let committed: { setId: Uint8Array; keys: CircuitKey[] } | undefined = { setId: sid, keys: [part1, part2] };
  store.invoiceStatus = async () => (committed === undefined ? { kind: 'open' } : { kind: 'settleCommitted', setId: committed.setId, htlcs: committed.keys });
  store.markHtlcFinal = async (key, settled) => {
    final.set(circuitKeyString(key), settled);
    return undefined;
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
  const link = new Link();
  const engine = new SettlementEngine({
    registry: { mode: 'auto', mppTimeoutMs: 120_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 },
    policy: { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 40 },
    minFinalCltvExpiryDelta: 40,
    ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
    keyring,
    store,
    logger: pino({ level: 'silent' }),
    storeRetryMs: 5,
    replayWindowMs: 10_000,
  });
  engine.attachNode(link, SCID);
  engine.onBlock(HEIGHT);
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
