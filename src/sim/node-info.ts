/**
 * What a simulated node says about itself: verrpc's Version and lnrpc's GetInfoResponse, shaped as
 * LND v0.21.2-beta fills them (rpcserver.go GetInfo, lnrpc/verrpc/server.go GetVersion).
 */
import { parseLndVersion } from '../lnd/index.js';
import { bytesToHex } from '../protocol/index.js';
import type { BlockEpoch, SimNetwork } from './chain.js';

/** The LND release the simulator imitates by default. */
export const DEFAULT_LND_VERSION = '0.21.2-beta';
/** The commit of the v0.21.2-beta tag. */
const COMMIT_HASH = '29257ecc8892af0c882fa627b66a556190c84fd9';

/** verrpc.Version for `version` (throws RangeError if it is not "major.minor.patch[-pre]"). */
export function versionMessage(version: string): Record<string, unknown> {
  const v = parseLndVersion(version);
  if (v === undefined) throw new RangeError(`lndVersion: expected "major.minor.patch[-pre]", got ${JSON.stringify(version)}`);
  return {
    commit: `v${version}`,
    commit_hash: COMMIT_HASH,
    version,
    app_major: v.major,
    app_minor: v.minor,
    app_patch: v.patch,
    app_pre_release: v.preRelease,
    build_tags: ['autopilotrpc', 'signrpc', 'walletrpc', 'chainrpc', 'invoicesrpc', 'watchtowerrpc', 'neutrinorpc', 'monitoring', 'peersrpc', 'kvdb_postgres', 'kvdb_etcd', 'kvdb_sqlite'],
    go_version: 'go1.25.10',
  };
}

/** The feature bits LND 0.21 advertises (a representative subset), as GetInfo's `features` map. */
const FEATURES: Readonly<Record<number, { name: string; is_required: boolean; is_known: boolean }>> = {
  0: { name: 'data-loss-protect', is_required: true, is_known: true },
  5: { name: 'upfront-shutdown-script', is_required: false, is_known: true },
  7: { name: 'gossip-queries', is_required: false, is_known: true },
  8: { name: 'tlv-onion', is_required: true, is_known: true },
  12: { name: 'static-remote-key', is_required: true, is_known: true },
  14: { name: 'payment-addr', is_required: true, is_known: true },
  17: { name: 'multi-path-payments', is_required: false, is_known: true },
  23: { name: 'anchors-zero-fee-htlc-tx', is_required: false, is_known: true },
  25: { name: 'route-blinding', is_required: false, is_known: true },
  27: { name: 'shutdown-any-segwit', is_required: false, is_known: true },
  31: { name: 'amp', is_required: false, is_known: true },
  45: { name: 'explicit-commitment-type', is_required: false, is_known: true },
  47: { name: 'scid-alias', is_required: false, is_known: true },
  51: { name: 'zero-conf', is_required: false, is_known: true },
};

export interface NodeFacts {
  readonly lndVersion: string;
  readonly publicKey: Uint8Array;
  readonly alias: string;
  readonly network: SimNetwork;
  readonly tip: BlockEpoch;
  /** Unix seconds. */
  readonly nowSeconds: number;
  readonly channels: readonly { readonly peerPublicKey: Uint8Array; readonly active: boolean }[];
  readonly requireInterceptor: boolean;
  readonly storeFinalHtlcResolutions: boolean;
}

/** lnrpc.GetInfoResponse for a node. */
export function getInfoMessage(facts: NodeFacts): Record<string, unknown> {
  const active = facts.channels.filter((c) => c.active).length;
  return {
    version: `${facts.lndVersion} commit=v${facts.lndVersion}`,
    commit_hash: COMMIT_HASH,
    identity_pubkey: bytesToHex(facts.publicKey),
    alias: facts.alias,
    color: '#3399ff',
    num_pending_channels: 0,
    num_active_channels: active,
    num_inactive_channels: facts.channels.length - active,
    num_peers: new Set(facts.channels.map((c) => bytesToHex(c.peerPublicKey))).size,
    block_height: facts.tip.height,
    // Displayed byte order, as chainhash.Hash.String() prints it.
    block_hash: Buffer.from(facts.tip.hash).reverse().toString('hex'),
    best_header_timestamp: facts.nowSeconds.toString(),
    synced_to_chain: true,
    synced_to_graph: true,
    testnet: facts.network === 'testnet' || facts.network === 'testnet4',
    chains: [{ chain: 'bitcoin', network: facts.network }],
    uris: [],
    features: FEATURES,
    require_htlc_interceptor: facts.requireInterceptor,
    store_final_htlc_resolutions: facts.storeFinalHtlcResolutions,
    wallet_synced: true,
    graph_cache_status: 'GRAPH_CACHE_STATUS_LOADED',
  };
}
