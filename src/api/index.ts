/**
 * api/: the daemon's gRPC API for backends in any language (docs/api.md). Today lnmuxd's `lnmux.Service`,
 * served by `lnmux run` when the configuration has an `api` section.
 */
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { LnmuxdService, LIST_INVOICES_MAX, type ApiMux, type LnmuxdInfo, type LnmuxdServiceOptions } from './lnmuxd-service.js';
export { lnmuxdService, LNMUXD_PROTO_FILE, LNMUXD_PROTO_ROOT } from './protos.js';
export { ApiError } from './status.js';
