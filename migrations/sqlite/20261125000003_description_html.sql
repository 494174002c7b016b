-- Descriptions are rendered to sanitized HTML when a release is written;
-- NULL means "not rendered yet" (rows from before this column), rendered
-- on first view and stored then.
ALTER TABLE release_metadata ADD COLUMN description_html TEXT;

-- Release feeds and "newest projects" order by these.
CREATE INDEX releases_created ON releases (created DESC);
CREATE INDEX projects_created ON projects (created DESC);
