/** Reads a gateway's events in the background so a test can wait for the one it expects. */
import type { GatewayEvent, NodeGateway } from '../../../src/lnd/node-gateway.js';

export class EventLog {
  readonly events: GatewayEvent[] = [];
  #cursor = 0;
  #waiters: Array<{ test: (e: GatewayEvent) => boolean; from: number; resolve: (e: GatewayEvent) => void }> = [];
  readonly done: Promise<void>;

  constructor(gateway: NodeGateway) {
    this.done = (async () => {
      for await (const event of gateway.events()) {
        this.events.push(event);
        const index = this.events.length - 1;
        for (const w of [...this.#waiters]) {
          if (index >= w.from && w.test(event)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      }
    })();
  }

  /** The index the next event will get: pass it to `next` to search from here regardless of the cursor. */
  mark(): number {
    return this.events.length;
  }

  /**
   * The next event for which `test` holds, searching from `from` (default: just after the previous
   * match); moves the cursor past it. No timeout here: the test's own timeout bounds it.
   */
  async next<E extends GatewayEvent>(test: (e: GatewayEvent) => e is E, from?: number): Promise<E>;
  async next(test: (e: GatewayEvent) => boolean, from?: number): Promise<GatewayEvent>;
  async next(test: (e: GatewayEvent) => boolean, from = this.#cursor): Promise<GatewayEvent> {
    const index = this.events.findIndex((e, i) => i >= from && test(e));
    if (index >= 0) {
      this.#cursor = Math.max(this.#cursor, index + 1);
      return this.events[index]!;
    }
    const event = await new Promise<GatewayEvent>((resolve) => this.#waiters.push({ test, from, resolve }));
    this.#cursor = Math.max(this.#cursor, this.events.indexOf(event) + 1);
    return event;
  }

  /** The node states seen so far, by kind. */
  stateKinds(): string[] {
    return this.events.flatMap((e) => (e.kind === 'state' ? [e.state.kind] : []));
  }
}

export const isState =
  <K extends string>(kind: K) =>
  (e: GatewayEvent): e is Extract<GatewayEvent, { kind: 'state' }> & { state: { kind: K } } =>
    e.kind === 'state' && e.state.kind === kind;

export const isStream =
  (stream: string, kind: string) =>
  (e: GatewayEvent): e is Extract<GatewayEvent, { kind: 'stream' }> =>
    e.kind === 'stream' && e.stream === stream && e.state.kind === kind;

export const isHtlc = (e: GatewayEvent): e is Extract<GatewayEvent, { kind: 'htlc' }> => e.kind === 'htlc';
