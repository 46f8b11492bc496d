/**
 * An invoice as lnmux makes them (one route hint per cluster node, `virtualChannelId` short
 * channel ids with the top bit set, min_final_cltv_expiry 40, var_onion_optin and payment_secret
 * required, basic_mpp optional) read by independent decoders from npm: `bolt11` (bitcoinjs; recovers the payee from the
 * signature and checks it against `n`), `light-bolt11-decoder` (no signature check), and the
 * signature checked with @noble/curves.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32 } from '@scure/base';
import bolt11 from 'bolt11';
import { decode as lightDecode } from 'light-bolt11-decoder';
import { describe, expect, it } from 'vitest';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '../../src/protocol/bytes.js';
import { decodeInvoice, encodeInvoice, signInvoice, type InvoiceFields, type RouteHintHop } from '../../src/protocol/bolt11.js';
import { taggedFieldsOf } from '../../src/protocol/bolt11-typed.js';
import { wordsToBytesPadded } from '../../src/protocol/bolt11-words.js';
import { virtualChannelId } from '../../src/protocol/virtual-scid.js';

const identityKey = hexToBytes('4d'.repeat(32));
const identity = secp256k1.getPublicKey(identityKey, true);
const clusterNodes = [hexToBytes('a1'.repeat(32)), hexToBytes('b2'.repeat(32))].map((k) => secp256k1.getPublicKey(k, true));

const routeHints: RouteHintHop[][] = clusterNodes.map((pubkey) => [
  { pubkey, shortChannelId: virtualChannelId(pubkey), feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40 },
]);
const fields: InvoiceFields = {
  network: 'bcrt',
  amountMsat: 123_456_789n,
  timestamp: 1_700_000_000,
  paymentHash: sha256(utf8ToBytes('preimage')),
  paymentSecret: hexToBytes('5e'.repeat(32)),
  description: 'lnmux interop: two cluster nodes',
  expirySeconds: 7200,
  minFinalCltvExpiryDelta: 40,
  features: { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional' },
  routeHints,
};
const invoice = encodeInvoice(fields, identityKey);

type Bolt11Tag = { tagName: string; data: unknown };
const tag = (tags: readonly Bolt11Tag[], name: string) => tags.filter((t) => t.tagName === name).map((t) => t.data);
const hopJson = (hop: RouteHintHop) => ({
  pubkey: bytesToHex(hop.pubkey),
  short_channel_id: hop.shortChannelId.toString(16).padStart(16, '0'),
  fee_base_msat: hop.feeBaseMsat,
  fee_proportional_millionths: hop.feeProportionalMillionths,
  cltv_expiry_delta: hop.cltvExpiryDelta,
});

describe('BOLT 11 interoperability', () => {
  it('uses virtual short channel ids with the top bit set, which our decoder reads back exactly', () => {
    for (const [hop] of routeHints) expect(hop!.shortChannelId >= 1n << 63n).toBe(true);
    const read = decodeInvoice(invoice);
    expect(read.ok && read.value.routeHints).toEqual(routeHints);
    expect(read.ok && read.value.payeePubkey).toEqual(identity);
  });

  it('is read by the bolt11 package with the same fields, payee recovered from the signature', () => {
    const read = bolt11.decode(invoice);
    const tags = read.tags as Bolt11Tag[];
    expect(read.payeeNodeKey).toBe(bytesToHex(identity));
    expect(read.millisatoshis).toBe('123456789');
    expect(read.timestamp).toBe(1_700_000_000);
    expect(tag(tags, 'payment_hash')).toEqual([bytesToHex(fields.paymentHash)]);
    expect(tag(tags, 'payment_secret')).toEqual([bytesToHex(fields.paymentSecret)]);
    expect(tag(tags, 'description')).toEqual([fields.description]);
    expect(tag(tags, 'expire_time')).toEqual([7200]);
    expect(tag(tags, 'min_final_cltv_expiry')).toEqual([40]);
    expect(tag(tags, 'routing_info')).toEqual(routeHints.map((hops) => hops.map(hopJson)));
    const [features] = tag(tags, 'feature_bits') as Record<string, { required: boolean; supported: boolean }>[];
    expect(features!.var_onion_optin).toEqual({ required: true, supported: false });
    expect(features!.payment_secret).toEqual({ required: true, supported: false });
    expect(features!.basic_mpp).toEqual({ required: false, supported: true });
  });

  it('is read by the bolt11 package with an n field, which it checks against the signature', () => {
    const withPayee = encodeInvoice({ ...fields, payeeNodeKey: identity }, identityKey);
    expect(bolt11.decode(withPayee).payeeNodeKey).toBe(bytesToHex(identity));
    // Sanity check that the package does check: an n field naming another node is refused.
    const forged = signInvoice(
      {
        network: 'bcrt',
        timestamp: fields.timestamp,
        taggedFields: [...taggedFieldsOf(fields), { kind: 'raw', type: 19, words: Uint8Array.from(bech32.toWords(clusterNodes[0]!)) }],
      },
      identityKey,
    );
    expect(() => bolt11.decode(forged)).toThrow(/does not match payee pubkey/);
  });

  it('is read by light-bolt11-decoder with the same fields', () => {
    const read = lightDecode(invoice);
    const section = (name: string) => read.sections.find((s) => s.name === name) as { value?: unknown } | undefined;
    expect(section('coin_network')?.value).toMatchObject({ bech32: 'bcrt' });
    expect(section('amount')?.value).toBe('123456789');
    expect(section('timestamp')?.value).toBe(1_700_000_000);
    expect(section('payment_hash')?.value).toBe(bytesToHex(fields.paymentHash));
    expect(section('payment_secret')?.value).toBe(bytesToHex(fields.paymentSecret));
    expect(section('description')?.value).toBe(fields.description);
    expect(section('min_final_cltv_expiry')?.value).toBe(40);
    expect(read.expiry).toBe(7200);
    expect(read.route_hints).toEqual(routeHints.map((hops) => hops.map(hopJson)));
    expect(section('feature_bits')?.value).toMatchObject({ var_onion_optin: 'required', payment_secret: 'required', basic_mpp: 'supported' });
  });

  it('carries a signature that @noble/curves verifies and recovers to the identity key', () => {
    const { prefix, words } = bech32.decode(invoice as `${string}1${string}`, false);
    const hash = sha256(concatBytes(utf8ToBytes(prefix), wordsToBytesPadded(Uint8Array.from(words.slice(0, -104)))));
    const signature = bech32.fromWords(words.slice(-104));
    const compact = signature.slice(0, 64);
    expect(secp256k1.verify(compact, hash, identity, { prehash: false })).toBe(true);
    const recovered = secp256k1.Signature.fromBytes(compact, 'compact').addRecoveryBit(signature[64]!).recoverPublicKey(hash);
    expect(recovered.toHex(true)).toBe(bytesToHex(identity));
    // RFC6979 as in @noble/curves: the same deterministic signature
    expect(bytesToHex(secp256k1.sign(hash, identityKey, { prehash: false }))).toBe(bytesToHex(compact));
  });
});
