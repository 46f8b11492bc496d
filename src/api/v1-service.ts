/**
 * Our own service, `lnmux.v1.Lnmux` (proto/lnmux/v1/lnmux.proto), over the Mux's public API and events:
 * invoices (add, lookup, list, cancel), the sets held in hold mode (list, settle, cancel by set_id),
 * the instance and its nodes (GetInfo), and the durable invoice stream (SubscribeInvoices). A handler
 * reads the request, calls the library, and writes the answer; library outcomes become gRPC statuses in
 * one place ({@link statusOf}). docs/api.md has every RPC, its permission and its errors.
 *
 * The stream is read from the database (src/store/invoice-events.ts), never from a buffer: each
 * subscriber pages through the events after its index at its own pace, then waits for the next round
 * (one sequencer pass, shared by every subscriber, every `streamPollMs` or at once after a Mux event).
 * A slow subscriber holds nothing but its own gRPC call; the HTLC path never waits for it.
 */
import type { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PreimageError, UnknownSetError } from '../mux/engine.js';
import { InvoiceRequestError, type InvoiceRequest } from '../mux/invoice-factory.js';
import type { MuxEvents } from '../mux/events.js';
import type { Mux } from '../mux/mux.js';
import { bytesToHex, paymentHashOf } from '../protocol/index.js';
import type { Invoice, InvoiceEvent, InvoiceKind, InvoiceState, ListInvoicesQuery } from '../store/index.js';
import { ApiError, bytes32, integer, invalidArgument, toServiceError } from './status.js';

/** What the service uses of the Mux: its public API and events (a Mux is one). */
export type V1Mux = Pick<
  Mux,
  | 'nodePubkey'
  | 'status'
  | 'createInvoice'
  | 'getInvoice'
  | 'listInvoices'
  | 'cancelInvoice'
  | 'settle'
  | 'invoicePreimage'
  | 'listInvoiceEvents'
  | 'sequenceInvoiceEvents'
> &
  Pick<EventEmitter<MuxEvents>, 'on' | 'off'>;

export interface V1Info {
  readonly version: string;
  readonly network: string;
  readonly autoSettle: boolean;
}

export interface V1ServiceOptions {
  readonly mux: V1Mux;
  readonly info: V1Info;
  readonly log: Logger;
  /** How often waiting subscribers look for new events, ms (default 250); a Mux event wakes them at once. */
  readonly streamPollMs?: number;
  /** Events read per page by a subscriber (default 100). */
  readonly streamPageSize?: number;
}

type Message = Record<string, unknown>;

const STATE_NAME: Record<InvoiceState, string> = {
  open: 'INVOICE_STATE_OPEN',
  cancelled: 'INVOICE_STATE_CANCELLED',
  settleCommitted: 'INVOICE_STATE_SETTLE_COMMITTED',
  settled: 'INVOICE_STATE_SETTLED',
  failed: 'INVOICE_STATE_FAILED',
};
const STATE_OF = Object.fromEntries(Object.entries(STATE_NAME).map(([state, name]) => [name, state as InvoiceState]));

const KIND_NAME: Record<InvoiceKind, string> = {
  stateless: 'INVOICE_KIND_STATELESS',
  hold: 'INVOICE_KIND_HOLD',
  goLnmux: 'INVOICE_KIND_GO_LNMUX',
};

const EVENT_NAME: Record<InvoiceEvent['kind'], string> = {
  created: 'INVOICE_EVENT_KIND_CREATED',
  accepted: 'INVOICE_EVENT_KIND_ACCEPTED',
  released: 'INVOICE_EVENT_KIND_RELEASED',
  settleCommitted: 'INVOICE_EVENT_KIND_SETTLE_COMMITTED',
  settleRevoked: 'INVOICE_EVENT_KIND_SETTLE_REVOKED',
  settled: 'INVOICE_EVENT_KIND_SETTLED',
  failed: 'INVOICE_EVENT_KIND_FAILED',
  cancelled: 'INVOICE_EVENT_KIND_CANCELLED',
};

