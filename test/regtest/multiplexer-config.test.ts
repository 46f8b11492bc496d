import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/mux/config.js';
import { multiplexerYaml, type MultiplexerConfigInput } from './multiplexer-config.js';

const input: MultiplexerConfigInput = {
  nodes: [
    { pubkey: `02${'11'.repeat(32)}`, address: '127.0.0.1:10009', tlsCertPath: '/tmp/a/tls.cert', macaroonPath: '/tmp/a/admin.macaroon' },
    { pubkey: `03${'22'.repeat(32)}`, address: '127.0.0.1:10010', tlsCertPath: '/tmp/c/tls.cert', macaroonPath: '/tmp/c/admin.macaroon' },
  ],
  identityKeyHex: '0a'.repeat(32),
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/lnmux_regtest_1',
  network: 'regtest',
};

describe('multiplexerYaml', () => {
  it('renders every cluster node with pubkey, address, TLS cert and macaroon, in the layout of multiplexer.yml.example', () => {
    const doc = parse(multiplexerYaml(input)) as Record<string, unknown>;
    expect(doc).toEqual({
      network: 'regtest',
      identityKey: '0a'.repeat(32),
      nodes: [
        { pubkey: `02${'11'.repeat(32)}`, address: '127.0.0.1:10009', tlsCertPath: '/tmp/a/tls.cert', macaroonPath: '/tmp/a/admin.macaroon' },
        { pubkey: `03${'22'.repeat(32)}`, address: '127.0.0.1:10010', tlsCertPath: '/tmp/c/tls.cert', macaroonPath: '/tmp/c/admin.macaroon' },
      ],
      database: { dsn: 'postgres://postgres@127.0.0.1:5432/lnmux_regtest_1' },
      logging: { level: 'info' },
      metrics: { listen: '127.0.0.1:0' },
    });
  });

  it('is a config that lnmux itself accepts', () => {
    const parsed = parseConfig(parse(multiplexerYaml(input)) as unknown);
    expect(parsed.nodes.map((n) => n.address)).toEqual(['127.0.0.1:10009', '127.0.0.1:10010']);
    expect(parsed.database.dsn).toBe('postgres://postgres@127.0.0.1:5432/lnmux_regtest_1');
  });

  it('names the field when the identity key is not 32 bytes of hex', () => {
    expect(() => multiplexerYaml({ ...input, identityKeyHex: 'abcd' })).toThrow(/^identityKeyHex: /);
  });

  it('names the node when a pubkey is not a compressed key', () => {
    const nodes = [input.nodes[0]!, { ...input.nodes[1]!, pubkey: `04${'22'.repeat(32)}` }];
    expect(() => multiplexerYaml({ ...input, nodes })).toThrow(/^nodes\[1\]\.pubkey: /);
  });

  it('refuses a DSN that is not postgres://', () => {
    expect(() => multiplexerYaml({ ...input, databaseUrl: 'mysql://x' })).toThrow(/^databaseUrl: /);
  });
});
