import { describe, expect, it } from 'vitest';
import { ecdhWithPrivateKey } from '../../src/protocol/ecdh.js';
import { decodeFailureMessage } from '../../src/protocol/failure-message.js';
import { createFailurePacket, decryptFailurePacket } from '../../src/protocol/failure-onion.js';
import { encodeFailureMessage } from '../../src/protocol/failure-message.js';
import { encodeHopPayload, encodeLegacyHopData, type HopPayload } from '../../src/protocol/hop-payload.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import { createStatelessInvoice } from '../../src/protocol/stateless-invoice.js';
import { virtualChannelId } from '../../src/protocol/virtual-scid.js';
import { acceptStoredTerms, inspectHtlc, type InspectContext, type OfferedHtlc, type StoredTerms } from '../../src/mux/inspect.js';
import { HOP_PAYLOAD_TYPE } from '../../src/protocol/hop-payload.js';
import { bytesToHex } from '../../src/protocol/bytes.js';

const identityKey = new Uint8Array(32).fill(0x42);
const keyring = deriveKeyring(identityKey);
const CLUSTER_NODE = Uint8Array.from(Buffer.from('020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8', 'hex'));
const SCID = virtualChannelId(CLUSTER_NODE);
const HEIGHT = 800_000;
const sessionKey = new Uint8Array(32).fill(0x07);
const invoice = createStatelessInvoice(keyring, { amountMsat: 10_000n, expiresAt: 2_000_000_000 }, (n) => new Uint8Array(n).fill(5));

const ctx: InspectContext = {
  virtualChannelId: SCID,
  policy: { feeBaseMsat: 1_000n, feeProportionalMillionths: 100n, cltvExpiryDelta: 40 },
  ecdh: ecdhWithPrivateKey(keyring.identityPrivateKey()),
  keyring,
  height: HEIGHT,
  minFinalCltvExpiryDelta: 40,
};

function finalPayload(overrides: Partial<HopPayload> = {}): HopPayload {
  return {
    amtToForwardMsat: 4_000n,
    outgoingCltvValue: HEIGHT + 40,
    paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: 10_000n },
    otherRecords: [],
    ...overrides,
  };
}

/** The onion a payer addresses to the virtual node, as the cluster node forwards it. */
function onionFor(payload: Uint8Array | HopPayload, hash = invoice.paymentHash) {
  const bytes = payload instanceof Uint8Array ? payload : encodeHopPayload(payload);
  return buildOnion([{ publicKey: keyring.nodePubkey, payload: bytes }], sessionKey, hash);
}

/** The same, with the legacy (pre-TLV) hop_data a payer may still send. */
function legacyOnionFor(amtToForwardMsat = 4_000n, outgoingCltvValue = HEIGHT + 40) {
  const hopData = encodeLegacyHopData({ shortChannelId: 0n, amtToForwardMsat, outgoingCltvValue });
  return buildOnion([{ publicKey: keyring.nodePubkey, payload: hopData, format: 'legacy' }], sessionKey, invoice.paymentHash);
}

function offered(overrides: Partial<OfferedHtlc> = {}, payload: Uint8Array | HopPayload = finalPayload()): OfferedHtlc {
  return {
    key: { nodePubkey: CLUSTER_NODE, chanId: 77n, htlcId: 3n },
    paymentHash: invoice.paymentHash,
    incomingAmountMsat: 4_000n + 1_000n + 1n, // base fee + 100 ppm of 4,000 msat rounds down to 0
    outgoingAmountMsat: 4_000n,
    incomingExpiry: HEIGHT + 80,
    outgoingExpiry: HEIGHT + 40,
    outgoingRequestedChanId: SCID,
    onionBlob: onionFor(payload).onion,
    autoFailHeight: HEIGHT + 61,
    ...overrides,
  };
}

/** What the sender reads from the failure lnmux returns. */
function senderReads(sharedSecret: Uint8Array, message: Parameters<typeof encodeFailureMessage>[0]) {
  const packet = createFailurePacket(sharedSecret, encodeFailureMessage(message));
  const decrypted = decryptFailurePacket([onionFor(finalPayload()).sharedSecrets[0]!], packet);
  if (!decrypted.ok) throw new Error('sender cannot read the failure');
  const decoded = decodeFailureMessage(decrypted.value.failureMessage);
  if (!decoded.ok) throw new Error('sender cannot decode the failure');
  return decoded.value;
}

