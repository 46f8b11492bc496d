/**
 * The chaos suite's checker: pure, over what the nodes, the database and the payer recorded once the
 * run is quiet. Each check is one safety property of docs/reliability.md; a violation names the invoice and the HTLCs.
 *
 *  mixed-set              a committed set with parts settled and parts failed at the nodes
 *  settled-outside-set    an HTLC settled at a node that is not in a set the database records as settled
 *  set-not-settled        an HTLC of a committed set (the settle decision recorded) that its node did not
 *                         settle
 *  success-not-recorded   a payment the payer saw succeed whose invoice the database does not record settled
 *  underpaid              an invoice whose HTLCs settled at the nodes add up to less than its amount
 *                         (a preimage released for less)
 *  pending-node           an HTLC still pending at a node
 *  pending-db             an invoice or HTLC still `settleCommitted` in the database
 *  pending-payment        a payment the payer has not finished
 */
import { circuitKeyString, hexToBytes } from '../../src/protocol/index.js';

/** An HTLC as its node resolved it. Keys: node pubkey hex, chan id and htlc id as u64. */
export interface NodeHtlc {
  readonly node: string;
  readonly chanId: bigint;
  readonly htlcId: bigint;
  readonly hash: string;
  readonly amountMsat: bigint;
  readonly settled: boolean;
}

export interface DbInvoice {
  readonly hash: string;
  readonly amountMsat: bigint;
  readonly state: string;
  readonly setId?: string;
}

export interface DbHtlc {
  readonly node: string;
  readonly chanId: bigint;
  readonly htlcId: bigint;
  readonly hash: string;
  readonly setId: string;
  readonly amountMsat: bigint;
  readonly state: string;
}

export interface CheckInput {
  /** Every HTLC the nodes resolved for the suite's invoices. */
  readonly nodeHtlcs: readonly NodeHtlc[];
  /** HTLCs the nodes still hold (not resolved). */
  readonly pendingAtNodes: readonly { readonly node: string; readonly chanId: bigint; readonly htlcId: bigint; readonly hash: string }[];
  readonly dbInvoices: readonly DbInvoice[];
  readonly dbHtlcs: readonly DbHtlc[];
  /** The payer's view, by invoice hash. */
  readonly payments: readonly { readonly hash: string; readonly status: 'pending' | 'succeeded' | 'failed' }[];
}

export type ViolationKind =
  | 'mixed-set'
  | 'settled-outside-set'
  | 'set-not-settled'
  | 'success-not-recorded'
  | 'underpaid'
  | 'pending-node'
  | 'pending-db'
  | 'pending-payment';

export interface Violation {
  readonly kind: ViolationKind;
  readonly hash: string;
  readonly detail: string;
}

/** An HTLC's circuit key in lnmux's one string form (chan_id:htlc_id@node_pubkey); `node` is the pubkey in hex. */
const keyOf = (h: { node: string; chanId: bigint; htlcId: bigint }): string =>
  circuitKeyString({ nodePubkey: hexToBytes(h.node), chanId: h.chanId, htlcId: h.htlcId });
const SETTLED_STATES = new Set(['settled', 'settleCommitted']);

/** Every violation of the run, in a stable order. */
export function checkRun(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const atNode = new Map<string, NodeHtlc>();
  for (const h of input.nodeHtlcs) atNode.set(keyOf(h), h);
  const invoices = new Map(input.dbInvoices.map((i) => [i.hash, i]));
  const setHtlcs = new Map<string, DbHtlc[]>();
  for (const h of input.dbHtlcs) {
    const list = setHtlcs.get(h.hash) ?? [];
    list.push(h);
    setHtlcs.set(h.hash, list);
  }

  // The database's side: each committed set (settleCommitted, settled, or failed after its commit),
  // part by part, at its node.
  for (const invoice of input.dbInvoices) {
    if (invoice.setId === undefined) continue;
    const parts = (setHtlcs.get(invoice.hash) ?? []).filter((h) => h.setId === invoice.setId);
    const outcomes = parts.map((p) => ({ part: p, node: atNode.get(keyOf(p)) }));
    const settled = outcomes.filter((o) => o.node?.settled === true);
    const failed = outcomes.filter((o) => o.node !== undefined && !o.node.settled);
    if (settled.length > 0 && failed.length > 0) {
      violations.push({
        kind: 'mixed-set',
        hash: invoice.hash,
        detail: `set ${invoice.setId?.slice(0, 16)}: ${settled.length} part(s) settled, ${failed.length} failed at the nodes (${failed.map((o) => keyOf(o.part)).join(', ')})`,
      });
    }
    for (const o of outcomes) {
      if (o.node?.settled !== true) {
        violations.push({
          kind: 'set-not-settled',
          hash: invoice.hash,
          detail: `part ${keyOf(o.part)} of the committed set (invoice ${invoice.state}) is ${o.node === undefined ? 'unresolved' : 'failed'} at its node`,
        });
      }
    }
  }

  // The nodes' side: every settled HTLC belongs to a recorded settled set; the sum covers the invoice.
  const settledSum = new Map<string, bigint>();
  for (const h of input.nodeHtlcs) {
    if (!h.settled) continue;
    settledSum.set(h.hash, (settledSum.get(h.hash) ?? 0n) + h.amountMsat);
    const invoice = invoices.get(h.hash);
    const inSet = (setHtlcs.get(h.hash) ?? []).some((p) => keyOf(p) === keyOf(h) && invoice !== undefined && p.setId === invoice.setId);
    if (invoice === undefined || !SETTLED_STATES.has(invoice.state) || !inSet) {
      violations.push({
        kind: 'settled-outside-set',
        hash: h.hash,
        detail: `HTLC ${keyOf(h)} (${h.amountMsat} msat) settled at its node; invoice ${invoice?.state ?? 'unknown'}, ${inSet ? 'in' : 'not in'} its recorded set`,
      });
    }
  }
  for (const [hash, sum] of settledSum) {
    const invoice = invoices.get(hash);
    if (invoice !== undefined && sum < invoice.amountMsat) {
      violations.push({ kind: 'underpaid', hash, detail: `preimage released for ${sum} msat settled at the nodes, invoice ${invoice.amountMsat} msat` });
    }
  }

  // The payer's side.
  for (const p of input.payments) {
    if (p.status === 'pending') violations.push({ kind: 'pending-payment', hash: p.hash, detail: 'the payer never saw this payment end' });
    if (p.status === 'succeeded' && invoices.get(p.hash)?.state !== 'settled') {
      violations.push({ kind: 'success-not-recorded', hash: p.hash, detail: `the payer got the preimage; the database says ${invoices.get(p.hash)?.state ?? 'no invoice'}` });
    }
  }

  // Nothing left pending.
  for (const h of input.pendingAtNodes) violations.push({ kind: 'pending-node', hash: h.hash, detail: `HTLC ${keyOf(h)} still held at its node` });
  for (const i of input.dbInvoices) if (i.state === 'settleCommitted') violations.push({ kind: 'pending-db', hash: i.hash, detail: 'invoice still settleCommitted' });
  for (const h of input.dbHtlcs) if (h.state === 'settleCommitted') violations.push({ kind: 'pending-db', hash: h.hash, detail: `HTLC ${keyOf(h)} still settleCommitted` });

  return violations;
}
