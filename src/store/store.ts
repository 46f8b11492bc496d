/**
 * The Store: invoice, settle, lease and identity-binding operations over one Db, with group commit for the three write
 * paths that run per payment (recordInvoice, commitSettle, markHtlcFinal).
 */
import { Batcher } from './batcher.js';
import { assertCircuitKey, type CircuitKey } from '../protocol/index.js';
import { checkBytes } from './codec.js';
import type { Db } from './db.js';
import { StoreClosedError } from './errors.js';
import { checkFinalState, findSettledHtlc, finalRunner, listInvoiceHtlcs, listUnfinalizedHtlcs, type FinalRequest } from './htlcs.js';
import { bindNodeIdentity, readNodeIdentity } from './identity.js';
import { cancelInvoice, checkNewInvoice, getInvoice, listInvoices, recordRunner } from './invoices.js';
import { openLeadership, type Leadership, type LeadershipOptions } from './leadership.js';
import { acquireLease, releaseLease, renewLease } from './leases.js';
import { checkSettleCommit, type SettleCommit } from './settle-decision.js';
import { checkHtlcLogEntry, checkHtlcLookup, listHtlcLog, lookupRunner, recordHtlcLog, type HtlcLookup, type HtlcLookupResult } from './htlc-log.js';
import { revokeSettle } from './revoke.js';
import { checkNewInvoiceEvent, listInvoiceEvents, recordInvoiceEvents, sequenceInvoiceEvents } from './invoice-events.js';
import { settleRunner } from './settle.js';
import type {
  AcquireLeaseOutcome,
  CancelOutcome,
  HtlcFinalOutcome,
  HtlcFinalState,
  HtlcLogEntry,
  Invoice,
  InvoiceEvent,
  NewInvoiceEvent,
  InvoicePage,
  NodeIdentity,
  NodeIdentityOutcome,
  ListInvoicesQuery,
  NewInvoice,
  RecordInvoiceOutcome,
  ReleaseLeaseOutcome,
  RenewLeaseOutcome,
  RevokeSettleOutcome,
  SetHtlc,
  SettleFence,
  SettleCommitOutcome,
  Store,
  StoredHtlc,
  UnfinalizedHtlc,
} from './types.js';

/** Group-commit settings. */
export interface BatchSettings {
  /** Most requests per transaction. */
  readonly maxBatchSize: number;
  /** Most transactions in flight per write path (default 2; never more than the pool size). */
  readonly maxBatchesInFlight?: number;
}

/** How long a final-state write waits for others to share its transaction, ms (docs/architecture.md, "What waits for the disk"). */
const FINAL_LINGER_MS = 20;

/** A Store over `db` (whose schema must be current: openStore checks it). */
export function createStore(db: Db, backend: Store['backend'], settings: BatchSettings): Store {
  return new DbStore(db, backend, settings);
}

class DbStore implements Store {
  readonly #db: Db;
  readonly #record: Batcher<NewInvoice, RecordInvoiceOutcome>;
  readonly #settle: Batcher<SettleCommit, SettleCommitOutcome>;
  readonly #final: Batcher<FinalRequest, HtlcFinalOutcome>;
  readonly #lookup: Batcher<HtlcLookup, HtlcLookupResult>;
  #closing: Promise<void> | undefined;

  constructor(
    db: Db,
    readonly backend: Store['backend'],
    settings: BatchSettings,
  ) {
    this.#db = db;
    // The embedded database has one session: one batch at a time.
    const maxInFlight = Math.max(1, Math.min(db.size, settings.maxBatchesInFlight ?? 2));
    const options = { maxBatchSize: settings.maxBatchSize, maxInFlight };
    this.#record = new Batcher(recordRunner(db), options);
    this.#settle = new Batcher(settleRunner(db), options);
    // Final states decide nothing and are written without the flush: gathered over FINAL_LINGER_MS, they
    // take one transaction for many payments instead of one each, beside the next payment's commit.
    this.#final = new Batcher(finalRunner(db), { ...options, lingerMs: FINAL_LINGER_MS });
    this.#lookup = new Batcher(lookupRunner(db), options);
  }

  #open(operation: string): void {
    if (this.#closing !== undefined) throw new StoreClosedError(`${operation}: the store is closed`);
  }

  async recordInvoice(invoice: NewInvoice): Promise<RecordInvoiceOutcome> {
    this.#open('recordInvoice');
    checkNewInvoice(invoice);
    return this.#record.submit(invoice);
  }

