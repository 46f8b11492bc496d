/**
 * lnmuxd's `lnmux.Service` (proto/lnmux/lnmux.proto) over the Mux's public API and events, so that a
 * backend written for lnmuxd, its client generated from lnmuxd's .proto, works against `lnmux run`
 * unchanged. docs/api.md gives every RPC's semantics and statuses, and where we deviate from lnmuxd
 * (its bugs, not reproduced).
 *
 * lnmuxd names a held set by (hash, set_id); the Mux settles by set id alone (`Mux.settle(setId)`) and
 * cancels by hash (`Mux.cancelInvoice`). The service keeps the sets the Mux announced as `accepted`, by
 * hash, to check that a request's set is the invoice's accepted one before acting on it, as lnmuxd does.
 */
import type { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { UnknownSetError } from '../mux/engine.js';
import { InvoiceRequestError, type InvoiceRequest } from '../mux/invoice-factory.js';
import type { Mux, MuxEvents } from '../mux/mux.js';
import { bytesToHex, equalBytes } from '../protocol/index.js';
import type { Invoice, InvoiceState } from '../store/index.js';
import { ApiError, bytes32, integer, invalidArgument, toServiceError } from './status.js';

/** What the service uses of the Mux: its public API and events, nothing else (a Mux is one). */
export type ApiMux = Pick<
  Mux,
  'nodePubkey' | 'role' | 'createInvoice' | 'getInvoice' | 'listInvoices' | 'cancelInvoice' | 'settle' | 'invoicePreimage'
> &
  Pick<EventEmitter<MuxEvents>, 'on' | 'off'>;

/** What GetInfo tells, from the configuration. */
export interface LnmuxdInfo {
  /** lnmuxd's network names: mainnet, testnet, signet, regtest, simnet. */
  readonly network: string;
  /** The cluster nodes' pubkeys, hex, in configuration order. */
  readonly nodePubkeys: readonly string[];
  readonly autoSettle: boolean;
}

export interface LnmuxdServiceOptions {
  readonly mux: ApiMux;
  readonly info: LnmuxdInfo;
  readonly log: Logger;
  /**
   * Accepted events a SubscribeInvoiceAccepted client may lag behind before it is cut off with
   * RESOURCE_EXHAUSTED: lnmuxd's queue size, 100. A slow client never holds up the Mux.
   */
  readonly subscriberQueueSize?: number;
  /**
   * WaitForInvoiceFinalStatus reads the store again this often, ms (default 2000): the Mux announces
   * `settled` but not a failed invoice, and a standby announces nothing.
   */
  readonly finalStatusPollMs?: number;
}

/** lnmuxd's InvoiceStatus, by the store's invoice state (open and cancelled have none: lnmuxd never stored them). */
const STATUS_OF: Partial<Record<InvoiceState, 'SETTLE_REQUESTED' | 'SETTLED' | 'FAILED'>> = {
  settleCommitted: 'SETTLE_REQUESTED',
  settled: 'SETTLED',
  failed: 'FAILED',
};

/**
 * The request fields of AddInvoice, by the Mux's InvoiceRequest field they become (lnmuxd's AddInvoice
 * has none for amountless, hold or metadata invoices).
 */
const ADD_INVOICE_FIELD: Partial<Record<keyof InvoiceRequest, string>> = {
  amountMsat: 'amt_msat',
  description: 'description',
  descriptionHash: 'description_hash',
  expirySeconds: 'expiry_secs',
};

/** The most invoices one ListInvoices answers (the store's page limit); the client pages on. */
export const LIST_INVOICES_MAX = 1000;

type Message = Record<string, unknown>;

/** One SubscribeInvoiceAccepted client: a bounded queue in front of the call's own buffer. */
class AcceptedSubscriber {
  readonly #call: grpc.ServerWritableStream<Message, Message>;
  readonly #limit: number;
  readonly #queue: Message[] = [];
  #draining = false;
  #closed = false;
  readonly onClose: () => void;

  constructor(call: grpc.ServerWritableStream<Message, Message>, limit: number, onClose: () => void) {
    this.#call = call;
    this.#limit = limit;
    this.onClose = onClose;
  }

  push(message: Message): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#limit) {
      // As lnmuxd: a client that does not keep up is cut off rather than buffered without bound.
      this.fail(new ApiError(grpc.status.RESOURCE_EXHAUSTED, 'buffer overflow: the client read accepted events too slowly; subscribe again'));
      return;
    }
    this.#queue.push(message);
    this.#pump();
  }

  #pump(): void {
    while (!this.#draining && !this.#closed && this.#queue.length > 0) {
      if (!this.#call.write(this.#queue.shift()!)) {
        this.#draining = true;
        this.#call.once('drain', () => {
          this.#draining = false;
          this.#pump();
        });
      }
    }
  }

  fail(error: ApiError): void {
    if (this.#closed) return;
    this.close();
    this.#call.emit('error', toServiceError(error));
  }

  /** Ends the stream with OK (the server stops). */
  end(): void {
    if (this.#closed) return;
    this.close();
    this.#call.end();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
  }
}

export class LnmuxdService {
  readonly #mux: ApiMux;
  readonly #info: LnmuxdInfo;
  readonly #log: Logger;
  readonly #queueSize: number;
  /** The set each invoice holds accepted right now (hold mode), set id hex by hash hex. */
  readonly #accepted = new Map<string, string>();
  /** SettleInvoice calls under way: their outcome by set id hex (a second call waits for the first). */
  readonly #settling = new Map<string, Promise<void>>();
  /** The set whose settle was requested and is not answered yet, by hash hex: a cancel meanwhile is refused. */
  readonly #settleRequested = new Map<string, string>();
  readonly #subscribers = new Set<AcceptedSubscriber>();
  /** WaitForInvoiceFinalStatus calls, each a re-check of the store, by hash hex. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #poll: NodeJS.Timeout;
  #closed = false;

  constructor(options: LnmuxdServiceOptions) {
    this.#mux = options.mux;
    this.#info = options.info;
    this.#log = options.log;
    this.#queueSize = options.subscriberQueueSize ?? 100;
    this.#mux.on('accepted', this.#onAccepted);
    this.#mux.on('released', this.#onReleased);
    this.#mux.on('committed', this.#onCommitted);
    this.#mux.on('settled', this.#onSettled);
    this.#mux.on('htlcFinal', this.#onHtlcFinal);
    this.#mux.on('role', this.#onRole);
    this.#poll = setInterval(() => this.#recheckAll(), options.finalStatusPollMs ?? 2000);
    this.#poll.unref();
  }

  /** The handlers, for grpc.Server.addService(lnmuxdService().service, ...). */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      GetInfo: this.#unary('GetInfo', () => this.getInfo()),
      AddInvoice: this.#unary('AddInvoice', (request) => this.addInvoice(request)),
      SubscribeInvoiceAccepted: (call: grpc.ServerWritableStream<Message, Message>) => this.#subscribe(call),
      WaitForInvoiceFinalStatus: this.#unary('WaitForInvoiceFinalStatus', (request, call) => this.waitForInvoiceFinalStatus(request, call)),
      SettleInvoice: this.#unary('SettleInvoice', (request) => this.settleInvoice(request)),
      CancelInvoice: this.#unary('CancelInvoice', (request) => this.cancelInvoice(request)),
      ListInvoices: this.#unary('ListInvoices', (request) => this.listInvoices(request)),
    };
  }

  /** Ends every stream and wait (the server stops) and lets go of the Mux's events. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    for (const subscriber of [...this.#subscribers]) subscriber.end();
    for (const waiters of [...this.#waiters.values()]) for (const recheck of [...waiters]) recheck();
    this.#mux.off('accepted', this.#onAccepted);
    this.#mux.off('released', this.#onReleased);
    this.#mux.off('committed', this.#onCommitted);
    this.#mux.off('settled', this.#onSettled);
    this.#mux.off('htlcFinal', this.#onHtlcFinal);
    this.#mux.off('role', this.#onRole);
  }

  #unary(name: string, body: (request: Message, call: grpc.ServerUnaryCall<Message, Message>) => Promise<Message> | Message): grpc.handleUnaryCall<Message, Message> {
    return (call, callback) => {
      Promise.resolve()
        .then(() => body(call.request, call))
        .then(
          (response) => callback(null, response),
          (error: unknown) => {
            if (error instanceof ApiError) this.#log.debug({ rpc: name, code: grpc.status[error.code], err: error.message }, 'API call refused');
            else this.#log.error({ rpc: name, err: error }, 'API call failed');
            callback(toServiceError(error), null);
          },
        );
    };
  }

  getInfo(): Message {
    return {
      pub_key: Buffer.from(this.#mux.nodePubkey, 'hex'),
      network: this.#info.network,
      nodes: this.#info.nodePubkeys.map((pubkey) => ({ pub_key: Buffer.from(pubkey, 'hex') })),
      auto_settle: this.#info.autoSettle,
    };
  }

  async addInvoice(request: Message): Promise<Message> {
    const amountMsat = integer(request, 'amt_msat');
    if (amountMsat <= 0n) throw invalidArgument('amt_msat', `expected a positive amount in msat, got ${amountMsat}`);
    const expirySeconds = integer(request, 'expiry_secs');
    if (expirySeconds <= 0n) throw invalidArgument('expiry_secs', `expected a positive number of seconds, got ${expirySeconds}`);
    const description = typeof request['description'] === 'string' ? request['description'] : '';
    const hash = request['description_hash'];
    const hasHash = hash instanceof Uint8Array && hash.length > 0;
    if (hasHash && hash.length !== 32) throw invalidArgument('description_hash', `expected 32 bytes, got ${hash.length}`);
    if (hasHash && description !== '') throw invalidArgument('description', 'give description or description_hash, not both');
    let created;
    try {
      created = await this.#mux.createInvoice({
        amountMsat,
        // lnmuxd writes an empty description when neither is given, as BOLT 11 allows.
        ...(hasHash ? { descriptionHash: Uint8Array.from(hash) } : { description }),
        expirySeconds: expirySeconds > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(expirySeconds),
      });
    } catch (error) {
      if (error instanceof InvoiceRequestError) {
        throw invalidArgument(ADD_INVOICE_FIELD[error.field] ?? error.field, error.message.replace(`${error.field}: `, ''));
      }
      throw error;
    }
    return {
      payment_request: created.paymentRequest,
      // A stateless invoice (lnmuxd's kind): its preimage is derived, always there.
      preimage: Buffer.from(created.preimage!),
      hash: Buffer.from(created.paymentHash),
    };
  }

  /**
   * lnmuxd's semantics: every set accepted now is sent at once, then each new one; at-most-once (a set
   * accepted while no stream is open is only seen by subscribing while it is still held).
   */
  #subscribe(call: grpc.ServerWritableStream<Message, Message>): void {
    if (this.#closed) {
      call.emit('error', toServiceError(new ApiError(grpc.status.UNAVAILABLE, 'the API is shutting down')));
      return;
    }
    const subscriber: AcceptedSubscriber = new AcceptedSubscriber(call, this.#queueSize, () => this.#subscribers.delete(subscriber));
    this.#subscribers.add(subscriber);
    call.on('cancelled', () => subscriber.close());
    call.on('error', () => subscriber.close());
    for (const [hash, setId] of this.#accepted) subscriber.push(acceptedMessage(hash, setId));
  }

  readonly #onAccepted = ({ paymentHash, setId }: MuxEvents['accepted'][0]): void => {
    this.#accepted.set(paymentHash, setId);
    for (const subscriber of [...this.#subscribers]) subscriber.push(acceptedMessage(paymentHash, setId));
  };

  readonly #onReleased = ({ paymentHash, setId }: MuxEvents['released'][0]): void => {
    if (this.#accepted.get(paymentHash) === setId) this.#accepted.delete(paymentHash);
  };

  readonly #onCommitted = ({ paymentHash }: MuxEvents['committed'][0]): void => {
    this.#accepted.delete(paymentHash);
    this.#recheck(paymentHash);
  };

  /** A term that ends takes its held sets with it (term.ts): none is held here any more. */
  readonly #onRole = ({ role }: MuxEvents['role'][0]): void => {
    if (role === 'standby') this.#accepted.clear();
  };

  readonly #onSettled = ({ paymentHash }: MuxEvents['settled'][0]): void => this.#recheck(paymentHash);

  /** A failed invoice has no event of its own: any final HTLC may have ended one. */
  readonly #onHtlcFinal = ({ settled }: MuxEvents['htlcFinal'][0]): void => {
    if (!settled) this.#recheckAll();
  };

  #recheck(hashHex: string): void {
    for (const recheck of [...(this.#waiters.get(hashHex) ?? [])]) recheck();
  }

  #recheckAll(): void {
    for (const hashHex of [...this.#waiters.keys()]) this.#recheck(hashHex);
  }

  /**
   * lnmuxd answers from its database, where an invoice appears once its settle is requested: so NOT_FOUND
   * for an invoice not known, still open or cancelled; otherwise the call waits until the invoice is final.
   */
  async waitForInvoiceFinalStatus(request: Message, call: grpc.ServerUnaryCall<Message, Message>): Promise<Message> {
    const hash = bytes32(request, 'hash');
    const hashHex = bytesToHex(hash);
    return new Promise<Message>((resolve, reject) => {
      let reading = false;
      let again = false;
      let done = false;
      const finish = (outcome: { readonly status: string } | { readonly error: unknown }): void => {
        if (done) return;
        done = true;
        const set = this.#waiters.get(hashHex);
        set?.delete(recheck);
        if (set?.size === 0) this.#waiters.delete(hashHex);
        if ('status' in outcome) resolve({ invoice_status: outcome.status });
        else reject(outcome.error);
      };
      const recheck = (): void => {
        if (done) return;
        if (this.#closed) {
          finish({ error: new ApiError(grpc.status.UNAVAILABLE, 'the API is shutting down; ask again') });
          return;
        }
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        this.#mux.getInvoice(hash).then(
          (invoice) => {
            reading = false;
            const answer = finalStatusOf(invoice, this.#settleRequested.has(hashHex));
            if (answer !== undefined) finish(answer);
            else if (again) {
              again = false;
              recheck();
            }
          },
          (error: unknown) => {
            reading = false;
            finish({ error });
          },
        );
      };
      // Listen first, then read: a settle between the read and the listening is not missed.
      const set = this.#waiters.get(hashHex) ?? new Set();
      set.add(recheck);
      this.#waiters.set(hashHex, set);
      call.on('cancelled', () => finish({ error: new ApiError(grpc.status.CANCELLED, 'cancelled by the client') }));
      recheck();
    });
  }

  /**
   * Settles the accepted set (hash, set_id): resolves once the decision is committed. Idempotent: the set
   * already committed answers OK. Auto mode: UNAVAILABLE. Any other set, or none: NOT_FOUND.
   */
  async settleInvoice(request: Message): Promise<Message> {
    const hash = bytes32(request, 'hash');
    const setId = bytes32(request, 'set_id');
    if (this.#info.autoSettle) {
      throw new ApiError(grpc.status.UNAVAILABLE, 'lnmux is in auto-settle mode: complete sets are settled without SettleInvoice');
    }
    const hashHex = bytesToHex(hash);
    const setIdHex = bytesToHex(setId);
    const under = this.#settling.get(setIdHex);
    if (under !== undefined && this.#settleRequested.get(hashHex) === setIdHex) {
      await under;
      return {};
    }
    const invoice = await this.#invoice(hash);
    const committed = committedSet(invoice);
    if (committed !== undefined) {
      if (equalBytes(committed, setId)) return {}; // idempotent, as lnmuxd
      throw new ApiError(grpc.status.NOT_FOUND, `set_id: the invoice was settled with another set (${bytesToHex(committed)})`);
    }
    if (invoice.state === 'cancelled') throw new ApiError(grpc.status.NOT_FOUND, 'hash: the invoice is cancelled');
    this.#requireAccepted(hashHex, setIdHex);
    const settling = this.#mux.settle(setId).catch(async (error: unknown) => {
      if (!(error instanceof UnknownSetError)) throw error;
      // Released meanwhile (timeout, a part lost), or settled by another caller: the store tells which.
      const after = committedSet(await this.#invoice(hash));
      if (after === undefined || !equalBytes(after, setId)) {
        throw new ApiError(grpc.status.NOT_FOUND, `set_id: no accepted set ${setIdHex} for this hash (${error.message})`);
      }
    });
    this.#settling.set(setIdHex, settling);
    this.#settleRequested.set(hashHex, setIdHex);
    try {
      await settling;
    } finally {
      this.#settling.delete(setIdHex);
      if (this.#settleRequested.get(hashHex) === setIdHex) this.#settleRequested.delete(hashHex);
    }
    return {};
  }

  /**
   * Cancels the invoice whose accepted set is (hash, set_id): its parts fail. FAILED_PRECONDITION once the
   * set's settle was requested; NOT_FOUND for any other set or none. Durable (a deviation: docs/api.md).
   */
  async cancelInvoice(request: Message): Promise<Message> {
    const hash = bytes32(request, 'hash');
    const setId = bytes32(request, 'set_id');
    const hashHex = bytesToHex(hash);
    const setIdHex = bytesToHex(setId);
    const settleRequested = (): ApiError =>
      new ApiError(grpc.status.FAILED_PRECONDITION, `set_id: invoice settle already requested for set ${setIdHex}`);
    if (this.#settleRequested.get(hashHex) === setIdHex) throw settleRequested();
    const invoice = await this.#invoice(hash);
    const committed = committedSet(invoice);
    if (committed !== undefined) {
      if (equalBytes(committed, setId)) throw settleRequested();
      throw new ApiError(grpc.status.NOT_FOUND, `set_id: the invoice was settled with another set (${bytesToHex(committed)})`);
    }
    if (invoice.state === 'cancelled') throw new ApiError(grpc.status.NOT_FOUND, 'hash: the invoice is cancelled already');
    this.#requireAccepted(hashHex, setIdHex);
    const outcome = await this.#mux.cancelInvoice(hash);
    switch (outcome.kind) {
      case 'cancelled':
      case 'alreadyCancelled':
        return {};
      case 'unknown':
        throw new ApiError(grpc.status.NOT_FOUND, 'hash: invoice not found');
      default:
        // A settle committed between the read and the cancel: the store's answer wins.
        if (equalBytes(outcome.setId, setId)) throw settleRequested();
        throw new ApiError(grpc.status.NOT_FOUND, `set_id: the invoice was settled with another set (${bytesToHex(outcome.setId)})`);
    }
  }

  /**
   * Invoices whose settle was committed (SETTLE_REQUESTED, SETTLED, FAILED), sequence_number at least
   * sequence_start, oldest first, at most max_invoices_count (and at most {@link LIST_INVOICES_MAX}).
   */
  async listInvoices(request: Message): Promise<Message> {
    const max = integer(request, 'max_invoices_count');
    if (max <= 0n) throw invalidArgument('max_invoices_count', 'expected at least 1');
    const start = integer(request, 'sequence_start');
    const page = await this.#mux.listInvoices({
      limit: max > BigInt(LIST_INVOICES_MAX) ? LIST_INVOICES_MAX : Number(max),
      states: ['settleCommitted', 'settled', 'failed'],
      direction: 'forward',
      // The store's cursor is exclusive, lnmuxd's sequence_start inclusive.
      ...(start > 0n ? { cursor: start - 1n } : {}),
    });
    const invoices = page.invoices.map((invoice) => this.#invoiceMessage(invoice));
    return {
      invoice: invoices,
      first_sequence_number: String(page.invoices[0]?.sequence ?? 0n),
      last_sequence_number: String(page.invoices.at(-1)?.sequence ?? 0n),
    };
  }

  #invoiceMessage(invoice: Invoice): Message {
    const preimage = this.#mux.invoicePreimage(invoice);
    if (preimage === undefined) throw new Error(`invoice ${bytesToHex(invoice.hash)}: its payment_addr does not derive its hash`);
    return {
      hash: Buffer.from(invoice.hash),
      preimage: Buffer.from(preimage),
      // An amountless invoice has none: 0, as LND writes it (docs/api.md).
      amount_msat: String(invoice.amountMsat ?? 0n),
      status: STATUS_OF[invoice.state] ?? 'UNKNOWN',
      settle_requested_at: 'settleCommittedAt' in invoice ? String(unixSeconds(invoice.settleCommittedAt)) : '0',
      finalized_at: 'finalizedAt' in invoice ? String(unixSeconds(invoice.finalizedAt)) : '0',
      sequence_number: String(invoice.sequence),
    };
  }

  /** The stored invoice, or NOT_FOUND. */
  async #invoice(hash: Uint8Array): Promise<Invoice> {
    const invoice = await this.#mux.getInvoice(hash);
    if (invoice === undefined) throw new ApiError(grpc.status.NOT_FOUND, 'hash: invoice not found');
    return invoice;
  }

  /** The invoice's accepted set must be set_id; else NOT_FOUND (UNAVAILABLE on a standby, which holds none). */
  #requireAccepted(hashHex: string, setIdHex: string): void {
    const accepted = this.#accepted.get(hashHex);
    if (accepted === setIdHex) return;
    if (this.#mux.role === 'standby') {
      throw new ApiError(grpc.status.UNAVAILABLE, 'this lnmux instance is a standby and holds no sets: call the active instance');
    }
    throw new ApiError(
      grpc.status.NOT_FOUND,
      accepted === undefined ? 'set_id: the invoice has no accepted set' : `set_id: the invoice's accepted set is ${accepted}, not ${setIdHex}`,
    );
  }
}

