/**
 * The gRPC face of a simulated node: LND's services over TLS, every call checked against the node's
 * macaroon first (rpcperms' interceptor chain), with LND's messages and statuses. The node's logic
 * sits behind {@link LndBackend}; this file only translates.
 */
import * as grpc from '@grpc/grpc-js';
import { lndServices } from '../lnd/index.js';
import type { NodeCircuitKey } from '../protocol/index.js';
import type { BlockEpoch } from './chain.js';
import type { ResolutionLookup } from './final-resolutions.js';
import { parseInterceptResponse, goError, interceptRequestMessage, u64, type InterceptResponseMessage, type InterceptedHtlc, type LndStatus } from './intercept-messages.js';
import type { FwdResolution } from './interceptable-switch.js';
import { authorizeCall, verifyMacaroon, type MacaroonKey } from './macaroon.js';

/** What a node's gRPC services need from it. One backend serves one run of the node (start to stop). */
export interface LndBackend {
  readonly macaroonKey: MacaroonKey;
  /** verrpc.Version fields. */
  version(): Record<string, unknown>;
  /** lnrpc.GetInfoResponse fields. */
  getInfo(): Record<string, unknown>;
  /** Final resolution of an incoming HTLC; `unavailable` without --store-final-htlc-resolutions. */
  lookupHtlcResolution(key: NodeCircuitKey): ResolutionLookup;
  /** Takes the single interceptor slot; false if an interceptor is already connected. */
  claimInterceptor(): boolean;
  /** Registers (undefined: unregisters and frees the slot) the interceptor's send function. */
  setInterceptor(send: ((htlc: InterceptedHtlc, autoFailHeight: number) => void) | undefined): void;
  /** Applies a validated resolution; returns the error text that ends the stream, if any. */
  resolveIntercepted(key: NodeCircuitKey, resolution: FwdResolution): string | undefined;
  /** Subscribes to HtlcEvent messages (already in proto shape). Returns the unsubscribe function. */
  subscribeHtlcEvents(listener: (event: Record<string, unknown>) => void): () => void;
  /** Current tip, and the block at a height. */
  tip(): BlockEpoch;
  blockAt(height: number): BlockEpoch;
  onBlock(listener: (block: BlockEpoch) => void): () => void;
}

type Handler = grpc.UntypedHandleCall;

function macaroonOf(metadata: grpc.Metadata): (string | Buffer)[] {
  return metadata.get('macaroon');
}

function toServiceError(s: LndStatus): Partial<grpc.ServiceError> {
  return { code: s.code, details: s.details, message: s.details };
}

/**
 * What each served call requires of the macaroon, as LND v0.21.2-beta's permission tables say
 * (rpcserver.go `MainRPCServerPermissions`, routerrpc/router_server.go, chainrpc/chain_server.go,
 * verrpc/server.go). One table, checked before any handler runs, as LND's interceptor chain does.
 */
export const METHOD_PERMISSIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  '/verrpc.Versioner/GetVersion': ['info:read'],
  '/lnrpc.Lightning/GetInfo': ['info:read'],
  '/lnrpc.Lightning/LookupHtlcResolution': ['offchain:read'],
  '/lnrpc.Lightning/CheckMacaroonPermissions': ['macaroon:read'],
  '/routerrpc.Router/SubscribeHtlcEvents': ['offchain:read'],
  '/routerrpc.Router/HtlcInterceptor': ['offchain:write'],
  '/chainrpc.ChainNotifier/RegisterBlockEpochNtfn': ['onchain:read'],
});

/** The macaroon check of a call to `method`: LND's error text, or undefined when it may proceed. */
function denied(backend: LndBackend, method: string, metadata: grpc.Metadata): string | undefined {
  const granted = authorizeCall(backend.macaroonKey, macaroonOf(metadata));
  if (!granted.ok) return granted.error;
  // bakery's ErrPermissionDenied, the text LND sends for a valid macaroon without the call's permission.
  return (METHOD_PERMISSIONS[method] ?? []).every((p) => granted.value.has(p)) ? undefined : 'permission denied';
}

/** LND's CheckMacaroonPermissions (rpcserver.go): InvalidArgument when the macaroon does not pass. */
function checkMacaroonPermissions(backend: LndBackend, request: Record<string, unknown>): Record<string, unknown> | LndStatus {
  const listed = (request['permissions'] as { entity?: string; action?: string }[] | undefined) ?? [];
  const fullMethod = String(request['fullMethod'] ?? '');
  let required = listed.map((p) => `${p.entity ?? ''}:${p.action ?? ''}`);
  if (request['check_default_perms_from_full_method'] === true) {
    if (listed.length > 0) return goError('cannot check default permissions from full method and from provided permission list at the same time');
    const methodPermissions = METHOD_PERMISSIONS[fullMethod];
    if (methodPermissions === undefined) return goError(`no permissions found for full method ${fullMethod}`);
    required = [...methodPermissions];
  }
  const granted = verifyMacaroon(backend.macaroonKey, (request['macaroon'] as Uint8Array | undefined) ?? new Uint8Array(0));
  if (!granted.ok) return { code: grpc.status.INVALID_ARGUMENT, details: granted.error };
  if (!required.every((p) => granted.value.has(p))) return { code: grpc.status.INVALID_ARGUMENT, details: 'permission denied' };
  return { valid: true };
}

