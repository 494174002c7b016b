-- Full-text search (SQLite FTS5; PostgreSQL would use a tsvector column).
-- One row per project (rowid = projects.id), rewritten on every write to
-- the project (db::write::refresh_project), never rebuilt per query.
CREATE VIRTUAL TABLE project_search USING fts5 (
    name,
    summary,
    keywords,
    description,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- The classifiers of each project's describing release, for filters and facets.
CREATE TABLE project_classifiers (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    classifier TEXT   NOT NULL,
    PRIMARY KEY (project_id, classifier)
);
CREATE INDEX project_classifiers_classifier ON project_classifiers (classifier);
CREATE INDEX projects_normalized_name ON projects (normalized_name);

-- Backfill what exists already.
INSERT INTO project_search (rowid, name, summary, keywords, description)
SELECT p.id,
       p.name || ' ' || replace(replace(replace(p.normalized_name, '-', ' '), '_', ' '), '.', ' '),
       COALESCE(m.summary, ''), COALESCE(m.keywords, ''), substr(COALESCE(m.description, ''), 1, 20000)
FROM projects p LEFT JOIN release_metadata m ON m.release_id = p.metadata_release_id;

INSERT OR IGNORE INTO project_classifiers (project_id, classifier)
SELECT p.id, j.value
FROM projects p JOIN release_metadata m ON m.release_id = p.metadata_release_id, json_each(m.classifiers) j;
