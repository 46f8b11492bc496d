/**
 * The leader lease. Expiry is driven by the database clock, so the tests expire a lease by moving its
 * expiry into the past in SQL rather than by sleeping (no timed assertions).
 */
import { expect, it } from 'vitest';
import { describeEachBackend, useTestDatabase } from './helpers.js';

describeEachBackend('leases on %s', (backend) => {
  const database = useTestDatabase(backend);

  async function expire(name: string): Promise<void> {
    await database
      .db()
      .withSession('test expire', (s) =>
        s.query(`UPDATE lnmux.leases SET expires_at = clock_timestamp() - interval '1 second' WHERE name = $1`, [name]),
      );
  }

  it('grants a free lease with epoch 1 and an expiry about ttl after now, by the database clock', async () => {
    const store = await database.freshStore();
    const before = Date.now();
    const outcome = await store.acquireLease('leader', 'a', 30_000);
    expect(outcome).toMatchObject({ kind: 'acquired', lease: { name: 'leader', holder: 'a', epoch: 1n } });
    if (outcome.kind === 'acquired') {
      // Loose bounds: the database clock is this machine's clock, give or take the round trip.
      expect(outcome.lease.expiresAt.getTime()).toBeGreaterThan(before + 20_000);
      expect(outcome.lease.expiresAt.getTime()).toBeLessThan(Date.now() + 40_000);
    }
  });

  it('refuses a live lease to another holder, saying who holds it', async () => {
    const store = await database.freshStore();
    await store.acquireLease('leader', 'a', 30_000);
    expect(await store.acquireLease('leader', 'b', 30_000)).toMatchObject({
      kind: 'heldByOther',
      lease: { holder: 'a', epoch: 1n },
    });
  });

  it('lets the holder acquire again, extending it without a new epoch', async () => {
    const store = await database.freshStore();
    await store.acquireLease('leader', 'a', 1_000);
    const again = await store.acquireLease('leader', 'a', 60_000);
    expect(again).toMatchObject({ kind: 'acquired', lease: { holder: 'a', epoch: 1n } });
  });

  it('hands an expired lease to the next holder with the next epoch; the old holder has lost it', async () => {
    const store = await database.freshStore();
    await store.acquireLease('leader', 'a', 30_000);
    await expire('leader');
    expect(await store.acquireLease('leader', 'b', 30_000)).toMatchObject({
      kind: 'acquired',
      lease: { holder: 'b', epoch: 2n },
    });
    expect(await store.renewLease('leader', 'a', 30_000)).toEqual({ kind: 'lost' });
    expect(await store.releaseLease('leader', 'a')).toEqual({ kind: 'notHeld' });
  });

  it('renews the holder’s lease, keeping its epoch', async () => {
    const store = await database.freshStore();
    const first = await store.acquireLease('leader', 'a', 1_000);
    const renewed = await store.renewLease('leader', 'a', 60_000);
    expect(renewed).toMatchObject({ kind: 'renewed', lease: { holder: 'a', epoch: 1n } });
    if (first.kind === 'acquired' && renewed.kind === 'renewed') {
      expect(renewed.lease.expiresAt.getTime()).toBeGreaterThan(first.lease.expiresAt.getTime());
    }
  });

  it('renews a lapsed lease nobody took, since no one else can have led meanwhile', async () => {
    const store = await database.freshStore();
    await store.acquireLease('leader', 'a', 30_000);
    await expire('leader');
    expect(await store.renewLease('leader', 'a', 30_000)).toMatchObject({ kind: 'renewed', lease: { epoch: 1n } });
  });

  it('frees a released lease at once for a standby, and no longer renews it for the old holder', async () => {
    const store = await database.freshStore();
    await store.acquireLease('leader', 'a', 60_000);
    expect(await store.releaseLease('leader', 'a')).toEqual({ kind: 'released' });
    expect(await store.releaseLease('leader', 'a')).toEqual({ kind: 'notHeld' });
    expect(await store.renewLease('leader', 'a', 60_000)).toEqual({ kind: 'lost' });
    expect(await store.acquireLease('leader', 'b', 60_000)).toMatchObject({ kind: 'acquired', lease: { epoch: 2n } });
  });

  it('reports renewing or releasing a lease that never existed as lost / notHeld', async () => {
    const store = await database.freshStore();
    expect(await store.renewLease('nothing', 'a', 1_000)).toEqual({ kind: 'lost' });
    expect(await store.releaseLease('nothing', 'a')).toEqual({ kind: 'notHeld' });
  });

  it('gives the lease to exactly one of many candidates asking at once', async () => {
    const store = await database.freshStore();
    const outcomes = await Promise.all(['a', 'b', 'c', 'd'].map((h) => store.acquireLease('leader', h, 30_000)));
    expect(outcomes.filter((o) => o.kind === 'acquired')).toHaveLength(1);
    const holder = outcomes.find((o) => o.kind === 'acquired')!.lease.holder;
    for (const o of outcomes) expect(o.lease.holder).toBe(holder);
  });

  it('rejects an empty name or holder and a ttl outside 1 ms .. 1 day', async () => {
    const store = await database.freshStore();
    await expect(store.acquireLease('', 'a', 1_000)).rejects.toThrow(TypeError);
    await expect(store.acquireLease('leader', '', 1_000)).rejects.toThrow(TypeError);
    await expect(store.acquireLease('leader', 'a', 0)).rejects.toThrow(/ttlMs/);
    await expect(store.renewLease('leader', 'a', 86_400_001)).rejects.toThrow(/ttlMs/);
  });
});
