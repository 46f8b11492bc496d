/**
 * SubscribeInvoices under back-pressure, without a network: a subscriber whose every write fills its
 * buffer waits for 'drain' before the next event, and each wait takes its listeners off again, so a slow
 * subscriber holds a constant number of listeners however long it stays.
 */
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { expect, it } from 'vitest';
import { V1Service } from '../../src/api/index.js';
import type { InvoiceEvent } from '../../src/store/index.js';
import { waitUntil } from '../support/wait.js';
import { StandInMux } from './stand-in-mux.js';

class EventsMux extends StandInMux {
  override async listInvoiceEvents(after: bigint, limit: number): Promise<readonly InvoiceEvent[]> {
    const events: InvoiceEvent[] = [];
    for (let index = after + 1n; index <= 300n && events.length < limit; index++) events.push({ index, hash: new Uint8Array(32), kind: 'created', amountMsat: 1n, at: new Date() });
    return events;
  }
}

/** A server call whose buffer is always full: write() takes the event and answers false. */
class SlowCall extends EventEmitter {
  readonly request = { from_index: '0' };
  readonly written: unknown[] = [];
  write(message: unknown): boolean {
    this.written.push(message);
    return false;
  }
}

it('waits for drain after each full write, keeping a constant number of listeners', async () => {
  const service = new V1Service({ mux: new EventsMux(), info: { version: 't', network: 'regtest', autoSettle: true }, log: pino({ level: 'silent' }), streamPollMs: 10 });
  const call = new SlowCall();
  const subscribe = service.handlers()['SubscribeInvoices'] as unknown as (call: grpc.ServerWritableStream<unknown, unknown>) => void;
  subscribe(call as unknown as grpc.ServerWritableStream<unknown, unknown>);
  await waitUntil(() => call.written.length === 1, { what: 'the first event' });
  const listeners = () => call.listenerCount('drain') + call.listenerCount('cancelled') + call.listenerCount('close');
  const waiting = listeners();
  for (let i = 1; i < 250; i++) {
    call.emit('drain');
    await waitUntil(() => call.written.length === i + 1, { what: `event ${i + 1}` });
    expect(listeners()).toBe(waiting);
  }
  expect(call.written).toHaveLength(250); // one event per drain, never ahead of the client
  call.emit('cancelled');
  service.close();
});
