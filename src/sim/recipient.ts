/**
 * A plain receiving node behind a cluster node: the far end of the simulator's regular (not
 * intercepted) forwards, so the RESUME path carries real traffic. It holds invoices (payment hash
 * -> preimage), peels the final onion layer, checks the payload like an exit hop (BOLT 4
 * "Requirements" for the final node) and settles a payment once its parts add up to total_msat.
 * In process only: it has no gRPC API.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SimChain, SimNetwork } from './chain.js';
import type { ChannelPolicy } from './channel-update.js';
import { malformedResolution, type AddHtlcResult, type HtlcOffer, type HtlcReceiver, type HtlcResolution } from './htlc.js';
import type { KeyPair } from './keys.js';
import {
  bytesToHex,
  createFailurePacket,
  decodeHopPayload,
  ecdhWithPrivateKey,
  encodeFailureMessage,
  encodeInvoice,
  peelOnion,
  type Ecdh,
  type FailureMessage,
} from '../protocol/index.js';

/** BOLT 11 currency prefix of each network. */
export const INVOICE_PREFIX = { mainnet: 'bc', testnet: 'tb', testnet4: 'tb', signet: 'tbs', regtest: 'bcrt', simnet: 'sb' } as const satisfies Record<SimNetwork, string>;

/** A channel into the recipient from a forwarding node, for its invoices' route hints. */
export interface InboundRoute {
  readonly nodePublicKey: Uint8Array;
  readonly shortChannelId: bigint;
  readonly policy: ChannelPolicy;
}

interface Invoice {
  readonly preimage: Uint8Array;
  readonly amountMsat?: bigint;
  settled: boolean;
}

interface Part {
  readonly amountMsat: bigint;
  readonly sharedSecret: Uint8Array;
  readonly deliver: (resolution: HtlcResolution) => void;
}

export class SimRecipient implements HtlcReceiver {
  readonly name: string;
  readonly keys: KeyPair;
  readonly #chain: SimChain;
  readonly #ecdh: Ecdh;
  readonly #invoices = new Map<string, Invoice>();
  readonly #parts = new Map<string, Part[]>();
  #nextHtlcId = 0n;
  readonly #routes: InboundRoute[] = [];
  /** Whether the node accepts HTLCs (false: its peers see it as offline). */
  online = true;

  constructor(name: string, keys: KeyPair, chain: SimChain) {
    this.name = name;
    this.keys = keys;
    this.#chain = chain;
    this.#ecdh = ecdhWithPrivateKey(keys.privateKey);
  }

  get publicKey(): Uint8Array {
    return this.keys.publicKey;
  }

