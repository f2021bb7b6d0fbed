-- kizuki PostgreSQL schema, version 1. Rich records are kept as JSON text (not jsonb) so a
-- record reads back exactly as written; the columns beside them serve filters and sorting.

CREATE TABLE organisations (
    id        BIGSERIAL PRIMARY KEY,
    key       TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    sectors   TEXT NOT NULL,
    region    TEXT,
    version   BIGINT NOT NULL CHECK (version >= 1)
);

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES organisations(id),
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    lang           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    version        BIGINT NOT NULL CHECK (version >= 1)
);

CREATE TABLE reports (
    id           BIGSERIAL PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES organisations(id),
    version      BIGINT NOT NULL CHECK (version >= 1),
    status       TEXT NOT NULL,
    reported_at  TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    fiscal_year  INTEGER NOT NULL,
    sector       TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    severity     SMALLINT,
    tlp          TEXT NOT NULL,
    details      TEXT NOT NULL
);
CREATE INDEX reports_reported ON reports (reported_at, id);
CREATE INDEX reports_org ON reports (org_id, reported_at);
CREATE INDEX reports_fy ON reports (fiscal_year, reported_at);
CREATE INDEX reports_sector ON reports (sector, reported_at);

CREATE TABLE report_causes (
    report_id  BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    cause      TEXT NOT NULL,
    PRIMARY KEY (report_id, cause)
);
CREATE INDEX report_causes_cause ON report_causes (cause, report_id);

CREATE TABLE report_stages (
    report_id  BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    kind       TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    text       TEXT NOT NULL,
    author     BIGINT REFERENCES users(id),
    PRIMARY KEY (report_id, seq)
);

CREATE TABLE cases (
    id           BIGSERIAL PRIMARY KEY,
    survey_year  INTEGER,
    number       INTEGER NOT NULL,
    report_id    BIGINT REFERENCES reports(id),
    version      BIGINT NOT NULL CHECK (version >= 1),
    content      TEXT NOT NULL
);
CREATE UNIQUE INDEX cases_survey_number ON cases (survey_year, number) WHERE survey_year IS NOT NULL;
CREATE INDEX cases_report ON cases (report_id);

CREATE TABLE surveys (
    fiscal_year  INTEGER PRIMARY KEY,
    version      BIGINT NOT NULL CHECK (version >= 1),
    content      TEXT NOT NULL
);

CREATE TABLE history (
    entity     TEXT NOT NULL,
    entity_id  BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    user_id    BIGINT,
    action     TEXT NOT NULL,
    snapshot   TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, version)
);

-- The change feed. Writers take a transaction-scoped advisory lock before appending, so
-- sequence numbers become visible in commit order and a follower never skips one.
CREATE TABLE changes (
    seq        BIGSERIAL PRIMARY KEY,
    entity     TEXT NOT NULL,
    entity_id  BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
