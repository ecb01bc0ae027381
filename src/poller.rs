//! Catch-up polling, whose cost follows changes rather than open PRs. Gitea never retries a
//! failed webhook delivery and sends none when a review is dismissed or someone leaves a team.
//! Every `interval_secs`, per configured repository (a few at once), the fast pass:
//! - lists PR comments updated since a cursor and puts them in the inbox (the webhook's copy of
//!   the same comment has the same dedup key, so it is handled once);
//! - lists PRs updated since a cursor (`docs/gitea-api.md` §"What moves a PR's updated_at":
//!   every comment, review, dismissal, review request, push and close or reopen does) and, for
//!   each, reads the PR and its reviews and re-evaluates it when its head or reviews differ from
//!   its last evaluation, or ends its waivers when it was closed;
//! - checks that the comment behind each active waiver still exists (a deletion moves nothing).
//!
//! Idle, that is two calls per repository (plus one per active waiver), whatever the number of
//! open PRs. What Gitea does not reflect in `updated_at` — a team membership change, a status
//! hand-posted on a gate context whose `status` webhook was lost — is covered by the sweep: every
//! `sweep_interval` each open PR is re-evaluated (the evaluation includes the status guard).
//! Every call goes through the client's shared rate limit (`[gitea] max_requests_per_second`).
//!
//! Findings are stored before a cursor moves, so a crash re-finds rather than loses them.

use crate::repos::Served;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

use crate::bot::event::{CommentAction, Event, PrAction};
use crate::bot::pr_fingerprint;
use crate::config::Config;
use crate::gitea::{Comment, GiteaClient, IssueSummary};
use crate::store::{CursorRow, Enqueued, EventSource, NewEvent, Store, WaiverFilter};
use crate::types::{PrNumber, RepoName};

/// How far each listing reaches back before its cursor: `since` has second granularity and a
/// row may be committed a little after its timestamp; the dedup keys drop what was seen.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);

/// How long after a PR's `updated_at` a check of it is taken to have seen every change with
/// that `updated_at` (whole seconds, plus room for commit lag and clocks a little apart).
const SETTLED: chrono::Duration = chrono::Duration::seconds(10);

/// One poller for all configured repositories.
pub struct Poller {
    config: Arc<Config>,
    client: GiteaClient,
    store: Store,
    bot_login: String,
    notify: Arc<Notify>,
    /// The repositories polled: the config's, or with [`Poller::with_served`] also those found
    /// through `[[org]]`.
    served: Arc<Served>,
    /// The `updated_at` of each PR checked when Gitea's clock had already passed that second,
    /// so the listing's overlap with the previous pass does not read the same PRs again (what a
    /// check found is in the inbox). `updated_at` has whole seconds: a PR checked within the
    /// second of its update may change again with the same `updated_at`, so it is not kept.
    checked: Mutex<HashMap<(RepoName, u64), DateTime<Utc>>>,
}

/// What one pass found, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub comments: usize,
    pub reevaluations: usize,
}

impl Poller {
    pub fn new(
        config: Arc<Config>,
        client: GiteaClient,
        store: Store,
        bot_login: String,
        notify: Arc<Notify>,
    ) -> Self {
        Poller {
            served: Arc::new(Served::new(config.clone())),
            config,
            client,
            store,
            bot_login,
            notify,
            checked: Mutex::default(),
        }
    }

    /// Polls the repositories `served` names (shared with the workers, so those discovered
    /// through `[[org]]` are polled too).
    pub fn with_served(mut self, served: Arc<Served>) -> Self {
        self.served = served;
        self
    }

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

    /// One pass over every repository, a few at once; a failing repository does not stop the
    /// others.
    pub async fn poll_once(&self) -> Found {
        let mut total = Found::default();
        let names: Vec<RepoName> = self.served.names();
        let mut passes = stream::iter(names)
            .map(|repo| async move {
                let outcome = self.poll_repo(&repo).await;
                (repo, outcome)
            })
            .buffer_unordered(self.concurrency());
        while let Some((repo, outcome)) = passes.next().await {
            match outcome {
                Ok(found) => {
                    total.comments += found.comments;
                    total.reevaluations += found.reevaluations;
                }
                Err(e) => {
                    warn!(%repo, error = %format!("{e:#}"), "poll failed; will retry next pass")
                }
            }
        }
        // Each repository woke the workers as soon as its findings were stored (`poll_repo`).
        if total.comments + total.reevaluations > 0 {
            info!(
                comments = total.comments,
                reevaluations = total.reevaluations,
                "poller found work"
            );
        }
        total
    }

