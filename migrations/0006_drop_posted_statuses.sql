-- `posted_statuses` (0001) was written and read only by tests: no code path posts a status
-- through it, so it held nothing an operator or the bot relies on. Dropped with its API.
DROP TABLE posted_statuses;
