-- kizuki SQLite schema, version 3: case selection. Analysts' scores with reasons,
-- and saved selections whose snapshot keeps the ranking and result exactly as decided.

CREATE TABLE selection_overrides (
    survey_year  INTEGER NOT NULL,
    report_id    INTEGER NOT NULL REFERENCES reports(id),
    key          TEXT NOT NULL,
    value        INTEGER NOT NULL CHECK (value BETWEEN 0 AND 3),
    reason       TEXT NOT NULL,
    by_user      INTEGER REFERENCES users(id),
    at           TEXT NOT NULL,
    PRIMARY KEY (survey_year, report_id, key)
) WITHOUT ROWID;

CREATE TABLE selections (
    id            INTEGER PRIMARY KEY,
    survey_year   INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'confirmed')),
    snapshot      TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id),
    created_at    TEXT NOT NULL,
    confirmed_by  INTEGER REFERENCES users(id),
    confirmed_at  TEXT
);
CREATE INDEX selections_survey ON selections (survey_year, id);
-- A survey's decision is one: at most one confirmed selection per survey.
CREATE UNIQUE INDEX selections_confirmed ON selections (survey_year) WHERE status = 'confirmed';

CREATE TABLE selection_members (
    selection_id  INTEGER NOT NULL REFERENCES selections(id) ON DELETE CASCADE,
    report_id     INTEGER NOT NULL REFERENCES reports(id),
    chosen        INTEGER NOT NULL,
    rank          INTEGER NOT NULL,
    category      TEXT,
    case_id       INTEGER REFERENCES cases(id),
    PRIMARY KEY (selection_id, report_id)
) WITHOUT ROWID;