    fn concurrency(&self) -> usize {
        self.config.poller.concurrency.max(1)
    }

    /// The fast pass, the waiver checks and (when due) the sweep of one repository. Each runs
    /// even when another failed: one PR that cannot be read must not switch off the others'
    /// safety net. The first failure is returned, after all of them.
    async fn poll_repo(&self, repo: &RepoName) -> anyhow::Result<Found> {
        let mut cursor = self.store.cursor(&repo.full()).await?;
        // A repository that gained its `[[org]]` topic while the bot ran resumes no earlier than
        // `first_start_window` before that, however old a cursor from an earlier time it was
        // served is: commands said while it was not served are not replayed.
        if let (Some(c), Some(added)) = (&cursor, self.served.served_since(repo)) {
            let floor = self.start_of(None) + (added - Utc::now());
            if c.comments_since < floor {
                self.store.set_cursor(&repo.full(), floor).await?;
                if c.pulls_since.is_none_or(|p| p < floor) {
                    self.store.set_pulls_cursor(&repo.full(), floor).await?;
                }
                cursor = self.store.cursor(&repo.full()).await?;
            }
        }
        let comments = self.poll_comments(repo, cursor.as_ref()).await;
        let pulls = self.poll_pulls(repo, cursor.as_ref()).await;
        let waivers = self.poll_waiver_comments(repo).await;
        let swept = match cursor.as_ref().and_then(|c| c.swept_at) {
            at if self.sweep_due(at) => self.sweep(repo).await,
            _ => Ok(0),
        };
        let found = Found {
            comments: *comments.as_ref().unwrap_or(&0),
            reevaluations: [&pulls, &waivers, &swept]
                .iter()
                .map(|r| *r.as_ref().unwrap_or(&0))
                .sum(),
        };
        if found.comments + found.reevaluations > 0 {
            self.notify.notify_one();
        }
        comments?;
        pulls?;
        waivers?;
        swept?;
        Ok(found)
    }

    /// Where a listing resumes: the stored cursor, or `first_start_window` ago.
    fn start_of(&self, stored: Option<DateTime<Utc>>) -> DateTime<Utc> {
        stored.unwrap_or_else(|| {
            Utc::now()
                - chrono::Duration::from_std(self.config.poller.first_start_window)
                    .unwrap_or_default()
        })
    }

    async fn poll_comments(
        &self,
        repo: &RepoName,
        cursor: Option<&CursorRow>,
    ) -> anyhow::Result<usize> {
        // `since` is inclusive with second granularity, and a comment may be committed in Gitea
        // a little after its timestamp: overlap the cursor by a minute and let the dedup keys
        // drop what was seen.
        let cursor = self.start_of(cursor.map(|c| c.comments_since));
        let since = cursor - OVERLAP;
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
            pr: pr.into(),
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

    /// The PRs updated since the cursor: each is re-evaluated when its head or reviews differ
    /// from its last evaluation (a dismissal sends no webhook), or its waivers are ended when it
    /// was closed. The PR itself is read (not the listing's copy), so a listing that lags behind
    /// a push cannot cause a re-evaluation loop.
    async fn poll_pulls(
        &self,
        repo: &RepoName,
        cursor: Option<&CursorRow>,
    ) -> anyhow::Result<usize> {
        let cursor = self.start_of(cursor.and_then(|c| c.pulls_since));
        let since = cursor - OVERLAP;
        let (changed, gitea_now) = self.client.pulls_updated_since(repo, since).await?;
        let newest = changed
            .iter()
            .filter_map(|i| i.updated_at)
            .fold(cursor, DateTime::max);
        let fresh: Vec<IssueSummary> = {
            let checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
            changed
                .into_iter()
                .filter(|i| {
                    i.updated_at.is_none()
                        || checked.get(&(repo.clone(), i.number)) != i.updated_at.as_ref()
                })
                .collect()
        };
        let outcomes: Vec<(Option<DateTime<Utc>>, anyhow::Result<usize>)> = stream::iter(fresh)
            .map(|summary| async move {
                let at = summary.updated_at;
                (at, self.check_pull(repo, summary, gitea_now).await)
            })
            .buffer_unordered(self.concurrency())
            .collect()
            .await;
        // A PR that could not be checked holds the cursor at its update, so the next pass lists
        // it again; the others' findings are kept.
        let mut found = 0;
        let mut newest = newest;
        let mut first_error = None;
        for (at, outcome) in outcomes {
            match outcome {
                Ok(n) => found += n,
                Err(e) => {
                    warn!(%repo, error = %format!("{e:#}"), "cannot check an updated PR; will retry next pass");
                    newest = newest.min(at.unwrap_or(cursor));
                    first_error.get_or_insert(e);
                }
            }
        }
        self.store.set_pulls_cursor(&repo.full(), newest).await?;
        // What the next listing cannot return again need not be remembered.
        let next_since = newest - OVERLAP;
        self.checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(r, _), at| r != repo || *at >= next_since);
        match first_error {
            Some(e) if found == 0 => Err(e),
            _ => Ok(found),
        }
    }

