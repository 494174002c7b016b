-- Words as SQLite's `unicode61` tokenizer sees them, without the whole
-- hyphenated word besides: `secure-async-23` is `secure`, `async` and `23`,
-- not also `secure-async-23` (PostgreSQL's parser emits both). A query's
-- terms are letters and digits only, so no query ever matched a hyphenated
-- lexeme as a whole; but a prefix term (`async:*`) had to visit every one
-- that starts so, one per hyphenated project name, and a million projects
-- have tens of thousands of those: the index is smaller without them, and a
-- prefix search visits the few words that start so.
ALTER TEXT SEARCH CONFIGURATION cheeseshop_search DROP MAPPING IF EXISTS FOR asciihword, hword, numhword;

-- Existing documents were computed with the old mapping: recompute them
-- (an UPDATE recomputes a stored generated column), without the index,
-- then index them again in one pass.
DROP INDEX project_search_document;
UPDATE project_search SET name = name;
CREATE INDEX project_search_document ON project_search USING GIN (document);
