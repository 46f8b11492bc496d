// `npm run build` (run by `npm ci` and `npm pack` through `prepare`): tsc -p tsconfig.build.json into
// dist/, incremental (dist/.tsbuildinfo), between two steps tsc does not do:
// - before: remove what dist/ holds for sources that no longer exist (a file renamed or deleted in
//   src/), so that a build never packs or runs a stale module (tsc only writes outputs);
// - after: make the package's bin files executable, so that `npx lnmux` runs dist/cli/bin.js in a clone
//   (npm sets the mode when it installs the package elsewhere, but not for the project's own bin).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const src = join(root, 'src');
const outputs = /(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/;

/** Prunes `dir`; returns true when it is left empty. */
function prune(dir) {
  let empty = true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (prune(path)) rmdirSync(path);
      else empty = false;
      continue;
    }
    const match = outputs.exec(entry.name);
    if (match === null) {
      empty = false; // .tsbuildinfo and anything else tsc did not make from a source
      continue;
    }
    const source = join(src, relative(dist, dir), entry.name.slice(0, -match[1].length) + '.ts');
    if (existsSync(source)) empty = false;
    else rmSync(path);
  }
  return empty;
}

if (existsSync(dist)) prune(dist);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const { bin = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const file of typeof bin === 'string' ? [bin] : Object.values(bin)) chmodSync(join(root, file), 0o755);
