/**
 * The API's whole access policy, in one place (as LND's `MainRPCServerPermissions`): the permission each
 * RPC needs, the few served without a macaroon, and the permissions of the three macaroons `lnmux run` writes. src/api/auth.ts checks every
 * call against METHOD_PERMISSIONS before any handler runs; a method missing from it is refused, and the
 * server refuses to start serving one (docs/api.md has the table for people).
 */
import type { MacaroonOp } from '../credentials/index.js';

/** A permission, LND-style: an entity and one action on it. */
export interface Permission {
  readonly entity: 'info' | 'invoices' | 'sets';
  readonly action: 'read' | 'write';
}

/**
 * By full gRPC method path. Entities: `info` (the node and cluster), `invoices` (create, look up, list,
 * follow), `sets` (settle or cancel a held set in hold mode: releasing or refusing a payment).
 */
export const METHOD_PERMISSIONS: Readonly<Record<string, Permission>> = Object.freeze({
  '/lnmux.Service/GetInfo': { entity: 'info', action: 'read' },
  '/lnmux.Service/AddInvoice': { entity: 'invoices', action: 'write' },
  '/lnmux.Service/SubscribeInvoiceAccepted': { entity: 'invoices', action: 'read' },
  '/lnmux.Service/WaitForInvoiceFinalStatus': { entity: 'invoices', action: 'read' },
  '/lnmux.Service/ListInvoices': { entity: 'invoices', action: 'read' },
  '/lnmux.Service/SettleInvoice': { entity: 'sets', action: 'write' },
  '/lnmux.Service/CancelInvoice': { entity: 'sets', action: 'write' },
  // Our own service (proto/lnmux/v1/lnmux.proto). CancelInvoice is an invoice's seller's call (it
  // takes no money, it refuses it), as LND's invoicesrpc.CancelInvoice; SettleSet and CancelSet decide
  // a held payment.
  '/lnmux.v1.Lnmux/GetInfo': { entity: 'info', action: 'read' },
  '/lnmux.v1.Lnmux/AddInvoice': { entity: 'invoices', action: 'write' },
  '/lnmux.v1.Lnmux/LookupInvoice': { entity: 'invoices', action: 'read' },
  '/lnmux.v1.Lnmux/ListInvoices': { entity: 'invoices', action: 'read' },
  '/lnmux.v1.Lnmux/CancelInvoice': { entity: 'invoices', action: 'write' },
  '/lnmux.v1.Lnmux/SubscribeInvoices': { entity: 'invoices', action: 'read' },
  '/lnmux.v1.Lnmux/ListAcceptedSets': { entity: 'sets', action: 'read' },
  '/lnmux.v1.Lnmux/SettleSet': { entity: 'sets', action: 'write' },
  '/lnmux.v1.Lnmux/CancelSet': { entity: 'sets', action: 'write' },
});

/**
 * Methods served without a macaroon (still over TLS): gRPC health checking, which load balancers and
 * orchestrators call without credentials, and server reflection, which tells only what the published
 * .proto files tell.
 */
export const PUBLIC_METHODS: ReadonlySet<string> = new Set([
  '/grpc.health.v1.Health/Check',
  '/grpc.health.v1.Health/Watch',
  '/grpc.health.v1.Health/List',
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
]);

/** The macaroons written at first start, by file name stem (`admin` → admin.macaroon). */
export const MACAROON_KINDS = ['admin', 'invoice', 'readonly'] as const;
export type MacaroonKind = (typeof MACAROON_KINDS)[number];

/**
 * What each macaroon grants. admin: everything. invoice: what a shop's backend needs to sell (create,
 * look up, list, follow invoices, GetInfo), not releasing or refusing payments. readonly: reads only.
 */
export const MACAROON_PERMISSIONS: Readonly<Record<MacaroonKind, readonly MacaroonOp[]>> = Object.freeze({
  admin: [
    { entity: 'info', actions: ['read'] },
    { entity: 'invoices', actions: ['read', 'write'] },
    { entity: 'sets', actions: ['read', 'write'] },
  ],
  invoice: [
    { entity: 'info', actions: ['read'] },
    { entity: 'invoices', actions: ['read', 'write'] },
  ],
  readonly: [
    { entity: 'info', actions: ['read'] },
    { entity: 'invoices', actions: ['read'] },
    { entity: 'sets', actions: ['read'] },
  ],
});
