//! Catch-up polling. Gitea never retries a failed webhook delivery and sends none when a review
//! is dismissed, so every `interval_secs` the poller, per configured repository:
//! - lists PR comments updated since a stored cursor and puts them in the inbox (the webhook's
//!   copy of the same comment has the same dedup key, so it is handled once);
//! - re-evaluates open PRs whose head commit or reviews changed since their last evaluation,
//!   and every open PR once per `sweep_interval` (team membership changes send no webhook);
//! - ends the waivers of PRs closed or merged, and those whose comment was deleted, while the
//!   bot was not told (a lost webhook);
//! - notices statuses on sopbot's contexts posted by another account (the status guard).
//!
//! Findings are stored before the cursor moves, so a crash re-finds rather than loses them.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

use crate::bot::event::{CommentAction, Event, PrAction};
use crate::bot::pr_fingerprint;
use crate::config::Config;
use crate::gitea::{Comment, GiteaClient};
use crate::store::{Enqueued, EventSource, NewEvent, Store, WaiverFilter};
use crate::types::RepoName;

/// One poller for all configured repositories.
pub struct Poller {
    pub config: Arc<Config>,
    pub client: GiteaClient,
    pub store: Store,
    pub bot_login: String,
    pub notify: Arc<Notify>,
}

/// What one pass found, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub comments: usize,
    pub reevaluations: usize,
}

impl Poller {
    /// Polls every `interval_secs` until `stop` turns true; returns at once when polling is off.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let secs = self.config.poller.interval_secs;
        if secs == 0 {
            info!("poller disabled (interval_secs = 0)");
            return;
        }
        loop {
            self.poll_once().await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// One pass over every repository; a failing repository does not stop the others.
    pub async fn poll_once(&self) -> Found {
        let mut total = Found::default();
        for repo in &self.config.repos {
            match self.poll_repo(&repo.name).await {
                Ok(found) => {
                    total.comments += found.comments;
                    total.reevaluations += found.reevaluations;
                }
                Err(e) => {
                    warn!(repo = %repo.name, error = %format!("{e:#}"), "poll failed; will retry next pass")
                }
            }
        }
        if total.comments + total.reevaluations > 0 {
            self.notify.notify_one();
            info!(
                comments = total.comments,
                reevaluations = total.reevaluations,
                "poller found work"
            );
        }
        total
    }

    async fn poll_repo(&self, repo: &RepoName) -> anyhow::Result<Found> {
        Ok(Found {
            comments: self.poll_comments(repo).await?,
            reevaluations: self.poll_pulls(repo).await?,
        })
    }

    async fn poll_comments(&self, repo: &RepoName) -> anyhow::Result<usize> {
        let now = Utc::now();
        // `since` is inclusive with second granularity, and a comment may be committed in Gitea
        // a little after its timestamp: overlap the cursor by a minute and let the dedup keys
        // drop what was seen.
        let cursor = match self.store.cursor(&repo.full()).await? {
            Some(c) => c.comments_since,
            None => {
                now - chrono::Duration::from_std(self.config.poller.first_start_window)
                    .unwrap_or_default()
            }
        };
        let since = cursor - chrono::Duration::seconds(60);
        let comments = self.client.repo_comments_since(repo, since).await?;
        // The cursor only moves forward.
        let mut newest: DateTime<Utc> = cursor;
        let mut found = 0;
        for c in &comments {
            newest = newest.max(c.updated_at);
            let Some(mut event) = self.comment_event(repo, c) else {
                continue;
            };
            // A comment seen before with another body was edited, even within the second of
            // its creation (which `updated_at` cannot tell): by someone Gitea does not name.
            let key = event.dedup_key();
            if let Event::Comment { action, .. } = &mut event {
                if *action == CommentAction::Created
                    && self
                        .store
                        .comment_seen_otherwise(&repo.full(), c.id, &key)
                        .await?
                {
                    *action = CommentAction::Edited;
                }
            }
            if let Enqueued::New(_) = self.enqueue(&event).await? {
                found += 1;
            }
        }
        self.store.set_cursor(&repo.full(), newest).await?;
        Ok(found)
    }

    /// A PR comment as an inbox event. A comment edited after it was made is an edit (ignored
    /// by default): nobody turns an old comment into a waiver by editing it while the bot is
    /// down.
    fn comment_event(&self, repo: &RepoName, c: &Comment) -> Option<Event> {
        let pr = c.pr_number()?;
        let author = c.author()?;
        if author.eq_ignore_ascii_case(&self.bot_login) {
            return None;
        }
        let edited = c.updated_at > c.created_at + chrono::Duration::seconds(1);
        Some(Event::Comment {
            repo: repo.full(),
            pr,
            comment_id: c.id,
            action: if edited {
                CommentAction::Edited
            } else {
                CommentAction::Created
            },
            author: Some(author.to_string()),
            body: c.body.clone(),
            updated_at: Some(c.updated_at),
            // Gitea does not say who edited a comment: an edit found here has no known editor.
            sender: None,
        })
    }

    async fn poll_pulls(&self, repo: &RepoName) -> anyhow::Result<usize> {
        let contexts: Vec<String> = self
            .config
            .gates()
            .into_iter()
            .map(|g| g.context)
            .chain(std::iter::once(self.config.waiver.context.clone()))
            .collect();
        let mut found = 0;
        let mut open = HashSet::new();
        for pr in self.client.open_pulls(repo).await? {
            open.insert(pr.number);
            let reviews = self.client.reviews(repo, pr.number).await?;
            let waiver_ids: Vec<i64> = self
                .store
                .active_waivers(&repo.full(), pr.number as i64)
                .await?
                .iter()
                .map(|w| w.id)
                .collect();
            let fp = pr_fingerprint(&pr.base.ref_name, &reviews, &waiver_ids);
            let last = self
                .store
                .last_evaluation(&repo.full(), pr.number as i64)
                .await?;
            let changed = !last
                .as_ref()
                .is_some_and(|l| l.head_sha == pr.head.sha && l.reviews_fingerprint == fp);
            // The last evaluation's time makes the key new each time the PR changes again, even
            // back to a state seen before (a dismissal undone).
            let since = last
                .as_ref()
                .map(|l| l.evaluated_at.to_rfc3339())
                .unwrap_or_default();
            let mut why = changed.then(|| format!("head or reviews changed since {since}"));
            if why.is_none() && self.sweep_due(last.as_ref().map(|l| l.evaluated_at)) {
                // Nothing seen changed, but a membership may have (Gitea sends no webhook).
                why = Some(format!("sweep: last evaluated {since}"));
            }
            if !changed {
                // Status guard: a status on our contexts by someone else.
                let latest = self.client.latest_statuses(repo, &pr.head.sha).await?;
                if let Some(s) = latest.iter().find(|s| {
                    contexts.contains(&s.context)
                        && !s
                            .creator
                            .as_ref()
                            .is_some_and(|u| u.login.eq_ignore_ascii_case(&self.bot_login))
                }) {
                    why = Some(format!("status guard {} #{}", s.context, s.id));
                }
            }
            let Some(why) = why else { continue };
            let event = Event::Reevaluate {
                repo: repo.full(),
                pr: pr.number,
                why: format!("{why} at {}", pr.head.sha),
                fingerprint: Some(fp),
            };
            debug!(%repo, pr = pr.number, why = %why, "poller: re-evaluate");
            if let Enqueued::New(_) = self.enqueue(&event).await? {
                found += 1;
            }
        }
        Ok(found + self.poll_waivers(repo, &open).await?)
    }

    /// Whether a PR last evaluated at `at` is due for the periodic re-evaluation.
    fn sweep_due(&self, at: Option<DateTime<Utc>>) -> bool {
        let every = self.config.poller.sweep_interval;
        !every.is_zero()
            && at.is_none_or(|at| {
                Utc::now() - at
                    >= chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX)
            })
    }

