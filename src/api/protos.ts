/**
 * lnmuxd's `lnmux.Service` (proto/lnmux/lnmux.proto, vendored unchanged: proto/lnmux/README.md) and our
 * own `lnmux.v1.Lnmux` (proto/lnmux/v1/lnmux.proto), each loaded once with @grpc/proto-loader. The options fix the JavaScript shape the handlers in
 * lnmuxd-service.ts and v1-service.ts read and write:
 * - `keepCase`: field names as in the .proto (`amt_msat`, `set_id`),
 * - `longs: String`: every (u)int64 as a decimal string (read into a bigint, never a lossy number),
 * - `bytes: Buffer`, `enums: String` (`'SETTLED'`), `defaults` (an absent scalar reads as its zero,
 *   which is what proto3 puts on the wire for it anyway).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The folder holding lnmux.proto. */
export const LNMUXD_PROTO_ROOT: string = fileURLToPath(new URL('../../proto/lnmux', import.meta.url));

/** lnmuxd's .proto file, absolute. */
export const LNMUXD_PROTO_FILE: string = fileURLToPath(new URL('../../proto/lnmux/lnmux.proto', import.meta.url));

const LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  bytes: Buffer,
  enums: String,
  defaults: true,
});

let cached: grpc.ServiceClientConstructor | undefined;

/**
 * `lnmux.Service` as a grpc-js client constructor; its `service` is the definition the server serves.
 * Throws if the vendored file is missing or does not parse: a broken install, not an input.
 */
export function lnmuxdService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const definition = protoLoader.loadSync(LNMUXD_PROTO_FILE, { ...LOADER_OPTIONS, includeDirs: [LNMUXD_PROTO_ROOT] });
  const pkg = grpc.loadPackageDefinition(definition)['lnmux'] as grpc.GrpcObject | undefined;
  const ctor = pkg?.['Service'] as grpc.ServiceClientConstructor | undefined;
  if (typeof ctor !== 'function') throw new Error(`lnmux.Service missing from ${LNMUXD_PROTO_FILE}`);
  cached = ctor;
  return ctor;
}

/** Our own service's .proto file, absolute. */
export const LNMUX_V1_PROTO_FILE: string = fileURLToPath(new URL('../../proto/lnmux/v1/lnmux.proto', import.meta.url));

let cachedV1: grpc.ServiceClientConstructor | undefined;

/** `lnmux.v1.Lnmux` as a grpc-js client constructor; its `service` is the definition the server serves. */
export function lnmuxV1Service(): grpc.ServiceClientConstructor {
  if (cachedV1) return cachedV1;
  const definition = protoLoader.loadSync(LNMUX_V1_PROTO_FILE, { ...LOADER_OPTIONS, includeDirs: [LNMUXD_PROTO_ROOT] });
  const pkg = grpc.loadPackageDefinition(definition)['lnmux'] as grpc.GrpcObject | undefined;
  const ctor = (pkg?.['v1'] as grpc.GrpcObject | undefined)?.['Lnmux'] as grpc.ServiceClientConstructor | undefined;
  if (typeof ctor !== 'function') throw new Error(`lnmux.v1.Lnmux missing from ${LNMUX_V1_PROTO_FILE}`);
  cachedV1 = ctor;
  return ctor;
}

/** Both services' definitions in one package definition: what server reflection describes. */
export function apiPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([LNMUXD_PROTO_FILE, LNMUX_V1_PROTO_FILE], { ...LOADER_OPTIONS, includeDirs: [LNMUXD_PROTO_ROOT] });
}