function acceptedMessage(hashHex: string, setIdHex: string): Message {
  return { hash: Buffer.from(hashHex, 'hex'), set_id: Buffer.from(setIdHex, 'hex') };
}

/** The set an invoice's settle was committed with, if any. */
function committedSet(invoice: Invoice): Uint8Array | undefined {
  return invoice.state === 'settleCommitted' || invoice.state === 'settled' || invoice.state === 'failed' ? invoice.setId : undefined;
}

/** WaitForInvoiceFinalStatus's answer for an invoice as stored now, or undefined to wait on. */
function finalStatusOf(invoice: Invoice | undefined, settleRequested: boolean): { readonly status: string } | { readonly error: ApiError } | undefined {
  if (invoice === undefined) return { error: new ApiError(grpc.status.NOT_FOUND, 'hash: invoice not found') };
  switch (invoice.state) {
    case 'settled':
      return { status: 'SETTLED' };
    case 'failed':
      return { status: 'FAILED' };
    case 'settleCommitted':
      return undefined;
    case 'open':
      if (settleRequested) return undefined; // SettleInvoice is under way: its commit comes next
      return { error: new ApiError(grpc.status.NOT_FOUND, 'hash: invoice not found: no settle was requested for it (it is open)') };
    case 'cancelled':
      return { error: new ApiError(grpc.status.NOT_FOUND, 'hash: invoice not found: it is cancelled') };
    default: {
      const never: never = invoice;
      throw new Error(`unexpected invoice ${String(never)}`);
    }
  }
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
