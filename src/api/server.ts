/**
 * The daemon's gRPC API server (`lnmux run` starts it when the configuration has an `api` section). One
 * grpc-js server, one listen address, the services registered side by side: lnmuxd's `lnmux.Service`
 * today (lnmuxd-service.ts); our own versioned service, health checking and reflection join it here,
 * behind the same credentials (docs/api.md).
 *
 * Plaintext without authentication is what lnmuxd's clients speak; until TLS and macaroons exist it is
 * the only mode, so the server refuses any address that is not loopback (the config schema does too; here
 * a host name is resolved again and every address it gives must be loopback) and warns at every start.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ConfigError, isLoopbackHost, splitHostPort, type ApiConfig, type MuxConfig } from '../mux/config.js';
import { LnmuxdService, type ApiMux } from './lnmuxd-service.js';
import { lnmuxdService } from './protos.js';

export interface ApiServerOptions {
  readonly api: ApiConfig;
  /** network, nodes and settlement mode: what GetInfo tells. */
  readonly config: Pick<MuxConfig, 'network' | 'nodes' | 'settlement'>;
  readonly mux: ApiMux;
  readonly log: Logger;
  /** See LnmuxdServiceOptions (tests). */
  readonly subscriberQueueSize?: number;
  readonly finalStatusPollMs?: number;
}

export interface ApiServer {
  /** The bound address, host:port (the port chosen when the config asked for port 0). */
  readonly address: string;
  readonly port: number;
  /** Ends the streams and waits, stops accepting calls, and closes the server. Idempotent. */
  stop(): Promise<void>;
}

/** Time stop() gives calls in flight before it closes their connections, ms. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * Starts the API on `options.api.listen`. Throws ConfigError naming `api.listen` for an address that is
 * not loopback or cannot be bound.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { api, config, mux, log } = options;
  const parts = splitHostPort(api.listen);
  if (parts === undefined || !isLoopbackHost(parts.host)) {
    throw new ConfigError(`api.listen: ${api.listen} is not a loopback host:port; the API serves plaintext without authentication (docs/api.md)`);
  }
  await requireLoopbackResolution(parts.host);

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
  const server = new grpc.Server();
  server.addService(lnmuxdService().service, lnmuxd.handlers());
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(api.listen, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
  } catch (error) {
    lnmuxd.close();
    server.forceShutdown();
    throw new ConfigError(`api.listen: cannot listen on ${api.listen}: ${(error as Error).message}`);
  }
  const address = `${parts.host}:${port}`;
  log.warn(
    { address, services: ['lnmux.Service'] },
    'API listening in plaintext WITHOUT authentication (lnmuxd compatibility): any local process can create, settle and cancel invoices; loopback only (docs/api.md)',
  );

  let stopped: Promise<void> | undefined;
  return {
    address,
    port,
    stop() {
      stopped ??= (async () => {
        // The streams and waits first: a graceful shutdown waits for every call to end.
        lnmuxd.close();
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
      `api.listen: ${bare} resolves to ${outside.map((a) => a.address).join(', ') || 'nothing'}, not only loopback addresses; the API serves plaintext without authentication (docs/api.md)`,
    );
  }
}
