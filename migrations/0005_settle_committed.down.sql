-- Reverts 0005_settle_committed: the decision's state is named `settleRequested` again.

ALTER TABLE lnmux.htlcs DROP CONSTRAINT htlcs_state_check;
ALTER TABLE lnmux.htlcs DROP CONSTRAINT htlcs_finalized_at_iff_final;
DROP INDEX lnmux.htlcs_unfinalized;
ALTER TABLE lnmux.invoices DROP CONSTRAINT invoices_state_check;
ALTER TABLE lnmux.invoices DROP CONSTRAINT invoices_set_iff_decided;
ALTER TABLE lnmux.invoices DROP CONSTRAINT invoices_decided_at_iff_decided;

UPDATE lnmux.invoices SET state = 'settleRequested' WHERE state = 'settleCommitted';
UPDATE lnmux.htlcs SET state = 'settleRequested' WHERE state = 'settleCommitted';
ALTER TABLE lnmux.invoices RENAME COLUMN settle_committed_at TO settle_requested_at;

ALTER TABLE lnmux.invoices
  ADD CONSTRAINT invoices_state_check CHECK (state IN ('open', 'cancelled', 'settleRequested', 'settled', 'failed')),
  ADD CONSTRAINT invoices_set_iff_decided
    CHECK ((state IN ('settleRequested', 'settled', 'failed')) = (set_id IS NOT NULL)),
  ADD CONSTRAINT invoices_decided_at_iff_decided
    CHECK ((state IN ('settleRequested', 'settled', 'failed')) = (settle_requested_at IS NOT NULL));
ALTER TABLE lnmux.htlcs ALTER COLUMN state SET DEFAULT 'settleRequested';
ALTER TABLE lnmux.htlcs
  ADD CONSTRAINT htlcs_state_check CHECK (state IN ('settleRequested', 'settled', 'failed')),
  ADD CONSTRAINT htlcs_finalized_at_iff_final CHECK ((state <> 'settleRequested') = (finalized_at IS NOT NULL));
CREATE INDEX htlcs_unfinalized ON lnmux.htlcs (hash) WHERE state = 'settleRequested';
