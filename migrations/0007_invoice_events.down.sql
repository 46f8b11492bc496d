-- Reverts 0007_invoice_events: the invoice stream's history is lost (the invoices are not).
DROP INDEX lnmux.invoices_created_at;
DROP TABLE lnmux.invoice_events;
