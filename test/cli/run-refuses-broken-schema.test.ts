/**
 * `lnmux run` refuses, at start and with the reason, a database at the current version whose tables are
 * missing or whose migration history differs from the files (before, it started and logged an error at
 * every lease check).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStoreConfig } from '../../src/store/config.js';
import { connect } from '../../src/store/connect.js';
import { migrateUp } from '../../src/store/open.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const TSX = import.meta.resolve('tsx');
const NODE_A = '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8';

function run(cwd: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, BIN, '-c', 'multiplexer.yml', 'run'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

/** A config folder whose embedded database is migrated, then changed by `sql`. */
async function brokenDatabase(sql: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-broken-schema-'));
  writeFileSync(
    join(dir, 'multiplexer.yml'),
    `network: regtest
identityKey: "${'42'.repeat(32)}"
metrics:
  listen: 127.0.0.1:0
nodes:
  - pubkey: "${NODE_A}"
    address: 127.0.0.1:1
    tlsCertPath: a/tls.cert
    macaroonPath: a/admin.macaroon
database:
  dataDir: data
`,
  );
  const dataDir = join(dir, 'data');
  await migrateUp({ dataDir, onWarning: () => {} });
  const db = await connect(resolveStoreConfig({ dataDir, onWarning: () => {} }));
  await db.withSession('test', (s) => s.query(sql));
  await db.close();
  return dir;
}

describe('lnmux run on a database that is not what its migrations made', () => {
  it('exits with status 1, saying what is wrong', { timeout: 120_000 }, async () => {
    const missing = await brokenDatabase('DROP TABLE lnmux.leases');
    const edited = await brokenDatabase(`UPDATE lnmux.schema_migrations SET checksum = repeat('0', 64) WHERE version = 1`);
    const [a, b] = await Promise.all([run(missing), run(edited)]);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('lnmux: the database lacks the tables lnmux.leases that its applied migrations create');
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("lnmux: the database's migration 1 (init) was applied from other SQL than this lnmux's 0001_init.up.sql (checksum 000000000000…");
  });
});
