import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from '../src/registry/registry.js';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const r = new Registry({ mode: 'auto', mppTimeoutMs: 3600_000, holdTimeoutMs: 60_000, expiryMarginBlocks: 6, autoFailMarginBlocks: 10 });
r.step({ kind: 'blockConnected', height: 1000 }, Date.now());
const pub = new Uint8Array(randomBytes(33));
let n = 0n;
function add(count: number) {
  for (let i = 0; i < count; i++) {
    r.step({ kind: 'htlcArrived', invoice: { kind: 'open' }, htlc: {
      key: { nodePubkey: pub, chanId: 123456789n, htlcId: n++ }, paymentHash: new Uint8Array(randomBytes(32)), preimage: new Uint8Array(randomBytes(32)),
      amountMsat: 50_000n, expiry: 1200, autoFailHeight: 1180, totalMsat: 100_000n, invoiceAmountMsat: 100_000n, minFinalCltvExpiryDelta: 18,
      invoiceExpiresAt: Math.floor(Date.now() / 1000) + 3600, sharedSecret: new Uint8Array(randomBytes(32)) } }, Date.now());
  }
}
add(500); gc(); gc();
const b = process.memoryUsage().heapUsed;
add(20000); gc(); gc();
console.log('registry only, bytes per held', ((process.memoryUsage().heapUsed - b) / 20000).toFixed(0), r.heldHtlcCount);
import { getHeapSnapshot } from 'node:v8';
import { heapHistogram, histogramDiff } from './lib/heap-histogram.js';
gc(); gc();
const h0 = await heapHistogram(getHeapSnapshot());
add(5000); gc(); gc();
const h1 = await heapHistogram(getHeapSnapshot());
for (const row of histogramDiff(h0, h1, 5000).slice(0, 22)) console.log(row.name.slice(0, 110), row.count.toFixed(2), row.bytes.toFixed(0));
