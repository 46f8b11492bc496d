import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../src/protocol/bytes.js';
import {
  decodeFailureMessage,
  encodeFailureMessage,
  FAILURE_CODE,
  FAILURE_FLAG,
  failureKindOf,
  type FailureMessage,
} from '../../src/protocol/failure-message.js';
import { err, ok } from '../../src/protocol/result.js';

const vectorText = (name: string) => readFileSync(new URL(`../vectors/bolt04/payload-and-failure/${name}`, import.meta.url), 'utf8');

/** `failuremsg` out of an erring node's payload: u16 failure_len, failuremsg, u16 pad_len, pad. */
function failureMessageOf(payloadHex: string): Uint8Array {
  const payload = hexToBytes(payloadHex);
  const length = (payload[0]! << 8) | payload[1]!;
  return payload.subarray(2, 2 + length);
}

describe('BOLT 4 "Returning Errors" test vector', () => {
  const text = vectorText('returning-errors.md');
  const payloadHex = /payload = ([0-9a-f]+)/.exec(text)?.[1] ?? '';
  const number = (label: string) => Number(new RegExp(`${label}\\s*=\\s*(\\d+)`).exec(text)?.[1]);
  const valueLength = Number(/\((\d+) bytes\)/.exec(text)?.[1]);
  const expected: FailureMessage = {
    kind: 'incorrectOrUnknownPaymentDetails',
    htlcMsat: BigInt(number('htlc_msat')),
    height: number('height'),
    tlvs: [{ type: BigInt(number('type')), value: new Uint8Array(valueLength).fill(128) }],
  };

  it('reads the parameters the vector states (htlc_msat 100, height 800000, type 34001, 300 bytes of 128)', () => {
    expect(expected).toMatchObject({ htlcMsat: 100n, height: 800000, tlvs: [{ type: 34001n }] });
    expect(valueLength).toBe(300);
  });

  it('decodes failuremsg to incorrect_or_unknown_payment_details with its TLV record', () => {
    expect(decodeFailureMessage(failureMessageOf(payloadHex))).toEqual(ok(expected));
  });

  it('encodes the message to the exact failuremsg bytes of the vector', () => {
    expect(bytesToHex(encodeFailureMessage(expected))).toBe(bytesToHex(failureMessageOf(payloadHex)));
  });
});

describe('BOLT 4 onion-error-test.json', () => {
  const vector = JSON.parse(readFileSync(new URL('../vectors/bolt04/onion-error-test.json', import.meta.url), 'utf8')) as {
    generate: { failure_message: string; hops: { payload?: string }[] };
  };
  const finalPayload = vector.generate.hops.at(-1)?.payload ?? '';

  it('decodes failure_message 2002 as temporary_node_failure and encodes it back', () => {
    const bytes = hexToBytes(vector.generate.failure_message);
    expect(decodeFailureMessage(bytes)).toEqual(ok({ kind: 'temporaryNodeFailure' }));
    expect(bytesToHex(encodeFailureMessage({ kind: 'temporaryNodeFailure' }))).toBe(vector.generate.failure_message);
  });

  it("finds the same message inside the erring hop's payload", () => {
    expect(bytesToHex(failureMessageOf(finalPayload))).toBe(vector.generate.failure_message);
  });
});

const SHA = 'ab'.repeat(32);
const UPDATE = '0102' + 'cd'.repeat(10);

