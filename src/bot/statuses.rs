//! Posting the gate statuses and the N/A status of a PR evaluation, skipping the ones already
//! on the commit with the same state and description, and noticing statuses on our contexts
//! that another account posted (the status guard).
//!
//! Gitea keeps statuses per commit, not per PR: when several open PRs share a head commit, the
//! statuses there answer for all of them, so each is the strictest verdict over those PRs.

use crate::config::Config;
use crate::details::Links;
use crate::gate::{clip, GateState, Verdict, MAX_DESCRIPTION};
use crate::gitea::{GiteaClient, NewStatus, StatusState};
use crate::types::RepoName;

use super::PrEvaluation;

/// A status context overturned: its latest status was posted by another account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overturned {
    pub context: String,
    /// The account that posted it.
    pub by: String,
    /// The state it set.
    pub state: String,
    /// The state sopbot posted on top.
    pub ours: String,
}

/// What posting did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Posted {
    /// Contexts posted now.
    pub posted: Vec<String>,
    /// Contexts already showing the same verdict, by us.
    pub unchanged: Vec<String>,
    /// Contexts whose latest status another account posted: our verdict now stands on top.
    pub overturned: Vec<Overturned>,
}

/// The statuses the evaluations of the open PRs on one head commit stand for: one per gate,
/// the strictest over the PRs it applies to, and the N/A status.
///
/// A gate that does not apply to a PR (base branch not protected, no diff, PR closed) leaves
/// that PR out: a "not applicable" success on the commit would open the gate of every other PR
/// with that head. A gate that applies to none posts nothing. A gate whose `paths` the PR does
/// not touch does post its success, ranked with the others ([`crate::gate::Skip::posts_status`]).
///
/// With `links`, each status links to the details page of the PR it speaks for: the
/// lowest-numbered PR in the gate's posted state (the N/A status: the first PR gated).
pub fn desired(config: &Config, links: Option<&Links>, evals: &[&PrEvaluation]) -> Vec<NewStatus> {
    let open: Vec<&PrEvaluation> = evals.iter().copied().filter(|e| e.open).collect();
    let mut out = Vec::new();
    // The PRs some gate applies to, in order, and per gate those it applies to.
    let mut gated: Vec<u64> = Vec::new();
    let mut applies: Vec<(String, Vec<u64>)> = Vec::new();
    for gate in config.gates() {
        let verdicts: Vec<(u64, &Verdict)> = open
            .iter()
            .filter_map(|e| {
                let v = e.gates.iter().find(|v| v.gate == gate.name)?;
                let posted = v.skipped.as_ref().is_none_or(|s| s.posts_status());
                posted.then_some((e.pr, v))
            })
            .collect();
        if verdicts.is_empty() {
            continue;
        }
        let (state, description) = strictest(&verdicts);
        let target_url = links.and_then(|l| {
            // The lowest number: the link stays put while the PRs' events come in any order.
            let pr = verdicts
                .iter()
                .filter(|(_, v)| v.state == state)
                .map(|(pr, _)| *pr)
                .min()?;
            Some(l.gate_url(&open.first()?.repo, pr, &gate.name))
        });
        for (pr, _) in &verdicts {
            if !gated.contains(pr) {
                gated.push(*pr);
            }
        }
        applies.push((
            gate.name.clone(),
            verdicts.iter().map(|(pr, _)| *pr).collect(),
        ));
        out.push(NewStatus {
            state: match state {
                GateState::Success => StatusState::Success,
                GateState::Failure => StatusState::Failure,
                GateState::Error => StatusState::Error,
            },
            context: gate.context.clone(),
            description,
            target_url,
        });
    }
    if out.is_empty() {
        return out;
    }
    let gated: Vec<&PrEvaluation> = open.into_iter().filter(|e| gated.contains(&e.pr)).collect();
    let target_url = links
        .zip(gated.iter().min_by_key(|e| e.pr))
        .map(|(l, e)| format!("{}#waivers", l.url(&e.repo, e.pr)));
    out.push(NewStatus {
        state: StatusState::Success,
        context: config.waiver.context.clone(),
        description: na_description(&gated, &applies),
        target_url,
    });
    out.extend(super::holds::hold_status(config, &gated));
    out
}

/// Ranks states by how much they block: any PR failing or unverified holds the commit.
fn rank(state: GateState) -> u8 {
    match state {
        GateState::Success => 0,
        GateState::Failure => 1,
        GateState::Error => 2,
    }
}

