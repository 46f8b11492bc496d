import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  createStatelessInvoice,
  decodeHopPayload,
  decodeInvoice,
  deriveKeyring,
  ecdhWithPrivateKey,
  hexToBytes,
  openGoLnmuxPaymentAddr,
  openPaymentAddr,
  peelOnion,
  virtualChannelId,
} from '../../src/protocol/index.js';

/** test/vectors/go-lnmux/invoices.json: made by the Go lnmux's own InvoiceCreator (see the README there). */
interface GoFixture {
  readonly network: string;
  readonly identity_private_key: string;
  readonly identity_pubkey: string;
  readonly cluster_node_pubkeys: readonly string[];
  readonly invoices: readonly {
    readonly description: string;
    readonly amount_msat: string;
    readonly payment_request: string;
    readonly payment_hash: string;
    readonly payment_addr: string;
    readonly preimage: string;
    readonly created_at: number;
    readonly expiry_seconds: number;
    readonly expires_at: number;
    readonly min_final_cltv_expiry_delta: number;
    readonly route_hints: readonly {
      readonly node_pubkey: string;
      readonly short_channel_id: string;
      readonly fee_base_msat: number;
      readonly fee_proportional_millionths: number;
      readonly cltv_expiry_delta: number;
    }[];
    readonly feature_bits: readonly number[];
    readonly onions?: readonly {
      readonly session_key: string;
      readonly amt_to_forward_msat: string;
      readonly outgoing_cltv_value: number;
      readonly mpp_total_msat: string;
      readonly mpp_payment_addr: string;
      readonly associated_data: string;
      readonly onion_blob: string;
    }[];
  }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../vectors/go-lnmux/invoices.json', import.meta.url), 'utf8'),
) as GoFixture;
const GO_KEY = hexToBytes(fixture.identity_private_key);
const OTHER_KEY = hexToBytes('5a'.repeat(32));

/** The Go layout, written here from the layout alone (noble's HMAC, not node:crypto): nonce || expiry || amount. */
function goPaymentAddr(key: Uint8Array, nonce: Uint8Array, expiresAt: bigint, amountMsat: bigint) {
  const paymentAddr = new Uint8Array(32);
  const view = new DataView(paymentAddr.buffer);
  paymentAddr.set(nonce, 0);
  view.setBigUint64(16, expiresAt);
  view.setBigUint64(24, amountMsat);
  const preimage = hmac(sha256, key, paymentAddr);
  return { paymentAddr, preimage, paymentHash: sha256(preimage) };
}

describe('openGoLnmuxPaymentAddr, on invoices the Go lnmux made', () => {
  it('has invoices of one-part and multi-part size, one above 2^32 msat', () => {
    expect(fixture.invoices.map((i) => BigInt(i.amount_msat))).toEqual([1_000_000n, 250_000_000n, 4_200_000_001n]);
  });

  for (const invoice of fixture.invoices) {
    it(`opens ${invoice.description} (${invoice.amount_msat} msat) to the recorded terms, preimage and hash`, () => {
      const opened = openGoLnmuxPaymentAddr(GO_KEY, hexToBytes(invoice.payment_addr), hexToBytes(invoice.payment_hash));
      if (!opened.ok) throw new Error(`expected it to open, got ${opened.error.kind}`);
      expect(opened.value.amountMsat).toBe(BigInt(invoice.amount_msat));
      expect(opened.value.expiresAt).toBe(invoice.expires_at);
      expect(bytesToHex(opened.value.preimage)).toBe(invoice.preimage);
      expect(bytesToHex(opened.value.paymentHash)).toBe(invoice.payment_hash);
      expect(bytesToHex(opened.value.nonce)).toBe(invoice.payment_addr.slice(0, 32));
    });
  }

  it('fails hashMismatch for a bit flipped in any byte of the payment_addr or of the payment hash', () => {
    for (const invoice of fixture.invoices) {
      const paymentAddr = hexToBytes(invoice.payment_addr);
      const paymentHash = hexToBytes(invoice.payment_hash);
      for (let i = 0; i < 32; i++) {
        for (const bit of [0x01, 0x80]) {
          const addr = paymentAddr.slice();
          addr[i]! ^= bit;
          expect(openGoLnmuxPaymentAddr(GO_KEY, addr, paymentHash), `payment_addr byte ${i}`).toEqual({
            ok: false,
            error: { kind: 'hashMismatch' },
          });
          const hash = paymentHash.slice();
          hash[i]! ^= bit;
          expect(openGoLnmuxPaymentAddr(GO_KEY, paymentAddr, hash), `payment hash byte ${i}`).toEqual({
            ok: false,
            error: { kind: 'hashMismatch' },
          });
        }
      }
    }
  });

  it('fails hashMismatch under another key, and for another invoice\'s payment hash', () => {
    const [a, b] = fixture.invoices;
    expect(openGoLnmuxPaymentAddr(OTHER_KEY, hexToBytes(a!.payment_addr), hexToBytes(a!.payment_hash))).toEqual({
      ok: false,
      error: { kind: 'hashMismatch' },
    });
    expect(openGoLnmuxPaymentAddr(GO_KEY, hexToBytes(a!.payment_addr), hexToBytes(b!.payment_hash))).toEqual({
      ok: false,
      error: { kind: 'hashMismatch' },
    });
  });

  it('does not open as one of ours: openPaymentAddr fails on every Go payment_addr (same identity key)', () => {
    const keyring = deriveKeyring(GO_KEY);
    for (const invoice of fixture.invoices) {
      const opened = openPaymentAddr(keyring, hexToBytes(invoice.payment_addr), hexToBytes(invoice.payment_hash));
      expect(opened.ok).toBe(false);
      // byte 0 is a random nonce byte there: our key id 0 by chance, or an unknown key id.
      if (!opened.ok) expect(['hashMismatch', 'unknownKeyId']).toContain(opened.error.kind);
    }
  });

  it('does not open ours: a payment_addr of createStatelessInvoice (same identity key) is a hashMismatch', () => {
    const keyring = deriveKeyring(GO_KEY);
    for (const amountMsat of [1_000_000n, 250_000_000n]) {
      const ours = createStatelessInvoice(keyring, { amountMsat, expiresAt: 2_000_000_000 });
      expect(openPaymentAddr(keyring, ours.paymentAddr, ours.paymentHash).ok).toBe(true);
      expect(openGoLnmuxPaymentAddr(GO_KEY, ours.paymentAddr, ours.paymentHash)).toEqual({
        ok: false,
        error: { kind: 'hashMismatch' },
      });
    }
  });
});

