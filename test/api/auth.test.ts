/**
 * Secure by default: the API over TLS (a self-signed certificate made at first start, or the operator's
 * own) with a macaroon on every call. The policy (src/api/permissions.ts) call by call and macaroon by
 * macaroon through `authorize`, then through a real grpc-js client and server: UNAUTHENTICATED without a
 * valid macaroon, PERMISSION_DENIED without the permission, plaintext refused, the files and their
 * modes, reused on restart, and config errors naming the field.
 */
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorize,
  lnmuxdService,
  lnmuxV1Service,
  MACAROON_KINDS,
  METHOD_PERMISSIONS,
  startApiServer,
  type ApiServer,
  type MacaroonKind,
} from '../../src/api/index.js';
import { addFirstPartyCaveat, createSelfSignedCertificate, mintMacaroon } from '../../src/credentials/index.js';
import { ConfigError, parseConfig, type ApiConfig } from '../../src/mux/config.js';
import { NODE, StandInMux } from './stand-in-mux.js';

const silent = pino({ level: 'silent' });
const SERVICE = '/lnmux.Service/';
const METHODS = ['GetInfo', 'AddInvoice', 'SubscribeInvoiceAccepted', 'WaitForInvoiceFinalStatus', 'ListInvoices', 'SettleInvoice', 'CancelInvoice'] as const;

/** The access policy docs/api.md states: the methods each macaroon may call. */
const ALLOWED: Record<MacaroonKind, readonly (typeof METHODS)[number][]> = {
  admin: METHODS,
  invoice: ['GetInfo', 'AddInvoice', 'SubscribeInvoiceAccepted', 'WaitForInvoiceFinalStatus', 'ListInvoices'],
  readonly: ['GetInfo', 'SubscribeInvoiceAccepted', 'WaitForInvoiceFinalStatus', 'ListInvoices'],
};

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function config(api: Partial<ApiConfig> & { dataDir: string }) {
  return parseConfig({
    network: 'regtest',
    identityKey: '11'.repeat(32),
    nodes: [{ pubkey: NODE, address: '127.0.0.1:1', tlsCertPath: 'x', macaroonPath: 'y' }],
    settlement: { mode: 'hold' },
    api: { listen: '127.0.0.1:0', ...api },
  });
}

