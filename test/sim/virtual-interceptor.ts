/**
 * A minimal interceptor for a virtual node, written for the tests from LND's protos and the
 * protocol functions: on every connected cluster node it peels the final onion layer of each HTLC
 * for the virtual channel with the virtual node's key, checks the final payload, holds the parts of
 * a payment until they add up to total_msat and then settles them all. Regular forwards are resumed.
 */
import { bytesToHex, decodeHopPayload, ecdhWithPrivateKey, equalBytes, peelOnion } from '../../src/protocol/index.js';
import type { KeyPair } from '../../src/sim/keys.js';
import type { InterceptorStream, LndTestClient, Msg } from './lnd-test-client.js';

export interface Known {
  readonly preimage: Uint8Array;
  readonly paymentSecret: Uint8Array;
  readonly amountMsat: bigint;
}

export class VirtualInterceptor {
  readonly #ecdh;
  readonly #invoices = new Map<string, Known>();
  readonly #held = new Map<string, { stream: InterceptorStream; request: Msg; amountMsat: bigint }[]>();
  readonly streams: InterceptorStream[] = [];
  /** Every request seen, with the index of the node it came from. */
  readonly seen: { node: number; request: Msg }[] = [];
  readonly resumed: Msg[] = [];

  constructor(readonly virtualKey: KeyPair, readonly virtualScids: readonly bigint[]) {
    this.#ecdh = ecdhWithPrivateKey(virtualKey.privateKey);
  }

  expect(paymentHash: Uint8Array, known: Known): void {
    this.#invoices.set(bytesToHex(paymentHash), known);
  }

  attach(client: LndTestClient, node: number): InterceptorStream {
    const stream = client.interceptor();
    this.streams.push(stream);
    void (async () => {
      for (;;) {
        const request = await stream.requests.next();
        this.seen.push({ node, request });
        this.#handle(stream, request);
      }
    })();
    return stream;
  }

  #handle(stream: InterceptorStream, request: Msg): void {
    const scid = BigInt(request['outgoing_requested_chan_id']);
    if (!this.virtualScids.includes(scid)) {
      this.resumed.push(request);
      stream.resume(request);
      return;
    }
    const hash = Buffer.from(request['payment_hash']);
    const known = this.#invoices.get(hash.toString('hex'));
    const peeled = peelOnion(Buffer.from(request['onion_blob']), hash, this.#ecdh);
    if (!peeled.ok || known === undefined) {
      stream.failWithCode(request, 'TEMPORARY_CHANNEL_FAILURE');
      return;
    }
    const payload = decodeHopPayload(peeled.value.payload, 'final');
    const amount = BigInt(request['outgoing_amount_msat']);
    if (
      !payload.ok ||
      payload.value.amtToForwardMsat !== amount ||
      payload.value.outgoingCltvValue !== request['outgoing_expiry'] ||
      payload.value.paymentData === undefined ||
      !equalBytes(payload.value.paymentData.paymentAddr, known.paymentSecret) ||
      payload.value.paymentData.totalMsat !== known.amountMsat
    ) {
      stream.failWithCode(request, 'TEMPORARY_CHANNEL_FAILURE');
      return;
    }
    const key = hash.toString('hex');
    const parts = this.#held.get(key) ?? [];
    parts.push({ stream, request, amountMsat: amount });
    this.#held.set(key, parts);
    if (parts.reduce((sum, p) => sum + p.amountMsat, 0n) < known.amountMsat) return;
    this.#held.delete(key);
    for (const part of parts) part.stream.settle(part.request, known.preimage);
  }

  close(): void {
    for (const stream of this.streams) stream.cancel();
  }
}
