-- The poller's fast pass lists PRs updated since a cursor (one call per repository when nothing
-- changed), and the full sweep runs at its own, slower interval: both positions survive a
-- restart. NULL until first set.
ALTER TABLE poll_cursors ADD COLUMN pulls_since TEXT NULL;
ALTER TABLE poll_cursors ADD COLUMN swept_at TEXT NULL;
