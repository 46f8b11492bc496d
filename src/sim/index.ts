/**
 * The LND-compatible simulator: a cluster of simulated LND nodes serving LND's own gRPC API (TLS,
 * macaroons, HtlcInterceptor with --requireinterceptor semantics, SubscribeHtlcEvents, block
 * epochs), a payer that pays BOLT 11 invoices with real onions, and recipients for regular traffic.
 * See docs/simulator.md.
 */
export { startCluster, SimCluster, type ClusterOptions, type ClusterNodeInfo } from './cluster.js';
export { runSimulator, describeCluster, simPay, type SimPayRequest, type SimPayOutcome, type SimCommandOptions, type RunningSimulator, type SimClusterDescription, type SimNodeDescription } from './sim-command.js';
export { SimNode, DEFAULT_POLICY, DEFAULT_LND_VERSION, type SimNodeOptions, type SimNodeInfo, type NodeChannel, type ResolvedHtlc } from './node.js';
export { SimPayer, type PaymentResult, type Attempt, type AttemptOutcome, type PayOptions } from './payer.js';
export { SimRecipient } from './recipient.js';
export { SimChain, chainHashOf, type BlockEpoch, type SimNetwork } from './chain.js';
export { nodeKeyPair, keyPairOf, type KeyPair } from './keys.js';
export { lndServices, PROTO_LOADER_OPTIONS, PROTO_ROOT, type LndServices } from '../lnd/index.js';
export type { HtlcOffer, HtlcResolution, HtlcReceiver, AddHtlcResult, AddRefusal } from './htlc.js';
