/**
 * The API's credential files, in `api.dataDir` (mode 0700), made at first start and reused after, as LND
 * makes and keeps its own:
 *
 * | file | mode | what |
 * |---|---|---|
 * | tls.cert | 0644 | the self-signed certificate (ECDSA P-256; localhost, the host name, 127.0.0.1, ::1 and api.tlsExtraDomains / tlsExtraIps); clients pin it |
 * | tls.key | 0600 | its private key |
 * | macaroon-root.key | 0600 | the macaroons' root key, 32 bytes as hex: whoever reads it can mint any macaroon |
 * | admin.macaroon, invoice.macaroon, readonly.macaroon | 0600 | the macaroons (src/api/permissions.ts) |
 *
 * The root key lives in this file, not in the database: a file is enough for one daemon, and standbys
 * that should accept the same macaroons are given a copy of the folder. Deleting macaroon-root.key
 * revokes every macaroon: new ones are made at the next start. With api.tlsCertPath and tlsKeyPath the
 * operator's own certificate is used and none is made.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createSelfSignedCertificate, mintMacaroon, verifyMacaroon } from '../credentials/index.js';
import { ConfigError, type ApiConfig } from '../mux/config.js';
import { MACAROON_KINDS, MACAROON_PERMISSIONS, type MacaroonKind } from './permissions.js';

export const TLS_CERT_FILE = 'tls.cert';
export const TLS_KEY_FILE = 'tls.key';
export const ROOT_KEY_FILE = 'macaroon-root.key';
/** The macaroons' location field (LND writes "lnd"). */
export const MACAROON_LOCATION = 'lnmux';
/** Validity of the self-signed certificate, days. */
const CERT_VALID_DAYS = 3650;

export interface ApiCredentials {
  readonly tls: {
    readonly certPath: string;
    readonly keyPath: string;
    readonly cert: Buffer;
    readonly key: Buffer;
    /** True when the certificate is the self-signed one in dataDir, false for the operator's own. */
    readonly selfSigned: boolean;
  };
  readonly rootKey: Uint8Array;
  /** Absolute paths of the macaroon files, by kind. */
  readonly macaroonPaths: Readonly<Record<MacaroonKind, string>>;
}

/**
 * Reads, or makes at first start, the TLS certificate and key, the root key and the macaroons. Throws
 * ConfigError naming the api field at fault (an unreadable operator certificate, a certificate that
 * lacks a configured extra name, a root key others may read, half a key pair).
 */
