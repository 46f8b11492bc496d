/**
 * One classification says whether waiting can cure a node's failure (`lnmux run` refuses to start on a
 * misconfigured node), and the running logs tell the two apart.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { status } from '@grpc/grpc-js';
import { faultOf, type NodeRetryCause } from '../../src/lnd/index.js';
import { checkNodeOnce } from '../../src/lnd/node-fault.js';
import { logNodeState } from '../../src/mux/node-events-log.js';

const refused: NodeRetryCause = { kind: 'refused', reasons: [{ kind: 'networkMismatch', configured: 'mainnet', reported: 'regtest' }] };
const unreadable: NodeRetryCause = { kind: 'configUnreadable', details: 'tlsCert: cannot read file /x: ENOENT' };
const unreachable: NodeRetryCause = {
  kind: 'rpcFailed',
  method: 'GetVersion',
  failure: { kind: 'unavailable', code: status.UNAVAILABLE, details: 'No connection established' },
};

describe('faultOf', () => {
  it('calls a refusal or an unreadable file misconfigured, a node that does not answer unreachable', () => {
    expect(faultOf(refused)).toBe('misconfigured');
    expect(faultOf(unreadable)).toBe('misconfigured');
    expect(faultOf(unreachable)).toBe('unreachable');
  });
});

describe('checkNodeOnce', () => {
  it('reports a certificate file that does not exist as misconfigured, naming the field and path', async () => {
    const check = await checkNodeOnce({ pubkey: `02${'11'.repeat(32)}`, network: 'regtest', address: '127.0.0.1:1', tlsCert: '/nonexistent/tls.cert', macaroon: new Uint8Array(1) });
    expect(check).toMatchObject({ kind: 'failed', fault: 'misconfigured', cause: { kind: 'configUnreadable' } });
    expect(check.kind === 'failed' && check.cause.kind === 'configUnreadable' && check.cause.details).toMatch(/^tlsCert: cannot read file \/nonexistent\/tls\.cert: ENOENT/);
  });
});

describe('the running logs', () => {
  it('say "Node misconfigured; retrying" (error) with the reason, and "Node unavailable; retrying" (warning)', () => {
    const lines: { level: number; msg: string; cause?: string }[] = [];
    const log = pino({ base: undefined }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const backoff = (cause: NodeRetryCause) => ({ kind: 'state' as const, node: 'n', state: { kind: 'backoff' as const, attemptMs: 1000, attempt: 1, cause } });
    logNodeState(log, backoff(refused), false);
    logNodeState(log, backoff(unreadable), false);
    logNodeState(log, backoff(unreachable), false);
    expect(lines.map((l) => [l.level, l.msg, l.cause])).toEqual([
      [50, 'Node misconfigured; retrying', "network check: the node is on 'regtest', the configured network is 'mainnet'"],
      [50, 'Node misconfigured; retrying', 'tlsCert: cannot read file /x: ENOENT'],
      [40, 'Node unavailable; retrying', 'GetVersion: UNAVAILABLE: No connection established'],
    ]);
  });
});
