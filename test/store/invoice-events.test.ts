/**
 * The invoice events table behind the durable invoice stream (src/store/invoice-events.ts): every change
 * of an invoice is written with the change itself, and the stream index is given to committed rows only,
 * in passes, so that a reader following `index > last` never skips a row that committed late.
 */
import { expect, it } from 'vitest';
import { bytesToHex } from '../../src/protocol/index.js';
import type { InvoiceEvent, Store } from '../../src/store/index.js';
import { bytes32, describeEachBackend, describeOnPostgres, htlcSet, newInvoice, useTestDatabase } from './helpers.js';

/** Every indexed event, as (hash hex, kind) pairs with their index. */
async function allEvents(store: Store): Promise<InvoiceEvent[]> {
  await store.sequenceInvoiceEvents();
  return [...(await store.listInvoiceEvents(0n, 1000))];
}

function brief(events: readonly InvoiceEvent[]): { index: bigint; hash: string; kind: string }[] {
  return events.map((e) => ({ index: e.index, hash: bytesToHex(e.hash).slice(0, 8), kind: e.kind }));
}

describeEachBackend('invoice events (%s)', (backend) => {
  const database = useTestDatabase(backend);

  it('records every change of an invoice with the change, and numbers them only when sequenced, from 1 up', async () => {
    const store = await database.freshStore();
    const invoice = newInvoice({ amountMsat: 9_000n });
    await store.recordInvoice(invoice);
    expect(await store.listInvoiceEvents(0n, 100)).toEqual([]); // not sequenced yet: invisible to the stream
    expect(await store.sequenceInvoiceEvents()).toBe(1n);
    const set = htlcSet(9_000n, 3);
    await store.recordInvoiceEvents([{ hash: invoice.hash, kind: 'accepted', setId: set.setId, amountMsat: 9_000n, at: new Date() }]);
    expect((await store.commitSettle(invoice.hash, set.setId, set.htlcs)).kind).toBe('committed');
    for (const htlc of set.htlcs) await store.markHtlcFinal(htlc, 'settled');
    const events = await allEvents(store);
    const h = bytesToHex(invoice.hash).slice(0, 8);
    expect(brief(events)).toEqual([
      { index: 1n, hash: h, kind: 'created' },
      { index: 2n, hash: h, kind: 'accepted' },
      { index: 3n, hash: h, kind: 'settleCommitted' },
      { index: 4n, hash: h, kind: 'settled' },
    ]);
    expect(events[0]).toMatchObject({ amountMsat: 9_000n });
    expect(events[0]!.setId).toBeUndefined();
    expect(events[2]).toMatchObject({ amountMsat: 9_000n, setId: set.setId }); // the set's amount, summed over its parts
    expect(events[3]).toMatchObject({ setId: set.setId });
    expect(await store.listInvoiceEvents(2n, 1)).toHaveLength(1);
    expect((await store.listInvoiceEvents(2n, 1))[0]!.index).toBe(3n);
    expect(await store.sequenceInvoiceEvents()).toBeUndefined(); // nothing new
  });

  it('records cancelled, failed, released and settleRevoked, and nothing for a refused change', async () => {
    const store = await database.freshStore();
    const cancelled = newInvoice();
    const failed = newInvoice();
    const revoked = newInvoice();
    const { amountMsat: _, ...amountless } = newInvoice({ minAmountMsat: 5n });
    for (const i of [cancelled, failed, revoked, amountless]) await store.recordInvoice(i);
    await store.recordInvoice(cancelled); // alreadyExists: no second `created`
    expect((await store.cancelInvoice(cancelled.hash)).kind).toBe('cancelled');
    expect((await store.cancelInvoice(cancelled.hash)).kind).toBe('alreadyCancelled');
    const failedSet = htlcSet(failed.amountMsat, 2);
    await store.recordInvoiceEvents([{ hash: failed.hash, kind: 'released', setId: bytes32(), reason: 'mppTimeout', at: new Date() }]);
    await store.commitSettle(failed.hash, failedSet.setId, failedSet.htlcs);
    await store.markHtlcFinal(failedSet.htlcs[0]!, 'settled');
    await store.markHtlcFinal(failedSet.htlcs[1]!, 'failed');
    const revokedSet = htlcSet(revoked.amountMsat, 1);
    await store.commitSettle(revoked.hash, revokedSet.setId, revokedSet.htlcs);
    expect((await store.revokeSettle(revoked.hash, revokedSet.setId)).kind).toBe('revoked');
    const events = await allEvents(store);
    const kinds = (hash: Uint8Array) => events.filter((e) => bytesToHex(e.hash) === bytesToHex(hash)).map((e) => e.kind);
    expect(kinds(cancelled.hash)).toEqual(['created', 'cancelled']);
    expect(kinds(failed.hash)).toEqual(['created', 'released', 'settleCommitted', 'failed']);
    expect(kinds(revoked.hash)).toEqual(['created', 'settleCommitted', 'settleRevoked']);
    expect(kinds(amountless.hash)).toEqual(['created']);
    expect(events.find((e) => e.kind === 'created' && bytesToHex(e.hash) === bytesToHex(amountless.hash))!.amountMsat).toBeUndefined();
    expect(events.find((e) => e.kind === 'released')).toMatchObject({ reason: 'mppTimeout' });
    expect(events.find((e) => e.kind === 'settleRevoked')).toMatchObject({ setId: revokedSet.setId });
    expect(events.map((e) => e.index)).toEqual(events.map((_, i) => BigInt(i + 1)));
  });

  it('lists invoices by creation time, with the other filters and paging', async () => {
    const store = await database.freshStore();
    const t0 = new Date('2030-01-01T00:00:00Z');
    const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);
    const made = [];
    for (const m of [0, 10, 20, 30]) {
      const invoice = newInvoice({ createdAt: at(m), expiresAt: at(m + 60) });
      made.push(invoice);
      await store.recordInvoice(invoice);
    }
    await store.cancelInvoice(made[2]!.hash);
    const hashes = (page: { invoices: readonly { hash: Uint8Array }[] }) => page.invoices.map((i) => bytesToHex(i.hash));
    expect(hashes(await store.listInvoices({ limit: 10, createdFrom: at(10), createdBefore: at(30) }))).toEqual([made[1], made[2]].map((i) => bytesToHex(i!.hash)));
    expect(hashes(await store.listInvoices({ limit: 10, createdFrom: at(10), states: ['open'] }))).toEqual([made[1], made[3]].map((i) => bytesToHex(i!.hash)));
    const first = await store.listInvoices({ limit: 1, createdFrom: at(5), direction: 'backward' });
    expect(hashes(first)).toEqual([bytesToHex(made[3]!.hash)]);
    const second = await store.listInvoices({ limit: 5, createdFrom: at(5), direction: 'backward', cursor: first.nextCursor! });
    expect(hashes(second)).toEqual([made[2], made[1]].map((i) => bytesToHex(i!.hash)));
    expect(second.nextCursor).toBeNull();
    await expect(store.listInvoices({ limit: 1, createdFrom: new Date(Number.NaN) })).rejects.toThrow(/createdFrom/);
  });
});

describeOnPostgres('invoice events, a change that commits late', () => {
  const database = useTestDatabase('postgres');

  it('gets an index after the ones a reader has seen, so following index > last misses nothing', async () => {
    const store = await database.freshStore();
    const early = newInvoice();
    const late = newInvoice();
    await store.recordInvoice(early);
    // A transaction inserts its event first (the lower insertion id) and commits last.
    const other = database.otherDb();
    let commit!: () => void;
    const committed = new Promise<void>((resolve) => (commit = resolve));
    const slow = other.transaction('late change', async (session) => {
      await session.query(`INSERT INTO lnmux.invoice_events (hash, kind) VALUES ($1, 'cancelled')`, [Buffer.from(early.hash)]);
      await committed;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await store.recordInvoice(late);
    await store.sequenceInvoiceEvents();
    const seen = await store.listInvoiceEvents(0n, 100);
    expect(seen.map((e) => e.kind)).toEqual(['created', 'created']);
    const last = seen.at(-1)!.index;
    commit();
    await slow;
    await store.sequenceInvoiceEvents();
    const after = await store.listInvoiceEvents(last, 100);
    expect(after.map((e) => [e.index, e.kind])).toEqual([[last + 1n, 'cancelled']]);
  });
});
