-- kizuki PostgreSQL schema, version 2: API tokens (only their hashes) and links between reports.

CREATE TABLE api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    label       TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- One link per pair of reports whichever its direction, hence the unique index on the pair.
CREATE TABLE report_links (
    from_id  BIGINT NOT NULL REFERENCES reports(id),
    to_id    BIGINT NOT NULL REFERENCES reports(id),
    kind     TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    by_user  BIGINT REFERENCES users(id),
    CHECK (from_id <> to_id),
    PRIMARY KEY (from_id, to_id)
);
CREATE UNIQUE INDEX report_links_pair ON report_links (LEAST(from_id, to_id), GREATEST(from_id, to_id));
CREATE INDEX report_links_to ON report_links (to_id);
