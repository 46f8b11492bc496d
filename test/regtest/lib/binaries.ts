/**
 * Where the harness finds lnd, lncli, btcd and btcctl: LNMUX_REGTEST_BIN if set, else test/regtest/build.sh
 * (which reuses its cache, or builds with Go). Without Go and without LNMUX_REGTEST_BIN the harness
 * cannot run: `MissingGoError` lets the caller skip with a clear message.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const buildScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'build.sh');
const binaries = ['lnd', 'lncli', 'btcd', 'btcctl'] as const;

/** No Go toolchain and no LNMUX_REGTEST_BIN: the regtest run cannot build LND. */
export class MissingGoError extends Error {
  constructor() {
    super('no Go toolchain found (an executable $GO, go on PATH, or /usr/local/go/bin/go) and LNMUX_REGTEST_BIN is not set');
    this.name = 'MissingGoError';
  }
}

/** The Go binary build.sh would use, or undefined. */
export function findGo(): string | undefined {
  const fromEnv = process.env['GO'];
  if (fromEnv !== undefined && fromEnv !== '') return executable(fromEnv) ? fromEnv : undefined;
  const onPath = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim() !== '') return onPath.stdout.trim();
  return executable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the folder holding the four binaries, building them first if needed (build.sh's output goes to
 * stderr). Throws MissingGoError without Go, or an Error when the build fails or a binary is missing.
 */
export async function binDirOrBuild(): Promise<string> {
  const fromEnv = process.env['LNMUX_REGTEST_BIN'];
  const dir = fromEnv !== undefined && fromEnv !== '' ? fromEnv : await runBuildScript();
  for (const name of binaries) {
    if (!existsSync(join(dir, name))) throw new Error(`regtest: ${name} missing in ${dir}`);
  }
  return dir;
}

async function runBuildScript(): Promise<string> {
  if (findGo() === undefined) throw new MissingGoError();
  const child = spawn('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code === 3) throw new MissingGoError();
  if (code !== 0) throw new Error(`regtest: build.sh failed with exit code ${String(code)}`);
  const lines = stdout.trim().split('\n');
  const dir = lines[lines.length - 1];
  if (dir === undefined || dir === '') throw new Error('regtest: build.sh printed no folder');
  return dir;
}