    /// Checks one updated PR; once its finding is stored, remembers its `updated_at` if no
    /// later change can carry the same one: both Gitea's clock at the listing (its `Date`, which
    /// a proxy may rewrite) and the bot's are [`SETTLED`] past it.
    async fn check_pull(
        &self,
        repo: &RepoName,
        summary: IssueSummary,
        gitea_now: Option<DateTime<Utc>>,
    ) -> anyhow::Result<usize> {
        let found = self.check_pull_state(repo, &summary).await?;
        let settled = summary.updated_at.filter(|at| {
            gitea_now.is_some_and(|now| now >= *at + SETTLED) && Utc::now() >= *at + SETTLED
        });
        if let Some(at) = settled {
            self.checked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((repo.clone(), summary.number), at);
        }
        Ok(found)
    }

    async fn check_pull_state(
        &self,
        repo: &RepoName,
        summary: &IssueSummary,
    ) -> anyhow::Result<usize> {
        let n = summary.number;
        if summary.state != "open" {
            return self.closed_pull(repo, n).await;
        }
        let pr = self.client.pull(repo, n).await?;
        if !pr.is_open() {
            return self.closed_pull(repo, n).await;
        }
        let reviews = self.client.reviews(repo, n).await?;
        let waiver_ids: Vec<i64> = self
            .store
            .active_waivers(&repo.full(), n.into())
            .await?
            .iter()
            .map(|w| w.id)
            .collect();
        let fp = pr_fingerprint(&pr.base.ref_name, &reviews, &waiver_ids);
        let last = self.store.last_evaluation(&repo.full(), n.into()).await?;
        if last
            .as_ref()
            .is_some_and(|l| l.head_sha == pr.head.sha && l.reviews_fingerprint == fp)
        {
            return Ok(0);
        }
        // The last evaluation's time makes the key new each time the PR changes again, even
        // back to a state seen before (a dismissal undone).
        let since = last
            .as_ref()
            .map(|l| l.evaluated_at.to_rfc3339())
            .unwrap_or_default();
        let event = Event::Reevaluate {
            repo: repo.full(),
            pr: n.into(),
            why: format!("head or reviews changed since {since} at {}", pr.head.sha),
            fingerprint: Some(fp),
        };
        debug!(%repo, pr = n, "poller: head or reviews changed");
        self.enqueue_new(&event).await
    }

    /// A PR no longer open: the event its lost `closed` webhook would have given, when it still
    /// has active waivers (the engine ends them). The key is the webhook's, so a late delivery
    /// is a duplicate.
    async fn closed_pull(&self, repo: &RepoName, n: u64) -> anyhow::Result<usize> {
        if self
            .store
            .active_waivers(&repo.full(), n.into())
            .await?
            .is_empty()
        {
            return Ok(0);
        }
        let pr = self.client.pull(repo, n).await?;
        if pr.is_open() {
            return Ok(0);
        }
        let event = Event::PullRequest {
            repo: repo.full(),
            pr: n.into(),
            action: PrAction::Closed,
            merged: pr.merged,
            head_sha: pr.head.sha.as_str().into(),
            updated_at: pr.updated_at,
        };
        debug!(%repo, pr = n, "poller: closed with active waivers");
        self.enqueue_new(&event).await
    }

