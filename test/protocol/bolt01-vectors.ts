/**
 * Loaders for BOLT 1's test vectors, kept verbatim in test/vectors/bolt01/ (see its README).
 */
import { readFileSync } from 'node:fs';
import { hexToBytes } from '../../src/protocol/bytes.js';

const read = (name: string) => readFileSync(new URL(`../vectors/bolt01/${name}`, import.meta.url), 'utf8');

export interface BigSizeVector {
  readonly name: string;
  readonly value: bigint;
  readonly bytes: string;
  readonly exp_error?: string;
}

/** Appendix A's JSON; values are read as bigints from the text (2^64 - 1 is not a JS number). */
export function loadBigSizeVectors(file: 'bigsize-decoding.json' | 'bigsize-encoding.json'): BigSizeVector[] {
  const text = read(file).replace(/"value": (\d+)/g, '"value": "$1"');
  const raw = JSON.parse(text) as { name: string; value: string; bytes: string; exp_error?: string }[];
  return raw.map((v) => ({ ...v, value: BigInt(v.value) }));
}

export type Namespace = 'n1' | 'n2';

/** One stream of Appendix B, with the sentence that introduced its group. */
export interface TlvVector {
  readonly hex: string;
  readonly stream: Uint8Array;
  readonly valid: boolean;
  readonly namespaces: readonly Namespace[];
  /** The "Reason:", "Explanation:" or "Values:" line. */
  readonly note: string;
  readonly context: string;
}

/**
 * Parses Appendix B: paragraphs "(In addition, t)he following TLV streams in <namespace> should trigger a decoding
 * failure / should correctly decode" followed by list items "1. (Invalid|Valid) stream: 0x.." and
 * "2. <Reason|Explanation|Values>: ..".
 */
export function loadTlvVectors(): TlvVector[] {
  const vectors: TlvVector[] = [];
  let paragraph: string[] = [];
  let context = '';
  let pending: { hex: string; valid: boolean } | undefined;
  for (const line of read('tlv-test-vectors.md').split('\n')) {
    const item = /^1\. (Invalid|Valid) stream: 0x(.*)$/.exec(line);
    const note = /^2\. (?:Reason|Explanation|Values): (.*)$/.exec(line);
    if (item) {
      pending = { hex: (item[2] ?? '').replace(/ /g, ''), valid: item[1] === 'Valid' };
    } else if (note && pending) {
      const namespaces: Namespace[] = /any namespace|either namespace/.test(context)
        ? ['n1', 'n2']
        : [/`n1`/.test(context) ? 'n1' : 'n2'];
      const valid = /should correctly decode/.test(context);
      if (valid !== pending.valid) throw new Error(`vector ${pending.hex} contradicts its paragraph "${context}"`);
      vectors.push({ hex: pending.hex, stream: hexToBytes(pending.hex), valid, namespaces, note: note[1] ?? '', context });
      pending = undefined;
    } else if (line.trim() === '') {
      const text = paragraph.join(' ');
      if (/the following TLV streams? in/i.test(text)) context = text;
      paragraph = [];
    } else {
      paragraph.push(line.trim());
    }
  }
  return vectors;
}
