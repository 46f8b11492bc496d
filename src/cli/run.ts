/**
 * `lnmux run`: intercepts on every node until SIGINT / SIGTERM. It logs its version, opens the database
 * (schema and identity checked), then checks every node once: a node misconfigured for good (another
 * pubkey or network, a macaroon refused or lacking a permission, a certificate or macaroon file it
 * cannot read) refuses the start with the reason (exit status 1); an unreachable node is retried
 * (mux/start-checks.ts). A database that cannot be reached at start is waited for (said once, retried
 * every second): a cluster restarting lnmux and PostgreSQL together comes up in any order. With an `api`
 * section, it also serves the gRPC API (docs/api.md), over TLS with macaroons made in api.dataDir at
 * first start (or plaintext with api.insecurePlaintext),
 * started before the Mux so that no `accepted` set escapes its streams. The HTTP listener (`metrics`
 * section: /metrics, /healthz, /readyz, the status page; src/http/) starts first of all, so that a
 * daemon waiting for its database is seen alive and not ready. Logs go to stdout as JSON, or as
 * readable lines with `logging.format: pretty` or `--log-format pretty` (logger.ts).
 */
import type { Command } from 'commander';
import { startApiServer, type ApiServer } from '../api/index.js';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { startHttpServer, type HttpServer } from '../http/index.js';
import { loadConfigFile, type MuxConfig } from '../mux/config.js';
import { Mux } from '../mux/mux.js';
import { checkNodesAtStart } from '../mux/start-checks.js';
import { keepAliveClock, sleep } from '../shell/clock.js';
import { StoreUnavailableError } from '../store/index.js';
import { UsageError } from './flags.js';
import { makeLogger, type LogFormat } from './logger.js';
import { packageVersion } from './package-version.js';

/** Time between two attempts to open the database at start, ms. */
const OPEN_RETRY_MS = 1_000;

export function runCommand(cli: Command, configPath: () => string): void {
  cli
    .command('run')
    .description('run the multiplexer: intercept HTLCs on every node and settle invoices')
    .option('--log-format <format>', 'json (default) or pretty: overrides logging.format')
    .action(async (flags: { logFormat?: string }) => {
      if (flags.logFormat !== undefined && flags.logFormat !== 'json' && flags.logFormat !== 'pretty') {
        throw new UsageError(`--log-format: expected json or pretty, got ${JSON.stringify(flags.logFormat)}`);
      }
      // Listen first: a ctrl-c during start-up still stops cleanly.
      const stop = new AbortController();
      const stopRequested = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      const config = loadConfigFile(configPath());
      const format: LogFormat = (flags.logFormat as LogFormat | undefined) ?? config.logging.format;
      const logger = makeLogger({ level: config.logging.level, format });
      logger.info({ version: packageVersion(), pid: process.pid }, 'lnmux starting');
      // One registry for this process's Mux and API: never prom-client's global one (docs/library.md).
      const registry = new Registry();
      let mux: Mux | undefined;
      const http: HttpServer | undefined = config.metrics.enabled
        ? await startHttpServer({ listen: config.metrics.listen, registry, source: () => mux, version: packageVersion(), log: logger })
        : undefined;
      try {
        mux = await openWaitingForDatabase(config, logger, stop.signal, registry);
      } catch (error) {
        await http?.stop();
        throw error;
      }
      if (mux === undefined) {
        await http?.stop();
        process.stderr.write('lnmux stopped\n');
        return;
      }
      let api: ApiServer | undefined;
      try {
        await checkNodesAtStart(config, logger, stop.signal);
        if (config.api !== undefined) {
          api = await startApiServer({ api: config.api, config, mux, log: logger, metricsRegistry: registry, version: packageVersion() });
        }
        await mux.start();
      } catch (error) {
        await api?.stop();
        await mux.stop();
        await http?.stop();
        throw error;
      }
      process.stderr.write('lnmux running; press ctrl-c to exit\n');
      // The daemon runs until it is told to stop, even while nothing else holds the event loop (every
      // node down, the embedded database: no socket open, only unref'd backoff timers).
      const keepAlive = setInterval(() => {}, 60_000);
      await stopRequested;
      clearInterval(keepAlive);
      await api?.stop();
      await mux.stop();
      await http?.stop();
      process.stderr.write('lnmux stopped\n');
    });
}

/**
 * Mux.open, again every OPEN_RETRY_MS while the database is unreachable (StoreUnavailableError); any
 * other error is thrown. Undefined if a stop was requested while waiting.
 */
async function openWaitingForDatabase(
  config: MuxConfig,
  logger: Logger,
  stop: AbortSignal,
  metricsRegistry: Registry,
): Promise<Mux | undefined> {
  let waitingSince: number | undefined;
  for (;;) {
    try {
      const mux = await Mux.open(config, { logger, metricsRegistry });
      if (waitingSince !== undefined) logger.info({ waitedMs: Date.now() - waitingSince }, 'Database reachable; starting');
      return mux;
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      if (waitingSince === undefined) {
        waitingSince = Date.now();
        logger.warn({ err: error.message, retryEveryMs: OPEN_RETRY_MS }, 'Database unreachable; waiting for it');
      }
    }
    await sleep(keepAliveClock, OPEN_RETRY_MS, stop);
    if (stop.aborted) return undefined;
  }
}
