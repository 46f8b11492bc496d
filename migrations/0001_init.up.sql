-- lnmux schema version 1: invoices and the HTLCs of committed settle sets.
--
-- Conventions (docs/store.md explains them):
-- * hashes, payment addresses, set ids and pubkeys are bytea of a checked length;
-- * msat amounts are bigint >= 1: every bitcoin that will ever exist is 2.1e18 msat, below 2^63;
-- * u64 ids that may set the top bit (chan_id, htlc_id) are stored as the same 64 bits read as a signed
--   bigint (BigInt.asIntN(64, x) in TypeScript; BigInt.asUintN(64, x) reads them back): exact, 8 bytes,
--   indexable. In SQL, `(chan_id::numeric + 18446744073709551616) % 18446744073709551616` shows the u64.
-- * states are the TypeScript names; every state/column pairing is a CHECK so no code path can write
--   a half-made row.

CREATE TABLE lnmux.invoices (
  hash                bytea       PRIMARY KEY CHECK (octet_length(hash) = 32),
  sequence            bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
  amount_msat         bigint      NOT NULL CHECK (amount_msat > 0),
  payment_addr        bytea       NOT NULL CHECK (octet_length(payment_addr) = 32),
  description         text,
  description_hash    bytea       CHECK (octet_length(description_hash) = 32),
  payment_request     text        NOT NULL,
  created_at          timestamptz NOT NULL,
  expires_at          timestamptz NOT NULL,
  state               text        NOT NULL DEFAULT 'open'
                      CHECK (state IN ('open', 'cancelled', 'settleRequested', 'settled', 'failed')),
  set_id              bytea       CHECK (octet_length(set_id) = 32),
  cancelled_at        timestamptz,
  settle_requested_at timestamptz,
  finalized_at        timestamptz,
  CONSTRAINT invoices_one_description CHECK ((description IS NULL) <> (description_hash IS NULL)),
  CONSTRAINT invoices_expiry_after_creation CHECK (expires_at > created_at),
  CONSTRAINT invoices_set_iff_decided
    CHECK ((state IN ('settleRequested', 'settled', 'failed')) = (set_id IS NOT NULL)),
  CONSTRAINT invoices_decided_at_iff_decided
    CHECK ((state IN ('settleRequested', 'settled', 'failed')) = (settle_requested_at IS NOT NULL)),
  CONSTRAINT invoices_cancelled_at_iff_cancelled CHECK ((state = 'cancelled') = (cancelled_at IS NOT NULL)),
  CONSTRAINT invoices_finalized_at_iff_final CHECK ((state IN ('settled', 'failed')) = (finalized_at IS NOT NULL)),
  -- The target of htlcs' (hash, set_id) foreign key: an HTLC row can only name the set its invoice committed.
  CONSTRAINT invoices_hash_set_id UNIQUE (hash, set_id)
);

-- listInvoices filtered by state, in sequence order.
CREATE INDEX invoices_state_sequence ON lnmux.invoices (state, sequence);

CREATE TABLE lnmux.htlcs (
  node_pubkey  bytea       NOT NULL CHECK (octet_length(node_pubkey) = 33),
  chan_id      bigint      NOT NULL,
  htlc_id      bigint      NOT NULL,
  hash         bytea       NOT NULL,
  set_id       bytea       NOT NULL,
  amount_msat  bigint      NOT NULL CHECK (amount_msat > 0),
  state        text        NOT NULL DEFAULT 'settleRequested'
               CHECK (state IN ('settleRequested', 'settled', 'failed')),
  finalized_at timestamptz,
  PRIMARY KEY (node_pubkey, chan_id, htlc_id),
  CONSTRAINT htlcs_finalized_at_iff_final CHECK ((state <> 'settleRequested') = (finalized_at IS NOT NULL)),
  CONSTRAINT htlcs_of_committed_set FOREIGN KEY (hash, set_id) REFERENCES lnmux.invoices (hash, set_id)
);

-- The HTLCs of one invoice (roll-up, listInvoiceHtlcs).
CREATE INDEX htlcs_hash ON lnmux.htlcs (hash);
-- The restart replay: HTLCs whose settle was decided but whose final outcome is not known yet.
CREATE INDEX htlcs_unfinalized ON lnmux.htlcs (hash) WHERE state = 'settleRequested';
