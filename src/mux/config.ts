/**
 * The multiplexer's configuration: one zod schema, parsed once, errors that name the field. The YAML
 * file (multiplexer.yml) and the library's typed config object go through the same schema.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_BACKOFF } from '../lnd/index.js';
import { DEFAULT_EXPIRY_SECONDS } from '../protocol/index.js';
import { STORE_DEFAULTS } from '../store/index.js';
import { MAX_EXPIRY_SECONDS } from './invoice-factory.js';
import { isWellKnownIdentityKey } from './well-known-keys.js';

const hex = (bytes: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `expected ${what} as ${bytes * 2} hex characters`);

const pubkey = hex(33, 'a 33-byte compressed public key').refine(
  (s) => s.startsWith('02') || s.startsWith('03'),
  'expected a compressed public key starting with 02 or 03',
);

const nodeSchema = z
  .object({
    /** The node's identity pubkey; a node that reports another one is refused. */
    pubkey,
    /** host:port of the node's gRPC interface. */
    address: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port'),
    tlsCertPath: z.string().min(1),
    macaroonPath: z.string().min(1),
    /** The name the node's TLS certificate is checked against. LND's certificate always names localhost. */
    tlsServerName: z.string().min(1).default('localhost'),
  })
  .strict();

const databaseSchema = z
  .object({
    /** PostgreSQL connection string. Absent: the embedded PGlite database in dataDir (not for production). */
    dsn: z.string().min(1).optional(),
    /**
     * The name of an environment variable holding the connection string, instead of dsn (which then keeps
     * the database password out of the config file).
     */
    dsnEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name').optional(),
    /** Embedded database directory, when no dsn is given. */
    dataDir: z.string().min(1).default('lnmux-data'),
    poolSize: z.number().int().min(1).max(200).default(STORE_DEFAULTS.poolSize),
    connectTimeoutSeconds: z.number().positive().default(STORE_DEFAULTS.connectTimeoutMs / 1000),
    statementTimeoutSeconds: z.number().positive().default(STORE_DEFAULTS.statementTimeoutMs / 1000),
  })
  .strict();

const routingSchema = z
  .object({
    /** Fee of the virtual hop advertised in route hints, msat. */
    feeBaseMsat: z.number().int().min(0).default(0),
    feeProportionalMillionths: z.number().int().min(0).default(0),
    /** cltv_expiry_delta of the virtual hop advertised in route hints, blocks. */
    cltvExpiryDelta: z.number().int().min(1).max(2016).default(40),
  })
  .strict();

const invoiceSchema = z
  .object({
    /** The invoice's `c` field (min_final_cltv_expiry_delta), blocks. */
    minFinalCltvExpiryDelta: z.number().int().min(1).max(2016).default(40),
    /** Expiry of invoices created without one, seconds. */
    defaultExpirySeconds: z.number().int().min(1).max(MAX_EXPIRY_SECONDS).default(DEFAULT_EXPIRY_SECONDS),
    /**
     * Also accept payments of invoices the Go lnmux made with this identity key (its payment_addr
     * scheme, docs/protocol.md), for a team that switched from it: off by default.
     */
    acceptGoLnmuxInvoices: z.boolean().default(false),
  })
  .strict();

const settlementSchema = z
  .object({
    /** auto: settle complete sets at once. hold: the application settles or cancels each accepted set. */
    mode: z.enum(['auto', 'hold']).default('auto'),
    /**
     * A set still incomplete this long after its first part arrived fails, every part with mpp_timeout,
     * seconds (BOLT 4 asks for at least 60).
     */
    mppTimeoutSeconds: z.number().positive().default(120),
    /** Hold mode: an accepted set undecided for this long is released, seconds. */
    holdTimeoutSeconds: z.number().positive().default(600),
    /** A held HTLC fails when the chain height reaches its expiry minus this margin, blocks. */
    expiryMarginBlocks: z.number().int().min(1).default(10),
    /**
     * lnmux fails a held HTLC itself once the chain height reaches its node's auto_fail_height minus this
     * margin, and never commits a set with such a part, blocks (docs/reliability.md says why 3).
     */
    autoFailMarginBlocks: z.number().int().min(1).default(3),
  })
  .strict();

const lndSchema = z
  .object({
    /**
     * Per LND release line, the oldest release accepted (GetVersion), e.g. ["0.20.2", "0.21.1"]. Absent:
     * the gateway's defaults, the releases that replay held HTLCs and keep final resolutions.
     */
    minimumVersions: z.array(z.string().regex(/^\d+\.\d+\.\d+$/, 'expected major.minor.patch')).min(1).optional(),
    /** Reconnect backoff bounds, seconds (defaults: the gateway's, src/lnd/backoff.ts). */
    backoffInitialSeconds: z.number().positive().default(DEFAULT_BACKOFF.initialMs / 1000),
    backoffMaxSeconds: z.number().positive().default(DEFAULT_BACKOFF.maxMs / 1000),
  })
  .strict();

