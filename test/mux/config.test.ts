import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, identityKeyBytes, loadConfigFile, parseConfig, storeConfigOf } from '../../src/mux/config.js';
import { Mux } from '../../src/mux/mux.js';
import { isWellKnownIdentityKey } from '../../src/mux/well-known-keys.js';
import type { Store } from '../../src/store/index.js';

const node = {
  pubkey: `02${'ab'.repeat(32)}`,
  address: '127.0.0.1:10009',
  tlsCertPath: 'a/tls.cert',
  macaroonPath: 'a/admin.macaroon',
};
const SECRET = '11'.repeat(32);

function configError(input: unknown): ConfigError {
  try {
    parseConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** The ConfigError `f` throws; fails the test if it throws nothing or something else. */
function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills the documented defaults', () => {
    const config = parseConfig({ network: 'regtest', identityKey: SECRET, nodes: [node] });
    expect(config.routing).toEqual({ feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 40 });
    expect(config.invoice.minFinalCltvExpiryDelta).toBe(40);
    expect(config.settlement).toEqual({ mode: 'auto', mppTimeoutSeconds: 120, holdTimeoutSeconds: 600, expiryMarginBlocks: 10, autoFailMarginBlocks: 3 });
    expect(config.database.dsn).toBeUndefined();
  });

  it('names every bad field with what was expected and what it got', () => {
    const error = configError({
      network: 'mainnett',
      identityKey: SECRET,
      nodes: [{ ...node, address: 'nowhere', colour: 'red' }],
      settlement: { mode: 'later' },
    });
    expect(error.issues.map((i) => i.field)).toEqual(['network', 'nodes[0].address', 'nodes[0]', 'settlement.mode']);
    expect(error.message).toContain('nodes[0].address: expected host:port, got "nowhere"');
    expect(error.message).toContain('unknown field(s) colour');
  });

  it('refuses a missing node list, a node listed twice, and both or neither identity key sources', () => {
    expect(configError({ network: 'regtest', identityKey: SECRET }).issues.map((i) => i.field)).toEqual(['nodes']);
    expect(configError({ network: 'regtest', identityKey: SECRET, nodes: [node, node] }).issues.map((i) => i.field)).toEqual([
      'nodes[1].pubkey',
    ]);
    expect(configError({ network: 'regtest', nodes: [node] }).issues.map((i) => i.field)).toEqual(['identityKey']);
    expect(
      configError({ network: 'regtest', identityKey: SECRET, identityKeyEnv: 'K', nodes: [node] }).issues.map((i) => i.field),
    ).toEqual(['identityKey']);
  });

  it('never echoes the config (and its identity key) in a cross-field error', () => {
    for (const input of [
      { network: 'regtest', identityKey: SECRET, identityKeyEnv: 'K', nodes: [node] },
      { network: 'regtest', identityKey: SECRET, nodes: [node, node] },
    ]) {
      expect(configError(input).message).not.toContain(SECRET);
    }
  });

  it('never echoes an identity key in an error', () => {
    const bad = `${SECRET.slice(0, 62)}zz`;
    const error = configError({ network: 'regtest', identityKey: bad, nodes: [node] });
    expect(error.message).not.toContain(bad.slice(0, 20));
    expect(() => identityKeyBytes(parseConfig({ network: 'regtest', identityKeyEnv: 'LNMUX_KEY', nodes: [node] }), { LNMUX_KEY: 'beef' })).toThrow(
      /environment variable LNMUX_KEY must hold a 32-byte private key/,
    );
  });

  it('reads the identity key from the environment variable it names', () => {
    const config = parseConfig({ network: 'regtest', identityKeyEnv: 'LNMUX_KEY', nodes: [node] });
    expect(identityKeyBytes(config, { LNMUX_KEY: SECRET })).toEqual(new Uint8Array(32).fill(0x11));
  });

  it('resolves relative paths in a config file against the file, not the working directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lnmux-config-'));
    const file = join(dir, 'multiplexer.yml');
    writeFileSync(
      file,
      `network: regtest\nidentityKey: "${SECRET}"\nnodes:\n  - pubkey: "${node.pubkey}"\n    address: 127.0.0.1:10009\n    tlsCertPath: a/tls.cert\n    macaroonPath: /abs/admin.macaroon\n`,
    );
    const config = loadConfigFile(file);
    expect(config.nodes[0]?.tlsCertPath).toBe(join(dir, 'a/tls.cert'));
    expect(config.nodes[0]?.macaroonPath).toBe('/abs/admin.macaroon');
    expect(config.database.dataDir).toBe(join(dir, 'lnmux-data'));
  });

  it('says which file it could not read or parse', () => {
    expect(() => loadConfigFile('/nonexistent/multiplexer.yml')).toThrow(/cannot read config file \/nonexistent\/multiplexer.yml/);
    const dir = mkdtempSync(join(tmpdir(), 'lnmux-config-'));
    writeFileSync(join(dir, 'bad.yml'), 'nodes: [unclosed\n');
    expect(() => loadConfigFile(join(dir, 'bad.yml'))).toThrow(/is not valid YAML/);
  });
});

