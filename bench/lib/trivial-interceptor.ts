/**
 * The baseline "interceptor" of the end-to-end benchmark: no lnmux, one plain grpc-js HtlcInterceptor
 * stream per node that answers SETTLE at once with a preimage it already knows (by payment hash). A
 * request it has no preimage for is kept and not answered, as lnmux holds the part of an incomplete
 * set. What any interceptor costs at least.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { lndServices } from '../../src/lnd/index.js';
import type { NodeFacts } from './node-facts.js';

type Stream = grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;

/** Hooks for the timestamps (last part offered -> SETTLE written), keyed "node:chan:htlc". */
export interface InterceptorTimes {
  arrived(key: string, paymentHash: string): void;
  settleSent(key: string): void;
}

export class TrivialInterceptor {
  readonly preimages = new Map<string, Buffer>();
  readonly held = new Map<string, Record<string, unknown>>();
  /** SETTLEs written. */
  settled = 0;
  times: InterceptorTimes | undefined;
  readonly #streams: Stream[] = [];
  readonly #clients: grpc.Client[] = [];

  constructor(nodes: readonly NodeFacts[]) {
    const { Router } = lndServices();
    for (const node of nodes) {
      const credentials = grpc.credentials.combineChannelCredentials(
        grpc.credentials.createSsl(readFileSync(node.certPath)),
        grpc.credentials.createFromMetadataGenerator((_p, callback) => {
          const metadata = new grpc.Metadata();
          metadata.add('macaroon', node.macaroonHex);
          callback(null, metadata);
        }),
      );
      const router = new Router(node.address, credentials, { 'grpc.ssl_target_name_override': 'localhost' }) as unknown as grpc.Client & {
        HtlcInterceptor: () => Stream;
      };
      const stream = router.HtlcInterceptor();
      stream.on('data', (request: Record<string, unknown>) => this.#onRequest(node.pubkey, stream, request));
      stream.on('error', () => undefined);
      this.#streams.push(stream);
      this.#clients.push(router);
    }
  }

  #onRequest(node: string, stream: Stream, request: Record<string, unknown>): void {
    const circuit = request['incoming_circuit_key'] as { chan_id: string; htlc_id: string };
    const key = `${node}:${circuit.chan_id}:${circuit.htlc_id}`;
    const hash = Buffer.from(request['payment_hash'] as Uint8Array).toString('hex');
    const preimage = this.preimages.get(hash);
    if (preimage === undefined) {
      this.held.set(key, request);
      return;
    }
    const times = this.times;
    times?.arrived(key, hash);
    stream.write({ incoming_circuit_key: circuit, action: 'SETTLE', preimage }, () => {
      this.settled++;
      times?.settleSent(key);
    });
  }

  close(): void {
    for (const stream of this.#streams) stream.cancel();
    for (const client of this.#clients) client.close();
  }
}
