/**
 * The HTTP listener `lnmux run` serves next to the gRPC API (config `metrics`): one node:http server
 * for Prometheus and for Kubernetes, plaintext, read-only.
 *
 *   GET /metrics  the prom-client registry (text exposition format)
 *   GET /healthz  200 while the process serves HTTP (liveness: it is alive)
 *   GET /readyz   200 when the instance does its job: active with every node intercepting, or a standby
 *                 with every node ready; 503 with the reasons otherwise, and while starting
 *   GET /, /status  the status page (status-page.ts)
 *
 * It starts before the Mux opens (`source` answers undefined until then), so that a daemon waiting for
 * its database is alive, and not ready.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError, splitHostPort } from '../mux/config.js';
import { readinessOf, type MuxStatus } from '../mux/status.js';
import { renderStatusPage } from './status-page.js';
import type { RecentSettle } from '../mux/metrics.js';

/** What the listener reads: the running Mux (its status and failure counts). */
export interface StatusSource {
  status(): MuxStatus;
  readonly metrics?: { failuresByReason(): Promise<ReadonlyMap<string, number>>; recentSettles(): readonly RecentSettle[] } | undefined;
}

export interface HttpServerOptions {
  /** host:port (config `metrics.listen`). */
  readonly listen: string;
  readonly registry: Registry;
  /** The Mux once opened; undefined while lnmux starts. */
  readonly source: () => StatusSource | undefined;
  readonly version: string;
  readonly log: Logger;
}

export interface HttpServer {
  /** The bound address, host:port (the port chosen when the config asked for port 0). */
  readonly address: string;
  readonly port: number;
  /** Stops listening and closes the open connections. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the listener. Throws ConfigError naming metrics.listen when the address cannot be bound. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const parts = splitHostPort(options.listen);
  if (parts === undefined) throw new ConfigError(`metrics.listen: ${options.listen} is not host:port`);
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      options.log.error({ err: error, path: request.url }, 'HTTP request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  const host = parts.host.startsWith('[') ? parts.host.slice(1, -1) : parts.host;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(parts.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new ConfigError(`metrics.listen: cannot listen on ${options.listen}: ${(error as Error).message} (set metrics.listen to a free address, or metrics.enabled: false)`);
  }
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : parts.port;
  const address = `${parts.host}:${port}`;
  options.log.info({ address, paths: ['/metrics', '/healthz', '/readyz', '/status'] }, 'HTTP listening: metrics, health and status page');
  let stopped: Promise<void> | undefined;
  return {
    address,
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

async function handle(options: HttpServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  const path = new URL(request.url ?? '/', 'http://lnmux').pathname;
  const source = options.source();
  switch (path) {
    case '/metrics': {
      const text = await options.registry.metrics();
      response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
      return;
    }
    case '/healthz':
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
      return;
    case '/readyz': {
      if (source === undefined) {
        response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('not ready: starting (waiting for the database)\n');
        return;
      }
      const status = source.status();
      const readiness = readinessOf(status);
      const text = readiness.ready ? `ready: ${status.role}\n` : `not ready (${status.role}):\n${readiness.reasons.map((r) => `- ${r}\n`).join('')}`;
      response.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
      return;
    }
    case '/':
    case '/status': {
      const html = renderStatusPage({
        status: source?.status(),
        failures: (await source?.metrics?.failuresByReason()) ?? new Map(),
        recent: source?.metrics?.recentSettles() ?? [],
        version: options.version,
        nowMs: Date.now(),
      });
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      return;
    }
    default:
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: /metrics, /healthz, /readyz, /status\n');
  }
}
