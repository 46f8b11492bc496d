/**
 * `lnmux/client`: a typed client for the daemon's own API, `lnmux.v1.Lnmux` (docs/api.md). It connects
 * with the address, the TLS certificate and a macaroon (paths or bytes), or from a multiplexer.yml's
 * `api` section; each RPC is a method taking and giving the types of ./types.ts; the invoice stream is
 * an async iterator; every failure is an {@link LnmuxClientError} carrying the gRPC status code.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { lnmuxV1Service } from '../api/protos.js';
import { loadConfigFile, splitHostPort, type ApiConfig, type MuxConfig } from '../mux/config.js';
import { clientError } from './errors.js';
import type {
  AcceptedSet,
  AddedInvoice,
  AddInvoiceRequest,
  Info,
  Invoice,
  InvoiceEvent,
  InvoiceEventKind,
  InvoiceKind,
  InvoicePage,
  InvoiceState,
  ListInvoicesRequest,
  Role,
} from './types.js';

/** A file to read, or its contents. */
export type PathOrBytes = string | Uint8Array;

export interface ConnectOptions {
  /** host:port of the daemon's API (its api.listen). */
  readonly address: string;
  /** The daemon's TLS certificate (PEM), to pin: its path or bytes. Required unless `insecurePlaintext`. */
  readonly tlsCert?: PathOrBytes;
  /** A macaroon (admin, invoice or readonly): its path or raw bytes. Required unless `insecurePlaintext`. */
  readonly macaroon?: PathOrBytes;
  /** Plaintext without credentials, for a daemon with api.insecurePlaintext (loopback only). */
  readonly insecurePlaintext?: boolean;
  /** The TLS server name to check instead of the address's host (a name in the certificate). */
  readonly tlsServerName?: string;
  /** Each unary call's deadline, ms (default 30,000). */
  readonly timeoutMs?: number;
}

export type MacaroonKind = 'admin' | 'invoice' | 'readonly';

export interface ConfigConnectOptions {
  /** Which macaroon of api.dataDir (default admin), or a macaroon's path or bytes. */
  readonly macaroon?: MacaroonKind | { readonly path: string } | Uint8Array;
  readonly timeoutMs?: number;
}

type Message = Record<string, unknown>;
type RawClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const STATE_NAME: Record<InvoiceState, string> = {
  open: 'INVOICE_STATE_OPEN',
  cancelled: 'INVOICE_STATE_CANCELLED',
  settleCommitted: 'INVOICE_STATE_SETTLE_COMMITTED',
  settled: 'INVOICE_STATE_SETTLED',
  failed: 'INVOICE_STATE_FAILED',
};
const KIND_NAME: Record<InvoiceKind, string> = { stateless: 'INVOICE_KIND_STATELESS', hold: 'INVOICE_KIND_HOLD', goLnmux: 'INVOICE_KIND_GO_LNMUX' };
const EVENT_NAME: Record<InvoiceEventKind, string> = {
  created: 'INVOICE_EVENT_KIND_CREATED',
  accepted: 'INVOICE_EVENT_KIND_ACCEPTED',
  released: 'INVOICE_EVENT_KIND_RELEASED',
  settleCommitted: 'INVOICE_EVENT_KIND_SETTLE_COMMITTED',
  settleRevoked: 'INVOICE_EVENT_KIND_SETTLE_REVOKED',
  settled: 'INVOICE_EVENT_KIND_SETTLED',
  failed: 'INVOICE_EVENT_KIND_FAILED',
  cancelled: 'INVOICE_EVENT_KIND_CANCELLED',
};
const ROLE_NAME: Record<Role, string> = { active: 'ROLE_ACTIVE', standby: 'ROLE_STANDBY' };

