/**
 * A SubscribeInvoices subscriber that reads every event as fast as it comes, in its own process (for
 * bench/api-subscriber.bench.ts with BENCH_SUBSCRIBER=reading): `node --import tsx
 * bench/lib/reading-subscriber.ts <host:port> <index>`, plaintext. Prints `ready` once it has read the
 * event at <index> (the history).
 */
import { LnmuxClient } from '../../src/client/index.js';

const client = await LnmuxClient.connect({ address: process.argv[2]!, insecurePlaintext: true });
const history = BigInt(process.argv[3]!);
let ready = history === 0n;
if (ready) process.stdout.write('ready\n');
for await (const event of client.subscribeInvoices(0n)) {
  if (!ready && event.index >= history) {
    ready = true;
    process.stdout.write('ready\n');
  }
}
