-- Reverts 0001_init: drops the invoice and HTLC tables (and their data).
DROP TABLE lnmux.htlcs;
DROP TABLE lnmux.invoices;
