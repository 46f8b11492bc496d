/** The simulated node's gRPC API over TLS: macaroons, GetInfo, GetVersion, LookupHtlcResolution, block epochs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import { mintAdminMacaroon, newMacaroonKey } from '../../src/sim/macaroon.js';
import { connect, type LndTestClient } from './lnd-test-client.js';

describe('a simulated LND node over gRPC', () => {
  let cluster: SimCluster;
  let client: LndTestClient;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, network: 'regtest', startHeight: 500 });
    client = connect(cluster.nodeInfos()[0]!);
  });
  afterAll(async () => {
    client.close();
    await cluster.stop();
  });

  it('answers GetInfo with its identity key, network, height and the interceptor flags', async () => {
    const info = await client.getInfo();
    const node = cluster.nodeInfos()[0]!;
    expect(info['identity_pubkey']).toBe(node.pubkey);
    expect(info['chains']).toEqual([{ chain: 'bitcoin', network: 'regtest' }]);
    expect(info['block_height']).toBe(500);
    expect(info['block_hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(info['require_htlc_interceptor']).toBe(true);
    expect(info['store_final_htlc_resolutions']).toBe(true);
    expect(info['synced_to_chain']).toBe(true);
    expect(info['version']).toBe('0.21.2-beta commit=v0.21.2-beta');
  });

  it('answers GetVersion like verrpc', async () => {
    const version = await client.unary(client.versioner, 'GetVersion');
    expect(version).toMatchObject({ version: '0.21.2-beta', app_major: 0, app_minor: 21, app_patch: 2, app_pre_release: 'beta', commit: 'v0.21.2-beta' });
  });

  it('refuses a macaroon signed by another root key with LND status and message', async () => {
    const other = Buffer.from(mintAdminMacaroon(newMacaroonKey())).toString('hex');
    const wrong = connect(cluster.nodeInfos()[0]!, other);
    await expect(wrong.getInfo()).rejects.toMatchObject({ code: status.UNKNOWN, details: 'verification failed: signature mismatch after caveat verification' });
    wrong.close();
  });

  it("refuses another node's macaroon", async () => {
    const [first, second] = cluster.nodeInfos();
    const wrong = connect(first!, second!.macaroonHex);
    await expect(wrong.getInfo()).rejects.toMatchObject({ code: status.UNKNOWN, details: 'verification failed: signature mismatch after caveat verification' });
    wrong.close();
  });

  it('refuses a call without a macaroon, and one whose macaroon is not hex', async () => {
    const none = connect(cluster.nodeInfos()[0]!, null);
    await expect(none.getInfo()).rejects.toMatchObject({ code: status.UNKNOWN, details: 'expected 1 macaroon, got 0' });
    none.close();
    const notHex = connect(cluster.nodeInfos()[0]!, 'zz');
    await expect(notHex.getInfo()).rejects.toMatchObject({ code: status.UNKNOWN, details: "encoding/hex: invalid byte: U+007A 'z'" });
    notHex.close();
  });

  it('refuses a wrong macaroon on streams too', async () => {
    const wrong = connect(cluster.nodeInfos()[0]!, cluster.nodeInfos()[1]!.macaroonHex);
    const stream = wrong.interceptor();
    await expect(stream.ended).resolves.toEqual({ code: status.UNKNOWN, details: 'verification failed: signature mismatch after caveat verification' });
    wrong.close();
  });

  it('answers LookupHtlcResolution for an unknown HTLC with NOT_FOUND', async () => {
    await expect(client.unary(client.lightning, 'LookupHtlcResolution', { chan_id: '123', htlc_index: '0' })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: 'htlc unknown',
    });
  });

  it('sends the tip at once on RegisterBlockEpochNtfn, then every mined block', async () => {
    const stream = client.serverStream(client.chain, 'RegisterBlockEpochNtfn', {});
    const first = await stream.messages.next();
    expect(first['height']).toBe(cluster.chain.height);
    cluster.mine(2);
    const second = await stream.messages.next();
    const third = await stream.messages.next();
    expect([second['height'], third['height']]).toEqual([first['height'] + 1, first['height'] + 2]);
    expect(Buffer.from(third['hash']).equals(Buffer.from(cluster.chain.tip().hash))).toBe(true);
    stream.cancel();
  });

  it('replays the blocks after a known best block on RegisterBlockEpochNtfn', async () => {
    const from = cluster.chain.tip();
    cluster.mine(3);
    const stream = client.serverStream(client.chain, 'RegisterBlockEpochNtfn', { hash: Buffer.from(from.hash), height: from.height });
    const heights = [(await stream.messages.next())['height'], (await stream.messages.next())['height'], (await stream.messages.next())['height']];
    expect(heights).toEqual([from.height + 1, from.height + 2, from.height + 3]);
    stream.cancel();
  });

  it('starts SubscribeHtlcEvents with a subscribed event', async () => {
    const stream = client.serverStream(client.router, 'SubscribeHtlcEvents', {});
    const first = await stream.messages.next();
    expect(first['event']).toBe('subscribed_event');
    stream.cancel();
  });

  it('refuses a second interceptor while one is connected', async () => {
    const first = client.interceptor();
    // The first stream is registered once the server has seen it: a refused second proves it.
    const second = client.interceptor();
    await expect(second.ended).resolves.toEqual({ code: status.UNKNOWN, details: 'interceptor already exists' });
    first.cancel();
    await first.ended;
  });
});

describe('a node without --store-final-htlc-resolutions and --requireinterceptor', () => {
  it('says so in GetInfo and answers LookupHtlcResolution with UNAVAILABLE', async () => {
    const cluster = await startCluster({ nodes: 1, requireInterceptor: false, storeFinalHtlcResolutions: false, network: 'testnet' });
    const client = connect(cluster.nodeInfos()[0]!);
    try {
      const info = await client.getInfo();
      expect(info['require_htlc_interceptor']).toBe(false);
      expect(info['store_final_htlc_resolutions']).toBe(false);
      expect(info['chains']).toEqual([{ chain: 'bitcoin', network: 'testnet' }]);
      expect(info['testnet']).toBe(true);
      await expect(client.unary(client.lightning, 'LookupHtlcResolution', { chan_id: '1', htlc_index: '0' })).rejects.toMatchObject({
        code: status.UNAVAILABLE,
        details: 'cannot lookup with flag --store-final-htlc-resolutions=false',
      });
    } finally {
      client.close();
      await cluster.stop();
    }
  });
});
