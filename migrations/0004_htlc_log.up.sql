-- lnmux schema version 4: the HTLC log, what lnmux decided for every HTLC of ours (docs/store.md).
-- One row per HTLC and event: 'accepted' when it joined its set (its arrival time also keeps a set's MPP
-- timeout across a restart: the nodes keep holding the parts), 'failed' with the reason when lnmux failed
-- it, 'lost' with the reason when its node stopped holding it behind lnmux's back. Settled HTLCs are in
-- lnmux.htlcs. Written after the decision, off the settle path: a crash can lose the last entries.
CREATE TABLE lnmux.htlc_log (
  node_pubkey bytea       NOT NULL CHECK (octet_length(node_pubkey) = 33),
  chan_id     bigint      NOT NULL,
  htlc_id     bigint      NOT NULL,
  event       text        NOT NULL CHECK (event IN ('accepted', 'failed', 'lost')),
  hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
  amount_msat bigint      NOT NULL CHECK (amount_msat >= 0),
  reason      text        CHECK (reason <> ''),
  at          timestamptz NOT NULL,
  PRIMARY KEY (node_pubkey, chan_id, htlc_id, event),
  CONSTRAINT htlc_log_reason_iff_not_accepted CHECK ((event = 'accepted') = (reason IS NULL))
);

-- "What happened to this payment": every entry of one payment hash, in time order.
CREATE INDEX htlc_log_hash ON lnmux.htlc_log (hash, at);
