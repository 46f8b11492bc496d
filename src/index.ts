/**
 * lnmux: fail-over for incoming Lightning payments. The library's public surface.
 *
 * `Mux` is the multiplexer (see docs/library.md). The protocol core is exported as `protocol` for
 * applications that decode invoices, build onions or test against lnmux.
 */
export { Mux, type HeldSetStatus, type MuxEvents, type MuxOptions, type MuxStatus, type NodeStatus } from './mux/mux.js';
export { readinessOf } from './mux/status.js';
export type { MuxMetrics } from './mux/metrics.js';
export { ConfigError, loadConfigFile, parseConfig, type MuxConfig, type MuxConfigInput } from './mux/config.js';
export { PreimageError, UnknownSetError } from './mux/engine.js';
export { InvoiceRequestError, type CreatedInvoice, type InvoiceRequest } from './mux/invoice-factory.js';
export {
  IdentityKeyMismatchError,
  SchemaVersionError,
  StoreError,
  StoreUnavailableError,
  migrateDown,
  migrateInit,
  migrateUp,
  migrateVersion,
  requireNodeIdentity,
  type CancelOutcome,
  type Invoice,
  type InvoiceEvent,
  type InvoiceEventKind,
  type InvoicePage,
  type InvoiceState,
  type ListInvoicesQuery,
  type MigrateOptions,
  type NodeIdentity,
  type NodeIdentityOutcome,
} from './store/index.js';
export * as protocol from './protocol/index.js';