async function start(api: Partial<ApiConfig> & { dataDir: string }): Promise<ApiServer> {
  const c = config(api);
  return startApiServer({ api: c.api!, config: c, mux: new StandInMux(), log: silent, finalStatusPollMs: 50 });
}

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;
type Client = grpc.Client & Record<string, (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => grpc.ClientUnaryCall>;
type StreamClient = grpc.Client & Record<string, (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<unknown>>;

function tlsClient(server: ApiServer, cert: Buffer = server.credentials!.tls.cert): Client {
  const Service = lnmuxdService();
  return new Service(server.address, grpc.credentials.createSsl(cert)) as unknown as Client;
}

function metadataWith(macaroonHex: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (macaroonHex !== undefined) metadata.set('macaroon', macaroonHex);
  return metadata;
}

/** A representative request per method: valid input, so that only the macaroon decides. */
const REQUEST: Record<(typeof METHODS)[number], object> = {
  GetInfo: {},
  AddInvoice: { amt_msat: 1000, description: 'auth', expiry_secs: 600 },
  SubscribeInvoiceAccepted: {},
  WaitForInvoiceFinalStatus: { hash: Buffer.alloc(32, 1) },
  ListInvoices: { max_invoices_count: 10 },
  SettleInvoice: { hash: Buffer.alloc(32, 1), set_id: Buffer.alloc(32, 2) },
  CancelInvoice: { hash: Buffer.alloc(32, 1), set_id: Buffer.alloc(32, 2) },
};

/** The status a call ends with ('OK' or the code's name) and its details. A stream that stays open past 300 ms counts as OK. */
async function statusOf(client: Client, method: (typeof METHODS)[number], macaroonHex: string | undefined): Promise<{ code: string; details: string }> {
  const metadata = metadataWith(macaroonHex);
  const deadline = { deadline: Date.now() + 5_000 };
  if (method === 'SubscribeInvoiceAccepted') {
    const stream = (client as unknown as StreamClient)[method]!(REQUEST[method], metadata);
    return new Promise((resolve) => {
      const open = setTimeout(() => {
        stream.cancel();
        resolve({ code: 'OK', details: '' });
      }, 300);
      stream.on('data', () => {});
      stream.on('error', (e: grpc.ServiceError) => {
        clearTimeout(open);
        resolve({ code: grpc.status[e.code], details: e.details });
      });
    });
  }
  return new Promise((resolve) => {
    client[method]!(REQUEST[method], metadata, deadline, (error) =>
      resolve(error ? { code: grpc.status[error.code], details: error.details } : { code: 'OK', details: '' }),
    );
  });
}

describe('the permission table', () => {
  it('has an entry for every method of lnmux.Service and lnmux.v1.Lnmux, and none for a method they do not serve', () => {
    const served = Object.values(lnmuxdService().service).map((m) => m.path).sort();
    const v1 = Object.values(lnmuxV1Service().service).map((m) => m.path);
    expect(Object.keys(METHOD_PERMISSIONS).sort()).toEqual([...served, ...v1].sort());
    expect(served).toEqual(METHODS.map((m) => SERVICE + m).sort());
  });

  const rootKey = Buffer.alloc(32, 5);
  const now = new Date('2030-01-01T00:00:00Z');

  it('each macaroon × each method: allowed, or PERMISSION_DENIED naming the permission', async () => {
    const { MACAROON_PERMISSIONS } = await import('../../src/api/permissions.js');
    for (const kind of MACAROON_KINDS) {
      const mac = hex(mintMacaroon(rootKey, { location: 'lnmux', ops: MACAROON_PERMISSIONS[kind] }));
      for (const method of METHODS) {
        const verdict = authorize(rootKey, SERVICE + method, [mac], now);
        const needed = METHOD_PERMISSIONS[SERVICE + method]!;
        const expected = ALLOWED[kind].includes(method)
          ? { ok: true, value: undefined }
          : { ok: false, error: { code: grpc.status.PERMISSION_DENIED, message: expect.stringContaining(`lacks ${needed.entity}:${needed.action}`) } };
        expect({ kind, method, verdict }).toEqual({ kind, method, verdict: expected });
      }
    }
  });

  it('UNAUTHENTICATED: no macaroon, two, not hex, not a macaroon, another root key, an expired or unknown caveat', () => {
    const admin = mintMacaroon(rootKey, { location: 'lnmux', ops: [{ entity: 'info', actions: ['read'] }] });
    const cases: [string, (string | Buffer)[], string][] = [
      ['none', [], 'no macaroon: send admin.macaroon'],
      ['two', [hex(admin), hex(admin)], 'expected 1 macaroon, got 2'],
      ['not hex', ['zz'], 'expected the macaroon\'s bytes as hex'],
      ['odd hex', ['abc'], 'expected the macaroon\'s bytes as hex'],
      ['garbage', ['00ff00ff'], 'macaroon: not a macaroon'],
      ['another root key', [hex(mintMacaroon(Buffer.alloc(32, 6), { location: 'lnmux', ops: [{ entity: 'info', actions: ['read'] }] }))], 'signature mismatch'],
      ['another root key id', [hex(mintMacaroon(rootKey, { location: 'lnmux', ops: [], rootKeyId: '7' }))], 'root key id "7"'],
      ['expired', [hex(addFirstPartyCaveat(admin, 'time-before 2029-01-01T00:00:00Z'))], 'macaroon has expired'],
      ['unknown caveat', [hex(addFirstPartyCaveat(admin, 'ipaddr 127.0.0.1'))], 'unknown caveat'],
    ];
    for (const [name, values, message] of cases) {
      const verdict = authorize(rootKey, `${SERVICE}GetInfo`, values, now);
      expect({ name, verdict }).toEqual({ name, verdict: { ok: false, error: { code: grpc.status.UNAUTHENTICATED, message: expect.stringContaining(message) } } });
    }
    expect(authorize(rootKey, `${SERVICE}GetInfo`, [hex(addFirstPartyCaveat(admin, 'time-before 2031-01-01T00:00:00Z'))], now)).toEqual({ ok: true, value: undefined });
    // A method outside the table is refused, whatever the macaroon.
    expect(authorize(rootKey, '/other.Service/Do', [hex(admin)], now)).toMatchObject({ ok: false, error: { code: grpc.status.PERMISSION_DENIED } });
  });
});

describe('the API over TLS with macaroons (the default)', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'lnmux-api-')), 'api');
  let server: ApiServer;
  let client: Client;
  const macaroonHex = (kind: MacaroonKind) => readFileSync(join(dataDir, `${kind}.macaroon`)).toString('hex');
  beforeAll(async () => {
    server = await start({ dataDir });
    client = tlsClient(server);
  });
  afterAll(async () => {
    client.close();
    await server.stop();
  });

  it('makes the certificate, its key, the root key and the three macaroons in api.dataDir, secrets 0600, the folder 0700', () => {
    const mode = (file: string) => (statSync(join(dataDir, file)).mode & 0o777).toString(8);
    expect(mode('.')).toBe('700');
    expect(mode('tls.cert')).toBe('644');
    for (const file of ['tls.key', 'macaroon-root.key', 'admin.macaroon', 'invoice.macaroon', 'readonly.macaroon']) expect({ file, mode: mode(file) }).toEqual({ file, mode: '600' });
    expect(server.credentials!.tls.certPath).toBe(join(dataDir, 'tls.cert'));
    expect(server.credentials!.macaroonPaths).toEqual({
      admin: join(dataDir, 'admin.macaroon'),
      invoice: join(dataDir, 'invoice.macaroon'),
      readonly: join(dataDir, 'readonly.macaroon'),
    });
  });

  it('each macaroon × each call over TLS: allowed calls pass the check, the others are PERMISSION_DENIED', async () => {
    for (const kind of MACAROON_KINDS) {
      for (const method of METHODS) {
        const { code } = await statusOf(client, method, macaroonHex(kind));
        // NOT_FOUND for a hash nobody made: the call reached its handler.
        const passed = code !== 'PERMISSION_DENIED' && code !== 'UNAUTHENTICATED';
        expect({ kind, method, passed, code }).toEqual({ kind, method, passed: ALLOWED[kind].includes(method), code: expect.any(String) });
      }
    }
    expect(await statusOf(client, 'GetInfo', macaroonHex('readonly'))).toEqual({ code: 'OK', details: '' });
    expect(await statusOf(client, 'AddInvoice', macaroonHex('invoice'))).toEqual({ code: 'OK', details: '' });
    expect(await statusOf(client, 'AddInvoice', macaroonHex('readonly'))).toEqual({
      code: 'PERMISSION_DENIED',
      details: 'macaroon lacks invoices:write, which /lnmux.Service/AddInvoice needs (admin.macaroon has every permission; docs/api.md)',
    });
  });

  it('UNAUTHENTICATED over the wire: no macaroon, garbage, a macaroon signed with another root key, on unary calls and streams', async () => {
    const forged = hex(mintMacaroon(Buffer.alloc(32, 9), { location: 'lnmux', ops: [{ entity: 'info', actions: ['read'] }, { entity: 'invoices', actions: ['read', 'write'] }] }));
    for (const method of ['GetInfo', 'AddInvoice', 'SubscribeInvoiceAccepted'] as const) {
      for (const mac of [undefined, 'not-hex', '0201', forged]) {
        const { code } = await statusOf(client, method, mac);
        expect({ method, mac, code }).toEqual({ method, mac, code: 'UNAUTHENTICATED' });
      }
    }
  });

  it('refuses a plaintext client, and a TLS client that does not trust the certificate', async () => {
    const Service = lnmuxdService();
    const plain = new Service(server.address, grpc.credentials.createInsecure()) as unknown as Client;
    const { code } = await statusOf(plain, 'GetInfo', macaroonHex('admin'));
    expect(code).toBe('UNAVAILABLE');
    plain.close();
    const other = await createSelfSignedCertificate({ organization: 'o', commonName: 'c', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validDays: 1 });
    const untrusting = tlsClient(server, Buffer.from(other.cert));
    expect((await statusOf(untrusting, 'GetInfo', macaroonHex('admin'))).code).toBe('UNAVAILABLE');
    untrusting.close();
  });

  it('reuses the certificate, the root key and the macaroons at the next start: a client keeps working', async () => {
    const before = Object.fromEntries(['tls.cert', 'tls.key', 'macaroon-root.key', 'admin.macaroon'].map((f) => [f, readFileSync(join(dataDir, f))]));
    const again = await start({ dataDir });
    try {
      for (const [file, bytes] of Object.entries(before)) expect({ file, same: readFileSync(join(dataDir, file)).equals(bytes) }).toEqual({ file, same: true });
      const client2 = tlsClient(again, before['tls.cert']);
      expect(await statusOf(client2, 'GetInfo', before['admin.macaroon']!.toString('hex'))).toEqual({ code: 'OK', details: '' });
      client2.close();
    } finally {
      await again.stop();
    }
  });
});

