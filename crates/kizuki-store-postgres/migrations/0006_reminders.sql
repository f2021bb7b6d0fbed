-- kizuki PostgreSQL schema, version 6: stage-deadline reminders. One row per report,
-- stage, kind (due_soon / overdue) and channel; the primary key is what makes a reminder go
-- out once. A row is claimed (token, lease_until), then either marked sent or handed back
-- with a retry time and the error.

CREATE TABLE reminders (
    report_id   BIGINT NOT NULL REFERENCES reports(id),
    stage       TEXT NOT NULL CHECK (stage IN ('first', 'follow_up', 'final')),
    kind        TEXT NOT NULL CHECK (kind IN ('due_soon', 'overdue')),
    channel     TEXT NOT NULL CHECK (channel IN ('mail_operator', 'mail_centre', 'webhook')),
    token       TEXT NOT NULL,
    attempts    INTEGER NOT NULL CHECK (attempts >= 1),
    claimed_at  TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    last_error  TEXT,
    PRIMARY KEY (report_id, stage, kind, channel)
);
CREATE INDEX reminders_unsent ON reminders (attempts) WHERE sent_at IS NULL;