  /**
   * Registers an invoice: a payment hash and its preimage (random unless given). `amountMsat`
   * absent: any amount. Returns the preimage and hash.
   */
  addInvoice(options: { amountMsat?: bigint; preimage?: Uint8Array } = {}): { preimage: Uint8Array; paymentHash: Uint8Array } {
    const preimage = options.preimage ?? randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest();
    this.#invoices.set(bytesToHex(paymentHash), {
      preimage: Uint8Array.from(preimage),
      ...(options.amountMsat === undefined ? {} : { amountMsat: options.amountMsat }),
      settled: false,
    });
    return { preimage: Uint8Array.from(preimage), paymentHash };
  }

  /** Records a channel into the recipient (its route hints name it). */
  addInboundRoute(route: InboundRoute): void {
    this.#routes.push(route);
  }

  /**
   * Registers an invoice and returns its BOLT 11 payment request, signed with the recipient's key,
   * with one route hint per inbound route (the recipient's channels are private), payment secret
   * and basic_mpp. `nowSeconds`: invoice timestamp (default now).
   */
  createInvoice(options: { amountMsat: bigint; network: SimNetwork; description?: string; expirySeconds?: number; nowSeconds?: number }): {
    paymentRequest: string;
    preimage: Uint8Array;
    paymentHash: Uint8Array;
  } {
    const { preimage, paymentHash } = this.addInvoice({ amountMsat: options.amountMsat });
    const paymentRequest = encodeInvoice(
      {
        network: INVOICE_PREFIX[options.network],
        amountMsat: options.amountMsat,
        timestamp: options.nowSeconds ?? Math.floor(Date.now() / 1000),
        paymentHash,
        paymentSecret: randomBytes(32),
        description: options.description ?? `${this.name} invoice`,
        ...(options.expirySeconds === undefined ? {} : { expirySeconds: options.expirySeconds }),
        features: { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional' },
        routeHints: this.#routes.map((r) => [
          {
            pubkey: r.nodePublicKey,
            shortChannelId: r.shortChannelId,
            feeBaseMsat: r.policy.feeBaseMsat,
            feeProportionalMillionths: r.policy.feeProportionalMillionths,
            cltvExpiryDelta: r.policy.cltvExpiryDelta,
          },
        ]),
      },
      this.keys.privateKey,
    );
    return { paymentRequest, preimage, paymentHash };
  }

  /** Whether the invoice with this payment hash has been paid. */
  isSettled(paymentHash: Uint8Array): boolean {
    return this.#invoices.get(bytesToHex(paymentHash))?.settled ?? false;
  }

  addHtlc(_chanId: bigint, offer: HtlcOffer): AddHtlcResult {
    if (!this.online) return { ok: false, refusal: 'peerOffline' };
    const htlcId = this.#nextHtlcId++;
    let deliver!: (resolution: HtlcResolution) => void;
    const resolution = new Promise<HtlcResolution>((resolve) => {
      deliver = resolve;
    });
    setImmediate(() => this.#receive(offer, (r) => setImmediate(() => deliver(r))));
    return { ok: true, htlcId, resolution };
  }

  #receive(offer: HtlcOffer, deliver: (resolution: HtlcResolution) => void): void {
    const peeled = peelOnion(offer.onion, offer.paymentHash, this.#ecdh);
    if (!peeled.ok) {
      deliver(malformedResolution(offer.onion, peeled.error));
      return;
    }
    // The simulator does not read the legacy hop_data that LND still reads: answered as before.
    if (peeled.value.format === 'legacy') {
      deliver(malformedResolution(offer.onion, { kind: 'invalidOnionPayload', reason: 'lengthBelowMinimum', sharedSecret: peeled.value.sharedSecret }));
      return;
    }
    const secret = peeled.value.sharedSecret;
    const fail = (message: FailureMessage): void => deliver({ kind: 'fail', reason: createFailurePacket(secret, encodeFailureMessage(message)) });
    if (peeled.value.next.kind !== 'final') {
      fail({ kind: 'unknownNextPeer' });
      return;
    }
    const payload = decodeHopPayload(peeled.value.payload, 'final');
    if (!payload.ok) {
      fail({ kind: 'invalidOnionPayload', type: payload.error.type, offset: 0 });
      return;
    }
    const p = payload.value;
    if (offer.expiry < p.outgoingCltvValue) {
      fail({ kind: 'finalIncorrectCltvExpiry', cltvExpiry: offer.expiry });
      return;
    }
    if (offer.amountMsat < p.amtToForwardMsat) {
      fail({ kind: 'finalIncorrectHtlcAmount', incomingHtlcAmtMsat: offer.amountMsat });
      return;
    }
    const hash = bytesToHex(offer.paymentHash);
    const invoice = this.#invoices.get(hash);
    const unknown = (): void => fail({ kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: offer.amountMsat, height: this.#chain.height });
    if (invoice === undefined || invoice.settled) {
      unknown();
      return;
    }
    const total = p.paymentData?.totalMsat ?? offer.amountMsat;
    if (invoice.amountMsat !== undefined && total < invoice.amountMsat) {
      unknown();
      return;
    }
    const parts = this.#parts.get(hash) ?? [];
    parts.push({ amountMsat: offer.amountMsat, sharedSecret: secret, deliver });
    this.#parts.set(hash, parts);
    const sum = parts.reduce((acc, part) => acc + part.amountMsat, 0n);
    if (sum < total) return;
    invoice.settled = true;
    this.#parts.delete(hash);
    for (const part of parts) part.deliver({ kind: 'fulfill', preimage: invoice.preimage });
  }
}