function rejection(htlc: OfferedHtlc) {
  const inspected = inspectHtlc(htlc, ctx);
  // Unproven by its payment_addr, and no stored (hold) invoice for its hash: what the engine answers.
  const result = inspected.kind === 'unproven' ? acceptStoredTerms(inspected.unproven, undefined) : inspected;
  if (result.kind !== 'rejected') throw new Error(`expected a rejection, got ${result.kind}`);
  return result.rejection;
}

describe('inspectHtlc', () => {
  it('lets an HTLC for another channel through untouched (RESUME), before any other check', () => {
    expect(inspectHtlc(offered({ outgoingRequestedChanId: 12345n, onionBlob: new Uint8Array(3) }), ctx)).toEqual({
      kind: 'foreign',
    });
  });

  it('accepts a well-formed part: preimage re-derived from the payment_addr, amounts and expiry from the HTLC', () => {
    const result = inspectHtlc(offered(), ctx);
    if (result.kind !== 'arrived') throw new Error(`expected arrived, got ${result.kind}`);
    expect(result.htlc.preimage).toEqual(invoice.preimage);
    expect(result.htlc).toMatchObject({
      amountMsat: 4_000n,
      expiry: HEIGHT + 40,
      totalMsat: 10_000n,
      invoiceAmountMsat: 10_000n,
      invoiceExpiresAt: 2_000_000_000,
    });
  });

  it('fails with a temporary channel failure (failure_code) when the virtual hop is paid too little fee or delta', () => {
    expect(rejection(offered({ incomingAmountMsat: 4_999n }))).toEqual({
      kind: 'failCode',
      reason: 'feeInsufficient',
      code: 'TEMPORARY_CHANNEL_FAILURE',
    });
    expect(rejection(offered({ incomingExpiry: HEIGHT + 79 }))).toMatchObject({ reason: 'cltvDeltaTooSmall' });
  });

  it('answers onion-level errors with the plain failure code LND accepts', () => {
    const blob = offered().onionBlob;
    const badVersion = Uint8Array.from(blob);
    badVersion[0] = 1;
    const badKey = Uint8Array.from(blob);
    badKey.set(new Uint8Array(33), 1);
    const badHmac = Uint8Array.from(blob);
    badHmac[500] = badHmac[500]! ^ 1;
    expect(rejection(offered({ onionBlob: badVersion }))).toMatchObject({ code: 'INVALID_ONION_VERSION' });
    expect(rejection(offered({ onionBlob: badKey }))).toMatchObject({ code: 'INVALID_ONION_KEY' });
    expect(rejection(offered({ onionBlob: badHmac }))).toMatchObject({ code: 'INVALID_ONION_HMAC' });
    expect(rejection(offered({ onionBlob: blob.subarray(0, 100) }))).toMatchObject({ code: 'INVALID_ONION_HMAC' });
    // The onion's associated data is the payment hash: another hash breaks the HMAC.
    expect(rejection(offered({ paymentHash: new Uint8Array(32) }))).toMatchObject({ code: 'INVALID_ONION_HMAC' });
  });

  it('fails a malformed payload with invalid_onion_payload naming the type, readable by the sender', () => {
    // amt_to_forward with a leading zero byte is not minimal (BOLT 1 tu64).
    const payload = Uint8Array.from([0x02, 0x03, 0x00, 0x0f, 0xa0, 0x04, 0x03, 0x0c, 0x35, 0x28]);
    const r = rejection(offered({}, payload));
    if (r.kind !== 'failMessage') throw new Error('expected an encrypted failure');
    expect(r.reason).toBe('invalidOnionPayload');
    expect(senderReads(r.sharedSecret, r.message)).toMatchObject({ kind: 'invalidOnionPayload', type: 2n, offset: 0 });
  });

  it('fails when the HTLC carries less than the payload says: final_incorrect_htlc_amount / cltv_expiry, readable by the sender', () => {
    const amount = rejection(offered({ outgoingAmountMsat: 3_999n, incomingAmountMsat: 5_000n }));
    if (amount.kind !== 'failMessage') throw new Error('expected an encrypted failure');
    expect(amount.reason).toBe('amountBelowPayload');
    expect(senderReads(amount.sharedSecret, amount.message)).toEqual({ kind: 'finalIncorrectHtlcAmount', incomingHtlcAmtMsat: 3_999n });
    const cltv = rejection(offered({ outgoingExpiry: HEIGHT + 39, incomingExpiry: HEIGHT + 79 }));
    if (cltv.kind !== 'failMessage') throw new Error('expected an encrypted failure');
    expect(cltv.reason).toBe('cltvBelowPayload');
    expect(senderReads(cltv.sharedSecret, cltv.message)).toEqual({ kind: 'finalIncorrectCltvExpiry', cltvExpiry: HEIGHT + 39 });
  });

  it('accepts an HTLC that carries more than the payload asks, in amount and in expiry (the payer adds noise)', () => {
    const result = inspectHtlc(offered({ outgoingAmountMsat: 4_001n, incomingAmountMsat: 5_002n, outgoingExpiry: HEIGHT + 41, incomingExpiry: HEIGHT + 81 }), ctx);
    if (result.kind !== 'arrived') throw new Error(`expected arrived, got ${result.kind}`);
    // The set counts what the HTLC carries, not what the payload asked.
    expect(result.htlc).toMatchObject({ amountMsat: 4_001n, expiry: HEIGHT + 41 });
  });

  it('accepts a total_msat above the invoice amount, as LND does (no upper bound), and carries the invoice c', () => {
    for (const totalMsat of [10_001n, 20_000n, 20_001n]) {
      const result = inspectHtlc(offered({}, finalPayload({ paymentData: { paymentAddr: invoice.paymentAddr, totalMsat } })), ctx);
      if (result.kind !== 'arrived') throw new Error(`expected arrived for ${totalMsat}, got ${result.kind}`);
      expect(result.htlc).toMatchObject({ totalMsat, invoiceAmountMsat: 10_000n, minFinalCltvExpiryDelta: 40 });
    }
  });

  it('gives the same incorrect_or_unknown_payment_details for no MPP record, a foreign payment_addr and a total below the invoice amount', () => {
    const other = createStatelessInvoice(deriveKeyring(new Uint8Array(32).fill(9)), { amountMsat: 10_000n, expiresAt: 2_000_000_000 });
    const cases: [string, HopPayload][] = [
      ['missingPaymentData', finalPayload({ paymentData: undefined })],
      ['paymentAddrInvalid', finalPayload({ paymentData: { paymentAddr: other.paymentAddr, totalMsat: 10_000n } })],
      ['totalBelowInvoice', finalPayload({ paymentData: { paymentAddr: invoice.paymentAddr, totalMsat: 9_999n } })],
    ];
    for (const [reason, payload] of cases) {
      const r = rejection(offered({}, payload));
      if (r.kind !== 'failMessage') throw new Error('expected an encrypted failure');
      expect(r.reason).toBe(reason);
      expect(senderReads(r.sharedSecret, r.message)).toEqual({
        kind: 'incorrectOrUnknownPaymentDetails',
        htlcMsat: 4_000n,
        height: HEIGHT,
      });
    }
  });

  it('answers a legacy (pre-TLV) final payload as LND does: its amount and expiry checked, then incorrect_or_unknown_payment_details', () => {
    const legacy = rejection(offered({ onionBlob: legacyOnionFor().onion }));
    if (legacy.kind !== 'failMessage') throw new Error('expected an encrypted failure');
    expect(legacy.reason).toBe('legacyPayload');
    expect(senderReads(legacy.sharedSecret, legacy.message)).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 4_000n, height: HEIGHT });
    const short = rejection(offered({ onionBlob: legacyOnionFor(4_001n).onion }));
    expect(short.kind === 'failMessage' && short.message).toEqual({ kind: 'finalIncorrectHtlcAmount', incomingHtlcAmtMsat: 4_000n });
    const early = rejection(offered({ onionBlob: legacyOnionFor(4_000n, HEIGHT + 41).onion }));
    expect(early.kind === 'failMessage' && early.message).toEqual({ kind: 'finalIncorrectCltvExpiry', cltvExpiry: HEIGHT + 40 });
  });

  it('fails an onion that asks the virtual node to forward further (it has no channels)', () => {
    const twoHops = buildOnion(
      [
        { publicKey: keyring.nodePubkey, payload: encodeHopPayload({ amtToForwardMsat: 4_000n, outgoingCltvValue: HEIGHT + 40, shortChannelId: 1n, otherRecords: [] }) },
        { publicKey: CLUSTER_NODE, payload: encodeHopPayload(finalPayload()) },
      ],
      sessionKey,
      invoice.paymentHash,
    );
    const r = rejection(offered({ onionBlob: twoHops.onion }));
    expect(r).toMatchObject({ kind: 'failMessage', reason: 'notFinalHop', message: { kind: 'unknownNextPeer' } });
  });
});

