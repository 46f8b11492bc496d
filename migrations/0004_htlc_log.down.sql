-- Reverts 0004_htlc_log.
DROP TABLE lnmux.htlc_log;
