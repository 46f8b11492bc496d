/**
 * `lnmux/client` against a real API server (TLS and macaroons, credentials made in a temp api.dataDir)
 * over a Mux on the simulated cluster in hold mode: connecting by paths, by bytes and from a config;
 * every RPC through the typed methods (bigint msat, Uint8Array hashes); the stream as an async
 * iterator, resumed from the last index; errors as LnmuxClientError with the gRPC code.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { createSelfSignedCertificate } from '../../src/credentials/index.js';
import { GrpcStatus, LnmuxClient, LnmuxClientError, type InvoiceEvent } from '../../src/client/index.js';
import type { Mux } from '../../src/mux/mux.js';
import { parseConfig, type MuxConfig } from '../../src/mux/config.js';
import { muxConfig, newIdentityKey, startMux, stopMux } from '../e2e/support/mux.js';
import { describeEachBackend, useCluster, useStore } from '../e2e/support/setup.js';
import { waitFor } from '../support/wait.js';

const sha256 = (data: Uint8Array): Uint8Array => createHash('sha256').update(data).digest();
const hex = (value: Uint8Array | undefined): string => Buffer.from(value ?? []).toString('hex');

/** Rejection of `promise` as [codeName, details]. */
async function refusal(promise: Promise<unknown>): Promise<[string, string]> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LnmuxClientError);
    const e = error as LnmuxClientError;
    return [e.codeName, e.details];
  }
  throw new Error('expected a refusal');
}

