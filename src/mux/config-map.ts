/**
 * What each part of lnmux gets from the configuration: the one place where the config's units
 * (seconds, numbers) become the parts' own (ms, bigint msat). Pure.
 */
import type { NodeGatewayConfig } from '../lnd/index.js';
import { virtualChannelId, type Keyring } from '../protocol/index.js';
import type { HopPolicy } from './inspect.js';
import type { RegistryConfig } from '../registry/types.js';
import type { MuxConfig } from './config.js';
import type { InvoiceContext } from './invoice-factory.js';

/** A cluster node as the Mux knows it: its pubkey and the virtual channel its route hints name. */
export interface ClusterNode {
  readonly pubkey: Uint8Array;
  readonly pubkeyHex: string;
  readonly virtualChannelId: bigint;
}

/** The configured nodes, in configuration order (the order of their route hints). */
export function clusterNodesOf(config: MuxConfig): readonly ClusterNode[] {
  return config.nodes.map((n) => {
    const pubkeyHex = n.pubkey.toLowerCase();
    const pubkey = Uint8Array.from(Buffer.from(pubkeyHex, 'hex'));
    return { pubkey, pubkeyHex, virtualChannelId: virtualChannelId(pubkey) };
  });
}

/** The registry's settings: the config's `settlement` section, in ms. */
export function registryConfigOf(config: MuxConfig): RegistryConfig {
  const s = config.settlement;
  return {
    mode: s.mode,
    mppTimeoutMs: s.mppTimeoutSeconds * 1000,
    holdTimeoutMs: s.holdTimeoutSeconds * 1000,
    expiryMarginBlocks: s.expiryMarginBlocks,
    autoFailMarginBlocks: s.autoFailMarginBlocks,
  };
}

/** The virtual hop's policy that every HTLC is checked against: the config's `routing` section. */
export function hopPolicyOf(config: MuxConfig): HopPolicy {
  return {
    feeBaseMsat: BigInt(config.routing.feeBaseMsat),
    feeProportionalMillionths: BigInt(config.routing.feeProportionalMillionths),
    cltvExpiryDelta: config.routing.cltvExpiryDelta,
  };
}

/** What invoices are made with: the virtual node's key, the cluster's hints, `routing` and `invoice`. */
export function invoiceContextOf(config: MuxConfig, keyring: Keyring, nodes: readonly ClusterNode[]): InvoiceContext {
  return {
    keyring,
    network: config.network,
    nodes,
    feeBaseMsat: config.routing.feeBaseMsat,
    feeProportionalMillionths: config.routing.feeProportionalMillionths,
    cltvExpiryDelta: config.routing.cltvExpiryDelta,
    minFinalCltvExpiryDelta: config.invoice.minFinalCltvExpiryDelta,
    defaultExpirySeconds: config.invoice.defaultExpirySeconds,
  };
}

/** Backoff overrides (tests), in ms; they win over the config's `lnd` section. */
export interface BackoffOverrides {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

/** One node's gateway settings: the node's entry and the config's `lnd` section. Not intercepting yet. */
export function gatewayConfigOf(config: MuxConfig, index: number, backoff: BackoffOverrides = {}): NodeGatewayConfig {
  const node = config.nodes[index]!;
  return {
    pubkey: node.pubkey.toLowerCase(),
    network: config.network,
    address: node.address,
    tlsCert: node.tlsCertPath,
    macaroon: node.macaroonPath,
    tlsServerName: node.tlsServerName,
    ...(config.lnd.minimumVersions !== undefined ? { minimumVersions: config.lnd.minimumVersions } : {}),
    backoff: {
      initialMs: backoff.initialMs ?? config.lnd.backoffInitialSeconds * 1000,
      maxMs: backoff.maxMs ?? config.lnd.backoffMaxSeconds * 1000,
    },
    intercept: false,
  };
}
