-- lnmux schema version 3: the virtual node's identity, bound to its database (DESIGN.md, invariant 8).
-- One row: the 33-byte compressed public key of the identity key this database's invoices were made
-- with. It is written once, by the first `lnmux migrate` or start that has the key (an existing database
-- gets it on its first start after this migration), and never changed: lnmux refuses to run this
-- database with another key, because the onions of its open invoices and committed sets would not peel.
-- The private key is never stored.
CREATE TABLE lnmux.node_identity (
  -- Always true: the primary key allows a single row.
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  node_pubkey bytea       NOT NULL CHECK (octet_length(node_pubkey) = 33),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