describeEachBackend('lnmux/client over the simulator (%s)', (backend) => {
  const cluster = useCluster();
  const { store } = useStore(backend);
  const identityKey = newIdentityKey();
  const dataDir = mkdtempSync(join(tmpdir(), 'lnmux-client-'));
  let mux: Mux;
  let server: ApiServer;
  let config: MuxConfig;
  let client: LnmuxClient;

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), { identityKey, settlement: { mode: 'hold' } });
    config = parseConfig({ ...muxConfig(cluster(), { identityKey, settlement: { mode: 'hold' } }), api: { listen: '127.0.0.1:0', dataDir } });
    server = await startApiServer({ api: config.api!, config, mux, log: pino({ level: 'silent' }), version: '0.1.0', streamPollMs: 50 });
    client = await LnmuxClient.connect({ address: server.address, tlsCert: join(dataDir, 'tls.cert'), macaroon: join(dataDir, 'admin.macaroon') });
  });
  afterAll(async () => {
    client.close();
    await server.stop();
    await stopMux(cluster(), mux);
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function heldSet(hash: Uint8Array) {
    return waitFor(async () => (await client.listAcceptedSets()).find((s) => hex(s.paymentHash) === hex(hash)), { what: 'the set to be held' });
  }

  it('tells the instance, typed', async () => {
    const info = await client.getInfo();
    expect(info).toMatchObject({ version: '0.1.0', network: 'regtest', role: 'active', autoSettle: false });
    expect(hex(info.identityPubkey)).toBe(mux.nodePubkey);
    expect(info.bestHeight).toBeGreaterThan(0);
    expect(info.nodes.map((n) => [hex(n.pubKey), n.state])).toEqual(cluster().nodeInfos().map((n) => [n.pubkey, 'ready']));
  });

  it('connects with the credentials as bytes, and from the config with the macaroon it names', async () => {
    const byBytes = await LnmuxClient.connect({ address: server.address, tlsCert: readFileSync(join(dataDir, 'tls.cert')), macaroon: readFileSync(join(dataDir, 'readonly.macaroon')) });
    const withPort = { api: { ...config.api!, listen: server.address } };
    const fromConfig = await LnmuxClient.fromConfig(withPort, { macaroon: 'invoice' });
    try {
      expect((await byBytes.getInfo()).role).toBe('active');
      // readonly.macaroon: no invoices:write.
      const [code, details] = await refusal(byBytes.addInvoice({ amountMsat: 1_000n, description: 'x' }));
      expect(code).toBe('PERMISSION_DENIED');
      expect(details).toMatch(/invoices:write/);
      // invoice.macaroon: invoices yes, sets no.
      await fromConfig.addInvoice({ amountMsat: 1_000n, description: 'from the config' });
      expect((await refusal(fromConfig.listAcceptedSets()))[0]).toBe('PERMISSION_DENIED');
    } finally {
      byBytes.close();
      fromConfig.close();
    }
  });

  it('is refused without a valid macaroon (UNAUTHENTICATED), and tells UNAVAILABLE when nothing listens', async () => {
    const forged = await LnmuxClient.connect({ address: server.address, tlsCert: join(dataDir, 'tls.cert'), macaroon: randomBytes(40) });
    const nobody = await LnmuxClient.connect({ address: '127.0.0.1:1', tlsCert: join(dataDir, 'tls.cert'), macaroon: join(dataDir, 'admin.macaroon'), timeoutMs: 5_000 });
    try {
      expect((await refusal(forged.getInfo()))[0]).toBe('UNAUTHENTICATED');
      const error = await nobody.getInfo().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LnmuxClientError);
      expect((error as LnmuxClientError).code).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      forged.close();
      nobody.close();
    }
    await expect(LnmuxClient.connect({ address: server.address, macaroon: randomBytes(8) })).rejects.toThrow(/^tlsCert: required/);
  });

  it('pins the certificate: another one, even for the same address, is refused (UNAVAILABLE)', async () => {
    const other = await createSelfSignedCertificate({ organization: 'not lnmux', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validDays: 1 });
    const impostor = await LnmuxClient.connect({ address: server.address, tlsCert: Buffer.from(other.cert), macaroon: join(dataDir, 'admin.macaroon'), timeoutMs: 5_000 });
    try {
      expect((await refusal(impostor.getInfo()))[0]).toBe('UNAVAILABLE');
    } finally {
      impostor.close();
    }
  });

  it('makes a hold invoice, settles its set with the preimage, and looks it up', async () => {
    const preimage = randomBytes(32);
    const added = await client.addInvoice({ amountMsat: 42_000n, description: 'hold', paymentHash: sha256(preimage), metadata: Buffer.from('order-7') });
    expect(added.preimage).toBeUndefined();
    expect(hex(added.paymentHash)).toBe(hex(sha256(preimage)));
    expect(added.expiresAt.getTime()).toBeGreaterThan(added.createdAt.getTime());
    const paying = cluster().payer.pay(added.paymentRequest);
    const set = await heldSet(added.paymentHash);
    expect(set).toMatchObject({ amountMsat: 42_000n, needsPreimage: true });
    expect(Buffer.from(set.paymentMetadata!).toString()).toBe('order-7');
    expect(set.parts.reduce((sum, p) => sum + p.amountMsat, 0n)).toBe(42_000n);
    const [code, details] = await refusal(client.settleSet(set.setId));
    expect(code).toBe('INVALID_ARGUMENT');
    expect(details).toMatch(/^preimage/);
    await client.settleSet(set.setId, preimage);
    expect((await paying).status).toBe('succeeded');
    const invoice = await client.lookupInvoice(added.paymentHash);
    expect(invoice).toMatchObject({ kind: 'hold', amountMsat: 42_000n, description: 'hold', cancelledAt: undefined });
    expect(['settleCommitted', 'settled']).toContain(invoice.state);
    expect(hex(invoice.preimage)).toBe(hex(preimage));
    expect(hex(invoice.setId)).toBe(hex(set.setId));
    expect((await refusal(client.lookupInvoice(randomBytes(32))))[0]).toBe('NOT_FOUND');
    expect((await refusal(client.cancelInvoice(added.paymentHash)))[0]).toBe('FAILED_PRECONDITION');
  });

  it('cancels a held set and an invoice, and lists by state page by page', async () => {
    const added = await client.addInvoice({ description: 'amountless', minAmountMsat: 5_000n });
    const paying = cluster().payer.pay(added.paymentRequest, { amountMsat: 9_000n });
    const set = await heldSet(added.paymentHash);
    expect(set.amountMsat).toBe(9_000n);
    await client.cancelSet(set.setId);
    expect((await paying).status).toBe('failed');
    const other = await client.addInvoice({ amountMsat: 1_000n, description: 'cancelled' });
    await client.cancelInvoice(other.paymentHash);
    await client.cancelInvoice(other.paymentHash); // idempotent
    const first = await client.listInvoices({ states: ['cancelled'], limit: 1 });
    expect(first.invoices).toHaveLength(1);
    expect(first.nextCursor).toBeTypeOf('bigint');
    const second = await client.listInvoices({ states: ['cancelled'], limit: 1, cursor: first.nextCursor! });
    expect([...first.invoices, ...second.invoices].map((i) => hex(i.paymentHash)).sort()).toEqual([hex(added.paymentHash), hex(other.paymentHash)].sort());
    const amountless = first.invoices.concat(second.invoices).find((i) => hex(i.paymentHash) === hex(added.paymentHash))!;
    expect(amountless).toMatchObject({ amountMsat: undefined, minAmountMsat: 5_000n, state: 'cancelled' });
    expect(amountless.cancelledAt).toBeInstanceOf(Date);
    expect((await refusal(client.listInvoices({ limit: 5_000 })))[0]).toBe('INVALID_ARGUMENT');
  });

  it('streams the invoice changes as an async iterator, resumable from the last index', async () => {
    const subscription = client.subscribeInvoices(0n);
    const seen: InvoiceEvent[] = [];
    const a = await client.addInvoice({ amountMsat: 3_000n, description: 'stream a' });
    for await (const event of subscription) {
      seen.push(event);
      if (hex(event.paymentHash) === hex(a.paymentHash)) subscription.cancel();
    }
    expect(seen.at(-1)).toMatchObject({ kind: 'created', amountMsat: 3_000n });
    expect(seen.map((e) => e.index)).toEqual([...seen.map((e) => e.index)].sort((x, y) => (x < y ? -1 : 1)));
    const last = seen.at(-1)!.index;

    await client.cancelInvoice(a.paymentHash); // while away
    const resumed = client.subscribeInvoices(last);
    const next = await resumed[Symbol.asyncIterator]().next();
    resumed.cancel();
    expect(next.value).toMatchObject({ index: last + 1n, kind: 'cancelled' });
    expect(hex((next.value as InvoiceEvent).paymentHash)).toBe(hex(a.paymentHash));
    // A subscription never iterated, then cancelled: nothing thrown at the process.
    client.subscribeInvoices(0n).cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
});
