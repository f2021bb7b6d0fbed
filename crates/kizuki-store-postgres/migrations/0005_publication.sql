-- kizuki PostgreSQL schema, version 5: publication. The editor's pseudonym map and
-- candidate decisions per case, the operator's sign-off as an append-only list of
-- transitions, and the published snapshots — the only table the public portal reads.

CREATE TABLE pseudonym_maps (
    case_id     BIGINT PRIMARY KEY REFERENCES cases(id),
    version     BIGINT NOT NULL CHECK (version >= 1),
    entries     TEXT NOT NULL,      -- JSON [{"real","label"}], re-checked on read
    disclosed   TEXT NOT NULL,      -- JSON Disclosed: what the publication reveals
    by_user     BIGINT NOT NULL REFERENCES users(id),
    at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE candidate_decisions (
    case_id      BIGINT NOT NULL REFERENCES cases(id),
    candidate_id TEXT NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('accepted', 'relabelled', 'ignored')),
    value        TEXT NOT NULL,
    by_user      BIGINT NOT NULL REFERENCES users(id),
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, candidate_id)
);

-- Append-only: rows are never updated or deleted, so the history is the audit trail.
CREATE FUNCTION signoff_transitions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'signoff_transitions is append-only'; END $$;
CREATE TABLE signoff_transitions (
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    action      TEXT NOT NULL,
    by_user     BIGINT NOT NULL REFERENCES users(id),
    at          TIMESTAMPTZ NOT NULL,
    body        TEXT NOT NULL,      -- the whole Transition as JSON (fingerprint, comments, role)
    PRIMARY KEY (case_id, seq)
);
CREATE TRIGGER signoff_transitions_append_only BEFORE UPDATE OR DELETE ON signoff_transitions
FOR EACH ROW EXECUTE FUNCTION signoff_transitions_append_only();

-- What the portal serves, and nothing else.
CREATE TABLE publications (
    case_id      BIGINT PRIMARY KEY REFERENCES cases(id),
    survey_year  INTEGER,
    number       INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL,
    content      TEXT NOT NULL,     -- the anonymised CaseContent as JSON
    html         TEXT NOT NULL,     -- the case as rendered when it was published
    published_at TIMESTAMPTZ NOT NULL,
    published_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE UNIQUE INDEX publications_number ON publications (survey_year, number);
