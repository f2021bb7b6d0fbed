-- kizuki schema, version 14. Token buckets every node shares, one row per key (an
-- organisation's API calls): behind N nodes the organisation gets its rate in total.
-- `tokens` as of `at_ms` (milliseconds since the epoch on the app's clock); `granted` says
-- whether the last take found a whole token.
CREATE TABLE IF NOT EXISTS rate_buckets (
    key      TEXT PRIMARY KEY,
    tokens   DOUBLE PRECISION NOT NULL,
    at_ms    BIGINT NOT NULL,
    granted  BOOLEAN NOT NULL
);
