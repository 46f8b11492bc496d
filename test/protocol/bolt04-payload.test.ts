import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBigSize, encodeBigSize } from '../../src/protocol/bigsize.js';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import {
  decodeHopPayload,
  encodeHopPayload,
  type HopPayload,
  type HopRole,
  type PayloadViolation,
} from '../../src/protocol/hop-payload.js';
import { ok } from '../../src/protocol/result.js';

/** One record as hex: minimal BigSize type and length, then the value. */
const rec = (type: bigint, valueHex = '') => bytesToHex(encodeBigSize(type)) + bytesToHex(encodeBigSize(BigInt(valueHex.length / 2))) + valueHex;
const ADDR = '11'.repeat(32);
const AMT = rec(2n, '03e8'); // 1000 msat
const CLTV = rec(4n, '0190'); // 400
const SCID = rec(6n, '0000010000020003');
const DATA = rec(8n, ADDR + '03e8');

function rejection(hex: string, role: HopRole) {
  const result = decodeHopPayload(hexToBytes(hex), role);
  if (result.ok) throw new Error(`expected ${hex} to be refused`);
  const { violation, type, offset } = result.error;
  return { violation, type, offset };
}

const expectRefused = (hex: string, role: HopRole, violation: PayloadViolation, type: bigint, offset: number) =>
  expect(rejection(hex, role)).toEqual({ violation, type, offset });

describe('BOLT 4 onion-test.json hop payloads', () => {
  const vector = JSON.parse(
    readFileSync(new URL('../vectors/bolt04/onion-test.json', import.meta.url), 'utf8'),
  ) as { generate: { hops: { payload: string }[] } };
  /** Each vector payload is prefixed with its BigSize length, as in the onion. */
  const payloads = vector.generate.hops.map(({ payload }) => {
    const bytes = hexToBytes(payload);
    const length = decodeBigSize(bytes);
    if (!length.ok || Number(length.value.value) !== bytes.length - length.value.length) throw new Error('bad vector');
    return bytes.subarray(length.value.length);
  });
  const expected: [bigint, number, bigint][] = [
    [15000n, 1500, 1n],
    [14000n, 1400, 2n],
    [12500n, 1250, 3n],
    [10000n, 1000, 4n],
  ];

  expected.forEach(([amt, cltv, scid], hop) => {
    it(`decodes intermediate hop ${hop}: ${amt} msat, cltv ${cltv}, short_channel_id ${scid}, and re-encodes it byte for byte`, () => {
      const decoded = decodeHopPayload(payloads[hop]!, 'intermediate');
      expect(decoded.ok && decoded.value).toMatchObject({ amtToForwardMsat: amt, outgoingCltvValue: cltv, shortChannelId: scid });
      if (!decoded.ok) return;
      expect(decoded.value.paymentData).toBeUndefined();
      expect(bytesToHex(encodeHopPayload(decoded.value))).toBe(bytesToHex(payloads[hop]!));
    });
  });

  it('keeps hop 1 odd record 513 of 60 bytes in otherRecords', () => {
    const decoded = decodeHopPayload(payloads[1]!, 'intermediate');
    expect(decoded.ok && decoded.value.otherRecords.map((r) => [r.type, r.value.length])).toEqual([[513n, 60]]);
  });

  it('decodes the final hop 4 with payment_data and its odd record, and re-encodes it byte for byte', () => {
    const decoded = decodeHopPayload(payloads[4]!, 'final');
    if (!decoded.ok) throw new Error(decoded.error.reason);
    const { amtToForwardMsat, outgoingCltvValue, shortChannelId, paymentData, otherRecords } = decoded.value;
    expect({ amtToForwardMsat, outgoingCltvValue, shortChannelId }).toEqual({ amtToForwardMsat: 10000n, outgoingCltvValue: 1000, shortChannelId: undefined });
    expect(paymentData && bytesToHex(paymentData.paymentAddr)).toBe('24a33562c54507a9334e79f0dc4f17d407e6d7c61f0e2f3d0d38599502f61704');
    expect(paymentData?.totalMsat).toBe(10000n);
    expect(otherRecords.map((r) => [r.type, r.value.length])).toEqual([[301n, 224]]);
    expect(bytesToHex(encodeHopPayload(decoded.value))).toBe(bytesToHex(payloads[4]!));
  });

  it('refuses an intermediate payload read as final (short_channel_id is forbidden there)', () => {
    expect(decodeHopPayload(payloads[0]!, 'final')).toMatchObject({ ok: false, error: { violation: 'forbidden', type: 6n, offset: 8 } });
  });
});

