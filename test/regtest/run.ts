/**
 * `npm run test:regtest`: build (or reuse) lnd and btcd, start the A-B-C regtest network, run the LND
 * behaviour checks, then the lnmux scenarios once the multiplexer exists; clean up in every case.
 *
 * Exit codes: 0 passed (or skipped: no Go), 1 failed. Environment:
 *  - LNMUX_REGTEST_BIN: a folder with lnd, lncli, btcd, btcctl (skips the build);
 *  - LNMUX_REGTEST_CACHE: the build cache (default ~/.cache/lnmux-regtest);
 *  - LNMUX_REGTEST_REQUIRE=1: fail instead of skipping when Go is missing;
 *  - LNMUX_REGTEST_KEEP=1: keep the temp dir (logs, data) after the run;
 *  - LNMUX_REGTEST_OBSERVATIONS: where to write the observations JSON (default .tmp/regtest-observations.json);
 *  - LNMUX_REGTEST_DATABASE_URL: PostgreSQL server for the lnmux scenarios (a fresh database is made);
 *  - LNMUX_REGTEST_LND_DEBUGLEVEL: LND's --debuglevel (default info);
 *  - LNMUX_REGTEST_SKIP_CHECKS=1: skip the LND behaviour checks (only the lnmux scenarios run).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLndChecks } from './checks.js';
import { startNetwork, type Network } from './network.js';
import { binDirOrBuild, MissingGoError } from './lib/binaries.js';
import { cleanUpAll, wasInterrupted } from './lib/processes.js';
import { since } from './lib/util.js';
import { createScratchDatabase, runLnmuxScenarios } from './scenarios.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (line: string): void => {
  process.stderr.write(`regtest: ${line}\n`);
};

async function main(): Promise<number> {
  const started = performance.now();
  const timings: Record<string, number> = {};

  let binDir: string;
  try {
    binDir = await binDirOrBuild();
  } catch (error) {
    if (error instanceof MissingGoError) {
      const message = `SKIPPED: ${error.message}. Install Go >= 1.25.10 to build LND, or set LNMUX_REGTEST_BIN (see docs/regtest.md).`;
      if (process.env['LNMUX_REGTEST_REQUIRE'] === '1') {
        log(message.replace('SKIPPED', 'FAILED (LNMUX_REGTEST_REQUIRE=1)'));
        return 1;
      }
      process.stdout.write(`regtest: ${message}\n`);
      return 0;
    }
    throw error;
  }
  timings['binariesMs'] = since(started);
  log(`binaries in ${binDir} (${timings['binariesMs']} ms)`);

  let network: Network | undefined;
  try {
    let t = performance.now();
    network = await startNetwork({ binDir, log });
    timings['networkMs'] = since(t);

    t = performance.now();
    const skipChecks = process.env['LNMUX_REGTEST_SKIP_CHECKS'] === '1';
    const observations = skipChecks ? {} : await runLndChecks(network, log);
    timings['lndChecksMs'] = since(t);
    const outPath = process.env['LNMUX_REGTEST_OBSERVATIONS'] ?? join(repoRoot, '.tmp', 'regtest-observations.json');
    mkdirSync(dirname(outPath), { recursive: true });
    const lndVersion = (await network.nodes.A.getInfo()).version;
    writeFileSync(outPath, `${JSON.stringify({ lndVersion, observations }, null, 2)}\n`);
    log(skipChecks ? 'LND checks skipped (LNMUX_REGTEST_SKIP_CHECKS=1)' : `LND checks passed; observations in ${outPath}`);

    t = performance.now();
    const database = await createScratchDatabase().catch((error: unknown) => {
      throw new Error(`regtest: the lnmux scenarios need PostgreSQL (LNMUX_REGTEST_DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`);
    });
    try {
      const scenarioObservations = await runLnmuxScenarios(network, database.url, log);
      writeFileSync(outPath, `${JSON.stringify({ lndVersion, observations, scenarios: scenarioObservations }, null, 2)}\n`);
    } finally {
      await database.drop();
    }
    timings['lnmuxScenariosMs'] = since(t);
    timings['totalMs'] = since(started);
    process.stdout.write(`regtest: PASSED ${JSON.stringify(timings)}\n`);
    return 0;
  } catch (error) {
    if (wasInterrupted()) return 130;
    log(`FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    if (network) printLogTails(network);
    return 1;
  } finally {
    await network?.close().catch(() => undefined);
    await cleanUpAll();
  }
}

function printLogTails(network: Network): void {
  const logs: [string, string][] = [
    ['btcd', join(network.btcd.config.dir, 'btcd.out.log')],
    ...Object.values(network.nodes).map((n): [string, string] => [`lnd ${n.name}`, n.logPath]),
    ['lnmux', join(network.dir, 'lnmux.log')],
  ];
  for (const [name, path] of logs) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const tail = text.trimEnd().split('\n').slice(-25).join('\n');
    process.stderr.write(`----- last lines of ${name} (${path}) -----\n${tail}\n`);
  }
  process.stderr.write('(LNMUX_REGTEST_KEEP=1 keeps the whole temp dir)\n');
}

// Exit at once: pending timers of finished waits (timeouts that lost their race) would keep the loop alive.
process.exit(await main());
