-- Reverts 0002_leases.
DROP TABLE lnmux.leases;
