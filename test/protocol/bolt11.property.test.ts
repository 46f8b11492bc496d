/**
 * Properties of the BOLT 11 codec (fast-check): the decoder returns a Result for any string and
 * never throws, and decoding what the encoder wrote gives back the fields it was given.
 */
import { bech32 } from '@scure/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexToBytes } from '../../src/protocol/bytes.js';
import {
  decodeInvoice,
  encodeInvoice,
  type DecodedInvoice,
  type FallbackAddress,
  type FeatureBits,
  type InvoiceFields,
  type RouteHintHop,
} from '../../src/protocol/bolt11.js';
import { publicKeyOf } from '../../src/protocol/bolt11-signature.js';
import { loadSpecExamples } from './bolt11-vectors.js';

const KEYS = ['e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734', '4d'.repeat(32)].map(hexToBytes);
const PUBKEYS = ['01', '02', '03', '04', '05', '06'].map((b) => publicKeyOf(hexToBytes(b.repeat(32))));
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const hop: fc.Arbitrary<RouteHintHop> = fc.record({
  pubkey: fc.constantFrom(...PUBKEYS),
  shortChannelId: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
  feeBaseMsat: u32,
  feeProportionalMillionths: u32,
  cltvExpiryDelta: fc.integer({ min: 0, max: 0xffff }),
});

const fallback: fc.Arbitrary<FallbackAddress> = fc.oneof(
  fc.record({ kind: fc.constant('p2pkh' as const), hash: bytes(20) }),
  fc.record({ kind: fc.constant('p2sh' as const), hash: bytes(20) }),
  fc.record({ kind: fc.constant('witness' as const), version: fc.constant(0), program: fc.oneof(bytes(20), bytes(32)) }),
  fc.record({
    kind: fc.constant('witness' as const),
    version: fc.integer({ min: 1, max: 16 }),
    program: fc.uint8Array({ minLength: 2, maxLength: 40 }),
  }),
);

const support = optional(fc.constantFrom('required' as const, 'optional' as const));
/** Odd bits that no typed feature uses. */
const UNTYPED_ODD = Array.from({ length: 128 }, (_, i) => 2 * i + 1).filter((b) => ![9, 15, 17, 49].includes(b));
const features: fc.Arbitrary<FeatureBits> = fc
  .record({
    varOnionOptin: support,
    paymentSecret: fc.constantFrom('required' as const, 'optional' as const),
    basicMpp: support,
    paymentMetadata: support,
    otherBits: optional(fc.uniqueArray(fc.constantFrom(...UNTYPED_ODD), { minLength: 1, maxLength: 4 }).map((b) => b.sort((x, y) => x - y))),
  })
  .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as FeatureBits);

const UNKNOWN_TYPES = [0, 2, 4, 7, 8, 10, 11, 12, 14, 15, 17, 18, 20, 21, 22, 25, 26, 28, 29, 30, 31];
const unknownField = fc.record({
  type: fc.constantFrom(...UNKNOWN_TYPES),
  words: fc.uint8Array({ minLength: 0, maxLength: 30, max: 31 }),
});

