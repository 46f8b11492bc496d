/**
 * A paying wallet with a direct channel to each cluster node. It pays a BOLT 11 invoice as a wallet
 * does: for each route hint (cluster node -> virtual node, or any hint chain starting at a peer of
 * the payer) it builds a real onion (BOLT 4) with the hint's fees and CLTV deltas, sends the HTLC,
 * splits the amount into multi-part shards (BOLT 4 "Basic Multi-Part Payments") when no single peer
 * channel can carry it, tries another hint when one fails, decrypts the failure it gets back and
 * reports every attempt typed.
 */
import { randomBytes } from 'node:crypto';
import { isPrivate } from 'tiny-secp256k1';
import { buildOnion, bytesToHex, decodeInvoice, DEFAULT_EXPIRY_SECONDS, type DecodedInvoice, type FailureMessage } from '../protocol/index.js';
import type { SimChain } from './chain.js';
import type { HtlcReceiver } from './htlc.js';
import type { KeyPair } from './keys.js';
import { interpretResolution, routePayloads, routesFrom, type Attempt, type PayerChannel, type Route } from './payer-attempt.js';

export { BLOCK_PADDING, type Attempt, type AttemptOutcome } from './payer-attempt.js';

/** How a payment ended. */
export type PaymentResult =
  | { readonly status: 'succeeded'; readonly preimage: Uint8Array; readonly parts: readonly Attempt[]; readonly attempts: readonly Attempt[] }
  | {
      readonly status: 'failed';
      readonly reason: 'invalidInvoice' | 'invoiceExpired' | 'noRoute' | 'rejected' | 'attemptsExhausted';
      /** The decoded failure message that decided it, when one did. */
      readonly failure?: FailureMessage;
      readonly hopIndex?: number;
      readonly erringNode?: string;
      readonly detail?: string;
      readonly attempts: readonly Attempt[];
    };

export interface PayOptions {
  /** Amount for an invoice without one, msat. */
  readonly amountMsat?: bigint;
  /** Most HTLC parts in flight plus settled at once (default 16). */
  readonly maxParts?: number;
  /** Most HTLC attempts in total (default 32). */
  readonly maxAttempts?: number;
  /** Smallest part the splitter makes, msat (default 10,000). */
  readonly minPartMsat?: bigint;
  /** Clock, unix seconds, for the invoice expiry check (default now). */
  readonly nowSeconds?: number;
}

/** Failures from the payee that end the payment: it rejected the payment, another route will not help. */
const FINAL_FAILURES = new Set<FailureMessage['kind']>([
  'incorrectOrUnknownPaymentDetails',
  'finalIncorrectCltvExpiry',
  'finalIncorrectHtlcAmount',
  'invalidOnionPayload',
]);

/** A random onion session key (a valid secp256k1 scalar). */
function sessionKey(): Uint8Array {
  for (;;) {
    const key = randomBytes(32);
    if (isPrivate(key)) return key;
  }
}

export class SimPayer {
  readonly keys: KeyPair;
  readonly #chain: SimChain;
  readonly #peers = new Map<string, PayerChannel>();

  constructor(keys: KeyPair, chain: SimChain) {
    this.keys = keys;
    this.#chain = chain;
  }

  /** Records the payer's channel `chanId` with `peer` (whose side tracks balances). */
  addChannel(peer: HtlcReceiver, chanId: bigint): void {
    this.#peers.set(bytesToHex(peer.publicKey), { receiver: peer, chanId });
  }

  /** Decodes and pays a BOLT 11 payment request; see {@link SimPayer.payInvoice}. */
  async pay(paymentRequest: string, options: PayOptions = {}): Promise<PaymentResult> {
    const decoded = decodeInvoice(paymentRequest);
    if (!decoded.ok) return { status: 'failed', reason: 'invalidInvoice', detail: JSON.stringify(decoded.error, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), attempts: [] };
    return this.payInvoice(decoded.value, options);
  }

