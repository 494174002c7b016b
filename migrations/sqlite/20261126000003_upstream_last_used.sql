-- When an upstream file was last served, for evicting the least recently
-- used ones when the cache is over CHEESESHOP_UPSTREAM_CACHE_MAX. Unix
-- microseconds, as `stored_at` is from now on.
ALTER TABLE upstream_files ADD COLUMN last_used BIGINT NOT NULL DEFAULT 0;
CREATE INDEX upstream_files_last_used ON upstream_files (last_used);
