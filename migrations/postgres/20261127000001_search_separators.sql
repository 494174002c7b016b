-- Words as SQLite's `unicode61` tokenizer sees them, also where
-- punctuation joins them: PostgreSQL's parser reads `zope.interface`,
-- `foo_bar.run`, `me@example.org`, a URL or `3.9` as one token (host, file,
-- email, url, version), so `interface`, `run` or `example` never matched
-- those, where SQLite's tokenizer splits at every character that is not a
-- letter or a digit. Every ASCII punctuation character becomes a space
-- before PostgreSQL parses a field, so both engines index the same words.
--
-- It also keeps prefix queries cheap: a description that says
-- `import async_parser_7` and `async_parser_7.run()` gave each project its
-- own `async_parser_7.run` lexeme, and `async:*` visited every one of them
-- in the index (31,250 entries at a million projects; now one).
CREATE FUNCTION cheeseshop_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT regexp_replace($1, '[!-/:-@[-`{-~]+', ' ', 'g') $$;

-- A stored generated column's expression cannot be changed in place
-- (before PostgreSQL 17): the column is added again, which computes every
-- document, and indexed in one pass after.
DROP INDEX project_search_document;
ALTER TABLE project_search DROP COLUMN document;
ALTER TABLE project_search ADD COLUMN document tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('cheeseshop_search', cheeseshop_words(name)), 'A')
    || setweight(to_tsvector('cheeseshop_search', cheeseshop_words(summary)), 'B')
    || setweight(to_tsvector('cheeseshop_search', cheeseshop_words(keywords)), 'C')
    || setweight(to_tsvector('cheeseshop_search', cheeseshop_words(description)), 'D')
) STORED;
CREATE INDEX project_search_document ON project_search USING GIN (document);