/**
 * The host of an `api.listen` address, if it is a loopback one: an IPv4 address in 127.0.0.0/8, `::1`, or
 * the name `localhost` (which src/api/server.ts resolves again at start, with api.insecurePlaintext, and
 * refuses unless every address it gives is loopback).
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(bare) || bare === '::1';
  return false;
}

/** Splits `host:port` (IPv6 hosts in brackets: `[::1]:19090`) into its host (brackets kept) and port. */
export function splitHostPort(address: string): { readonly host: string; readonly port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[2]);
  return port <= 65535 ? { host: match[1]!, port } : undefined;
}

const apiSchema = z
  .object({
    /**
     * host:port the daemon's gRPC API listens on (`[::1]:port` for IPv6, `0.0.0.0:port` for every IPv4
     * interface; port 0: any free port, logged at start). Over TLS with macaroons, any address; with
     * insecurePlaintext, loopback only.
     */
    listen: z
      .string()
      .refine((value) => splitHostPort(value) !== undefined, 'expected host:port with a port from 0 to 65535 ([::1]:port for IPv6)'),
    /**
     * Where the API keeps its credentials: tls.cert and tls.key (made at first start unless
     * tlsCertPath/tlsKeyPath name the operator's own), macaroon-root.key and admin.macaroon,
     * invoice.macaroon, readonly.macaroon (made at first start). Relative to the config file's folder;
     * created with mode 0700, every secret in it 0600.
     */
    dataDir: z.string().min(1).default('lnmux-api'),
    /** The operator's own certificate (PEM), instead of the self-signed one made in dataDir. With tlsKeyPath. */
    tlsCertPath: z.string().min(1).optional(),
    /** The private key (PEM) of tlsCertPath. */
    tlsKeyPath: z.string().min(1).optional(),
    /** Extra DNS names in the self-signed certificate, besides localhost and the host name (a client checks the one it dials). */
    tlsExtraDomains: z.array(z.string().regex(/^[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9])?$/, 'expected a DNS name')).default([]),
    /** Extra IP addresses in the self-signed certificate, besides 127.0.0.1 and ::1. */
    tlsExtraIps: z.array(z.string().refine((ip) => isIP(ip) !== 0, 'expected an IPv4 or IPv6 address (no brackets)')).default([]),
    /**
     * lnmuxd compatibility: serve plaintext WITHOUT TLS and WITHOUT macaroons, as lnmuxd did, for clients
     * that cannot send either. Any local process can then create, settle and cancel invoices, so it is
     * allowed only on a loopback `listen`, and warned about at every start. Default false.
     */
    insecurePlaintext: z.boolean().default(false),
  })
  .strict()
  .superRefine((api, ctx) => {
    const parts = splitHostPort(api.listen);
    if (api.insecurePlaintext && parts !== undefined && !isLoopbackHost(parts.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['insecurePlaintext'],
        message:
          `plaintext without authentication is allowed only on a loopback api.listen (127.0.0.1, [::1] or localhost), not ${api.listen}: ` +
          'remove insecurePlaintext (TLS and macaroons, docs/api.md) or listen on loopback',
      });
    }
    if ((api.tlsCertPath === undefined) !== (api.tlsKeyPath === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [api.tlsCertPath === undefined ? 'tlsCertPath' : 'tlsKeyPath'],
        message: 'give both tlsCertPath and tlsKeyPath (the operator\'s own certificate and its key), or neither (a self-signed one in dataDir)',
      });
    }
    if (api.insecurePlaintext) {
      for (const field of ['tlsCertPath', 'tlsKeyPath', 'tlsExtraDomains', 'tlsExtraIps'] as const) {
        const value = api[field];
        if (value !== undefined && (!Array.isArray(value) || value.length > 0)) {
          ctx.addIssue({ code: 'custom', path: [field], message: 'insecurePlaintext serves no TLS: give one or the other' });
        }
      }
    }
  });

const metricsSchema = z
  .object({
    /**
     * host:port of the HTTP listener `lnmux run` serves /metrics (Prometheus), /healthz, /readyz and the
     * status page on (`[::1]:port` for IPv6; port 0: any free port, logged at start). Default
     * 127.0.0.1:2112, lnmuxd's. Plaintext without authentication: keep it on loopback or a private network.
     */
    listen: z
      .string()
      .refine((value) => splitHostPort(value) !== undefined, 'expected host:port with a port from 0 to 65535 ([::1]:port for IPv6)')
      .default('127.0.0.1:2112'),
    /** false: no listener at all. Default true. */
    enabled: z.boolean().default(true),
  })
  .strict();