/// One gate's state over several PRs, and a description naming the PRs in that state (those
/// that still wait, unless every one passes). One PR: its own description, unchanged.
fn strictest(verdicts: &[(u64, &Verdict)]) -> (GateState, String) {
    let state = verdicts
        .iter()
        .map(|(_, v)| v.state)
        .max_by_key(|s| rank(*s))
        .unwrap_or(GateState::Error);
    if let [(_, v)] = verdicts {
        return (state, v.description.clone());
    }
    // PRs with the same description are named together: "#7, #9: awaiting …".
    let mut groups: Vec<(Vec<String>, &str)> = Vec::new();
    for (pr, v) in verdicts.iter().filter(|(_, v)| v.state == state) {
        match groups.iter_mut().find(|(_, d)| *d == v.description) {
            Some((prs, _)) => prs.push(format!("#{pr}")),
            None => groups.push((vec![format!("#{pr}")], &v.description)),
        }
    }
    let text = groups
        .iter()
        .map(|(prs, d)| format!("{}: {d}", prs.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    (state, clip(&text, MAX_DESCRIPTION))
}

/// The N/A status: the gates waived. With several PRs on the commit, a gate waived on only
/// some of those it applies to names them, so a waiver on one PR never reads as covering all.
fn na_description(gated: &[&PrEvaluation], applies: &[(String, Vec<u64>)]) -> String {
    let mut waived: Vec<&String> = gated.iter().flat_map(|e| &e.waived).collect();
    waived.sort();
    waived.dedup();
    if waived.is_empty() {
        return "no gates waived".into();
    }
    let parts: Vec<String> = waived
        .into_iter()
        .map(|gate| {
            // The PRs the gate applies to (all gated ones when it was not evaluated now).
            let scope: Vec<u64> = applies
                .iter()
                .find(|(g, _)| g == gate)
                .map(|(_, prs)| prs.clone())
                .unwrap_or_else(|| gated.iter().map(|e| e.pr).collect());
            let on: Vec<String> = gated
                .iter()
                .filter(|e| scope.contains(&e.pr) && e.waived.contains(gate))
                .map(|e| format!("#{}", e.pr))
                .collect();
            if gated.len() == 1 || on.len() == scope.len() {
                gate.clone()
            } else {
                format!("{gate} ({} only)", on.join(", "))
            }
        })
        .collect();
    clip(&format!("N/A: {}", parts.join(", ")), MAX_DESCRIPTION)
}

/// Posts what changed on the commit `evals` share. One call reads the latest status per
/// context; one call per change.
pub async fn post(
    client: &GiteaClient,
    config: &Config,
    links: Option<&Links>,
    repo: &RepoName,
    evals: &[&PrEvaluation],
    bot_login: &str,
) -> Result<Posted, crate::gitea::GiteaError> {
    let mut result = Posted::default();
    let want = desired(config, links, evals);
    let Some(head) = evals.first().map(|e| e.head_sha.as_str()) else {
        return Ok(result);
    };
    if want.is_empty() {
        return Ok(result);
    }
    debug_assert!(evals.iter().all(|e| e.head_sha == head));
    let latest = client.latest_statuses(repo, head).await?;
    let mut posts = Vec::new();
    for want in want {
        let current = latest.iter().find(|s| s.context == want.context);
        let creator = current
            .and_then(|s| s.creator.as_ref())
            .map(|u| u.login.as_str());
        let ours = creator.is_some_and(|c| c.eq_ignore_ascii_case(bot_login));
        match current {
            // The link counts too: a new `external_url` (or link key) is posted once.
            Some(s)
                if ours
                    && s.state == want.state.as_str()
                    && s.description == want.description
                    && s.target_url == want.target_url.as_deref().unwrap_or_default() =>
            {
                result.unchanged.push(want.context.clone());
                continue;
            }
            Some(s) if !ours => result.overturned.push(Overturned {
                context: want.context.clone(),
                by: creator.unwrap_or("unknown").to_string(),
                state: s.state.clone(),
                ours: want.state.as_str().to_string(),
            }),
            _ => {}
        }
        result.posted.push(want.context.clone());
        posts.push(want);
    }
    // Each context is its own status: posted at once rather than one after another. Every post
    // settles before the first error is returned, so none is still in flight once the caller
    // releases the head's lock.
    let settled =
        futures_util::future::join_all(posts.iter().map(|w| client.post_status(repo, head, w)))
            .await;
    settled.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(result)
}
