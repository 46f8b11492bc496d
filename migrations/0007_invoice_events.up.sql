-- The durable invoice stream (docs/api.md, "SubscribeInvoices"; docs/store.md, "Invoice events"): one row
-- per change of an invoice, written in the transaction that makes the change (created, settleCommitted,
-- settled, failed, cancelled, settleRevoked), or after it from the Mux's events for what lives in memory
-- only (accepted, released: a held set is registry state).
--
-- `id` is the order rows were inserted in; it is NOT the stream's index: identity values are taken at
-- insert and committed in another order, so a reader that had seen id 12 could later find an id 11 that
-- committed late. The stream's `event_index` is given afterwards, to committed rows only, by one
-- sequencer transaction at a time (an advisory lock; src/store/invoice-events.ts): every index a reader
-- sees was committed together with all the indexes below it, so following `event_index > last` never
-- skips a row. No write on the HTLC path waits for it.

CREATE TABLE lnmux.invoice_events (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_index bigint      UNIQUE CHECK (event_index > 0),
  hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
  kind        text        NOT NULL
              CHECK (kind IN ('created', 'accepted', 'released', 'settleCommitted', 'settleRevoked', 'settled', 'failed', 'cancelled')),
  set_id      bytea       CHECK (octet_length(set_id) = 32),
  -- created: the invoice amount (NULL: amountless); accepted, settleCommitted: the set's amount. msat.
  amount_msat bigint      CHECK (amount_msat > 0),
  -- released: why (the registry's outcome, or partLost).
  reason      text,
  at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT invoice_events_set_of_set_events
    CHECK ((kind IN ('accepted', 'released', 'settleCommitted', 'settleRevoked', 'settled', 'failed')) = (set_id IS NOT NULL))
);

-- The sequencer's work list: rows not yet given an index.
CREATE INDEX invoice_events_unindexed ON lnmux.invoice_events (id) WHERE event_index IS NULL;

-- ListInvoices by creation time.
CREATE INDEX invoices_created_at ON lnmux.invoices (created_at, sequence);