/** The config fields the identity key may come from: exactly one is given. */
const IDENTITY_KEY_SOURCES = ['identityKey', 'identityKeyEnv', 'identityKeyFile'] as const;

const configSchema = z
  .object({
    network: z.enum(['mainnet', 'testnet', 'signet', 'regtest', 'simnet']),
    /** The virtual node's 32-byte identity private key, hex. Or name an environment variable instead. */
    identityKey: hex(32, 'a 32-byte private key').optional(),
    identityKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name').optional(),
    /**
     * A file holding the key as 64 hex characters (a trailing newline is fine), readable by its owner only
     * (mode 0600, as ssh asks of its keys); `lnmux init` writes one. Relative to the config file's folder.
     */
    identityKeyFile: z.string().min(1).optional(),
    nodes: z.array(nodeSchema).min(1, 'expected at least one node'),
    database: databaseSchema.default(databaseSchema.parse({})),
    routing: routingSchema.default(routingSchema.parse({})),
    invoice: invoiceSchema.default(invoiceSchema.parse({})),
    settlement: settlementSchema.default(settlementSchema.parse({})),
    lnd: lndSchema.default(lndSchema.parse({})),
    /** The daemon's gRPC API (`lnmux run`); absent: no API is served. The library ignores it. */
    api: apiSchema.optional(),
    /** The HTTP listener of `lnmux run` (metrics, health, status page). The library ignores it. */
    metrics: metricsSchema.default(metricsSchema.parse({})),
    /** `lnmux run`'s logs (the library logs only to the logger the application gives it). */
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
        /** json: one JSON object a line, ISO timestamps (for machines); pretty: one readable line each (for people). */
        format: z.enum(['json', 'pretty']).default('json'),
      })
      .strict()
      .default({ level: 'info', format: 'json' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const sources = IDENTITY_KEY_SOURCES.filter((field) => config[field] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['identityKey'],
        message:
          sources.length === 0
            ? 'give the identity key: identityKeyFile (run `lnmux init` to write one), identityKeyEnv or identityKey'
            : `give exactly one of identityKey, identityKeyEnv or identityKeyFile, not ${sources.join(' and ')}`,
      });
    }
    if (config.database.dsn !== undefined && config.database.dsnEnv !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'dsnEnv'],
        message: 'give database.dsn or database.dsnEnv (an environment variable holding the connection string), not both',
      });
    }
    const seen = new Set<string>();
    config.nodes.forEach((node, i) => {
      const pk = node.pubkey.toLowerCase();
      if (seen.has(pk)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'pubkey'], message: 'the same node is listed twice' });
      seen.add(pk);
    });
  });

/** The `api` section of a configuration. */
export type ApiConfig = z.output<typeof apiSchema>;

/** The `metrics` section of a configuration. */
export type MetricsConfig = z.output<typeof metricsSchema>;

/** The configuration as written (defaults filled in). */
export type MuxConfigInput = z.input<typeof configSchema>;
export type MuxConfig = z.output<typeof configSchema>;

/** A configuration error; `message` names each offending field, what was expected and what was found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly { readonly field: string; readonly message: string }[] = [],
  ) {
    super(message);
  }
}

/** Validates a configuration object. Throws ConfigError naming every bad field. */
export function parseConfig(input: unknown): MuxConfig {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ field: fieldName(issue.path), message: describe(issue) }));
  throw new ConfigError(
    `invalid configuration:\n${issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')}`,
    issues,
  );
}

/**
 * Reads a YAML config file. Relative paths in it (certificates, macaroons, data directory) are resolved
 * against the file's directory, not the working directory. Throws ConfigError.
 */
