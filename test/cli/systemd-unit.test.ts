/**
 * docs/operations.md's systemd unit passes `systemd-analyze verify` (skipped, with a message, where
 * systemd is not installed). The lnmux binary's path is replaced by one that exists here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const DOC = join(import.meta.dirname, '../../docs/operations.md');
const available = spawnSync('systemd-analyze', ['--version']).status === 0;

function unitOfDoc(): string {
  const block = /```ini\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'));
  if (block === null) throw new Error('docs/operations.md has no ```ini block');
  return block[1]!;
}

it('docs/operations.md carries a systemd unit that runs lnmux run with Restart=on-failure', () => {
  const unit = unitOfDoc();
  expect(unit).toMatch(/^ExecStart=\/usr\/bin\/lnmux -c \S+ run$/m);
  expect(unit).toMatch(/^Restart=on-failure$/m);
});

it.skipIf(!available)('the unit passes systemd-analyze verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lnmux-unit-'));
  const file = join(dir, 'lnmux.service');
  writeFileSync(file, unitOfDoc().replace('/usr/bin/lnmux', process.execPath));
  const out = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  expect({ status: out.status, stderr: out.stderr.split('\n').filter((l) => l.includes('lnmux.service')).join('\n') }).toEqual({ status: 0, stderr: '' });
});

if (!available) console.warn('systemd-analyze not found: the systemd unit in docs/operations.md is not verified here');
