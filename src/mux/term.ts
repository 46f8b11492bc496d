/**
 * A term: one holding of the cluster's leadership, with its epoch and a settlement engine of its own
 * whose settle commits carry that epoch (fencing: the store refuses a commit from an ended term). See
 * docs/architecture.md, "Leadership and terms".
 */
import type { Logger } from 'pino';
import { ecdhWithPrivateKey, type Keyring } from '../protocol/index.js';
import type { SettleFence, Store } from '../store/index.js';
import type { Cluster } from './cluster.js';
import { hopPolicyOf, registryConfigOf } from './config-map.js';
import type { MuxConfig } from './config.js';
import { SettlementEngine } from './engine.js';
import { PAYMENT_EVENTS, type MuxEvents } from './events.js';
import type { EngineObserver } from './metrics.js';
import type { OutageReporter } from './outage-reporter.js';
import { settleStoreOf } from './settle-store.js';

/** One holding of the leadership. */
export interface Term {
  readonly epoch: bigint;
  readonly engine: SettlementEngine;
  /** False from the moment the leadership session is lost: the engine's commits are not attempted. */
  held: boolean;
}

/** What a term is made of: everything but the leadership itself. */
export interface TermContext {
  readonly config: MuxConfig;
  readonly keyring: Keyring;
  readonly store: Store;
  readonly cluster: Cluster;
  readonly log: Logger;
  /** The name of the leadership whose epoch fences the commits. */
  readonly leadership: string;
  /** Hands a payment event to the application. */
  readonly notify: (event: keyof MuxEvents, payload: unknown) => void;
  /** The engines' observer (the metrics), if any. */
  readonly observer?: EngineObserver;
  /** The Mux's database outage reporter, shared with the leader loop. */
  readonly outages?: OutageReporter;
}

/**
 * Makes a term with `epoch`: an engine fenced with it, told of the HTLCs whose settle is committed but
 * not known final. The caller makes it current, then attaches it to the cluster (the interceptors
 * open). `isCurrent` says whether the term is still this instance's current one: commits carry the
 * epoch only while it is, and held.
 */
export async function beginTerm(context: TermContext, epoch: bigint, isCurrent: (term: Term) => boolean): Promise<Term> {
  const unfinalized = await context.store.listUnfinalizedHtlcs();
  const fence = (): SettleFence | undefined => (term.held && isCurrent(term) ? { leadership: context.leadership, epoch } : undefined);
  const engine = new SettlementEngine({
    registry: registryConfigOf(context.config),
    policy: hopPolicyOf(context.config),
    minFinalCltvExpiryDelta: context.config.invoice.minFinalCltvExpiryDelta,
    acceptGoLnmuxInvoices: context.config.invoice.acceptGoLnmuxInvoices,
    ecdh: ecdhWithPrivateKey(context.keyring.identityPrivateKey()),
    keyring: context.keyring,
    store: settleStoreOf(context.store, fence),
    logger: context.log,
    ...(context.outages !== undefined ? { outages: context.outages } : {}),
    ...(context.observer !== undefined ? { observer: context.observer } : {}),
  });
  for (const event of PAYMENT_EVENTS) engine.on(event, (payload: unknown) => context.notify(event, payload));
  const term: Term = { epoch, held: true, engine };
  for (const htlc of unfinalized) engine.expectFinal(htlc);
  return term;
}

/**
 * Ends a term: interceptors closed (LND offers the held HTLCs to the next one), engine stopped.
 * Resolves when the term's last HTLC log entries are written.
 */
export function endTerm(context: TermContext, term: Term): Promise<void> {
  term.held = false;
  context.cluster.detach(term.engine);
  const flushed = term.engine.flushLog();
  term.engine.stop();
  return flushed;
}
