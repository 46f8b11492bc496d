/**
 * The settle path's view of the store (ports.ts SettleStore) over src/store: translates the store's
 * outcomes into the registry's vocabulary. I/O errors pass through untouched (StoreUnavailableError is
 * retryable; the engine holds and retries).
 */
import type { CircuitKey } from '../protocol/index.js';
import type { InvoiceView } from '../registry/types.js';
import type { Invoice, SettleFence, Store } from '../store/index.js';
import type { StoredTerms } from './inspect.js';
import type { SettleCommitResult, SettleStore, StoreInvoiceView } from './ports.js';

/** The terms of a hold or goLnmux invoice, which its HTLCs are checked against (inspect.ts acceptStoredTerms). */
function storedTermsOf(invoice: Invoice): StoredTerms | undefined {
  if (invoice.kind === 'stateless') return undefined;
  return {
    kind: invoice.kind,
    paymentAddr: invoice.paymentAddr,
    ...(invoice.amountMsat !== undefined ? { amountMsat: invoice.amountMsat } : {}),
    ...(invoice.minAmountMsat !== undefined ? { minAmountMsat: invoice.minAmountMsat } : {}),
    expiresAt: Math.floor(invoice.expiresAt.getTime() / 1000),
    ...(invoice.preimage !== undefined ? { preimage: invoice.preimage } : {}),
  };
}

/**
 * A settle commit was not attempted, or was refused by the store's fencing: this instance does not lead
 * right now (its leadership session is lost, or another instance took over). Retryable: the engine holds
 * the set; the Mux ends the term (and the engine with it) if the leadership is not taken back.
 */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  readonly retryable = true;
}

/**
 * @param fence the fencing token of the current term, read at each commit; undefined while the
 *   leadership is not held (the commit is then not attempted). Absent: commits are not fenced.
 */
export function settleStoreOf(store: Store, fence?: () => SettleFence | undefined): SettleStore {
  const committedStatus = async (hash: Uint8Array, setId: Uint8Array, preimage?: Uint8Array): Promise<InvoiceView> => {
    const htlcs = await store.listInvoiceHtlcs(hash);
    return {
      kind: 'settleCommitted',
      setId,
      htlcs: htlcs.map(({ nodePubkey, chanId, htlcId }) => ({ nodePubkey, chanId, htlcId })),
      // An HTLC final at its node: a SETTLE reached it (or it was lost after one did), the preimage is out.
      released: htlcs.some((h) => h.state !== 'settleCommitted'),
      ...(preimage !== undefined ? { preimage } : {}),
    };
  };
  const withStored = (view: InvoiceView, invoice: Invoice): StoreInvoiceView => {
    const stored = storedTermsOf(invoice);
    return stored === undefined ? view : { ...view, stored };
  };

  return {
    async invoiceStatus(paymentHash, key): Promise<StoreInvoiceView> {
      let invoice;
      let acceptedAt: Date | undefined;
      if (key === undefined) invoice = await store.getInvoice(paymentHash);
      else ({ invoice, acceptedAt } = await store.getInvoiceForHtlc(paymentHash, key));
      if (invoice === undefined) return { kind: 'unknown' };
      switch (invoice.state) {
        case 'open':
          return withStored(acceptedAt === undefined ? { kind: 'open' } : { kind: 'open', acceptedAtMs: acceptedAt.getTime() }, invoice);
        case 'cancelled':
          return withStored({ kind: 'cancelled' }, invoice);
        case 'settleCommitted':
        case 'settled':
        case 'failed':
          return withStored(await committedStatus(paymentHash, invoice.setId, invoice.preimage), invoice);
        default: {
          const never: never = invoice;
          throw new Error(`unknown invoice state ${JSON.stringify(never)}`);
        }
      }
    },

    async recordGoLnmuxInvoice(invoice) {
      await store.recordInvoice({
        hash: invoice.paymentHash,
        kind: 'goLnmux',
        amountMsat: invoice.amountMsat,
        paymentAddr: invoice.paymentAddr,
        // Neither is known here: the Go lnmux kept its invoices to itself.
        description: { kind: 'text', text: '' },
        // Its creation time is not known either: now, kept before its expiry (the row's CHECK) for an
        // HTLC that arrives within its last second.
        createdAt: new Date(Math.min(Date.now(), invoice.expiresAt * 1000 - 1000)),
        expiresAt: new Date(invoice.expiresAt * 1000),
      });
    },

    async commitSettle(paymentHash, setId, htlcs, preimage): Promise<SettleCommitResult> {
      const token = fence?.();
      if (fence !== undefined && token === undefined) {
        throw new NotLeaderError('settle commit not attempted: the leadership session is lost; holding the set');
      }
      const outcome = await store.commitSettle(
        paymentHash,
        setId,
        htlcs.map(({ key, amountMsat }) => ({ ...key, amountMsat })),
        token,
        preimage,
      );
      switch (outcome.kind) {
        case 'fenced':
          throw new NotLeaderError(
            `settle commit refused: epoch ${token!.epoch} is stale (current ${outcome.currentEpoch ?? 'none'}); another instance leads`,
          );
        case 'committed':
        case 'alreadyCommitted':
          return { kind: 'committed' };
        case 'alreadySettledWithOtherSet':
          return { kind: 'refused', invoice: await committedStatus(paymentHash, outcome.setId) };
        case 'cancelled':
          return { kind: 'refused', invoice: { kind: 'cancelled' } };
        // The registry checked the amounts against the payment_addr and the keys are LND's: the last two
        // mean the recorded invoice disagrees with its payment_addr. Refuse the set: its HTLCs fail.
        case 'unknown':
        case 'amountMismatch':
        case 'wrongPreimage':
        case 'htlcInOtherSet':
          return { kind: 'refused', invoice: { kind: 'unknown' } };
        default: {
          const never: never = outcome;
          throw new Error(`unknown settle outcome ${JSON.stringify(never)}`);
        }
      }
    },

    logHtlcs(entries) {
      return store.recordHtlcLog(entries);
    },

    async revokeSettle(paymentHash, setId) {
      // Fenced like a commit: a stale leader must not take back what the new leader may have settled.
      const token = fence?.();
      if (fence !== undefined && token === undefined) {
        throw new NotLeaderError('settle revoke not attempted: the leadership session is lost; holding the set');
      }
      const outcome = await store.revokeSettle(paymentHash, setId, token);
      if (outcome.kind === 'fenced') {
        throw new NotLeaderError(`settle revoke refused: epoch ${token!.epoch} is stale (current ${outcome.currentEpoch ?? 'none'}); another instance leads`);
      }
      return outcome.kind;
    },

    async markHtlcFinal(key: CircuitKey, settled: boolean) {
      const outcome = await store.markHtlcFinal(key, settled ? 'settled' : 'failed');
      if (outcome.kind !== 'recorded') return { kind: outcome.kind };
      if (!outcome.invoiceFinalized || outcome.invoiceState === 'settleCommitted') return { kind: 'recorded' };
      return { kind: 'recorded', invoiceFinal: { paymentHash: outcome.hash, state: outcome.invoiceState } };
    },
  };
}