    /// Whether a sweep last finished at `at` is due again.
    fn sweep_due(&self, at: Option<DateTime<Utc>>) -> bool {
        let every = self.config.poller.sweep_interval;
        !every.is_zero()
            && at.is_none_or(|at| {
                Utc::now() - at
                    >= chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX)
            })
    }

    /// The safety net for what Gitea does not reflect in a PR's `updated_at`: every open PR is
    /// re-evaluated (a team member who left, a hand-posted status whose webhook was lost), and
    /// PRs closed with active waivers the fast pass did not see (closed before a first start)
    /// end them. The workers run the evaluations, within the shared rate limit.
    ///
    /// A PR with an event still waiting is not queued again: the sweep's work stays bounded by
    /// the open PRs, and never piles up behind a slow bot.
    async fn sweep(&self, repo: &RepoName) -> anyhow::Result<usize> {
        let started = Utc::now();
        let open = self.client.open_pulls(repo).await?;
        // The census of heads that lets an evaluation find the PRs sharing its commit without
        // listing every open PR (`Ctx::sharing_head`); `swept_at` says it exists, so it is
        // stored right after (and before the evaluations below start).
        for pr in &open {
            self.store
                .census_head(&repo.full(), pr.number.into(), &pr.head.sha.as_str().into())
                .await?;
        }
        self.store.set_swept_at(&repo.full(), started).await?;
        let mut found = 0;
        for pr in &open {
            let last = self
                .store
                .last_evaluation(&repo.full(), pr.number.into())
                .await?;
            if self
                .store
                .has_unfinished_event(&repo.full(), pr.number.into())
                .await?
            {
                continue;
            }
            let since = last
                .as_ref()
                .map(|l| l.evaluated_at.to_rfc3339())
                .unwrap_or_default();
            let event = Event::Reevaluate {
                repo: repo.full(),
                pr: pr.number.into(),
                why: format!(
                    "sweep: last evaluated {since}, swept at {}",
                    started.to_rfc3339()
                ),
                fingerprint: None,
            };
            found += self.enqueue_new(&event).await?;
        }
        let open: HashSet<u64> = open.iter().map(|pr| pr.number).collect();
        let closed: BTreeSet<u64> = self
            .active_waivers(repo)
            .await?
            .iter()
            .filter_map(|w| u64::try_from(w.pr).ok())
            .filter(|pr| !open.contains(pr))
            .collect();
        for n in closed {
            // One PR that cannot be read (deleted, say) must not stop the others.
            match self.closed_pull(repo, n).await {
                Ok(k) => found += k,
                Err(e) => {
                    warn!(%repo, pr = n, error = %format!("{e:#}"), "cannot read a PR with active waivers")
                }
            }
        }
        debug!(%repo, open = open.len(), queued = found, "poller: swept");
        Ok(found)
    }

    async fn active_waivers(
        &self,
        repo: &RepoName,
    ) -> anyhow::Result<Vec<crate::store::WaiverRow>> {
        Ok(self
            .store
            .list_waivers(&WaiverFilter {
                repo: Some(repo.full()),
                ..WaiverFilter::default()
            })
            .await?)
    }

    /// Active waivers whose comment is gone (deleting a comment moves no `updated_at` and its
    /// webhook may be lost): each becomes the deletion event the webhook would have given. Its
    /// key cannot be the webhook's (the body is gone), but the engine's handling of a second one
    /// finds no waiver left and does nothing.
    async fn poll_waiver_comments(&self, repo: &RepoName) -> anyhow::Result<usize> {
        let mut found = 0;
        for w in self.active_waivers(repo).await? {
            let (Ok(pr), Some(comment_id)) = (u64::try_from(w.pr), w.comment_id) else {
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
                pr: pr.into(),
                comment_id,
                action: CommentAction::Deleted,
                author: Some(w.declared_by.clone()),
                body: String::new(),
                updated_at: None,
                sender: None,
            };
            debug!(%repo, pr, comment_id, "poller: a waiver's comment is gone");
            found += self.enqueue_new(&event).await?;
        }
        Ok(found)
    }

    /// Enqueues `event`; 1 when it is new work, 0 for a duplicate.
    async fn enqueue_new(&self, event: &Event) -> anyhow::Result<usize> {
        Ok(usize::from(matches!(
            self.enqueue(event).await?,
            Enqueued::New(_)
        )))
    }

    async fn enqueue(&self, event: &Event) -> anyhow::Result<Enqueued> {
        let stored = self
            .store
            .enqueue(&NewEvent {
                dedup_key: event.dedup_key(),
                source: EventSource::Poller,
                kind: event.kind_name().to_string(),
                repo: event.repo().to_string(),
                pr: event.pr().map(PrNumber::to_sql),
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
