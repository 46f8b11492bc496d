/**
 * One lnmux instance of the chaos suite, as a child process (`node --import tsx lnmux-child.ts`): the
 * library's Mux with the configuration in the LNMUX_CHAOS_CONFIG environment variable (JSON), started
 * as any deployment starts it (leader or standby is the Mux's business). Reports on stdout, one JSON
 * object per line: {"event":"started"} and {"event":"role","role":"active"|"standby"}. lnmux's own
 * logs (pino, JSON lines) go to stderr. SIGTERM stops it cleanly; the suite mostly uses SIGKILL.
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import { Mux } from '../../src/mux/mux.js';
import type { MuxConfigInput } from '../../src/mux/config.js';

function report(message: Record<string, unknown>): void {
  // Synchronous, so that the line is out before a SIGKILL.
  writeSync(1, `${JSON.stringify({ ...message, pid: process.pid, at: Date.now() })}\n`);
}

const raw = process.env.LNMUX_CHAOS_CONFIG;
if (raw === undefined) throw new Error('LNMUX_CHAOS_CONFIG is not set');
const config = JSON.parse(raw) as MuxConfigInput;
const logger = pino({ level: process.env.LNMUX_CHAOS_LOG ?? 'info', base: { pid: process.pid } }, pino.destination(2));

const mux = await Mux.open(config, { logger, gateway: { backoff: { initialMs: 50, maxMs: 250 } } });
mux.on('role', ({ role }) => report({ event: 'role', role }));
process.on('SIGTERM', () => {
  void mux.stop().then(() => process.exit(0));
});
await mux.start();
report({ event: 'started' });