/** The request field of each InvoiceRequest field (for INVALID_ARGUMENT messages). */
const ADD_INVOICE_FIELD: Record<keyof InvoiceRequest, string> = {
  amountMsat: 'amount_msat',
  minAmountMsat: 'min_amount_msat',
  paymentHash: 'payment_hash',
  metadata: 'metadata',
  description: 'description',
  descriptionHash: 'description_hash',
  expirySeconds: 'expiry_seconds',
};

/** The default and largest ListInvoices page. */
const LIST_DEFAULT = 100;
const LIST_MAX = 1000;

/** Committed sets remembered for an idempotent SettleSet (older ones: NOT_FOUND; LookupInvoice tells). */
const COMMITTED_REMEMBERED = 10_000;

/** A set held now, as ListAcceptedSets tells it. */
type AcceptedSet = MuxEvents['accepted'][0];

/** The library's errors as gRPC statuses, in one place; anything else is INTERNAL (status.ts). */
function statusOf(error: unknown): unknown {
  if (error instanceof ApiError) return error;
  if (error instanceof InvoiceRequestError) {
    const field = ADD_INVOICE_FIELD[error.field] ?? error.field;
    return invalidArgument(field, error.message.replace(`${error.field}: `, ''));
  }
  if (error instanceof PreimageError) return invalidArgument('preimage', error.message);
  if (error instanceof UnknownSetError) return new ApiError(grpc.status.NOT_FOUND, `set_id: ${error.message}`);
  return error;
}

/** Optional bytes: absent or empty is undefined; otherwise exactly `length` bytes when given. */
function optionalBytes(request: Message, field: string, length?: number): Uint8Array | undefined {
  const value = request[field];
  if (!(value instanceof Uint8Array) || value.length === 0) return undefined;
  if (length !== undefined && value.length !== length) throw invalidArgument(field, `expected ${length} bytes, got ${value.length}`);
  return Uint8Array.from(value);
}

function seconds(date: Date | undefined): string {
  return date === undefined ? '0' : String(Math.floor(date.getTime() / 1000));
}

export class V1Service {
  readonly #mux: V1Mux;
  readonly #info: V1Info;
  readonly #log: Logger;
  readonly #pageSize: number;
  /** The sets held now (hold mode, hold invoices), by set id hex. */
  readonly #accepted = new Map<string, AcceptedSet>();
  /** The last sets committed here, hash hex by set id hex: a SettleSet repeated answers OK (bounded). */
  readonly #committed = new Map<string, string>();
  /** Subscribers waiting for the next sequencer pass. */
  #round: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;
  #sequencing = false;
  readonly #poll: NodeJS.Timeout;
  readonly #streams = new Set<grpc.ServerWritableStream<Message, Message>>();
  #closed = false;