describe('decodeHopPayload accepts (BOLT 4 "payload format")', () => {
  it('a final payload with amt, cltv and payment_data', () => {
    expect(decodeHopPayload(hexToBytes(AMT + CLTV + DATA), 'final')).toEqual(
      ok({ amtToForwardMsat: 1000n, outgoingCltvValue: 400, paymentData: { paymentAddr: hexToBytes(ADDR), totalMsat: 1000n }, otherRecords: [] }),
    );
  });

  it('a final payload without payment_data (requiring it is the invoice check, not the parser)', () => {
    expect(decodeHopPayload(hexToBytes(AMT + CLTV), 'final')).toEqual(ok({ amtToForwardMsat: 1000n, outgoingCltvValue: 400, otherRecords: [] }));
  });

  it('zero amounts and heights as empty values, the truncated form of 0', () => {
    expect(decodeHopPayload(hexToBytes(rec(2n) + rec(4n) + rec(8n, ADDR)), 'final')).toEqual(
      ok({ amtToForwardMsat: 0n, outgoingCltvValue: 0, paymentData: { paymentAddr: hexToBytes(ADDR), totalMsat: 0n }, otherRecords: [] }),
    );
  });

  it('the largest tu64 amount and tu32 height', () => {
    const decoded = decodeHopPayload(hexToBytes(rec(2n, 'ff'.repeat(8)) + rec(4n, 'ff'.repeat(4))), 'final');
    expect(decoded.ok && [decoded.value.amtToForwardMsat, decoded.value.outgoingCltvValue]).toEqual([2n ** 64n - 1n, 2 ** 32 - 1]);
  });

  it('unknown odd types, payment_metadata and total_amount_msat, kept in order in otherRecords', () => {
    const hex = AMT + rec(3n, 'aa') + CLTV + DATA + rec(16n, 'beef') + rec(18n, '0100') + rec(0x10001n, 'cc');
    const decoded = decodeHopPayload(hexToBytes(hex), 'final');
    expect(decoded.ok && decoded.value.otherRecords).toEqual([
      { type: 3n, value: hexToBytes('aa') },
      { type: 16n, value: hexToBytes('beef') },
      { type: 18n, value: hexToBytes('0100') },
      { type: 0x10001n, value: hexToBytes('cc') },
    ]);
  });
});

describe('decodeHopPayload refuses with invalid_onion_payload, the type and the offset', () => {
  // offsets: AMT is 4 bytes, CLTV 4, SCID 10, DATA 36
  it('a truncated type, with type 0 (unknown) at the record start', () => expectRefused(AMT + 'fd01', 'final', 'truncated', 0n, 4));
  it('a truncated length, with the type', () => expectRefused(AMT + '04', 'final', 'truncated', 4n, 4));
  it('a non-minimal type', () => expectRefused(AMT + 'fd0004' + '0100', 'final', 'notCanonical', 0n, 4));
  it('a non-minimal length', () => expectRefused(AMT + '04fd000101', 'final', 'notCanonical', 4n, 4));
  it('a length past the end', () => expectRefused(AMT + '0403' + '0190', 'final', 'lengthPastEnd', 4n, 4));
  it('a duplicate type', () => expectRefused(AMT + AMT + CLTV, 'final', 'duplicate', 2n, 4));
  it('types out of order', () => expectRefused(CLTV + AMT, 'final', 'notIncreasing', 2n, 4));
  it('an unknown even type (14, amp)', () => expectRefused(AMT + CLTV + rec(14n, '00'), 'final', 'unknownEvenType', 14n, 8));
  it('an unknown even type 0 (a legacy payload start)', () => expectRefused(rec(0n) + AMT + CLTV, 'final', 'unknownEvenType', 0n, 0));
  it('an unknown even custom type (>= 2^16), as BOLT 1 says even though LND lets them through', () =>
    expectRefused(AMT + CLTV + rec(0x10000n, '00'), 'final', 'unknownEvenType', 0x10000n, 8));
  it('amt_to_forward with a leading zero', () => expectRefused(rec(2n, '0001') + CLTV, 'final', 'notMinimal', 2n, 0));
  it('amt_to_forward of a single zero byte', () => expectRefused(rec(2n, '00') + CLTV, 'final', 'notMinimal', 2n, 0));
  it('amt_to_forward longer than 8 bytes', () => expectRefused(rec(2n, '01'.repeat(9)) + CLTV, 'final', 'badLength', 2n, 0));
  it('outgoing_cltv_value with a leading zero', () => expectRefused(AMT + rec(4n, '000190'), 'final', 'notMinimal', 4n, 4));
  it('outgoing_cltv_value longer than 4 bytes', () => expectRefused(AMT + rec(4n, '0100000000'), 'final', 'badLength', 4n, 4));
  it('a short_channel_id of 7 bytes', () => expectRefused(AMT + CLTV + rec(6n, '01'.repeat(7)), 'intermediate', 'badLength', 6n, 8));
  it('a short_channel_id of 9 bytes', () => expectRefused(AMT + CLTV + rec(6n, '01'.repeat(9)), 'intermediate', 'badLength', 6n, 8));
  it('payment_data shorter than its 32-byte secret', () => expectRefused(AMT + CLTV + rec(8n, '11'.repeat(31)), 'final', 'badLength', 8n, 8));
  it('payment_data whose total_msat has a leading zero', () => expectRefused(AMT + CLTV + rec(8n, ADDR + '0003e8'), 'final', 'notMinimal', 8n, 8));
  it('payment_data whose total_msat is longer than 8 bytes', () => expectRefused(AMT + CLTV + rec(8n, ADDR + '01'.repeat(9)), 'final', 'badLength', 8n, 8));
  it('total_amount_msat with a leading zero', () => expectRefused(AMT + CLTV + rec(18n, '0001'), 'final', 'notMinimal', 18n, 8));
  it('an empty payload: amt_to_forward missing at offset 0', () => expectRefused('', 'final', 'missing', 2n, 0));
  it('a missing amt_to_forward, placed before the first higher type', () => expectRefused(CLTV + DATA, 'final', 'missing', 2n, 0));
  it('a missing outgoing_cltv_value, placed before the first higher type', () => expectRefused(AMT + DATA, 'final', 'missing', 4n, 4));
  it('a missing outgoing_cltv_value at the end of the payload', () => expectRefused(AMT + rec(3n, 'aa'), 'final', 'missing', 4n, 7));
  it('an intermediate payload without short_channel_id', () => expectRefused(AMT + CLTV, 'intermediate', 'missing', 6n, 8));
  it('an intermediate payload with payment_data', () => expectRefused(AMT + CLTV + SCID + DATA, 'intermediate', 'forbidden', 8n, 18));
  it('a final payload with short_channel_id', () => expectRefused(AMT + CLTV + SCID + DATA, 'final', 'forbidden', 6n, 8));
  it('encrypted_recipient_data (blinded routes are not supported)', () =>
    expectRefused(AMT + CLTV + rec(10n, 'abcd'), 'final', 'blindedRouteUnsupported', 10n, 8));
  it('current_path_key (blinded routes are not supported)', () =>
    expectRefused(AMT + CLTV + rec(12n, '02' + '11'.repeat(32)), 'final', 'blindedRouteUnsupported', 12n, 8));

  it('gives the reply fields of the first fault in stream order', () => {
    const result = decodeHopPayload(hexToBytes(rec(2n, '0001') + rec(4n, '0001')), 'final');
    expect(result).toEqual({
      ok: false,
      error: { kind: 'invalidOnionPayload', type: 2n, offset: 0, violation: 'notMinimal', reason: 'amt_to_forward has a leading zero byte' },
    });
  });
});

