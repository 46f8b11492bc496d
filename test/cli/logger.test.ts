/**
 * `lnmux run`'s two log formats (src/cli/logger.ts): json with ISO timestamps for machines, and the Go
 * lnmux's console lines for people, as the seed's expected output shows them
 * (`2022-04-19T08:39:09.333+0200	INFO	Htlc received	{"hash": "fd3b…", ...}`).
 */
import { describe, expect, it } from 'vitest';
import { localTimestamp, makeLogger, prettyLine } from '../../src/cli/logger.js';

const SEED_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}\t(DEBUG|INFO|WARN|ERROR)\t[^\t\n]+(\t\{.*\})?\n$/;

describe('lnmux run logs', () => {
  it('pretty: time with its offset, level, message, then the fields as JSON with ": " and ", ", integers as integers', () => {
    const lines: string[] = [];
    const log = makeLogger({ level: 'debug', format: 'pretty', write: (line) => lines.push(line) });
    log.info({ hash: 'fd'.repeat(32), source: '02aa', circuitKey: '1161084279062528:7', expiry: 1110 }, 'Htlc received');
    log.debug({ hash: 'fd'.repeat(32) }, 'Loaded invoice from db');
    log.info('InvoiceRegistry starting');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(SEED_LINE);
    expect(lines[0]).toContain(`\tINFO\tHtlc received\t{"hash": "${'fd'.repeat(32)}", "source": "02aa", "circuitKey": "1161084279062528:7", "expiry": 1110}\n`);
    expect(lines[1]).toContain('\tDEBUG\tLoaded invoice from db\t{"hash": ');
    expect(lines[2]).toMatch(/\tINFO\tInvoiceRegistry starting\n$/);
  });

  it('pretty: an error field shows its message, no stack trace', () => {
    const lines: string[] = [];
    makeLogger({ level: 'info', format: 'pretty', write: (line) => lines.push(line) }).warn({ err: new Error('connection refused') }, 'Store unavailable');
    expect(lines[0]).toContain('\tWARN\tStore unavailable\t{"err": "connection refused"}');
    expect(lines[0]).not.toContain('at ');
  });

  it('json: one object a line with an ISO 8601 timestamp, the level below the configured one dropped', () => {
    const lines: string[] = [];
    const log = makeLogger({ level: 'info', format: 'json', write: (line) => lines.push(line) });
    log.debug('hidden');
    log.info({ height: 800_000 }, 'Block');
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 30, msg: 'Block', height: 800_000 });
    expect(record['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('localTimestamp writes the local offset as zap does (+hhmm)', () => {
    expect(localTimestamp(new Date(0))).toMatch(/^19(69|70)-\d\d-\d\dT\d\d:\d\d:00\.000[+-]\d{4}$/);
    expect(prettyLine('not json\n')).toBe('not json\n');
  });
});
