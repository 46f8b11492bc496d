import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFailureMessage, encodeFailureMessage, FAILURE_CODE, type FailureMessage } from '../../src/protocol/failure-message.js';
import { decodeHopPayload, encodeHopPayload, type HopPayload } from '../../src/protocol/hop-payload.js';
import { decodeTlvStream, encodeTlvStream, scanTlvStream, type TlvRecord } from '../../src/protocol/tlv.js';
import { encodeTruncatedUint } from '../../src/protocol/truncated-int.js';

// ---- arbitraries ----

const U64_MAX = 2n ** 64n - 1n;
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: U64_MAX }));
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (maxLength = 40) => fc.uint8Array({ maxLength });
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** Small types often (one-byte BigSizes, collisions), any 64-bit type sometimes. */
const tlvType = fc.oneof(fc.bigInt({ min: 0n, max: 20n }), fc.bigInt({ min: 0n, max: 0x1_0001n }), fc.bigInt({ min: 0n, max: U64_MAX }));

const byType = (a: TlvRecord, b: TlvRecord) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0);
const sortedRecords = (type: fc.Arbitrary<bigint>, value: fc.Arbitrary<Uint8Array> = bytes()) =>
  fc.uniqueArray(fc.record({ type, value }), { selector: (r) => r.type, maxLength: 6 }).map((rs) => rs.sort(byType));

/** Records a hop payload keeps as they are: odd types and payment_metadata (16); total_amount_msat (18) needs a minimal tu64. */
const otherHopRecords = fc
  .tuple(
    sortedRecords(tlvType.map((t) => t | 1n)),
    fc.option(bytes(), { nil: undefined }),
    fc.option(u64, { nil: undefined }),
  )
  .map(([odd, metadata, total]) => [
    ...odd,
    ...(metadata ? [{ type: 16n, value: metadata }] : []),
    ...(total !== undefined ? [{ type: 18n, value: encodeTruncatedUint(total) }] : []),
  ].sort(byType));

const finalPayload: fc.Arbitrary<HopPayload> = fc
  .record({ amt: u64, cltv: u32, data: fc.option(fc.record({ paymentAddr: bytes32, totalMsat: u64 }), { nil: undefined }), other: otherHopRecords })
  .map(({ amt, cltv, data, other }) => ({
    amtToForwardMsat: amt,
    outgoingCltvValue: cltv,
    ...(data && { paymentData: data }),
    otherRecords: other,
  }));

const intermediatePayload: fc.Arbitrary<HopPayload> = fc
  .record({ amt: u64, cltv: u32, scid: u64, other: otherHopRecords })
  .map(({ amt, cltv, scid, other }) => ({ amtToForwardMsat: amt, outgoingCltvValue: cltv, shortChannelId: scid, otherRecords: other }));

/** An extension stream: absent, or non-empty (an empty one encodes to nothing and decodes as absent). */
const tlvs = fc.option(sortedRecords(tlvType).filter((rs) => rs.length > 0), { nil: undefined, freq: 2 });
const withTlvs = <T extends object>(message: fc.Arbitrary<T>) =>
  fc.tuple(message, tlvs).map(([m, t]) => (t ? { ...m, tlvs: t } : m) as FailureMessage);

const knownCodes = new Set<number>(Object.values(FAILURE_CODE));
const failureMessage: fc.Arbitrary<FailureMessage> = fc.oneof(
  withTlvs(fc.constantFrom(
    'temporaryNodeFailure', 'permanentNodeFailure', 'requiredNodeFeatureMissing', 'permanentChannelFailure',
    'requiredChannelFeatureMissing', 'unknownNextPeer', 'expiryTooFar', 'mppTimeout',
  ).map((kind) => ({ kind }))),
  withTlvs(fc.record({ kind: fc.constantFrom('invalidOnionVersion', 'invalidOnionHmac', 'invalidOnionKey', 'invalidOnionBlinding'), sha256OfOnion: bytes32 })),
  withTlvs(fc.record({ kind: fc.constantFrom('temporaryChannelFailure', 'expiryTooSoon'), channelUpdate: bytes(140) })),
  withTlvs(fc.record({ kind: fc.constantFrom('amountBelowMinimum', 'feeInsufficient'), htlcMsat: u64, channelUpdate: bytes(140) })),
  withTlvs(fc.record({ kind: fc.constant('incorrectCltvExpiry'), cltvExpiry: u32, channelUpdate: bytes(140) })),
  withTlvs(fc.record({ kind: fc.constant('incorrectOrUnknownPaymentDetails'), htlcMsat: u64, height: u32 })),
  withTlvs(fc.record({ kind: fc.constant('finalIncorrectCltvExpiry'), cltvExpiry: u32 })),
  withTlvs(fc.record({ kind: fc.constant('finalIncorrectHtlcAmount'), incomingHtlcAmtMsat: u64 })),
  withTlvs(fc.record({ kind: fc.constant('channelDisabled'), disabledFlags: u16, channelUpdate: bytes(140) })),
  withTlvs(fc.record({ kind: fc.constant('invalidOnionPayload'), type: u64, offset: u16 })),
  fc.record({ kind: fc.constant('unknown' as const), code: u16.filter((c) => !knownCodes.has(c)), data: bytes() }),
);