describe('encodeHopPayload', () => {
  const payload: HopPayload = {
    amtToForwardMsat: 1000n,
    outgoingCltvValue: 400,
    paymentData: { paymentAddr: hexToBytes(ADDR), totalMsat: 1000n },
    otherRecords: [{ type: 0x10001n, value: hexToBytes('cc') }, { type: 3n, value: hexToBytes('aa') }],
  };

  it('writes the canonical stream: truncated integers, sorted records', () => {
    expect(bytesToHex(encodeHopPayload(payload))).toBe(AMT + rec(3n, 'aa') + CLTV + DATA + rec(0x10001n, 'cc'));
  });

  it('writes zero as an empty value', () => {
    expect(bytesToHex(encodeHopPayload({ amtToForwardMsat: 0n, outgoingCltvValue: 0, otherRecords: [] }))).toBe('02000400');
  });

  it('throws RangeError for a payment_addr that is not 32 bytes', () => {
    expect(() => encodeHopPayload({ ...payload, paymentData: { paymentAddr: new Uint8Array(31), totalMsat: 1n } })).toThrow(RangeError);
  });

  it('throws RangeError for an amount above 2^64-1 or below 0, and a CLTV outside u32', () => {
    expect(() => encodeHopPayload({ ...payload, amtToForwardMsat: 2n ** 64n })).toThrow(RangeError);
    expect(() => encodeHopPayload({ ...payload, amtToForwardMsat: -1n })).toThrow(RangeError);
    expect(() => encodeHopPayload({ ...payload, outgoingCltvValue: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeHopPayload({ ...payload, outgoingCltvValue: 1.5 })).toThrow(RangeError);
  });

  it('throws RangeError when otherRecords holds a type that has its own field, or a duplicate', () => {
    expect(() => encodeHopPayload({ ...payload, otherRecords: [{ type: 6n, value: new Uint8Array(8) }] })).toThrow(RangeError);
    expect(() => encodeHopPayload({ ...payload, otherRecords: [{ type: 5n, value: new Uint8Array() }, { type: 5n, value: new Uint8Array() }] })).toThrow(
      RangeError,
    );
  });
});
