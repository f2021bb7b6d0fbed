-- kizuki schema, version 11. Administration of organisations: whether an organisation is
-- enabled, its points of contact, and the forwarding of CLEAR/GREEN reports by a ministry (or
-- the centre) to organisations of its sectors.
ALTER TABLE organisations ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

-- One versioned list per organisation, kept as JSON so a contact can gain fields without a
-- migration; the version guards against two admins saving over each other.
CREATE TABLE IF NOT EXISTS org_contacts (
    org_id      INTEGER PRIMARY KEY REFERENCES organisations(id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  INTEGER REFERENCES users(id)
);

CREATE TABLE IF NOT EXISTS report_forwards (
    id          INTEGER PRIMARY KEY,
    report_id   INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    from_org    INTEGER NOT NULL REFERENCES organisations(id),
    to_org      INTEGER NOT NULL REFERENCES organisations(id),
    by_user     INTEGER NOT NULL REFERENCES users(id),
    note        TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS report_forwards_report ON report_forwards (report_id, id);
CREATE INDEX IF NOT EXISTS report_forwards_to ON report_forwards (to_org, id);