  async getInvoice(hash: Uint8Array): Promise<Invoice | undefined> {
    this.#open('getInvoice');
    return getInvoice(this.#db, hash);
  }

  async listInvoices(query: ListInvoicesQuery): Promise<InvoicePage> {
    this.#open('listInvoices');
    return listInvoices(this.#db, query);
  }

  async cancelInvoice(hash: Uint8Array): Promise<CancelOutcome> {
    this.#open('cancelInvoice');
    return cancelInvoice(this.#db, hash);
  }

  async commitSettle(
    hash: Uint8Array,
    setId: Uint8Array,
    htlcs: readonly SetHtlc[],
    fence?: SettleFence,
    preimage?: Uint8Array,
  ): Promise<SettleCommitOutcome> {
    this.#open('commitSettle');
    const request = {
      hash,
      setId,
      htlcs: [...htlcs],
      ...(fence !== undefined ? { fence } : {}),
      ...(preimage !== undefined ? { preimage } : {}),
    };
    checkSettleCommit(request);
    return this.#settle.submit(request);
  }

  async recordHtlcLog(entries: readonly HtlcLogEntry[]): Promise<void> {
    this.#open('recordHtlcLog');
    for (const entry of entries) checkHtlcLogEntry(entry);
    return recordHtlcLog(this.#db, entries);
  }

  async listHtlcLog(hash: Uint8Array): Promise<readonly HtlcLogEntry[]> {
    this.#open('listHtlcLog');
    return listHtlcLog(this.#db, hash);
  }

  async getInvoiceForHtlc(hash: Uint8Array, key: CircuitKey): Promise<HtlcLookupResult> {
    this.#open('getInvoiceForHtlc');
    const request = { hash, key };
    checkHtlcLookup(request);
    return this.#lookup.submit(request);
  }

  async revokeSettle(hash: Uint8Array, setId: Uint8Array, fence?: SettleFence): Promise<RevokeSettleOutcome> {
    this.#open('revokeSettle');
    checkBytes(hash, 32, 'hash');
    checkBytes(setId, 32, 'setId');
    return revokeSettle(this.#db, hash, setId, fence);
  }

  async markHtlcFinal(key: CircuitKey, state: HtlcFinalState): Promise<HtlcFinalOutcome> {
    this.#open('markHtlcFinal');
    assertCircuitKey(key);
    checkFinalState(state);
    return this.#final.submit({ key, state });
  }

  async findSettledHtlc(key: CircuitKey): Promise<StoredHtlc | undefined> {
    this.#open('findSettledHtlc');
    assertCircuitKey(key);
    return findSettledHtlc(this.#db, key);
  }

  async listInvoiceHtlcs(hash: Uint8Array): Promise<readonly StoredHtlc[]> {
    this.#open('listInvoiceHtlcs');
    checkBytes(hash, 32, 'hash');
    return listInvoiceHtlcs(this.#db, hash);
  }

  async listUnfinalizedHtlcs(): Promise<readonly UnfinalizedHtlc[]> {
    this.#open('listUnfinalizedHtlcs');
    return listUnfinalizedHtlcs(this.#db);
  }

  async recordInvoiceEvents(events: readonly NewInvoiceEvent[]): Promise<void> {
    this.#open('recordInvoiceEvents');
    for (const event of events) checkNewInvoiceEvent(event);
    return recordInvoiceEvents(this.#db, events);
  }

  async sequenceInvoiceEvents(): Promise<bigint | undefined> {
    this.#open('sequenceInvoiceEvents');
    return sequenceInvoiceEvents(this.#db);
  }

  async listInvoiceEvents(after: bigint, limit: number): Promise<readonly InvoiceEvent[]> {
    this.#open('listInvoiceEvents');
    return listInvoiceEvents(this.#db, after, limit);
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<AcquireLeaseOutcome> {
    this.#open('acquireLease');
    return acquireLease(this.#db, name, holder, ttlMs);
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<RenewLeaseOutcome> {
    this.#open('renewLease');
    return renewLease(this.#db, name, holder, ttlMs);
  }

  async releaseLease(name: string, holder: string): Promise<ReleaseLeaseOutcome> {
    this.#open('releaseLease');
    return releaseLease(this.#db, name, holder);
  }

  async bindNodeIdentity(nodePubkey: Uint8Array): Promise<NodeIdentityOutcome> {
    this.#open('bindNodeIdentity');
    return bindNodeIdentity(this.#db, nodePubkey);
  }

  async nodeIdentity(): Promise<NodeIdentity | undefined> {
    this.#open('nodeIdentity');
    return readNodeIdentity(this.#db);
  }

  leadership(name: string, holder: string, options?: LeadershipOptions): Leadership {
    this.#open('leadership');
    return openLeadership(this.#db, name, holder, options);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([this.#record.idle(), this.#settle.idle(), this.#final.idle(), this.#lookup.idle()]);
      await this.#db.close();
    })();
    return this.#closing;
  }
}