describe('inspectHtlc: the invoice kinds (docs/library.md, "Invoices")', () => {
  /** An HTLC of `amountMsat` for `paymentHash`, whose final payload carries this payment_addr and total. */
  function offeredFor(paymentHash: Uint8Array, paymentAddr: Uint8Array, totalMsat: bigint, otherRecords: HopPayload['otherRecords'] = []): OfferedHtlc {
    const payload = { ...finalPayload({ paymentData: { paymentAddr, totalMsat } }), otherRecords };
    return offered({ paymentHash, onionBlob: onionFor(payload, paymentHash).onion }, payload);
  }

  it('accepts an amountless invoice\'s part at any total, and refuses a total below its minimum', () => {
    const free = createStatelessInvoice(keyring, { expiresAt: 2_000_000_000 });
    const arrived = inspectHtlc(offeredFor(free.paymentHash, free.paymentAddr, 1n), ctx);
    if (arrived.kind !== 'arrived') throw new Error(`expected arrived, got ${arrived.kind}`);
    expect(arrived.htlc.invoiceAmountMsat).toBeUndefined();
    expect(arrived.htlc.totalMsat).toBe(1n);
    expect(bytesToHex(arrived.htlc.preimage!)).toBe(bytesToHex(free.preimage));

    const min = createStatelessInvoice(keyring, { minAmountMsat: 5_000n, expiresAt: 2_000_000_000 });
    expect(inspectHtlc(offeredFor(min.paymentHash, min.paymentAddr, 5_000n), ctx).kind).toBe('arrived');
    const below = inspectHtlc(offeredFor(min.paymentHash, min.paymentAddr, 4_999n), ctx);
    expect(below.kind === 'rejected' && below.rejection.reason).toBe('totalBelowInvoice');
  });

  it('hands the payer\'s payment_metadata (TLV 16) to the set', () => {
    const metadata = Uint8Array.from([1, 0xfa, 0xfa, 0xf0]);
    const arrived = inspectHtlc(offeredFor(invoice.paymentHash, invoice.paymentAddr, 10_000n, [{ type: HOP_PAYLOAD_TYPE.paymentMetadata, value: metadata }]), ctx);
    if (arrived.kind !== 'arrived') throw new Error(`expected arrived, got ${arrived.kind}`);
    expect(bytesToHex(arrived.htlc.paymentMetadata!)).toBe('01fafaf0');
  });

  describe('a hold invoice (the application chose the hash): unproven, then checked against its stored terms', () => {
    const hash = new Uint8Array(32).fill(0xab);
    const paymentAddr = new Uint8Array(32).fill(0xcd);
    const stored: StoredTerms = { kind: 'hold', paymentAddr, amountMsat: 10_000n, expiresAt: 2_000_000_000 };

    function unproven(addr = paymentAddr, totalMsat = 10_000n) {
      const inspected = inspectHtlc(offeredFor(hash, addr, totalMsat), ctx);
      if (inspected.kind !== 'unproven') throw new Error(`expected unproven, got ${inspected.kind}`);
      return inspected.unproven;
    }

    it('accepts the part with the stored payment_addr: no preimage until the application gives it', () => {
      const accepted = acceptStoredTerms(unproven(), stored);
      if (accepted.kind !== 'arrived') throw new Error(`expected arrived, got ${accepted.kind}`);
      expect(accepted.htlc.preimage).toBeUndefined();
      expect(accepted.htlc.invoiceAmountMsat).toBe(10_000n);
      expect(accepted.htlc.invoiceExpiresAt).toBe(2_000_000_000);
    });

    it('settles a committed one\'s replay with the stored preimage', () => {
      const preimage = new Uint8Array(32).fill(7);
      const accepted = acceptStoredTerms(unproven(), { ...stored, preimage });
      expect(accepted.kind === 'arrived' && bytesToHex(accepted.htlc.preimage!)).toBe(bytesToHex(preimage));
    });

    it('refuses another payment_addr, a total below the amount, and no stored invoice, all as an unknown invoice', () => {
      const other = new Uint8Array(32).fill(0xce);
      for (const [reason, result] of [
        ['paymentAddrInvalid', acceptStoredTerms(unproven(other), stored)],
        ['totalBelowInvoice', acceptStoredTerms(unproven(paymentAddr, 9_999n), stored)],
        ['paymentAddrInvalid', acceptStoredTerms(unproven(), undefined)],
      ] as const) {
        if (result.kind !== 'rejected' || result.rejection.kind !== 'failMessage') throw new Error(`expected a failure message, got ${result.kind}`);
        expect(result.rejection.reason).toBe(reason);
        expect(result.rejection.message).toEqual({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 4_000n, height: HEIGHT });
      }
    });

    it('refuses a Go lnmux invoice not committed yet (its scheme decides, when it is on)', () => {
      const result = acceptStoredTerms(unproven(), { ...stored, kind: 'goLnmux' });
      expect(result.kind).toBe('rejected');
    });
  });
});