function inverse<T extends string>(table: Record<T, string>, what: string): (name: unknown) => T {
  const of = new Map(Object.entries(table).map(([key, name]) => [name as string, key as T]));
  return (name) => {
    const value = of.get(String(name));
    if (value === undefined) throw new TypeError(`${what}: unknown value ${JSON.stringify(name)} (a daemon newer than this client?)`);
    return value;
  };
}
const stateOf = inverse(STATE_NAME, 'InvoiceState');
const kindOf = inverse(KIND_NAME, 'InvoiceKind');
const eventKindOf = inverse(EVENT_NAME, 'InvoiceEventKind');
const roleOf = inverse(ROLE_NAME, 'Role');

const bytes = (value: unknown): Uint8Array => Uint8Array.from(value as Uint8Array);
const optionalBytes = (value: unknown): Uint8Array | undefined => ((value as Uint8Array | undefined)?.length ? bytes(value) : undefined);
const big = (value: unknown): bigint => BigInt(value as string);
const optionalBig = (value: unknown): bigint | undefined => (big(value) === 0n ? undefined : big(value));
const date = (value: unknown): Date => new Date(Number(value) * 1000);
const optionalDate = (value: unknown): Date | undefined => (Number(value) === 0 ? undefined : date(value));
const unix = (value: Date): string => String(Math.floor(value.getTime() / 1000));

function invoiceOf(m: Message): Invoice {
  return {
    paymentHash: bytes(m['payment_hash']),
    kind: kindOf(m['kind']),
    state: stateOf(m['state']),
    paymentRequest: String(m['payment_request']),
    amountMsat: optionalBig(m['amount_msat']),
    minAmountMsat: optionalBig(m['min_amount_msat']),
    description: String(m['description']),
    descriptionHash: optionalBytes(m['description_hash']),
    metadata: optionalBytes(m['metadata']),
    createdAt: date(m['created_at']),
    expiresAt: date(m['expires_at']),
    cancelledAt: optionalDate(m['cancelled_at']),
    settleCommittedAt: optionalDate(m['settle_committed_at']),
    finalizedAt: optionalDate(m['finalized_at']),
    setId: optionalBytes(m['set_id']),
    sequence: big(m['sequence']),
    preimage: optionalBytes(m['preimage']),
  };
}

function eventOf(m: Message): InvoiceEvent {
  return {
    index: big(m['index']),
    paymentHash: bytes(m['payment_hash']),
    kind: eventKindOf(m['kind']),
    setId: optionalBytes(m['set_id']),
    amountMsat: big(m['amount_msat']),
    reason: String(m['reason']),
    at: date(m['at']),
  };
}

async function read(source: PathOrBytes, what: string): Promise<Buffer> {
  if (typeof source !== 'string') return Buffer.from(source);
  try {
    return await readFile(source);
  } catch (error) {
    throw new TypeError(`${what}: cannot read ${source}: ${(error as Error).message}`, { cause: error });
  }
}

/** The address a client dials for a listen address: a wildcard host becomes the loopback one. */
export function dialAddress(listen: string): string {
  const parts = splitHostPort(listen);
  if (parts === undefined) throw new TypeError(`address: expected host:port, got ${JSON.stringify(listen)}`);
  if (parts.host === '0.0.0.0') return `127.0.0.1:${parts.port}`;
  if (parts.host === '[::]') return `[::1]:${parts.port}`;
  return listen;
}

/** An invoice stream: iterate it (for await); cancel() ends it (the loop then ends without an error). */
export interface InvoiceSubscription extends AsyncIterable<InvoiceEvent> {
  cancel(): void;
}

export class LnmuxClient {
  readonly #client: RawClient;
  readonly #macaroonHex: string | undefined;
  readonly #timeoutMs: number;