  /**
   * Pays a decoded invoice. Resolves when every HTLC sent is resolved: `succeeded` with the
   * preimage as soon as one part settled (the payee holds the set until complete), else `failed`
   * with the deciding failure. Never rejects on network input.
   */
  async payInvoice(invoice: DecodedInvoice, options: PayOptions = {}): Promise<PaymentResult> {
    const attempts: Attempt[] = [];
    const amount = invoice.amountMsat ?? options.amountMsat;
    if (amount === undefined || amount <= 0n) return { status: 'failed', reason: 'invalidInvoice', detail: 'no amount', attempts };
    const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (invoice.timestamp + (invoice.expirySeconds ?? DEFAULT_EXPIRY_SECONDS) <= now) return { status: 'failed', reason: 'invoiceExpired', attempts };
    const maxParts = options.maxParts ?? 16;
    const maxAttempts = options.maxAttempts ?? 32;
    const minPart = options.minPartMsat ?? 10_000n;
    const mpp = invoice.paymentSecret !== undefined;
    const routes = routesFrom(invoice, this.#peers);
    if (routes.length === 0) return { status: 'failed', reason: 'noRoute', detail: 'no route hint starts at a peer of the payer', attempts };

    const excluded = new Set<number>();
    /** Per route: an amount its first channel refused for lack of balance (it cannot carry that much). */
    const tooLarge = new Map<number, bigint>();
    let remaining = amount;
    let inFlight = 0;
    let partsUsed = 0;
    let preimage: Uint8Array | undefined;
    let decisive: Extract<PaymentResult, { status: 'failed' }> | undefined;
    let nextRoute = 0;
    const settledParts: Attempt[] = [];
    const results: Attempt[] = [];
    let wake: (() => void) | undefined;

    const launch = (shard: bigint): 'launched' | 'noCapacity' | 'noRoute' => {
      let anyCandidate = false;
      for (let i = 0; i < routes.length; i++) {
        const route = routes[(nextRoute + i) % routes.length] as Route;
        if (excluded.has(route.index)) continue;
        anyCandidate = true;
        const limit = tooLarge.get(route.index);
        if (limit !== undefined && shard >= limit) continue;
        const sent = this.#send(route, invoice, shard, amount, mpp);
        if (sent.kind === 'refused') {
          attempts.push(sent.attempt);
          if (sent.attempt.outcome.kind === 'refused' && sent.attempt.outcome.refusal === 'insufficientBalance') tooLarge.set(route.index, shard);
          else excluded.add(route.index);
          continue;
        }
        nextRoute = (nextRoute + i + 1) % routes.length;
        inFlight += 1;
        partsUsed += 1;
        void sent.result.then((attempt) => {
          inFlight -= 1;
          results.push(attempt);
          wake?.();
        });
        return 'launched';
      }
      return anyCandidate ? 'noCapacity' : 'noRoute';
    };

    let exhausted = false;
    for (;;) {
      // Launch parts for what is left, halving the shard while no channel can carry it.
      while (remaining > 0n && preimage === undefined && decisive === undefined) {
        if (attempts.length + inFlight >= maxAttempts) {
          exhausted = true;
          break;
        }
        let shard = remaining;
        let outcome = launch(shard);
        while (outcome === 'noCapacity' && mpp && partsUsed < maxParts && shard / 2n >= minPart) {
          shard = (shard + 1n) / 2n;
          outcome = launch(shard);
        }
        if (outcome !== 'launched') break;
        remaining -= shard;
      }
      if (inFlight === 0 && results.length === 0) break;
      if (results.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      for (const attempt of results.splice(0)) {
        attempts.push(attempt);
        const outcome = attempt.outcome;
        if (outcome.kind === 'settled') {
          preimage = outcome.preimage;
          settledParts.push(attempt);
          continue;
        }
        remaining += attempt.amountMsat;
        partsUsed -= 1;
        const fromPayee = outcome.kind === 'failed' && outcome.hopIndex === this.#routeLength(attempt.routeHint, routes) - 1;
        if (outcome.kind === 'failed' && fromPayee && FINAL_FAILURES.has(outcome.failure.kind)) {
          decisive ??= { status: 'failed', reason: 'rejected', failure: outcome.failure, hopIndex: outcome.hopIndex, erringNode: outcome.erringNode, attempts };
        } else if (!(outcome.kind === 'failed' && fromPayee && outcome.failure.kind === 'mppTimeout')) {
          // The hop failed this route (or the failure was unreadable): try the others.
          excluded.add(attempt.routeHint);
        }
      }
    }
    if (preimage !== undefined) return { status: 'succeeded', preimage, parts: settledParts, attempts };
    return decisive ?? { status: 'failed', reason: exhausted ? 'attemptsExhausted' : 'noRoute', ...this.#lastFailure(attempts), attempts };
  }

  #lastFailure(attempts: readonly Attempt[]): { failure?: FailureMessage; hopIndex?: number; erringNode?: string } {
    for (let i = attempts.length - 1; i >= 0; i--) {
      const outcome = (attempts[i] as Attempt).outcome;
      if (outcome.kind === 'failed') return { failure: outcome.failure, hopIndex: outcome.hopIndex, erringNode: outcome.erringNode };
      if (outcome.kind === 'refused') return { failure: { kind: 'temporaryChannelFailure', channelUpdate: new Uint8Array(0) }, hopIndex: -1 };
    }
    return {};
  }

  #routeLength(index: number, routes: readonly Route[]): number {
    const route = routes.find((r) => r.index === index);
    return route === undefined ? 0 : route.hops.length + 1;
  }

  /** Builds the onion for one part over `route` and adds the HTLC to the payer's channel. */
  #send(
    route: Route,
    invoice: DecodedInvoice,
    shardMsat: bigint,
    totalMsat: bigint,
    mpp: boolean,
  ): { kind: 'refused'; attempt: Attempt } | { kind: 'sent'; result: Promise<Attempt> } {
    const { payloads, amountMsat: amount, expiry } = routePayloads(route.hops, invoice, shardMsat, totalMsat, mpp, this.#chain.height);
    const nodes = [...route.hops.map((h) => h.publicKey), invoice.payeePubkey];
    let built: { onion: Uint8Array; sharedSecrets: Uint8Array[] };
    try {
      built = buildOnion(
        nodes.map((publicKey, i) => ({ publicKey, payload: payloads[i] as Uint8Array })),
        sessionKey(),
        invoice.paymentHash,
      );
    } catch {
      // A hint chain too long for 1300 bytes of payloads, or a hint key that is not a point.
      return { kind: 'refused', attempt: { routeHint: route.index, firstHop: bytesToHex(nodes[0] as Uint8Array), amountMsat: shardMsat, outcome: { kind: 'refused', refusal: 'invalidRoute' } } };
    }
    const { onion, sharedSecrets } = built;
    const base = { routeHint: route.index, firstHop: bytesToHex(nodes[0] as Uint8Array), amountMsat: shardMsat };
    const added = route.peer.receiver.addHtlc(route.peer.chanId, { amountMsat: amount, expiry, paymentHash: invoice.paymentHash, onion });
    if (!added.ok) return { kind: 'refused', attempt: { ...base, outcome: { kind: 'refused', refusal: added.refusal } } };
    const circuit = { ...base, chanId: route.peer.chanId, htlcId: added.htlcId };
    return {
      kind: 'sent',
      result: added.resolution.then((resolution) => ({ ...circuit, outcome: interpretResolution(resolution, invoice.paymentHash, sharedSecrets, nodes) })),
    };
  }

}
