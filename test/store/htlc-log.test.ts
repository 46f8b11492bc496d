/**
 * The HTLC log (migration 0004): entries per HTLC and event, kept once; listed per payment hash in time
 * order; the invoice lookup of an arriving HTLC returns its logged arrival.
 */
import { expect, it } from 'vitest';
import type { CircuitKey } from '../../src/protocol/index.js';
import type { HtlcLogEntry } from '../../src/store/types.js';
import { describeEachBackend, newInvoice, useTestDatabase } from './helpers.js';

const NODE = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : i));
const key = (htlcId: bigint): CircuitKey => ({ nodePubkey: NODE, chanId: 1n << 63n, htlcId });

describeEachBackend('HTLC log (%s)', (backend) => {
  const database = useTestDatabase(backend);

  it('records accepted, failed and lost entries once each, and lists them by payment hash in time order', async () => {
    const store = await database.freshStore();
    const invoice = newInvoice();
    const t = (ms: number) => new Date(1_800_000_000_000 + ms);
    const entries: HtlcLogEntry[] = [
      { key: key(1n), event: 'accepted', hash: invoice.hash, amountMsat: 4_000n, at: t(0) },
      { key: key(2n), event: 'accepted', hash: invoice.hash, amountMsat: 6_000n, at: t(1) },
      { key: key(1n), event: 'lost', hash: invoice.hash, amountMsat: 4_000n, reason: 'failedByNode', at: t(2) },
      { key: key(2n), event: 'failed', hash: invoice.hash, amountMsat: 6_000n, reason: 'mppTimeout', at: t(3) },
    ];
    await store.recordHtlcLog(entries);
    // A replay logs 'accepted' again: the first entry stays.
    await store.recordHtlcLog([{ ...entries[0]!, at: t(10) }]);
    expect(await store.listHtlcLog(invoice.hash)).toEqual(entries);
    expect(await store.listHtlcLog(new Uint8Array(32).fill(1))).toEqual([]);
  });

  it('refuses entries without a reason where one is needed, or with one where none is', async () => {
    const store = await database.freshStore();
    const hash = new Uint8Array(32);
    await expect(store.recordHtlcLog([{ key: key(1n), event: 'failed', hash, amountMsat: 1n, at: new Date() }])).rejects.toThrow(/reason/);
    await expect(store.recordHtlcLog([{ key: key(1n), event: 'accepted', hash, amountMsat: 1n, reason: 'x', at: new Date() }])).rejects.toThrow(/reason/);
  });

  it('returns the invoice of an arriving HTLC with its logged arrival, in one lookup', async () => {
    const store = await database.freshStore();
    const invoice = newInvoice();
    await store.recordInvoice(invoice);
    const at = new Date(1_800_000_000_123);
    await store.recordHtlcLog([{ key: key(1n), event: 'accepted', hash: invoice.hash, amountMsat: 4_000n, at }]);
    const replay = await store.getInvoiceForHtlc(invoice.hash, key(1n));
    expect(replay.invoice?.hash).toEqual(invoice.hash);
    expect(replay.acceptedAt).toEqual(at);
    expect((await store.getInvoiceForHtlc(invoice.hash, key(2n))).acceptedAt).toBeUndefined();
    expect(await store.getInvoiceForHtlc(new Uint8Array(32).fill(5), key(1n))).toEqual({ invoice: undefined, acceptedAt: undefined });
  });

  it('answers lookups that arrive together in one batch, each with its own invoice and arrival', async () => {
    const store = await database.freshStore();
    const [a, b] = [newInvoice(), newInvoice()];
    await store.recordInvoice(a);
    await store.recordInvoice(b);
    const at = new Date(1_800_000_000_456);
    await store.recordHtlcLog([{ key: key(7n), event: 'accepted', hash: b.hash, amountMsat: 1_000n, at }]);
    const unknown = new Uint8Array(32).fill(9);
    // Submitted at once: the first runs alone, the rest queue behind it and share one statement.
    const answers = await Promise.all([
      store.getInvoiceForHtlc(a.hash, key(5n)),
      store.getInvoiceForHtlc(b.hash, key(6n)),
      store.getInvoiceForHtlc(unknown, key(7n)),
      store.getInvoiceForHtlc(b.hash, key(7n)),
      store.getInvoiceForHtlc(a.hash, key(7n)),
    ]);
    expect(answers.map((x) => x.invoice?.hash)).toEqual([a.hash, b.hash, undefined, b.hash, a.hash]);
    expect(answers.map((x) => x.acceptedAt)).toEqual([undefined, undefined, undefined, at, undefined]);
    await expect(store.getInvoiceForHtlc(new Uint8Array(31), key(1n))).rejects.toThrow(/hash/);
  });
});
