-- kizuki SQLite schema, version 1. Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' so they
-- sort as text. Rich records keep their full content as JSON beside the columns lists filter on.

CREATE TABLE organisations (
    id        INTEGER PRIMARY KEY,
    key       TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    sectors   TEXT NOT NULL,
    region    TEXT,
    version   INTEGER NOT NULL CHECK (version >= 1)
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organisations(id),
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    lang           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    version        INTEGER NOT NULL CHECK (version >= 1)
);

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES organisations(id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    status       TEXT NOT NULL,
    reported_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    fiscal_year  INTEGER NOT NULL,
    sector       TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    severity     INTEGER,
    tlp          TEXT NOT NULL,
    details      TEXT NOT NULL
);
CREATE INDEX reports_reported ON reports (reported_at, id);
CREATE INDEX reports_org ON reports (org_id, reported_at);
CREATE INDEX reports_fy ON reports (fiscal_year, reported_at);
CREATE INDEX reports_sector ON reports (sector, reported_at);

CREATE TABLE report_causes (
    report_id  INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    cause      TEXT NOT NULL,
    PRIMARY KEY (report_id, cause)
) WITHOUT ROWID;
CREATE INDEX report_causes_cause ON report_causes (cause, report_id);

CREATE TABLE report_stages (
    report_id  INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    kind       TEXT NOT NULL,
    at         TEXT NOT NULL,
    text       TEXT NOT NULL,
    author     INTEGER REFERENCES users(id),
    PRIMARY KEY (report_id, seq)
) WITHOUT ROWID;

CREATE TABLE cases (
    id           INTEGER PRIMARY KEY,
    survey_year  INTEGER,
    number       INTEGER NOT NULL,
    report_id    INTEGER REFERENCES reports(id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    content      TEXT NOT NULL
);
CREATE UNIQUE INDEX cases_survey_number ON cases (survey_year, number) WHERE survey_year IS NOT NULL;
CREATE INDEX cases_report ON cases (report_id);

CREATE TABLE surveys (
    fiscal_year  INTEGER PRIMARY KEY,
    version      INTEGER NOT NULL CHECK (version >= 1),
    content      TEXT NOT NULL
);

-- Every version of reports and cases, for the history view and for audits of edits.
CREATE TABLE history (
    entity     TEXT NOT NULL,
    entity_id  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    at         TEXT NOT NULL,
    user_id    INTEGER,
    action     TEXT NOT NULL,
    snapshot   TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, version)
) WITHOUT ROWID;

-- The change feed search indexes follow; seq only grows.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity     TEXT NOT NULL,
    entity_id  INTEGER NOT NULL,
    at         TEXT NOT NULL
);
