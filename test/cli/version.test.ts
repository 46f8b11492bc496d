/** `lnmux --version` from the sources (the package test runs it from the installed dist/). */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('lnmux --version', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([['--version'], ['-V']])('%s prints the package version and exits 0', async (flag) => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    expect(await main([flag])).toBe(0);
    expect(written.join('')).toBe(`${version}\n`);
  });
});