describe('config: identityKeyFile', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'lnmux-key-'));
  const keyFile = (text: string, mode = 0o600) => {
    const file = join(dir(), 'identity.key');
    writeFileSync(file, text, { mode });
    chmodSync(file, mode); // past the umask
    return file;
  };
  const bytesOf = (file: string) => identityKeyBytes(parseConfig({ network: 'regtest', identityKeyFile: file, nodes: [node] }));

  it('reads 64 hex characters from an owner-only file, a trailing newline or not', () => {
    expect(bytesOf(keyFile(`${SECRET}\n`))).toEqual(new Uint8Array(32).fill(0x11));
    expect(bytesOf(keyFile(SECRET, 0o400))).toEqual(new Uint8Array(32).fill(0x11));
  });

  it('is one of three sources: exactly one of identityKey, identityKeyEnv, identityKeyFile', () => {
    for (const extra of [{ identityKey: SECRET }, { identityKeyEnv: 'K' }]) {
      const error = configError({ network: 'regtest', identityKeyFile: 'identity.key', ...extra, nodes: [node] });
      expect(error.issues.map((i) => i.field)).toEqual(['identityKey']);
      expect(error.message).toContain('identityKeyFile');
      expect(error.message).not.toContain(SECRET);
    }
    expect(configError({ network: 'regtest', nodes: [node] }).message).toContain('lnmux init');
  });

  it.skipIf(process.platform === 'win32')('refuses, as ssh does, a key file that group or others may read, naming path, mode and the fix', () => {
    for (const mode of [0o640, 0o604, 0o660, 0o644]) {
      const file = keyFile(`${SECRET}\n`, mode);
      const error = errorOf(() => bytesOf(file));
      expect(error.message).toContain(`identityKeyFile: ${file} has mode 0${mode.toString(8)}`);
      expect(error.message).toContain(`chmod 600 ${file}`);
      expect(error.message).not.toContain(SECRET);
    }
  });

  it('says which file is missing or malformed, never echoing its content', () => {
    expect(errorOf(() => bytesOf('/nonexistent/identity.key')).message).toMatch(/identityKeyFile: cannot read \/nonexistent\/identity.key.*lnmux init/);
    const bad = `${SECRET.slice(0, 62)}zz\n`;
    const error = errorOf(() => bytesOf(keyFile(bad)));
    expect(error.message).toMatch(/identityKeyFile: .* must hold a 32-byte private key as 64 hex characters/);
    expect(error.message).not.toContain(SECRET.slice(0, 20));
  });

  it('is resolved against the config file\'s folder', () => {
    const d = dir();
    writeFileSync(join(d, 'multiplexer.yml'), `network: regtest\nidentityKeyFile: identity.key\nnodes:\n  - pubkey: "${node.pubkey}"\n    address: 127.0.0.1:10009\n    tlsCertPath: a\n    macaroonPath: b\n`);
    writeFileSync(join(d, 'identity.key'), `${SECRET}\n`, { mode: 0o600 });
    const config = loadConfigFile(join(d, 'multiplexer.yml'));
    expect(config.identityKeyFile).toBe(join(d, 'identity.key'));
    expect(identityKeyBytes(config)).toEqual(new Uint8Array(32).fill(0x11));
  });
});

