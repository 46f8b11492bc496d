/** Test fixtures: a cluster with one test client per node, and condition waits (no timing). */
import { startCluster, type ClusterOptions, type SimCluster } from '../../src/sim/cluster.js';
import { connect, type LndTestClient, type ServerStream } from './lnd-test-client.js';

export interface ClusterFixture {
  readonly cluster: SimCluster;
  readonly clients: readonly LndTestClient[];
}

export async function withCluster<T>(options: ClusterOptions, body: (fixture: ClusterFixture) => Promise<T>): Promise<T> {
  const cluster = await startCluster(options);
  const clients = cluster.nodeInfos().map((info) => connect(info));
  try {
    return await body({ cluster, clients });
  } finally {
    for (const client of clients) client.close();
    await cluster.stop();
  }
}

/** Subscribes to HTLC events and waits for the subscribed event, so that nothing later is missed. */
export async function htlcEvents(client: LndTestClient): Promise<ServerStream> {
  const stream = client.serverStream(client.router, 'SubscribeHtlcEvents', {});
  const first = await stream.messages.next();
  if (first['event'] !== 'subscribed_event') throw new Error(`expected subscribed_event first, got ${String(first['event'])}`);
  return stream;
}

/** The next HTLC event of the given oneof kind, skipping others. */
export async function nextEvent(stream: ServerStream, kind: string): Promise<Record<string, unknown> & { [k: string]: never }> {
  for (;;) {
    const event = await stream.messages.next();
    if (event['event'] === kind) return event as never;
  }
}
