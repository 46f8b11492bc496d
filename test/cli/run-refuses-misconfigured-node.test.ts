/**
 * `lnmux run` refuses to start on a node misconfigured for good, with exit status 1 and the reason
 * naming the node and the check (so that systemd or Kubernetes sees the failed start): the simulator
 * plays each misconfiguration. The start goes as far as logging its version first. An unreachable
 * node is not refused (run-waits-for-database.test.ts starts with one).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import { packageVersion } from '../../src/cli/package-version.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const TSX = import.meta.resolve('tsx');

/** Runs `lnmux <args>` with `config` in a fresh folder holding a copy of `dataDir` (if given) as data/. */
function lnmux(args: readonly string[], config: string, dataDir?: string): Promise<{ code: number | null; stdout: string; stderr: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-run-refuses-'));
  writeFileSync(join(dir, 'multiplexer.yml'), config);
  if (dataDir !== undefined) cpSync(dataDir, join(dir, 'data'), { recursive: true });
  const child = spawn(process.execPath, ['--import', TSX, BIN, '-c', 'multiplexer.yml', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, dir });
    }),
  );
}

describe('lnmux run on a misconfigured node', () => {
  let sim: SimCluster;
  /** An embedded database migrated once (by this identity key), copied for each case. */
  let dataDir: string;
  beforeAll(async () => {
    sim = await startCluster({ nodes: 2, network: 'regtest' });
    const migrated = await lnmux(['migrate', 'up'], configOf({}));
    expect(migrated.code, migrated.stderr).toBe(0);
    dataDir = join(migrated.dir, 'data');
  }, 60_000);
  afterAll(async () => {
    await sim?.stop();
  });

  const configOf = (node: { pubkey?: string; certPath?: string; macaroonPath?: string }, network = 'regtest'): string => {
    const info = sim.node(0).info;
    return `network: ${network}
identityKey: "${'42'.repeat(32)}"
metrics:
  listen: 127.0.0.1:0
nodes:
  - pubkey: "${node.pubkey ?? info.pubkey}"
    address: ${info.address}
    tlsServerName: localhost
    tlsCertPath: ${node.certPath ?? info.certPath}
    macaroonPath: ${node.macaroonPath ?? info.macaroonPath}
database:
  dataDir: data
`;
  };

  it('exits with status 1 and the reason for each misconfiguration, after logging its version', { timeout: 120_000 }, async () => {
    const a = sim.node(0).info;
    const b = sim.node(1).info;
    const cases: [string, string, RegExp][] = [
      [
        'another node\'s pubkey',
        configOf({ pubkey: b.pubkey }),
        new RegExp(`nodes\\[0\\] \\(${b.pubkey}\\) is misconfigured: identity check: the node's pubkey is ${a.pubkey}, the configured pubkey is ${b.pubkey}`),
      ],
      ['another network', configOf({}, 'signet'), /is misconfigured: network check: the node is on 'regtest', the configured network is 'signet'/],
      [
        'a macaroon the node refuses',
        configOf({ macaroonPath: b.macaroonPath }),
        /is misconfigured: macaroon check: GetVersion refused the macaroon: verification failed: signature mismatch after caveat verification/,
      ],
      [
        'a macaroon without the interceptor permission',
        configOf({ macaroonPath: join(dirname(a.macaroonPath), 'readonly.macaroon') }),
        /is misconfigured: macaroon check: the macaroon does not grant \/routerrpc\.Router\/HtlcInterceptor \(LND: permission denied\)/,
      ],
      ['a certificate file that does not exist', configOf({ certPath: '/nonexistent/tls.cert' }), /is misconfigured: tlsCert: cannot read file \/nonexistent\/tls\.cert: ENOENT/],
      ['a macaroon file that does not exist', configOf({ macaroonPath: '/nonexistent/admin.macaroon' }), /is misconfigured: macaroon: cannot read file \/nonexistent\/admin\.macaroon: ENOENT/],
    ];
    const results = await Promise.all(cases.map(([, config]) => lnmux(['run'], config, dataDir)));
    cases.forEach(([name, , reason], i) => {
      const result = results[i]!;
      expect({ name, code: result.code }).toEqual({ name, code: 1 });
      expect(result.stderr, name).toMatch(/^lnmux: refusing to start: nodes\[0\]/m);
      expect(result.stderr, name).toMatch(reason);
      expect(result.stderr, name).not.toContain('lnmux running');
      expect(result.stdout, name).toContain(`"version":"${packageVersion()}"`);
      expect(result.stdout, name).toContain('lnmux starting');
    });
  });
});