describe('openGoLnmuxPaymentAddr, edges of the layout', () => {
  const nonce = hexToBytes('c0'.repeat(16));

  it('matches an independent writer of the layout at its extremes: 1 msat, 2^63-1 msat, expiry 0 and 2^53-1 s', () => {
    for (const [expiresAt, amountMsat] of [
      [0n, 1n],
      [BigInt(Number.MAX_SAFE_INTEGER), 2n ** 63n - 1n],
      [4_102_444_800n, 2n ** 32n + 7n],
    ] as const) {
      const made = goPaymentAddr(GO_KEY, nonce, expiresAt, amountMsat);
      const opened = openGoLnmuxPaymentAddr(GO_KEY, made.paymentAddr, made.paymentHash);
      if (!opened.ok) throw new Error(`expected it to open, got ${opened.error.kind}`);
      expect(opened.value).toEqual({
        amountMsat,
        expiresAt: Number(expiresAt),
        nonce,
        preimage: made.preimage,
        paymentHash: made.paymentHash,
      });
    }
  });

  it('refuses authentic terms the Go lnmux never settles: amount 0 or at least 2^63 msat, expiry above 2^53-1 s', () => {
    for (const [expiresAt, amountMsat, reason] of [
      [2_000_000_000n, 0n, /amount is zero/],
      [2_000_000_000n, 2n ** 63n, /2\^63/],
      [2_000_000_000n, 2n ** 64n - 1n, /2\^63/],
      [2n ** 53n, 1_000n, /expiry/],
    ] as const) {
      const made = goPaymentAddr(GO_KEY, nonce, expiresAt, amountMsat);
      const opened = openGoLnmuxPaymentAddr(GO_KEY, made.paymentAddr, made.paymentHash);
      expect(opened.ok).toBe(false);
      if (!opened.ok && opened.error.kind === 'malformed') expect(opened.error.reason).toMatch(reason);
      else throw new Error('expected malformed');
    }
  });

  it('checks the hash before the terms: forged bytes with a zero amount are a hashMismatch, not malformed', () => {
    const made = goPaymentAddr(OTHER_KEY, nonce, 2_000_000_000n, 0n);
    expect(openGoLnmuxPaymentAddr(GO_KEY, made.paymentAddr, made.paymentHash)).toEqual({
      ok: false,
      error: { kind: 'hashMismatch' },
    });
  });

  it('returns malformed for a payment_addr or payment hash that is not 32 bytes', () => {
    const made = goPaymentAddr(GO_KEY, nonce, 2_000_000_000n, 1_000n);
    for (const [addr, hash] of [
      [made.paymentAddr.subarray(0, 31), made.paymentHash],
      [new Uint8Array(33), made.paymentHash],
      [made.paymentAddr, made.paymentHash.subarray(1)],
      [made.paymentAddr, new Uint8Array(0)],
    ] as const) {
      expect(openGoLnmuxPaymentAddr(GO_KEY, addr, hash)).toMatchObject({ ok: false, error: { kind: 'malformed' } });
    }
  });

  it('throws only for an identity key that is not 32 bytes, without printing it', () => {
    expect(() => openGoLnmuxPaymentAddr(GO_KEY.subarray(1), new Uint8Array(32), new Uint8Array(32))).toThrow(RangeError);
    expect(() => openGoLnmuxPaymentAddr('00' as unknown as Uint8Array, new Uint8Array(32), new Uint8Array(32))).toThrow(
      TypeError,
    );
  });

  it('never throws for any payment_addr and payment hash bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (addr, hash) => {
        const opened = openGoLnmuxPaymentAddr(GO_KEY, addr, hash);
        expect(opened.ok).toBe(false);
      }),
    );
  });
});

