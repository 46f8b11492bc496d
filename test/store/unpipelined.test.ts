/**
 * On a connection that is not pipelined (the embedded PGlite's), a transaction's statements that the
 * store sends together (BEGIN with the first, the last with COMMIT: db.ts) go one after the other, with
 * the same answers, and pg is never handed a query while another runs (it warns that pg 9 refuses it).
 * A file of its own: Node prints a deprecation once per process.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from './helpers.js';

describe('a transaction on the embedded backend', () => {
  const database = useTestDatabase('pglite');
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  beforeEach(() => process.on('warning', onWarning));
  afterEach(() => void process.off('warning', onWarning));

  it('sends BEGIN, its statements and COMMIT in order, without a query over another', async () => {
    const db = database.db();
    await db.withSession('setup', (s) => s.query('CREATE TEMP TABLE IF NOT EXISTS t (n int)'));
    const rows = await db.transaction('test', async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      return (await tx.queryAndCommit<{ n: number }>('INSERT INTO t VALUES (2) RETURNING n')).rows;
    });
    expect(rows).toEqual([{ n: 2 }]);
    const all = await db.withSession('read', (s) => s.query<{ n: number }>('SELECT n FROM t ORDER BY n'));
    expect(all.rows).toEqual([{ n: 1 }, { n: 2 }]);
    // A failing statement still leaves the transaction rolled back, and the session usable.
    await expect(db.transaction('test', (tx) => tx.queryAndCommit('INSERT INTO t VALUES (1 / 0)'))).rejects.toThrow(/division by zero/);
    expect((await db.withSession('read', (s) => s.query('SELECT count(*)::int AS c FROM t'))).rows).toEqual([{ c: 2 }]);
    // Deprecations are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([]);
  });
});
