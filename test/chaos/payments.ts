/**
 * The chaos suite's payer: single-part payments through the simulator's wallet (SimPayer: it tries
 * each route hint in turn), and multi-part payments sent part by part over several nodes with
 * staggered arrivals, so that faults land while sets are incomplete. A failed part is sent again
 * through another node (a new HTLC, as a wallet's MPP splitter does) until the payment settles, its
 * attempts run out or its deadline passes. Every loop is bounded.
 */
import { createHash } from 'node:crypto';
import { decodeInvoice, type DecodedInvoice } from '../../src/protocol/bolt11.js';
import { bytesToHex, equalBytes } from '../../src/protocol/bytes.js';
import type { SimCluster } from '../../src/sim/cluster.js';
import { prebuildPayment } from '../../bench/lib/prebuilt-payment.js';
import { seededRng } from './rng.js';

export interface ChaosInvoice {
  readonly index: number;
  readonly paymentRequest: string;
  readonly hash: string;
  readonly amountMsat: bigint;
  /** Single-part (through SimPayer) or multi-part (split over `parts` nodes). */
  readonly parts: number;
}

export interface PaymentRecord {
  readonly invoice: ChaosInvoice;
  status: 'pending' | 'succeeded' | 'failed';
  /** HTLCs the payer added at a node. */
  htlcs: number;
  startedAt: number;
  endedAt?: number;
}

export interface PayerLimits {
  /** Most HTLCs per payment (each retry of a part is one more). */
  readonly maxAttempts: number;
  /** No new part is sent after this many ms from the payment's start. */
  readonly deadlineMs: number;
  /** Largest gap between two parts of a multi-part payment, ms. */
  readonly maxStaggerMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ChaosPayer {
  readonly #cluster: SimCluster;
  readonly #seed: string;
  readonly #limits: PayerLimits;
  /** Time (Date.now()) an HTLC of ours was last settled back to the payer. */
  lastSettleAt = 0;

  constructor(cluster: SimCluster, seed: string, limits: PayerLimits) {
    this.#cluster = cluster;
    this.#seed = seed;
    this.#limits = limits;
  }

  /** Pays `invoice`; resolves once every HTLC it sent is resolved. Never rejects. */
  async pay(invoice: ChaosInvoice): Promise<PaymentRecord> {
    const record: PaymentRecord = { invoice, status: 'pending', htlcs: 0, startedAt: Date.now() };
    const decoded = decodeInvoice(invoice.paymentRequest);
    if (!decoded.ok) {
      record.status = 'failed';
      record.endedAt = Date.now();
      return record;
    }
    const ok = invoice.parts <= 1 ? await this.#paySingle(invoice, record) : await this.#payMpp(decoded.value, invoice, record);
    record.status = ok ? 'succeeded' : 'failed';
    record.endedAt = Date.now();
    return record;
  }

  async #paySingle(invoice: ChaosInvoice, record: PaymentRecord): Promise<boolean> {
    const result = await this.#cluster.payer.pay(invoice.paymentRequest, { maxParts: 1, maxAttempts: this.#limits.maxAttempts });
    record.htlcs = result.attempts.filter((a) => a.htlcId !== undefined).length;
    if (result.status !== 'succeeded') return false;
    this.lastSettleAt = Date.now();
    return bytesToHex(createHash('sha256').update(result.preimage).digest()) === invoice.hash;
  }

  async #payMpp(decoded: DecodedInvoice, invoice: ChaosInvoice, record: PaymentRecord): Promise<boolean> {
    const nodes = this.#cluster.nodes.length;
    const pubkeys = this.#cluster.nodeInfos().map((n) => n.pubkey);
    const shard = invoice.amountMsat / BigInt(invoice.parts);
    const shards = Array.from({ length: invoice.parts }, (_, i) => (i === invoice.parts - 1 ? invoice.amountMsat - shard * BigInt(invoice.parts - 1) : shard));
    // Drawn from the seed and the payment's index, so the schedule does not depend on timing.
    const rng = seededRng(`${this.#seed}:payment:${invoice.index}`);
    const first = rng.int(nodes);
    const delays = shards.map(() => rng.int(this.#limits.maxStaggerMs + 1));
    // Backoff between the attempts of a part: 100 ms doubling to 2 s, plus jitter (a wallet retries for
    // about a minute; an outage of the leader lasts up to its lease).
    const retryDelays = Array.from({ length: this.#limits.maxAttempts }, (_, k) => Math.min(2000, 100 * 2 ** k) + rng.int(200));
    let attempts = 0;
    let settled = false;
    const deadline = record.startedAt + this.#limits.deadlineMs;

    const sendShard = async (amount: bigint, startNode: number): Promise<void> => {
      let node = startNode;
      while (!settled && attempts < this.#limits.maxAttempts && Date.now() < deadline) {
        attempts += 1;
        const target = node;
        node = (node + 1) % nodes;
        const built = prebuildPayment(decoded, { parts: 1, firstNode: target, nodePubkeys: pubkeys, height: this.#cluster.chain.height, sendMsat: amount });
        const part = built.parts[0]!;
        const added = this.#cluster.node(target).addHtlc(this.#cluster.payerChannelId(target), part.offer);
        if (!added.ok) continue; // the payer's own channel refused it (node down): the next node at once
        record.htlcs += 1;
        const resolution = await added.resolution;
        if (resolution.kind === 'fulfill' && equalBytes(createHash('sha256').update(resolution.preimage).digest(), decoded.paymentHash)) {
          settled = true;
          this.lastSettleAt = Date.now();
          return;
        }
        await sleep(retryDelays[attempts % retryDelays.length]!);
      }
    };

    const running: Promise<void>[] = [];
    for (const [i, amount] of shards.entries()) {
      if (i > 0) await sleep(delays[i]!);
      running.push(sendShard(amount, (first + i) % nodes));
    }
    await Promise.all(running);
    return settled;
  }
}
