/**
 * What the logs say about the cluster's nodes: connection states, refusals, stream losses. Only
 * logging: what the events do to the engine is in cluster.ts.
 */
import type { Logger } from 'pino';
import { describeRefusal, describeRpcFailure, faultOf, type GatewayEvent, type NodeRetryCause } from '../lnd/index.js';

type StateEvent = Extract<GatewayEvent, { kind: 'state' }>;
type StreamEvent = Extract<GatewayEvent, { kind: 'stream' }>;

/** Why a node is retried, in one line. */
export function describeRetryCause(cause: NodeRetryCause): string {
  switch (cause.kind) {
    case 'refused':
      return cause.reasons.map(describeRefusal).join('; ');
    case 'rpcFailed':
      return `${cause.method}: ${describeRpcFailure(cause.failure)}`;
    case 'configUnreadable':
      return cause.details;
  }
}

/** The detail the application's `node` event carries for a state: the refusal or the retry cause. */
export function nodeStateDetail(state: StateEvent['state']): string | undefined {
  if (state.kind === 'refused') return state.reasons.map(describeRefusal).join('; ');
  if (state.kind === 'backoff') return describeRetryCause(state.cause);
  return undefined;
}

/** Logs a node's new connection state; `intercepting`: this instance holds the node's interceptor. */
export function logNodeState(log: Logger, event: StateEvent, intercepting: boolean): void {
  const s = event.state;
  if (s.kind === 'refused' && s.reasons.some((r) => r.kind === 'interceptorNotRequired')) {
    // Started without --requireinterceptor: while no interceptor is registered it forwards (and so
    // fails) HTLCs for the virtual node on its own, and it failed the parts it held at its restart.
    log.error(
      { node: event.node },
      'Node runs without --requireinterceptor: it resolves HTLCs for the virtual node without lnmux; its held parts are dropped from their sets. Restart it with --requireinterceptor',
    );
  }
  if (s.kind === 'ready') {
    log.info({ node: event.node, version: s.version.version }, 'Successfully connected to LND');
    if (intercepting) log.info({ node: event.node }, 'Starting htlc interception');
  } else if (s.kind === 'refused') {
    log.error({ node: event.node, reasons: s.reasons.map(describeRefusal) }, 'Node refused');
  } else if (s.kind === 'backoff') {
    const fields = { node: event.node, retryInMs: Math.round(s.attemptMs), cause: describeRetryCause(s.cause) };
    // A misconfigured node (lnd/node-fault.ts) needs an operator; an unreachable one may come back by itself.
    if (faultOf(s.cause) === 'misconfigured') log.error(fields, 'Node misconfigured; retrying');
    else log.warn(fields, 'Node unavailable; retrying');
  }
}

/** Logs a stream that LND accepted (not the call's start: see StreamState) or that was lost. */
export function logStreamState(log: Logger, event: StreamEvent): void {
  if (event.state.kind === 'open' && event.state.accepted) log.info({ node: event.node, stream: event.stream }, 'Stream open');
  else if (event.state.kind === 'backoff') {
    log.warn(
      {
        node: event.node,
        stream: event.stream,
        retryInMs: event.state.attemptMs,
        end: event.state.end.kind,
        ...(event.state.end.kind === 'failed' ? { cause: describeRpcFailure(event.state.end.failure) } : {}),
      },
      'Stream lost; reconnecting',
    );
  }
}
