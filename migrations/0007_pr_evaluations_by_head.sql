-- Every evaluation looks up the PRs recorded on its head commit (the PRs that share it).
CREATE INDEX pr_evaluations_by_head ON pr_evaluations (repo, head_sha);