const invoiceFields: fc.Arbitrary<{ fields: InvoiceFields; key: Uint8Array }> = fc
  .record({
    key: fc.constantFrom(...KEYS),
    withPayee: fc.boolean(),
    network: fc.constantFrom('bc' as const, 'tb' as const, 'tbs' as const, 'bcrt' as const, 'sb' as const),
    amountMsat: optional(fc.bigInt({ min: 1n, max: 0xffff_ffff_ffff_ffffn })),
    timestamp: fc.integer({ min: 0, max: 2 ** 35 - 1 }),
    paymentHash: bytes(32),
    paymentSecret: bytes(32),
    describe: fc.oneof(
      fc.record({ description: fc.string({ unit: 'grapheme', maxLength: 60 }) }),
      fc.record({ descriptionHash: bytes(32) }),
    ),
    expirySeconds: optional(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
    minFinalCltvExpiryDelta: optional(fc.integer({ min: 0, max: 0xffff_ffff })),
    features: optional(features),
    routeHints: optional(fc.array(fc.array(hop, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 })),
    metadata: optional(fc.uint8Array({ maxLength: 64 })),
    fallbacks: optional(fc.array(fallback, { minLength: 1, maxLength: 3 })),
    unknownFields: optional(fc.array(unknownField, { minLength: 1, maxLength: 3 })),
  })
  .map(({ key, withPayee, describe, ...rest }) => {
    const entries: [string, unknown][] = Object.entries({ ...rest, ...describe }).filter(([, v]) => v !== undefined);
    if (withPayee) entries.push(['payeeNodeKey', publicKeyOf(key)]);
    return { fields: Object.fromEntries(entries) as unknown as InvoiceFields, key };
  });

function typedFields(invoice: DecodedInvoice): InvoiceFields {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { payeePubkey, signature, paymentRequest, taggedFields, ...fields } = invoice;
  return fields;
}

/** decodeInvoice returns a Result and does not throw. */
function returnsResult(text: string): boolean {
  const result = decodeInvoice(text);
  return typeof result.ok === 'boolean';
}

const seeds = [...loadSpecExamples().valid, ...loadSpecExamples().invalid].map((v) => v.invoice);

describe('BOLT 11 decoder on arbitrary input', () => {
  it('returns a Result for any string', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), returnsResult), { numRuns: 300 });
    const printable = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), fc.constantFrom('é', '\u0000', '\ud800', '杯'));
    fc.assert(fc.property(fc.string({ unit: printable, maxLength: 300 }), (s) => returnsResult(`lnbc1${s}`)), { numRuns: 300 });
  });

  it('returns a Result for strings of Bech32 characters after an invoice prefix', () => {
    const data = fc.string({ unit: fc.constantFrom(...CHARSET), maxLength: 500 });
    const hrp = fc.constantFrom('lnbc', 'lntb', 'lnbcrt', 'lntbs', 'lnsb', 'lnbc2500u', 'lnbc10p', 'lnxy');
    fc.assert(fc.property(hrp, data, (h, d) => returnsResult(`${h}1${d}`)), { numRuns: 300 });
  });

  it('returns a Result for any data words under a valid checksum', () => {
    const hrp = fc.constantFrom('lnbc', 'lnbc25m', 'lntb', 'lnbcrt1', 'ln', 'lnbc0');
    const words = fc.array(fc.integer({ min: 0, max: 31 }), { maxLength: 400 });
    fc.assert(fc.property(hrp, words, (h, w) => returnsResult(bech32.encode(h, w, false))), { numRuns: 300 });
  });

  it('returns a Result for mutated spec examples (character edits)', () => {
    const edit = fc.record({
      seed: fc.constantFrom(...seeds),
      at: fc.nat(),
      op: fc.constantFrom('replace', 'delete', 'insert', 'flipCase', 'truncate'),
      char: fc.constantFrom(...`${CHARSET}1bio QPZ`),
    });
    fc.assert(
      fc.property(edit, ({ seed, at, op, char }) => {
        const i = at % seed.length;
        const mutated =
          op === 'replace' ? seed.slice(0, i) + char + seed.slice(i + 1)
          : op === 'delete' ? seed.slice(0, i) + seed.slice(i + 1)
          : op === 'insert' ? seed.slice(0, i) + char + seed.slice(i)
          : op === 'flipCase' ? seed.slice(0, i) + (seed[i] as string).toUpperCase() + seed.slice(i + 1)
          : seed.slice(0, i);
        return returnsResult(mutated);
      }),
      { numRuns: 500 },
    );
  });

  it('returns a Result for mutated spec examples re-checksummed (so the data part is parsed)', () => {
    const valid = loadSpecExamples().valid.map((v) => bech32.decode(v.invoice.toLowerCase() as `${string}1${string}`, false));
    const edit = fc.record({
      seed: fc.constantFrom(...valid),
      edits: fc.array(fc.record({ at: fc.nat(), word: fc.integer({ min: 0, max: 31 }), op: fc.constantFrom('set', 'delete', 'insert') }), {
        minLength: 1,
        maxLength: 4,
      }),
    });
    fc.assert(
      fc.property(edit, ({ seed, edits }) => {
        const words = [...seed.words];
        for (const { at, word, op } of edits) {
          const i = at % Math.max(words.length, 1);
          if (op === 'set') words[i] = word;
          else if (op === 'delete') words.splice(i, 1);
          else words.splice(i, 0, word);
        }
        return returnsResult(bech32.encode(seed.prefix, words, false));
      }),
      { numRuns: 500 },
    );
  });
});

describe('BOLT 11 round trip', () => {
  it('decodes what it encodes to the same fields, signed by the key used', () => {
    fc.assert(
      fc.property(invoiceFields, ({ fields, key }) => {
        const text = encodeInvoice(fields, key);
        const read = decodeInvoice(text);
        expect(read.ok).toBe(true);
        if (!read.ok) return;
        expect(typedFields(read.value)).toEqual(fields);
        expect(read.value.payeePubkey).toEqual(publicKeyOf(key));
        expect(read.value.paymentRequest).toBe(text);
      }),
      { numRuns: 150 },
    );
  });
});
