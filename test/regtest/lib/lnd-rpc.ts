/**
 * A thin gRPC client for the harness, over LND's vendored protos (proto/lnrpc): TLS with the node's
 * certificate, the macaroon as `macaroon` metadata (hex). Messages are plain objects as
 * @grpc/proto-loader gives them: field names as in the .proto, uint64 as decimal strings, bytes as
 * Buffers, enums as their names. This is the harness's tool, not lnmux's LND client (src/lnd/).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const protoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto', 'lnrpc');

const packageDefinition = protoLoader.loadSync(
  ['lightning.proto', 'routerrpc/router.proto', 'invoicesrpc/invoices.proto', 'chainrpc/chainnotifier.proto'],
  { includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true },
);
const loaded = grpc.loadPackageDefinition(packageDefinition);

/** The gRPC services the harness uses, by short name. */
export type ServiceName = 'lightning' | 'router' | 'invoices' | 'chain';

const serviceConstructors: Record<ServiceName, grpc.ServiceClientConstructor> = {
  lightning: lookup('lnrpc', 'Lightning'),
  router: lookup('routerrpc', 'Router'),
  invoices: lookup('invoicesrpc', 'Invoices'),
  chain: lookup('chainrpc', 'ChainNotifier'),
};

function lookup(pkg: string, service: string): grpc.ServiceClientConstructor {
  const namespace = loaded[pkg] as grpc.GrpcObject | undefined;
  const ctor = namespace?.[service];
  if (typeof ctor !== 'function') throw new Error(`proto: service ${pkg}.${service} not found under ${protoRoot}`);
  return ctor as grpc.ServiceClientConstructor;
}

/** Where and how to reach one LND node. */
export interface LndEndpoint {
  /** host:port of the gRPC listener (--rpclisten). */
  readonly address: string;
  readonly tlsCertPath: string;
  readonly macaroonPath: string;
}

/** Options for special clients used by the checks (a wrong or missing macaroon, no TLS name override). */
export interface LndRpcOptions {
  /** Hex macaroon to send instead of the file's; `null` sends none. */
  readonly macaroonHex?: string | null;
  /** TLS name to check the certificate against (default 'localhost'); `null` checks the address's host. */
  readonly tlsName?: string | null;
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;
type ServerStreamMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;
type DuplexMethod = (metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, unknown>;

/** One connection to one LND node, with a client per service. */
export class LndRpc {
  private readonly clients: Record<ServiceName, grpc.Client>;

  constructor(readonly endpoint: LndEndpoint, options: LndRpcOptions = {}) {
    const cert = readFileSync(endpoint.tlsCertPath);
    const macaroonHex = options.macaroonHex === undefined
      ? readFileSync(endpoint.macaroonPath).toString('hex')
      : options.macaroonHex;
    const ssl = grpc.credentials.createSsl(cert);
    const credentials = macaroonHex === null
      ? ssl
      : grpc.credentials.combineChannelCredentials(
        ssl,
        grpc.credentials.createFromMetadataGenerator((_params, callback) => {
          const metadata = new grpc.Metadata();
          metadata.add('macaroon', macaroonHex);
          callback(null, metadata);
        }),
      );
    const tlsName = options.tlsName === undefined ? 'localhost' : options.tlsName;
    const channelOptions: grpc.ChannelOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
    if (tlsName !== null) channelOptions['grpc.ssl_target_name_override'] = tlsName;
    const make = (name: ServiceName): grpc.Client => new serviceConstructors[name](endpoint.address, credentials, channelOptions);
    this.clients = { lightning: make('lightning'), router: make('router'), invoices: make('invoices'), chain: make('chain') };
  }

  /** A unary call; rejects with the grpc.ServiceError LND returned. `timeoutMs` defaults to 30 s. */
  call<T>(service: ServiceName, method: string, request: object = {}, timeoutMs = 30_000): Promise<T> {
    const fn = this.method<UnaryMethod>(service, method);
    return new Promise<T>((resolve, reject) => {
      fn(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(error);
        else resolve(response as T);
      });
    });
  }

  /** A server-streaming call (SubscribeHtlcEvents, SendPaymentV2, ...). */
  serverStream(service: ServiceName, method: string, request: object = {}): grpc.ClientReadableStream<unknown> {
    return this.method<ServerStreamMethod>(service, method)(request, new grpc.Metadata(), {});
  }

  /** A bidirectional stream (HtlcInterceptor). */
  duplex(service: ServiceName, method: string): grpc.ClientDuplexStream<unknown, unknown> {
    return this.method<DuplexMethod>(service, method)(new grpc.Metadata(), {});
  }

  /** Closes every channel. */
  close(): void {
    for (const client of Object.values(this.clients)) client.close();
  }

  private method<F>(service: ServiceName, method: string): F {
    const client = this.clients[service] as unknown as Record<string, unknown>;
    const fn = client[method];
    if (typeof fn !== 'function') throw new Error(`${service}.${method}: no such gRPC method in the vendored protos`);
    return (fn as (...args: unknown[]) => unknown).bind(client) as F;
  }
}

/** The status code name of a gRPC error (e.g. 'UNKNOWN'), or undefined for any other value. */
export function grpcCodeName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'number' ? grpc.status[code] : undefined;
}

/** `{code, details}` of a gRPC error, for the observations log. */
export function describeGrpcError(error: unknown): { code: string; details: string } {
  const details = typeof error === 'object' && error !== null && 'details' in error
    ? String((error as { details: unknown }).details)
    : error instanceof Error ? error.message : String(error);
  return { code: grpcCodeName(error) ?? 'not a gRPC error', details };
}
