/**
 * A hand-made invoice of a virtual node (the lnmux shape, docs/protocol.md): signed with the virtual
 * node's key, one route hint per cluster node over that node's virtual channel (fee 0, CLTV delta
 * 40), min_final_cltv_expiry 40, a payment secret, and a preimage/hash made by hand.
 */
import { createHash, randomBytes } from 'node:crypto';
import { encodeInvoice } from '../../src/protocol/index.js';
import type { SimCluster } from '../../src/sim/cluster.js';
import { nodeKeyPair, type KeyPair } from '../../src/sim/keys.js';

export interface VirtualInvoice {
  readonly paymentRequest: string;
  readonly preimage: Uint8Array;
  readonly paymentHash: Uint8Array;
  readonly paymentSecret: Uint8Array;
  readonly amountMsat: bigint;
  readonly virtualKey: KeyPair;
}

export function virtualInvoice(
  cluster: SimCluster,
  amountMsat: bigint,
  options: { nodes?: readonly number[]; virtualKey?: KeyPair; expirySeconds?: number; timestamp?: number } = {},
): VirtualInvoice {
  const virtualKey = options.virtualKey ?? nodeKeyPair('virtual');
  const preimage = randomBytes(32);
  const paymentHash = createHash('sha256').update(preimage).digest();
  const paymentSecret = randomBytes(32);
  const indices = options.nodes ?? cluster.nodes.map((_n, i) => i);
  const paymentRequest = encodeInvoice(
    {
      network: 'bcrt',
      amountMsat,
      timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
      paymentHash,
      paymentSecret,
      description: 'test payment',
      minFinalCltvExpiryDelta: 40,
      ...(options.expirySeconds === undefined ? {} : { expirySeconds: options.expirySeconds }),
      features: { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional' },
      routeHints: indices.map((i) => [
        { pubkey: cluster.node(i).publicKey, shortChannelId: cluster.node(i).virtualScid, feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40 },
      ]),
    },
    virtualKey.privateKey,
  );
  return { paymentRequest, preimage, paymentHash, paymentSecret, amountMsat, virtualKey };
}
