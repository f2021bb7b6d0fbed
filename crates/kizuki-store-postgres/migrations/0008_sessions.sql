-- kizuki schema, version 8. Browser sessions in the database, so every node behind a load
-- balancer sees every session and a restart signs nobody out.
-- `key` is the hex SHA-256 of the session id (the cookie's value), never the id itself: a
-- leaked database must not give live cookies. No foreign keys to `users`: a session of a user
-- that is gone is harmless (it reads as signed out) and must not block removing the user.
CREATE TABLE IF NOT EXISTS sessions (
    key           TEXT PRIMARY KEY,
    user_id       BIGINT,
    csrf          TEXT NOT NULL,
    lang          TEXT NOT NULL CHECK (lang IN ('ja', 'en')),
    created_at    TIMESTAMPTZ NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL,
    flash         TEXT,
    -- A login halfway through (password right, second factor to come): all three or none.
    pending_user  BIGINT,
    pending_next  TEXT,
    pending_enrol BOOLEAN,
    CHECK ((pending_user IS NULL) = (pending_next IS NULL)
       AND (pending_user IS NULL) = (pending_enrol IS NULL))
);
-- Ending a user's sessions (password change), and purging idle or too old ones.
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_pending_user ON sessions (pending_user);
CREATE INDEX IF NOT EXISTS sessions_seen ON sessions (seen_at);
CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_at);
-- Secrets shared by every node of the instance, made once by whichever node needs one first
-- (e.g. the key from which anonymous visitors' CSRF tokens are derived, so nothing is stored
-- for them). `value` is random bytes drawn by the application.
CREATE TABLE IF NOT EXISTS instance_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