describe('config: well-known identity keys', () => {
  const ROOT = join(import.meta.dirname, '../..');
  const KEY_ONE = `${'0'.repeat(63)}1`;

  /** Every file under `path` (or `path` itself), as text. */
  function texts(path: string): { path: string; text: string }[] {
    if (statSync(path).isFile()) return [{ path, text: readFileSync(path, 'utf8') }];
    return readdirSync(path).flatMap((name) => texts(join(path, name)));
  }

  it('lists every identity key printed in the docs, README, example config and tests, so the list cannot go stale', () => {
    // An identity / private key followed (on its line) by exactly 64 hex characters, or `'xy'.repeat(32)`.
    const literal = /(identity|private)[ _-]?key[^\n]*?(?<![0-9a-fA-F])([0-9a-fA-F]{64})(?![0-9a-fA-F])/gi;
    const repeated = /(identity|private)[ _-]?key[^\n]*?'([0-9a-fA-F]{2})'\.repeat\(32\)/gi;
    const found: string[] = [];
    for (const { path, text } of ['docs', 'README.md', 'multiplexer.yml.example', 'test'].flatMap((p) => texts(join(ROOT, p)))) {
      for (const match of text.matchAll(literal)) found.push(`${path}: ${match[2]!}`);
      for (const match of text.matchAll(repeated)) found.push(`${path}: ${match[2]!.repeat(32)}`);
    }
    expect(found.length).toBeGreaterThan(3); // the grep finds the tests' keys: it still works
    const unlisted = found.filter((f) => !isWellKnownIdentityKey(Buffer.from(f.slice(-64), 'hex')));
    expect(unlisted, 'add these keys to src/mux/well-known-keys.ts').toEqual([]);
  });

  it('knows private keys 1 and 2, repeated bytes and the BOLT 11 vectors\' key, not a fresh key', () => {
    for (const hex of [KEY_ONE, `${'0'.repeat(63)}2`, '42'.repeat(32), 'e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734']) {
      expect(isWellKnownIdentityKey(Buffer.from(hex, 'hex')), hex).toBe(true);
    }
    expect(isWellKnownIdentityKey(Buffer.from(`${'0'.repeat(63)}3`.replace(/^0/, '7'), 'hex'))).toBe(false);
  });

  it('refuses one on mainnet, naming the field it came from and never the key', () => {
    const inline = errorOf(() => identityKeyBytes(parseConfig({ network: 'mainnet', identityKey: KEY_ONE, nodes: [node] })));
    expect(inline.message).toMatch(/^identityKey holds a well-known identity key.*lnmux init/);
    const fromEnv = errorOf(() =>
      identityKeyBytes(parseConfig({ network: 'mainnet', identityKeyEnv: 'LNMUX_KEY', nodes: [node] }), { LNMUX_KEY: SECRET }),
    );
    expect(fromEnv.message).toContain('identityKeyEnv: environment variable LNMUX_KEY holds a well-known identity key');
    const file = join(mkdtempSync(join(tmpdir(), 'lnmux-key-')), 'identity.key');
    writeFileSync(file, `${KEY_ONE}\n`, { mode: 0o600 });
    const fromFile = errorOf(() => identityKeyBytes(parseConfig({ network: 'mainnet', identityKeyFile: file, nodes: [node] })));
    expect(fromFile.message).toContain(`identityKeyFile: ${file} holds a well-known identity key`);
    for (const e of [inline, fromEnv, fromFile]) expect(e.message).not.toMatch(new RegExp(`${KEY_ONE}|${SECRET}`));
    // Elsewhere it is accepted (Mux.open warns).
    expect(identityKeyBytes(parseConfig({ network: 'testnet', identityKey: KEY_ONE, nodes: [node] }))).toHaveLength(32);
  });

  it('is warned about at Mux.open off mainnet', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    // The store fails at once: the warning comes before the store is used.
    const store = {} as Store;
    await expect(Mux.open({ network: 'regtest', identityKey: SECRET, nodes: [node] }, { logger, store })).rejects.toThrow();
    expect(warnings.join('')).toContain('well-known');
    expect(warnings.join('')).not.toContain(SECRET);
    warnings.length = 0;
    const fresh = Buffer.from(secp256k1.utils.randomSecretKey()).toString('hex');
    await expect(Mux.open({ network: 'regtest', identityKey: fresh, nodes: [node] }, { logger, store })).rejects.toThrow();
    expect(warnings.join('')).not.toContain('well-known');
  });
});

