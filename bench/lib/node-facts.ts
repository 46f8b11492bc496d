/**
 * What a benchmark's lnmux (or interceptor) needs to reach a simulated node, as the node's thread or
 * process reports it: plain strings, so that it crosses worker and process boundaries (JSON included).
 */
import type { SimNodeInfo } from '../../src/sim/node.js';

export type NodeFacts = Pick<SimNodeInfo, 'pubkey' | 'address' | 'certPath' | 'macaroonPath' | 'macaroonHex'>;

/** The facts of one node, from its info. */
export function nodeFacts(info: SimNodeInfo): NodeFacts {
  return { pubkey: info.pubkey, address: info.address, certPath: info.certPath, macaroonPath: info.macaroonPath, macaroonHex: info.macaroonHex };
}
