/**
 * What every successful payment must show end to end: the payer got the preimage of the invoice's
 * hash, and the store agrees (invoice settled, each HTLC of the set recorded and settled, the same
 * HTLCs the payer's parts went through).
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { bytesToHex, hexToBytes } from '../../../src/protocol/bytes.js';
import { circuitKeyString } from '../../../src/protocol/index.js';
import type { SimCluster } from '../../../src/sim/index.js';
import type { PaymentResult } from '../../../src/sim/payer.js';
import type { Store, StoredHtlc } from '../../../src/store/types.js';
import { waitUntil } from '../../support/wait.js';
import type { Mux, MuxEvents } from '../../../src/mux/mux.js';

/** A payment result in one line, for assertion messages. */
export function describePayment(result: PaymentResult): string {
  const attempts = result.attempts.map((a) => `${a.firstHop.slice(0, 8)}:${a.amountMsat}:${a.outcome.kind}${a.outcome.kind === 'failed' ? `(${a.outcome.failure.kind}@${a.outcome.hopIndex})` : a.outcome.kind === 'refused' ? `(${a.outcome.refusal})` : ''}`);
  if (result.status === 'succeeded') return `succeeded; attempts ${attempts.join(', ')}`;
  return `failed: ${result.reason}${result.failure ? ` ${result.failure.kind}@${result.hopIndex}` : ''}${result.detail ? ` ${result.detail}` : ''}; attempts ${attempts.join(', ')}`;
}

/** Narrows a result to success, failing the test with the whole story otherwise. */
export function expectSucceeded(result: PaymentResult): asserts result is Extract<PaymentResult, { status: 'succeeded' }> {
  expect(result.status, describePayment(result)).toBe('succeeded');
}

/** Hex of SHA256(bytes). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The circuit key of a stored HTLC or a payer's part, in lnmux's one string form (circuitKeyString). */
function keyOf(node: string, chanId: bigint | undefined, htlcId: bigint | undefined): string {
  if (chanId === undefined || htlcId === undefined) return `${node}: no circuit key (chanId ${chanId}, htlcId ${htlcId})`;
  return circuitKeyString({ nodePubkey: hexToBytes(node), chanId, htlcId });
}

/** A payer's part's circuit key at its first hop, as lnmux writes it (chan_id:htlc_id@node). */
export function partKey(part: { readonly firstHop: string; readonly chanId?: bigint; readonly htlcId?: bigint }): string {
  return keyOf(part.firstHop, part.chanId, part.htlcId);
}

/**
 * Asserts the payment succeeded with the invoice's preimage, then waits until the store shows the
 * invoice settled and checks its HTLC rows: all settled, exactly the payer's settled parts.
 */
export async function expectPaidAndSettled(store: Store, paymentHash: Uint8Array, result: PaymentResult): Promise<readonly StoredHtlc[]> {
  expectSucceeded(result);
  expect(sha256Hex(result.preimage), 'the preimage hashes to the invoice').toBe(bytesToHex(paymentHash));
  await waitUntil(async () => (await store.getInvoice(paymentHash))?.state === 'settled', { what: 'the store to show the invoice settled' });
  const htlcs = await store.listInvoiceHtlcs(paymentHash);
  expect(htlcs.map((h) => h.state)).toEqual(htlcs.map(() => 'settled'));
  const stored = htlcs.map((h) => `${keyOf(bytesToHex(h.nodePubkey), h.chanId, h.htlcId)}=${h.amountMsat}`).sort();
  const paid = result.parts.map((p) => `${keyOf(p.firstHop, p.chanId, p.htlcId)}=${p.amountMsat}`).sort();
  expect(stored).toEqual(paid);
  return htlcs;
}

/** The HTLCs of `paymentHash` that the cluster's nodes hold for the interceptor, as circuit key strings, sorted. */
export function heldParts(cluster: SimCluster, paymentHash: Uint8Array): string[] {
  const hash = bytesToHex(paymentHash);
  return cluster.nodes
    .flatMap((node) =>
      node
        .pendingHtlcs()
        .filter((h) => h.state === 'intercept' && bytesToHex(h.paymentHash) === hash)
        .map((h) => circuitKeyString({ nodePubkey: node.publicKey, chanId: h.key.chanId, htlcId: h.key.htlcId })),
    )
    .sort();
}

/** The next `event` of `mux` about `paymentHash`. */
export function nextEvent<E extends 'accepted' | 'released' | 'committed'>(mux: Mux, event: E, paymentHash: Uint8Array): Promise<MuxEvents[E][0]> {
  const hash = bytesToHex(paymentHash);
  return new Promise((resolve) => {
    const listener = (e: MuxEvents[E][0]) => {
      if (e.paymentHash !== hash) return;
      (mux.off as (event: E, l: typeof listener) => void)(event, listener);
      resolve(e);
    };
    (mux.on as (event: E, l: typeof listener) => void)(event, listener);
  });
}
