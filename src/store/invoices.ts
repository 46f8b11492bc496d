/**
 * Invoice queries: record (group-committed: one INSERT for a batch), get by hash, list by sequence and
 * state, cancel. Cancel is one UPDATE guarded by `state = 'open'`: it takes the row lock, so a cancel and
 * a settle decision racing on one invoice are serialized and exactly one of them wins.
 */
import type { BatchRunner } from './batcher.js';
import { bigintFromSql, bytesFromSql, bytesToSql, checkBytes, checkMsat, hex, u64ToSql } from './codec.js';
import { prepared, type Db } from './db.js';
import { StoreError } from './errors.js';
import {
  INVOICE_KINDS,
  INVOICE_STATES,
  type CancelOutcome,
  type Invoice,
  type InvoiceKind,
  type InvoicePage,
  type InvoiceState,
  type ListInvoicesQuery,
  type NewInvoice,
  type RecordInvoiceOutcome,
} from './types.js';

export const COLUMNS = `hash, sequence, kind, amount_msat, min_amount_msat, payment_addr, description, description_hash,
  payment_request, metadata, created_at, expires_at, state, set_id, cancelled_at, settle_committed_at, finalized_at, preimage`;

/** An invoices row as pg returns it. */
export interface InvoiceRow {
  hash: Buffer;
  sequence: string;
  kind: InvoiceKind;
  amount_msat: string | null;
  min_amount_msat: string | null;
  payment_addr: Buffer;
  description: string | null;
  description_hash: Buffer | null;
  payment_request: string | null;
  metadata: Buffer | null;
  preimage: Buffer | null;
  created_at: Date;
  expires_at: Date;
  state: InvoiceState;
  set_id: Buffer | null;
  cancelled_at: Date | null;
  settle_committed_at: Date | null;
  finalized_at: Date | null;
}

/** An invoices row as an Invoice. @throws StoreError if the row breaks the schema's invariants. */
export function invoiceFromRow(row: InvoiceRow): Invoice {
  const base = {
    hash: bytesFromSql(row.hash),
    sequence: bigintFromSql(row.sequence),
    kind: row.kind,
    ...(row.amount_msat !== null ? { amountMsat: bigintFromSql(row.amount_msat) } : {}),
    ...(row.min_amount_msat !== null ? { minAmountMsat: bigintFromSql(row.min_amount_msat) } : {}),
    paymentAddr: bytesFromSql(row.payment_addr),
    description:
      row.description_hash !== null
        ? { kind: 'hash' as const, hash: bytesFromSql(row.description_hash) }
        : { kind: 'text' as const, text: row.description ?? '' },
    ...(row.payment_request !== null ? { paymentRequest: row.payment_request } : {}),
    ...(row.metadata !== null ? { metadata: bytesFromSql(row.metadata) } : {}),
    ...(row.preimage !== null ? { preimage: bytesFromSql(row.preimage) } : {}),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  const broken = (): StoreError => new StoreError(`invariant: invoice ${row.hash.toString('hex')} row is inconsistent`);
  switch (row.state) {
    case 'open':
      return { ...base, state: 'open' };
    case 'cancelled':
      if (row.cancelled_at === null) throw broken();
      return { ...base, state: 'cancelled', cancelledAt: row.cancelled_at };
    case 'settleCommitted':
      if (row.set_id === null || row.settle_committed_at === null) throw broken();
      return { ...base, state: 'settleCommitted', setId: bytesFromSql(row.set_id), settleCommittedAt: row.settle_committed_at };
    case 'settled':
    case 'failed':
      if (row.set_id === null || row.settle_committed_at === null || row.finalized_at === null) throw broken();
      return {
        ...base,
        state: row.state,
        setId: bytesFromSql(row.set_id),
        settleCommittedAt: row.settle_committed_at,
        finalizedAt: row.finalized_at,
      };
    default: {
      const never: never = row.state;
      throw new StoreError(`invariant: unknown invoice state ${String(never)}`);
    }
  }
}

/** Validates an invoice before it is queued. @throws TypeError / RangeError naming the field. */
export function checkNewInvoice(invoice: NewInvoice): void {
  checkBytes(invoice.hash, 32, 'hash');
  const kind = invoice.kind ?? 'stateless';
  if (!INVOICE_KINDS.includes(kind)) throw new RangeError(`kind must be one of ${INVOICE_KINDS.join(', ')}, got ${String(kind)}`);
  if (invoice.amountMsat !== undefined) checkMsat(invoice.amountMsat, 'amountMsat');
  if (invoice.minAmountMsat !== undefined) {
    checkMsat(invoice.minAmountMsat, 'minAmountMsat');
    if (invoice.amountMsat !== undefined) throw new RangeError('minAmountMsat: only for an amountless invoice (without amountMsat)');
  }
  if (kind === 'goLnmux' && invoice.amountMsat === undefined) throw new RangeError('amountMsat: a goLnmux invoice always has one');
  if (invoice.metadata !== undefined) {
    if (!(invoice.metadata instanceof Uint8Array) || invoice.metadata.length < 1 || invoice.metadata.length > 639) {
      throw new RangeError('metadata must be 1 to 639 bytes');
    }
  }
  checkBytes(invoice.paymentAddr, 32, 'paymentAddr');
  const d = invoice.description as NewInvoice['description'] | undefined;
  if (d?.kind === 'hash') checkBytes(d.hash, 32, 'description.hash');
  else if (d?.kind !== 'text' || typeof d.text !== 'string') {
    throw new TypeError("description must be { kind: 'text', text } or { kind: 'hash', hash }");
  }
  if (kind === 'goLnmux') {
    if (invoice.paymentRequest !== undefined) throw new TypeError('paymentRequest: not known for a goLnmux invoice, leave it out');
  } else if (typeof invoice.paymentRequest !== 'string' || invoice.paymentRequest === '') {
    throw new TypeError('paymentRequest must be a non-empty string');
  }
  // PostgreSQL text cannot hold U+0000.
  if (d.kind === 'text' && d.text.includes('\u0000')) throw new RangeError('description.text must not contain U+0000');
  if (invoice.paymentRequest?.includes('\u0000') === true) throw new RangeError('paymentRequest must not contain U+0000');
  for (const field of ['createdAt', 'expiresAt'] as const) {
    const value = invoice[field];
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`${field} must be a valid Date`);
  }
  if (invoice.expiresAt.getTime() <= invoice.createdAt.getTime()) {
    throw new RangeError('expiresAt must be after createdAt');
  }
}

