/**
 * What the API commands (`lnmux invoice|set|status|subscribe`, like lncli) share: the connection to a
 * running daemon's `lnmux.v1.Lnmux` through `lnmux/client`, its address, certificate and macaroon taken
 * from the flags (`--rpcserver`, `--tlscertpath`, `--macaroonpath`) or else from the config's `api`
 * section (api.listen, tls.cert and admin.macaroon in api.dataDir); the answers printed as JSON (snake_case
 * keys, bytes as hex, msat as decimal strings, times ISO 8601); the daemon's refusals as clear errors:
 * exit status 2 for a bad request (INVALID_ARGUMENT, like a bad flag), 1 otherwise.
 */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { LnmuxClient, LnmuxClientError, GrpcStatus } from '../client/index.js';
import { ConfigError, loadConfigFile } from '../mux/config.js';
import { UsageError } from './flags.js';

export interface ApiFlags {
  rpcserver?: string;
  tlscertpath?: string;
  macaroonpath?: string;
  insecurePlaintext?: boolean;
  timeout?: string;
}

/** Adds the connection flags to an API command. */
export function apiFlags(command: Command): Command {
  return command
    .option('--rpcserver <host:port>', "the daemon's API address (default: the config's api.listen)")
    .option('--tlscertpath <file>', "the daemon's TLS certificate (default: api.tlsCertPath, or tls.cert in api.dataDir)")
    .option('--macaroonpath <file>', 'the macaroon to send (default: admin.macaroon in api.dataDir)')
    .addOption(new Option('--insecure-plaintext', 'plaintext without a macaroon, for a daemon with api.insecurePlaintext (default: the config says)').conflicts(['tlscertpath', 'macaroonpath']))
    .option('--timeout <seconds>', 'how long a call may take', '30');
}

interface Endpoint {
  readonly address: string;
  readonly tlsCert?: string;
  readonly macaroon?: string;
  readonly insecurePlaintext: boolean;
}

/** Where to connect: the flags, completed from the config's api section when a flag is missing. */
export function endpointOf(flags: ApiFlags, configPath: string): Endpoint {
  const complete = flags.rpcserver !== undefined && (flags.insecurePlaintext === true || (flags.tlscertpath !== undefined && flags.macaroonpath !== undefined));
  if (complete) return { address: flags.rpcserver!, insecurePlaintext: flags.insecurePlaintext === true, ...(flags.insecurePlaintext === true ? {} : { tlsCert: flags.tlscertpath!, macaroon: flags.macaroonpath! }) };
  let api;
  try {
    api = loadConfigFile(configPath).api;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UsageError(`${error.message}\n(give --rpcserver, --tlscertpath and --macaroonpath, or a config with an api section, -c <file>)`);
  }
  if (api === undefined) throw new UsageError(`${configPath} has no api section: the daemon serves no API (docs/api.md); or give --rpcserver, --tlscertpath and --macaroonpath`);
  const insecurePlaintext = flags.insecurePlaintext ?? (flags.tlscertpath === undefined && flags.macaroonpath === undefined && api.insecurePlaintext);
  return {
    address: flags.rpcserver ?? api.listen,
    insecurePlaintext,
    ...(insecurePlaintext
      ? {}
      : { tlsCert: flags.tlscertpath ?? api.tlsCertPath ?? join(api.dataDir, 'tls.cert'), macaroon: flags.macaroonpath ?? join(api.dataDir, 'admin.macaroon') }),
  };
}

/** The daemon's refusal, or the transport's failure, as the error the CLI prints. */
export function cliError(error: LnmuxClientError, endpoint: Endpoint): Error {
  switch (error.code) {
    case GrpcStatus.INVALID_ARGUMENT:
      return new UsageError(`the daemon refused the request: ${error.details}`);
    case GrpcStatus.UNAVAILABLE:
      return new Error(`cannot reach the daemon at ${endpoint.address} (is \`lnmux run\` running with an api section?): ${error.details}`);
    case GrpcStatus.UNAUTHENTICATED:
      return new Error(`the daemon refused the macaroon${endpoint.macaroon !== undefined ? ` ${endpoint.macaroon}` : ''}: ${error.details}`);
    case GrpcStatus.PERMISSION_DENIED:
      return new Error(`the macaroon${endpoint.macaroon !== undefined ? ` ${endpoint.macaroon}` : ''} does not allow this: ${error.details}`);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new Error(`the daemon at ${endpoint.address} did not answer in time (--timeout): ${error.details}`);
    default:
      return new Error(`${error.codeName}: ${error.details}`);
  }
}

/** Connects, runs `fn`, closes; the daemon's refusals become the CLI's errors. */
export async function withClient<T>(flags: ApiFlags, configPath: string, fn: (client: LnmuxClient) => Promise<T>): Promise<T> {
  const endpoint = endpointOf(flags, configPath);
  const timeoutSeconds = Number(flags.timeout ?? '30');
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new UsageError(`--timeout: expected a positive number of seconds, got ${JSON.stringify(flags.timeout)}`);
  let client: LnmuxClient;
  try {
    client = await LnmuxClient.connect({
      address: endpoint.address,
      insecurePlaintext: endpoint.insecurePlaintext,
      ...(endpoint.tlsCert !== undefined ? { tlsCert: endpoint.tlsCert } : {}),
      ...(endpoint.macaroon !== undefined ? { macaroon: endpoint.macaroon } : {}),
      timeoutMs: timeoutSeconds * 1000,
    });
  } catch (error) {
    // A file that cannot be read, an address that is not host:port.
    if (error instanceof TypeError) throw new UsageError(error.message.replace(/^tlsCert:/, '--tlscertpath:').replace(/^macaroon:/, '--macaroonpath:').replace(/^address:/, '--rpcserver:'));
    throw error;
  }
  try {
    return await fn(client);
  } catch (error) {
    if (error instanceof LnmuxClientError) throw cliError(error, endpoint);
    throw error;
  } finally {
    client.close();
  }
}

/** A value as the CLI prints it: snake_case keys, bytes as hex, bigints as decimal strings, Dates as ISO 8601, undefined left out. */
export function printable(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(printable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), printable(v)]),
    );
  }
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(printable(value), null, 2)}\n`);
}
