-- One name for the settle decision from registry to store (docs/architecture.md, "Vocabulary"): the
-- state an invoice and the HTLCs of its set are in once the decision is committed, and when it was,
-- are `settleCommitted` / settle_committed_at (they were `settleRequested` / settle_requested_at).
-- Rows change state name only; no decision changes.

ALTER TABLE lnmux.htlcs DROP CONSTRAINT htlcs_state_check;
ALTER TABLE lnmux.htlcs DROP CONSTRAINT htlcs_finalized_at_iff_final;
DROP INDEX lnmux.htlcs_unfinalized;
ALTER TABLE lnmux.invoices DROP CONSTRAINT invoices_state_check;
ALTER TABLE lnmux.invoices DROP CONSTRAINT invoices_set_iff_decided;
ALTER TABLE lnmux.invoices DROP CONSTRAINT invoices_decided_at_iff_decided;

UPDATE lnmux.invoices SET state = 'settleCommitted' WHERE state = 'settleRequested';
UPDATE lnmux.htlcs SET state = 'settleCommitted' WHERE state = 'settleRequested';
ALTER TABLE lnmux.invoices RENAME COLUMN settle_requested_at TO settle_committed_at;

ALTER TABLE lnmux.invoices
  ADD CONSTRAINT invoices_state_check CHECK (state IN ('open', 'cancelled', 'settleCommitted', 'settled', 'failed')),
  ADD CONSTRAINT invoices_set_iff_decided
    CHECK ((state IN ('settleCommitted', 'settled', 'failed')) = (set_id IS NOT NULL)),
  ADD CONSTRAINT invoices_decided_at_iff_decided
    CHECK ((state IN ('settleCommitted', 'settled', 'failed')) = (settle_committed_at IS NOT NULL));
ALTER TABLE lnmux.htlcs ALTER COLUMN state SET DEFAULT 'settleCommitted';
ALTER TABLE lnmux.htlcs
  ADD CONSTRAINT htlcs_state_check CHECK (state IN ('settleCommitted', 'settled', 'failed')),
  ADD CONSTRAINT htlcs_finalized_at_iff_final CHECK ((state <> 'settleCommitted') = (finalized_at IS NOT NULL));
-- The restart replay: HTLCs whose settle is committed but whose final outcome is not known yet.
CREATE INDEX htlcs_unfinalized ON lnmux.htlcs (hash) WHERE state = 'settleCommitted';
