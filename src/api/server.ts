/**
 * The daemon's gRPC API server (`lnmux run` starts it when the configuration has an `api` section). One
 * grpc-js server, one listen address, the services registered side by side: lnmuxd's `lnmux.Service`
 * (lnmuxd-service.ts), our own `lnmux.v1.Lnmux` (v1-service.ts), gRPC health checking
 * (`grpc.health.v1`, grpc-health-check) and server reflection (@grpc/reflection), behind the same
 * credentials (docs/api.md).
 *
 * Secure by default: TLS (a self-signed certificate made at first start, or the operator's own) and a
 * macaroon on every call, checked by one interceptor against src/api/permissions.ts (src/api/auth.ts);
 * the files are in `api.dataDir` (src/api/credentials.ts). lnmuxd's clients spoke plaintext without
 * credentials: `api.insecurePlaintext` serves them so, on a loopback address only (the config schema
 * refuses any other; here a host name is resolved again and every address it gives must be loopback),
 * with a warning at every start.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { ConfigError, isLoopbackHost, splitHostPort, type ApiConfig, type MuxConfig } from '../mux/config.js';
import type { Registry } from 'prom-client';
import { macaroonInterceptor } from './auth.js';
import { apiMetricsInterceptor } from './metrics.js';
import { prepareApiCredentials, type ApiCredentials } from './credentials.js';
import { LnmuxdService, type ApiMux } from './lnmuxd-service.js';
import { METHOD_PERMISSIONS, PUBLIC_METHODS } from './permissions.js';
import { apiPackageDefinition, lnmuxdService, lnmuxV1Service } from './protos.js';
import { V1Service, type V1Mux } from './v1-service.js';

/** The services the API serves, by their health-check names. */
const SERVICE_NAMES = ['lnmux.Service', 'lnmux.v1.Lnmux'] as const;

export interface ApiServerOptions {
  readonly api: ApiConfig;
  /** network, nodes and settlement mode: what GetInfo tells. */
  readonly config: Pick<MuxConfig, 'network' | 'nodes' | 'settlement'>;
  readonly mux: ApiMux & V1Mux;
  readonly log: Logger;
  /** Count the calls on this registry (`lnmux_api_requests_total`); default: not counted. */
  readonly metricsRegistry?: Registry;
  /** lnmux's version, for lnmux.v1 GetInfo (default 'unknown'). */
  readonly version?: string;
  /** See V1ServiceOptions (tests). */
  readonly streamPollMs?: number;
  /** See LnmuxdServiceOptions (tests). */
  readonly subscriberQueueSize?: number;
  readonly finalStatusPollMs?: number;
}

export interface ApiServer {
  /** The bound address, host:port (the port chosen when the config asked for port 0). */
  readonly address: string;
  readonly port: number;
  /** The certificate and macaroon files clients use; undefined with api.insecurePlaintext. */
  readonly credentials: ApiCredentials | undefined;
  /** Ends the streams and waits, stops accepting calls, and closes the server. Idempotent. */
  stop(): Promise<void>;
}

