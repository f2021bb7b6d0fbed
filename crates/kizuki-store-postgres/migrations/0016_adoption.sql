-- kizuki schema, version 16. How operators take lessons up. A self-assessment answer (where
-- an organisation stands on a lesson theme) is a new row each time, so the history is the
-- rows themselves and the current answer is the newest. A follow-up item is what an operator
-- does about one countermeasure (再発に備えた対策) of a case: one per organisation, case and
-- countermeasure, versioned like other edited records; its reminders are claimed like
-- interview notices, so each goes out once across nodes.
CREATE TABLE IF NOT EXISTS self_assessments (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organisations(id),
    theme       TEXT NOT NULL REFERENCES lesson_themes(key),
    standing    TEXT NOT NULL,
    note        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    by_user     BIGINT REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS self_assessments_latest ON self_assessments (org_id, theme, id);

CREATE TABLE IF NOT EXISTS followups (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organisations(id),
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    measure     INTEGER NOT NULL CHECK (measure >= 0),
    version     BIGINT NOT NULL CHECK (version >= 1),
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  BIGINT REFERENCES users(id),
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  BIGINT REFERENCES users(id),
    UNIQUE (org_id, case_id, measure)
);
CREATE INDEX IF NOT EXISTS followups_case ON followups (case_id, measure);

CREATE TABLE IF NOT EXISTS followup_notices (
    item_id     BIGINT NOT NULL REFERENCES followups(id),
    subject     TEXT NOT NULL,
    token       TEXT NOT NULL,
    attempts    INTEGER NOT NULL CHECK (attempts >= 1),
    claimed_at  TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    last_error  TEXT,
    PRIMARY KEY (item_id, subject)
);
