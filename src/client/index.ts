/**
 * `lnmux/client`: a typed TypeScript client for the daemon's API, `lnmux.v1.Lnmux` (docs/api.md,
 * "TypeScript: lnmux/client").
 */
export { LnmuxClient, dialAddress, type ConfigConnectOptions, type ConnectOptions, type InvoiceSubscription, type MacaroonKind, type PathOrBytes } from './client.js';
export { LnmuxClientError, GrpcStatus } from './errors.js';
export type * from './types.js';
