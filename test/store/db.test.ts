/**
 * Db.transaction against a scripted fake connection: what is reported when COMMIT fails in each way.
 * (The PostgreSQL tests in connection.test.ts do the same through a proxy that cuts a real connection.)
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Db, type ConnectionSource, type TransactionSession } from '../../src/store/db.js';
import { StoreError, StoreUnavailableError } from '../../src/store/errors.js';

type Answer = { command: string } | Error;

/** A connection whose answers are scripted per SQL text; it records what was sent. */
function fakeSource(answer: (sql: string) => Answer): { source: ConnectionSource; sent: string[]; destroyed: boolean[] } {
  const sent: string[] = [];
  const destroyed: boolean[] = [];
  const client = {
    on: () => client,
    removeListener: () => client,
    query: async (sql: string) => {
      sent.push(sql);
      const a = answer(sql);
      if (a instanceof Error) throw a;
      return { command: a.command, rows: [], rowCount: 0 } as unknown as pg.QueryResult;
    },
  };
  const source: ConnectionSource = {
    size: 1,
    acquire: async () => ({ client: client as unknown as pg.ClientBase, release: (d) => void destroyed.push(d) }),
    end: async () => {},
  };
  return { source, sent, destroyed };
}

const ok = (sql: string): Answer => ({ command: sql.split(' ')[0]! });
const lost = (): Error => new Error('Connection terminated unexpectedly');
const serverError = (code: string): Error => Object.assign(new Error(code), { code, severity: 'ERROR' });

describe('Db.transaction', () => {
  it('commits after the body and returns its value', async () => {
    const { source, sent, destroyed } = fakeSource(ok);
    const db = new Db(source, 'fake');
    const value = await db.transaction('t', async (tx) => {
      await tx.query('SELECT 1');
      return 42;
    });
    expect(value).toBe(42);
    expect(sent).toEqual(['BEGIN', 'SELECT 1', 'COMMIT']);
    expect(destroyed).toEqual([false]);
  });

  it('sends the last statement and COMMIT together with queryAndCommit, and no second COMMIT', async () => {
    const { source, sent } = fakeSource(ok);
    await new Db(source, 'fake').transaction('t', async (tx) => {
      await tx.query('SELECT 1');
      await tx.queryAndCommit('UPDATE x');
      return 1;
    });
    expect(sent).toEqual(['BEGIN', 'SELECT 1', 'UPDATE x', 'COMMIT']);
  });

  it('rolls back and rethrows when the body throws', async () => {
    const { source, sent } = fakeSource(ok);
    const failure = new Error('body failed');
    await expect(
      new Db(source, 'fake').transaction('t', async (tx) => {
        await tx.query('SELECT 1');
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(sent).toEqual(['BEGIN', 'SELECT 1', 'ROLLBACK']);
  });

  it('never reports a commit that PostgreSQL answered with ROLLBACK', async () => {
    const { source } = fakeSource((sql) => (sql === 'COMMIT' ? { command: 'ROLLBACK' } : ok(sql)));
    const db = new Db(source, 'fake');
    await expect(db.transaction('t', async (tx) => tx.query('SELECT 1'))).rejects.toThrow(/rolled back at COMMIT/);
    await expect(db.transaction('t', async (tx) => tx.queryAndCommit('UPDATE x'))).rejects.toThrow(StoreError);
  });

  it('reports a COMMIT without an answer as unavailable and maybe committed, and destroys the connection', async () => {
    const { source, destroyed } = fakeSource((sql) => (sql === 'COMMIT' ? lost() : ok(sql)));
    const db = new Db(source, 'fake');
    for (const body of [
      (tx: TransactionSession) => tx.query('SELECT 1'),
      (tx: TransactionSession) => tx.queryAndCommit('UPDATE x'),
    ]) {
      const error = await db.transaction('t', body).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error).toMatchObject({ mayHaveCommitted: true, retryable: true });
    }
    expect(destroyed).toEqual([true, true]);
  });

  it('reports maybe committed when the connection died with the last statement and COMMIT both sent', async () => {
    const { source } = fakeSource((sql) => (sql === 'UPDATE x' || sql === 'COMMIT' ? lost() : ok(sql)));
    const error = await new Db(source, 'fake').transaction('t', (tx) => tx.queryAndCommit('UPDATE x')).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StoreUnavailableError', mayHaveCommitted: true });
  });

  it('reports a statement the server refused as not committed', async () => {
    const { source, sent } = fakeSource((sql) =>
      sql === 'UPDATE x' ? serverError('23505') : sql === 'COMMIT' ? { command: 'ROLLBACK' } : ok(sql),
    );
    const error = await new Db(source, 'fake').transaction('t', (tx) => tx.queryAndCommit('UPDATE x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreError).cause).toMatchObject({ code: '23505' });
    expect(sent.slice(0, 3)).toEqual(['BEGIN', 'UPDATE x', 'COMMIT']);
  });

  it('reports a connection lost before COMMIT was sent as unavailable and not committed', async () => {
    const { source } = fakeSource((sql) => (sql === 'SELECT 1' ? lost() : ok(sql)));
    const error = await new Db(source, 'fake').transaction('t', (tx) => tx.query('SELECT 1')).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StoreUnavailableError', mayHaveCommitted: false });
  });
});