type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number }
  | { op: 'truncate'; at: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

/** Applies byte-level mutations to a copy of `input` (positions taken modulo its length). */
function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = Uint8Array.from(input);
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    if (m.op === 'insert') out = Uint8Array.from([...out.subarray(0, at), m.byte, ...out.subarray(at)]);
    else if (out.length === 0) continue;
    else if (m.op === 'flip') out[at % out.length] = out[at % out.length]! ^ m.mask;
    else if (m.op === 'delete') out = Uint8Array.from([...out.subarray(0, at % out.length), ...out.subarray((at % out.length) + 1)]);
    else out = out.slice(0, at % out.length);
  }
  return out;
}

const isResult = (r: { ok: boolean }) => typeof r.ok === 'boolean';

/** Every decoder of this layer, each returning a Result. */
const decoders = {
  decodeTlvStream: (b: Uint8Array) => decodeTlvStream(b),
  scanTlvStream: (b: Uint8Array) => scanTlvStream(b),
  'decodeHopPayload(final)': (b: Uint8Array) => decodeHopPayload(b, 'final'),
  'decodeHopPayload(intermediate)': (b: Uint8Array) => decodeHopPayload(b, 'intermediate'),
  decodeFailureMessage: (b: Uint8Array) => decodeFailureMessage(b),
};

/** Valid encodings to mutate: TLV streams, payloads and failure messages. */
const validEncoding = fc.oneof(
  sortedRecords(tlvType).map(encodeTlvStream),
  finalPayload.map(encodeHopPayload),
  intermediatePayload.map(encodeHopPayload),
  failureMessage.map(encodeFailureMessage),
);

describe('decoders never throw (they return Results)', () => {
  for (const [name, decode] of Object.entries(decoders)) {
    it(`${name} on random bytes`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (input) => isResult(decode(input))), { numRuns: 1000 });
    });

    it(`${name} on mutated valid encodings`, () => {
      fc.assert(
        fc.property(validEncoding, fc.array(mutation, { minLength: 1, maxLength: 4 }), (input, mutations) => isResult(decode(mutate(input, mutations)))),
        { numRuns: 500 },
      );
    });
  }
});

describe('round trips', () => {
  it('decodeTlvStream(encodeTlvStream(records)) gives back the sorted records', () => {
    fc.assert(
      fc.property(sortedRecords(tlvType), fc.boolean(), (records, reverse) => {
        const input = reverse ? [...records].reverse() : records;
        expect(decodeTlvStream(encodeTlvStream(input))).toEqual({ ok: true, value: records });
      }),
    );
  });

  it('a TLV stream that decodes re-encodes to the same bytes (only canonical streams are accepted)', () => {
    fc.assert(
      fc.property(validEncoding, fc.array(mutation, { maxLength: 3 }), (valid, mutations) => {
        const input = mutate(valid, mutations);
        const decoded = decodeTlvStream(input);
        if (decoded.ok) expect(encodeTlvStream(decoded.value)).toEqual(input);
      }),
      { numRuns: 500 },
    );
  });

  it('decodeHopPayload(encodeHopPayload(p), final) gives back a final payload', () => {
    fc.assert(fc.property(finalPayload, (payload) => {
        expect(decodeHopPayload(encodeHopPayload(payload), 'final')).toEqual({ ok: true, value: payload });
      }));
  });

  it('decodeHopPayload(encodeHopPayload(p), intermediate) gives back an intermediate payload', () => {
    fc.assert(
      fc.property(intermediatePayload, (payload) => {
        expect(decodeHopPayload(encodeHopPayload(payload), 'intermediate')).toEqual({ ok: true, value: payload });
      }),
    );
  });

  it('a hop payload that decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(fc.oneof(finalPayload, intermediatePayload).map(encodeHopPayload), fc.array(mutation, { maxLength: 2 }), (valid, mutations) => {
        const input = mutate(valid, mutations);
        for (const role of ['final', 'intermediate'] as const) {
          const decoded = decodeHopPayload(input, role);
          if (decoded.ok) expect(encodeHopPayload(decoded.value)).toEqual(input);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decodeFailureMessage(encodeFailureMessage(m)) gives back m, for every kind', () => {
    fc.assert(fc.property(failureMessage, (message) => {
        expect(decodeFailureMessage(encodeFailureMessage(message))).toEqual({ ok: true, value: message });
      }), {
      numRuns: 500,
    });
  });

  it('a failure message that decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(failureMessage.map(encodeFailureMessage), fc.array(mutation, { maxLength: 2 }), (valid, mutations) => {
        const input = mutate(valid, mutations);
        const decoded = decodeFailureMessage(input);
        if (decoded.ok) expect(encodeFailureMessage(decoded.value)).toEqual(input);
      }),
      { numRuns: 500 },
    );
  });
});
