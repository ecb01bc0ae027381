-- The gate teams sopbot asked to review a PR (`[gate.NAME] request_review`): asked once per
-- PR and gate, ever, also across restarts (docs/policies.md).
CREATE TABLE review_requests (
    repo TEXT NOT NULL,
    pr INTEGER NOT NULL,
    gate TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (repo, pr, gate)
);
