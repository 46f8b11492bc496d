/**
 * `lnmux run`'s logger: pino at the configured level, in one of two formats (config `logging.format`,
 * flag `--log-format`). json, the default, for machines: one JSON object a line with an ISO 8601
 * timestamp. pretty, for people: the Go lnmux's console lines (zap's console encoder),
 *
 *   2022-04-19T08:39:09.333+0200	INFO	Htlc received	{"hash": "fd3b…", "source": "026f…", "circuitKey": "…"}
 *
 * local time with its offset, the level, the message, and the fields as JSON. An error field shows its
 * message only (an expected outage needs no stack trace; the json format keeps the stack).
 */
import pino, { type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** The logger `lnmux run` uses; `write` (default: stdout) receives whole lines. */
export function makeLogger(options: { readonly level: string; readonly format: LogFormat; readonly write?: (line: string) => void }): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  if (options.format === 'json') {
    return pino({ level: options.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, { write });
  }
  return pino({ level: options.level, base: undefined }, { write: (line: string) => write(prettyLine(line)) });
}

/** One pino JSON line as a console line (see the file comment); a line that is not JSON is passed on as it is. */
export function prettyLine(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const { level, time, msg, ...fields } = record;
  const head = `${localTimestamp(typeof time === 'number' ? new Date(time) : new Date())}\t${LEVEL_NAMES[level as number] ?? String(level)}\t${typeof msg === 'string' ? msg : ''}`;
  const err = fields['err'];
  if (err !== null && typeof err === 'object' && 'message' in err) fields['err'] = (err as { message: unknown }).message;
  const keys = Object.keys(fields);
  if (keys.length === 0) return `${head}\n`;
  const json = `{${keys.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(fields[k])}`).join(', ')}}`;
  return `${head}\t${json}\n`;
}

/** `2022-04-19T08:39:09.333+0200`: local time, milliseconds, the offset as zap writes it. */
export function localTimestamp(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}