  constructor(options: V1ServiceOptions) {
    this.#mux = options.mux;
    this.#info = options.info;
    this.#log = options.log;
    this.#pageSize = options.streamPageSize ?? 100;
    this.#poll = setInterval(() => void this.#sequence(), options.streamPollMs ?? 250);
    this.#poll.unref();
    this.#mux.on('accepted', this.#onAccepted);
    this.#mux.on('released', this.#onReleased);
    this.#mux.on('committed', this.#onCommitted);
    this.#mux.on('settled', this.#wake);
    this.#mux.on('htlcFinal', this.#wake);
    this.#mux.on('role', this.#onRole);
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      GetInfo: this.#unary('GetInfo', () => this.getInfo()),
      AddInvoice: this.#unary('AddInvoice', (r) => this.addInvoice(r)),
      LookupInvoice: this.#unary('LookupInvoice', (r) => this.lookupInvoice(r)),
      ListInvoices: this.#unary('ListInvoices', (r) => this.listInvoices(r)),
      CancelInvoice: this.#unary('CancelInvoice', (r) => this.cancelInvoice(r)),
      ListAcceptedSets: this.#unary('ListAcceptedSets', () => this.listAcceptedSets()),
      SettleSet: this.#unary('SettleSet', (r) => this.settleSet(r)),
      CancelSet: this.#unary('CancelSet', (r) => this.cancelSet(r)),
      SubscribeInvoices: (call: grpc.ServerWritableStream<Message, Message>) => void this.#subscribe(call),
    };
  }

  /** Ends every stream with OK and lets go of the Mux's events. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    this.#mux.off('accepted', this.#onAccepted);
    this.#mux.off('released', this.#onReleased);
    this.#mux.off('committed', this.#onCommitted);
    this.#mux.off('settled', this.#wake);
    this.#mux.off('htlcFinal', this.#wake);
    this.#mux.off('role', this.#onRole);
    this.#round?.resolve();
    this.#round = undefined;
    for (const call of [...this.#streams]) call.end();
    this.#streams.clear();
  }

  #unary(name: string, body: (request: Message) => Promise<Message> | Message): grpc.handleUnaryCall<Message, Message> {
    return (call, callback) => {
      Promise.resolve()
        .then(() => body(call.request))
        .then(
          (response) => callback(null, response),
          (raw: unknown) => {
            const error = statusOf(raw);
            if (error instanceof ApiError) this.#log.debug({ rpc: name, code: grpc.status[error.code], err: error.message }, 'API call refused');
            else this.#log.error({ rpc: name, err: error }, 'API call failed');
            callback(toServiceError(error), null);
          },
        );
    };
  }

  readonly #onAccepted = (set: MuxEvents['accepted'][0]): void => {
    this.#accepted.set(set.setId, set);
    this.#wake();
  };

  readonly #onReleased = ({ setId }: { readonly setId: string }): void => {
    this.#accepted.delete(setId);
    this.#wake();
  };

  readonly #onCommitted = ({ setId, paymentHash }: MuxEvents['committed'][0]): void => {
    this.#accepted.delete(setId);
    this.#committed.set(setId, paymentHash);
    if (this.#committed.size > COMMITTED_REMEMBERED) this.#committed.delete(this.#committed.keys().next().value!);
    this.#wake();
  };

  /** A term that ends takes its held sets with it (term.ts). */
  readonly #onRole = ({ role }: MuxEvents['role'][0]): void => {
    if (role === 'standby') this.#accepted.clear();
  };

  /** A change was written (or queued: accepted, released): waiting subscribers look at once. */
  readonly #wake = (): void => {
    if (this.#round !== undefined) setImmediate(() => void this.#sequence());
  };

  getInfo(): Message {
    const status = this.#mux.status();
    return {
      version: this.#info.version,
      identity_pubkey: Buffer.from(this.#mux.nodePubkey, 'hex'),
      network: this.#info.network,
      role: status.role === 'active' ? 'ROLE_ACTIVE' : 'ROLE_STANDBY',
      best_height: status.height,
      nodes: status.nodes.map((node) => ({
        pub_key: Buffer.from(node.pubkey, 'hex'),
        state: node.state,
        reason: node.detail ?? '',
        height: node.height ?? 0,
        interceptor: node.streams.interceptor,
      })),
      auto_settle: this.#info.autoSettle,
      held_htlcs: status.heldHtlcs,
    };
  }

  async addInvoice(request: Message): Promise<Message> {
    const amountMsat = integer(request, 'amount_msat');
    const minAmountMsat = integer(request, 'min_amount_msat');
    const expirySeconds = integer(request, 'expiry_seconds');
    if (expirySeconds > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument('expiry_seconds', `too large: ${expirySeconds}`);
    const description = typeof request['description'] === 'string' ? request['description'] : '';
    const descriptionHash = optionalBytes(request, 'description_hash', 32);
    if (descriptionHash !== undefined && description !== '') throw invalidArgument('description', 'give description or description_hash, not both');
    const paymentHash = optionalBytes(request, 'payment_hash', 32);
    const metadata = optionalBytes(request, 'metadata');
    const created = await this.#mux.createInvoice({
      ...(amountMsat > 0n ? { amountMsat } : {}),
      ...(minAmountMsat > 0n ? { minAmountMsat } : {}),
      ...(descriptionHash !== undefined ? { descriptionHash } : { description }),
      ...(expirySeconds > 0n ? { expirySeconds: Number(expirySeconds) } : {}),
      ...(paymentHash !== undefined ? { paymentHash } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
    });
    return {
      payment_request: created.paymentRequest,
      payment_hash: Buffer.from(created.paymentHash),
      preimage: created.preimage !== undefined ? Buffer.from(created.preimage) : Buffer.alloc(0),
      created_at: String(created.createdAt),
      expires_at: String(created.expiresAt),
    };
  }

  async lookupInvoice(request: Message): Promise<Message> {
    const hash = bytes32(request, 'payment_hash');
    const invoice = await this.#mux.getInvoice(hash);
    if (invoice === undefined) throw new ApiError(grpc.status.NOT_FOUND, 'payment_hash: no invoice has this hash');
    return this.#invoiceMessage(invoice);
  }

  async listInvoices(request: Message): Promise<Message> {
    const states = (Array.isArray(request['states']) ? (request['states'] as unknown[]) : []).map((name) => {
      const state = STATE_OF[String(name)];
      if (state === undefined) throw invalidArgument('states', `unknown state ${String(name)}`);
      return state;
    });
    const limit = Number(request['limit'] ?? 0) || LIST_DEFAULT;
    if (limit > LIST_MAX) throw invalidArgument('limit', `at most ${LIST_MAX}, got ${limit}`);
    const cursor = integer(request, 'cursor');
    const from = integer(request, 'created_from');
    const before = integer(request, 'created_before');
    const query: ListInvoicesQuery = {
      limit,
      direction: request['reverse'] === true ? 'backward' : 'forward',
      ...(states.length > 0 ? { states } : {}),
      ...(cursor > 0n ? { cursor } : {}),
      ...(from > 0n ? { createdFrom: new Date(Number(from) * 1000) } : {}),
      ...(before > 0n ? { createdBefore: new Date(Number(before) * 1000) } : {}),
    };
    const page = await this.#mux.listInvoices(query);
    return { invoices: page.invoices.map((invoice) => this.#invoiceMessage(invoice)), next_cursor: String(page.nextCursor ?? 0n) };
  }

  async cancelInvoice(request: Message): Promise<Message> {
    const hash = bytes32(request, 'payment_hash');
    const outcome = await this.#mux.cancelInvoice(hash);
    switch (outcome.kind) {
      case 'cancelled':
      case 'alreadyCancelled':
        return {};
      case 'unknown':
        throw new ApiError(grpc.status.NOT_FOUND, 'payment_hash: no invoice has this hash');
      default:
        throw new ApiError(grpc.status.FAILED_PRECONDITION, `payment_hash: the invoice's settle is committed (${outcome.kind}): it can no longer be cancelled`);
    }
  }

  listAcceptedSets(): Message {
    return {
      sets: [...this.#accepted.values()].map((set) => ({
        set_id: Buffer.from(set.setId, 'hex'),
        payment_hash: Buffer.from(set.paymentHash, 'hex'),
        amount_msat: String(set.amountMsat),
        parts: set.htlcs.map((part) => ({ circuit_key: part.circuitKey, amount_msat: String(part.amountMsat) })),
        needs_preimage: set.needsPreimage,
        payment_metadata: set.paymentMetadata !== undefined ? Buffer.from(set.paymentMetadata, 'hex') : Buffer.alloc(0),
      })),
    };
  }

  /**
   * Settles an accepted set; resolves once committed. Idempotent: a set already committed answers OK.
   * A standby holds no sets: UNAVAILABLE.
   */
  async settleSet(request: Message): Promise<Message> {
    const setId = bytes32(request, 'set_id');
    const preimage = optionalBytes(request, 'preimage', 32);
    const setIdHex = bytesToHex(setId);
    const hash = this.#accepted.get(setIdHex)?.paymentHash;
    if (hash === undefined) {
      const committed = this.#committed.get(setIdHex);
      if (committed !== undefined && (await this.#committedWith(committed, setIdHex))) return this.#settledAlready(committed, preimage);
      await this.#notHeld(setIdHex, 'settle');
    }
    try {
      await this.#mux.settle(setId, preimage !== undefined ? { preimage } : {});
    } catch (error) {
      // Committed by an earlier call (its answer lost) or meanwhile: the store tells.
      if (error instanceof UnknownSetError && hash !== undefined && (await this.#committedWith(hash, setIdHex))) return this.#settledAlready(hash, preimage);
      throw error;
    }
    return {};
  }

  /** Refuses an accepted set: its invoice is cancelled (durable), its parts fail. */
  async cancelSet(request: Message): Promise<Message> {
    const setIdHex = bytesToHex(bytes32(request, 'set_id'));
    const set = this.#accepted.get(setIdHex);
    if (set === undefined) return this.#notHeld(setIdHex, 'cancel');
    const outcome = await this.#mux.cancelInvoice(set.paymentHash);
    switch (outcome.kind) {
      case 'cancelled':
      case 'alreadyCancelled':
        return {};
      case 'unknown':
        throw new ApiError(grpc.status.NOT_FOUND, `set_id: the set's invoice is unknown`);
      default:
        throw new ApiError(grpc.status.FAILED_PRECONDITION, `set_id: the invoice's settle is committed (${outcome.kind}): it can no longer be cancelled`);
    }
  }

  /** Why a set not held here cannot be acted on. */
  async #notHeld(setIdHex: string, action: string): Promise<never> {
    if (this.#mux.status().role === 'standby') {
      throw new ApiError(grpc.status.UNAVAILABLE, `this lnmux instance is a standby and holds no sets: ${action} on the active instance`);
    }
    throw new ApiError(grpc.status.NOT_FOUND, `set_id: no accepted set ${setIdHex} (never accepted, released, or settled already)`);
  }

  /** A repeated SettleSet of a committed set: OK, unless it carries a preimage of another hash (never an OK for that). */
  #settledAlready(hashHex: string, preimage: Uint8Array | undefined): Message {
    if (preimage !== undefined && bytesToHex(paymentHashOf(preimage)) !== hashHex) {
      throw invalidArgument('preimage', "its SHA256 is not the invoice's payment hash");
    }
    return {};
  }

  async #committedWith(hashHex: string, setIdHex: string): Promise<boolean> {
    const invoice = await this.#mux.getInvoice(hashHex);
    return invoice !== undefined && 'setId' in invoice && bytesToHex(invoice.setId) === setIdHex;
  }

  #invoiceMessage(invoice: Invoice): Message {
    const paid = invoice.state === 'settleCommitted' || invoice.state === 'settled' || invoice.state === 'failed';
    const preimage = paid ? this.#mux.invoicePreimage(invoice) : undefined;
    return {
      payment_hash: Buffer.from(invoice.hash),
      kind: KIND_NAME[invoice.kind],
      state: STATE_NAME[invoice.state],
      payment_request: invoice.paymentRequest ?? '',
      amount_msat: String(invoice.amountMsat ?? 0n),
      min_amount_msat: String(invoice.minAmountMsat ?? 0n),
      description: invoice.description.kind === 'text' ? invoice.description.text : '',
      description_hash: invoice.description.kind === 'hash' ? Buffer.from(invoice.description.hash) : Buffer.alloc(0),
      metadata: invoice.metadata !== undefined ? Buffer.from(invoice.metadata) : Buffer.alloc(0),
      created_at: seconds(invoice.createdAt),
      expires_at: seconds(invoice.expiresAt),
      cancelled_at: seconds('cancelledAt' in invoice ? invoice.cancelledAt : undefined),
      settle_committed_at: seconds('settleCommittedAt' in invoice ? invoice.settleCommittedAt : undefined),
      finalized_at: seconds('finalizedAt' in invoice ? invoice.finalizedAt : undefined),
      set_id: 'setId' in invoice ? Buffer.from(invoice.setId) : Buffer.alloc(0),
      sequence: String(invoice.sequence),
      preimage: preimage !== undefined ? Buffer.from(preimage) : Buffer.alloc(0),
    };
  }

  /** The next sequencer pass: resolves once the events committed before it are readable. */
  #nextRound(): Promise<void> {
    if (this.#round === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#round = { promise, resolve };
    }
    return this.#round.promise;
  }

  /** One sequencer pass for everyone waiting (none waiting: nothing to do). */
  async #sequence(): Promise<void> {
    const round = this.#round;
    if (round === undefined || this.#sequencing) return;
    this.#sequencing = true;
    this.#round = undefined;
    try {
      await this.#mux.sequenceInvoiceEvents();
    } catch (error) {
      this.#log.warn({ err: error }, 'Invoice stream: could not index new events; retrying');
    } finally {
      this.#sequencing = false;
      round.resolve();
    }
  }

  /** SubscribeInvoices: the events after from_index, page by page at the client's pace, then each new one. */
  async #subscribe(call: grpc.ServerWritableStream<Message, Message>): Promise<void> {
    if (this.#closed) {
      call.emit('error', toServiceError(new ApiError(grpc.status.UNAVAILABLE, 'the API is shutting down')));
      return;
    }
    let cursor: bigint;
    try {
      cursor = integer(call.request, 'from_index');
    } catch (error) {
      call.emit('error', toServiceError(error));
      return;
    }
    let gone = false;
    const done = (): void => {
      gone = true;
      this.#streams.delete(call);
    };
    call.on('cancelled', done);
    call.on('error', done);
    call.on('finish', done);
    this.#streams.add(call);
    try {
      // The first round indexes what was committed before the call.
      const first = this.#nextRound();
      void this.#sequence();
      await first;
      while (!gone && !this.#closed) {
        const page = await this.#mux.listInvoiceEvents(cursor, this.#pageSize);
        for (const event of page) {
          if (gone || this.#closed) return;
          if (!call.write(eventMessage(event))) {
            // One wait per full buffer: its listeners go when it ends, or a slow subscriber would
            // gather two more at every drain for as long as it stays.
            await new Promise<void>((resolve) => {
              const wake = (): void => {
                for (const name of ['drain', 'cancelled', 'close']) call.off(name, wake);
                resolve();
              };
              for (const name of ['drain', 'cancelled', 'close']) call.on(name, wake);
            });
          }
          cursor = event.index;
        }
        if (page.length < this.#pageSize) await this.#nextRound();
      }
    } catch (error) {
      if (gone || this.#closed) return;
      this.#log.warn({ err: error }, 'Invoice stream ended: could not read the events');
      done();
      call.emit(
        'error',
        toServiceError(new ApiError(grpc.status.UNAVAILABLE, `could not read the invoice events (${(error as Error).message}); subscribe again from your last index`)),
      );
    }
  }
}

function eventMessage(event: InvoiceEvent): Message {
  return {
    index: String(event.index),
    payment_hash: Buffer.from(event.hash),
    kind: EVENT_NAME[event.kind],
    set_id: event.setId !== undefined ? Buffer.from(event.setId) : Buffer.alloc(0),
    amount_msat: String(event.amountMsat ?? 0n),
    reason: event.reason ?? '',
    at: seconds(event.at),
  };
}