export async function prepareApiCredentials(api: ApiConfig, log: Logger, host: string = hostname()): Promise<ApiCredentials> {
  const dir = api.dataDir;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`api.dataDir: cannot create ${dir}: ${(error as Error).message}`);
  }
  const tls = api.tlsCertPath !== undefined && api.tlsKeyPath !== undefined ? await operatorTls(api.tlsCertPath, api.tlsKeyPath) : await selfSignedTls(api, log, host);
  const rootKey = await rootKeyIn(dir, log);
  const macaroonPaths = {} as Record<MacaroonKind, string>;
  for (const kind of MACAROON_KINDS) macaroonPaths[kind] = await macaroonFile(dir, kind, rootKey, log);
  return { tls, rootKey, macaroonPaths };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function operatorTls(certPath: string, keyPath: string): Promise<ApiCredentials['tls']> {
  const read = async (path: string, field: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new ConfigError(`api.${field}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  const cert = await read(certPath, 'tlsCertPath');
  const key = await read(keyPath, 'tlsKeyPath');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`api.tlsCertPath: ${certPath} is not a PEM certificate: ${(error as Error).message}`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(`api.tlsKeyPath: ${keyPath} is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new ConfigError(`api.tlsKeyPath: ${keyPath} is not the private key of api.tlsCertPath ${certPath}`);
  return { certPath, keyPath, cert, key, selfSigned: false };
}

async function selfSignedTls(api: ApiConfig, log: Logger, host: string): Promise<ApiCredentials['tls']> {
  const certPath = join(api.dataDir, TLS_CERT_FILE);
  const keyPath = join(api.dataDir, TLS_KEY_FILE);
  const [haveCert, haveKey] = [await exists(certPath), await exists(keyPath)];
  if (haveCert !== haveKey) {
    const [present, absent] = haveCert ? [certPath, keyPath] : [keyPath, certPath];
    throw new ConfigError(`api.dataDir: ${present} exists without ${absent}: move it away to have a new certificate and key made`);
  }
  const dnsNames = [...new Set(['localhost', host.toLowerCase(), ...api.tlsExtraDomains])];
  const ipAddresses = [...new Set(['127.0.0.1', '::1', ...api.tlsExtraIps])];
  if (!haveCert) {
    const pem = await createSelfSignedCertificate({ organization: 'lnmux autogenerated cert', commonName: host, dnsNames, ipAddresses, validDays: CERT_VALID_DAYS });
    // 'wx': never replace a file that appeared meanwhile; the key readable by its owner only.
    await writeFile(keyPath, pem.key, { mode: 0o600, flag: 'wx' });
    await writeFile(certPath, pem.cert, { mode: 0o644, flag: 'wx' });
    log.info({ certPath, dnsNames, ipAddresses }, 'API: made a self-signed TLS certificate; clients pin it');
  }
  const [cert, key] = [await readFile(certPath), await readFile(keyPath)];
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`api.dataDir: ${certPath} is not a PEM certificate (${(error as Error).message}): move it and ${keyPath} away to have new ones made`);
  }
  // A certificate made before a name was configured would fail the clients that dial that name, later.
  const sanNames = new Set((x509.subjectAltName ?? '').split(', ').filter((san) => san.startsWith('DNS:')).map((san) => san.slice(4).toLowerCase()));
  const missingNames = api.tlsExtraDomains.filter((name) => !sanNames.has(name.toLowerCase()));
  const missingIps = api.tlsExtraIps.filter((ip) => x509.checkIP(ip) === undefined);
  if (missingNames.length > 0 || missingIps.length > 0) {
    const field = missingNames.length > 0 ? 'tlsExtraDomains' : 'tlsExtraIps';
    throw new ConfigError(
      `api.${field}: ${[...missingNames, ...missingIps].join(', ')} not in the certificate ${certPath}, made before: ` +
        `delete ${certPath} and ${keyPath} to have a new one made at the next start (clients must then pin the new tls.cert)`,
    );
  }
  if (Date.parse(x509.validTo) < Date.now()) log.warn({ certPath, validTo: x509.validTo }, 'API: the TLS certificate has expired; delete it and its key to have a new one made');
  return { certPath, keyPath, cert, key, selfSigned: true };
}

async function rootKeyIn(dir: string, log: Logger): Promise<Uint8Array> {
  const path = join(dir, ROOT_KEY_FILE);
  if (!(await exists(path))) {
    const key = randomBytes(32);
    await writeFile(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    log.info({ path }, 'API: made the macaroon root key');
    return key;
  }
  const mode = (await stat(path)).mode;
  // Windows has no such permission bits: there the file's ACL is the operator's to set.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ConfigError(
      `api.dataDir: ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}: group or others may read the macaroon root key ` +
        `and mint any macaroon; make it readable by its owner only: chmod 600 ${path}`,
    );
  }
  const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new ConfigError(`api.dataDir: ${path} must hold 32 bytes as 64 hex characters; delete it to have a new one made (every macaroon is then made again)`);
  }
  return Buffer.from(text, 'hex');
}

/** The macaroon file of `kind`: kept if it verifies with the root key and grants its kind's permissions, else made (again). */
async function macaroonFile(dir: string, kind: MacaroonKind, rootKey: Uint8Array, log: Logger): Promise<string> {
  const path = join(dir, `${kind}.macaroon`);
  const wanted = JSON.stringify(MACAROON_PERMISSIONS[kind]);
  let present = false;
  try {
    const verified = verifyMacaroon(rootKey, await readFile(path));
    present = true;
    if (verified.ok && JSON.stringify(verified.value.id.ops) === wanted) return path;
  } catch {
    // absent: made below
  }
  await writeFile(path, mintMacaroon(rootKey, { location: MACAROON_LOCATION, ops: MACAROON_PERMISSIONS[kind] }), { mode: 0o600 });
  await chmod(path, 0o600); // writeFile keeps the mode of a file it replaces
  if (present) log.warn({ path }, 'API: replaced a macaroon made with another root key or other permissions');
  else log.info({ path }, 'API: made a macaroon');
  return path;
}
