/**
 * LND's own .proto files (vendored in `proto/lnrpc`, LND v0.21.2-beta, see proto/README.md), loaded
 * once with @grpc/proto-loader. The options fix the JavaScript shape of every message that the
 * decoders in `convert.ts` rely on:
 * - `keepCase`: field names as in the .proto (`incoming_circuit_key`),
 * - `longs: String`: every (u)int64 as a decimal string, turned into a bigint by `convert.ts`,
 * - `bytes: Buffer`, `enums: String` (`'SETTLE'`), `defaults` (absent scalars read as their zero),
 * - `oneofs`: a virtual field naming the member of a oneof that is set (`event: 'final_htlc_event'`).
 *
 * Nothing outside `src/lnd/` (and the simulator, which serves the same services from this loader)
 * sees these shapes.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The proto-loader options the raw message types in `convert.ts` are written for. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  bytes: Buffer,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** Folder holding `lightning.proto` and the sub-server folders; the include root of LND's imports. */
export const PROTO_ROOT: string = fileURLToPath(new URL('../../proto/lnrpc', import.meta.url));

/** The files lnmux loads, relative to {@link PROTO_ROOT}. */
export const PROTO_FILES: readonly string[] = Object.freeze([
  'lightning.proto',
  'routerrpc/router.proto',
  'chainrpc/chainnotifier.proto',
  'verrpc/verrpc.proto',
]);

/**
 * The four LND services lnmux talks to, as grpc-js client constructors. Each constructor's `service`
 * is the service's definition, which the simulator (src/sim) serves: one loader for client and server.
 */
export interface LndServices {
  readonly packageDefinition: protoLoader.PackageDefinition;
  readonly Lightning: grpc.ServiceClientConstructor;
  readonly Router: grpc.ServiceClientConstructor;
  readonly ChainNotifier: grpc.ServiceClientConstructor;
  readonly Versioner: grpc.ServiceClientConstructor;
}

let cached: LndServices | undefined;

/**
 * Loads (once per process, synchronously: about 100 ms) and returns LND's services.
 * Throws if the vendored .proto files are missing or do not parse: a broken install, not an input.
 */
export function lndServices(): LndServices {
  if (cached) return cached;
  const packageDefinition = protoLoader.loadSync([...PROTO_FILES], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [PROTO_ROOT],
  });
  const root = grpc.loadPackageDefinition(packageDefinition);
  const service = (pkg: string, name: string): grpc.ServiceClientConstructor => {
    const ns = root[pkg] as grpc.GrpcObject | undefined;
    const ctor = ns?.[name] as grpc.ServiceClientConstructor | undefined;
    if (typeof ctor !== 'function') throw new Error(`LND service ${pkg}.${name} missing from ${PROTO_ROOT}`);
    return ctor;
  };
  cached = Object.freeze({
    packageDefinition,
    Lightning: service('lnrpc', 'Lightning'),
    Router: service('routerrpc', 'Router'),
    ChainNotifier: service('chainrpc', 'ChainNotifier'),
    Versioner: service('verrpc', 'Versioner'),
  });
  return cached;
}
