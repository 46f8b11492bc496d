/**
 * Summarizes a V8 CPU profile (.cpuprofile, from `node --cpu-prof` or E2E_PROFILE) by what the time was
 * spent on: each sample is charged to the nearest frame, walking up from the leaf, that belongs to a
 * known part (database client, gRPC, onion crypto, lnmux's engine, ...), so that a syscall (writev) is
 * charged to whoever made it.
 *
 * Run: `node --import tsx bench/lib/profile-summary.ts <file.cpuprofile> [top functions]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The part a frame belongs to, or undefined to look at its caller. First match wins. */
const PARTS: readonly (readonly [string, (url: string, fn: string) => boolean])[] = [
  ['idle', (_u, f) => f === '(idle)'],
  ['garbage collector', (_u, f) => f === '(garbage collector)'],
  ['database client (pg, store)', (u) => /node_modules\/(pg|pg-protocol|pg-types|postgres-[a-z]+|pg-pool)\//.test(u) || u.includes('/src/store/') || u.includes('/src/mux/settle-store')],
  ['embedded PostgreSQL (PGlite)', (u) => u.includes('@electric-sql/pglite')],
  ['gRPC, HTTP/2, protobuf (grpc-js, protobufjs, lnd gateway)', (u) => /node_modules\/(@grpc|protobufjs|@protobufjs)\//.test(u) || u.includes('/src/lnd/') || u.startsWith('node:http2') || u.includes('internal/http2')],
  ['TLS', (u) => u.startsWith('node:tls') || u.includes('internal/tls') || u.startsWith('node:_tls')],
  ['onion and crypto (peel, ECDH, HMAC, ChaCha20)', (u, f) => u.includes('/src/protocol/sphinx') || u.includes('/src/protocol/ecdh') || u.includes('tiny-secp256k1') || u.startsWith('wasm') || u.includes('@noble') || u.includes('internal/crypto') || f.startsWith('wasm-function')],
  ['stateless invoice, payload, failure codecs', (u) => u.includes('/src/protocol/')],
  ['registry and settlement engine', (u) => u.includes('/src/registry/') || u.includes('/src/mux/')],
  ['logging (pino)', (u) => u.includes('node_modules/pino')],
  ['benchmark harness', (u) => u.includes('/bench/')],
];

function partOf(node: ProfileNode): string | undefined {
  const { url, functionName } = node.callFrame;
  for (const [name, test] of PARTS) if (test(url, functionName)) return name;
  return undefined;
}

export function summarize(profile: CpuProfile): { total: number; parts: Map<string, number>; leaves: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const parts = new Map<string, number>();
  const leaves = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const leaf = byId.get(id)!;
    const where = `${leaf.callFrame.functionName || '(anonymous)'} ${leaf.callFrame.url.split('/').slice(-2).join('/')}:${leaf.callFrame.lineNumber + 1}`;
    leaves.set(where, (leaves.get(where) ?? 0) + dt);
    let part: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined && part === undefined; cur = parent.get(cur)) part = partOf(byId.get(cur)!);
    const name = part ?? 'other (Node internals, event loop)';
    parts.set(name, (parts.get(name) ?? 0) + dt);
  });
  return { total, parts, leaves };
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
  const top = Number(process.argv[3] ?? 15);
  const { total, parts, leaves } = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const busy = total - (parts.get('idle') ?? 0);
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms not idle\n`);
  console.log('| part | ms | % of not idle |');
  console.log('|---|---:|---:|');
  for (const [name, us] of [...parts].sort((a, b) => b[1] - a[1])) {
    if (name === 'idle') continue;
    console.log(`| ${name} | ${(us / 1000).toFixed(0)} | ${((100 * us) / busy).toFixed(1)} |`);
  }
  console.log(`\nTop ${top} leaf functions (self time):`);
  for (const [where, us] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(us / 1000).toFixed(0).padStart(6)} ms  ${where}`);
}

if (process.argv[1]?.endsWith('profile-summary.ts')) main();
