/**
 * Peeling one onion as the final hop (BOLT 4), per second on one core, next to the raw secp256k1 ECDH
 * that the peel cannot avoid (tiny-secp256k1 `pointMultiply`, no hash), measured in the same run.
 * Target: the peel within 1.5x of the raw ECDH. Also the payer's side: building a 2-hop onion (what the
 * simulator's payer does per part). `npm run bench -- sphinx`.
 *
 * The rounds of the operations are interleaved (raw, ecdh, peel, raw, ecdh, peel, ...) so that a busy
 * neighbour on the shared cores weighs on every row alike; each row is the median of its rounds.
 */
import { pointFromScalar, pointMultiply } from 'tiny-secp256k1';
import { ecdhWithPrivateKey } from '../src/protocol/ecdh.js';
import { buildOnion } from '../src/protocol/sphinx-build.js';
import { peelOnion } from '../src/protocol/sphinx-peel.js';
import { median, printTable, type Measurement } from './lib/measure.js';

const virtualNodeKey = new Uint8Array(32).fill(0x22);
const virtualNodePublicKey = pointFromScalar(virtualNodeKey, true)!;
const paymentHash = new Uint8Array(32).fill(0x42);
// A final-hop payload as a payer sends it: amt_to_forward, outgoing_cltv_value, payment_data.
const payload = Uint8Array.from(Buffer.from(`020398968004030c35280823${'ab'.repeat(32)}989680`, 'hex'));
const { onion } = buildOnion([{ publicKey: virtualNodePublicKey, payload }], new Uint8Array(32).fill(0x33), paymentHash);
const ephemeralKey = onion.subarray(1, 34);
const ecdh = ecdhWithPrivateKey(virtualNodeKey);
const sharedSecret = ecdh(ephemeralKey)!;

const twoHops = [
  { publicKey: pointFromScalar(new Uint8Array(32).fill(0x11), true)!, payload: Uint8Array.from(Buffer.from('0203989680' + '04030c3550' + '0608' + '0000010000010000', 'hex')) },
  { publicKey: virtualNodePublicKey, payload },
];
const sessionKey = new Uint8Array(32).fill(0x44);

const check = peelOnion(onion, paymentHash, ecdh);
if (!check.ok || check.value.next.kind !== 'final') throw new Error('the bench onion does not peel as final');

const operations: readonly (readonly [string, () => unknown])[] = [
  ['raw ECDH (tiny-secp256k1 pointMultiply)', () => pointMultiply(ephemeralKey, virtualNodeKey, true)],
  ['ecdh (pointMultiply + SHA256)', () => ecdh(ephemeralKey)],
  ['peelOnion, final hop', () => peelOnion(onion, paymentHash, ecdh)],
  // What the peel adds to the ECDH: the same peel with the shared secret computed once beforehand.
  ['peelOnion, shared secret precomputed', () => peelOnion(onion, paymentHash, () => sharedSecret)],
  // What the simulator's payer does per part: a 2-hop onion (a cluster node, then the virtual node).
  ['buildOnion, 2 hops (the payer)', () => buildOnion(twoHops, sessionKey, paymentHash)],
];
const opsPerRound = Number(process.env.SPHINX_BENCH_OPS ?? 500);
const rounds = Number(process.env.SPHINX_BENCH_ROUNDS ?? 21);

const perRound = operations.map((): number[] => []);
for (const [, op] of operations) for (let i = 0; i < opsPerRound; i++) op(); // warm-up
for (let r = 0; r < rounds; r++) {
  operations.forEach(([, op], index) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) op();
    perRound[index]!.push(Number(process.hrtime.bigint() - start) / 1_000 / opsPerRound);
  });
}
const rows: Measurement[] = operations.map(([name], index) => {
  const microsPerOp = median(perRound[index]!);
  return { name, opsPerSecond: 1_000_000 / microsPerOp, microsPerOp, rounds, opsPerRound };
});
// The ratio of the medians, and the median of the per-round ratios (robust to load drifting).
const roundRatios = perRound[2]!.map((peel, r) => peel / perRound[0]![r]!);
printTable(rows, rows[0]);
const ratio = rows[2]!.microsPerOp / rows[0]!.microsPerOp;
console.log(`\n${rounds} interleaved rounds of ${opsPerRound} ops each`);
console.log(`peel / raw ECDH: ratio of medians ${ratio.toFixed(3)}, median of per-round ratios ${median(roundRatios).toFixed(3)}`);
console.log(`target <= 1.5: ${ratio <= 1.5 ? 'met' : 'MISSED'}`);
