/**
 * Whether an lnmux really serves a node's interceptor. The simulator (as LND) only says that some
 * client holds the interceptor stream, which is still true for a moment after an instance stopped, and
 * a new HTLC that arrives between two instances is failed by the node (--requireinterceptor). A probe
 * HTLC tells: lnmux answers it as a payment to an unknown invoice (incorrect_or_unknown_payment_details
 * from the virtual node), while a node without an interceptor fails it itself (temporary_channel_failure).
 */
import { randomBytes } from 'node:crypto';
import { hexToBytes } from '../../../src/protocol/bytes.js';
import type { SimCluster } from '../../../src/sim/cluster.js';
import { sendRawHtlc } from './raw-htlc.js';
import { waitUntil } from '../../support/wait.js';

/** Sends one probe through node `index`; true if an lnmux (with this virtual node key) answered it. */
export async function probe(cluster: SimCluster, index: number, virtualPubkeyHex: string): Promise<boolean> {
  const outcome = await sendRawHtlc(cluster, {
    node: index,
    paymentHash: randomBytes(32),
    virtualPubkey: hexToBytes(virtualPubkeyHex),
    amountMsat: 1_000n,
    paymentData: { paymentAddr: randomBytes(32), totalMsat: 1_000n },
  }).outcome;
  return outcome.kind === 'failed' && outcome.hopIndex === 1 && outcome.failure.kind === 'incorrectOrUnknownPaymentDetails';
}

/** Waits until an lnmux answers probes on every online node of the cluster. */
export async function untilServed(cluster: SimCluster, virtualPubkeyHex: string, timeoutMs = 20_000): Promise<void> {
  const pending = new Set(cluster.nodes.map((n, i) => (n.online ? i : -1)).filter((i) => i >= 0));
  await waitUntil(async () => {
      for (const i of [...pending]) if (await probe(cluster, i, virtualPubkeyHex)) pending.delete(i);
      return pending.size === 0;
    }, { what: 'lnmux to answer on every node', timeoutMs: timeoutMs });
}
