import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { decodeBigSize, encodeBigSize } from '../../src/protocol/bigsize.js';
import { bytesToHex, hexToBytes, readU64 } from '../../src/protocol/bytes.js';
import { err, ok, type Result } from '../../src/protocol/result.js';
import { decodeTlvStream, encodeTlvStream, scanTlvStream, type TlvError } from '../../src/protocol/tlv.js';
import { decodeTruncatedUint } from '../../src/protocol/truncated-int.js';
import { loadBigSizeVectors, loadTlvVectors, type Namespace, type TlvVector } from './bolt01-vectors.js';

describe('BOLT 1 Appendix A: BigSize decoding', () => {
  for (const vector of loadBigSizeVectors('bigsize-decoding.json')) {
    const bytes = hexToBytes(vector.bytes);
    if (vector.exp_error === undefined) {
      it(`decodes "${vector.name}" (${vector.bytes}) to ${vector.value}`, () => {
        expect(decodeBigSize(bytes)).toEqual(ok({ value: vector.value, length: bytes.length }));
      });
    } else {
      const kind = vector.exp_error.includes('not canonical') ? 'notCanonical' : 'truncated';
      it(`rejects "${vector.name}" (${vector.bytes}) as ${kind}`, () => {
        expect(decodeBigSize(bytes)).toEqual(err({ kind }));
      });
    }
  }
});

describe('BOLT 1 Appendix A: BigSize encoding', () => {
  for (const vector of loadBigSizeVectors('bigsize-encoding.json')) {
    it(`encodes ${vector.value} ("${vector.name}") as ${vector.bytes}`, () => {
      expect(bytesToHex(encodeBigSize(vector.value))).toBe(vector.bytes);
    });
  }
});

// ---- Appendix B's two namespaces, modelled on top of the generic stream codec ----

type NamespaceError = TlvError['kind'] | 'unknownEvenType' | 'badLength' | 'notMinimal' | 'invalidPoint';
/** Decoded values, keyed "<tlv> <field>" and written as the spec's "Values:" lines write them. */
type Values = Record<string, string>;
type RecordDecoder = (value: Uint8Array) => Result<Values, NamespaceError>;

const truncated =
  (tlv: string, field: string, maxLength: 4 | 8): RecordDecoder =>
  (value) => {
    const read = decodeTruncatedUint(value, maxLength);
    if (!read.ok) return err(read.error.kind === 'tooLong' ? 'badLength' : 'notMinimal');
    return ok({ [`${tlv} ${field}`]: String(read.value) });
  };

/** BOLT 7 short_channel_id notation: block x transaction x output. */
const scidText = (scid: bigint) => `${scid >> 40n}x${(scid >> 16n) & 0xffffffn}x${scid & 0xffffn}`;

const isPoint = (bytes: Uint8Array) => {
  try {
    secp256k1.Point.fromBytes(bytes);
    return bytes.length === 33;
  } catch {
    return false;
  }
};

const NAMESPACES: Record<Namespace, ReadonlyMap<bigint, RecordDecoder>> = {
  n1: new Map<bigint, RecordDecoder>([
    [1n, truncated('tlv1', 'amount_msat', 8)],
    [2n, (v) => (v.length === 8 ? ok({ 'tlv2 scid': scidText(readU64(v)) }) : err('badLength'))],
    [
      3n,
      (v) => {
        if (v.length !== 33 + 8 + 8) return err('badLength');
        const nodeId = v.subarray(0, 33);
        if (!isPoint(nodeId)) return err('invalidPoint');
        return ok({
          'tlv3 node_id': bytesToHex(nodeId),
          'tlv3 amount_msat_1': String(readU64(v, 33)),
          'tlv3 amount_msat_2': String(readU64(v, 41)),
        });
      },
    ],
    [254n, (v) => (v.length === 2 ? ok({ 'tlv4 cltv_delta': String((v[0]! << 8) | v[1]!) }) : err('badLength'))],
  ]),
  n2: new Map<bigint, RecordDecoder>([
    [0n, truncated('tlv1', 'amount_msat', 8)],
    [11n, truncated('tlv2', 'cltv_expiry', 4)],
  ]),
};