// The `created` event rides in the same statement (invoice-events.ts).
const INSERT = prepared('invoice_insert', `
  WITH inserted AS (
    INSERT INTO lnmux.invoices (hash, amount_msat, payment_addr, description, description_hash, payment_request,
      created_at, expires_at, kind, min_amount_msat, metadata)
    SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[], $4::text[], $5::bytea[], $6::text[],
      $7::timestamptz[], $8::timestamptz[], $9::text[], $10::bigint[], $11::bytea[])
    ON CONFLICT (hash) DO NOTHING
    RETURNING ${COLUMNS}
  ), event AS (
    INSERT INTO lnmux.invoice_events (hash, kind, amount_msat) SELECT hash, 'created', amount_msat FROM inserted ORDER BY sequence
  )
  SELECT ${COLUMNS} FROM inserted`);

const SELECT_BY_HASHES = `SELECT ${COLUMNS} FROM lnmux.invoices WHERE hash = ANY($1::bytea[])`;

/** The batch runner behind recordInvoice: one INSERT (its own transaction) for the whole batch. */
export function recordRunner(db: Db): BatchRunner<NewInvoice, RecordInvoiceOutcome> {
  return (requests) =>
    db.withSession('recordInvoice', async (session) => {
      // A hash twice in one batch: the first is inserted, the next find it there.
      const unique = [...new Map(requests.map((r) => [hex(r.hash), r])).values()];
      const inserted = await session.query<InvoiceRow>(INSERT, [
        unique.map((r) => bytesToSql(r.hash)),
        unique.map((r) => (r.amountMsat !== undefined ? u64ToSql(r.amountMsat) : null)),
        unique.map((r) => bytesToSql(r.paymentAddr)),
        unique.map((r) => (r.description.kind === 'text' ? r.description.text : null)),
        unique.map((r) => (r.description.kind === 'hash' ? bytesToSql(r.description.hash) : null)),
        unique.map((r) => r.paymentRequest ?? null),
        unique.map((r) => r.createdAt),
        unique.map((r) => r.expiresAt),
        unique.map((r) => r.kind ?? 'stateless'),
        unique.map((r) => (r.minAmountMsat !== undefined ? u64ToSql(r.minAmountMsat) : null)),
        unique.map((r) => (r.metadata !== undefined ? bytesToSql(r.metadata) : null)),
      ]);
      const recorded = new Map(inserted.rows.map((row) => [row.hash.toString('hex'), invoiceFromRow(row)]));
      const missing = unique.filter((r) => !recorded.has(hex(r.hash)));
      const existing = new Map<string, Invoice>();
      if (missing.length > 0) {
        const found = await session.query<InvoiceRow>(SELECT_BY_HASHES, [missing.map((r) => bytesToSql(r.hash))]);
        for (const row of found.rows) existing.set(row.hash.toString('hex'), invoiceFromRow(row));
      }
      const claimed = new Set<string>();
      const outcomes = requests.map((r): RecordInvoiceOutcome => {
        const key = hex(r.hash);
        const mine = recorded.get(key);
        if (mine !== undefined && !claimed.has(key)) {
          claimed.add(key);
          return { kind: 'recorded', invoice: mine };
        }
        const other = mine ?? existing.get(key);
        if (other === undefined) throw new StoreError(`invariant: invoice ${key} neither inserted nor found`);
        return { kind: 'alreadyExists', invoice: other };
      });
      return { kind: 'done', outcomes };
    });
}

