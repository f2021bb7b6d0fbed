-- kizuki schema, version 16. How operators take lessons up. A self-assessment answer (where
-- an organisation stands on a lesson theme) is a new row each time, so the history is the
-- rows themselves and the current answer is the newest. A follow-up item is what an operator
-- does about one countermeasure (再発に備えた対策) of a case: one per organisation, case and
-- countermeasure, versioned like other edited records; its reminders are claimed like
-- interview notices, so each goes out once across nodes.
CREATE TABLE IF NOT EXISTS self_assessments (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    theme       TEXT NOT NULL REFERENCES lesson_themes(key),
    standing    TEXT NOT NULL,
    note        TEXT NOT NULL,
    at          TEXT NOT NULL,
    by_user     INTEGER REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS self_assessments_latest ON self_assessments (org_id, theme, id);

CREATE TABLE IF NOT EXISTS followups (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    measure     INTEGER NOT NULL CHECK (measure >= 0),
    version     INTEGER NOT NULL CHECK (version >= 1),
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  INTEGER REFERENCES users(id),
    updated_at  TEXT NOT NULL,
    updated_by  INTEGER REFERENCES users(id),
    UNIQUE (org_id, case_id, measure)
);
CREATE INDEX IF NOT EXISTS followups_case ON followups (case_id, measure);

CREATE TABLE IF NOT EXISTS followup_notices (
    item_id     INTEGER NOT NULL REFERENCES followups(id),
    subject     TEXT NOT NULL,
    token       TEXT NOT NULL,
    attempts    INTEGER NOT NULL CHECK (attempts >= 1),
    claimed_at  TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    sent_at     TEXT,
    last_error  TEXT,
    PRIMARY KEY (item_id, subject)
) WITHOUT ROWID;