  private constructor(client: RawClient, macaroonHex: string | undefined, timeoutMs: number) {
    this.#client = client;
    this.#macaroonHex = macaroonHex;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects (lazily: the first call dials) with the address, the certificate and a macaroon. */
  static async connect(options: ConnectOptions): Promise<LnmuxClient> {
    const address = dialAddress(options.address);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const Service = lnmuxV1Service();
    if (options.insecurePlaintext === true) {
      const macaroon = options.macaroon !== undefined ? (await read(options.macaroon, 'macaroon')).toString('hex') : undefined;
      return new LnmuxClient(new Service(address, grpc.credentials.createInsecure()) as unknown as RawClient, macaroon, timeoutMs);
    }
    if (options.tlsCert === undefined) throw new TypeError('tlsCert: required (the daemon\'s tls.cert), unless insecurePlaintext');
    if (options.macaroon === undefined) throw new TypeError('macaroon: required (admin.macaroon, invoice.macaroon or readonly.macaroon), unless insecurePlaintext');
    const [cert, macaroon] = await Promise.all([read(options.tlsCert, 'tlsCert'), read(options.macaroon, 'macaroon')]);
    const host = splitHostPort(address)!.host.replace(/^\[(.*)\]$/, '$1');
    let channelOptions: grpc.ChannelOptions = {};
    let verify: grpc.VerifyOptions = {};
    if (options.tlsServerName !== undefined) {
      channelOptions = { 'grpc.ssl_target_name_override': options.tlsServerName };
    } else if (isIP(host) !== 0) {
      // grpc-js would send the IP address as the TLS server name, which RFC 6066 forbids (Node warns on
      // stderr): send a name instead and check the certificate against the address itself.
      channelOptions = { 'grpc.ssl_target_name_override': 'localhost' };
      verify = { checkServerIdentity: (_name, peer) => checkServerIdentity(host, peer) };
    }
    const client = new Service(address, grpc.credentials.createSsl(cert, null, null, verify), channelOptions) as unknown as RawClient;
    return new LnmuxClient(client, macaroon.toString('hex'), timeoutMs);
  }

  /**
   * Connects to the daemon a multiplexer.yml describes (its path, or the parsed config): api.listen,
   * the certificate (api.tlsCertPath, or tls.cert in api.dataDir) and a macaroon of api.dataDir.
   */
  static async fromConfig(config: string | Pick<MuxConfig, 'api'>, options: ConfigConnectOptions = {}): Promise<LnmuxClient> {
    const parsed = typeof config === 'string' ? loadConfigFile(config) : config;
    const api: ApiConfig | undefined = parsed.api;
    if (api === undefined) throw new TypeError('api: the configuration has no api section: the daemon serves no API');
    const chosen = options.macaroon ?? 'admin';
    const macaroon = typeof chosen === 'string' ? join(api.dataDir, `${chosen}.macaroon`) : chosen instanceof Uint8Array ? chosen : chosen.path;
    return LnmuxClient.connect({
      address: api.listen,
      ...(api.insecurePlaintext ? { insecurePlaintext: true } : { tlsCert: api.tlsCertPath ?? join(api.dataDir, 'tls.cert'), macaroon }),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  }

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.#macaroonHex !== undefined) metadata.set('macaroon', this.#macaroonHex);
    return metadata;
  }

  #unary(method: string, request: Message): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.#client[method]!(request, this.#metadata(), { deadline: Date.now() + this.#timeoutMs }, (error: grpc.ServiceError | null, response: Message) =>
        error ? reject(clientError(error)) : resolve(response),
      );
    });
  }

  async getInfo(): Promise<Info> {
    const m = await this.#unary('GetInfo', {});
    return {
      version: String(m['version']),
      identityPubkey: bytes(m['identity_pubkey']),
      network: String(m['network']),
      role: roleOf(m['role']),
      bestHeight: Number(m['best_height']),
      nodes: (m['nodes'] as Message[]).map((n) => ({
        pubKey: bytes(n['pub_key']),
        state: String(n['state']),
        reason: String(n['reason']),
        height: Number(n['height']),
        interceptor: String(n['interceptor']),
      })),
      autoSettle: Boolean(m['auto_settle']),
      heldHtlcs: Number(m['held_htlcs']),
    };
  }

  async addInvoice(request: AddInvoiceRequest): Promise<AddedInvoice> {
    const m = await this.#unary('AddInvoice', {
      amount_msat: String(request.amountMsat ?? 0n),
      min_amount_msat: String(request.minAmountMsat ?? 0n),
      description: request.description ?? '',
      description_hash: Buffer.from(request.descriptionHash ?? []),
      expiry_seconds: String(request.expirySeconds ?? 0),
      payment_hash: Buffer.from(request.paymentHash ?? []),
      metadata: Buffer.from(request.metadata ?? []),
    });
    return {
      paymentRequest: String(m['payment_request']),
      paymentHash: bytes(m['payment_hash']),
      preimage: optionalBytes(m['preimage']),
      createdAt: date(m['created_at']),
      expiresAt: date(m['expires_at']),
    };
  }

  /** Rejects with NOT_FOUND for an unknown hash. */
  async lookupInvoice(paymentHash: Uint8Array): Promise<Invoice> {
    return invoiceOf(await this.#unary('LookupInvoice', { payment_hash: Buffer.from(paymentHash) }));
  }

  async listInvoices(request: ListInvoicesRequest = {}): Promise<InvoicePage> {
    const m = await this.#unary('ListInvoices', {
      states: (request.states ?? []).map((s) => STATE_NAME[s]),
      created_from: request.createdFrom !== undefined ? unix(request.createdFrom) : '0',
      created_before: request.createdBefore !== undefined ? unix(request.createdBefore) : '0',
      limit: request.limit ?? 0,
      cursor: String(request.cursor ?? 0n),
      reverse: request.reverse ?? false,
    });
    return { invoices: (m['invoices'] as Message[]).map(invoiceOf), nextCursor: optionalBig(m['next_cursor']) };
  }

  /** Durable and idempotent; FAILED_PRECONDITION once its settle is committed. */
  async cancelInvoice(paymentHash: Uint8Array): Promise<void> {
    await this.#unary('CancelInvoice', { payment_hash: Buffer.from(paymentHash) });
  }

  async listAcceptedSets(): Promise<AcceptedSet[]> {
    const m = await this.#unary('ListAcceptedSets', {});
    return (m['sets'] as Message[]).map((s) => ({
      setId: bytes(s['set_id']),
      paymentHash: bytes(s['payment_hash']),
      amountMsat: big(s['amount_msat']),
      parts: (s['parts'] as Message[]).map((p) => ({ circuitKey: String(p['circuit_key']), amountMsat: big(p['amount_msat']) })),
      needsPreimage: Boolean(s['needs_preimage']),
      paymentMetadata: optionalBytes(s['payment_metadata']),
    }));
  }

  /** Resolves once the decision is committed; `preimage` for a hold invoice's set. Idempotent. */
  async settleSet(setId: Uint8Array, preimage?: Uint8Array): Promise<void> {
    await this.#unary('SettleSet', { set_id: Buffer.from(setId), preimage: Buffer.from(preimage ?? []) });
  }

  async cancelSet(setId: Uint8Array): Promise<void> {
    await this.#unary('CancelSet', { set_id: Buffer.from(setId) });
  }

  /**
   * Every invoice change after `fromIndex` (0n: from the first), then each new one, until cancel() or
   * close(). Store each event's index once handled and subscribe again from it after an error: at least
   * once, nothing missed.
   */
  subscribeInvoices(fromIndex: bigint = 0n): InvoiceSubscription {
    const stream = this.#client['SubscribeInvoices']!({ from_index: String(fromIndex) }, this.#metadata()) as grpc.ClientReadableStream<Message>;
    // Errors reach the iterator; without a listener, a stream cancelled (or failed) before it is
    // iterated would throw its 'error' event at the process.
    stream.on('error', () => undefined);
    let cancelled = false;
    return {
      cancel: () => {
        cancelled = true;
        stream.cancel();
      },
      async *[Symbol.asyncIterator]() {
        try {
          for await (const message of stream) yield eventOf(message as Message);
        } catch (error) {
          if (cancelled && (error as { code?: unknown }).code === grpc.status.CANCELLED) return;
          throw clientError(error);
        } finally {
          if (!cancelled) stream.cancel();
        }
      },
    };
  }

  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void {
    this.#client.close();
  }
}
