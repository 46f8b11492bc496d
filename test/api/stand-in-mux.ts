/**
 * The Mux's public API and events in memory, for the API's tests: real invoices (makeInvoice with a
 * throwaway key), hold-mode sets played by accept() and finalize().
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ApiMux, V1Mux } from '../../src/api/index.js';
import type { MuxStatus } from '../../src/mux/mux.js';
import { UnknownSetError } from '../../src/mux/engine.js';
import type { MuxEvents } from '../../src/mux/events.js';
import { makeInvoice, type CreatedInvoice, type InvoiceRequest } from '../../src/mux/invoice-factory.js';
import { bytesToHex, deriveKeyring, openPaymentAddr } from '../../src/protocol/index.js';
import type { CancelOutcome, Invoice, InvoiceEvent, InvoicePage, ListInvoicesQuery } from '../../src/store/index.js';

/** A cluster node's pubkey, hex. */
export const NODE = `02${'ab'.repeat(32)}`;

/** The Mux's public API and events, in memory. */
export class StandInMux extends EventEmitter<MuxEvents> implements ApiMux, V1Mux {
  readonly #keyring = deriveKeyring(randomBytes(32));
  readonly invoices = new Map<string, Invoice>();
  role: 'active' | 'standby' = 'active';
  settleCalls = 0;
  #sequence = 0n;
  /** Hold mode's sets: hash hex by accepted set id hex. */
  readonly #held = new Map<string, string>();

  /** The v1 service's reads: one ready node; no invoice events (the stream is tested on a real store). */
  status(): MuxStatus {
    return {
      role: this.role,
      leadershipHeld: this.role === 'active',
      height: 800_000,
      heldHtlcs: 0,
      sets: [],
      nodes: [{ pubkey: NODE, state: 'ready', height: 800_000, streams: { interceptor: 'open', blocks: 'open', htlcEvents: 'open' } }],
    };
  }

  async listInvoiceEvents(_after: bigint, _limit: number): Promise<readonly InvoiceEvent[]> {
    return [];
  }

  async sequenceInvoiceEvents(): Promise<bigint | undefined> {
    return undefined;
  }

  get nodePubkey(): string {
    return bytesToHex(this.#keyring.nodePubkey);
  }

  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    const created = makeInvoice(
      request,
      {
        keyring: this.#keyring,
        network: 'regtest',
        nodes: [{ pubkey: Buffer.from(NODE, 'hex'), virtualChannelId: 1n }],
        feeBaseMsat: 0,
        feeProportionalMillionths: 0,
        cltvExpiryDelta: 40,
        minFinalCltvExpiryDelta: 40,
        defaultExpirySeconds: 3600,
      },
      Date.now() / 1000,
    );
    this.invoices.set(bytesToHex(created.paymentHash), {
      hash: created.paymentHash,
      kind: 'stateless',
      amountMsat: created.amountMsat!,
      paymentAddr: created.paymentAddr,
      description: created.descriptionHash !== undefined ? { kind: 'hash', hash: created.descriptionHash } : { kind: 'text', text: created.description ?? '' },
      paymentRequest: created.paymentRequest,
      createdAt: new Date(created.createdAt * 1000),
      expiresAt: new Date(created.expiresAt * 1000),
      state: 'open',
      sequence: ++this.#sequence,
    });
    return created;
  }

  async getInvoice(hash: Uint8Array | string): Promise<Invoice | undefined> {
    return this.invoices.get(typeof hash === 'string' ? hash : bytesToHex(hash));
  }

  async listInvoices(query: ListInvoicesQuery): Promise<InvoicePage> {
    const all = [...this.invoices.values()]
      .filter((i) => (query.states ?? []).length === 0 || query.states!.includes(i.state))
      .filter((i) => query.cursor === undefined || i.sequence > query.cursor)
      .sort((a, b) => Number(a.sequence - b.sequence));
    const invoices = all.slice(0, query.limit);
    return { invoices, nextCursor: all.length > query.limit ? invoices.at(-1)!.sequence : null };
  }

  async cancelInvoice(hash: Uint8Array | string): Promise<CancelOutcome> {
    const hashHex = typeof hash === 'string' ? hash : bytesToHex(hash);
    const invoice = this.invoices.get(hashHex);
    if (invoice === undefined) return { kind: 'unknown' };
    if (invoice.state === 'open') {
      const cancelledAt = new Date();
      this.invoices.set(hashHex, { ...invoice, state: 'cancelled', cancelledAt });
      for (const [setId, h] of this.#held) {
        if (h !== hashHex) continue;
        this.#held.delete(setId);
        this.emit('released', { paymentHash: hashHex, setId, reason: 'invoiceCancelled' });
      }
      return { kind: 'cancelled', cancelledAt };
    }
    if (invoice.state === 'cancelled') return { kind: 'alreadyCancelled', cancelledAt: invoice.cancelledAt };
    return { kind: invoice.state, setId: invoice.setId };
  }

  async settle(setId: Uint8Array | string): Promise<void> {
    this.settleCalls++;
    const setIdHex = typeof setId === 'string' ? setId : bytesToHex(setId);
    const hashHex = this.#held.get(setIdHex);
    if (hashHex === undefined) throw new UnknownSetError(`no accepted set ${setIdHex}`);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the commit's round trip
    this.#held.delete(setIdHex);
    const invoice = this.invoices.get(hashHex)!;
    this.invoices.set(hashHex, { ...invoice, state: 'settleCommitted', setId: Buffer.from(setIdHex, 'hex'), settleCommittedAt: new Date() });
    this.emit('committed', { paymentHash: hashHex, setId: setIdHex, amountMsat: invoice.amountMsat! });
  }

  invoicePreimage(invoice: { readonly hash: Uint8Array; readonly paymentAddr: Uint8Array }): Uint8Array | undefined {
    const opened = openPaymentAddr(this.#keyring, invoice.paymentAddr, invoice.hash);
    return opened.ok ? opened.value.preimage : undefined;
  }

  /** A complete set of the invoice is held (hold mode): returns its set id hex. */
  accept(hash: Uint8Array): string {
    const setId = bytesToHex(randomBytes(32));
    const invoice = this.invoices.get(bytesToHex(hash))!;
    this.#held.set(setId, bytesToHex(hash));
    this.emit('accepted', { paymentHash: bytesToHex(hash), setId, amountMsat: invoice.amountMsat!, htlcs: [], needsPreimage: false });
    return setId;
  }

  /** Every part of the committed set is settled at its node. */
  finalize(hash: Uint8Array, settled: boolean): void {
    const hashHex = bytesToHex(hash);
    const invoice = this.invoices.get(hashHex)!;
    if (invoice.state !== 'settleCommitted') throw new Error('not committed');
    this.invoices.set(hashHex, { ...invoice, state: settled ? 'settled' : 'failed', finalizedAt: new Date() });
    if (settled) this.emit('settled', { paymentHash: hashHex });
    else this.emit('htlcFinal', { circuitKey: `1:1@${NODE}`, settled: false });
  }
}