describe('the API credentials: the operator\'s own, and refusals naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-api-'));

  it('serves the operator\'s certificate and key (api.tlsCertPath, api.tlsKeyPath), making none', async () => {
    const pem = await createSelfSignedCertificate({ organization: 'operator', commonName: 'lnmux', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validDays: 30 });
    writeFileSync(join(dir, 'own.crt'), pem.cert);
    writeFileSync(join(dir, 'own.key'), pem.key, { mode: 0o600 });
    const dataDir = join(dir, 'own');
    const server = await start({ dataDir, tlsCertPath: join(dir, 'own.crt'), tlsKeyPath: join(dir, 'own.key') });
    try {
      expect(server.credentials!.tls).toMatchObject({ certPath: join(dir, 'own.crt'), selfSigned: false });
      expect(() => statSync(join(dataDir, 'tls.cert'))).toThrow();
      const client = tlsClient(server, Buffer.from(pem.cert));
      expect(await statusOf(client, 'GetInfo', readFileSync(join(dataDir, 'admin.macaroon')).toString('hex'))).toEqual({ code: 'OK', details: '' });
      client.close();
    } finally {
      await server.stop();
    }
    const other = await createSelfSignedCertificate({ organization: 'o', commonName: 'c', dnsNames: [], ipAddresses: ['127.0.0.1'], validDays: 1 });
    writeFileSync(join(dir, 'other.key'), other.key, { mode: 0o600 });
    await expect(start({ dataDir, tlsCertPath: join(dir, 'own.crt'), tlsKeyPath: join(dir, 'other.key') })).rejects.toThrow(/^api\.tlsKeyPath: .* is not the private key of api\.tlsCertPath/);
    await expect(start({ dataDir, tlsCertPath: join(dir, 'missing.crt'), tlsKeyPath: join(dir, 'own.key') })).rejects.toThrow(/^api\.tlsCertPath: cannot read/);
  });

  it('refuses a certificate made before an extra name was configured, naming api.tlsExtraIps / tlsExtraDomains', async () => {
    const dataDir = join(dir, 'names');
    const names = { tlsExtraIps: ['10.9.8.7', 'fd00::7'], tlsExtraDomains: ['lnmux.internal', '*.lnmux.internal'] };
    await (await start({ dataDir, ...names })).stop();
    await (await start({ dataDir, ...names })).stop(); // the same names: the certificate is reused
    const { X509Certificate } = await import('node:crypto');
    const cert = new X509Certificate(readFileSync(join(dataDir, 'tls.cert')));
    expect(cert.subjectAltName).toContain('IP Address:10.9.8.7');
    expect(cert.subjectAltName).toContain('DNS:lnmux.internal');
    expect(cert.subjectAltName).toContain('DNS:*.lnmux.internal');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    await expect(start({ dataDir, tlsExtraIps: ['10.9.8.6'] })).rejects.toThrow(ConfigError);
    await expect(start({ dataDir, tlsExtraIps: ['10.9.8.6'] })).rejects.toThrow(/^api\.tlsExtraIps: 10\.9\.8\.6 not in the certificate/);
    await expect(start({ dataDir, tlsExtraDomains: ['elsewhere.internal'] })).rejects.toThrow(/^api\.tlsExtraDomains: elsewhere\.internal not in the certificate/);
  });

  it('refuses a root key that group or others may read, naming api.dataDir; makes new macaroons when the root key is gone', async () => {
    const dataDir = join(dir, 'root');
    await (await start({ dataDir })).stop();
    const oldAdmin = readFileSync(join(dataDir, 'admin.macaroon'));
    chmodSync(join(dataDir, 'macaroon-root.key'), 0o644);
    await expect(start({ dataDir })).rejects.toThrow(/^api\.dataDir: .*macaroon-root\.key has mode 0644/);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(dataDir, 'macaroon-root.key'));
    const server = await start({ dataDir });
    try {
      const client = tlsClient(server);
      expect((await statusOf(client, 'GetInfo', oldAdmin.toString('hex'))).code).toBe('UNAUTHENTICATED');
      expect((await statusOf(client, 'GetInfo', readFileSync(join(dataDir, 'admin.macaroon')).toString('hex'))).code).toBe('OK');
      expect((statSync(join(dataDir, 'admin.macaroon')).mode & 0o777).toString(8)).toBe('600');
      client.close();
    } finally {
      await server.stop();
    }
  });

  it('serves plaintext without macaroons with api.insecurePlaintext, on loopback, making no credential files', async () => {
    const dataDir = join(dir, 'plain');
    const server = await start({ dataDir, insecurePlaintext: true });
    try {
      expect(server.credentials).toBeUndefined();
      expect(() => statSync(dataDir)).toThrow();
      const Service = lnmuxdService();
      const plain = new Service(server.address, grpc.credentials.createInsecure()) as unknown as Client;
      expect(await statusOf(plain, 'GetInfo', undefined)).toEqual({ code: 'OK', details: '' });
      plain.close();
    } finally {
      await server.stop();
    }
  });
});