describe('config: database.dsnEnv', () => {
  const base = { network: 'regtest', identityKey: SECRET, nodes: [node] };
  const DSN = 'postgres://lnmux:s3cret-pw@db.example:5432/lnmux';

  it('reads the connection string from the environment variable it names', () => {
    const config = parseConfig({ ...base, database: { dsnEnv: 'LNMUX_DSN' } });
    expect(storeConfigOf(config, false, { LNMUX_DSN: DSN })).toMatchObject({ databaseUrl: DSN });
    expect(storeConfigOf(config, false, { LNMUX_DSN: DSN })).not.toHaveProperty('dataDir');
    expect(storeConfigOf(parseConfig({ ...base, database: { dsn: DSN } }), false, {})).toMatchObject({ databaseUrl: DSN });
  });

  it('refuses dsn and dsnEnv together, naming database.dsnEnv, and a malformed name, never echoing the dsn', () => {
    const both = configError({ ...base, database: { dsn: DSN, dsnEnv: 'LNMUX_DSN' } });
    expect(both.issues.map((i) => i.field)).toEqual(['database.dsnEnv']);
    expect(both.message).toContain('not both');
    expect(both.message).not.toContain('s3cret-pw');
    expect(configError({ ...base, database: { dsnEnv: 'lnmux dsn' } }).issues.map((i) => i.field)).toEqual(['database.dsnEnv']);
    expect(configError({ ...base, database: { dsn: 42 } }).message).not.toContain('42');
  });

  it('names the variable that is not set (or empty) and says what to put in it', () => {
    const config = parseConfig({ ...base, database: { dsnEnv: 'LNMUX_DSN' } });
    for (const [env, state] of [[{}, 'not set'], [{ LNMUX_DSN: ' ' }, 'empty']] as const) {
      let error: unknown;
      try {
        storeConfigOf(config, false, env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(new RegExp(`^database.dsnEnv: environment variable LNMUX_DSN is ${state}: set it to the PostgreSQL connection string`));
    }
  });
});

describe('config: api', () => {
  const base = { network: 'regtest', identityKey: SECRET, nodes: [node] };
  const defaults = { dataDir: 'lnmux-api', tlsExtraDomains: [], tlsExtraIps: [], insecurePlaintext: false };

  it('is optional; over TLS with macaroons (the default) it listens on any host:port (port 0 for any)', () => {
    expect(parseConfig(base).api).toBeUndefined();
    for (const listen of ['127.0.0.1:19090', '[::1]:19090', 'localhost:0', '0.0.0.0:19090', '[::]:19090', 'lnmux.example.com:19090']) {
      expect(parseConfig({ ...base, api: { listen } }).api).toEqual({ listen, ...defaults });
    }
  });

  it('takes the TLS fields: the operator\'s own certificate and key, or extra names and addresses for the self-signed one', () => {
    const api = { listen: '0.0.0.0:1', dataDir: '/var/lib/lnmux', tlsExtraDomains: ['lnmux.internal'], tlsExtraIps: ['10.0.0.5', 'fd00::5'] };
    expect(parseConfig({ ...base, api }).api).toEqual({ ...defaults, ...api });
    const own = { listen: '0.0.0.0:1', tlsCertPath: 'my.crt', tlsKeyPath: 'my.key' };
    expect(parseConfig({ ...base, api: own }).api).toEqual({ ...defaults, ...own });
  });

  it('insecurePlaintext: only on a loopback listen (IPv4 127/8, [::1], localhost), refused elsewhere naming the field', () => {
    for (const listen of ['127.0.0.1:19090', '127.1.2.3:0', '[::1]:19090', 'localhost:19090', '[0:0:0:0:0:0:0:1]:1']) {
      expect(parseConfig({ ...base, api: { listen, insecurePlaintext: true } }).api).toEqual({ ...defaults, listen, insecurePlaintext: true });
    }
    for (const listen of ['0.0.0.0:19090', '10.0.0.5:19090', '[::]:19090', 'lnmux.example.com:19090']) {
      const error = configError({ ...base, api: { listen, insecurePlaintext: true } });
      expect(error.issues.map((i) => i.field)).toEqual(['api.insecurePlaintext']);
      expect(error.message).toContain('only on a loopback api.listen');
      expect(error.message).toContain(listen);
    }
  });

  it('refuses, naming the field, a malformed address, half a certificate, TLS fields with insecurePlaintext, bad names and unknown fields', () => {
    for (const listen of ['19090', '127.0.0.1', '127.0.0.1:65536', '::1:19090', '']) {
      const error = configError({ ...base, api: { listen } });
      expect(error.issues.map((i) => i.field)).toEqual(['api.listen']);
      expect(error.message).toContain('expected host:port');
    }
    const fields = (api: object) => configError({ ...base, api: { listen: '127.0.0.1:1', ...api } }).issues.map((i) => i.field);
    expect(fields({ tlsCertPath: 'a.crt' })).toEqual(['api.tlsKeyPath']);
    expect(fields({ tlsKeyPath: 'a.key' })).toEqual(['api.tlsCertPath']);
    expect(fields({ insecurePlaintext: true, tlsExtraIps: ['10.0.0.1'] })).toEqual(['api.tlsExtraIps']);
    expect(fields({ tlsExtraIps: ['[::1]'] })).toEqual(['api.tlsExtraIps[0]']);
    expect(fields({ tlsExtraDomains: ['bad name'] })).toEqual(['api.tlsExtraDomains[0]']);
    expect(fields({ insecurePlaintext: 'yes' })).toEqual(['api.insecurePlaintext']);
    expect(fields({ tls: false })).toEqual(['api']);
    expect(configError({ ...base, api: {} }).issues.map((i) => i.field)).toEqual(['api.listen']);
  });
});

describe('multiplexer.yml.example', () => {
  it('is a valid configuration', () => {
    const config = loadConfigFile(join(import.meta.dirname, '../../multiplexer.yml.example'));
    expect(config.nodes).toHaveLength(2);
    expect(config.database.dsn).toBe('postgres://postgres@127.0.0.1:5432/lnmux');
    expect(config.identityKeyFile).toBe(join(import.meta.dirname, '../../identity.key'));
  });

  it('carries no usable identity key: it names a key file `lnmux init` writes', () => {
    const text = readFileSync(join(import.meta.dirname, '../../multiplexer.yml.example'), 'utf8');
    // No run of exactly 64 hex characters (the node pubkeys are 66).
    expect(text).not.toMatch(/(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/);
    expect(text).toContain('lnmux init');
  });

  it('shows a valid api section (commented out)', () => {
    const text = readFileSync(join(import.meta.dirname, '../../multiplexer.yml.example'), 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'lnmux-config-'));
    writeFileSync(join(dir, 'with-api.yml'), text.replace('# api:\n#   listen:', 'api:\n  listen:'));
    expect(loadConfigFile(join(dir, 'with-api.yml')).api).toEqual({
      listen: '127.0.0.1:19090',
      dataDir: join(dir, 'lnmux-api'),
      tlsExtraDomains: [],
      tlsExtraIps: [],
      insecurePlaintext: false,
    });
  });
});