export function loadConfigFile(path: string): MuxConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}: ${(cause as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(cause as Error).message}`);
  }
  const config = parseConfig(withoutNulls(raw) ?? {});
  const base = dirname(resolve(path));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...config,
    ...(config.identityKeyFile !== undefined ? { identityKeyFile: at(config.identityKeyFile) } : {}),
    nodes: config.nodes.map((n) => ({ ...n, tlsCertPath: at(n.tlsCertPath), macaroonPath: at(n.macaroonPath) })),
    database: { ...config.database, dataDir: at(config.database.dataDir) },
    ...(config.api !== undefined ? { api: apiPathsAt(config.api, at) } : {}),
  };
}

/** The api section with its paths resolved by `at`. */
function apiPathsAt(api: ApiConfig, at: (path: string) => string): ApiConfig {
  return {
    ...api,
    dataDir: at(api.dataDir),
    ...(api.tlsCertPath !== undefined ? { tlsCertPath: at(api.tlsCertPath) } : {}),
    ...(api.tlsKeyPath !== undefined ? { tlsKeyPath: at(api.tlsKeyPath) } : {}),
  };
}

/**
 * The identity key's bytes, from the config, the environment variable it names or the key file it names.
 * Throws ConfigError naming the field and what to do, never with the key in it; also for a well-known key
 * (src/mux/well-known-keys.ts) on mainnet (Mux.open warns about one elsewhere).
 */
export function identityKeyBytes(config: MuxConfig, env: NodeJS.ProcessEnv = process.env): Uint8Array {
  let hexKey: string | undefined;
  let where: string;
  if (config.identityKey !== undefined) {
    hexKey = config.identityKey;
    where = 'identityKey';
  } else if (config.identityKeyEnv !== undefined) {
    hexKey = env[config.identityKeyEnv];
    where = `identityKeyEnv: environment variable ${config.identityKeyEnv}`;
    if (hexKey === undefined) throw new ConfigError(`${where} is not set: set it to the identity key (64 hex characters)`);
  } else if (config.identityKeyFile !== undefined) {
    hexKey = readKeyFile(config.identityKeyFile).replace(/\r?\n$/, '');
    where = `identityKeyFile: ${config.identityKeyFile}`;
  } else {
    throw new ConfigError('identityKey: give identityKeyFile, identityKeyEnv or identityKey');
  }
  if (!/^[0-9a-fA-F]{64}$/.test(hexKey)) {
    // Never echo the value: it is a secret.
    throw new ConfigError(`${where} must hold a 32-byte private key as 64 hex characters`);
  }
  const key = Uint8Array.from(Buffer.from(hexKey, 'hex'));
  if (config.network === 'mainnet' && isWellKnownIdentityKey(key)) {
    throw new ConfigError(
      `${where} holds a well-known identity key (printed in lnmux's docs or tests, or a trivial one): on mainnet ` +
        'anyone could impersonate the virtual node and take its payments. Use a fresh key: `lnmux init` writes one',
    );
  }
  return key;
}

/** A key file's text, refused (as ssh refuses a private key) when group or others may read or write it. */
function readKeyFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (cause) {
    throw new ConfigError(`identityKeyFile: cannot read ${path}: ${(cause as Error).message} (run \`lnmux init\` to write a key file)`);
  }
  // Windows has no such permission bits: there the file's ACL is the operator's to set.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new ConfigError(
      `identityKeyFile: ${path} has mode ${octal}: group or others may access the identity key; ` +
        `make it readable by its owner only: chmod 600 ${path}`,
    );
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`identityKeyFile: cannot read ${path}: ${(cause as Error).message}`);
  }
}

/** In YAML, `key:` with nothing after it (or only comments) is null: read it as "not given". */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value ?? undefined;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(config)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')}`;
  if (issue.path.at(-1) === 'identityKey' && issue.code === 'invalid_format') {
    return 'expected a 32-byte private key as 64 hex characters'; // never echo a secret back
  }
  // Echo only a scalar, and never anything under identityKey: an object here can hold the whole config.
  const input = 'input' in issue ? issue.input : undefined;
  const scalar = typeof input === 'string' || typeof input === 'number' || typeof input === 'boolean';
  // Nor a connection string: it can hold the database password.
  const secret = issue.path.includes('identityKey') || issue.path.includes('dsn');
  const shown = scalar && !secret && !issue.message.includes('received');
  const got = shown ? `, got ${JSON.stringify(input)}` : '';
  return issue.message + got;
}

/**
 * The store settings of a configuration (src/store's StoreConfig), the connection string read from the
 * environment variable `database.dsnEnv` names, if it names one. Throws ConfigError naming a variable
 * that is not set; never with the connection string (and its password) in it.
 */
export function storeConfigOf(config: MuxConfig, migrate = false, env: NodeJS.ProcessEnv = process.env) {
  const db = config.database;
  let dsn = db.dsn;
  if (db.dsnEnv !== undefined) {
    dsn = env[db.dsnEnv];
    if (dsn === undefined || dsn.trim() === '') {
      throw new ConfigError(
        `database.dsnEnv: environment variable ${db.dsnEnv} is ${dsn === undefined ? 'not set' : 'empty'}: ` +
          `set it to the PostgreSQL connection string (postgres://user:password@host:5432/lnmux), ` +
          'or remove database.dsnEnv to use the embedded database',
      );
    }
  }
  return {
    ...(dsn !== undefined ? { databaseUrl: dsn } : { dataDir: db.dataDir }),
    poolSize: db.poolSize,
    connectTimeoutMs: db.connectTimeoutSeconds * 1000,
    statementTimeoutMs: db.statementTimeoutSeconds * 1000,
    migrate,
  };
}
