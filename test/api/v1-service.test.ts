/**
 * lnmux.v1.Lnmux end to end: a real Mux over the simulated cluster (hold mode), the API server in front
 * of it, a grpc-js client generated from proto/lnmux/v1/lnmux.proto. The invoice kinds through the API
 * (amountless, a hold invoice settled with its preimage, a wrong or missing preimage refused) and the
 * durable stream: a subscriber that disconnects and resumes from its last index misses nothing that
 * changed while it was away, and sees nothing twice.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lnmuxV1Service, startApiServer, type ApiServer } from '../../src/api/index.js';
import type { Mux } from '../../src/mux/mux.js';
import { parseConfig } from '../../src/mux/config.js';
import { muxConfig, newIdentityKey, startMux, stopMux } from '../e2e/support/mux.js';
import { describeEachBackend, useCluster, useStore } from '../e2e/support/setup.js';
import { waitUntil } from '../support/wait.js';

type Message = Record<string, unknown>;
type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();
const hex = (value: unknown): string => Buffer.from(value as Uint8Array).toString('hex');

function call(client: Client, method: string, request: object): Promise<Message> {
  return new Promise((resolve, reject) => {
    client[method]!(request, (error: grpc.ServiceError | null, response: Message) => (error ? reject(error) : resolve(response)));
  });
}

async function statusOf(client: Client, method: string, request: object): Promise<{ code: string; details: string }> {
  try {
    await call(client, method, request);
    return { code: 'OK', details: '' };
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: grpc.status[e.code]!, details: e.details };
  }
}

/** A subscription that collects events until closed. */
function subscribe(client: Client, fromIndex: bigint): { events: Message[]; close: () => void; ended: Promise<grpc.ServiceError | undefined> } {
  const stream = client['SubscribeInvoices']!({ from_index: String(fromIndex) }) as grpc.ClientReadableStream<Message>;
  const events: Message[] = [];
  stream.on('data', (event: Message) => events.push(event));
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    stream.on('error', (error: grpc.ServiceError) => resolve(error.code === grpc.status.CANCELLED ? undefined : error));
    stream.on('end', () => resolve(undefined));
  });
  return { events, close: () => stream.cancel(), ended };
}

