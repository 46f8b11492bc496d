/** The `lnmux` executable as a user runs it: real child processes, an embedded database in a temp dir. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeInvoice } from '../../src/protocol/bolt11-decode.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';
import { virtualChannelId } from '../../src/protocol/virtual-scid.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
/** tsx resolved from here: the commands run in other working directories. */
const TSX = import.meta.resolve('tsx');
const NODE_A = '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8';
const NODE_C = '026ff75cb2ff49b864833aa3c93970069070231a9ad64819252e190406dd0a6976';

function lnmux(args: string[], cwd?: string) {
  const run = spawnSync(process.execPath, ['--import', TSX, BIN, ...args], { encoding: 'utf8', cwd, timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function configDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-cli-'));
  writeFileSync(join(dir, 'multiplexer.yml'), yaml);
  return dir;
}

const GOOD = `network: regtest
identityKey: "${'42'.repeat(32)}"
nodes:
  - pubkey: "${NODE_A}"
    address: 127.0.0.1:10009
    tlsCertPath: a/tls.cert
    macaroonPath: a/admin.macaroon
  - pubkey: "${NODE_C}"
    address: 127.0.0.1:10010
    tlsCertPath: c/tls.cert
    macaroonPath: c/admin.macaroon
database:
  dataDir: data
`;

describe('lnmux command line', () => {
  it('migrates the embedded database and creates an invoice with a route hint per node (the seed\'s commands)', () => {
    const dir = configDir(GOOD);
    const before = lnmux(['-c', 'multiplexer.yml', 'migrate', 'version'], dir);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ state: 'uninitialized', database_version: 0 });

    // Creating an invoice before the schema is there is refused, naming the command that fixes it.
    const early = lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5000', '--desc', 'test'], dir);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/migrate/);

    expect(lnmux(['-c', 'multiplexer.yml', 'migrate', 'init'], dir).code).toBe(0);
    const up = lnmux(['-c', 'multiplexer.yml', 'migrate', 'up'], dir);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ state: 'current' });

    const added = lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5000', '--desc', 'test', '--expiry', '600'], dir);
    expect(added.code, added.stderr).toBe(0);
    const out = JSON.parse(added.stdout) as { payment_request: string; payment_hash: string; amount_msat: string };
    expect(out.amount_msat).toBe('5000000');
    const decoded = decodeInvoice(out.payment_request);
    if (!decoded.ok) throw new Error(JSON.stringify(decoded.error));
    expect(decoded.value.amountMsat).toBe(5_000_000n);
    expect(decoded.value.description).toBe('test');
    expect(decoded.value.expirySeconds).toBe(600);
    expect(decoded.value.minFinalCltvExpiryDelta).toBe(40);
    expect(Buffer.from(decoded.value.paymentHash).toString('hex')).toBe(out.payment_hash);
    expect(decoded.value.routeHints?.map((hint) => hint.map((h) => Buffer.from(h.pubkey).toString('hex')))).toEqual([[NODE_A], [NODE_C]]);
    expect(decoded.value.routeHints?.[0]?.[0]?.shortChannelId).toBe(virtualChannelId(Buffer.from(NODE_A, 'hex')));
  }, 240_000); // five process starts, each opening the embedded database

  it('binds the database to the identity key at `migrate up`; `run` and `migrate up` with another key exit 1 naming both pubkeys', () => {
    const dir = configDir(GOOD);
    const up = lnmux(['-c', 'multiplexer.yml', 'migrate', 'up'], dir);
    expect(up.code, up.stderr).toBe(0);
    const otherKey = '43'.repeat(32);
    writeFileSync(join(dir, 'other.yml'), GOOD.replace('42'.repeat(32), otherKey));
    const pubkey = (key: string) => Buffer.from(deriveKeyring(Buffer.from(key, 'hex')).nodePubkey).toString('hex');
    for (const args of [['run'], ['migrate', 'up']]) {
      const refused = lnmux(['-c', 'other.yml', ...args], dir);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain('identity key mismatch');
      expect(refused.stderr).toContain(`belongs to virtual node ${pubkey('42'.repeat(32))}`);
      expect(refused.stderr).toContain(`the key of ${pubkey(otherKey)}`);
      expect(refused.stderr).not.toContain(otherKey);
      expect(refused.stderr).not.toContain('42'.repeat(32));
    }
  }, 120_000); // three process starts, each opening the embedded database

  it('refuses bad flags with exit status 2, naming the flag', () => {
    const dir = configDir(GOOD);
    const badAmount = lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '12abc', '--desc', 'x'], dir);
    expect(badAmount.code).toBe(2);
    expect(badAmount.stderr).toMatch(/--amt <sat>.*expected a positive integer, got "12abc"/);
    const both = lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '1', '--amt-msat', '1000', '--desc', 'x'], dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with/);
    const noDescription = lnmux(['-c', 'multiplexer.yml', 'addinvoice', '--amt', '5'], dir);
    expect(noDescription.code).toBe(2);
    expect(noDescription.stderr).toContain('give a description with --desc <text> or --desc-hash <hex>');
    const unknown = lnmux(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  }, 60_000);

  it('refuses a bad configuration with exit status 2, naming each field', () => {
    const dir = configDir(GOOD.replace('network: regtest', 'network: regtestnet').replace('address: 127.0.0.1:10010', 'address: nowhere'));
    const run = lnmux(['-c', 'multiplexer.yml', 'migrate', 'version'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('network:');
    expect(run.stderr).toContain('nodes[1].address: expected host:port, got "nowhere"');
    expect(run.stderr).not.toContain('42'.repeat(32));
    const missing = lnmux(['-c', '/nonexistent/multiplexer.yml', 'run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config file /nonexistent/multiplexer.yml');
  }, 60_000);
});
