/**
 * Leases: one active lnmux per cluster (docs/architecture.md, invariant 6). A lease is a row (name, holder, epoch,
 * expiry) changed by single atomic statements; times are the database's clock (clock_timestamp()), so
 * instances whose clocks disagree still agree on expiry.
 *
 * How a leader uses it: acquire with a TTL, renew well before the TTL runs out (e.g. every TTL/3), and
 * stop acting as leader when a renewal fails or when `start of the last successful renewal + TTL` passes
 * on its own clock, whichever comes first. A standby retries acquire every so often; it gets the lease
 * once the holder's expiry passes (or at once after a release). `epoch` is a fencing token.
 */
import { bigintFromSql } from './codec.js';
import type { Db } from './db.js';
import type { AcquireLeaseOutcome, Lease, ReleaseLeaseOutcome, RenewLeaseOutcome } from './types.js';

interface LeaseRow {
  name: string;
  holder: string;
  epoch: string;
  expires_at: Date;
}

function leaseFromRow(row: LeaseRow): Lease {
  return { name: row.name, holder: row.holder, epoch: bigintFromSql(row.epoch), expiresAt: row.expires_at };
}

/** Longest lease: one day. */
const MAX_TTL_MS = 86_400_000;

function checkLeaseArgs(name: string, holder: string, ttlMs?: number): void {
  if (typeof name !== 'string' || name === '' || name.includes('\u0000')) {
    throw new TypeError('lease name must be a non-empty string without U+0000');
  }
  if (typeof holder !== 'string' || holder === '' || holder.includes('\u0000')) {
    throw new TypeError('lease holder must be a non-empty string without U+0000');
  }
  if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS)) {
    throw new RangeError(`ttlMs must be an integer from 1 to ${MAX_TTL_MS} (ms), got ${ttlMs}`);
  }
}

// Takes the row if free, expired or ours. The epoch moves on whenever the holder changes or the lease
// had lapsed; an unexpired lease renewed by its own holder keeps its epoch.
const ACQUIRE = `
  INSERT INTO lnmux.leases AS l (name, holder, epoch, acquired_at, renewed_at, expires_at)
  VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp(), clock_timestamp() + $3 * interval '1 millisecond')
  ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp() THEN l.epoch ELSE l.epoch + 1 END,
    acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp()
                       THEN l.acquired_at ELSE excluded.acquired_at END,
    renewed_at = excluded.renewed_at,
    expires_at = excluded.expires_at
  WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
  RETURNING name, holder, epoch, expires_at`;

/** acquireLease. */
export async function acquireLease(db: Db, name: string, holder: string, ttlMs: number): Promise<AcquireLeaseOutcome> {
  checkLeaseArgs(name, holder, ttlMs);
  return db.withSession('acquireLease', async (session) => {
    for (;;) {
      const taken = await session.query<LeaseRow>(ACQUIRE, [name, holder, ttlMs]);
      if (taken.rows[0] !== undefined) return { kind: 'acquired', lease: leaseFromRow(taken.rows[0]) };
      const current = await session.query<LeaseRow>(
        'SELECT name, holder, epoch, expires_at FROM lnmux.leases WHERE name = $1',
        [name],
      );
      // Gone between the two statements (cannot happen: leases are never deleted): try again.
      if (current.rows[0] !== undefined) return { kind: 'heldByOther', lease: leaseFromRow(current.rows[0]) };
    }
  });
}

/** renewLease: extends the lease while `holder` holds it (even if it lapsed, as long as nobody took it). */
export async function renewLease(db: Db, name: string, holder: string, ttlMs: number): Promise<RenewLeaseOutcome> {
  checkLeaseArgs(name, holder, ttlMs);
  return db.withSession('renewLease', async (session) => {
    const renewed = await session.query<LeaseRow>(
      `UPDATE lnmux.leases
       SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + $3 * interval '1 millisecond'
       WHERE name = $1 AND holder = $2 AND expires_at > '-infinity'
       RETURNING name, holder, epoch, expires_at`,
      [name, holder, ttlMs],
    );
    const row = renewed.rows[0];
    return row === undefined ? { kind: 'lost' } : { kind: 'renewed', lease: leaseFromRow(row) };
  });
}

/** releaseLease: ends the lease now (the row stays, with its epoch, and expires at once). */
export async function releaseLease(db: Db, name: string, holder: string): Promise<ReleaseLeaseOutcome> {
  checkLeaseArgs(name, holder);
  return db.withSession('releaseLease', async (session) => {
    const released = await session.query(
      `UPDATE lnmux.leases SET expires_at = '-infinity'
       WHERE name = $1 AND holder = $2 AND expires_at > '-infinity'`,
      [name, holder],
    );
    return released.rowCount === 1 ? { kind: 'released' } : { kind: 'notHeld' };
  });
}
