-- kizuki schema, version 13. Writers no longer queue behind one another for the change feed.
-- A write appends its change to `changes_pending` (no lock; its id only says which of two
-- rows was written first). Whoever reads the feed first moves every committed pending row
-- into `changes` under a transaction-scoped advisory lock that only readers take: the
-- numbers `changes.seq` hands out then follow the order in which rows were published, and a
-- row not yet committed is not visible to the move, so it can only receive a later number.
-- A follower that has read up to `seq` therefore never finds a smaller number appearing.
CREATE TABLE IF NOT EXISTS changes_pending (
    id         BIGSERIAL PRIMARY KEY,
    entity     TEXT NOT NULL,
    entity_id  BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE changes IS
  'The change feed in publication order; rows arrive from changes_pending (schema 13).';

-- When an API token was first presented, so the audit log records a credential's first use.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS first_used_at TIMESTAMPTZ;