/** Every message kind and its bytes, written from BOLT 4 "Failure Messages". */
const EXAMPLES: [FailureMessage, string][] = [
  [{ kind: 'temporaryNodeFailure' }, '2002'],
  [{ kind: 'permanentNodeFailure' }, '6002'],
  [{ kind: 'requiredNodeFeatureMissing' }, '6003'],
  [{ kind: 'invalidOnionVersion', sha256OfOnion: hexToBytes(SHA) }, 'c004' + SHA],
  [{ kind: 'invalidOnionHmac', sha256OfOnion: hexToBytes(SHA) }, 'c005' + SHA],
  [{ kind: 'invalidOnionKey', sha256OfOnion: hexToBytes(SHA) }, 'c006' + SHA],
  [{ kind: 'temporaryChannelFailure', channelUpdate: hexToBytes(UPDATE) }, '1007' + '000c' + UPDATE],
  [{ kind: 'temporaryChannelFailure', channelUpdate: new Uint8Array() }, '1007' + '0000'],
  [{ kind: 'permanentChannelFailure' }, '4008'],
  [{ kind: 'requiredChannelFeatureMissing' }, '4009'],
  [{ kind: 'unknownNextPeer' }, '400a'],
  [{ kind: 'amountBelowMinimum', htlcMsat: 1000n, channelUpdate: hexToBytes(UPDATE) }, '100b' + '00000000000003e8' + '000c' + UPDATE],
  [{ kind: 'feeInsufficient', htlcMsat: 2n ** 64n - 1n, channelUpdate: new Uint8Array() }, '100c' + 'ff'.repeat(8) + '0000'],
  [{ kind: 'incorrectCltvExpiry', cltvExpiry: 800_000, channelUpdate: new Uint8Array() }, '100d' + '000c3500' + '0000'],
  [{ kind: 'expiryTooSoon', channelUpdate: hexToBytes(UPDATE) }, '100e' + '000c' + UPDATE],
  [{ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 100n, height: 800_000 }, '400f' + '0000000000000064' + '000c3500'],
  [{ kind: 'finalIncorrectCltvExpiry', cltvExpiry: 0xffff_ffff }, '0012' + 'ffffffff'],
  [{ kind: 'finalIncorrectHtlcAmount', incomingHtlcAmtMsat: 5000n }, '0013' + '0000000000001388'],
  [{ kind: 'channelDisabled', disabledFlags: 0, channelUpdate: new Uint8Array() }, '1014' + '0000' + '0000'],
  [{ kind: 'expiryTooFar' }, '0015'],
  [{ kind: 'invalidOnionPayload', type: 2n, offset: 4 }, '4016' + '02' + '0004'],
  [{ kind: 'invalidOnionPayload', type: 0x10000n, offset: 65535 }, '4016' + 'fe00010000' + 'ffff'],
  [{ kind: 'mppTimeout' }, '0017'],
  [{ kind: 'invalidOnionBlinding', sha256OfOnion: hexToBytes(SHA) }, 'c018' + SHA],
  [{ kind: 'mppTimeout', tlvs: [{ type: 1n, value: hexToBytes('2a') }] }, '0017' + '01012a'],
  [{ kind: 'unknown', code: 0x4010, data: hexToBytes('0000000000000064') }, '4010' + '0000000000000064'],
  [{ kind: 'unknown', code: 0xffff, data: new Uint8Array() }, 'ffff'],
];

describe('failure messages (BOLT 4 "Failure Messages")', () => {
  for (const [message, hex] of EXAMPLES) {
    const label = `${message.kind}${'tlvs' in message ? ' with a TLV stream' : ''}`;
    it(`encodes ${label} as ${hex.slice(0, 32)}${hex.length > 32 ? '…' : ''}`, () => {
      expect(bytesToHex(encodeFailureMessage(message))).toBe(hex);
    });
    it(`decodes ${hex.slice(0, 32)}${hex.length > 32 ? '…' : ''} to ${label}`, () => {
      expect(decodeFailureMessage(hexToBytes(hex))).toEqual(ok(message));
    });
  }

  it('covers every kind FAILURE_CODE names', () => {
    const covered = new Set(EXAMPLES.map(([m]) => m.kind));
    expect(Object.keys(FAILURE_CODE).filter((kind) => !covered.has(kind as FailureMessage['kind']))).toEqual([]);
  });

  it('sets the flags BOLT 4 gives each code', () => {
    const { BADONION, PERM, NODE, UPDATE } = FAILURE_FLAG;
    expect(FAILURE_CODE.invalidOnionHmac).toBe(BADONION | PERM | 5);
    expect(FAILURE_CODE.incorrectOrUnknownPaymentDetails).toBe(0x400f);
    expect(FAILURE_CODE.temporaryNodeFailure).toBe(NODE | 2);
    expect(FAILURE_CODE.channelDisabled).toBe(UPDATE | 20);
    expect(FAILURE_CODE.mppTimeout).toBe(23);
    expect(failureKindOf(0x4016)).toBe('invalidOnionPayload');
    expect(failureKindOf(0x4010)).toBeUndefined();
  });
});

