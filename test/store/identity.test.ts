/**
 * The identity binding (docs/architecture.md, invariant 8): a database is bound once to the public key of the
 * identity key that first runs it, and refuses any other key afterwards. On PGlite, and on PostgreSQL
 * (with real races: a third connection holds an uncommitted binding while two binders wait on it).
 */
import { expect, it } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { IdentityKeyMismatchError, StoreError } from '../../src/store/errors.js';
import { requireNodeIdentity } from '../../src/store/identity.js';
import { migrateDown, migrateUp } from '../../src/store/migrate.js';
import * as open from '../../src/store/open.js';
import { createStore } from '../../src/store/store.js';
import { hex } from '../../src/store/codec.js';
import { describeEachBackend, waitForLockWaiters, newInvoice, nodePubkey, useTestDatabase } from './helpers.js';

describeEachBackend('the identity binding on %s', (backend) => {
  const database = useTestDatabase(backend);

  it('records the first key, once: binding it again matches and changes nothing', async () => {
    const store = await database.freshStore();
    const key = nodePubkey();
    expect(await store.nodeIdentity()).toBeUndefined();
    const first = await store.bindNodeIdentity(key);
    expect(first).toMatchObject({ kind: 'recorded', nodePubkey: key });
    expect(first.recordedAt).toBeInstanceOf(Date);
    const again = await store.bindNodeIdentity(key);
    expect(again).toEqual({ kind: 'matched', nodePubkey: key, recordedAt: first.recordedAt });
    expect(await requireNodeIdentity(store, key)).toEqual(again);
    expect(await store.nodeIdentity()).toEqual({ nodePubkey: key, recordedAt: first.recordedAt });
  });

  it('refuses another key as a mismatch naming both keys, and keeps the first one', async () => {
    const store = await database.freshStore();
    const bound = nodePubkey();
    const other = nodePubkey();
    const recorded = await store.bindNodeIdentity(bound);
    expect(await store.bindNodeIdentity(other)).toEqual({
      kind: 'mismatch',
      nodePubkey: bound,
      configuredPubkey: other,
      recordedAt: recorded.recordedAt,
    });
    const error = await requireNodeIdentity(store, other).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityKeyMismatchError);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ name: 'IdentityKeyMismatchError', databasePubkey: hex(bound), configuredPubkey: hex(other) });
    const message = (error as Error).message;
    expect(message).toContain(hex(bound));
    expect(message).toContain(hex(other));
    expect(message).toMatch(/identity key this database was made with/);
    expect(message).toMatch(/new database/);
    expect(message).toMatch(/payment_addr key id/);
    expect(await store.nodeIdentity()).toEqual({ nodePubkey: bound, recordedAt: recorded.recordedAt });
  });

  it('checks the key before any I/O: 33 bytes, compressed', async () => {
    const store = await database.freshStore();
    await expect(store.bindNodeIdentity(new Uint8Array(32))).rejects.toThrow(RangeError);
    await expect(store.bindNodeIdentity('02ab' as unknown as Uint8Array)).rejects.toThrow(TypeError);
    const uncompressedPrefix = nodePubkey();
    uncompressedPrefix[0] = 0x04;
    await expect(store.bindNodeIdentity(uncompressedPrefix)).rejects.toThrow(/compressed public key/);
    expect(await store.nodeIdentity()).toBeUndefined();
  });

  it('holds one row of a 33-byte key, whatever writes to it (CHECKs in SQL)', async () => {
    const store = await database.freshStore();
    await store.bindNodeIdentity(nodePubkey());
    const insert = (sql: string, params: unknown[]) => database.db().withSession('test', (s) => s.query(sql, params));
    await expect(insert('INSERT INTO lnmux.node_identity (node_pubkey) VALUES ($1)', [Buffer.from(nodePubkey())])).rejects.toThrow(
      StoreError,
    );
    await expect(
      insert('INSERT INTO lnmux.node_identity (singleton, node_pubkey) VALUES (false, $1)', [Buffer.from(nodePubkey())]),
    ).rejects.toThrow(StoreError);
    await database.db().withSession('test', (s) => s.query('DELETE FROM lnmux.node_identity'));
    await expect(insert('INSERT INTO lnmux.node_identity (node_pubkey) VALUES ($1)', [Buffer.alloc(32, 2)])).rejects.toThrow(StoreError);
  });

  it('leaves a database migrated from before unbound, with its invoices; its first bind records the key', async () => {
    await database.reset();
    const db = database.db();
    await migrateUp(db, 2);
    await db.withSession('test', (s) =>
      s.query(
        `INSERT INTO lnmux.invoices (hash, amount_msat, payment_addr, description, payment_request, created_at, expires_at)
         VALUES ($1, 1000, $2, 'old', 'lnbcrt1', now(), now() + interval '1 hour')`,
        [Buffer.from(newInvoice().hash), Buffer.from(newInvoice().paymentAddr)],
      ),
    );
    await migrateUp(db);
    const store = createStore(db, backend === 'pglite' ? 'embedded' : 'postgres', { maxBatchSize: 10 });
    expect(await store.nodeIdentity()).toBeUndefined();
    expect((await store.listInvoices({ limit: 10 })).invoices).toHaveLength(1);
    const key = nodePubkey();
    expect(await store.bindNodeIdentity(key)).toMatchObject({ kind: 'recorded', nodePubkey: key });
    // Reverting the migration forgets the binding (the next start records it again).
    await migrateDown(db, 2);
    await migrateUp(db);
    expect(await store.nodeIdentity()).toBeUndefined();
    await database.reset();
  });

  it('gives every binder the same answer when they race: one key recorded, the others compared with it', async () => {
    const store = await database.freshStore();
    const keys = [nodePubkey(), nodePubkey(), nodePubkey()];
    const outcomes = await Promise.all([...keys, ...keys].map((k) => store.bindNodeIdentity(k)));
    const recorded = outcomes.filter((o) => o.kind === 'recorded');
    expect(recorded).toHaveLength(1);
    const winner = recorded[0]!.nodePubkey;
    for (const [i, o] of outcomes.entries()) {
      expect(o.nodePubkey).toEqual(winner);
      expect(o.kind).toBe(hex(keys[i % 3]!) === hex(winner) ? (o === recorded[0] ? 'recorded' : 'matched') : 'mismatch');
    }
  });
});

