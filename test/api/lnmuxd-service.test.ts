/**
 * lnmuxd's lnmux.Service over a Mux stand-in, through a real grpc-js client and server: the statuses of
 * docs/api.md (idempotent settle, FAILED_PRECONDITION for a cancel after settle, UNAVAILABLE in auto mode,
 * NOT_FOUND, INVALID_ARGUMENT naming the field) and the shapes of the answers. The stand-in makes real
 * invoices (makeInvoice with a throwaway key) and plays the Mux's events; test/api/python-client.test.ts
 * runs the real thing end to end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietFor, waitUntil } from '../support/wait.js';
import { LnmuxdService, startApiServer, lnmuxdService, type ApiServer } from '../../src/api/index.js';
import { ConfigError, parseConfig } from '../../src/mux/config.js';
import { bytesToHex } from '../../src/protocol/index.js';
import { NODE, StandInMux } from './stand-in-mux.js';

const silent = pino({ level: 'silent' });

type Client = grpc.Client & Record<string, (request: object, callback: (error: grpc.ServiceError | null, response: Record<string, unknown>) => void) => grpc.ClientUnaryCall>;

function call(client: Client, method: string, request: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    client[method]!(request, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** The gRPC status a call ends with: 'OK' or the code's name, and its details. */
async function statusOf(client: Client, method: string, request: object): Promise<{ code: string; details: string }> {
  try {
    await call(client, method, request);
    return { code: 'OK', details: '' };
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: grpc.status[e.code], details: e.details };
  }
}

function config(mode: 'auto' | 'hold') {
  return parseConfig({
    network: 'regtest',
    identityKey: '11'.repeat(32),
    nodes: [{ pubkey: NODE, address: '127.0.0.1:1', tlsCertPath: 'x', macaroonPath: 'y' }],
    settlement: { mode },
    // The service's semantics, over lnmuxd's plaintext; TLS and macaroons: test/api/auth.test.ts.
    api: { listen: '127.0.0.1:0', insecurePlaintext: true },
  });
}

