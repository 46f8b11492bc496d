/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), installed into a
 * fresh project, then a consumer that follows docs/library.md verbatim is type-checked with
 * `skipLibCheck: false` and run against the simulator (`lnmux/sim`) with the embedded database, and
 * `npx lnmux --version` runs the installed command.
 *
 * The install is offline: the consumer's lockfile is this repository's own (its production part, plus
 * @types/node), so npm takes every package from its cache, which `npm ci` filled. A cache that lacks one
 * falls back to the registry (--prefer-offline).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
  license: string;
};
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface Run {
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** The code blocks of docs/library.md: the `lang` blocks under the heading `section`. */
function docBlocks(section: string, lang: string): string[] {
  const doc = readFileSync(join(root, 'docs', 'library.md'), 'utf8');
  const start = doc.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`docs/library.md has no section "${section}"`);
  const end = doc.indexOf('\n## ', start + 1);
  const text = doc.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/** A lockfile for the consumer: lnmux from the tarball, its dependencies as this repository locks them. */
function consumerLock(tarball: string, integrity: string, devDependencies: Record<string, string>): unknown {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'lnmux-consumer', dependencies: { lnmux: `file:${tarball}` }, devDependencies },
    'node_modules/lnmux': {
      version: manifest.version,
      resolved: `file:${tarball}`,
      integrity,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (name in devDependencies) packages[path] = { ...entry, dev: true, devOptional: undefined };
    else if (entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
  }
  return { name: 'lnmux-consumer', lockfileVersion: 3, requires: true, packages };
}

describe('the packed package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-pack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs, type-checks and runs docs/library.md against lnmux/sim, imports lnmux/client, and runs npx lnmux', { timeout: 420_000 }, async () => {
    const timings: string[] = [];
    const time = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      const result = await fn();
      timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return result;
    };

    // npm pack runs `prepare` (the build) and prints the packed files as JSON on stdout.
    const packed = await time('npm pack', () => run(npm, ['pack', '--json', '--pack-destination', dir], root));
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; integrity: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    for (const expected of [
      'package.json',
      'LICENSE',
      'README.md',
      'multiplexer.yml.example',
      'docs/library.md',
      'docs/operations.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/sim/index.js',
      'dist/sim/index.d.ts',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'proto/lnmux/v1/lnmux.proto',
      'dist/cli/bin.js',
      'proto/lnrpc/lightning.proto',
      'proto/lnrpc/routerrpc/router.proto',
      'migrations/0001_init.up.sql',
    ]) {
      expect(files, expected).toContain(expected);
    }
    // The license package.json names, with its text (npm ships LICENSE whatever `files` says, if it exists).
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the lnmux developers\n/);
    expect(files.filter((f) => /^(test|bench|scripts|\.ci)\//.test(f) || f.endsWith('.tsbuildinfo') || /\.test\.[jt]s$/.test(f))).toEqual([]);
    // The tarball as npm computed it (sha512 over the file) is what the lockfile pins.
    const tarball = readFileSync(join(dir, info.filename));
    expect(`sha512-${createHash('sha512').update(tarball).digest('base64')}`).toBe(info.integrity);

    // The consumer: package.json and tsconfig.json as docs/library.md gives them.
    const [packageJson, tsconfig] = docBlocks('Installing', 'json');
    const devDependencies = { '@types/node': manifest.devDependencies['@types/node']! };
    const consumer = {
      ...(JSON.parse(packageJson!) as object),
      name: 'lnmux-consumer',
      private: true,
      dependencies: { lnmux: `file:${info.filename}` },
      devDependencies,
    };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(consumer, null, 2));
    writeFileSync(join(dir, 'tsconfig.json'), tsconfig!);
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(consumerLock(info.filename, info.integrity, devDependencies), null, 2));

    await time('npm ci (consumer)', async () => {
      try {
        await run(npm, ['ci', '--offline', '--no-audit', '--no-fund'], dir);
      } catch (error) {
        if (!/ENOTCACHED/.test(String(error))) throw error;
        timings.push('(npm cache incomplete: fetched from the registry)');
        await run(npm, ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir);
      }
    });

    // docs/library.md's examples, verbatim: the Mux example (with the application's own functions
    // declared) is type-checked; the simulator example is type-checked and run.
    const [muxExample] = docBlocks('The Mux', 'ts');
    const [simExample] = docBlocks('Testing against the simulator', 'ts');
    const appFunctions = [
      'declare function orderStillWanted(paymentHash: string): Promise<boolean>;',
      'declare function markPaid(paymentHash: string): void;',
      'declare function markSettled(paymentHash: string): void;',
      'declare function alertOperator(event: unknown): void;',
    ].join('\n');
    writeFileSync(join(dir, 'mux-example.ts'), `${appFunctions}\n${muxExample!}`);
    writeFileSync(join(dir, 'sim-example.ts'), simExample!);
    // The type check and the run go side by side: the run takes the example transpiled alone.
    const simJs = ts.transpileModule(simExample!, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    writeFileSync(join(dir, 'sim-example.js'), simJs.outputText);
    // lnmux/client: its types check and it loads (with the .proto it reads at connect), without a daemon.
    const clientExample = [
      "import { LnmuxClient, LnmuxClientError, GrpcStatus, type InvoiceEvent } from 'lnmux/client';",
      "const client = await LnmuxClient.connect({ address: '127.0.0.1:1', insecurePlaintext: true, timeoutMs: 2_000 });",
      'const seen: InvoiceEvent[] = [];',
      'try {',
      '  await client.getInfo();',
      '} catch (error) {',
      "  if (error instanceof LnmuxClientError && error.code === GrpcStatus.UNAVAILABLE) console.log(`client: ${error.codeName}`);",
      '  else throw error;',
      '} finally {',
      '  client.close();',
      '}',
      'console.log(`events: ${seen.length}`);',
      'export {};',
    ].join('\n');
    writeFileSync(join(dir, 'client-example.ts'), clientExample);
    const clientJs = ts.transpileModule(clientExample, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    writeFileSync(join(dir, 'client-example.mjs'), clientJs.outputText);
    const t0 = Date.now();
    const [, ran, version, clientRan] = await Promise.all([
      time('tsc (consumer, skipLibCheck false)', () => run(process.execPath, [tsc, '-p', dir, '--noEmit'], dir)),
      time('sim example', () => run(process.execPath, [join(dir, 'sim-example.js')], dir, 120_000)),
      time('npx lnmux --version', () => run(npm, ['exec', '--offline', '--', 'lnmux', '--version'], dir)),
      time('lnmux/client example', () => run(process.execPath, [join(dir, 'client-example.mjs')], dir, 60_000)),
    ]);
    expect(clientRan.stdout).toBe('client: UNAVAILABLE\nevents: 0\n');
    timings.push(`(these three side by side: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    expect(ran.stdout).toMatch(/^paid in \d+ part\(s\)$/m);
    expect(ran.stdout).toMatch(/^invoice settled$/m);
    expect(version.stdout.trim()).toBe(manifest.version);

    console.log(`package test: ${timings.join(', ')}`);
  });
});
