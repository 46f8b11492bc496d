import { afterAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';

// The end-to-end benchmark runs a cluster's nodes in several threads, one startCluster per thread with
// the same seed and disjoint firstNodeIndex: together they must be the cluster one call would start.
describe('startCluster with firstNodeIndex (one cluster split over several starts)', () => {
  const started: SimCluster[] = [];
  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop()));
  });

  it('gives the nodes, channel ids, payer and chain of the same nodes in a whole cluster', async () => {
    const seed = 'split-test';
    const whole = await startCluster({ nodes: 3, seed });
    started.push(whole);
    const head = await startCluster({ nodes: 1, seed, firstNodeIndex: 0 });
    started.push(head);
    const tail = await startCluster({ nodes: 2, seed, firstNodeIndex: 1 });
    started.push(tail);

    const parts = [...head.nodeInfos(), ...tail.nodeInfos()];
    const all = whole.nodeInfos();
    expect(parts.map((n) => n.pubkey)).toEqual(all.map((n) => n.pubkey));
    expect(parts.map((n) => n.payerChannelId)).toEqual(all.map((n) => n.payerChannelId));
    expect(parts.map((n) => n.recipientChannelId)).toEqual(all.map((n) => n.recipientChannelId));
    expect(parts.map((n) => n.recipientPubkey)).toEqual(all.map((n) => n.recipientPubkey));
    for (const c of [head, tail]) {
      expect(bytesToHex(c.payer.keys.publicKey)).toBe(bytesToHex(whole.payer.keys.publicKey));
      expect(bytesToHex(c.chain.tip().hash)).toBe(bytesToHex(whole.chain.tip().hash));
    }
  });

  it('refuses a first index that runs past the 64 nodes a cluster may have', async () => {
    await expect(startCluster({ nodes: 2, firstNodeIndex: 63 })).rejects.toThrow(RangeError);
    await expect(startCluster({ nodes: 1, firstNodeIndex: -1 })).rejects.toThrow(RangeError);
  });
});