/** Time stop() gives calls in flight before it closes their connections, ms. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * Starts the API on `options.api.listen`: over TLS with macaroons, or with api.insecurePlaintext in
 * plaintext without them. Throws ConfigError naming the api field at fault: an address that cannot be
 * bound, insecurePlaintext on an address that is not loopback, a credential file (credentials.ts).
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { api, config, mux, log } = options;
  const parts = splitHostPort(api.listen);
  if (parts === undefined) throw new ConfigError(`api.listen: ${api.listen} is not host:port`);
  let credentials: ApiCredentials | undefined;
  if (api.insecurePlaintext) {
    if (!isLoopbackHost(parts.host)) {
      throw new ConfigError(`api.insecurePlaintext: allowed only on a loopback api.listen, not ${api.listen}: the API would serve plaintext without authentication (docs/api.md)`);
    }
    await requireLoopbackResolution(parts.host);
  } else {
    credentials = await prepareApiCredentials(api, log);
  }

  const lnmuxd = new LnmuxdService({
    mux,
    info: {
      network: config.network,
      nodePubkeys: config.nodes.map((node) => node.pubkey.toLowerCase()),
      autoSettle: config.settlement.mode === 'auto',
    },
    log,
    ...(options.subscriberQueueSize !== undefined ? { subscriberQueueSize: options.subscriberQueueSize } : {}),
    ...(options.finalStatusPollMs !== undefined ? { finalStatusPollMs: options.finalStatusPollMs } : {}),
  });
  const v1 = new V1Service({
    mux,
    info: { version: options.version ?? 'unknown', network: config.network, autoSettle: config.settlement.mode === 'auto' },
    log,
    ...(options.streamPollMs !== undefined ? { streamPollMs: options.streamPollMs } : {}),
  });
  const service = lnmuxdService().service;
  const v1Service = lnmuxV1Service().service;
  const health = new HealthImplementation({ '': 'SERVING', ...Object.fromEntries(SERVICE_NAMES.map((name) => [name, 'SERVING' as const])) });
  // The interceptor chain: the count first (outermost for the calls the macaroon check refuses), then the check.
  const interceptors: grpc.ServerInterceptor[] = [];
  if (options.metricsRegistry !== undefined) interceptors.push(apiMetricsInterceptor(options.metricsRegistry));
  if (credentials !== undefined) interceptors.push(macaroonInterceptor(credentials.rootKey));
  const server = new grpc.Server(interceptors.length > 0 ? { interceptors } : {});
  server.addService(service, lnmuxd.handlers());
  server.addService(v1Service, v1.handlers());
  health.addToServer(server);
  new ReflectionService(apiPackageDefinition()).addToServer(server);
  const paths = [service, v1Service].flatMap((s) => Object.values(s).map((m) => m.path));
  const unguarded = paths.filter((path) => METHOD_PERMISSIONS[path] === undefined && !PUBLIC_METHODS.has(path));
  if (unguarded.length > 0) {
    v1.close();
    lnmuxd.close();
    throw new Error(`no permission defined for ${unguarded.join(', ')} (src/api/permissions.ts)`);
  }
  const serverCredentials =
    credentials !== undefined
      ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: credentials.tls.cert, private_key: credentials.tls.key }], false)
      : grpc.ServerCredentials.createInsecure();
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(api.listen, serverCredentials, (error, bound) => (error ? reject(error) : resolve(bound)));
    });
  } catch (error) {
    lnmuxd.close();
    v1.close();
    server.forceShutdown();
    throw new ConfigError(`api.listen: cannot listen on ${api.listen}: ${(error as Error).message}`);
  }
  const address = `${parts.host}:${port}`;
  if (credentials === undefined) {
    log.warn(
      { address, services: ['lnmux.Service', 'lnmux.v1.Lnmux', 'grpc.health.v1.Health', 'grpc.reflection'] },
      'API listening in plaintext WITHOUT authentication (api.insecurePlaintext, lnmuxd compatibility): any local process can create, settle and cancel invoices; loopback only (docs/api.md)',
    );
  } else {
    log.info(
      { address, services: ['lnmux.Service', 'lnmux.v1.Lnmux', 'grpc.health.v1.Health', 'grpc.reflection'], tlsCertPath: credentials.tls.certPath, macaroons: credentials.macaroonPaths },
      'API listening over TLS; every call needs a macaroon (docs/api.md)',
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    address,
    port,
    credentials,
    stop() {
      stopped ??= (async () => {
        // The streams and waits first: a graceful shutdown waits for every call to end.
        for (const name of ['', ...SERVICE_NAMES]) health.setStatus(name, 'NOT_SERVING');
        lnmuxd.close();
        v1.close();
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, SHUTDOWN_GRACE_MS);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        log.info({ address }, 'API stopped');
      })();
      return stopped;
    },
  };
}

/** A host name (not an IP literal) must resolve to loopback addresses only, or it is refused. */
async function requireLoopbackResolution(host: string): Promise<void> {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(bare, { all: true });
  } catch (error) {
    throw new ConfigError(`api.listen: cannot resolve ${bare}: ${(error as Error).message}`);
  }
  const outside = addresses.filter((a) => !isLoopbackHost(a.address));
  if (addresses.length === 0 || outside.length > 0) {
    throw new ConfigError(
      `api.listen: ${bare} resolves to ${outside.map((a) => a.address).join(', ') || 'nothing'}, not only loopback addresses; api.insecurePlaintext serves plaintext without authentication (docs/api.md)`,
    );
  }
}