describe('the API request count (lnmux_api_requests_total)', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'lnmux-api-')), 'api');
  const registry = new Registry();
  let server: ApiServer;
  let client: Client;
  const macaroonHex = (kind: MacaroonKind) => readFileSync(join(dataDir, `${kind}.macaroon`)).toString('hex');
  beforeAll(async () => {
    const c = config({ dataDir });
    server = await startApiServer({ api: c.api!, config: c, mux: new StandInMux(), log: silent, metricsRegistry: registry });
    client = tlsClient(server);
  });
  afterAll(async () => {
    client.close();
    await server.stop();
  });

  it('counts each call by method and status code, the calls the macaroon check refuses too', async () => {
    expect((await statusOf(client, 'GetInfo', macaroonHex('readonly'))).code).toBe('OK');
    expect((await statusOf(client, 'GetInfo', macaroonHex('readonly'))).code).toBe('OK');
    expect((await statusOf(client, 'GetInfo', undefined)).code).toBe('UNAUTHENTICATED');
    expect((await statusOf(client, 'AddInvoice', macaroonHex('readonly'))).code).toBe('PERMISSION_DENIED');
    const text = await registry.metrics();
    expect(text).toContain('lnmux_api_requests_total{method="GetInfo",code="OK"} 2');
    expect(text).toContain('lnmux_api_requests_total{method="GetInfo",code="UNAUTHENTICATED"} 1');
    expect(text).toContain('lnmux_api_requests_total{method="AddInvoice",code="PERMISSION_DENIED"} 1');
  });
});
