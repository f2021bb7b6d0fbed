-- kizuki SQLite schema, version 9: the survey year beyond its content. A confirmed selection
-- may be reopened, each selected case keeps the operator's cooperation as an append-only
-- history, and every published edition of the annual report is kept whole.

-- A reopened selection stays as history, so `status` gains 'reopened'. SQLite cannot change a
-- CHECK in place, so both selection tables are rebuilt. The members move first, onto a copy
-- that refers to the new selections table: dropping the old selections table with the old
-- members still referring to it would cascade-delete them (foreign keys are on during
-- migrations). Renaming the new table afterwards rewrites the members' reference to it.
CREATE TABLE selections_0009 (
    id            INTEGER PRIMARY KEY,
    survey_year   INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'confirmed', 'reopened')),
    snapshot      TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id),
    created_at    TEXT NOT NULL,
    confirmed_by  INTEGER REFERENCES users(id),
    confirmed_at  TEXT
);
INSERT INTO selections_0009
    (id, survey_year, version, status, snapshot, created_by, created_at, confirmed_by,
     confirmed_at)
SELECT id, survey_year, version, status, snapshot, created_by, created_at, confirmed_by,
       confirmed_at
FROM selections;

CREATE TABLE selection_members_0009 (
    selection_id  INTEGER NOT NULL REFERENCES selections_0009(id) ON DELETE CASCADE,
    report_id     INTEGER NOT NULL REFERENCES reports(id),
    chosen        INTEGER NOT NULL,
    rank          INTEGER NOT NULL,
    category      TEXT,
    case_id       INTEGER REFERENCES cases(id),
    PRIMARY KEY (selection_id, report_id)
) WITHOUT ROWID;
INSERT INTO selection_members_0009 (selection_id, report_id, chosen, rank, category, case_id)
SELECT selection_id, report_id, chosen, rank, category, case_id FROM selection_members;

DROP TABLE selection_members;
DROP TABLE selections;
ALTER TABLE selections_0009 RENAME TO selections;
ALTER TABLE selection_members_0009 RENAME TO selection_members;
CREATE INDEX selections_survey ON selections (survey_year, id);
-- A survey's decision is still one: at most one confirmed selection per survey (reopened
-- ones do not count).
CREATE UNIQUE INDEX selections_confirmed ON selections (survey_year) WHERE status = 'confirmed';

-- Append-only: an entry is never changed or removed, so the history is what was said when.
-- `seq` counts 1, 2, 3… per case; the primary key is what lets one of two writers that saw
-- the same count win.
CREATE TABLE cooperation_records (
    case_id   INTEGER NOT NULL REFERENCES cases(id),
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    status    TEXT NOT NULL CHECK (status IN ('requested', 'agreed', 'declined')),
    on_date   TEXT NOT NULL,      -- 'YYYY-MM-DD', the day as the operator said it
    contact   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    by_user   INTEGER REFERENCES users(id),
    at        TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER cooperation_records_no_update BEFORE UPDATE ON cooperation_records
BEGIN SELECT RAISE(ABORT, 'cooperation_records is append-only'); END;
CREATE TRIGGER cooperation_records_no_delete BEFORE DELETE ON cooperation_records
BEGIN SELECT RAISE(ABORT, 'cooperation_records is append-only'); END;

-- Published editions of a survey's annual report, numbered 1, 2, 3… per survey. Immutable:
-- an earlier edition must stay downloadable exactly as it was published.
CREATE TABLE editions (
    survey_year   INTEGER NOT NULL REFERENCES surveys(fiscal_year),
    number        INTEGER NOT NULL CHECK (number >= 1),
    snapshot      TEXT NOT NULL,  -- everything the edition was rendered from, byte for byte
    published_by  INTEGER NOT NULL REFERENCES users(id),
    published_at  TEXT NOT NULL,
    PRIMARY KEY (survey_year, number)
) WITHOUT ROWID;
CREATE TRIGGER editions_no_update BEFORE UPDATE ON editions
BEGIN SELECT RAISE(ABORT, 'editions are immutable'); END;
CREATE TRIGGER editions_no_delete BEFORE DELETE ON editions
BEGIN SELECT RAISE(ABORT, 'editions are immutable'); END;
