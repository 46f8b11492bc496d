/**
 * The nodes' check at start (`lnmux run`): every configured node is connected and checked once, side
 * by side, before the Mux starts. A misconfigured node (lnd/node-fault.ts) refuses the start, naming
 * the node and the check it failed, so that systemd or Kubernetes sees a failed start with the reason;
 * an unreachable one is reported and the start goes on (its gateway keeps retrying it).
 */
import type { Logger } from 'pino';
import { checkNodeOnce } from '../lnd/index.js';
import { gatewayConfigOf } from './config-map.js';
import type { MuxConfig } from './config.js';
import { describeRetryCause } from './node-events-log.js';

/** One or more nodes are misconfigured for good; the message names each (config index, pubkey) and why. */
export class NodeMisconfiguredError extends Error {
  override readonly name = 'NodeMisconfiguredError';
  constructor(readonly nodes: readonly { readonly index: number; readonly pubkey: string; readonly reason: string }[]) {
    super(
      `refusing to start: ${nodes.map((n) => `nodes[${n.index}] (${n.pubkey}) is misconfigured: ${n.reason}`).join('; ')}`,
    );
  }
}

/**
 * Checks every node once. Resolves when none is misconfigured (unreachable ones logged as warnings);
 * throws NodeMisconfiguredError otherwise. `signal` cancels the checks (then resolves).
 */
export async function checkNodesAtStart(config: MuxConfig, log: Logger, signal?: AbortSignal): Promise<void> {
  const checks = await Promise.all(config.nodes.map((_, i) => checkNodeOnce(gatewayConfigOf(config, i), signal)));
  if (signal?.aborted) return;
  const misconfigured: { index: number; pubkey: string; reason: string }[] = [];
  checks.forEach((check, index) => {
    const pubkey = config.nodes[index]!.pubkey.toLowerCase();
    if (check.kind === 'passed') {
      if (check.permissions === 'notChecked') {
        log.warn(
          { node: pubkey },
          'Could not check the macaroon\'s permissions (CheckMacaroonPermissions needs macaroon:read): a missing one shows when its stream opens',
        );
      }
      return;
    }
    const reason = describeRetryCause(check.cause);
    if (check.fault === 'misconfigured') misconfigured.push({ index, pubkey, reason });
    else log.warn({ node: pubkey, cause: reason }, 'Node unreachable at start; starting anyway and retrying it');
  });
  if (misconfigured.length > 0) throw new NodeMisconfiguredError(misconfigured);
}
