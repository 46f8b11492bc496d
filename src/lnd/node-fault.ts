/**
 * Whether waiting can cure a node's failure: the one place that says so. `lnmux run` refuses to start
 * on a misconfigured node (so that systemd or Kubernetes sees it, with the reason) and starts anyway
 * while a node is merely unreachable; a running gateway retries both and its logs say which it is.
 */
import { runChecks } from './checks.js';
import { openLndConnection, type LndConnection } from './connection.js';
import type { NodeInfo, NodeVersion } from './convert.js';
import { DEFAULT_RPC_TIMEOUT_MS, type NodeGatewayConfig, type NodeRetryCause } from './node-gateway.js';

/**
 * 'misconfigured': the node answered and is not what the config says (any check refusal: another pubkey,
 * another network, a macaroon it refuses or that lacks a permission, an LND too old or without a flag
 * lnmux needs), or the config's certificate or macaroon file cannot be read. Waiting does not help: an
 * operator must act. 'unreachable': nothing is known (no answer, TLS failure, timeout, LND starting or
 * its wallet locked): it may come up by itself.
 */
export type NodeFault = 'misconfigured' | 'unreachable';

/** The fault a retry cause shows. */
export function faultOf(cause: NodeRetryCause): NodeFault {
  switch (cause.kind) {
    case 'refused':
    case 'configUnreadable':
      return 'misconfigured';
    case 'rpcFailed':
      return 'unreachable';
    default: {
      const never: never = cause;
      return never;
    }
  }
}

/** What one check of a node found. */
export type NodeCheck =
  | { readonly kind: 'passed'; readonly info: NodeInfo; readonly version: NodeVersion; readonly permissions: 'granted' | 'notChecked' }
  | { readonly kind: 'failed'; readonly fault: NodeFault; readonly cause: NodeRetryCause };

/**
 * Connects to the node, runs the checks once (each call within `config.rpcTimeoutMs`, default 10 s) and
 * disconnects: the gateway's own first attempt, without the streams. Never throws.
 */
export async function checkNodeOnce(config: NodeGatewayConfig, signal?: AbortSignal): Promise<NodeCheck> {
  let connection: LndConnection;
  try {
    connection = openLndConnection(config);
  } catch (error) {
    return failed({ kind: 'configUnreadable', details: (error as Error).message });
  }
  try {
    const outcome = await runChecks(connection, config, config.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS, signal);
    if (outcome.kind === 'refused') return failed({ kind: 'refused', reasons: outcome.reasons });
    if (outcome.kind === 'rpcFailed') return failed(outcome);
    return outcome;
  } finally {
    connection.close();
  }
}

function failed(cause: NodeRetryCause): NodeCheck {
  return { kind: 'failed', fault: faultOf(cause), cause };
}
