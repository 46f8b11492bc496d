/** `lnmux init`: a config and a fresh identity key file (0600) it names; neither overwritten. In process, through `main`. */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NODE_PUBKEY_PLACEHOLDER } from '../../src/cli/init.js';
import { main } from '../../src/cli/main.js';
import { identityKeyBytes, loadConfigFile } from '../../src/mux/config.js';
import { deriveKeyring } from '../../src/protocol/keyring.js';

const NODE_A = '020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8';

afterEach(() => {
  vi.restoreAllMocks();
});

/** `lnmux ...args` in this process: its exit status and what it wrote. */
async function lnmux(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  for (const [stream, key] of [[process.stdout, 'stdout'], [process.stderr, 'stderr']] as const) {
    vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      out[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    }) as typeof stream.write);
  }
  try {
    return { code: await main(args), ...out };
  } finally {
    vi.restoreAllMocks();
  }
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'lnmux-init-'));

describe('lnmux init', () => {
  it('writes a config and a 0600 identity key file it names; the config loads once its node is filled in', async () => {
    const dir = tempDir();
    const config = join(dir, 'multiplexer.yml');
    const run = await lnmux(['-c', config, 'init']);
    expect(run.code, run.stderr).toBe(0);
    const keyFile = join(dir, 'identity.key');
    if (process.platform !== 'win32') expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const keyHex = readFileSync(keyFile, 'utf8');
    expect(keyHex).toMatch(/^[0-9a-f]{64}\n$/);
    const pubkey = Buffer.from(deriveKeyring(Buffer.from(keyHex.trim(), 'hex')).nodePubkey).toString('hex');
    expect(run.stdout).toContain(`virtual node pubkey: ${pubkey}`);
    expect(run.stdout).toContain('nodes');
    expect(run.stdout + run.stderr).not.toContain(keyHex.trim());

    const text = readFileSync(config, 'utf8');
    expect(text).toContain('network: regtest');
    expect(text).toContain('identityKeyFile: identity.key');
    expect(text).not.toContain(keyHex.trim());
    // As written, the node to fill in is refused, naming it.
    expect(() => loadConfigFile(config)).toThrow(/nodes\[0\]\.pubkey/);
    writeFileSync(config, text.replace(NODE_PUBKEY_PLACEHOLDER, NODE_A));
    const loaded = loadConfigFile(config);
    expect(loaded.identityKeyFile).toBe(keyFile);
    expect(loaded.database.dsn).toBeUndefined();
    expect(Buffer.from(deriveKeyring(identityKeyBytes(loaded)).nodePubkey).toString('hex')).toBe(pubkey);
  });

  it('takes --network, and refuses a network it does not know with exit status 2', async () => {
    const dir = tempDir();
    expect((await lnmux(['-c', join(dir, 'main.yml'), 'init', '--network', 'mainnet'])).code).toBe(0);
    expect(readFileSync(join(dir, 'main.yml'), 'utf8')).toContain('network: mainnet');
    const bad = await lnmux(['-c', join(tempDir(), 'x.yml'), 'init', '--network', 'mainnett']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--network');
  });

  it('overwrites neither an existing config nor an existing key file, and writes nothing then', async () => {
    const dir = tempDir();
    const config = join(dir, 'multiplexer.yml');
    writeFileSync(config, 'mine\n');
    const refused = await lnmux(['-c', config, 'init']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${config} exists already`);
    expect(readFileSync(config, 'utf8')).toBe('mine\n');
    expect(existsSync(join(dir, 'identity.key'))).toBe(false);

    const other = tempDir();
    writeFileSync(join(other, 'identity.key'), 'old key\n', { mode: 0o600 });
    const keyRefused = await lnmux(['-c', join(other, 'multiplexer.yml'), 'init']);
    expect(keyRefused.code).toBe(1);
    expect(keyRefused.stderr).toContain(`${join(other, 'identity.key')} exists already`);
    expect(readFileSync(join(other, 'identity.key'), 'utf8')).toBe('old key\n');
    expect(existsSync(join(other, 'multiplexer.yml'))).toBe(false);
  });
});