/** BOLT 1 receiving-node rules: the stream's structure, then each known type, then unknown even types. */
function decodeIn(namespace: Namespace, stream: Uint8Array): Result<Values, NamespaceError> {
  const records = decodeTlvStream(stream);
  if (!records.ok) return err(records.error.kind);
  const values: Values = {};
  for (const { type, value } of records.value) {
    const decoder = NAMESPACES[namespace].get(type);
    if (decoder) {
      const decoded = decoder(value);
      if (!decoded.ok) return decoded;
      Object.assign(values, decoded.value);
    } else if (type % 2n === 0n) {
      return err('unknownEvenType');
    }
  }
  return ok(values);
}

/** The failure each "Reason:" describes. */
const REASONS: readonly [RegExp, NamespaceError][] = [
  [/type truncated|missing length|length truncated/, 'truncated'],
  [/not minimally encoded (type|length)/, 'notCanonical'],
  [/missing value|value truncated/, 'lengthPastEnd'],
  [/unknown even/, 'unknownEvenType'],
  [/(greater|less) than encoding length/, 'badLength'],
  [/is not minimal/, 'notMinimal'],
  [/not a valid point/, 'invalidPoint'],
  [/duplicate TLV type/, 'duplicate'],
  [/invalid ordering/, 'notIncreasing'],
];

function expectedFailure(reason: string): NamespaceError {
  const match = REASONS.find(([pattern]) => pattern.test(reason));
  if (!match) throw new Error(`no expected failure for reason "${reason}"`);
  return match[1];
}

/** "`tlv3` `node_id`=02.. `amount_msat_1`=1" as { 'tlv3 node_id': '02..', 'tlv3 amount_msat_1': '1' }. */
function parseValues(line: string): Values {
  const values: Values = {};
  let tlv = '';
  for (const token of line.split(' ')) {
    const name = /^`(\w+)`$/.exec(token);
    const field = /^`(\w+)`=(\S+)$/.exec(token);
    if (name) tlv = name[1]!;
    else if (field) values[`${tlv} ${field[1]}`] = field[2]!;
  }
  return values;
}

const vectors = loadTlvVectors();
const inNamespace = (namespace: Namespace, valid: boolean) =>
  vectors.filter((v) => v.valid === valid && v.namespaces.includes(namespace));