describe('the Go lnmux\'s payment requests, read by our BOLT 11 decoder', () => {
  const identityPubkey = bytesToHex(secp256k1.getPublicKey(GO_KEY, true));

  it('records the identity pubkey of its key', () => {
    expect(fixture.identity_pubkey).toBe(identityPubkey);
    expect(fixture.network).toBe('regtest');
  });

  for (const invoice of fixture.invoices) {
    it(`reads ${invoice.description}: payee, amount, payment_secret, expiry, c, one hint per cluster node`, () => {
      const decoded = decodeInvoice(invoice.payment_request);
      if (!decoded.ok) throw new Error(`expected it to decode, got ${decoded.error.kind}`);
      const d = decoded.value;
      expect(d.network).toBe('bcrt');
      expect(bytesToHex(d.payeePubkey)).toBe(identityPubkey);
      expect(d.payeeNodeKey).toBeUndefined();
      expect(d.amountMsat).toBe(BigInt(invoice.amount_msat));
      expect(bytesToHex(d.paymentHash)).toBe(invoice.payment_hash);
      expect(bytesToHex(d.paymentSecret)).toBe(invoice.payment_addr);
      expect(d.description).toBe(invoice.description);
      expect(d.timestamp).toBe(invoice.created_at);
      expect(d.expirySeconds).toBe(invoice.expiry_seconds);
      // The payment_addr's expiry is the invoice's: BOLT 11 timestamp + x.
      expect(d.timestamp + d.expirySeconds!).toBe(invoice.expires_at);
      expect(d.minFinalCltvExpiryDelta).toBe(invoice.min_final_cltv_expiry_delta);
      expect(d.features).toEqual({ varOnionOptin: 'optional', paymentSecret: 'required', basicMpp: 'optional' });
      expect(invoice.feature_bits).toEqual([9, 14, 17]);

      // One single-hop `r` field per cluster node, on the same virtual channel id as ours.
      expect(d.routeHints?.map((route) => route.length)).toEqual(fixture.cluster_node_pubkeys.map(() => 1));
      const hops = d.routeHints!.map((route) => route[0]!);
      expect(hops.map((hop) => bytesToHex(hop.pubkey))).toEqual(fixture.cluster_node_pubkeys);
      expect(
        hops.map((hop) => ({
          node_pubkey: bytesToHex(hop.pubkey),
          short_channel_id: hop.shortChannelId.toString(),
          fee_base_msat: hop.feeBaseMsat,
          fee_proportional_millionths: hop.feeProportionalMillionths,
          cltv_expiry_delta: hop.cltvExpiryDelta,
        })),
      ).toEqual(invoice.route_hints);
      for (const hop of hops) expect(hop.shortChannelId).toBe(virtualChannelId(hop.pubkey));
    });
  }
});

describe('final-hop onions built by lightning-onion for the Go lnmux\'s invoices', () => {
  const withOnions = fixture.invoices.filter((invoice) => invoice.onions !== undefined);

  it('has a one-part payment and a two-part one', () => {
    expect(withOnions.map((invoice) => invoice.onions!.length)).toEqual([1, 2]);
  });

  for (const invoice of withOnions) {
    for (const [i, onion] of invoice.onions!.entries()) {
      it(`peels part ${i} of ${invoice.description} to a payload whose payment_secret opens the invoice`, () => {
        const blob = hexToBytes(onion.onion_blob);
        expect(bytesToHex(blob.subarray(1, 34))).toBe(bytesToHex(secp256k1.getPublicKey(hexToBytes(onion.session_key), true)));
        expect(onion.associated_data).toBe(invoice.payment_hash);
        const peeled = peelOnion(blob, hexToBytes(invoice.payment_hash), ecdhWithPrivateKey(GO_KEY));
        if (!peeled.ok) throw new Error(`expected it to peel, got ${peeled.error.kind}`);
        expect(peeled.value.next.kind).toBe('final');
        expect(peeled.value.format).toBe('tlv');
        const payload = decodeHopPayload(peeled.value.payload, 'final');
        if (!payload.ok) throw new Error(`expected a final payload, got ${payload.error.violation}`);
        expect(payload.value.amtToForwardMsat).toBe(BigInt(onion.amt_to_forward_msat));
        expect(payload.value.outgoingCltvValue).toBe(onion.outgoing_cltv_value);
        expect(payload.value.paymentData?.totalMsat).toBe(BigInt(onion.mpp_total_msat));
        expect(bytesToHex(payload.value.paymentData!.paymentAddr)).toBe(invoice.payment_addr);

        const opened = openGoLnmuxPaymentAddr(GO_KEY, payload.value.paymentData!.paymentAddr, hexToBytes(invoice.payment_hash));
        if (!opened.ok) throw new Error(`expected it to open, got ${opened.error.kind}`);
        expect(opened.value.amountMsat).toBe(payload.value.paymentData!.totalMsat);
        expect(bytesToHex(opened.value.preimage)).toBe(invoice.preimage);
      });
    }
  }
});