describe('decodeFailureMessage refuses', () => {
  it('fewer than two bytes: truncated before the code', () => {
    expect(decodeFailureMessage(new Uint8Array())).toEqual(err({ kind: 'truncated', offset: 0 }));
    expect(decodeFailureMessage(hexToBytes('40'))).toEqual(err({ kind: 'truncated', offset: 1 }));
  });

  it('data cut short, with the code and the offset of the field', () => {
    expect(decodeFailureMessage(hexToBytes('400f' + '0000000000000064' + '000c35'))).toEqual(
      err({ kind: 'truncated', code: 0x400f, offset: 10 }),
    );
    expect(decodeFailureMessage(hexToBytes('c005' + 'ab'.repeat(31)))).toEqual(err({ kind: 'truncated', code: 0xc005, offset: 2 }));
  });

  it('a channel_update length past the end', () => {
    expect(decodeFailureMessage(hexToBytes('1007' + '0003' + 'aabb'))).toEqual(err({ kind: 'truncated', code: 0x1007, offset: 2 }));
  });

  it('a non-minimal BigSize type in invalid_onion_payload', () => {
    expect(decodeFailureMessage(hexToBytes('4016' + 'fd0002' + '0000'))).toEqual(err({ kind: 'notCanonical', code: 0x4016, offset: 2 }));
  });

  it('trailing bytes that are not a TLV stream, with the offset of the bad record', () => {
    expect(decodeFailureMessage(hexToBytes('0017' + '0100' + '0100'))).toEqual(
      err({ kind: 'invalidTlvStream', code: 0x17, offset: 4, cause: { kind: 'duplicate', type: 1n, offset: 2 } }),
    );
  });

  it('but keeps all bytes after an unknown code as its data, unread', () => {
    expect(decodeFailureMessage(hexToBytes('4010' + 'fd'))).toEqual(ok({ kind: 'unknown', code: 0x4010, data: hexToBytes('fd') }));
  });
});

describe('encodeFailureMessage throws RangeError for', () => {
  const cases: [string, FailureMessage][] = [
    ['a sha256_of_onion that is not 32 bytes', { kind: 'invalidOnionKey', sha256OfOnion: new Uint8Array(31) }],
    ['a channel_update longer than 65535 bytes', { kind: 'expiryTooSoon', channelUpdate: new Uint8Array(65536) }],
    ['an offset above 65535', { kind: 'invalidOnionPayload', type: 2n, offset: 65536 }],
    ['a height that is not a u32', { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 1n, height: -1 }],
    ['an amount above 2^64-1', { kind: 'finalIncorrectHtlcAmount', incomingHtlcAmtMsat: 2n ** 64n }],
    ['an unknown message with a code BOLT 4 defines', { kind: 'unknown', code: 0x2002, data: new Uint8Array() }],
    ['an unknown message with a code above 0xffff', { kind: 'unknown', code: 0x10000, data: new Uint8Array() }],
    ['a TLV stream with a duplicate type', { kind: 'mppTimeout', tlvs: [{ type: 1n, value: new Uint8Array() }, { type: 1n, value: new Uint8Array() }] }],
  ];
  for (const [name, message] of cases) {
    it(name, () => {
      expect(() => encodeFailureMessage(message)).toThrow(RangeError);
    });
  }
});