async function serve(mux: StandInMux, mode: 'auto' | 'hold'): Promise<{ server: ApiServer; client: Client }> {
  const c = config(mode);
  const server = await startApiServer({ api: c.api!, config: c, mux, log: silent, finalStatusPollMs: 50 });
  const Service = lnmuxdService();
  const client = new Service(server.address, grpc.credentials.createInsecure()) as unknown as Client;
  return { server, client };
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

describe('lnmuxd lnmux.Service, hold mode', () => {
  const mux = new StandInMux();
  let server: ApiServer;
  let client: Client;
  beforeAll(async () => {
    ({ server, client } = await serve(mux, 'hold'));
  });
  afterAll(async () => {
    client.close();
    await server.stop();
  });

  /** An invoice made over the API, and its set accepted. */
  async function acceptedInvoice(amtMsat = 5000): Promise<{ hash: Buffer; setId: Buffer; preimage: Buffer }> {
    const added = await call(client, 'AddInvoice', { amt_msat: amtMsat, description: 'test', expiry_secs: 600 });
    const hash = added['hash'] as Buffer;
    const setId = Buffer.from(mux.accept(hash), 'hex');
    return { hash, setId, preimage: added['preimage'] as Buffer };
  }

  it('GetInfo: the virtual node, the network, the cluster nodes, the mode', async () => {
    const info = await call(client, 'GetInfo', {});
    expect(bytesToHex(info['pub_key'] as Buffer)).toBe(mux.nodePubkey);
    expect(info['network']).toBe('regtest');
    expect((info['nodes'] as { pub_key: Buffer }[]).map((n) => bytesToHex(n.pub_key))).toEqual([NODE]);
    expect(info['auto_settle']).toBe(false);
  });

  it('AddInvoice returns the payment request, the preimage and its hash', async () => {
    const added = await call(client, 'AddInvoice', { amt_msat: 21_000, description: 'coffee', expiry_secs: 600 });
    expect(added['payment_request']).toMatch(/^lnbcrt210n1/);
    expect(sha256(added['preimage'] as Buffer)).toEqual(added['hash']);
    const stored = await mux.getInvoice(added['hash'] as Buffer);
    expect(stored?.amountMsat).toBe(21_000n);
    const withHash = await call(client, 'AddInvoice', { amt_msat: 1, description_hash: randomBytes(32), expiry_secs: 1 });
    expect((await mux.getInvoice(withHash['hash'] as Buffer))?.description.kind).toBe('hash');
    // Neither description nor hash: an empty description, as lnmuxd writes.
    const neither = await call(client, 'AddInvoice', { amt_msat: 1, expiry_secs: 1 });
    expect((await mux.getInvoice(neither['hash'] as Buffer))?.description).toEqual({ kind: 'text', text: '' });
  });

  it('AddInvoice refuses bad input with INVALID_ARGUMENT naming the field', async () => {
    const cases: [object, string][] = [
      [{ amt_msat: 0, expiry_secs: 600 }, 'amt_msat'],
      [{ amt_msat: -5, expiry_secs: 600 }, 'amt_msat'],
      [{ amt_msat: 1000, expiry_secs: 0 }, 'expiry_secs'],
      [{ amt_msat: 1000, expiry_secs: 10 * 365 * 24 * 3600 }, 'expiry_secs'],
      [{ amt_msat: 1000, expiry_secs: 600, description_hash: randomBytes(31) }, 'description_hash'],
      [{ amt_msat: 1000, expiry_secs: 600, description: 'x', description_hash: randomBytes(32) }, 'description'],
      [{ amt_msat: 1000, expiry_secs: 600, description: 'x'.repeat(640) }, 'description'],
    ];
    for (const [request, field] of cases) {
      const s = await statusOf(client, 'AddInvoice', request);
      expect(s.code, JSON.stringify(request)).toBe('INVALID_ARGUMENT');
      expect(s.details.startsWith(`${field}: `), s.details).toBe(true);
    }
  });

  it('SettleInvoice twice is OK twice (idempotent) and settles once; a cancel after it is FAILED_PRECONDITION', async () => {
    const { hash, setId } = await acceptedInvoice();
    const before = mux.settleCalls;
    const [first, concurrent] = await Promise.all([
      statusOf(client, 'SettleInvoice', { hash, set_id: setId }),
      statusOf(client, 'SettleInvoice', { hash, set_id: setId }),
    ]);
    expect([first.code, concurrent.code]).toEqual(['OK', 'OK']);
    expect(await statusOf(client, 'SettleInvoice', { hash, set_id: setId })).toEqual({ code: 'OK', details: '' });
    expect(mux.settleCalls - before).toBe(1);
    expect((await mux.getInvoice(hash))?.state).toBe('settleCommitted');
    const cancel = await statusOf(client, 'CancelInvoice', { hash, set_id: setId });
    expect(cancel.code).toBe('FAILED_PRECONDITION');
    expect(cancel.details).toContain('settle already requested');
    // Another set of a settled invoice is unknown, as in lnmuxd.
    expect((await statusOf(client, 'SettleInvoice', { hash, set_id: randomBytes(32) })).code).toBe('NOT_FOUND');
    expect((await statusOf(client, 'CancelInvoice', { hash, set_id: randomBytes(32) })).code).toBe('NOT_FOUND');
  });

  it('a cancel while the settle is under way is FAILED_PRECONDITION too', async () => {
    const { hash, setId } = await acceptedInvoice();
    const settling = statusOf(client, 'SettleInvoice', { hash, set_id: setId });
    // Not a synchronisation: it lets the settle reach the server first most of the time; if it has
    // finished already the cancel is FAILED_PRECONDITION all the same.
    await quietFor(5);
    expect((await statusOf(client, 'CancelInvoice', { hash, set_id: setId })).code).toBe('FAILED_PRECONDITION');
    expect((await settling).code).toBe('OK');
  });

  it('NOT_FOUND: an unknown hash, an invoice without an accepted set, another set than the accepted one', async () => {
    for (const method of ['SettleInvoice', 'CancelInvoice']) {
      const unknown = await statusOf(client, method, { hash: randomBytes(32), set_id: randomBytes(32) });
      expect(unknown).toEqual({ code: 'NOT_FOUND', details: 'hash: invoice not found' });
    }
    expect((await statusOf(client, 'WaitForInvoiceFinalStatus', { hash: randomBytes(32) })).code).toBe('NOT_FOUND');
    const open = await call(client, 'AddInvoice', { amt_msat: 1000, description: 'open', expiry_secs: 600 });
    const noSet = await statusOf(client, 'SettleInvoice', { hash: open['hash'], set_id: randomBytes(32) });
    expect(noSet).toEqual({ code: 'NOT_FOUND', details: 'set_id: the invoice has no accepted set' });
    // lnmuxd's database knows no invoice before its settle is requested.
    expect((await statusOf(client, 'WaitForInvoiceFinalStatus', { hash: open['hash'] })).code).toBe('NOT_FOUND');
    const { hash, setId } = await acceptedInvoice();
    const other = await statusOf(client, 'SettleInvoice', { hash, set_id: randomBytes(32) });
    expect(other.code).toBe('NOT_FOUND');
    expect(other.details).toContain(`accepted set is ${setId.toString('hex')}`);
  });

  it('CancelInvoice of the accepted set releases it and cancels the invoice for good; a settle after it is NOT_FOUND', async () => {
    const { hash, setId } = await acceptedInvoice();
    expect(await statusOf(client, 'CancelInvoice', { hash, set_id: setId })).toEqual({ code: 'OK', details: '' });
    expect((await mux.getInvoice(hash))?.state).toBe('cancelled');
    expect((await statusOf(client, 'SettleInvoice', { hash, set_id: setId })).code).toBe('NOT_FOUND');
    expect((await statusOf(client, 'CancelInvoice', { hash, set_id: setId })).code).toBe('NOT_FOUND');
  });

  it('refuses a hash or set_id that is not 32 bytes with INVALID_ARGUMENT naming the field', async () => {
    for (const method of ['SettleInvoice', 'CancelInvoice']) {
      expect(await statusOf(client, method, { set_id: randomBytes(32) })).toEqual({ code: 'INVALID_ARGUMENT', details: 'hash: expected 32 bytes, got none' });
      expect(await statusOf(client, method, { hash: randomBytes(32), set_id: randomBytes(33) })).toEqual({
        code: 'INVALID_ARGUMENT',
        details: 'set_id: expected 32 bytes, got 33',
      });
    }
    expect((await statusOf(client, 'WaitForInvoiceFinalStatus', { hash: randomBytes(8) })).details).toBe('hash: expected 32 bytes, got 8');
  });

  it('WaitForInvoiceFinalStatus waits for SETTLED, or FAILED, and answers at once for a final invoice', async () => {
    const a = await acceptedInvoice();
    await call(client, 'SettleInvoice', { hash: a.hash, set_id: a.setId });
    const waiting = call(client, 'WaitForInvoiceFinalStatus', { hash: a.hash });
    // Lets the call wait before the invoice turns final (the path under test); were it late, it would
    // answer at once with the same status.
    await quietFor(30);
    mux.finalize(a.hash, true);
    expect(await waiting).toEqual({ invoice_status: 'SETTLED' });
    expect(await call(client, 'WaitForInvoiceFinalStatus', { hash: a.hash })).toEqual({ invoice_status: 'SETTLED' });

    const b = await acceptedInvoice();
    await call(client, 'SettleInvoice', { hash: b.hash, set_id: b.setId });
    const failing = call(client, 'WaitForInvoiceFinalStatus', { hash: b.hash });
    await quietFor(30); // as above
    mux.finalize(b.hash, false);
    expect(await failing).toEqual({ invoice_status: 'FAILED' });
  });

  it('SubscribeInvoiceAccepted sends the sets held now, then each new one', async () => {
    const held = await acceptedInvoice();
    const stream = (client as unknown as { SubscribeInvoiceAccepted(r: object): grpc.ClientReadableStream<{ hash: Buffer; set_id: Buffer }> }).SubscribeInvoiceAccepted({});
    const seen: string[] = [];
    stream.on('data', (m) => seen.push(`${m.hash.toString('hex')}/${m.set_id.toString('hex')}`));
    stream.on('error', () => {});
    await waitUntil(() => seen.includes(`${held.hash.toString('hex')}/${held.setId.toString('hex')}`), { what: 'the held set on the stream' });
    const next = await acceptedInvoice();
    await waitUntil(() => seen.includes(`${next.hash.toString('hex')}/${next.setId.toString('hex')}`), { what: 'the next set on the stream' });
    stream.cancel();
  });

  it('ListInvoices: invoices whose settle was requested, with hash and preimage in their places, from sequence_start', async () => {
    expect(await statusOf(client, 'ListInvoices', { max_invoices_count: 0 })).toEqual({
      code: 'INVALID_ARGUMENT',
      details: 'max_invoices_count: expected at least 1',
    });
    const { hash, setId, preimage } = await acceptedInvoice(7777);
    await call(client, 'SettleInvoice', { hash, set_id: setId });
    const all = await call(client, 'ListInvoices', { max_invoices_count: 1000 });
    const listed = all['invoice'] as Record<string, unknown>[];
    expect(listed.every((i) => i['status'] !== 'UNKNOWN')).toBe(true);
    const mine = listed.find((i) => (i['hash'] as Buffer).equals(hash))!;
    expect(mine).toMatchObject({ preimage, amount_msat: '7777', status: 'SETTLE_REQUESTED', finalized_at: '0' });
    expect(Number(mine['settle_requested_at'])).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(all['first_sequence_number']).toBe(listed[0]!['sequence_number']);
    expect(all['last_sequence_number']).toBe(listed.at(-1)!['sequence_number']);
    // sequence_start is inclusive; max_invoices_count bounds the page.
    const from = await call(client, 'ListInvoices', { max_invoices_count: 1, sequence_start: mine['sequence_number'] });
    expect((from['invoice'] as Record<string, unknown>[]).map((i) => i['sequence_number'])).toEqual([mine['sequence_number']]);
    const past = await call(client, 'ListInvoices', { max_invoices_count: 5, sequence_start: '1000000' });
    expect(past).toEqual({ invoice: [], first_sequence_number: '0', last_sequence_number: '0' });
  });

  it('forgets the held sets when the instance goes back to standby (they went with its term)', async () => {
    const { hash, setId } = await acceptedInvoice();
    mux.emit('role', { role: 'standby' });
    expect((await statusOf(client, 'SettleInvoice', { hash, set_id: setId })).details).toBe('set_id: the invoice has no accepted set');
  });

  it('a standby holds no sets: SettleInvoice is UNAVAILABLE there', async () => {
    const added = await call(client, 'AddInvoice', { amt_msat: 1000, expiry_secs: 600 });
    mux.role = 'standby';
    try {
      expect((await statusOf(client, 'SettleInvoice', { hash: added['hash'], set_id: randomBytes(32) })).code).toBe('UNAVAILABLE');
    } finally {
      mux.role = 'active';
    }
  });
});

describe('lnmuxd lnmux.Service, auto mode', () => {
  it('SettleInvoice is UNAVAILABLE (sets settle without it); GetInfo says auto_settle', async () => {
    const mux = new StandInMux();
    const { server, client } = await serve(mux, 'auto');
    try {
      expect((await call(client, 'GetInfo', {}))['auto_settle']).toBe(true);
      const added = await call(client, 'AddInvoice', { amt_msat: 1000, expiry_secs: 600 });
      for (const hash of [added['hash'], randomBytes(32)]) {
        const s = await statusOf(client, 'SettleInvoice', { hash, set_id: randomBytes(32) });
        expect(s.code).toBe('UNAVAILABLE');
        expect(s.details).toContain('auto-settle mode');
      }
    } finally {
      client.close();
      await server.stop();
    }
  });
});

describe('lnmuxd lnmux.Service, a subscriber that does not keep up', () => {
  it('is cut off with RESOURCE_EXHAUSTED once its queue is full, and the others go on', () => {
    const mux = new StandInMux();
    const service = new LnmuxdService({ mux, info: { network: 'regtest', nodePubkeys: [NODE], autoSettle: false }, log: silent, subscriberQueueSize: 2 });
    const stuck = Object.assign(new EventEmitter(), { written: 0, write: () => ((stuck.written += 1), false), end: () => {} });
    const errors: grpc.ServiceError[] = [];
    stuck.on('error', (e: grpc.ServiceError) => errors.push(e));
    const handler = service.handlers()['SubscribeInvoiceAccepted'] as (call: unknown) => void;
    handler(stuck);
    for (let i = 0; i < 4; i++) mux.emit('accepted', { paymentHash: bytesToHex(randomBytes(32)), setId: bytesToHex(randomBytes(32)), amountMsat: 1n, htlcs: [], needsPreimage: false });
    // One written into the call's buffer (which said "full"), two queued, the fourth overflows.
    expect(stuck.written).toBe(1);
    expect(errors.map((e) => grpc.status[e.code!])).toEqual(['RESOURCE_EXHAUSTED']);
    service.close();
  });
});

describe('the API server', () => {
  it('refuses insecurePlaintext, naming it, on an address that is not loopback, even given past the config schema', async () => {
    const c = config('hold');
    const start = (listen: string) => startApiServer({ api: { ...c.api!, listen }, config: c, mux: new StandInMux(), log: silent });
    await expect(start('0.0.0.0:0')).rejects.toThrow(ConfigError);
    await expect(start('0.0.0.0:0')).rejects.toThrow(/^api\.insecurePlaintext: /);
  });
});
