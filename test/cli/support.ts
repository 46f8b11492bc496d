/**
 * What the CLI tests that start `lnmux run` share: a config with one cluster node that is never
 * reachable (nothing listens on 127.0.0.1:1), so that `run` starts and keeps retrying it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A cluster node's pubkey, from the seed project's README (docs/protocol.md). */
export const NODE_A = '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8';

/**
 * Writes `<dir>/multiplexer.yml`: regtest, identity key 0x42 * 32, metrics on a port the OS picks (tests
 * run side by side), NODE_A unreachable with these
 * certificate and macaroon paths, and `database` (YAML lines, indented under `database:`).
 */
export function writeUnreachableNodeConfig(dir: string, paths: { readonly tlsCertPath: string; readonly macaroonPath: string }, database: string, extra = ''): void {
  writeFileSync(
    join(dir, 'multiplexer.yml'),
    `network: regtest
identityKey: "${'42'.repeat(32)}"
metrics:
  listen: 127.0.0.1:0
nodes:
  - pubkey: "${NODE_A}"
    address: 127.0.0.1:1
    tlsCertPath: ${paths.tlsCertPath}
    macaroonPath: ${paths.macaroonPath}
database:
${database
  .split('\n')
  .map((line) => `  ${line}`)
  .join('\n')}
${extra}`,
  );
}
