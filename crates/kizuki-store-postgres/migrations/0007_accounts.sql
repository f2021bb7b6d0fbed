-- kizuki schema, version 7. Accounts: whether a user still holds a one-time
-- password an administrator handed out (they must choose their own before anything else), and
-- when the password last changed.
-- Kept beside `users` so its columns and row mapping stay as they are; a user without a row
-- here has never been given a one-time password. IF NOT EXISTS keeps the step harmless if it
-- is ever applied out of order with a neighbouring migration.
CREATE TABLE IF NOT EXISTS user_password_state (
    user_id     BIGINT PRIMARY KEY REFERENCES users(id),
    must_change BOOLEAN NOT NULL DEFAULT FALSE,
    changed_at  TIMESTAMPTZ NOT NULL
);
