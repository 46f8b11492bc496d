// Removes what dist/ holds for sources that no longer exist (a file renamed or deleted in src/), so
// that an incremental build (`npm run build`, run by `npm ci` and `npm pack` through `prepare`) never
// packs or runs a stale module. tsc itself only writes outputs, it never deletes them.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';
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
