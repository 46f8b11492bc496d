-- Invoice kinds beyond the fixed-amount stateless invoice (docs/store.md, "Invoice kinds"):
-- * amountless invoices: no amount (the payer chooses), maybe a minimum;
-- * hold invoices: the application gave the payment hash; the preimage it settles with is written with
--   the settle commit, so that any instance can settle the committed set again after a restart;
-- * goLnmux: an invoice made by the Go lnmux with the same identity key, recorded when its first HTLC
--   arrives (its payment request is not known here); its preimage is written with the commit too, so
--   that the committed set settles again even once the setting that accepts them is turned off;
-- * payment_metadata (BOLT 11 `m`) set at creation.

ALTER TABLE lnmux.invoices ALTER COLUMN amount_msat DROP NOT NULL;
ALTER TABLE lnmux.invoices ALTER COLUMN payment_request DROP NOT NULL;
ALTER TABLE lnmux.invoices
  ADD COLUMN kind text NOT NULL DEFAULT 'stateless' CHECK (kind IN ('stateless', 'hold', 'goLnmux')),
  ADD COLUMN min_amount_msat bigint CHECK (min_amount_msat > 0),
  ADD COLUMN preimage bytea CHECK (octet_length(preimage) = 32),
  ADD COLUMN metadata bytea CHECK (octet_length(metadata) BETWEEN 1 AND 639),
  ADD CONSTRAINT invoices_min_iff_amountless CHECK (min_amount_msat IS NULL OR amount_msat IS NULL),
  ADD CONSTRAINT invoices_request_unless_imported CHECK ((payment_request IS NULL) = (kind = 'goLnmux')),
  ADD CONSTRAINT invoices_go_lnmux_amount CHECK (kind <> 'goLnmux' OR amount_msat IS NOT NULL),
  ADD CONSTRAINT invoices_preimage_stored CHECK (preimage IS NULL OR kind IN ('hold', 'goLnmux')),
  -- A committed hold or goLnmux invoice carries its preimage: the set must settle again after a restart.
  ADD CONSTRAINT invoices_committed_has_preimage
    CHECK (kind = 'stateless' OR state NOT IN ('settleCommitted', 'settled', 'failed') OR preimage IS NOT NULL);
