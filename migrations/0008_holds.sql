-- Holds (`/sop-hold REASON`, `/sop-unhold`): while a PR has an active hold, its hold status is
-- `failure`. Rows are never deleted; a release fills the release columns once.
CREATE TABLE holds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    repo          TEXT    NOT NULL CHECK (instr(repo, '/') > 1),
    pr            INTEGER NOT NULL CHECK (pr > 0),
    held_by       TEXT    NOT NULL CHECK (length(held_by) > 0),
    reason        TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    comment_id    INTEGER NULL,
    created_at    TEXT    NOT NULL,
    released_at   TEXT    NULL,
    released_by   TEXT    NULL,
    CHECK ((released_at IS NULL) = (released_by IS NULL))
);

-- At most one active hold per PR.
CREATE UNIQUE INDEX holds_one_active ON holds (repo, pr) WHERE released_at IS NULL;

CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds
BEGIN
    SELECT RAISE(ABORT, 'holds are never deleted; release them instead');
END;

CREATE TRIGGER holds_only_release BEFORE UPDATE ON holds
WHEN OLD.released_at IS NOT NULL
  OR NEW.id IS NOT OLD.id
  OR NEW.repo IS NOT OLD.repo
  OR NEW.pr IS NOT OLD.pr
  OR NEW.held_by IS NOT OLD.held_by
  OR NEW.reason IS NOT OLD.reason
  OR NEW.comment_id IS NOT OLD.comment_id
  OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'a hold can only be released, once');
END;