describe('BOLT 1 Appendix B: TLV test vectors', () => {
  it('reads every stream of the appendix', () => {
    expect(vectors.filter((v) => !v.valid)).toHaveLength(9 + 4 + 20 + 4 + 1);
    expect(vectors.filter((v) => v.valid)).toHaveLength(7 + 12);
  });

  for (const vector of vectors) {
    for (const namespace of vector.namespaces) {
      if (vector.valid) {
        const expected = /^`/.test(vector.note) ? parseValues(vector.note) : {};
        it(`decodes 0x${vector.hex.slice(0, 40)} in ${namespace}: ${vector.note.slice(0, 60)}`, () => {
          expect(decodeIn(namespace, vector.stream)).toEqual(ok(expected));
        });
      } else {
        const failure = expectedFailure(vector.note);
        it(`rejects 0x${vector.hex.slice(0, 40)} in ${namespace} as ${failure}: ${vector.note}`, () => {
          expect(decodeIn(namespace, vector.stream)).toEqual(err(failure));
        });
      }
    }
  }

  const maxType = (v: TlvVector) => {
    const records = decodeTlvStream(v.stream);
    return records.ok ? records.value.at(-1)?.type : undefined;
  };
  const minType = (v: TlvVector) => {
    const records = decodeTlvStream(v.stream);
    return records.ok ? records.value[0]?.type : undefined;
  };

  for (const namespace of ['n1', 'n2'] as const) {
    it(`rejects any invalid stream appended to a valid stream in ${namespace}`, () => {
      const accepted: string[] = [];
      for (const valid of inNamespace(namespace, true)) {
        for (const invalid of inNamespace(namespace, false)) {
          const stream = hexToBytes(valid.hex + invalid.hex);
          if (decodeIn(namespace, stream).ok) accepted.push(`${valid.hex}|${invalid.hex}`);
        }
      }
      expect(accepted).toEqual([]);
    });

    it(`accepts a higher-numbered valid stream appended to a lower-numbered one in ${namespace}`, () => {
      let pairs = 0;
      for (const low of inNamespace(namespace, true)) {
        for (const high of inNamespace(namespace, true)) {
          const top = maxType(low);
          const bottom = minType(high);
          if (top === undefined || bottom === undefined || top >= bottom) continue;
          const lowValues = decodeIn(namespace, low.stream);
          const highValues = decodeIn(namespace, high.stream);
          if (!lowValues.ok || !highValues.ok) throw new Error('valid vectors must decode');
          expect(decodeIn(namespace, hexToBytes(low.hex + high.hex))).toEqual(ok({ ...lowValues.value, ...highValues.value }));
          pairs++;
        }
      }
      expect(pairs).toBeGreaterThan(10);
    });
  }
});

describe('TLV stream codec (BOLT 1 "Type-Length-Value Format")', () => {
  it('decodes records with their types, values and start offsets', () => {
    expect(scanTlvStream(hexToBytes('0100' + '0203aabbcc' + 'fd0201' + '01' + '2a'))).toEqual(
      ok([
        { type: 1n, value: new Uint8Array(), offset: 0 },
        { type: 2n, value: hexToBytes('aabbcc'), offset: 2 },
        { type: 513n, value: hexToBytes('2a'), offset: 7 },
      ]),
    );
  });

  it('reports a truncated type without a type, at the offset of its record', () => {
    expect(decodeTlvStream(hexToBytes('0100fd02'))).toEqual(err({ kind: 'truncated', offset: 2 }));
  });

  it('reports a truncated length with the type of its record', () => {
    expect(decodeTlvStream(hexToBytes('0100' + '03fe0000'))).toEqual(err({ kind: 'truncated', type: 3n, offset: 2 }));
  });

  it('reports a non-minimal type and a non-minimal length', () => {
    expect(decodeTlvStream(hexToBytes('fd00fc00'))).toEqual(err({ kind: 'notCanonical', offset: 0 }));
    expect(decodeTlvStream(hexToBytes('0100' + '05fd000100'))).toEqual(err({ kind: 'notCanonical', type: 5n, offset: 2 }));
  });

  it('reports a length past the end with the type, the length and the offset', () => {
    expect(decodeTlvStream(hexToBytes('0100' + '0704aabbcc'))).toEqual(
      err({ kind: 'lengthPastEnd', type: 7n, offset: 2, length: 4n }),
    );
  });

  it('reports a lengthy BigSize length past the end without overflowing', () => {
    expect(decodeTlvStream(hexToBytes('01ffffffffffffffffff'))).toEqual(
      err({ kind: 'lengthPastEnd', type: 1n, offset: 0, length: 0xffff_ffff_ffff_ffffn }),
    );
  });

  it('tells a duplicate type from a decreasing one', () => {
    expect(decodeTlvStream(hexToBytes('0300' + '0300'))).toEqual(err({ kind: 'duplicate', type: 3n, offset: 2 }));
    expect(decodeTlvStream(hexToBytes('0300' + '0100'))).toEqual(err({ kind: 'notIncreasing', type: 1n, previous: 3n, offset: 2 }));
  });

  it('decodes the empty stream as no records', () => {
    expect(decodeTlvStream(new Uint8Array())).toEqual(ok([]));
  });

  it('copies values, so a later change to the input does not reach them', () => {
    const input = hexToBytes('0101aa');
    const decoded = decodeTlvStream(input);
    input[2] = 0xbb;
    expect(decoded).toEqual(ok([{ type: 1n, value: hexToBytes('aa') }]));
  });

  it('encodes records sorted by type with minimal BigSizes', () => {
    const stream = encodeTlvStream([
      { type: 0x1_0000n, value: hexToBytes('01') },
      { type: 1n, value: new Uint8Array(300) },
    ]);
    expect(bytesToHex(stream.subarray(0, 4))).toBe('01fd012c');
    expect(bytesToHex(stream.subarray(304))).toBe('fe000100000101');
  });

  it('throws RangeError when two records share a type', () => {
    expect(() => encodeTlvStream([{ type: 5n, value: new Uint8Array() }, { type: 5n, value: hexToBytes('00') }])).toThrow(RangeError);
  });

  it('throws RangeError for a type outside 0..2^64-1', () => {
    expect(() => encodeTlvStream([{ type: 1n << 64n, value: new Uint8Array() }])).toThrow(RangeError);
    expect(() => encodeTlvStream([{ type: -1n, value: new Uint8Array() }])).toThrow(RangeError);
  });
});
