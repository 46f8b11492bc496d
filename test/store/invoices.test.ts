import { describe, expect, it } from 'vitest';
import type { Invoice, Store } from '../../src/store/types.js';
import { describeEachBackend, bytes32, htlcSet, newInvoice, useTestDatabase } from './helpers.js';

describeEachBackend('invoices on %s', (backend) => {
  const database = useTestDatabase(backend);

  async function recorded(store: Store, overrides: Parameters<typeof newInvoice>[0] = {}): Promise<Invoice & { readonly amountMsat: bigint }> {
    const outcome = await store.recordInvoice(newInvoice(overrides));
    if (outcome.kind !== 'recorded') throw new Error(`expected recorded, got ${outcome.kind}`);
    return outcome.invoice as Invoice & { readonly amountMsat: bigint };
  }

  describe('recordInvoice and getInvoice', () => {
    it('records an open invoice and reads back every field exactly', async () => {
      const store = await database.freshStore();
      const invoice = newInvoice({ amountMsat: (1n << 63n) - 1n, description: { kind: 'hash', hash: bytes32() } });
      const outcome = await store.recordInvoice(invoice);
      expect(outcome.kind).toBe('recorded');
      const stored = await store.getInvoice(invoice.hash);
      expect(stored).toEqual({ ...invoice, kind: 'stateless', state: 'open', sequence: expect.any(BigInt) });
      expect(stored).toEqual(outcome.invoice);
    });

    it('records each invoice kind and reads it back: amountless with a minimum, hold with metadata, goLnmux without a request', async () => {
      const store = await database.freshStore();
      const { amountMsat: _, ...amountless } = newInvoice({ minAmountMsat: 5_000n });
      const hold = newInvoice({ kind: 'hold', metadata: Uint8Array.from([1, 2, 3]) });
      const { paymentRequest: __, ...go } = newInvoice({ kind: 'goLnmux' });
      for (const invoice of [amountless, hold, go]) {
        const outcome = await store.recordInvoice(invoice);
        expect(outcome.kind).toBe('recorded');
        expect(await store.getInvoice(invoice.hash)).toEqual({ kind: 'stateless', ...invoice, state: 'open', sequence: expect.any(BigInt) });
      }
      expect((await store.getInvoice(amountless.hash))?.amountMsat).toBeUndefined();
    });

    it('refuses kind mistakes naming the field: a minimum with an amount, a goLnmux invoice with a request or without an amount', async () => {
      const store = await database.freshStore();
      await expect(store.recordInvoice(newInvoice({ minAmountMsat: 1n }))).rejects.toThrow(/minAmountMsat/);
      await expect(store.recordInvoice(newInvoice({ kind: 'goLnmux' }))).rejects.toThrow(/paymentRequest/);
      const { amountMsat: _, paymentRequest: __, ...noAmount } = newInvoice({ kind: 'goLnmux' });
      await expect(store.recordInvoice(noAmount)).rejects.toThrow(/amountMsat/);
      await expect(store.recordInvoice(newInvoice({ metadata: new Uint8Array(640) }))).rejects.toThrow(/metadata/);
    });

    it('keeps a text description', async () => {
      const store = await database.freshStore();
      const invoice = newInvoice({ description: { kind: 'text', text: 'café ☕, "quoted" \\ and {braces}' } });
      await store.recordInvoice(invoice);
      expect((await store.getInvoice(invoice.hash))?.description).toEqual(invoice.description);
    });

    it('returns undefined for a hash it never recorded', async () => {
      const store = await database.freshStore();
      expect(await store.getInvoice(bytes32())).toBeUndefined();
    });

    it('refuses to record a second invoice with the same hash and returns the stored one unchanged', async () => {
      const store = await database.freshStore();
      const first = await recorded(store);
      const again = await store.recordInvoice(newInvoice({ hash: first.hash, amountMsat: 99n }));
      expect(again).toEqual({ kind: 'alreadyExists', invoice: first });
    });

    it('records invoices submitted together, each with its own outcome and sequence; of two with one hash, one wins', async () => {
      const store = await database.freshStore();
      const invoices = Array.from({ length: 25 }, () => newInvoice());
      const duplicate = newInvoice({ hash: invoices[3]!.hash, amountMsat: 1n });
      const outcomes = await Promise.all([...invoices, duplicate].map((i) => store.recordInvoice(i)));
      const contenders = [outcomes[3]!, outcomes[25]!];
      expect(contenders.map((o) => o.kind).sort()).toEqual(['alreadyExists', 'recorded']);
      const winner = contenders.find((o) => o.kind === 'recorded')!;
      expect(contenders.find((o) => o.kind === 'alreadyExists')!.invoice).toEqual(winner.invoice);
      const others = outcomes.filter((_, i) => i !== 3 && i !== 25);
      expect(others.every((o) => o.kind === 'recorded')).toBe(true);
      const sequences = [...others, winner].map((o) => o.invoice.sequence);
      expect(new Set(sequences).size).toBe(25);
    });

    it('rejects malformed input before any I/O, naming the field', async () => {
      const store = await database.freshStore();
      await expect(store.recordInvoice(newInvoice({ hash: new Uint8Array(31) }))).rejects.toThrow(/hash must be 32 bytes/);
      await expect(store.recordInvoice(newInvoice({ amountMsat: 0n }))).rejects.toThrow(/amountMsat/);
      await expect(store.recordInvoice(newInvoice({ amountMsat: 1n << 63n }))).rejects.toThrow(/amountMsat/);
      const created = new Date();
      await expect(store.recordInvoice(newInvoice({ createdAt: created, expiresAt: created }))).rejects.toThrow(
        /expiresAt/,
      );
      await expect(store.getInvoice(new Uint8Array(33))).rejects.toThrow(RangeError);
      await expect(
        store.recordInvoice(newInvoice({ description: { kind: 'text', text: 'nul \u0000 byte' } })),
      ).rejects.toThrow(/U\+0000/);
      await expect(store.recordInvoice(newInvoice({ paymentRequest: '' }))).rejects.toThrow(/paymentRequest/);
    });
  });

  describe('listInvoices', () => {
    it('pages forward through every invoice in creation order without gaps or repeats', async () => {
      const store = await database.freshStore();
      const hashes: string[] = [];
      for (let i = 0; i < 7; i++) hashes.push(Buffer.from((await recorded(store)).hash).toString('hex'));
      const seen: string[] = [];
      let cursor: bigint | undefined;
      const pageSizes: number[] = [];
      for (;;) {
        const page = await store.listInvoices({ limit: 3, ...(cursor !== undefined ? { cursor } : {}) });
        pageSizes.push(page.invoices.length);
        seen.push(...page.invoices.map((i) => Buffer.from(i.hash).toString('hex')));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(hashes);
      expect(pageSizes).toEqual([3, 3, 1]);
    });

    it('says there is no next page when the last page is exactly full', async () => {
      const store = await database.freshStore();
      for (let i = 0; i < 4; i++) await recorded(store);
      const first = await store.listInvoices({ limit: 2 });
      const second = await store.listInvoices({ limit: 2, cursor: first.nextCursor! });
      expect(second.invoices).toHaveLength(2);
      expect(second.nextCursor).toBeNull();
    });

    it('pages backward, newest first', async () => {
      const store = await database.freshStore();
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await recorded(store));
      const first = await store.listInvoices({ limit: 2, direction: 'backward' });
      expect(first.invoices.map((i) => i.sequence)).toEqual([made[4]!.sequence, made[3]!.sequence]);
      const second = await store.listInvoices({ limit: 10, direction: 'backward', cursor: first.nextCursor! });
      expect(second.invoices.map((i) => i.sequence)).toEqual([made[2]!.sequence, made[1]!.sequence, made[0]!.sequence]);
      expect(second.nextCursor).toBeNull();
    });

    it('lists only the invoices in the requested states, paging within them', async () => {
      const store = await database.freshStore();
      const open1 = await recorded(store);
      const cancelled = await recorded(store);
      const open2 = await recorded(store);
      const settled = await recorded(store);
      const open3 = await recorded(store);
      await store.cancelInvoice(cancelled.hash);
      const set = htlcSet(settled.amountMsat);
      await store.commitSettle(settled.hash, set.setId, set.htlcs);

      const open = await store.listInvoices({ limit: 2, states: ['open'] });
      expect(open.invoices.map((i) => i.sequence)).toEqual([open1.sequence, open2.sequence]);
      const rest = await store.listInvoices({ limit: 2, states: ['open'], cursor: open.nextCursor! });
      expect(rest.invoices.map((i) => i.sequence)).toEqual([open3.sequence]);
      expect(rest.nextCursor).toBeNull();

      const decided = await store.listInvoices({ limit: 10, states: ['cancelled', 'settleCommitted'] });
      expect(decided.invoices.map((i) => [i.sequence, i.state])).toEqual([
        [cancelled.sequence, 'cancelled'],
        [settled.sequence, 'settleCommitted'],
      ]);
      expect((await store.listInvoices({ limit: 10, states: ['settled', 'failed'] })).invoices).toEqual([]);
    });

    it('rejects a page size outside 1..1000 and an unknown state', async () => {
      const store = await database.freshStore();
      await expect(store.listInvoices({ limit: 0 })).rejects.toThrow(/limit/);
      await expect(store.listInvoices({ limit: 1001 })).rejects.toThrow(/limit/);
      // @ts-expect-error: not a state
      await expect(store.listInvoices({ limit: 1, states: ['paid'] })).rejects.toThrow(/unknown invoice state/);
    });
  });

  describe('cancelInvoice', () => {
    it('cancels an open invoice for good', async () => {
      const store = await database.freshStore();
      const invoice = await recorded(store);
      const outcome = await store.cancelInvoice(invoice.hash);
      expect(outcome.kind).toBe('cancelled');
      const stored = await store.getInvoice(invoice.hash);
      expect(stored?.state).toBe('cancelled');
      if (outcome.kind === 'cancelled' && stored?.state === 'cancelled') {
        expect(stored.cancelledAt).toEqual(outcome.cancelledAt);
      }
    });

    it('reports a second cancel as alreadyCancelled with the first cancel time', async () => {
      const store = await database.freshStore();
      const invoice = await recorded(store);
      const first = await store.cancelInvoice(invoice.hash);
      const second = await store.cancelInvoice(invoice.hash);
      expect(second).toEqual({ kind: 'alreadyCancelled', cancelledAt: (first as { cancelledAt: Date }).cancelledAt });
    });

    it('refuses to cancel an invoice whose settle was committed, naming its state and set', async () => {
      const store = await database.freshStore();
      const invoice = await recorded(store);
      const set = htlcSet(invoice.amountMsat, 2);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      expect(await store.cancelInvoice(invoice.hash)).toEqual({ kind: 'settleCommitted', setId: set.setId });
      await store.markHtlcFinal(set.htlcs[0]!, 'settled');
      await store.markHtlcFinal(set.htlcs[1]!, 'settled');
      expect(await store.cancelInvoice(invoice.hash)).toEqual({ kind: 'settled', setId: set.setId });
      expect((await store.getInvoice(invoice.hash))?.state).toBe('settled');
    });

    it('refuses to cancel a failed invoice', async () => {
      const store = await database.freshStore();
      const invoice = await recorded(store);
      const set = htlcSet(invoice.amountMsat);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      await store.markHtlcFinal(set.htlcs[0]!, 'failed');
      expect(await store.cancelInvoice(invoice.hash)).toEqual({ kind: 'failed', setId: set.setId });
    });

    it('reports an unknown hash', async () => {
      const store = await database.freshStore();
      expect(await store.cancelInvoice(bytes32())).toEqual({ kind: 'unknown' });
    });
  });
});
