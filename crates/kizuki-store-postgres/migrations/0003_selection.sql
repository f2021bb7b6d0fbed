-- kizuki PostgreSQL schema, version 3: case selection. Analysts' scores with
-- reasons, and saved selections whose snapshot keeps the ranking and result exactly as
-- decided (TEXT, not JSONB, so it comes back byte for byte).

CREATE TABLE selection_overrides (
    survey_year  INTEGER NOT NULL,
    report_id    BIGINT NOT NULL REFERENCES reports(id),
    key          TEXT NOT NULL,
    value        SMALLINT NOT NULL CHECK (value BETWEEN 0 AND 3),
    reason       TEXT NOT NULL,
    by_user      BIGINT REFERENCES users(id),
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (survey_year, report_id, key)
);

CREATE TABLE selections (
    id            BIGSERIAL PRIMARY KEY,
    survey_year   INTEGER NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'confirmed')),
    snapshot      TEXT NOT NULL,
    created_by    BIGINT REFERENCES users(id),
    created_at    TIMESTAMPTZ NOT NULL,
    confirmed_by  BIGINT REFERENCES users(id),
    confirmed_at  TIMESTAMPTZ
);
CREATE INDEX selections_survey ON selections (survey_year, id);
-- A survey's decision is one: at most one confirmed selection per survey.
CREATE UNIQUE INDEX selections_confirmed ON selections (survey_year) WHERE status = 'confirmed';

CREATE TABLE selection_members (
    selection_id  BIGINT NOT NULL REFERENCES selections(id) ON DELETE CASCADE,
    report_id     BIGINT NOT NULL REFERENCES reports(id),
    chosen        BOOLEAN NOT NULL,
    rank          INTEGER NOT NULL,
    category      TEXT,
    case_id       BIGINT REFERENCES cases(id),
    PRIMARY KEY (selection_id, report_id)
);
