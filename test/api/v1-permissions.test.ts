/**
 * lnmux.v1.Lnmux's access policy (src/api/permissions.ts, docs/api.md): each macaroon × each RPC, first
 * through `authorize`, then through a real TLS server and grpc-js client (PERMISSION_DENIED naming the
 * permission, UNAUTHENTICATED without a macaroon); health checking and reflection answer without one.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, lnmuxV1Service, MACAROON_KINDS, MACAROON_PERMISSIONS, METHOD_PERMISSIONS, startApiServer, type ApiServer, type MacaroonKind } from '../../src/api/index.js';
import { mintMacaroon } from '../../src/credentials/index.js';
import { parseConfig } from '../../src/mux/config.js';
import { NODE, StandInMux } from './stand-in-mux.js';

const SERVICE = '/lnmux.v1.Lnmux/';
const METHODS = ['GetInfo', 'AddInvoice', 'LookupInvoice', 'ListInvoices', 'CancelInvoice', 'SubscribeInvoices', 'ListAcceptedSets', 'SettleSet', 'CancelSet'] as const;
type Method = (typeof METHODS)[number];

/** What docs/api.md states each macaroon may call. */
const ALLOWED: Record<MacaroonKind, readonly Method[]> = {
  admin: METHODS,
  invoice: ['GetInfo', 'AddInvoice', 'LookupInvoice', 'ListInvoices', 'CancelInvoice', 'SubscribeInvoices'],
  readonly: ['GetInfo', 'LookupInvoice', 'ListInvoices', 'SubscribeInvoices', 'ListAcceptedSets'],
};

/** Valid requests, so that only the macaroon decides (NOT_FOUND counts as let through). */
const REQUEST: Record<Method, object> = {
  GetInfo: {},
  AddInvoice: { amount_msat: 1000, description: 'auth' },
  LookupInvoice: { payment_hash: Buffer.alloc(32, 1) },
  ListInvoices: { limit: 10 },
  CancelInvoice: { payment_hash: Buffer.alloc(32, 1) },
  SubscribeInvoices: { from_index: 0 },
  ListAcceptedSets: {},
  SettleSet: { set_id: Buffer.alloc(32, 2) },
  CancelSet: { set_id: Buffer.alloc(32, 2) },
};

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

describe('lnmux.v1.Lnmux permissions', () => {
  it('every RPC has a permission; each macaroon is allowed exactly its RPCs (authorize)', () => {
    const served = Object.values(lnmuxV1Service().service).map((m) => m.path).sort();
    expect(served).toEqual(METHODS.map((m) => SERVICE + m).sort());
    const rootKey = Buffer.alloc(32, 5);
    for (const kind of MACAROON_KINDS) {
      const mac = Buffer.from(mintMacaroon(rootKey, { location: 'lnmux', ops: MACAROON_PERMISSIONS[kind] })).toString('hex');
      for (const method of METHODS) {
        const verdict = authorize(rootKey, SERVICE + method, [mac], new Date());
        const needed = METHOD_PERMISSIONS[SERVICE + method]!;
        expect({ kind, method, ok: verdict.ok, message: verdict.ok ? '' : verdict.error.message }).toEqual({
          kind,
          method,
          ok: ALLOWED[kind].includes(method),
          message: ALLOWED[kind].includes(method) ? '' : expect.stringContaining(`lacks ${needed.entity}:${needed.action}`),
        });
      }
    }
  });

  describe('through a TLS server', () => {
    let server: ApiServer;
    let client: Client;
    beforeAll(async () => {
      const c = parseConfig({
        network: 'regtest',
        identityKey: '11'.repeat(32),
        nodes: [{ pubkey: NODE, address: '127.0.0.1:1', tlsCertPath: 'x', macaroonPath: 'y' }],
        settlement: { mode: 'hold' },
        api: { listen: '127.0.0.1:0', dataDir: mkdtempSync(join(tmpdir(), 'lnmux-v1-auth-')) },
      });
      server = await startApiServer({ api: c.api!, config: c, mux: new StandInMux(), log: pino({ level: 'silent' }), version: '9.9.9' });
      const Service = lnmuxV1Service();
      client = new Service(server.address, grpc.credentials.createSsl(server.credentials!.tls.cert)) as unknown as Client;
    });
    afterAll(async () => {
      client.close();
      await server.stop();
    });

    async function statusOf(method: Method, macaroonHex: string | undefined): Promise<string> {
      const metadata = new grpc.Metadata();
      if (macaroonHex !== undefined) metadata.set('macaroon', macaroonHex);
      if (method === 'SubscribeInvoices') {
        const stream = client[method]!(REQUEST[method], metadata) as grpc.ClientReadableStream<unknown>;
        return new Promise((resolve) => {
          const open = setTimeout(() => {
            stream.cancel();
            resolve('OK');
          }, 300);
          stream.on('data', () => {});
          stream.on('error', (e: grpc.ServiceError) => {
            clearTimeout(open);
            resolve(e.code === grpc.status.CANCELLED ? 'OK' : grpc.status[e.code]!);
          });
        });
      }
      return new Promise((resolve) => {
        client[method]!(REQUEST[method], metadata, { deadline: Date.now() + 5_000 }, (error: grpc.ServiceError | null) =>
          resolve(error === null ? 'OK' : grpc.status[error.code]!),
        );
      });
    }

    it('refuses every RPC without a macaroon, and each macaroon outside its permissions', async () => {
      const letThrough = new Set(['OK', 'NOT_FOUND']);
      for (const method of METHODS) expect({ method, status: await statusOf(method, undefined) }).toEqual({ method, status: 'UNAUTHENTICATED' });
      for (const kind of MACAROON_KINDS) {
        const mac = server.credentials!.macaroonPaths[kind];
        const { readFileSync } = await import('node:fs');
        const macHex = readFileSync(mac).toString('hex');
        for (const method of METHODS) {
          const status = await statusOf(method, macHex);
          const allowed = ALLOWED[kind].includes(method);
          expect({ kind, method, allowed: letThrough.has(status), status: allowed ? 'let through' : status }).toEqual({
            kind,
            method,
            allowed,
            status: allowed ? 'let through' : 'PERMISSION_DENIED',
          });
        }
      }
    });

    it('answers health checks without a macaroon: SERVING for the server and each service', async () => {
      const { service } = await import('grpc-health-check');
      const Health = grpc.makeGenericClientConstructor(service as grpc.ServiceDefinition, 'Health');
      const health = new Health(server.address, grpc.credentials.createSsl(server.credentials!.tls.cert)) as unknown as Client;
      try {
        for (const name of ['', 'lnmux.Service', 'lnmux.v1.Lnmux']) {
          const answer = await new Promise<unknown>((resolve, reject) =>
            health['check']!({ service: name }, (error: grpc.ServiceError | null, response: unknown) => (error ? reject(error) : resolve(response))),
          );
          expect(answer).toMatchObject({ status: 'SERVING' });
        }
      } finally {
        health.close();
      }
    });
  });
});
