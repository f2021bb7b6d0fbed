-- kizuki schema, version 13. When an API token was first presented, so the audit log records
-- a credential's first use (issued and revoked were recorded already).
ALTER TABLE api_tokens ADD COLUMN first_used_at TEXT;
