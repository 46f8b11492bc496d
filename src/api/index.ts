/**
 * api/: the daemon's gRPC API for backends in any language (docs/api.md): lnmuxd's `lnmux.Service` and our
 * own `lnmux.v1.Lnmux`, with health checking and reflection, served by `lnmux run` when the configuration
 * has an `api` section, over TLS with macaroons.
 */
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { authorize, macaroonInterceptor, type AuthRefusal } from './auth.js';
export { prepareApiCredentials, ROOT_KEY_FILE, TLS_CERT_FILE, TLS_KEY_FILE, type ApiCredentials } from './credentials.js';
export { MACAROON_KINDS, MACAROON_PERMISSIONS, METHOD_PERMISSIONS, PUBLIC_METHODS, type MacaroonKind, type Permission } from './permissions.js';
export { V1Service, type V1Info, type V1Mux, type V1ServiceOptions } from './v1-service.js';
export { LnmuxdService, LIST_INVOICES_MAX, type ApiMux, type LnmuxdInfo, type LnmuxdServiceOptions } from './lnmuxd-service.js';
export { apiPackageDefinition, lnmuxdService, lnmuxV1Service, LNMUX_V1_PROTO_FILE, LNMUXD_PROTO_FILE, LNMUXD_PROTO_ROOT } from './protos.js';
export { ApiError } from './status.js';
