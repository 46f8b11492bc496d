/**
 * `lnmux run`: intercepts on every node until SIGINT / SIGTERM. It logs its version, opens the database
 * (schema and identity checked), then checks every node once: a node misconfigured for good (another
 * pubkey or network, a macaroon refused or lacking a permission, a certificate or macaroon file it
 * cannot read) refuses the start with the reason (exit status 1); an unreachable node is retried
 * (mux/start-checks.ts). A database that cannot be reached at start is waited for (said once, retried
 * every second): a cluster restarting lnmux and PostgreSQL together comes up in any order. With an `api`
 * section, it also serves the gRPC API (docs/api.md), over TLS with macaroons made in api.dataDir at
 * first start (or plaintext with api.insecurePlaintext),
 * started before the Mux so that no `accepted` set escapes its streams.
 */
import type { Command } from 'commander';
import { startApiServer, type ApiServer } from '../api/index.js';
import pino, { type Logger } from 'pino';
import { loadConfigFile, type MuxConfig } from '../mux/config.js';
import { Mux } from '../mux/mux.js';
import { checkNodesAtStart } from '../mux/start-checks.js';
import { keepAliveClock, sleep } from '../shell/clock.js';
import { StoreUnavailableError } from '../store/index.js';
import { packageVersion } from './package-version.js';

/** Time between two attempts to open the database at start, ms. */
const OPEN_RETRY_MS = 1_000;

export function runCommand(cli: Command, configPath: () => string): void {
  cli
    .command('run')
    .description('run the multiplexer: intercept HTLCs on every node and settle invoices')
    .action(async () => {
      // Listen first: a ctrl-c during start-up still stops cleanly.
      const stop = new AbortController();
      const stopRequested = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      const config = loadConfigFile(configPath());
      const logger = pino({ level: config.logging.level, base: undefined });
      logger.info({ version: packageVersion(), pid: process.pid }, 'lnmux starting');
      const mux = await openWaitingForDatabase(config, logger, stop.signal);
      if (mux === undefined) {
        process.stderr.write('lnmux stopped\n');
        return;
      }
      let api: ApiServer | undefined;
      try {
        await checkNodesAtStart(config, logger, stop.signal);
        if (config.api !== undefined) api = await startApiServer({ api: config.api, config, mux, log: logger, version: packageVersion() });
        await mux.start();
      } catch (error) {
        await api?.stop();
        await mux.stop();
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
): Promise<Mux | undefined> {
  let waitingSince: number | undefined;
  for (;;) {
    try {
      const mux = await Mux.open(config, { logger });
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
