-- kizuki PostgreSQL schema, version 10: interviews (ヒアリング) with the operators of selected
-- cases. The interview record (request, answers, minutes with consent) is one versioned JSON
-- document (TEXT, not JSONB, so it reads back exactly as written); written questions are rows
-- of their own so the operator's drafts never collide with the minutes; attachments keep their
-- bytes here, so every backup carries them.

CREATE TABLE interviews (
    id          BIGSERIAL PRIMARY KEY,
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    version     BIGINT NOT NULL CHECK (version >= 1),
    body        TEXT NOT NULL,          -- kizuki_domain::interview::InterviewBody as JSON
    created_by  BIGINT NOT NULL REFERENCES users(id),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_by  BIGINT NOT NULL REFERENCES users(id),
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX interviews_case ON interviews (case_id, id);

-- Positions count 1, 2, 3… per interview; writers lock the interview row, and the unique
-- constraint backs that.
CREATE TABLE interview_questions (
    id            BIGSERIAL PRIMARY KEY,
    interview_id  BIGINT NOT NULL REFERENCES interviews(id),
    position      INTEGER NOT NULL CHECK (position >= 1),
    part          TEXT NOT NULL CHECK (part IN ('background', 'detection', 'response', 'cause',
                                                'countermeasures', 'lessons')),
    text          TEXT NOT NULL,
    due_on        DATE,
    answer        TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'draft', 'submitted')),
    version       BIGINT NOT NULL CHECK (version >= 1),
    answered_by   BIGINT REFERENCES users(id),
    answered_at   TIMESTAMPTZ,
    UNIQUE (interview_id, position)
);

-- The bytes are stored as given and never interpreted; the type is sniffed before insert.
CREATE TABLE interview_attachments (
    id            BIGSERIAL PRIMARY KEY,
    interview_id  BIGINT NOT NULL REFERENCES interviews(id),
    filename      TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL CHECK (size >= 0),
    sha256        TEXT NOT NULL,
    content       BYTEA NOT NULL,
    uploaded_by   BIGINT NOT NULL REFERENCES users(id),
    uploaded_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX interview_attachments_interview ON interview_attachments (interview_id, id);

-- A centre editor's question template for a case category; absent means the shipped one.
CREATE TABLE question_templates (
    category    TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    updated_by  BIGINT NOT NULL REFERENCES users(id),
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Interview e-mails (the request, due-soon and overdue notices) claimed like reminders: the
-- primary key is what makes each go out once.
CREATE TABLE interview_notices (
    interview_id  BIGINT NOT NULL REFERENCES interviews(id),
    subject       TEXT NOT NULL,
    token         TEXT NOT NULL,
    attempts      INTEGER NOT NULL CHECK (attempts >= 1),
    claimed_at    TIMESTAMPTZ NOT NULL,
    lease_until   TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ,
    last_error    TEXT,
    PRIMARY KEY (interview_id, subject)
);
