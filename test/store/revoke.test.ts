/**
 * revokeSettle: a committed decision that no SETTLE left for is taken back (a part of its set was lost
 * before the release, docs/architecture.md, invariant 7); never once an HTLC of the set is final, never for another
 * set, and never from a stale leader (fenced like a commit).
 */
import { expect, it } from 'vitest';
import { describeEachBackend, htlcSet, newInvoice, useTestDatabase } from './helpers.js';

describeEachBackend('revokeSettle (%s)', (backend) => {
  const database = useTestDatabase(backend);

  async function committed() {
    const store = await database.freshStore();
    const invoice = newInvoice();
    await store.recordInvoice(invoice);
    const set = htlcSet(invoice.amountMsat, 2);
    expect((await store.commitSettle(invoice.hash, set.setId, set.htlcs)).kind).toBe('committed');
    return { store, invoice, set };
  }

  it('opens the invoice again and forgets the set, so another set can be committed', async () => {
    const { store, invoice, set } = await committed();
    expect(await store.revokeSettle(invoice.hash, set.setId)).toEqual({ kind: 'revoked' });
    expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
    expect(await store.listInvoiceHtlcs(invoice.hash)).toEqual([]);
    const other = htlcSet(invoice.amountMsat, 1);
    expect((await store.commitSettle(invoice.hash, other.setId, other.htlcs)).kind).toBe('committed');
  });

  // The engine may record a lost part's failure before the registry asks for the revoke (an awaited
  // HTLC's final state is written first): that failure is the reason to revoke, not a reason to refuse.
  it('revokes a set whose failed part was recorded first, and the invoice is open again', async () => {
    const { store, invoice, set } = await committed();
    await store.markHtlcFinal(set.htlcs[0]!, 'failed');
    expect(await store.revokeSettle(invoice.hash, set.setId)).toEqual({ kind: 'revoked' });
    expect((await store.getInvoice(invoice.hash))?.state).toBe('open');
    expect(await store.listInvoiceHtlcs(invoice.hash)).toEqual([]);
  });

  it('answers a repeated revoke (its first answer lost) as revoked', async () => {
    const { store, invoice, set } = await committed();
    expect(await store.revokeSettle(invoice.hash, set.setId)).toEqual({ kind: 'revoked' });
    expect(await store.revokeSettle(invoice.hash, set.setId)).toEqual({ kind: 'revoked' });
  });

  it('refuses once an HTLC of the set is settled, for another set, or for an unknown invoice', async () => {
    const { store, invoice, set } = await committed();
    expect(await store.revokeSettle(invoice.hash, new Uint8Array(32).fill(1))).toEqual({ kind: 'notRevocable', reason: 'otherState' });
    await store.markHtlcFinal(set.htlcs[0]!, 'settled');
    expect(await store.revokeSettle(invoice.hash, set.setId)).toEqual({ kind: 'notRevocable', reason: 'partSettled' });
    expect((await store.getInvoice(invoice.hash))?.state).toBe('settleCommitted');
    expect(await store.revokeSettle(new Uint8Array(32).fill(2), set.setId)).toEqual({ kind: 'notRevocable', reason: 'unknownInvoice' });
  });

  it('changes nothing for a stale leader (its epoch is not the current one)', async () => {
    const { store, invoice, set } = await committed();
    await database.db().withSession('test', (s) =>
      s.query(`INSERT INTO lnmux.leases (name, holder, epoch, acquired_at, renewed_at, expires_at)
               VALUES ('cluster', 'new-leader', 7, now(), now(), now() + interval '1 hour')`),
    );
    expect(await store.revokeSettle(invoice.hash, set.setId, { leadership: 'cluster', epoch: 6n })).toEqual({ kind: 'fenced', currentEpoch: 7n });
    expect((await store.getInvoice(invoice.hash))?.state).toBe('settleCommitted');
    expect(await store.revokeSettle(invoice.hash, set.setId, { leadership: 'cluster', epoch: 7n })).toEqual({ kind: 'revoked' });
  });
});
