-- What the bot decided for a handled comment (the answer to publish, as JSON), written in the
-- same transaction as the waivers and audit rows it caused. A retry after a crash re-publishes
-- this answer instead of running the commands a second time.
ALTER TABLE comment_replies ADD COLUMN outcome TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(outcome));
