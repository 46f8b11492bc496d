/** `lnmux sim`'s entry: a running cluster and its JSON description. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runSimulator } from '../../src/sim/sim-command.js';
import { connect } from './lnd-test-client.js';

describe('runSimulator', () => {
  it('starts the cluster and writes a description a client can connect with', async () => {
    const lines: string[] = [];
    const sim = await runSimulator({ nodes: 2, seed: 'fixed seed', log: (line) => lines.push(line) });
    try {
      const written = JSON.parse(await readFile(sim.infoFile, 'utf8'));
      expect(written).toEqual(sim.description);
      expect(written.nodes).toHaveLength(2);
      // The summary, one line per node, and the lnmux config written for this cluster.
      expect(lines).toHaveLength(4);
      expect(lines[3]).toContain(`lnmux config for this cluster: ${sim.muxConfigFile}`);
      const node = written.nodes[1];
      const client = connect({ address: node.address, certPath: node.certPath, macaroonHex: node.macaroonHex });
      expect((await client.getInfo())['identity_pubkey']).toBe(node.pubkey);
      client.close();
    } finally {
      await sim.stop();
    }
  });

  it('derives the same node keys from the same seed', async () => {
    const a = await runSimulator({ nodes: 1, seed: 'same' });
    const pubkeyA = a.description.nodes[0]!.pubkey;
    await a.stop();
    const b = await runSimulator({ nodes: 1, seed: 'same' });
    expect(b.description.nodes[0]!.pubkey).toBe(pubkeyA);
    await b.stop();
  });
});
