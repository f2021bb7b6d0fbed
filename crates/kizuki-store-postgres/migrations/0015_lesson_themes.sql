-- kizuki schema, version 15. Lesson themes (the controlled list that groups lessons across
-- cases and years) and the tags that link a lesson to its themes. A theme's names,
-- descriptions and keywords are kept as JSON so it can gain fields without a migration; the
-- version guards against two editors saving over each other. A lesson is named by its key
-- (`case:<id>:<n>` or `common:<year>:<n>`), so common lessons, which live inside their
-- survey, can be tagged like a case's.
CREATE TABLE IF NOT EXISTS lesson_themes (
    key         TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    body        TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  BIGINT REFERENCES users(id)
);

CREATE TABLE IF NOT EXISTS lesson_tags (
    lesson      TEXT NOT NULL,
    theme       TEXT NOT NULL REFERENCES lesson_themes(key),
    at          TIMESTAMPTZ NOT NULL,
    by_user     BIGINT REFERENCES users(id),
    PRIMARY KEY (lesson, theme)
);
CREATE INDEX IF NOT EXISTS lesson_tags_theme ON lesson_tags (theme, lesson);
