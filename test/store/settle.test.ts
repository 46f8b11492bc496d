import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Invoice, Store } from '../../src/store/types.js';
import { describeEachBackend, bytes32, htlcSet, newInvoice, nodePubkey, useTestDatabase } from './helpers.js';

describeEachBackend('settle decisions on %s', (backend) => {
  const database = useTestDatabase(backend);

  async function openInvoice(store: Store, amountMsat = 10_000n): Promise<Invoice & { readonly amountMsat: bigint }> {
    const outcome = await store.recordInvoice(newInvoice({ amountMsat }));
    return outcome.invoice as Invoice & { readonly amountMsat: bigint };
  }

  describe('commitSettle of a hold or goLnmux invoice: the preimage goes with the decision', () => {
    it('stores the preimage with the commit, refuses a commit without it or with a wrong one, and forgets it when revoked', async () => {
      const store = await database.freshStore();
      for (const kind of ['hold', 'goLnmux'] as const) {
        const preimage = bytes32();
        const hash = new Uint8Array(createHash('sha256').update(preimage).digest());
        const base = newInvoice({ hash, kind });
        const { paymentRequest: _, ...invoice } = base;
        await store.recordInvoice(kind === 'goLnmux' ? invoice : base);
        const set = htlcSet(10_000n, 2);
        expect(await store.commitSettle(hash, set.setId, set.htlcs)).toEqual({ kind: 'wrongPreimage' });
        expect(await store.commitSettle(hash, set.setId, set.htlcs, undefined, bytes32())).toEqual({ kind: 'wrongPreimage' });
        expect((await store.getInvoice(hash))?.state).toBe('open');
        expect((await store.commitSettle(hash, set.setId, set.htlcs, undefined, preimage)).kind).toBe('committed');
        const committed = await store.getInvoice(hash);
        expect(committed?.state).toBe('settleCommitted');
        expect(Buffer.from(committed!.preimage!).toString('hex')).toBe(Buffer.from(preimage).toString('hex'));
        expect((await store.revokeSettle(hash, set.setId)).kind).toBe('revoked');
        expect(await store.getInvoice(hash)).not.toHaveProperty('preimage');
      }
    });

    it('never stores a preimage for a stateless invoice (it is derived again)', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat);
      expect((await store.commitSettle(invoice.hash, set.setId, set.htlcs, undefined, bytes32())).kind).toBe('committed');
      expect(await store.getInvoice(invoice.hash)).not.toHaveProperty('preimage');
    });
  });

  describe('commitSettle', () => {
    it('commits the decision and the whole set: invoice settleCommitted, every HTLC stored', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 3);
      const outcome = await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      expect(outcome.kind).toBe('committed');
      const stored = await store.getInvoice(invoice.hash);
      expect(stored).toMatchObject({ state: 'settleCommitted', setId: set.setId });
      if (outcome.kind === 'committed' && stored?.state === 'settleCommitted') {
        expect(stored.settleCommittedAt).toEqual(outcome.settleCommittedAt);
      }
      const htlcs = await store.listInvoiceHtlcs(invoice.hash);
      expect(htlcs).toHaveLength(3);
      for (const h of set.htlcs) {
        expect(htlcs).toContainEqual({ ...h, hash: invoice.hash, setId: set.setId, state: 'settleCommitted' });
      }
    });

    it('keeps u64 ids exact, including chan ids with the top bit set and the largest u64', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store, 3n);
      const ids = [(1n << 64n) - 1n, 1n << 63n, 0n];
      const htlcs = ids.map((id, i) => ({ nodePubkey: nodePubkey(), chanId: id, htlcId: ids[2 - i]!, amountMsat: 1n }));
      await store.commitSettle(invoice.hash, bytes32(), htlcs);
      for (const h of htlcs) expect(await store.findSettledHtlc(h)).toMatchObject({ chanId: h.chanId, htlcId: h.htlcId });
    });

    it('accepts the same set again as alreadyCommitted, writing nothing new', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 2);
      const first = await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      const again = await store.commitSettle(invoice.hash, set.setId, [...set.htlcs].reverse());
      expect(again).toEqual({
        kind: 'alreadyCommitted',
        state: 'settleCommitted',
        settleCommittedAt: (first as { settleCommittedAt: Date }).settleCommittedAt,
      });
      expect(await store.listInvoiceHtlcs(invoice.hash)).toHaveLength(2);
    });

    it('refuses a different set once a set is committed, naming the committed set', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 2);
      const other = htlcSet(invoice.amountMsat, 1);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      expect(await store.commitSettle(invoice.hash, other.setId, other.htlcs)).toEqual({
        kind: 'alreadySettledWithOtherSet',
        setId: set.setId,
      });
      expect(await store.findSettledHtlc(other.htlcs[0]!)).toBeUndefined();
      expect(await store.listInvoiceHtlcs(invoice.hash)).toHaveLength(2);
    });

    it('refuses to settle a cancelled invoice', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      await store.cancelInvoice(invoice.hash);
      const set = htlcSet(invoice.amountMsat);
      expect(await store.commitSettle(invoice.hash, set.setId, set.htlcs)).toEqual({ kind: 'cancelled' });
      expect((await store.getInvoice(invoice.hash))?.state).toBe('cancelled');
      expect(await store.listInvoiceHtlcs(invoice.hash)).toEqual([]);
    });

    it('reports an unknown invoice', async () => {
      const store = await database.freshStore();
      const set = htlcSet(10n);
      expect(await store.commitSettle(bytes32(), set.setId, set.htlcs)).toEqual({ kind: 'unknown' });
    });

    it('refuses a set whose amounts fall short of the invoice amount, and commits one that exceeds it', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store, 10_000n);
      const short = htlcSet(9_999n, 2);
      const over = htlcSet(10_001n, 2);
      expect(await store.commitSettle(invoice.hash, short.setId, short.htlcs)).toEqual({
        kind: 'amountMismatch',
        invoiceMsat: 10_000n,
        setMsat: 9_999n,
      });
      expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
      // A payer's overpayment (noise on each part, as LND accepts it) is the merchant's gain, not a loss.
      expect(await store.commitSettle(invoice.hash, over.setId, over.htlcs)).toMatchObject({ kind: 'committed' });
    });

    it('refuses a set holding an HTLC of another invoice’s committed set, writing nothing', async () => {
      const store = await database.freshStore();
      const a = await openInvoice(store);
      const b = await openInvoice(store);
      const setA = htlcSet(a.amountMsat, 2);
      await store.commitSettle(a.hash, setA.setId, setA.htlcs);
      const setB = htlcSet(b.amountMsat, 2);
      const stolen = { ...setA.htlcs[1]!, amountMsat: setB.htlcs[1]!.amountMsat };
      const outcome = await store.commitSettle(b.hash, setB.setId, [setB.htlcs[0]!, stolen]);
      expect(outcome).toEqual({
        kind: 'htlcInOtherSet',
        key: { nodePubkey: stolen.nodePubkey, chanId: stolen.chanId, htlcId: stolen.htlcId },
      });
      expect((await store.getInvoice(b.hash))?.state).toBe('open');
      expect(await store.findSettledHtlc(setB.htlcs[0]!)).toBeUndefined();
    });

    it('accepts the committed set again after the invoice settled or failed, and refuses any other', async () => {
      const store = await database.freshStore();
      for (const final of ['settled', 'failed'] as const) {
        const invoice = await openInvoice(store);
        const set = htlcSet(invoice.amountMsat);
        await store.commitSettle(invoice.hash, set.setId, set.htlcs);
        await store.markHtlcFinal(set.htlcs[0]!, final);
        expect(await store.commitSettle(invoice.hash, set.setId, set.htlcs)).toMatchObject({
          kind: 'alreadyCommitted',
          state: final,
        });
        const other = htlcSet(invoice.amountMsat);
        expect(await store.commitSettle(invoice.hash, other.setId, other.htlcs)).toEqual({
          kind: 'alreadySettledWithOtherSet',
          setId: set.setId,
        });
      }
    });

    it('gives each of many concurrent requests its own outcome, as if they ran one after another', async () => {
      const store = await database.freshStore();
      const invoices = await Promise.all(Array.from({ length: 12 }, () => openInvoice(store)));
      const cancelled = invoices[11]!;
      await store.cancelInvoice(cancelled.hash);
      const sets = invoices.map((i) => htlcSet(i.amountMsat, 1 + (Number(i.sequence) % 4)));
      const rival = htlcSet(invoices[0]!.amountMsat, 2);
      // invoices[1]'s set also names one HTLC of invoices[2]'s set: at most one of the two can commit.
      const thief = { ...sets[2]!.htlcs[0]!, amountMsat: sets[1]!.htlcs.at(-1)!.amountMsat };
      const thiefSet = { setId: bytes32(), htlcs: [...sets[1]!.htlcs.slice(0, -1), thief] };
      const results = await Promise.all([
        ...invoices.map((inv, i) =>
          i === 1 ? store.commitSettle(inv.hash, thiefSet.setId, thiefSet.htlcs) : store.commitSettle(inv.hash, sets[i]!.setId, sets[i]!.htlcs),
        ),
        store.commitSettle(invoices[0]!.hash, rival.setId, rival.htlcs),
        store.commitSettle(invoices[3]!.hash, sets[3]!.setId, sets[3]!.htlcs),
      ]);
      expect(results[11]).toEqual({ kind: 'cancelled' });
      for (const i of [4, 5, 6, 7, 8, 9, 10]) expect(results[i]!.kind).toBe('committed');
      // invoice 0: two sets raced, exactly one won, the loser is told which set won.
      const zero = [results[0]!, results[12]!];
      expect(zero.map((r) => r.kind).sort()).toEqual(['alreadySettledWithOtherSet', 'committed']);
      const winner = (await store.getInvoice(invoices[0]!.hash)) as { setId: Uint8Array };
      expect(zero.find((r) => r.kind === 'alreadySettledWithOtherSet')).toEqual({
        kind: 'alreadySettledWithOtherSet',
        setId: winner.setId,
      });
      // invoice 3: the same set twice, both may settle.
      expect([results[3]!, results[13]!].map((r) => r.kind).sort()).toEqual(['alreadyCommitted', 'committed']);
      // invoices 1 and 2 share an HTLC: whichever came second is refused with htlcInOtherSet.
      expect([results[1]!.kind, results[2]!.kind].sort()).toEqual(['committed', 'htlcInOtherSet']);
      const htlcRows = await Promise.all(invoices.map((i) => store.listInvoiceHtlcs(i.hash)));
      const committed = results.slice(0, 11).map((r, i) => (r.kind === 'committed' ? i : -1)).filter((i) => i >= 0);
      for (const i of committed) {
        const expected = i === 1 ? thiefSet : i === 0 && results[0]!.kind !== 'committed' ? rival : sets[i]!;
        expect(htlcRows[i]!.length).toBe(expected.htlcs.length);
      }
      if (results[0]!.kind !== 'committed') expect(htlcRows[0]!.length).toBe(rival.htlcs.length);
    });

    it('rejects a malformed request before any I/O', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 2);
      await expect(store.commitSettle(invoice.hash, set.setId, [])).rejects.toThrow(/non-empty/);
      await expect(store.commitSettle(invoice.hash, set.setId, [set.htlcs[0]!, set.htlcs[0]!])).rejects.toThrow(
        /repeats the circuit key/,
      );
      await expect(store.commitSettle(invoice.hash, new Uint8Array(31), set.htlcs)).rejects.toThrow(/setId/);
      await expect(
        store.commitSettle(invoice.hash, set.setId, [{ ...set.htlcs[0]!, chanId: 1n << 64n }]),
      ).rejects.toThrow(/u64/);
      await expect(
        store.commitSettle(invoice.hash, set.setId, [{ ...set.htlcs[0]!, amountMsat: 0n }]),
      ).rejects.toThrow(/msat/);
      expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
    });
  });

  describe('markHtlcFinal', () => {
    it('keeps the invoice settleCommitted until the last HTLC settles, then settles it', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 3);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      expect(await store.markHtlcFinal(set.htlcs[0]!, 'settled')).toEqual({
        kind: 'recorded',
        hash: invoice.hash,
        invoiceState: 'settleCommitted',
        invoiceFinalized: false,
      });
      expect(await store.markHtlcFinal(set.htlcs[1]!, 'settled')).toMatchObject({
        invoiceState: 'settleCommitted',
        invoiceFinalized: false,
      });
      expect((await store.getInvoice(invoice.hash))?.state).toBe('settleCommitted');
      expect(await store.markHtlcFinal(set.htlcs[2]!, 'settled')).toMatchObject({
        invoiceState: 'settled',
        invoiceFinalized: true,
      });
      const settled = await store.getInvoice(invoice.hash);
      expect(settled).toMatchObject({ state: 'settled', setId: set.setId, finalizedAt: expect.any(Date) });
    });

    it('fails the invoice when an HTLC of its committed set is lost, once every HTLC is final', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 2);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      expect(await store.markHtlcFinal(set.htlcs[0]!, 'failed')).toMatchObject({ invoiceState: 'settleCommitted' });
      expect(await store.markHtlcFinal(set.htlcs[1]!, 'settled')).toMatchObject({
        invoiceState: 'failed',
        invoiceFinalized: true,
      });
      expect((await store.getInvoice(invoice.hash))?.state).toBe('failed');
    });

    it('reports a repeated final event as alreadyFinal with the recorded state, changing nothing', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 2);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      await store.markHtlcFinal(set.htlcs[0]!, 'settled');
      const expected = { kind: 'alreadyFinal', hash: invoice.hash, state: 'settled' };
      expect(await store.markHtlcFinal(set.htlcs[0]!, 'settled')).toEqual(expected);
      expect(await store.markHtlcFinal(set.htlcs[0]!, 'failed')).toEqual(expected);
      expect(await store.findSettledHtlc(set.htlcs[0]!)).toMatchObject({ state: 'settled' });
      expect((await store.getInvoice(invoice.hash))?.state).toBe('settleCommitted');
    });

    it('reports a key that is in no committed set as unknown', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat);
      expect(await store.markHtlcFinal(set.htlcs[0]!, 'settled')).toEqual({ kind: 'unknown' });
    });

    it('rolls each invoice up, and reports it finalized exactly once, when every HTLC turns final at the same time', async () => {
      const store = await database.freshStore();
      const invoices = await Promise.all(Array.from({ length: 5 }, () => openInvoice(store)));
      const sets = invoices.map((i) => htlcSet(i.amountMsat, 4));
      await Promise.all(invoices.map((inv, i) => store.commitSettle(inv.hash, sets[i]!.setId, sets[i]!.htlcs)));
      const outcomes = await Promise.all(
        sets.flatMap((set, i) => set.htlcs.map((h, j) => store.markHtlcFinal(h, i === 4 && j === 2 ? 'failed' : 'settled'))),
      );
      expect(outcomes.every((o) => o.kind === 'recorded')).toBe(true);
      const finalizing = outcomes.filter((o) => o.kind === 'recorded' && o.invoiceFinalized);
      expect(finalizing).toHaveLength(5);
      expect(new Set(finalizing.map((o) => Buffer.from((o as { hash: Uint8Array }).hash).toString('hex'))).size).toBe(5);
      const states = await Promise.all(invoices.map(async (i) => (await store.getInvoice(i.hash))?.state));
      expect(states).toEqual(['settled', 'settled', 'settled', 'settled', 'failed']);
    });

    it('gives each of two events for one key in one batch the outcome of running them in order', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      const [first, second] = await Promise.all([
        store.markHtlcFinal(set.htlcs[0]!, 'settled'),
        store.markHtlcFinal(set.htlcs[0]!, 'settled'),
      ]);
      expect([first!.kind, second!.kind].sort()).toEqual(['alreadyFinal', 'recorded']);
      expect((await store.getInvoice(invoice.hash))?.state).toBe('settled');
    });
  });

  describe('replays and restarts', () => {
    it('finds the HTLC of a committed set by its circuit key, with its state, and nothing else', async () => {
      const store = await database.freshStore();
      const invoice = await openInvoice(store);
      const set = htlcSet(invoice.amountMsat, 2);
      await store.commitSettle(invoice.hash, set.setId, set.htlcs);
      const key = set.htlcs[1]!;
      expect(await store.findSettledHtlc(key)).toEqual({ ...key, hash: invoice.hash, setId: set.setId, state: 'settleCommitted' });
      await store.markHtlcFinal(key, 'settled');
      expect(await store.findSettledHtlc(key)).toMatchObject({ state: 'settled' });
      // Same channel and HTLC id on another node is another HTLC.
      expect(await store.findSettledHtlc({ ...key, nodePubkey: nodePubkey() })).toBeUndefined();
      expect(await store.findSettledHtlc({ ...key, htlcId: key.htlcId + 1n })).toBeUndefined();
    });

    it('lists every committed but unfinalized HTLC with its invoice’s payment_addr, oldest decision first', async () => {
      const store = await database.freshStore();
      const first = await openInvoice(store);
      const second = await openInvoice(store);
      const untouched = await openInvoice(store);
      const setA = htlcSet(first.amountMsat, 2);
      const setB = htlcSet(second.amountMsat, 1);
      await store.commitSettle(first.hash, setA.setId, setA.htlcs);
      // A lone commit is one round trip, and PGlite's clock counts milliseconds: two commits in the same
      // millisecond tie and are listed in hash order. Nothing must happen meanwhile; the clock must move.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.commitSettle(second.hash, setB.setId, setB.htlcs);
      await store.markHtlcFinal(setA.htlcs[0]!, 'settled');
      const pending = await store.listUnfinalizedHtlcs();
      expect(pending).toHaveLength(2);
      expect(pending[0]).toMatchObject({ ...setA.htlcs[1]!, hash: first.hash, setId: setA.setId, paymentAddr: first.paymentAddr });
      expect(pending[1]).toMatchObject({ ...setB.htlcs[0]!, hash: second.hash, paymentAddr: second.paymentAddr });
      expect(pending[0]!.settleCommittedAt.getTime()).toBeLessThanOrEqual(pending[1]!.settleCommittedAt.getTime());
      expect(pending.some((p) => Buffer.from(p.hash).equals(Buffer.from(untouched.hash)))).toBe(false);
      await store.markHtlcFinal(setA.htlcs[1]!, 'settled');
      await store.markHtlcFinal(setB.htlcs[0]!, 'failed');
      expect(await store.listUnfinalizedHtlcs()).toEqual([]);
    });
  });
});
