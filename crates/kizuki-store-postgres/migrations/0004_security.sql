-- kizuki PostgreSQL schema, version 4: the hash-chained audit log, TOTP
-- enrolment, recovery codes, per-organisation IP allowlists and report sharing lists.

-- Append-only: the trigger refuses edits, refuses deletes no checkpoint covers, and refuses
-- inserts that do not extend the chain, so tampering needs DDL, which verify catches.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
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

CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit log is append-only: entries cannot be changed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (
            SELECT 1 FROM audit_log c
            WHERE c.action = 'audit.checkpoint'
              AND c.seq > OLD.seq
              AND (c.detail::jsonb ->> 'purged_through')::bigint >= OLD.seq
        ) THEN
            RAISE EXCEPTION 'audit log is append-only: no checkpoint covers entry %', OLD.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.seq <> coalesce((SELECT max(seq) FROM audit_log), 0) + 1
       OR NEW.prev_hash <> coalesce(
            (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
            '0000000000000000000000000000000000000000000000000000000000000000') THEN
        -- Reported like a duplicate key: someone else appended first; seal again.
        RAISE EXCEPTION 'audit chain: entry % does not extend the chain', NEW.seq
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
-- TRUNCATE bypasses row triggers, so it gets a statement trigger of its own.
CREATE FUNCTION audit_log_guard_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: it cannot be truncated'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard_truncate();

-- The secret is kept readable (TOTP needs it); at-rest encryption is a later step.
CREATE TABLE user_mfa (
    user_id       BIGINT PRIMARY KEY REFERENCES users(id),
    secret        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    confirmed_at  TIMESTAMPTZ,
    last_step     BIGINT
);

-- Only SHA-256 hashes of recovery codes are kept.
CREATE TABLE recovery_codes (
    user_id     BIGINT NOT NULL REFERENCES users(id),
    hash        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE org_allowlists (
    org_id      BIGINT PRIMARY KEY REFERENCES organisations(id),
    entries     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  BIGINT REFERENCES users(id)
);

-- Named organisations (count for TLP:AMBER) and named users (count for TLP:RED).
CREATE TABLE report_shares (
    report_id  BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    org_id     BIGINT NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (report_id, org_id)
);
CREATE INDEX report_shares_org ON report_shares (org_id);

CREATE TABLE report_recipients (
    report_id  BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    PRIMARY KEY (report_id, user_id)
);
CREATE INDEX report_recipients_user ON report_recipients (user_id);