describeEachBackend('lnmux.v1.Lnmux over the simulator (%s)', (backend) => {
  const cluster = useCluster();
  const { store } = useStore(backend);
  const identityKey = newIdentityKey();
  let mux: Mux;
  let server: ApiServer;
  let client: Client;

  beforeAll(async () => {
    mux = await startMux(cluster(), store(), { identityKey, settlement: { mode: 'hold' } });
    const config = parseConfig({ ...muxConfig(cluster(), { identityKey, settlement: { mode: 'hold' } }), api: { listen: '127.0.0.1:0', insecurePlaintext: true } });
    server = await startApiServer({ api: config.api!, config, mux, log: pino({ level: 'silent' }), version: '0.1.0', streamPollMs: 50 });
    const Service = lnmuxV1Service();
    client = new Service(server.address, grpc.credentials.createInsecure()) as unknown as Client;
  });
  afterAll(async () => {
    client.close();
    await server.stop();
    await stopMux(cluster(), mux);
  });

  /** Waits for the set of `hash` in ListAcceptedSets. */
  async function acceptedSet(hash: Buffer): Promise<Message> {
    let found: Message | undefined;
    await waitUntil(async () => {
      const { sets } = await call(client, 'ListAcceptedSets', {});
      found = (sets as Message[]).find((s) => hex(s['payment_hash']) === hash.toString('hex'));
      return found !== undefined;
    }, { what: 'the set to be accepted' });
    return found!;
  }

  it('tells the instance: version, identity, network, role, height and each node', async () => {
    const info = await call(client, 'GetInfo', {});
    expect(info).toMatchObject({ version: '0.1.0', network: 'regtest', role: 'ROLE_ACTIVE', auto_settle: false });
    expect(hex(info['identity_pubkey'])).toBe(mux.nodePubkey);
    expect(info['best_height']).toBeGreaterThan(0);
    expect((info['nodes'] as Message[]).map((n) => [hex(n['pub_key']), n['state'], n['interceptor']])).toEqual(
      cluster().nodeInfos().map((n) => [n.pubkey, 'ready', 'open']),
    );
  });

  it('makes an amountless invoice with a minimum, paid with the amount the payer chose', async () => {
    const added = await call(client, 'AddInvoice', { min_amount_msat: 1_000, description: 'tip' });
    expect(await statusOf(client, 'AddInvoice', { min_amount_msat: 1_000, amount_msat: 5_000, description: 'x' })).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^min_amount_msat/) });
    const hash = added['payment_hash'] as Buffer;
    const paying = cluster().payer.pay(added['payment_request'] as string, { amountMsat: 77_000n });
    const set = await acceptedSet(hash);
    expect(set).toMatchObject({ amount_msat: '77000', needs_preimage: false });
    await call(client, 'SettleSet', { set_id: set['set_id'] });
    expect((await paying).status).toBe('succeeded');
    const invoice = await call(client, 'LookupInvoice', { payment_hash: hash });
    expect(invoice).toMatchObject({ amount_msat: '0', min_amount_msat: '1000', kind: 'INVOICE_KIND_STATELESS' });
    expect(['INVOICE_STATE_SETTLE_COMMITTED', 'INVOICE_STATE_SETTLED']).toContain(invoice['state']);
    expect(hex(invoice['preimage'])).toBe(hex(added['preimage']));
  });

  it('settles a hold invoice only with its preimage: missing or wrong is INVALID_ARGUMENT, and the set stays held', async () => {
    const preimage = randomBytes(32);
    const added = await call(client, 'AddInvoice', { amount_msat: 50_000, description: 'escrow', payment_hash: sha256(preimage), metadata: Buffer.from('order-42') });
    expect(hex(added['preimage'])).toBe(''); // the application has it
    const hash = added['payment_hash'] as Buffer;
    expect(hash.toString('hex')).toBe(sha256(preimage).toString('hex'));
    const paying = cluster().payer.pay(added['payment_request'] as string);
    const set = await acceptedSet(hash);
    expect(set).toMatchObject({ amount_msat: '50000', needs_preimage: true });
    expect(Buffer.from(set['payment_metadata'] as Buffer).toString()).toBe('order-42');
    expect(await statusOf(client, 'SettleSet', { set_id: set['set_id'] })).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^preimage/) });
    expect(await statusOf(client, 'SettleSet', { set_id: set['set_id'], preimage: randomBytes(32) })).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^preimage/) });
    expect(await statusOf(client, 'SettleSet', { set_id: set['set_id'], preimage: Buffer.alloc(31) })).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^preimage: expected 32 bytes/) });
    await acceptedSet(hash); // still held
    await call(client, 'SettleSet', { set_id: set['set_id'], preimage });
    await call(client, 'SettleSet', { set_id: set['set_id'], preimage }); // idempotent
    expect((await paying).status).toBe('succeeded');
    const invoice = await call(client, 'LookupInvoice', { payment_hash: hash });
    expect(invoice).toMatchObject({ kind: 'INVOICE_KIND_HOLD' });
    expect(hex(invoice['preimage'])).toBe(preimage.toString('hex'));
    expect(await statusOf(client, 'CancelInvoice', { payment_hash: hash })).toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(await statusOf(client, 'SettleSet', { set_id: randomBytes(32) })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await statusOf(client, 'LookupInvoice', { payment_hash: randomBytes(32) })).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses a held set with CancelSet: the invoice is cancelled for good and the payment fails', async () => {
    const added = await call(client, 'AddInvoice', { amount_msat: 20_000, description: 'refused' });
    const hash = added['payment_hash'] as Buffer;
    const paying = cluster().payer.pay(added['payment_request'] as string);
    const set = await acceptedSet(hash);
    await call(client, 'CancelSet', { set_id: set['set_id'] });
    expect((await paying).status).toBe('failed');
    expect(await call(client, 'LookupInvoice', { payment_hash: hash })).toMatchObject({ state: 'INVOICE_STATE_CANCELLED' });
    const listed = await call(client, 'ListInvoices', { states: ['INVOICE_STATE_CANCELLED'], limit: 10 });
    expect((listed['invoices'] as Message[]).map((i) => hex(i['payment_hash']))).toContain(hash.toString('hex'));
  });

  it('resumes the invoice stream from the last index seen: what changed while away arrives, nothing twice', async () => {
    const first = subscribe(client, 0n);
    const a = await call(client, 'AddInvoice', { amount_msat: 30_000, description: 'a' });
    const aHash = hex(a['payment_hash']);
    await waitUntil(() => first.events.some((e) => hex(e['payment_hash']) === aHash), { what: 'the stream to tell a created' });
    first.close();
    await first.ended;
    const seen = first.events;
    const last = BigInt(seen.at(-1)!['index'] as string);
    expect(seen.map((e) => BigInt(e['index'] as string))).toEqual([...seen.map((e) => BigInt(e['index'] as string))].sort((x, y) => (x < y ? -1 : 1)));

    // Away: a new invoice, a cancel, and a payment held then settled.
    const b = await call(client, 'AddInvoice', { amount_msat: 10_000, description: 'b' });
    await call(client, 'CancelInvoice', { payment_hash: b['payment_hash'] });
    const paying = cluster().payer.pay(a['payment_request'] as string);
    const set = await acceptedSet(a['payment_hash'] as Buffer);
    await call(client, 'SettleSet', { set_id: set['set_id'] });
    expect((await paying).status).toBe('succeeded');
    await waitUntil(async () => (await call(client, 'LookupInvoice', { payment_hash: a['payment_hash'] }))['state'] === 'INVOICE_STATE_SETTLED', { what: 'a settled' });

    const second = subscribe(client, last);
    const bHash = hex(b['payment_hash']);
    const kinds = (hash: string) => second.events.filter((e) => hex(e['payment_hash']) === hash).map((e) => e['kind']);
    await waitUntil(() => kinds(aHash).includes('INVOICE_EVENT_KIND_SETTLED') && kinds(bHash).includes('INVOICE_EVENT_KIND_CANCELLED'), { what: 'the changes made while away' });
    second.close();
    await second.ended;
    expect(kinds(bHash)).toEqual(['INVOICE_EVENT_KIND_CREATED', 'INVOICE_EVENT_KIND_CANCELLED']);
    expect(kinds(aHash)).toEqual(['INVOICE_EVENT_KIND_ACCEPTED', 'INVOICE_EVENT_KIND_SETTLE_COMMITTED', 'INVOICE_EVENT_KIND_SETTLED']);
    const indexes = second.events.map((e) => BigInt(e['index'] as string));
    expect(indexes[0]).toBe(last + 1n);
    expect(new Set(indexes).size).toBe(indexes.length);
    expect(indexes.every((i) => i > last)).toBe(true);
    expect(second.events.find((e) => e['kind'] === 'INVOICE_EVENT_KIND_SETTLE_COMMITTED' && hex(e['payment_hash']) === aHash)).toMatchObject({ amount_msat: '30000' });
  });
});
