-- What the last evaluation of each PR found, for its details page (the link on every status):
-- the report as JSON in the shape of `sopbot check --json`, with what the page adds (the PR's
-- title, the diagnosis of each gate in `error`). One row per PR, replaced by each evaluation;
-- the page reads only this, the waivers and the audit log, never Gitea.
CREATE TABLE pr_details (
    repo         TEXT    NOT NULL,
    pr           INTEGER NOT NULL CHECK (pr > 0),
    head_sha     TEXT    NOT NULL,
    evaluated_at TEXT    NOT NULL,
    record       TEXT    NOT NULL CHECK (json_valid(record)),
    PRIMARY KEY (repo, pr)
);
