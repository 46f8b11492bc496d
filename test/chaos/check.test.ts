/**
 * The chaos checker (check.ts) on hand-made records: a clean run passes, and each violation it
 * exists for is reported, including the partial settle lnmux made before a part failed by LND on its
 * own left its set (docs/architecture.md, invariant 7).
 */
import { describe, expect, it } from 'vitest';
import { checkRun, type CheckInput, type DbHtlc, type NodeHtlc } from './check.js';

const NODE_A = `02${'aa'.repeat(32)}`;
const NODE_B = `03${'bb'.repeat(32)}`;
const HASH = '11'.repeat(32);
const SET = '22'.repeat(32);

const part = (node: string, htlcId: bigint, settled: boolean, amountMsat = 500n): NodeHtlc => ({ node, chanId: 7n, htlcId, hash: HASH, amountMsat, settled });
const dbPart = (node: string, htlcId: bigint, state = 'settled', amountMsat = 500n): DbHtlc => ({ node, chanId: 7n, htlcId, hash: HASH, setId: SET, amountMsat, state });

/** An invoice of 1,000 msat paid in two parts of 500, both settled and recorded. */
function clean(): CheckInput {
  return {
    nodeHtlcs: [part(NODE_A, 0n, true), part(NODE_B, 0n, true), part(NODE_B, 1n, false)],
    pendingAtNodes: [],
    dbInvoices: [{ hash: HASH, amountMsat: 1000n, state: 'settled', setId: SET }],
    dbHtlcs: [dbPart(NODE_A, 0n), dbPart(NODE_B, 0n)],
    payments: [{ hash: HASH, status: 'succeeded' }],
  };
}

const kinds = (input: CheckInput): string[] => [...new Set(checkRun(input).map((v) => v.kind))].sort();

describe('chaos checker', () => {
  it('passes a run where every committed set settled in full (a failed retry outside the set is fine)', () => {
    expect(checkRun(clean())).toEqual([]);
  });

  it('reports the partial settle: a committed part failed at its node, the rest settled for less than the invoice', () => {
    const input = clean();
    const run: CheckInput = {
      ...input,
      nodeHtlcs: [part(NODE_A, 0n, false), ...input.nodeHtlcs.slice(1)], // LND failed part A on its own
      dbInvoices: [{ hash: HASH, amountMsat: 1000n, state: 'failed', setId: SET }],
    };
    expect(kinds(run)).toEqual(['mixed-set', 'set-not-settled', 'settled-outside-set', 'success-not-recorded', 'underpaid']);
  });

  it('reports an HTLC settled at a node outside the recorded set', () => {
    const input = clean();
    expect(kinds({ ...input, nodeHtlcs: [...input.nodeHtlcs.slice(0, 2), part(NODE_B, 1n, true)] })).toEqual(['settled-outside-set']);
  });

  it('reports a success the database does not record, and an unfinished payment', () => {
    const input = clean();
    expect(kinds({ ...input, dbInvoices: [{ hash: HASH, amountMsat: 1000n, state: 'settleCommitted', setId: SET }], dbHtlcs: input.dbHtlcs.map((h) => ({ ...h, state: 'settleCommitted' })) })).toEqual([
      'pending-db',
      'success-not-recorded',
    ]);
    expect(kinds({ ...input, payments: [{ hash: HASH, status: 'pending' }] })).toEqual(['pending-payment']);
  });

  it('reports what a node still holds', () => {
    expect(kinds({ ...clean(), pendingAtNodes: [{ node: NODE_A, chanId: 7n, htlcId: 9n, hash: HASH }] })).toEqual(['pending-node']);
  });
});
