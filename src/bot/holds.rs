//! Holds on the evaluation side: what a PR's hold record says, and the hold status it stands
//! for (`[hold] context`): `failure` while a gate-team member's `/sop-hold` stands, `success`
//! once released. A PR never held gets no hold status unless `[hold] post_always = true`, so
//! that a repository that does not use holds sees no new status (docs/waivers.md, Holds).

use serde::Serialize;

use crate::config::Config;
use crate::gate::{clip, MAX_DESCRIPTION};
use crate::gitea::{NewStatus, StatusState};
use crate::types::RepoName;

use super::{Ctx, PrEvaluation};

/// A PR's hold, as its status needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hold", rename_all = "kebab-case")]
pub enum HoldState {
    /// Held: `/sop-hold` by `by`, for `reason`.
    Held { by: String, reason: String },
    /// Held once, released since.
    Released,
}

impl Ctx {
    /// The PR's hold, from the store (no Gitea call): `None` when it was never held.
    pub(super) async fn hold_state(
        &self,
        repo: &RepoName,
        pr: u64,
    ) -> anyhow::Result<Option<HoldState>> {
        let hold = self.store.latest_hold(&repo.full(), pr as i64).await?;
        Ok(hold.map(|h| match h.released_at {
            None => HoldState::Held {
                by: h.held_by,
                reason: h.reason,
            },
            Some(_) => HoldState::Released,
        }))
    }
}

/// The hold status of the commit the gated open PRs `gated` share: `failure` when one of them
/// is held (naming the PR when several share the commit), `success` when none is but one was
/// (or `post_always`); `None` otherwise.
pub(super) fn hold_status(config: &Config, gated: &[&PrEvaluation]) -> Option<NewStatus> {
    let held: Vec<(u64, &str, &str)> = gated
        .iter()
        .filter_map(|e| match &e.hold {
            Some(HoldState::Held { by, reason }) => Some((e.pr, by.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    let (state, description) = match held.as_slice() {
        [] if config.hold.post_always || gated.iter().any(|e| e.hold.is_some()) => {
            (StatusState::Success, "not held".to_string())
        }
        [] => return None,
        [(pr, by, reason)] => {
            let on = if gated.len() > 1 {
                format!("#{pr} ")
            } else {
                String::new()
            };
            (
                StatusState::Failure,
                format!(
                    "{on}held by @{by}: {}; /sop-unhold to release",
                    crate::text::one_line(reason)
                ),
            )
        }
        many => {
            let prs: Vec<String> = many.iter().map(|(pr, ..)| format!("#{pr}")).collect();
            (
                StatusState::Failure,
                format!("held: {}; /sop-unhold to release", prs.join(", ")),
            )
        }
    };
    Some(NewStatus {
        state,
        context: config.hold.context.clone(),
        description: clip(&description, MAX_DESCRIPTION),
        target_url: None,
    })
}
