-- The description renderer changed: code blocks take keyboard focus and
-- reStructuredText badges get their alt text (WCAG 2 A/AA, audited by the
-- browser tests). Descriptions rendered before are forgotten, and each is
-- rendered again, within its budget, the first time its page is read
-- (`api::catalog`), as rows from before rendering on write always were.
UPDATE release_metadata SET description_html = NULL WHERE description_html IS NOT NULL;
