/**
 * lnmux's gateway to LND: one `NodeGateway` per configured node. Typed events and commands only;
 * the protobuf shapes stay inside this folder. See docs/lnd.md.
 */
export { NodeGateway } from './node-gateway.js';
export type {
  GatewayEvent,
  GatewaySendFailure,
  NodeGatewayConfig,
  NodeRetryCause,
  NodeState,
  StreamName,
  StreamState,
} from './node-gateway.js';
export {
  NODE_ID_FORWARD_SCID,
  PREIMAGE_LENGTH,
  decodeU64MapKey,
  describeConvertError,
} from './convert.js';
export type {
  BlockEpoch,
  ConvertError,
  FinalHtlcEvent,
  HtlcResolution,
  InterceptedHtlc,
  InterceptorResponse,
  NextHop,
  NodeInfo,
  NodeVersion,
} from './convert.js';
export { checkNodeOnce, faultOf } from './node-fault.js';
export type { NodeCheck, NodeFault } from './node-fault.js';
export { DEFAULT_MINIMUM_VERSIONS, describeRefusal, evaluateChecks, versionAccepted } from './checks.js';
export type { CheckRefusal, NodeExpectations } from './checks.js';
export { DEFAULT_BACKOFF, backoffDelayMs } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export type { LndConnectionConfig } from './connection.js';
export type { SendFailure } from './interceptor-stream.js';
export type { LookupFailure } from './lookup.js';
export { describeRpcFailure } from './rpc-error.js';
export type { RpcFailure } from './rpc-error.js';
export type { CancelReason, StreamEnd } from './stream-reader.js';
export { lndServices, PROTO_LOADER_OPTIONS, PROTO_ROOT } from './protos.js';
export { parseLndVersion } from './version.js';
export type { LndVersion, Release } from './version.js';
export type { LndServices } from './protos.js';
