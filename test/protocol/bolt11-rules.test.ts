/**
 * BOLT 11 reader and writer requirements that the spec's examples do not exercise. Invoices that
 * break one rule are built with `signInvoice` from raw fields, so that their signature is good and
 * the rule under test is the only thing wrong with them.
 */
import { bech32 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../../src/protocol/bytes.js';
import { decodeFeatures, featureListToWords } from '../../src/protocol/bolt11-features.js';
import {
  DEFAULT_EXPIRY_SECONDS,
  DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
  decodeInvoice,
  encodeInvoice,
  formatAmount,
  parseAmount,
  signInvoice,
  type Bolt11Error,
  type DecodedInvoice,
  type InvoiceFields,
  type Network,
  type TaggedField,
} from '../../src/protocol/bolt11.js';
import { publicKeyOf } from '../../src/protocol/bolt11-signature.js';
import { bytesToWords } from '../../src/protocol/bolt11-words.js';

const key = hexToBytes('e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734');
const otherKey = hexToBytes('11'.repeat(32));
const TIMESTAMP = 1_700_000_000;

const base: InvoiceFields = {
  network: 'bc',
  timestamp: TIMESTAMP,
  paymentHash: hexToBytes('aa'.repeat(32)),
  paymentSecret: hexToBytes('bb'.repeat(32)),
  description: 'rules',
  features: { varOnionOptin: 'required', paymentSecret: 'required' },
};
const baseFields: TaggedField[] = [
  { kind: 'paymentSecret', value: base.paymentSecret },
  { kind: 'paymentHash', value: base.paymentHash },
  { kind: 'description', value: 'rules' },
];

const raw = (type: number, words: number[]): TaggedField => ({ kind: 'raw', type, words: Uint8Array.from(words) });
const signed = (taggedFields: TaggedField[], network: Network = 'bc') =>
  signInvoice({ network, timestamp: TIMESTAMP, taggedFields }, key);
const rejection = (text: string): Bolt11Error | undefined => {
  const result = decodeInvoice(text);
  return result.ok ? undefined : result.error;
};
function decoded(text: string): DecodedInvoice {
  const result = decodeInvoice(text);
  if (!result.ok) throw new Error(`decode failed: ${JSON.stringify(result.error)}`);
  return result.value;
}
/** A Bech32 string with a good checksum but arbitrary content (signature not meaningful). */
const bech = (hrp: string, words: number[]) => bech32.encode(hrp, words, false);
const TIMESTAMP_WORDS = [0, 0, 0, 0, 0, 0, 1];
const zeroSignature = new Array<number>(104).fill(0);

describe('BOLT 11 human-readable part', () => {
  it.each(['bc', 'tb', 'tbs', 'bcrt', 'sb'] as const)('writes and reads the %s currency prefix', (network) => {
    for (const amountMsat of [undefined, 10_000n]) {
      const text = encodeInvoice({ ...base, network, amountMsat }, key);
      expect(text.startsWith(`ln${network}${amountMsat === undefined ? '1' : '100n1'}`)).toBe(true);
      expect(decoded(text).network).toBe(network);
      expect(decoded(text).amountMsat).toBe(amountMsat);
    }
  });

  it.each(['lnxy', 'bc', 'lnbcx', 'lntbx', 'ln', 'lnBC'.toLowerCase() + 'q'])('fails an unknown prefix %s', (hrp) => {
    expect(rejection(bech(hrp, [...TIMESTAMP_WORDS, ...zeroSignature]))).toEqual({ kind: 'unknownPrefix', prefix: hrp });
  });

  it.each([
    ['1', 100_000_000_000n],
    ['25m', 2_500_000_000n],
    ['2500u', 250_000_000n],
    ['10n', 1_000n],
    ['10p', 1n],
    ['9678785340p', 967_878_534n],
    ['184467440737095516150p', 0xffff_ffff_ffff_ffffn],
  ])('reads the amount %s as %s msat', (amount, msat) => {
    expect(parseAmount(amount)).toEqual({ ok: true, value: msat });
  });

  it.each(['0', '0m', '01m', '1k', '1mm', 'm', '-1', '1.5m', '184467440737095516160p', '1000000000'])(
    'fails the amount %s (not a positive integer without leading zeros, one multiplier, below 2^64 msat)',
    (amount) => {
      expect(parseAmount(amount)).toEqual({ ok: false, error: { kind: 'invalidAmount', amount } });
    },
  );

  it('fails a pico amount that is not a whole millisatoshi', () => {
    expect(parseAmount('11p')).toEqual({ ok: false, error: { kind: 'subMillisatoshiAmount', amount: '11p' } });
  });

  it.each([
    [100_000_000_000n, '1'],
    [2_500_000_000n, '25m'],
    [250_000_000n, '2500u'],
    [1_000n, '10n'],
    [1n, '10p'],
    [1_234n, '12340p'],
    [0xffff_ffff_ffff_ffffn, '184467440737095516150p'],
  ])('writes %s msat in the shortest form, %s', (msat, amount) => {
    expect(formatAmount(msat)).toBe(amount);
  });

  it('refuses to write an amount of 0 or of 2^64 msat', () => {
    expect(() => formatAmount(0n)).toThrow(RangeError);
    expect(() => formatAmount(1n << 64n)).toThrow(RangeError);
  });
});

describe('BOLT 11 Bech32 and data part', () => {
  it('accepts an all upper case invoice and reports it in lower case', () => {
    const text = encodeInvoice(base, key);
    expect(decoded(text.toUpperCase()).paymentRequest).toBe(text);
  });

  it('fails characters outside Bech32 and strings with an empty human-readable part', () => {
    const text = encodeInvoice(base, key);
    expect(rejection(`${text.slice(0, 20)}b${text.slice(21)}`)).toEqual({ kind: 'invalidBech32', reason: 'invalidCharacter' });
    expect(rejection(` ${text}`)).toEqual({ kind: 'invalidBech32', reason: 'invalidCharacter' });
    expect(rejection(`1${text.slice(text.lastIndexOf('1') + 1)}`)).toEqual({ kind: 'invalidBech32', reason: 'noSeparator' });
    expect(rejection('lnbc1qqqqq')).toEqual({ kind: 'invalidBech32', reason: 'tooShort' });
  });

  it('fails a field that runs into the signature', () => {
    const words = [...TIMESTAMP_WORDS, 1, 1, 20, 0, 0, 0, ...zeroSignature];
    expect(rejection(bech('lnbc', words))).toEqual({ kind: 'truncatedField', type: 1 });
    expect(rejection(bech('lnbc', [...TIMESTAMP_WORDS, 1, 1, ...zeroSignature]))).toEqual({ kind: 'truncatedField', type: 1 });
  });

  it('fails a recovery id outside 0..3', () => {
    const { prefix, words } = bech32.decode(encodeInvoice(base, key) as `${string}1${string}`, false);
    const signature = bech32.fromWords(words.slice(-104));
    signature[64] = 4;
    const tampered = bech(prefix, [...words.slice(0, -104), ...bech32.toWords(signature)]);
    expect(rejection(tampered)).toEqual({ kind: 'invalidRecoveryId', recoveryId: 4 });
  });

  it('recovers another payee when a signed field is changed (the signature binds every field)', () => {
    const text = encodeInvoice(base, key);
    const { prefix, words } = bech32.decode(text as `${string}1${string}`, false);
    words[5] = (words[5] as number) ^ 1; // timestamp
    const result = decodeInvoice(bech(prefix, words));
    expect(result.ok && bytesToHex(result.value.payeePubkey)).not.toBe(bytesToHex(publicKeyOf(key)));
  });
});

describe('BOLT 11 tagged fields (reader)', () => {
  it.each([
    ['p', 1, 51],
    ['p', 1, 53],
    ['s', 16, 51],
    ['h', 23, 53],
    ['n', 19, 52],
  ] as const)('fails a %s field of data_length %s', (field, type, length) => {
    const others = baseFields.filter((f) => !(field === 'p' && f.kind === 'paymentHash') && !(field === 's' && f.kind === 'paymentSecret'));
    expect(rejection(signed([...others, raw(type, new Array<number>(length).fill(0))]))).toEqual({
      kind: 'badFieldLength',
      field,
      length,
    });
  });

  it('fails a 256-bit field whose 4 padding bits are not zero', () => {
    const words = [...bytesToWords(hexToBytes('cc'.repeat(32)))];
    words[51] = (words[51] as number) | 1;
    expect(rejection(signed([baseFields[0]!, baseFields[2]!, raw(1, words)]))).toEqual({ kind: 'invalidPadding', field: 'p' });
  });

  it.each([
    ['x', 6],
    ['c', 24],
    ['9', 5],
  ] as const)('treats a %s field with a leading 0 word as invalid (non-minimal data_length)', (field, type) => {
    expect(rejection(signed([...baseFields, raw(type, [0, 1])]))).toEqual({ kind: 'nonMinimalField', field });
  });

  it('fails an x field above 2^53 - 1 seconds', () => {
    expect(rejection(signed([...baseFields, raw(6, new Array<number>(11).fill(31))]))).toEqual({ kind: 'valueTooLarge', field: 'x' });
  });

  it('fails a d field that is not UTF-8, and keeps a leading byte-order mark', () => {
    const invalidUtf8 = [...bytesToWords(Uint8Array.of(0xff, 0xfe))];
    expect(rejection(signed([baseFields[0]!, baseFields[1]!, raw(13, invalidUtf8)]))).toEqual({ kind: 'invalidDescription' });
    const text = encodeInvoice({ ...base, description: '\ufeffbom' }, key);
    expect(decoded(text).description).toBe('\ufeffbom');
  });

  it('fails without p, without s, with neither d nor h, and with both', () => {
    const [s, p, d] = baseFields as [TaggedField, TaggedField, TaggedField];
    const h: TaggedField = { kind: 'descriptionHash', value: hexToBytes('dd'.repeat(32)) };
    expect(rejection(signed([s, d]))).toEqual({ kind: 'missingPaymentHash' });
    expect(rejection(signed([p, d]))).toEqual({ kind: 'missingPaymentSecret' });
    expect(rejection(signed([s, p]))).toEqual({ kind: 'missingDescription' });
    expect(rejection(signed([s, p, d, h]))).toEqual({ kind: 'conflictingDescription' });
  });

  it('uses the first of repeated fields and keeps them all in taggedFields', () => {
    const second: TaggedField = { kind: 'paymentHash', value: hexToBytes('ee'.repeat(32)) };
    const invoice = decoded(signed([...baseFields, second]));
    expect(bytesToHex(invoice.paymentHash)).toBe('aa'.repeat(32));
    expect(invoice.taggedFields.filter((f) => f.kind === 'paymentHash')).toHaveLength(2);
  });

  it('keeps unknown fields and f fields of unknown versions, and writes them back', () => {
    const unknownFields = [
      { type: 10, words: Uint8Array.of(0, 0, 0) },
      { type: 9, words: Uint8Array.of(19, 1, 2, 3) },
    ];
    const invoice = decoded(encodeInvoice({ ...base, unknownFields }, key));
    expect(invoice.unknownFields).toEqual(unknownFields);
    expect(invoice.fallbacks).toBeUndefined();
  });

  it('refuses to write an unknown field of a type BOLT 11 defines', () => {
    expect(() => encodeInvoice({ ...base, unknownFields: [{ type: 1, words: Uint8Array.of(1) }] }, key)).toThrow(RangeError);
    expect(() => encodeInvoice({ ...base, unknownFields: [{ type: 9, words: Uint8Array.of(17, 1) }] }, key)).toThrow(RangeError);
  });

  it('fails an f field without version, or whose program does not fit its version', () => {
    expect(rejection(signed([...baseFields, raw(9, [])]))).toEqual({ kind: 'invalidFallback' });
    const p2pkh21 = [17, ...bytesToWords(new Uint8Array(21))];
    expect(rejection(signed([...baseFields, raw(9, p2pkh21)]))).toEqual({ kind: 'invalidFallback', version: 17 });
    const v0Of25 = [0, ...bytesToWords(new Uint8Array(25))];
    expect(rejection(signed([...baseFields, raw(9, v0Of25)]))).toEqual({ kind: 'invalidFallback', version: 0 });
  });

  it('fails an r field that is not whole hops, or whose hop pubkey is not a point', () => {
    expect(rejection(signed([...baseFields, raw(3, [...bytesToWords(new Uint8Array(50))])]))).toEqual({
      kind: 'invalidRouteHint',
      reason: 'length',
    });
    const hop = new Uint8Array(51);
    hop[0] = 2; // x = 0 is not on secp256k1
    expect(rejection(signed([...baseFields, raw(3, [...bytesToWords(hop)])]))).toEqual({
      kind: 'invalidRouteHint',
      reason: 'pubkey',
    });
  });

  it('verifies against an n field and reports it as the payee', () => {
    const payee = publicKeyOf(key);
    const invoice = decoded(encodeInvoice({ ...base, payeeNodeKey: payee }, key));
    expect(invoice.payeeNodeKey).toEqual(payee);
    expect(invoice.payeePubkey).toEqual(payee);
  });

  it('fails when the n field names another key than the signer', () => {
    const words = [...bytesToWords(publicKeyOf(otherKey))];
    expect(rejection(signed([...baseFields, raw(19, words)]))).toEqual({ kind: 'invalidSignature' });
  });

  it('fails an n field that is not a public key', () => {
    const notAPoint = new Uint8Array(33);
    notAPoint[0] = 2;
    expect(rejection(signed([...baseFields, raw(19, [...bytesToWords(notAPoint)])]))).toEqual({ kind: 'invalidPayeeNodeKey' });
  });
});

describe('BOLT 11 feature bits', () => {
  const withFeatures = (words: number[]) => signed([...baseFields, raw(5, words)]);

  it('types var_onion_optin, payment_secret, basic_mpp and payment_metadata', () => {
    const features = { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional', paymentMetadata: 'optional' } as const;
    expect(decoded(encodeInvoice({ ...base, features }, key)).features).toEqual(features);
  });

  it('keeps unknown odd bits and ignores them', () => {
    // bit 25 (option_route_blinding, optional): word 5 from the right, bit 0
    expect(decoded(withFeatures([1, 0, 0, 0, 0, 0])).features).toEqual({ otherBits: [25] });
  });

  it('fails an unknown even bit and names it', () => {
    expect(rejection(withFeatures([16, 0, 0, 0, 0]))).toEqual({ kind: 'unknownRequiredFeature', bit: 24 });
  });

  it('treats a feature with both bits set as required and keeps the odd bit', () => {
    // bits 8 and 9: word 1 from the right, bits 3 and 4
    const invoice = decoded(withFeatures([24, 0]));
    expect(invoice.features).toEqual({ varOnionOptin: 'required', otherBits: [9] });
    expect(signInvoice(invoice, key)).toBe(withFeatures([24, 0]));
  });

  it('omits the 9 field when no bit is set', () => {
    const invoice = decoded(encodeInvoice({ ...base, features: {} }, key));
    expect(invoice.features).toBeUndefined();
    expect(invoice.taggedFields.some((f) => f.kind === 'features')).toBe(false);
  });

  it('refuses to write basic_mpp without payment_secret, an even unknown bit, or a typed bit in otherBits', () => {
    expect(() => encodeInvoice({ ...base, features: { basicMpp: 'optional' } }, key)).toThrow(/paymentSecret/);
    expect(() => encodeInvoice({ ...base, features: { otherBits: [24] } }, key)).toThrow(RangeError);
    expect(() => encodeInvoice({ ...base, features: { otherBits: [17] } }, key)).toThrow(RangeError);
    expect(() => encodeInvoice({ ...base, features: { otherBits: [1023 * 5 + 1] } }, key)).toThrow(RangeError);
  });
});

describe('BOLT 11 writer', () => {
  it('is deterministic: the same fields and key give the same string', () => {
    expect(encodeInvoice(base, key)).toBe(encodeInvoice(base, key));
  });

  it('writes x and c only when given; readers apply the defaults 3600 s and 18 blocks', () => {
    const invoice = decoded(encodeInvoice(base, key));
    expect(invoice.expirySeconds).toBeUndefined();
    expect(invoice.minFinalCltvExpiryDelta).toBeUndefined();
    expect([DEFAULT_EXPIRY_SECONDS, DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA]).toEqual([3600, 18]);
    const zero = decoded(encodeInvoice({ ...base, expirySeconds: 0, minFinalCltvExpiryDelta: 40 }, key));
    expect([zero.expirySeconds, zero.minFinalCltvExpiryDelta]).toEqual([0, 40]);
  });

  it('writes a description of 639 UTF-8 bytes and refuses 640', () => {
    expect(decoded(encodeInvoice({ ...base, description: 'é'.repeat(319) + 'a' }, key)).description).toHaveLength(320);
    expect(utf8ToBytes('é'.repeat(320))).toHaveLength(640);
    expect(() => encodeInvoice({ ...base, description: 'é'.repeat(320) }, key)).toThrow(RangeError);
  });

  it('throws TypeError without a payment secret or without exactly one of d / h', () => {
    const { paymentSecret: _s, ...noSecret } = base;
    expect(() => encodeInvoice(noSecret as InvoiceFields, key)).toThrow(TypeError);
    expect(() => encodeInvoice({ ...base, description: undefined }, key)).toThrow(TypeError);
    expect(() => encodeInvoice({ ...base, descriptionHash: new Uint8Array(32) }, key)).toThrow(TypeError);
  });

  it('throws TypeError for an invalid private key', () => {
    expect(() => encodeInvoice(base, new Uint8Array(32))).toThrow(TypeError);
    expect(() => encodeInvoice(base, new Uint8Array(31).fill(1))).toThrow(TypeError);
  });

  it('throws RangeError for values out of range', () => {
    const hop = { pubkey: publicKeyOf(otherKey), shortChannelId: 1n, feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40 };
    const bad: Partial<InvoiceFields>[] = [
      { payeeNodeKey: publicKeyOf(otherKey) },
      { paymentHash: new Uint8Array(31) },
      { descriptionHash: new Uint8Array(33), description: undefined },
      { timestamp: 2 ** 35 },
      { timestamp: -1 },
      { amountMsat: 0n },
      { expirySeconds: 1.5 },
      { minFinalCltvExpiryDelta: -1 },
      { description: '\ud800' },
      { routeHints: [[]] },
      { routeHints: [new Array(13).fill(hop)] },
      { routeHints: [[{ ...hop, shortChannelId: 1n << 64n }]] },
      { routeHints: [[{ ...hop, cltvExpiryDelta: 65536 }]] },
      { routeHints: [[{ ...hop, pubkey: new Uint8Array(33) }]] },
      { fallbacks: [{ kind: 'witness', version: 0, program: new Uint8Array(21) }] },
      { fallbacks: [{ kind: 'witness', version: 17, program: new Uint8Array(20) }] },
    ];
    for (const change of bad) expect(() => encodeInvoice({ ...base, ...change }, key), JSON.stringify(Object.keys(change))).toThrow(RangeError);
  });

  it('writes 12 hops in one r field, the most that 1023 words hold', () => {
    const hop = { pubkey: publicKeyOf(otherKey), shortChannelId: 7n, feeBaseMsat: 1, feeProportionalMillionths: 2, cltvExpiryDelta: 3 };
    const routeHints = [new Array(12).fill(hop)];
    expect(decoded(encodeInvoice({ ...base, routeHints }, key)).routeHints).toEqual(routeHints);
  });
});

describe('reader limits found in review', () => {
  it('refuses a payment request longer than MAX_PAYMENT_REQUEST_LENGTH before decoding it', () => {
    const huge = `lnbc1${'q'.repeat(5_000_000)}`;
    expect(decodeInvoice(huge)).toEqual({ ok: false, error: { kind: 'tooLong', length: huge.length } });
  });

  it('refuses basic_mpp without payment_secret (BOLT 9 dependency)', () => {
    expect(decodeFeatures(featureListToWords([17]))).toEqual({
      ok: false,
      error: { kind: 'missingFeatureDependency', bit: 16, needs: 14 },
    });
    expect(decodeFeatures(featureListToWords([14, 17])).ok).toBe(true);
  });
});