    /// Active waivers whose end no webhook announced: their PR is no longer open, or the
    /// comment that declared them is gone. Each becomes the event the webhook would have given
    /// and the engine ends the waivers. A closed PR's event has the webhook's dedup key, so a
    /// late delivery is a duplicate; a deletion's cannot (the body is gone), but the engine's
    /// handling of a second one finds no waiver left and does nothing.
    async fn poll_waivers(&self, repo: &RepoName, open: &HashSet<u64>) -> anyhow::Result<usize> {
        let active = self
            .store
            .list_waivers(&WaiverFilter {
                repo: Some(repo.full()),
                ..WaiverFilter::default()
            })
            .await?;
        let mut found = 0;
        let mut closed = BTreeSet::new();
        for w in &active {
            let Ok(pr) = u64::try_from(w.pr) else {
                continue;
            };
            if !open.contains(&pr) {
                closed.insert(pr);
                continue;
            }
            let Some(comment_id) = w.comment_id else {
                continue;
            };
            // `Ok(None)`: the id is not a conversation comment (a code-review thread reply,
            // `docs/gitea-api.md` §2), so no answer will ever say "deleted": it stands.
            match self.client.comment(repo, comment_id).await {
                Err(e) if e.is_not_found() => {}
                Ok(_) => continue,
                Err(e) => {
                    warn!(%repo, pr, comment_id, error = %e, "cannot check a waiver's comment");
                    continue;
                }
            }
            let event = Event::Comment {
                repo: repo.full(),
                pr,
                comment_id,
                action: CommentAction::Deleted,
                author: Some(w.declared_by.clone()),
                body: String::new(),
                updated_at: None,
                sender: None,
            };
            debug!(%repo, pr, comment_id, "poller: a waiver's comment is gone");
            if let Enqueued::New(_) = self.enqueue(&event).await? {
                found += 1;
            }
        }
        for n in closed {
            // One PR that cannot be read (deleted, say) must not stop the others.
            let pr = match self.client.pull(repo, n).await {
                Ok(pr) => pr,
                Err(e) => {
                    warn!(%repo, pr = n, error = %e, "cannot read a PR with active waivers");
                    continue;
                }
            };
            if pr.is_open() {
                continue;
            }
            let event = Event::PullRequest {
                repo: repo.full(),
                pr: n,
                action: PrAction::Closed,
                merged: pr.merged,
                head_sha: pr.head.sha.clone(),
                updated_at: pr.updated_at,
            };
            debug!(%repo, pr = n, "poller: closed with active waivers");
            if let Enqueued::New(_) = self.enqueue(&event).await? {
                found += 1;
            }
        }
        Ok(found)
    }

    async fn enqueue(&self, event: &Event) -> anyhow::Result<Enqueued> {
        let stored = self
            .store
            .enqueue(&NewEvent {
                dedup_key: event.dedup_key(),
                source: EventSource::Poller,
                kind: event.kind_name().to_string(),
                repo: event.repo().to_string(),
                pr: event.pr().map(|pr| pr as i64),
                delivery_id: None,
                payload: event.to_json(),
            })
            .await?;
        if let Enqueued::New(_) = stored {
            crate::metrics::get().event_received(event.kind_name());
        }
        Ok(stored)
    }
}
