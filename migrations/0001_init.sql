-- sopbot's store: waivers and their audit trail, the durable inbox, and the small records that
-- make the bot idempotent (comment replies, poll cursors, PR evaluations, posted statuses).
--
-- Times are RFC 3339 TEXT in UTC with a `Z` and microseconds (fixed width, so that TEXT order is
-- time order). Applied migrations are checksummed by sqlx: never edit this file once released;
-- add 0002_… instead.

-- A waiver (N/A declaration) on one gate of one PR. Rows are never deleted; a revocation fills
-- the three revoke columns once.
CREATE TABLE waivers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    repo          TEXT    NOT NULL CHECK (instr(repo, '/') > 1),
    pr            INTEGER NOT NULL CHECK (pr > 0),
    gate          TEXT    NOT NULL CHECK (length(gate) > 0),
    declared_by   TEXT    NOT NULL CHECK (length(declared_by) > 0),
    reason        TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    comment_id    INTEGER NULL,
    head_sha      TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    revoked_at    TEXT    NULL,
    revoked_by    TEXT    NULL,
    revoke_reason TEXT    NULL,
    CHECK (
        (revoked_at IS NULL AND revoked_by IS NULL AND revoke_reason IS NULL)
        OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL
            AND revoke_reason IS NOT NULL AND length(trim(revoke_reason)) > 0)
    )
);

-- At most one active waiver per gate of a PR.
CREATE UNIQUE INDEX waivers_one_active
    ON waivers (repo, pr, gate) WHERE revoked_at IS NULL;
CREATE INDEX waivers_by_pr ON waivers (repo, pr);
CREATE INDEX waivers_by_comment ON waivers (repo, comment_id) WHERE comment_id IS NOT NULL;

CREATE TRIGGER waivers_no_delete BEFORE DELETE ON waivers
BEGIN
    SELECT RAISE(ABORT, 'waivers are never deleted; revoke them instead');
END;

-- Only the revocation columns may change, and only from NULL (a waiver is revoked once).
CREATE TRIGGER waivers_only_revoke BEFORE UPDATE ON waivers
WHEN OLD.revoked_at IS NOT NULL
  OR NEW.id IS NOT OLD.id
  OR NEW.repo IS NOT OLD.repo
  OR NEW.pr IS NOT OLD.pr
  OR NEW.gate IS NOT OLD.gate
  OR NEW.declared_by IS NOT OLD.declared_by
  OR NEW.reason IS NOT OLD.reason
  OR NEW.comment_id IS NOT OLD.comment_id
  OR NEW.head_sha IS NOT OLD.head_sha
  OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'a waiver can only be revoked, once');
END;

-- Append-only log of everything that changed state or was refused.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT    NOT NULL,
    actor     TEXT    NOT NULL CHECK (length(actor) > 0),
    action    TEXT    NOT NULL CHECK (length(action) > 0),
    repo      TEXT    NULL,
    pr        INTEGER NULL,
    gate      TEXT    NULL,
    waiver_id INTEGER NULL REFERENCES waivers (id),
    detail    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_pr ON audit (repo, pr);
CREATE INDEX audit_by_waiver ON audit (waiver_id) WHERE waiver_id IS NOT NULL;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Durable event queue: webhook and poller write, workers drain. `id` is arrival order; events of
-- one (repo, pr) are processed strictly in that order, one at a time (see src/store/inbox.rs).
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key   TEXT    NOT NULL UNIQUE,
    source      TEXT    NOT NULL CHECK (source IN ('webhook', 'poller', 'cli')),
    kind        TEXT    NOT NULL,
    repo        TEXT    NOT NULL,
    pr          INTEGER NULL,
    delivery_id TEXT    NULL,
    payload     TEXT    NOT NULL CHECK (json_valid(payload)),
    received_at TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT    NULL,
    last_error  TEXT    NULL,
    done_at     TEXT    NULL
);
-- "Oldest pending event" and "is anything of this PR running / pending before it".
CREATE INDEX inbox_by_state ON inbox (state, id);
CREATE INDEX inbox_by_pr ON inbox (repo, pr, state, id);

-- One row per comment the bot has handled: a comment is answered once, whichever path saw it.
CREATE TABLE comment_replies (
    repo             TEXT    NOT NULL,
    comment_id       INTEGER NOT NULL,
    reply_comment_id INTEGER NULL,
    body_sha256      TEXT    NOT NULL,
    handled_at       TEXT    NOT NULL,
    PRIMARY KEY (repo, comment_id)
);

-- Where the poller's comment listing resumes, per repository.
CREATE TABLE poll_cursors (
    repo           TEXT NOT NULL PRIMARY KEY,
    comments_since TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- What an open PR looked like when last evaluated, so the poller re-evaluates only on change.
CREATE TABLE pr_evaluations (
    repo                TEXT    NOT NULL,
    pr                  INTEGER NOT NULL,
    head_sha            TEXT    NOT NULL,
    reviews_fingerprint TEXT    NOT NULL,
    evaluated_at        TEXT    NOT NULL,
    PRIMARY KEY (repo, pr)
);

-- The last status the bot posted per commit and context, so an unchanged one is not re-posted.
CREATE TABLE posted_statuses (
    repo        TEXT NOT NULL,
    sha         TEXT NOT NULL,
    context     TEXT NOT NULL,
    state       TEXT NOT NULL,
    description TEXT NOT NULL,
    posted_at   TEXT NOT NULL,
    PRIMARY KEY (repo, sha, context)
);
