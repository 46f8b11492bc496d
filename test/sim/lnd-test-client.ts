/**
 * A minimal LND client for the simulator's tests, written with plain grpc-js and proto-loader over
 * LND's vendored protos, independent of the simulator's and the gateway's code: what "any LND
 * interceptor client" looks like.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_DIR = fileURLToPath(new URL('../../proto/lnrpc', import.meta.url));

const definition = protoLoader.loadSync(['lightning.proto', 'routerrpc/router.proto', 'chainrpc/chainnotifier.proto', 'verrpc/verrpc.proto'], {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const root = grpc.loadPackageDefinition(definition) as any;

/** An unbounded async queue: what a stream delivered, in order. */
export class Queue<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(item);
    else this.#items.push(item);
  }

  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Items received and not yet taken. */
  get size(): number {
    return this.#items.length;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

export interface StreamEnd {
  readonly code: grpc.status;
  readonly details: string;
}

export interface ConnectOptions {
  readonly address: string;
  readonly certPath: string;
  /** Hex macaroon; `null` sends no macaroon metadata at all. */
  readonly macaroonHex: string | null;
}

/** A connection to one simulated (or real) LND node. */
export class LndTestClient {
  readonly lightning: grpc.Client & Msg;
  readonly router: grpc.Client & Msg;
  readonly chain: grpc.Client & Msg;
  readonly versioner: grpc.Client & Msg;

  constructor(options: ConnectOptions) {
    const tls = grpc.credentials.createSsl(readFileSync(options.certPath));
    const macaroon = options.macaroonHex;
    const auth = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const metadata = new grpc.Metadata();
      if (macaroon !== null) metadata.add('macaroon', macaroon);
      callback(null, metadata);
    });
    const credentials = grpc.credentials.combineChannelCredentials(tls, auth);
    // LND's certificate names localhost; connecting by IP, name the host the certificate carries.
    const channelOptions = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
    this.lightning = new root.lnrpc.Lightning(options.address, credentials, channelOptions);
    this.router = new root.routerrpc.Router(options.address, credentials, channelOptions);
    this.chain = new root.chainrpc.ChainNotifier(options.address, credentials, channelOptions);
    this.versioner = new root.verrpc.Versioner(options.address, credentials, channelOptions);
  }

  unary(client: grpc.Client & Msg, method: string, request: Msg = {}): Promise<Msg> {
    return new Promise((resolve, reject) => {
      client[method](request, (error: grpc.ServiceError | null, response: Msg) => (error === null ? resolve(response) : reject(error)));
    });
  }

  getInfo(): Promise<Msg> {
    return this.unary(this.lightning, 'GetInfo');
  }

  /** Opens the HtlcInterceptor stream. */
  interceptor(): InterceptorStream {
    return new InterceptorStream(this.router.HtlcInterceptor());
  }

  /** Opens a server stream and collects its messages. */
  serverStream(client: grpc.Client & Msg, method: string, request: Msg = {}): ServerStream {
    return new ServerStream(client[method](request));
  }

  close(): void {
    for (const c of [this.lightning, this.router, this.chain, this.versioner]) c.close();
  }
}

/** Messages of a server stream, and how it ended. */
export class ServerStream {
  readonly messages = new Queue<Msg>();
  readonly ended: Promise<StreamEnd>;
  readonly #call: grpc.ClientReadableStream<Msg>;

  constructor(call: grpc.ClientReadableStream<Msg>) {
    this.#call = call;
    call.on('data', (m: Msg) => this.messages.push(m));
    this.ended = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details }));
      call.on('error', () => undefined);
    });
  }

  cancel(): void {
    this.#call.cancel();
  }
}

/** The HtlcInterceptor stream: requests in, responses out. */
export class InterceptorStream {
  readonly requests = new Queue<Msg>();
  readonly ended: Promise<StreamEnd>;
  readonly #call: grpc.ClientDuplexStream<Msg, Msg>;

  constructor(call: grpc.ClientDuplexStream<Msg, Msg>) {
    this.#call = call;
    call.on('data', (m: Msg) => this.requests.push(m));
    this.ended = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details }));
      call.on('error', () => undefined);
    });
  }

  send(response: Msg): void {
    this.#call.write(response);
  }

  settle(request: Msg, preimage: Uint8Array): void {
    this.send({ incoming_circuit_key: request['incoming_circuit_key'], action: 'SETTLE', preimage: Buffer.from(preimage) });
  }

  resume(request: Msg): void {
    this.send({ incoming_circuit_key: request['incoming_circuit_key'], action: 'RESUME' });
  }

  failWithMessage(request: Msg, failureMessage: Uint8Array): void {
    this.send({ incoming_circuit_key: request['incoming_circuit_key'], action: 'FAIL', failure_message: Buffer.from(failureMessage) });
  }

  failWithCode(request: Msg, failureCode: string): void {
    this.send({ incoming_circuit_key: request['incoming_circuit_key'], action: 'FAIL', failure_code: failureCode });
  }

  cancel(): void {
    this.#call.cancel();
  }
}

/** Connects to a node from its info (address, cert path, macaroon hex). */
export function connect(info: { address: string; certPath: string; macaroonHex: string }, macaroonHex: string | null = info.macaroonHex): LndTestClient {
  return new LndTestClient({ address: info.address, certPath: info.certPath, macaroonHex });
}
