-- lnmux schema version 2: leases, for one active instance per cluster (DESIGN.md, invariant 6).
-- Times come from the database clock (clock_timestamp()) so that instances with skewed clocks agree.
-- epoch grows by one each time the lease changes hands (or is taken again after expiring): a fencing token.
CREATE TABLE lnmux.leases (
  name        text        PRIMARY KEY CHECK (name <> ''),
  holder      text        NOT NULL CHECK (holder <> ''),
  epoch       bigint      NOT NULL CHECK (epoch > 0),
  acquired_at timestamptz NOT NULL,
  renewed_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