/** Wraps a unary handler with the macaroon check. */
function unary(backend: LndBackend, method: string, body: (request: Record<string, unknown>) => Record<string, unknown> | LndStatus): Handler {
  return (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const refusal = denied(backend, method, call.metadata);
    if (refusal !== undefined) {
      callback(toServiceError(goError(refusal)), null);
      return;
    }
    const result = body(call.request);
    if ('code' in result && 'details' in result && typeof result['code'] === 'number') callback(toServiceError(result as LndStatus), null);
    else callback(null, result);
  };
}

/** Wraps a stream handler with the macaroon check. */
function streaming<C extends grpc.ServerWritableStream<Record<string, unknown>, unknown> | grpc.ServerDuplexStream<Record<string, unknown>, unknown>>(
  backend: LndBackend,
  method: string,
  body: (call: C) => void,
): Handler {
  return ((call: C) => {
    const refusal = denied(backend, method, call.metadata);
    if (refusal !== undefined) {
      call.emit('error', toServiceError(goError(refusal)));
      return;
    }
    body(call);
  }) as Handler;
}

function epochMessage(block: BlockEpoch): Record<string, unknown> {
  return { hash: Buffer.from(block.hash), height: block.height };
}

/** Builds a grpc-js server serving LND's Versioner, Lightning, Router and ChainNotifier for `backend`. */
export function createLndServer(backend: LndBackend): grpc.Server {
  // The client constructors' `service` is the ServiceDefinition a server serves: one loader for both.
  const services = lndServices();
  // No SO_REUSEPORT: a restarted node must not share its port with the listener of its previous run.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 200 * 1024 * 1024, 'grpc.so_reuseport': 0 });

  server.addService(services.Versioner.service, {
    GetVersion: unary(backend, '/verrpc.Versioner/GetVersion', () => backend.version()),
  });

  server.addService(services.Lightning.service, {
    GetInfo: unary(backend, '/lnrpc.Lightning/GetInfo', () => backend.getInfo()),
    CheckMacaroonPermissions: unary(backend, '/lnrpc.Lightning/CheckMacaroonPermissions', (request) => checkMacaroonPermissions(backend, request)),
    LookupHtlcResolution: unary(backend, '/lnrpc.Lightning/LookupHtlcResolution', (request) => {
      const found = backend.lookupHtlcResolution({ chanId: u64(request['chan_id']), htlcId: u64(request['htlc_index']) });
      switch (found.kind) {
        case 'unavailable':
          return { code: grpc.status.UNAVAILABLE, details: 'cannot lookup with flag --store-final-htlc-resolutions=false' };
        case 'unknown':
          return { code: grpc.status.NOT_FOUND, details: 'htlc unknown' };
        case 'found':
          return { settled: found.settled, offchain: found.offchain };
      }
    }),
  });

  server.addService(services.Router.service, {
    SubscribeHtlcEvents: streaming(backend, '/routerrpc.Router/SubscribeHtlcEvents', (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      call.write({ subscribed_event: {} });
      const stop = backend.subscribeHtlcEvents((event) => {
        if (!call.cancelled && !call.writableEnded) call.write(event);
      });
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    }),

    HtlcInterceptor: streaming(backend, '/routerrpc.Router/HtlcInterceptor', (call: grpc.ServerDuplexStream<InterceptResponseMessage & Record<string, unknown>, unknown>) => {
      // routerrpc: "We ensure there is only one interceptor at a time."
      if (!backend.claimInterceptor()) {
        call.emit('error', toServiceError(goError('interceptor already exists')));
        return;
      }
      let done = false;
      const finish = (error?: LndStatus): void => {
        if (done) return;
        done = true;
        backend.setInterceptor(undefined);
        if (error !== undefined && !call.cancelled) call.emit('error', toServiceError(error));
      };
      backend.setInterceptor((htlc, autoFailHeight) => {
        if (!done && !call.cancelled && !call.writableEnded) call.write(interceptRequestMessage(htlc, autoFailHeight));
      });
      call.on('data', (message: InterceptResponseMessage) => {
        if (done) return;
        const parsed = parseInterceptResponse(message);
        if (!parsed.ok) {
          finish(parsed.error);
          return;
        }
        const error = backend.resolveIntercepted(parsed.value.key, parsed.value.resolution);
        if (error !== undefined) finish(goError(error));
      });
      // The client closed its side: LND's stream.Recv() returns io.EOF, which ends the call.
      call.on('end', () => finish(goError('EOF')));
      call.on('cancelled', () => finish());
      call.on('error', () => finish());
      call.on('close', () => finish());
      // A client that gave up before this handler ran (its 'cancelled' already emitted) would otherwise
      // hold the single interceptor slot for good; LND frees it when the stream's context is done.
      if (call.cancelled) finish();
    }),
  });

  server.addService(services.ChainNotifier.service, {
    RegisterBlockEpochNtfn: streaming(backend, '/chainrpc.ChainNotifier/RegisterBlockEpochNtfn', (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      const request = call.request;
      const hash = request['hash'] as Uint8Array | undefined;
      const height = Number(request['height'] ?? 0);
      const send = (block: BlockEpoch): void => {
        if (!call.cancelled && !call.writableEnded) call.write(epochMessage(block));
      };
      const tip = backend.tip();
      if (hash !== undefined && hash.length > 0 && height !== 0) {
        // A known best block: deliver the backlog after it, up to the tip.
        for (let h = height + 1; h <= tip.height; h++) send(backend.blockAt(h));
      } else {
        send(tip);
      }
      const stop = backend.onBlock(send);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    }),
  });

  return server;
}
