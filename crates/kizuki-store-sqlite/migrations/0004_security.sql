-- kizuki SQLite schema, version 4: the hash-chained audit log, TOTP enrolment,
-- recovery codes, per-organisation IP allowlists and report sharing lists.

-- Append-only: the triggers below refuse edits, refuse deletes no checkpoint covers, and
-- refuse inserts that do not extend the chain, so tampering needs DDL, which verify catches.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE TRIGGER audit_log_append BEFORE INSERT ON audit_log
WHEN NEW.seq <> coalesce((SELECT max(seq) FROM audit_log), 0) + 1
  OR NEW.prev_hash <> coalesce(
       (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
       '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'audit chain: entry does not extend the chain');
END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: entries cannot be changed');
END;

CREATE TRIGGER audit_log_no_uncovered_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (
    SELECT 1 FROM audit_log c
    WHERE c.action = 'audit.checkpoint'
      AND c.seq > OLD.seq
      AND json_valid(c.detail)
      AND json_extract(c.detail, '$.purged_through') >= OLD.seq
)
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: no checkpoint covers this entry');
END;

-- The secret is kept readable (TOTP needs it); at-rest encryption is a later step.
CREATE TABLE user_mfa (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id),
    secret        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    confirmed_at  TEXT,
    last_step     INTEGER
);

-- Only SHA-256 hashes of recovery codes are kept.
CREATE TABLE recovery_codes (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    hash        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    used_at     TEXT,
    PRIMARY KEY (user_id, hash)
) WITHOUT ROWID;

CREATE TABLE org_allowlists (
    org_id      INTEGER PRIMARY KEY REFERENCES organisations(id),
    entries     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  INTEGER REFERENCES users(id)
);

-- Named organisations (count for TLP:AMBER) and named users (count for TLP:RED).
CREATE TABLE report_shares (
    report_id  INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    org_id     INTEGER NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (report_id, org_id)
) WITHOUT ROWID;
CREATE INDEX report_shares_org ON report_shares (org_id);

CREATE TABLE report_recipients (
    report_id  INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (report_id, user_id)
) WITHOUT ROWID;
CREATE INDEX report_recipients_user ON report_recipients (user_id);
