-- Reverts 0006_invoice_kinds. Refused (the NOT NULLs fail) while an amountless or Go lnmux invoice is
-- stored: those cannot be expressed in schema version 5. Hold invoices go back to looking stateless,
-- which version 5 would settle with a derived preimage that is wrong: cancel open hold invoices first.

ALTER TABLE lnmux.invoices
  DROP CONSTRAINT invoices_committed_has_preimage,
  DROP CONSTRAINT invoices_preimage_stored,
  DROP CONSTRAINT invoices_go_lnmux_amount,
  DROP CONSTRAINT invoices_request_unless_imported,
  DROP CONSTRAINT invoices_min_iff_amountless,
  DROP COLUMN metadata,
  DROP COLUMN preimage,
  DROP COLUMN min_amount_msat,
  DROP COLUMN kind;
ALTER TABLE lnmux.invoices ALTER COLUMN payment_request SET NOT NULL;
ALTER TABLE lnmux.invoices ALTER COLUMN amount_msat SET NOT NULL;
