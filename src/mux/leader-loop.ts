/**
 * The leadership loop: claims the cluster's leadership while lnmux runs (src/store/leadership.ts: a
 * PostgreSQL session holding an advisory lock). A standby waits on the lock, woken the moment the
 * holder's session ends. A leader waits for its session to be lost, then asks for it back every
 * RETAKE_MS: with its epoch unchanged the term goes on; if another instance holds it, or led in
 * between, the term ends at once. While its session is lost a leader keeps its interceptors, so regular
 * forwards keep flowing whether the database is down for everyone or only for it (LND takes one
 * interceptor per node, so nobody else can decide on these nodes meanwhile). docs/architecture.md,
 * "Leadership and terms". Its retry sleeps keep the process alive (keepAliveClock), as they did when
 * they were plain timers.
 */
import type { Logger } from 'pino';
import { keepAliveClock, sleep } from '../shell/clock.js';
import type { LeadershipLostCause, LeadershipOptions, Store } from '../store/index.js';
import type { MuxEvents } from './events.js';
import { NO_METRICS, type LeadershipObserver } from './metrics.js';
import type { Term } from './term.js';
import { isExpectedOutage, OutageReporter } from './outage-reporter.js';

/** A leader whose leadership session was lost tries to take it back this often, ms. */
const RETAKE_MS = 200;
/** A standby whose database is unreachable tries again this often, ms. */
const STANDBY_RETRY_MS = 1_000;

/** The terms the loop begins and ends: the Mux. */
export interface TermHost {
  /** The current term; undefined on a standby. */
  readonly term: Term | undefined;
  /** Begins a term with `epoch` and makes it current. Throws if it could not (the lock is then let go). */
  beginTerm(epoch: bigint): Promise<void>;
  /** Ends the current term, if any. */
  endTerm(): void;
  /** The current term goes on after its leadership session was lost and taken back. */
  resumeTerm(): void;
}

export interface LeaderLoopOptions {
  readonly store: Store;
  /** The leadership's name: one per cluster. */
  readonly name: string;
  /** This instance's name in the leadership record. */
  readonly instanceId: string;
  readonly timing?: Pick<LeadershipOptions, 'heartbeatMs' | 'sessionTimeoutMs'>;
  readonly host: TermHost;
  readonly log: Logger;
  readonly notify: <K extends 'role' | 'leadership'>(event: K, payload: MuxEvents[K][0]) => void;
  /** Told of failed leadership checks, for the metrics; default: nobody. */
  readonly observer?: LeadershipObserver;
  /** Says database outages; default one of its own (the Mux shares its one with the engines). */
  readonly outages?: OutageReporter;
}

export class LeaderLoop {
  readonly #options: LeaderLoopOptions;
  /** Wakes the loop when the leadership session is lost, or on stop. */
  #wake: (() => void) | undefined;

  constructor(options: LeaderLoopOptions) {
    this.#options = options;
  }

  /** Wakes the loop (to see that `signal` aborted). */
  wake(): void {
    this.#wake?.();
  }

  /** Runs until `signal` aborts; ends the term and releases the leadership on the way out. */
  async run(signal: AbortSignal): Promise<void> {
    const { store, name, instanceId, host, log, notify } = this.#options;
    const leadership = store.leadership(name, instanceId, {
      ...this.#options.timing,
      onLost: (cause) => this.#lost(cause),
    });
    // Stopping ends a standby's blocking wait on the lock at once (a leader ends its term first, below).
    signal.addEventListener('abort', () => {
      if (!leadership.held) void leadership.release();
    }, { once: true });
    let previousEpoch: bigint | undefined;
    let announcedStandby = false;
    const outages = this.#options.outages ?? new OutageReporter({ log });
    while (!signal.aborted) {
      const term = host.term;
      if (term?.held === true) {
        await this.#untilLost(signal);
        continue;
      }
      try {
        // A standby (once it said so) waits for the lock; a leader whose session was lost only asks (it is
        // intercepting), and so does the first attempt (to say 'standby' at once if another leads).
        const wait = term === undefined && announcedStandby;
        const outcome = await leadership.take({ wait, ...(previousEpoch !== undefined ? { previousEpoch } : {}) });
        outages.succeeded();
        if (signal.aborted) break;
        if (outcome.kind === 'taken') {
          previousEpoch = outcome.epoch;
          if (term !== undefined && outcome.resumed) {
            term.held = true;
            host.resumeTerm();
            log.info({ instance: instanceId, epoch: String(outcome.epoch) }, 'Leadership taken back; the term goes on');
            notify('leadership', { held: true, epoch: outcome.epoch, resumed: true });
            continue;
          }
          if (term !== undefined) {
            log.warn({ instance: instanceId, epoch: String(outcome.epoch) }, 'Another instance led meanwhile; starting a new term');
            host.endTerm();
          }
          try {
            await host.beginTerm(outcome.epoch);
          } catch (error) {
            // Holding the lock without intercepting would keep every other instance out: let it go.
            await leadership.release();
            throw error;
          }
          announcedStandby = false;
          log.info({ instance: instanceId, epoch: String(outcome.epoch) }, 'Leadership taken; intercepting');
          notify('leadership', { held: true, epoch: outcome.epoch, resumed: false });
          notify('role', { role: 'active' });
          // The session may have been lost while the term was being made (its onLost found no term to
          // tell): hold the commits at once; the loop takes the leadership back or ends the term.
          if (!leadership.held) this.#lost({ kind: 'connectionLost', detail: 'the session ended while the term began' });
        } else if (term !== undefined && outcome.holder === instanceId) {
          // Our own lost session still holds the lock until the server ends it (at most sessionTimeoutMs).
          await sleep(keepAliveClock, RETAKE_MS, signal);
        } else if (term !== undefined) {
          log.warn({ instance: instanceId, holder: outcome.holder }, 'Leadership lost to another instance; standing by');
          host.endTerm();
          announcedStandby = true;
          notify('role', { role: 'standby' });
        } else if (!announcedStandby) {
          announcedStandby = true;
          log.info({ holder: outcome.holder }, 'Standing by: another instance is active');
          notify('role', { role: 'standby' });
        }
      } catch (error) {
        if (signal.aborted) break;
        (this.#options.observer ?? NO_METRICS).storeError('leadership');
        // Database unreachable. A leader whose session is lost keeps intercepting (see the file comment)
        // and its commits wait. Told by the outage reporter (a line at the start, one a minute, one at
        // the end); an unexpected error in full.
        if (isExpectedOutage(error)) outages.failed('leadership', error);
        else log.error({ err: error, role: host.term !== undefined ? 'active' : 'standby' }, 'Leadership check failed; retrying');
        await sleep(keepAliveClock, host.term !== undefined ? RETAKE_MS : STANDBY_RETRY_MS, signal);
      }
    }
    host.endTerm();
    await leadership.release();
  }

  #lost(cause: LeadershipLostCause): void {
    const term = this.#options.host.term;
    if (term === undefined) return;
    term.held = false;
    this.#options.log.warn({ cause, epoch: String(term.epoch) }, 'Leadership session lost: settle commits held; taking it back');
    this.#options.notify('leadership', { held: false, epoch: term.epoch });
    this.wake();
  }

  #untilLost(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || this.#options.host.term?.held !== true) return resolve();
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
