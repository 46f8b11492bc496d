/**
 * LND's own gRPC services, loaded from the .proto files vendored in `proto/lnrpc` (LND v0.21.2-beta,
 * see proto/README.md). The simulator serves exactly these definitions, so any LND client works
 * against it unchanged.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Folder holding LND's `lnrpc/` protos: the include root (resolves from src/sim and dist/sim alike). */
export const LND_PROTO_DIR = fileURLToPath(new URL('../../proto/lnrpc', import.meta.url));

/** The proto files the simulator serves, relative to {@link LND_PROTO_DIR}. */
const PROTO_FILES = [
  'lightning.proto',
  'routerrpc/router.proto',
  'chainrpc/chainnotifier.proto',
  'verrpc/verrpc.proto',
] as const;

/**
 * How messages are mapped to JS objects: field names as in the .proto (snake_case, as LND's JSON),
 * uint64 as decimal strings (converted to bigint at the edge, never to number), enums by name, bytes as
 * Buffer, absent fields filled with their defaults, and the name of the set oneof field exposed.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [LND_PROTO_DIR],
};

/** The four LND services the simulator implements. */
export interface LndServices {
  readonly lightning: grpc.ServiceDefinition;
  readonly router: grpc.ServiceDefinition;
  readonly chainNotifier: grpc.ServiceDefinition;
  readonly versioner: grpc.ServiceDefinition;
}

let cached: LndServices | undefined;

/** Loads (once) and returns LND's service definitions. Throws if the vendored protos are missing. */
export function lndServices(): LndServices {
  if (cached !== undefined) return cached;
  const definition = protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(definition) as unknown as Record<string, Record<string, { service: grpc.ServiceDefinition }>>;
  const service = (pkg: string, name: string): grpc.ServiceDefinition => {
    const found = root[pkg]?.[name]?.service;
    if (found === undefined) throw new Error(`LND proto service ${pkg}.${name} not found under ${LND_PROTO_DIR}`);
    return found;
  };
  cached = {
    lightning: service('lnrpc', 'Lightning'),
    router: service('routerrpc', 'Router'),
    chainNotifier: service('chainrpc', 'ChainNotifier'),
    versioner: service('verrpc', 'Versioner'),
  };
  return cached;
}

/**
 * Client constructors for the same services (used by the simulator's tests and tools; lnmux's own
 * gateway lives in src/lnd/).
 */
export interface LndClientConstructors {
  readonly Lightning: grpc.ServiceClientConstructor;
  readonly Router: grpc.ServiceClientConstructor;
  readonly ChainNotifier: grpc.ServiceClientConstructor;
  readonly Versioner: grpc.ServiceClientConstructor;
}

let cachedClients: LndClientConstructors | undefined;

export function lndClientConstructors(): LndClientConstructors {
  if (cachedClients !== undefined) return cachedClients;
  const definition = protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(definition) as unknown as Record<string, Record<string, grpc.ServiceClientConstructor>>;
  const ctor = (pkg: string, name: string): grpc.ServiceClientConstructor => {
    const found = root[pkg]?.[name];
    if (found === undefined) throw new Error(`LND proto service ${pkg}.${name} not found`);
    return found;
  };
  cachedClients = {
    Lightning: ctor('lnrpc', 'Lightning'),
    Router: ctor('routerrpc', 'Router'),
    ChainNotifier: ctor('chainrpc', 'ChainNotifier'),
    Versioner: ctor('verrpc', 'Versioner'),
  };
  return cachedClients;
}
