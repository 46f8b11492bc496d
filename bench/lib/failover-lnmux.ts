/**
 * One lnmux instance for bench/failover.bench.ts, in its own process (forked with IPC, so that the bench
 * can kill -9 it): opens its PostgreSQL store and its Mux from LNMUX_FAILOVER_SPEC (JSON), starts, and
 * reports its role changes with wall-clock times. On {kind:'invoice'} it creates an invoice.
 */
import pino from 'pino';
import type { MuxConfigInput } from '../../src/mux/config.js';
import { Mux } from '../../src/mux/mux.js';
import { openStore } from '../../src/store/index.js';

export interface FailoverLnmuxSpec {
  readonly config: MuxConfigInput;
  readonly databaseUrl: string;
  readonly instanceId: string;
}

export type FailoverLnmuxCommand = { readonly kind: 'invoice'; readonly amountMsat: bigint };

export type FailoverLnmuxReport =
  | { readonly kind: 'role'; readonly role: 'active' | 'standby'; readonly at: number }
  | { readonly kind: 'ready'; readonly nodes: number }
  | { readonly kind: 'invoice'; readonly paymentRequest: string }
  | { readonly kind: 'error'; readonly message: string };

const wallClock = (): number => performance.timeOrigin + performance.now();
const spec = JSON.parse(process.env.LNMUX_FAILOVER_SPEC ?? 'null') as FailoverLnmuxSpec | null;
if (spec === null) throw new Error('LNMUX_FAILOVER_SPEC is not set');

function report(message: FailoverLnmuxReport): void {
  process.send!(message);
}

const logger = process.env.LNMUX_BENCH_LOG ? pino({ level: process.env.LNMUX_BENCH_LOG, name: spec.instanceId }, pino.destination(2)) : pino({ level: 'silent' });
const store = await openStore({ databaseUrl: spec.databaseUrl, onWarning: () => {} });
const mux = await Mux.open(spec.config, { store, logger, instanceId: spec.instanceId });
const ready = new Set<string>();
mux.on('role', ({ role }) => report({ kind: 'role', role, at: wallClock() }));
mux.on('node', ({ pubkey, state }) => {
  if (state === 'ready') ready.add(pubkey);
  else ready.delete(pubkey);
  report({ kind: 'ready', nodes: ready.size });
});
process.on('message', (command: FailoverLnmuxCommand) => {
  mux
    .createInvoice({ amountMsat: command.amountMsat, description: 'failover bench' })
    .then((invoice) => report({ kind: 'invoice', paymentRequest: invoice.paymentRequest }))
    .catch((error: unknown) => report({ kind: 'error', message: String(error) }));
});
process.on('disconnect', () => {
  void mux.stop().finally(() => process.exit(0));
});
await mux.start();
