-- The PR a handled comment belongs to, so a comment that reaches the bot late (its webhook was
-- lost and the poller found it after later comments were handled) can be recognised. NULL for
-- rows from before this migration: they never make a comment late.
ALTER TABLE comment_replies ADD COLUMN pr INTEGER NULL;
CREATE INDEX comment_replies_by_pr ON comment_replies (repo, pr, comment_id);
