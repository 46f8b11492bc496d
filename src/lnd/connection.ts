/**
 * One gRPC connection to one LND node: TLS with the node's own certificate, the macaroon (hex) in
 * the `macaroon` metadata of every call, and clients for the four services lnmux uses, all sharing
 * one HTTP/2 channel that `close()` tears down.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { bytesToHex } from '../protocol/index.js';
import { lndServices } from './protos.js';

/** How to reach and authenticate to one LND node. */
export interface LndConnectionConfig {
  /** `host:port` of LND's gRPC listener (`rpclisten`, 10009 by default). */
  readonly address: string;
  /** LND's tls.cert: a file path, or the PEM bytes. Read at each (re)connect, so a renewed file is picked up. */
  readonly tlsCert: string | Uint8Array;
  /** The macaroon: a file path, or its binary bytes. Read at each (re)connect. */
  readonly macaroon: string | Uint8Array;
  /**
   * The name to check the certificate against instead of the address's host. LND's certificate names
   * `localhost` and the machine's hostname; connecting by IP address needs this (e.g. 'localhost').
   */
  readonly tlsServerName?: string;
  /** gRPC keepalive: ping after this many ms without activity. LND refuses pings closer than 5 s. */
  readonly keepaliveTimeMs?: number;
  /** gRPC keepalive: close the connection when a ping gets no answer within this many ms. */
  readonly keepaliveTimeoutMs?: number;
}

/** Default keepalive ping interval, ms: above LND's enforced minimum (5 s, `grpc.client-ping-min-wait`). */
export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
/** Default wait for a keepalive answer, ms (LND's own server side uses 20 s). */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

/** The raw grpc-js clients of one node. Their messages are the raw shapes of `convert.ts`. */
export interface LndConnection {
  readonly lightning: grpc.Client;
  readonly router: grpc.Client;
  readonly chainNotifier: grpc.Client;
  readonly versioner: grpc.Client;
  /** The macaroon's bytes, as read at this connection (CheckMacaroonPermissions takes them). */
  readonly macaroon: Uint8Array;
  /**
   * Closes the channel. grpc-js lets calls already started run on (until their transport dies), so
   * cancel every stream before closing. Idempotent.
   */
  close(): void;
}

/**
 * Opens (lazily: grpc-js connects on the first call) a connection to one node. Throws if a file
 * named by the config cannot be read (the message names the field and path) or the certificate is
 * not PEM that grpc-js accepts.
 */
export function openLndConnection(config: LndConnectionConfig): LndConnection {
  const services = lndServices();
  const cert = readSource(config.tlsCert, 'tlsCert');
  const macaroon = readSource(config.macaroon, 'macaroon');
  const macaroonHex = bytesToHex(macaroon);

  const macaroonCreds = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new grpc.Metadata();
    metadata.add('macaroon', macaroonHex);
    callback(null, metadata);
  });
  const credentials = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(Buffer.from(cert)),
    macaroonCreds,
  );

  const options: grpc.ChannelOptions = {
    // Our own transport, not one shared with another gateway to the same address: closing this
    // connection then really closes its TCP connection.
    'grpc.use_local_subchannel_pool': 1,
    // No retries, and no retry buffer: grpc-js (1.14) acknowledges a write as soon as it fits in its
    // retry buffer (1 MB per call by default), before the transport has it. With the buffer at 0 a
    // write's callback means the message went to the HTTP/2 stream, which is what `send` reports.
    'grpc.enable_retries': 0,
    'grpc.per_rpc_retry_buffer_size': 0,
    'grpc.keepalive_time_ms': config.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    // LND's default enforcement policy refuses pings without an active call; we always have streams.
    'grpc.keepalive_permit_without_calls': 0,
    // LND's own limit (lnrpc.MaxGrpcMsgSize, 200 MB); our messages are small, but GetInfo can grow.
    'grpc.max_receive_message_length': 200 * 1024 * 1024,
    ...(config.tlsServerName ? { 'grpc.ssl_target_name_override': config.tlsServerName } : {}),
  };

  const lightning = new services.Lightning(config.address, credentials, options);
  const channel = lightning.getChannel();
  const shared = { channelOverride: channel };
  const router = new services.Router(config.address, credentials, shared);
  const chainNotifier = new services.ChainNotifier(config.address, credentials, shared);
  const versioner = new services.Versioner(config.address, credentials, shared);

  let closed = false;
  return {
    lightning,
    router,
    chainNotifier,
    versioner,
    macaroon,
    close() {
      if (closed) return;
      closed = true;
      channel.close();
    },
  };
}

function readSource(source: string | Uint8Array, field: string): Uint8Array {
  if (source instanceof Uint8Array) return source;
  try {
    return readFileSync(source);
  } catch (cause) {
    throw new Error(`${field}: cannot read file ${source}: ${(cause as Error).message}`, { cause });
  }
}
