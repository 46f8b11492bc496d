/**
 * BOLT 11 "Examples" and "Examples of Invalid Invoices", read verbatim from the spec text in
 * test/vectors/bolt11/. Expected values below are transcribed from each example's title and
 * breakdown; fallback addresses are decoded here with @scure/base, independently of the codec.
 */
import { bech32, bech32m, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../../src/protocol/bytes.js';
import {
  decodeInvoice,
  encodeInvoice,
  signInvoice,
  type Bolt11Error,
  type DecodedInvoice,
  type InvoiceFields,
} from '../../src/protocol/bolt11.js';
import { splitTaggedFields } from '../../src/protocol/bolt11-fields.js';
import { signingHash } from '../../src/protocol/bolt11-signature.js';
import { wordsToBytesPadded } from '../../src/protocol/bolt11-words.js';
import { loadSpecExamples, SPEC_PRIVATE_KEY, SPEC_PUBLIC_KEY, type SpecExample } from './bolt11-vectors.js';

const { valid, invalid } = loadSpecExamples();
const key = hexToBytes(SPEC_PRIVATE_KEY);
const base58check = createBase58check(sha256);

const TIMESTAMP = 1496314658;
const SECRET = hexToBytes('11'.repeat(32));
const HASH = hexToBytes('0001020304050607080900010203040506070809000102030405060708090102');
const CAKE_HASH = hexToBytes('3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1');
const FEATURES_8_14 = { varOnionOptin: 'required', paymentSecret: 'required' } as const;

/** The hash160 inside a base58check address, without its version byte. */
function base58Hash(address: string): Uint8Array {
  return base58check.decode(address).slice(1);
}

/** The witness version and program of a segwit address (BIP-173 for v0, BIP-350 for v1+). */
function segwit(address: string): { version: number; program: Uint8Array } {
  const coder = address.startsWith('bc1q') ? bech32 : bech32m;
  const { words } = coder.decode(address as `${string}1${string}`);
  return { version: words[0] as number, program: coder.fromWords(words.slice(1)) };
}

/** Short channel id from the spec's `block x tx x output` notation. */
function scid(block: number, tx: number, output: number): bigint {
  return (BigInt(block) << 40n) | (BigInt(tx) << 16n) | BigInt(output);
}

/** What each valid example must decode to, by the first words of its title. */
interface Expected {
  readonly fields: InvoiceFields;
  /** Signature breakdown: R || S hex and recovery id, where the spec gives them. */
  readonly signature?: { readonly compact: string; readonly recoveryId: number };
  /** "hex of data for signing" and "hex of SHA256 of the preimage", where given. */
  readonly preimage?: string;
  readonly hash?: string;
  /** Whether `encodeInvoice`'s field order is the example's (else only `signInvoice` is byte-exact). */
  readonly canonicalOrder: boolean;
}

const common = { network: 'bc', timestamp: TIMESTAMP, paymentSecret: SECRET, paymentHash: HASH } as const;
const donation: Expected = {
  fields: { ...common, description: 'Please consider supporting this project', features: FEATURES_8_14 },
  signature: {
    compact: '8d3ce9e28357337f62da0162d9454df827f83cfe499aeb1c1db349d4d81127425e434ca29929406c23bba1ae8ac6ca32880b38d4bf6ff874024cac34ba9625f1',
    recoveryId: 1,
  },
  preimage: '6c6e62630b25fe64500d04444444444444444444444444444444444444444444444444444444444444444021a00008101820283038404800081018202830384048000810182028303840480810343f506c6561736520636f6e736964657220737570706f7274696e6720746869732070726f6a6563740500e08000',
  hash: '6daf4d488be41ce7cbb487cab1ef2975e5efcea879b20d421f0ef86b07cbb987',
  canonicalOrder: true,
};
const coffeeBeans: Expected = {
  fields: {
    ...common,
    amountMsat: 2_500_000_000n,
    description: 'coffee beans',
    features: { ...FEATURES_8_14, otherBits: [99] },
  },
  canonicalOrder: false,
};

const EXPECTED: Record<string, Expected> = {
  'Please make a donation': donation,
  'Please send $3 for a cup of coffee': {
    fields: { ...common, amountMsat: 250_000_000n, description: '1 cup coffee', expirySeconds: 60, features: FEATURES_8_14 },
    signature: {
      compact: 'e59e3ffbd3945e4334879158d31e89b076dff54f3fa7979ae79df2db9dcaf5896cbfe1a478b8d2307e92c88139464cb7e6ef26e414c4abe33337961ddc5e8ab1',
      recoveryId: 1,
    },
    preimage: '6c6e626332353030750b25fe64500d04444444444444444444444444444444444444444444444444444444444444444021a000081018202830384048000810182028303840480008101820283038404808103414312063757020636f66666565030041e140382000',
    hash: '047e24bf270b25d42a56d57b2578faa3a10684641bab817c2851a871cb41dbc0',
    canonicalOrder: true,
  },
  'Please send 0.0025 BTC for a cup of nonsense': {
    fields: { ...common, amountMsat: 250_000_000n, description: 'ナンセンス 1杯', expirySeconds: 60, features: FEATURES_8_14 },
    signature: {
      compact: 'bae41ef385e0fc972977c7ea42b12cbd76577d2412919da8a8a22f9577b6507710c0e96dd78c821dea16453037f717f44aa7e3d196ebb18fbb97307dcb7336c3',
      recoveryId: 1,
    },
    preimage: '6c6e626332353030750b25fe64500d04444444444444444444444444444444444444444444444444444444444444444021a000081018202830384048000810182028303840480008101820283038404808103420e3838ae383b3e382bbe383b3e382b92031e69daf30041e14038200',
    hash: 'f140d992ba419578ba9cfe1af85f92df90a76f442fb5e6e09b1f0582534ba87d',
    canonicalOrder: true,
  },
  'Now send $24 for an entire list of things (hashed)': {
    fields: { ...common, amountMsat: 2_000_000_000n, descriptionHash: CAKE_HASH, features: FEATURES_8_14 },
    signature: {
      compact: 'f67a5f696648fa4fb102e1a07b230e54722f8e024cee71e80b4847ac191da3fb2d2cdb28cc32344d7e9a9cf5c9b6a0ee0582ae46e9938b9c81e344a4dbb5289d',
      recoveryId: 1,
    },
    preimage: '6c6e626332306d0b25fe64500d04444444444444444444444444444444444444444444444444444444444444444021a000081018202830384048000810182028303840480008101820283038404808105c343925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c10280704000',
    hash: 'e2ffa444e2979edb639fbdaa384638683ba1a5240b14dd7a150e45a04eea261d',
    canonicalOrder: true,
  },
  'The same, on testnet, with a fallback address mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP': {
    fields: {
      ...common,
      network: 'tb',
      amountMsat: 2_000_000_000n,
      descriptionHash: CAKE_HASH,
      fallbacks: [{ kind: 'p2pkh', hash: base58Hash('mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP') }],
      features: FEATURES_8_14,
    },
    signature: {
      compact: '6ca95a74dc32e69ced6175b15a5cc56a92bf19f5dace0f134b7d94d464b9f5cf6090a18d48b243f289394d17bdf89466d8e6b37df5981f696bc3dd5986e1bee1',
      recoveryId: 1,
    },
    preimage: '6c6e746232306d0b25fe64500d044444444444444444444444444444444444444444444444444444444444444442e1a1c92db7b3f161a001b7689049eea2701b46f8db7513629edf2408fac7eaedc608043400010203040506070809000102030405060708090001020304050607080901020484313172b5654f6683c8fb146959d347ce303cae4ca728070400',
    hash: '33bc6642a336097c74299cadfdfdd2e4884a555cf1b4fda72b095382d473d795',
    canonicalOrder: false,
  },
  'On mainnet, with fallback address 1RustyRX2oai4EYYDpQGWvEL62BBGqN9T': {
    fields: {
      ...common,
      amountMsat: 2_000_000_000n,
      descriptionHash: CAKE_HASH,
      fallbacks: [{ kind: 'p2pkh', hash: base58Hash('1RustyRX2oai4EYYDpQGWvEL62BBGqN9T') }],
      routeHints: [
        [
          {
            pubkey: hexToBytes('029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255'),
            shortChannelId: scid(66051, 263430, 1800),
            feeBaseMsat: 1,
            feeProportionalMillionths: 20,
            cltvExpiryDelta: 3,
          },
          {
            pubkey: hexToBytes('039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255'),
            shortChannelId: scid(197637, 395016, 2314),
            feeBaseMsat: 2,
            feeProportionalMillionths: 30,
            cltvExpiryDelta: 4,
          },
        ],
      ],
      features: FEATURES_8_14,
    },
    signature: {
      compact: '6a6586db4e8f6d40e3a5bb92e4df5110c627e9ce493af237e20a046b4e86ea200178c59564ecf892f33a9558bf041b6ad2cb8292d7a6c351fbb7f2ae2d16b54e',
      recoveryId: 0,
    },
    preimage: '6c6e626332306d0b25fe64500d04444444444444444444444444444444444444444444444444444444444444444021a000081018202830384048000810182028303840480008101820283038404808105c343925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c104843104b61f7dc1ea0dc99424464cc4064dc564d91e891948053c07520370aa69fe3d258878e8863ef9ce408c0c1f9ef52b86fc291ef18ee4aa020406080a0c0e1000000002000000280006073c07520370aa69fe3d258878e8863ef9ce408c0c1f9ef52b86fc291ef18ee4aa06080a0c0e101214000000040000003c00080500e08000',
    hash: 'b342d4655b984e53f405fe4d872fb9b7cf54ba538fcd170ed4a5906a9f535064',
    canonicalOrder: true,
  },
  'On mainnet, with fallback (P2SH) address 3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX': {
    fields: {
      ...common,
      amountMsat: 2_000_000_000n,
      descriptionHash: CAKE_HASH,
      fallbacks: [{ kind: 'p2sh', hash: base58Hash('3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX') }],
      features: FEATURES_8_14,
    },
    signature: {
      compact: '16810439d1a9bfd5a65acc61340dc92448bb2d456a80b58ce012b73cb5202438020500c9ab7ef5573a4d174c811f669885ae27f895bb3a3be52c243589f87518',
      recoveryId: 1,
    },
    preimage: '6c6e626332306d0b25fe64500d044444444444444444444444444444444444444444444444444444444444444442e1a1c92db7b3f161a001b7689049eea2701b46f8db7513629edf2408fac7eaedc608043400010203040506070809000102030405060708090001020304050607080901020484328f55563b9a19f321c211e9b9f38cdf686ea0784528070400',
    hash: '9e93321a775f7dffdca03e61d1ac6e0e356cc63cecd3835271200c1e5b499d29',
    canonicalOrder: false,
  },
  'On mainnet, with fallback (P2WPKH) address bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4': {
    fields: {
      ...common,
      amountMsat: 2_000_000_000n,
      descriptionHash: CAKE_HASH,
      fallbacks: [{ kind: 'witness', ...segwit('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4') }],
      features: FEATURES_8_14,
    },
    signature: {
      compact: '5a8bd7b97c1cc9055ee60cf2356621f8752248e037a953886a1782b44a58f5ff2d94e6bc89b7b514541a3603bb33722b6c08aa1a3639d34becc549a99fea6eae',
      recoveryId: 0,
    },
    preimage: '6c6e626332306d0b25fe64500d044444444444444444444444444444444444444444444444444444444444444442e1a1c92db7b3f161a001b7689049eea2701b46f8db7513629edf2408fac7eaedc60804340001020304050607080900010203040506070809000102030405060708090102048420751e76e8199196d454941c45d1b3a323f1433bd628070400',
    hash: '44fbec32cdac99a1a3cd638ec507dad633a1e5bba514832fd3471e663a157f7b',
    canonicalOrder: false,
  },
  'On mainnet, with fallback (P2WSH) address bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3': {
    fields: {
      ...common,
      amountMsat: 2_000_000_000n,
      descriptionHash: CAKE_HASH,
      fallbacks: [{ kind: 'witness', ...segwit('bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3') }],
      features: FEATURES_8_14,
    },
    signature: {
      compact: '2b3ec248f80301a421817369194f012cdd8af8df1c279981420f9e901e20fa3309d791e11355e609b59ce4a220852a0cd55ab862b1785a83b206c90fa74d01c8',
      recoveryId: 1,
    },
    preimage: '6c6e626332306d0b25fe64500d044444444444444444444444444444444444444444444444444444444444444442e1a1c92db7b3f161a001b7689049eea2701b46f8db7513629edf2408fac7eaedc608043400010203040506070809000102030405060708090001020304050607080901020486a01863143c14c5166804bd19203356da136c985678cd4d27a1b8c63296049032620280704000',
    hash: '865a2cc6730e1eeeacd30e6da8e9ab0e9115828d27953ec0c0f985db05da5027',
    canonicalOrder: false,
  },
  'On mainnet, with fallback (P2TR) address bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm': {
    fields: {
      ...common,
      amountMsat: 2_000_000_000n,
      descriptionHash: CAKE_HASH,
      fallbacks: [{ kind: 'witness', ...segwit('bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm') }],
      features: FEATURES_8_14,
    },
    signature: {
      compact: '269fa68a6051f26991ab50eb851494d1a4b9c616aeee892ff50a144af471554a3057b2fee45910e267c4ef6067da10016cf5519237b3ca1c1c2014cc1d6f69a6',
      recoveryId: 0,
    },
    preimage: '6c6e626332306d0b25fe64500d04444444444444444444444444444444444444444444444444444444444444444021a000081018202830384048000810182028303840480008101820283038404808105c343925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c10486a10adac43daa9c8a5a68e09ea10692b82226ee190e572db9b90e17a410484ab4050280704000',
    hash: '116fdb0f18352c886deb263f6466eb40e5e6518b80231a1f9df86088bfa48043',
    canonicalOrder: true,
  },
  'Please send 0.00967878534 BTC for a list of items within one week, amount in pico-BTC': {
    fields: {
      network: 'bc',
      amountMsat: 967_878_534n,
      timestamp: 1572468703,
      paymentHash: hexToBytes('462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f'),
      paymentSecret: SECRET,
      description:
        'Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, "Back In My Day" Sticker x 2, "I Got Lightning Working" Sticker x 2 and 1 more items',
      expirySeconds: 604800,
      minFinalCltvExpiryDelta: 10,
      routeHints: [
        [
          {
            pubkey: hexToBytes('03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7'),
            shortChannelId: scid(589390, 3312, 1),
            feeBaseMsat: 1000,
            feeProportionalMillionths: 2500,
            cltvExpiryDelta: 40,
          },
        ],
      ],
      features: FEATURES_8_14,
    },
    canonicalOrder: false,
  },
  'Please send $30 for coffee beans': coffeeBeans,
  'Same, but all upper case.': coffeeBeans,
  'Please send 0.01 BTC with payment metadata 0x01fafaf0': {
    fields: {
      ...common,
      amountMsat: 1_000_000_000n,
      description: 'payment metadata inside',
      metadata: hexToBytes('01fafaf0'),
      features: { ...FEATURES_8_14, paymentMetadata: 'required' },
    },
    canonicalOrder: false,
  },
};

/** The example matching a title prefix; fails the test if the spec no longer has it. */
function example(prefix: string): SpecExample {
  const found = valid.find((v) => v.title.startsWith(prefix));
  if (found === undefined) throw new Error(`no spec example titled "${prefix}..."`);
  return found;
}

function decoded(text: string): DecodedInvoice {
  const result = decodeInvoice(text);
  if (!result.ok) throw new Error(`decode failed: ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The typed fields of a decoded invoice, without what the decoder adds. */
function typedFields(invoice: DecodedInvoice): InvoiceFields {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { payeePubkey, signature, paymentRequest, taggedFields, ...fields } = invoice;
  return fields;
}

describe('BOLT 11 examples of valid invoices', () => {
  it('finds every example of the spec text (16 valid, 10 invalid)', () => {
    expect(valid).toHaveLength(16);
    expect(invalid).toHaveLength(10);
    const covered = valid.filter((v) => Object.keys(EXPECTED).some((k) => v.title.startsWith(k)));
    // all but "fields which must be ignored" and "high-S": both have their own tests below
    expect(covered).toHaveLength(14);
  });

  for (const [prefix, expected] of Object.entries(EXPECTED)) {
    describe(prefix, () => {
      const vector = example(prefix);

      it('decodes to the fields the spec describes, signed by the spec key', () => {
        const invoice = decoded(vector.invoice);
        expect(typedFields(invoice)).toEqual(expected.fields);
        expect(bytesToHex(invoice.payeePubkey)).toBe(SPEC_PUBLIC_KEY);
        expect(invoice.paymentRequest).toBe(vector.invoice.toLowerCase());
        if (expected.signature !== undefined) {
          expect(bytesToHex(invoice.signature.compact)).toBe(expected.signature.compact);
          expect(invoice.signature.recoveryId).toBe(expected.signature.recoveryId);
        }
      });

      if (expected.preimage !== undefined && expected.hash !== undefined) {
        it('signs the data the spec gives, and its SHA256', () => {
          const { prefix: hrp, words } = bech32.decode(vector.invoice as `${string}1${string}`, false);
          const signed = Uint8Array.from(words.slice(0, -104));
          expect(bytesToHex(utf8ToBytes(hrp)) + bytesToHex(wordsToBytesPadded(signed))).toBe(expected.preimage);
          expect(bytesToHex(signingHash(hrp, signed))).toBe(expected.hash);
        });
      }

      it('re-encodes its tagged fields with the spec key to the same string (RFC6979 signatures)', () => {
        const invoice = decoded(vector.invoice);
        expect(signInvoice(invoice, key)).toBe(vector.invoice.toLowerCase());
      });

      if (expected.canonicalOrder) {
        it('is what encodeInvoice makes of its fields (same field order)', () => {
          expect(encodeInvoice(expected.fields, key)).toBe(vector.invoice.toLowerCase());
        });
      } else {
        it('round-trips its fields through encodeInvoice (which writes s, p first, so not byte for byte)', () => {
          const again = encodeInvoice(expected.fields, key);
          expect(again).not.toBe(vector.invoice.toLowerCase());
          expect(typedFields(decoded(again))).toEqual(expected.fields);
        });
      }
    });
  }

  describe('Same, but including fields which must be ignored', () => {
    // bolts #1243 (commit 6888199, 2025-06) made wrong-length p/h/s/n fields fail the payment;
    // this example kept its old title and "(ignored)" notes. bolts issue #1358 reports the
    // contradiction and PR #1357 marks it invalid. We follow the normative text.
    const vector = example('Same, but including fields which must be ignored');

    it('is rejected: its second p field has data_length 51 ("MUST fail ... not the correct length")', () => {
      expect(decodeInvoice(vector.invoice)).toEqual({ ok: false, error: { kind: 'badFieldLength', field: 'p', length: 51 } });
    });

    it('is otherwise well signed: its fields re-signed verbatim give the same string', () => {
      const { words } = bech32.decode(vector.invoice as `${string}1${string}`, false);
      const split = splitTaggedFields(Uint8Array.from(words.slice(7, -104)));
      if (!split.ok) throw new Error('split failed');
      const taggedFields = split.value.map((f) => ({ kind: 'raw' as const, ...f }));
      const again = signInvoice({ network: 'bc', amountMsat: 2_500_000_000n, timestamp: TIMESTAMP, taggedFields }, key);
      expect(again).toBe(vector.invoice);
      // p d s 9, then the example's "unknown field" `2` (type 10), f, p p h h s s n n
      expect(taggedFields.map((f) => f.type)).toEqual([1, 13, 16, 5, 10, 9, 1, 1, 23, 23, 16, 16, 19, 19]);
    });
  });

  describe('Public-key recovery with high-S signature', () => {
    const vector = example('Public-key recovery with high-S signature');
    const twin = example('Please make a donation');

    it('decodes: without an n field a high-S signature is accepted and the payee recovered', () => {
      const invoice = decoded(vector.invoice);
      expect(typedFields(invoice)).toEqual(donation.fields);
      const s = BigInt(`0x${bytesToHex(invoice.signature.compact.slice(32))}`);
      expect(s > 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n).toBe(true);
      expect(invoice.signature.recoveryId).toBe(1);
    });

    it('recovers the key its (R, S, recid 1) imply, which is not the spec key', () => {
      // The example is the donation invoice with S negated (n - S) but its recovery id left at 1.
      // Negating S flips the parity of the recovered R, so recovery with recid 1 yields another key
      // (libsecp256k1, @noble/curves and the bolt11 npm package agree); with recid 0 it is 03e7...
      const invoice = decoded(vector.invoice);
      expect(bytesToHex(invoice.payeePubkey)).toBe('02d0139ce7427d6dfffd26a326c18be754ef1e64672b42694ba5b23ef6e6e7803d');
    });

    it('re-encodes to its low-S twin, the donation example (our signer is low-S)', () => {
      expect(signInvoice(decoded(vector.invoice), key)).toBe(twin.invoice);
    });
  });
});

const INVALID: Record<string, Bolt11Error> = {
  'Same, but adding invalid unknown feature 100': { kind: 'unknownRequiredFeature', bit: 100 },
  'Bech32 checksum is invalid.': { kind: 'invalidBech32', reason: 'badChecksum' },
  'Malformed bech32 string (no 1)': { kind: 'invalidBech32', reason: 'noSeparator' },
  'Malformed bech32 string (mixed case)': { kind: 'invalidBech32', reason: 'mixedCase' },
  'Signature is not recoverable.': { kind: 'unrecoverableSignature' },
  'String is too short.': { kind: 'tooShort' },
  'Invalid multiplier': { kind: 'invalidAmount', amount: '2500x' },
  'Invalid sub-millisatoshi precision.': { kind: 'subMillisatoshiAmount', amount: '2500000001p' },
  'Missing required `s` field.': { kind: 'missingPaymentSecret' },
  "Non canonical signature (high-S) with 'n' field defined": { kind: 'highS' },
};

describe('BOLT 11 examples of invalid invoices', () => {
  it('has a reason for every invalid example of the spec', () => {
    expect(invalid.map((v) => v.title).sort()).toEqual(Object.keys(INVALID).sort());
  });

  for (const vector of invalid) {
    it(`rejects "${vector.title}" with ${JSON.stringify(INVALID[vector.title])}`, () => {
      expect(decodeInvoice(vector.invoice)).toEqual({ ok: false, error: INVALID[vector.title] });
    });
  }
});
