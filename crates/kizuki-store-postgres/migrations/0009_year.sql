-- kizuki PostgreSQL schema, version 9: the survey year beyond its content. A confirmed
-- selection may be reopened, each selected case keeps the operator's cooperation as an
-- append-only history, and every published edition of the annual report is kept whole.

-- A reopened selection stays as history, so `status` gains 'reopened'. The partial unique
-- index `selections_confirmed` is unchanged: at most one confirmed selection per survey,
-- reopened ones not counting.
ALTER TABLE selections DROP CONSTRAINT selections_status_check;
ALTER TABLE selections ADD CONSTRAINT selections_status_check
    CHECK (status IN ('draft', 'confirmed', 'reopened'));

-- Append-only: an entry is never changed or removed, so the history is what was said when.
-- `seq` counts 1, 2, 3… per case; writers lock the case row, and the primary key backs that.
CREATE TABLE cooperation_records (
    case_id   BIGINT NOT NULL REFERENCES cases(id),
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    status    TEXT NOT NULL CHECK (status IN ('requested', 'agreed', 'declined')),
    on_date   DATE NOT NULL,      -- the day as the operator said it
    contact   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    by_user   BIGINT REFERENCES users(id),
    at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE FUNCTION cooperation_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'cooperation_records is append-only'; END $$;
CREATE TRIGGER cooperation_records_append_only BEFORE UPDATE OR DELETE ON cooperation_records
FOR EACH ROW EXECUTE FUNCTION cooperation_records_append_only();

-- Published editions of a survey's annual report, numbered 1, 2, 3… per survey (writers lock
-- the survey row, and the primary key backs that). Immutable: an earlier edition must stay
-- downloadable exactly as it was published. TEXT, not JSONB, so it comes back byte for byte.
CREATE TABLE editions (
    survey_year   INTEGER NOT NULL REFERENCES surveys(fiscal_year),
    number        INTEGER NOT NULL CHECK (number >= 1),
    snapshot      TEXT NOT NULL,
    published_by  BIGINT NOT NULL REFERENCES users(id),
    published_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (survey_year, number)
);
CREATE FUNCTION editions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'editions are immutable'; END $$;
CREATE TRIGGER editions_immutable BEFORE UPDATE OR DELETE ON editions
FOR EACH ROW EXECUTE FUNCTION editions_immutable();