/** getInvoice. */
export async function getInvoice(db: Db, hash: Uint8Array): Promise<Invoice | undefined> {
  checkBytes(hash, 32, 'hash');
  return db.withSession('getInvoice', async (session) => {
    const result = await session.query<InvoiceRow>(`SELECT ${COLUMNS} FROM lnmux.invoices WHERE hash = $1`, [
      bytesToSql(hash),
    ]);
    const row = result.rows[0];
    return row === undefined ? undefined : invoiceFromRow(row);
  });
}

/** The most invoices one page may hold. */
export const MAX_PAGE = 1000;

/**
 * listInvoices: keyset paging on sequence (uses invoices_state_sequence when filtered by state,
 * invoices_created_at by creation time).
 */
export async function listInvoices(db: Db, query: ListInvoicesQuery): Promise<InvoicePage> {
  const { limit, cursor } = query;
  const direction = query.direction ?? 'forward';
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${limit}`);
  }
  if (cursor !== undefined && typeof cursor !== 'bigint') throw new TypeError('cursor must be a bigint');
  if (direction !== 'forward' && direction !== 'backward') {
    throw new RangeError(`direction must be 'forward' or 'backward', got ${String(direction)}`);
  }
  const states = query.states ?? [];
  for (const s of states) {
    if (!INVOICE_STATES.includes(s)) throw new RangeError(`unknown invoice state ${String(s)}`);
  }
  for (const field of ['createdFrom', 'createdBefore'] as const) {
    const value = query[field];
    if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) throw new TypeError(`${field} must be a valid Date`);
  }
  const forward = direction === 'forward';
  const params: unknown[] = [];
  const where: string[] = [];
  if (query.createdFrom !== undefined) {
    params.push(query.createdFrom);
    where.push(`created_at >= $${params.length}::timestamptz`);
  }
  if (query.createdBefore !== undefined) {
    params.push(query.createdBefore);
    where.push(`created_at < $${params.length}::timestamptz`);
  }
  if (cursor !== undefined) {
    params.push(cursor.toString());
    where.push(`sequence ${forward ? '>' : '<'} $${params.length}::bigint`);
  }
  if (states.length > 0) {
    params.push([...new Set(states)]);
    where.push(`state = ANY($${params.length}::text[])`);
  }
  params.push(limit + 1);
  const sql =
    `SELECT ${COLUMNS} FROM lnmux.invoices` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY sequence ${forward ? 'ASC' : 'DESC'} LIMIT $${params.length}`;
  return db.withSession('listInvoices', async (session) => {
    const result = await session.query<InvoiceRow>(sql, params);
    const invoices = result.rows.slice(0, limit).map(invoiceFromRow);
    const more = result.rows.length > limit;
    return { invoices, nextCursor: more ? invoices.at(-1)!.sequence : null };
  });
}

/** cancelInvoice: one guarded UPDATE (with its `cancelled` event), then (if it changed nothing) a read of why. */
export async function cancelInvoice(db: Db, hash: Uint8Array): Promise<CancelOutcome> {
  checkBytes(hash, 32, 'hash');
  return db.withSession('cancelInvoice', async (session) => {
    const updated = await session.query<{ cancelled_at: Date }>(
      `WITH cancelled AS (
         UPDATE lnmux.invoices SET state = 'cancelled', cancelled_at = now()
         WHERE hash = $1 AND state = 'open' RETURNING hash, cancelled_at
       ), event AS (
         INSERT INTO lnmux.invoice_events (hash, kind) SELECT hash, 'cancelled' FROM cancelled
       )
       SELECT cancelled_at FROM cancelled`,
      [bytesToSql(hash)],
    );
    const cancelled = updated.rows[0];
    if (cancelled !== undefined) return { kind: 'cancelled', cancelledAt: cancelled.cancelled_at };
    const found = await session.query<InvoiceRow>(`SELECT ${COLUMNS} FROM lnmux.invoices WHERE hash = $1`, [
      bytesToSql(hash),
    ]);
    const row = found.rows[0];
    if (row === undefined) return { kind: 'unknown' };
    const invoice = invoiceFromRow(row);
    switch (invoice.state) {
      case 'cancelled':
        return { kind: 'alreadyCancelled', cancelledAt: invoice.cancelledAt };
      case 'settleCommitted':
      case 'settled':
      case 'failed':
        return { kind: invoice.state, setId: invoice.setId };
      case 'open':
        // Only a concurrent un-cancel could do this, and nothing un-cancels.
        throw new StoreError(`invariant: invoice ${hex(hash)} is open but the cancel matched no open row`);
      default: {
        const never: never = invoice;
        throw new StoreError(`unexpected invoice ${String(never)}`);
      }
    }
  });
}
