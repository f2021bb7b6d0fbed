-- kizuki SQLite schema, version 10: interviews (ヒアリング) with the operators of selected
-- cases. The interview record (request, answers, minutes with consent) is one versioned JSON
-- document; written questions are rows of their own so the operator's drafts never collide
-- with the minutes; attachments keep their bytes here, so every backup carries them.

CREATE TABLE interviews (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    body        TEXT NOT NULL,          -- kizuki_domain::interview::InterviewBody as JSON
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    updated_by  INTEGER NOT NULL REFERENCES users(id),
    updated_at  TEXT NOT NULL
);
CREATE INDEX interviews_case ON interviews (case_id, id);

CREATE TABLE interview_questions (
    id            INTEGER PRIMARY KEY,
    interview_id  INTEGER NOT NULL REFERENCES interviews(id),
    position      INTEGER NOT NULL CHECK (position >= 1),
    part          TEXT NOT NULL CHECK (part IN ('background', 'detection', 'response', 'cause',
                                                'countermeasures', 'lessons')),
    text          TEXT NOT NULL,
    due_on        TEXT,                 -- 'YYYY-MM-DD'
    answer        TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'draft', 'submitted')),
    version       INTEGER NOT NULL CHECK (version >= 1),
    answered_by   INTEGER REFERENCES users(id),
    answered_at   TEXT,
    UNIQUE (interview_id, position)
);

-- The bytes are stored as given and never interpreted; the type is sniffed before insert.
CREATE TABLE interview_attachments (
    id            INTEGER PRIMARY KEY,
    interview_id  INTEGER NOT NULL REFERENCES interviews(id),
    filename      TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL CHECK (size >= 0),
    sha256        TEXT NOT NULL,
    content       BLOB NOT NULL,
    uploaded_by   INTEGER NOT NULL REFERENCES users(id),
    uploaded_at   TEXT NOT NULL
);
CREATE INDEX interview_attachments_interview ON interview_attachments (interview_id, id);

-- A centre editor's question template for a case category; absent means the shipped one.
CREATE TABLE question_templates (
    category    TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    updated_by  INTEGER NOT NULL REFERENCES users(id),
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Interview e-mails (the request, due-soon and overdue notices) claimed like reminders: the
-- primary key is what makes each go out once.
CREATE TABLE interview_notices (
    interview_id  INTEGER NOT NULL REFERENCES interviews(id),
    subject       TEXT NOT NULL,
    token         TEXT NOT NULL,
    attempts      INTEGER NOT NULL CHECK (attempts >= 1),
    claimed_at    TEXT NOT NULL,
    lease_until   TEXT NOT NULL,
    sent_at       TEXT,
    last_error    TEXT,
    PRIMARY KEY (interview_id, subject)
) WITHOUT ROWID;