/** Inserts `key` in a transaction on `db` and keeps it open until `end(commit)`. */
async function holdUncommittedBinding(db: Db, key: Uint8Array): Promise<{ end: (commit: boolean) => Promise<void> }> {
  let finish!: (commit: boolean) => void;
  const finished = new Promise<boolean>((resolve) => (finish = resolve));
  let inserted!: () => void;
  const isInserted = new Promise<void>((resolve) => (inserted = resolve));
  const done = db.withSession('test binding holder', async (session) => {
    await session.query('BEGIN');
    await session.query('INSERT INTO lnmux.node_identity (node_pubkey) VALUES ($1)', [Buffer.from(key)]);
    inserted();
    await session.query((await finished) ? 'COMMIT' : 'ROLLBACK');
  });
  await isInserted;
  return {
    end: async (commit) => {
      finish(commit);
      await done;
    },
  };
}

describeEachBackend('racing binders on %s', (backend) => {
  const database = useTestDatabase(backend);

  for (const commit of [true, false]) {
    it(`answers two binders that wait on an uncommitted binding (${commit ? 'committed' : 'rolled back'}) consistently`, async () => {
      await database.freshStore();
      const holderKey = nodePubkey();
      const [a, b] = [nodePubkey(), nodePubkey()];
      const stores = [database.otherDb({ poolSize: 1 }), database.otherDb({ poolSize: 1 })].map((db) =>
        createStore(db, 'postgres', { maxBatchSize: 10 }),
      );
      const holder = await holdUncommittedBinding(database.otherDb({ poolSize: 1 }), holderKey);
      const racing = Promise.all([stores[0]!.bindNodeIdentity(a), stores[1]!.bindNodeIdentity(b)]);
      await waitForLockWaiters(database.db(), 2);
      await holder.end(commit);
      const outcomes = await racing;
      const bound = (await stores[0]!.nodeIdentity())!.nodePubkey;
      if (commit) {
        expect(bound).toEqual(holderKey);
        expect(outcomes.map((o) => o.kind)).toEqual(['mismatch', 'mismatch']);
      } else {
        expect([hex(a), hex(b)]).toContain(hex(bound));
        expect(outcomes.map((o) => o.kind).sort()).toEqual(['mismatch', 'recorded']);
      }
      for (const o of outcomes) expect(o.nodePubkey).toEqual(bound);
    });
  }

  it('binds at `migrate up` from a config, and refuses another key there (the migrations stay applied)', async () => {
    await database.reset();
    const config = database.config();
    const key = nodePubkey();
    await open.migrateInit(config, { nodePubkey: key });
    expect(await open.migrateUp(config, 2, { nodePubkey: key })).toMatchObject({ databaseVersion: 2 });
    expect(await open.migrateUp(config, undefined, { nodePubkey: key })).toMatchObject({ state: 'current' });
    const store = await open.openStore(config);
    try {
      expect(await store.nodeIdentity()).toMatchObject({ nodePubkey: key });
      await expect(open.migrateUp(config, undefined, { nodePubkey: nodePubkey() })).rejects.toBeInstanceOf(IdentityKeyMismatchError);
      await expect(open.migrateInit(config, { nodePubkey: nodePubkey() })).rejects.toBeInstanceOf(IdentityKeyMismatchError);
      expect(await open.migrateInit(config, { nodePubkey: key })).toMatchObject({ state: 'current' });
      expect(await store.nodeIdentity()).toMatchObject({ nodePubkey: key });
    } finally {
      await store.close();
    }
  });
}, ['postgres']);
