/**
 * What a heap holds, by constructor: a V8 heap snapshot (v8.getHeapSnapshot) read into counts and self
 * sizes per object name, and the difference of two such histograms per unit of something added between
 * them (e.g. per held HTLC). Self sizes only: retained sizes need the dominator tree, and the per-name
 * difference already says which structures grew.
 */
import type { Readable } from 'node:stream';

export type HeapHistogram = Map<string, { count: number; bytes: number }>;

interface SnapshotJson {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: [string[], ...unknown[]];
      readonly edge_fields: string[];
      readonly edge_types: [string[], ...unknown[]];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

/**
 * Reads a snapshot stream into a histogram keyed "type:name" (e.g. "object:Map", "string:", "code:");
 * plain objects ("Object") are told apart by their property names, "object:Object{key,paymentHash,...}",
 * so that each structure a held HTLC keeps gets a row of its own.
 */
export async function heapHistogram(snapshot: Readable): Promise<HeapHistogram> {
  const chunks: Buffer[] = [];
  for await (const chunk of snapshot) chunks.push(chunk as Buffer);
  const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SnapshotJson;
  const fields = json.snapshot.meta.node_fields;
  const types = json.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const edgeCountAt = fields.indexOf('edge_count');
  const edgeFields = json.snapshot.meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const edgeTypeAt = edgeFields.indexOf('type');
  const edgeNameAt = edgeFields.indexOf('name_or_index');
  const propertyType = json.snapshot.meta.edge_types[0].indexOf('property');
  const out: HeapHistogram = new Map();
  let edge = 0;
  for (let i = 0; i < json.nodes.length; i += width) {
    const type = types[json.nodes[i + typeAt]!]!;
    const edges = json.nodes[i + edgeCountAt]!;
    // Strings and code are named by their content: group them by type only.
    let name = type === 'object' || type === 'closure' || type === 'native' ? json.strings[json.nodes[i + nameAt]!]! : '';
    if (type === 'object' && name === 'Object') {
      const keys: string[] = [];
      for (let e = edge; e < edge + edges * edgeWidth; e += edgeWidth) {
        if (json.edges[e + edgeTypeAt] === propertyType) keys.push(json.strings[json.edges[e + edgeNameAt]!]!);
      }
      name += `{${keys.slice(0, 8).join(',')}}`;
    }
    edge += edges * edgeWidth;
    const key = `${type}:${name}`;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += json.nodes[i + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

/** Per `units` (e.g. HTLCs added between the two snapshots): objects and bytes added, largest first. */
export function histogramDiff(before: HeapHistogram, after: HeapHistogram, units: number): { name: string; count: number; bytes: number }[] {
  const rows: { name: string; count: number; bytes: number }[] = [];
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    rows.push({ name, count: (a.count - b.count) / units, bytes: (a.bytes - b.bytes) / units });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}
