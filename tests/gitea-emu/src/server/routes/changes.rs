//! A PR's changed files and commits, and review requests: `/repos/{o}/{r}/pulls/{n}/files`,
//! `…/commits` and `…/requested_reviewers`, as `routers/api/v1/repo/pull.go` and
//! `pull_review.go` @ v1.25.4 answer them: both listings always paged (`limit` 30 by default,
//! at most 50), with `X-Total-Count` and `Link`.

use crate::server::*;
use crate::world::{ChangedFile, PrCommit};

#[derive(Serialize)]
struct ChangedFileJson {
    filename: String,
    previous_filename: String,
    status: String,
    additions: i64,
    deletions: i64,
    changes: i64,
    html_url: String,
    contents_url: String,
    raw_url: String,
}

#[derive(Serialize)]
struct CommitUserJson {
    name: String,
    email: String,
    date: String,
}

#[derive(Serialize)]
struct CommitMetaJson {
    url: String,
    sha: String,
    created: String,
}

#[derive(Serialize)]
struct RepoCommitJson {
    url: String,
    author: CommitUserJson,
    committer: CommitUserJson,
    message: String,
    tree: CommitMetaJson,
    verification: Option<()>,
}

#[derive(Serialize)]
struct CommitStatsJson {
    total: i64,
    additions: i64,
    deletions: i64,
}

#[derive(Serialize)]
struct CommitJson {
    url: String,
    sha: String,
    created: String,
    html_url: String,
    commit: RepoCommitJson,
    /// The accounts whose email is the git identity's (`convert.ToCommit`), or null.
    author: Option<json::UserJson>,
    committer: Option<json::UserJson>,
    parents: Vec<CommitMetaJson>,
    /// Null with `files=false`, as the bot asks.
    files: Option<Vec<()>>,
    stats: CommitStatsJson,
}

fn file_json(w: &World, repo: &Repo, head: &str, f: &ChangedFile) -> ChangedFileJson {
    let html = json::repo_html_url(w, repo);
    ChangedFileJson {
        filename: f.filename.clone(),
        previous_filename: f.previous_filename.clone(),
        status: f.status.clone(),
        additions: 3,
        deletions: 1,
        changes: 4,
        html_url: format!("{html}/src/commit/{head}/{}", f.filename),
        contents_url: format!(
            "{}/contents/{}?ref={head}",
            json::repo_api_url(w, repo),
            f.filename
        ),
        raw_url: format!("{html}/raw/commit/{head}/{}", f.filename),
    }
}

fn commit_json(w: &World, repo: &Repo, c: &PrCommit, parent: &str, doer: &str) -> CommitJson {
    let api = json::repo_api_url(w, repo);
    let date = json::ts(&c.created);
    let who = |i: &crate::world::GitIdent| CommitUserJson {
        name: i.name.clone(),
        email: i.email.clone(),
        date: date.clone(),
    };
    let account = |i: &crate::world::GitIdent| {
        w.user_by_email(&i.email)
            .and_then(|u| json::user(w, &u.login.clone(), Some(doer)))
    };
    CommitJson {
        url: format!("{api}/git/commits/{}", c.sha),
        sha: c.sha.clone(),
        created: date.clone(),
        html_url: format!("{}/commit/{}", json::repo_html_url(w, repo), c.sha),
        commit: RepoCommitJson {
            url: format!("{api}/git/commits/{}", c.sha),
            author: who(&c.author),
            committer: who(&c.committer),
            message: format!("{}\n", c.message),
            tree: CommitMetaJson {
                url: format!("{api}/git/trees/{}", c.sha),
                sha: c.sha.clone(),
                created: date.clone(),
            },
            verification: None,
        },
        author: account(&c.author),
        committer: account(&c.committer),
        parents: vec![CommitMetaJson {
            url: format!("{api}/git/commits/{parent}"),
            sha: parent.to_string(),
            created: date.clone(),
        }],
        files: None,
        stats: CommitStatsJson {
            total: 4,
            additions: 3,
            deletions: 1,
        },
    }
}

/// `GetPullRequestFiles`.
pub(crate) async fn pull_files(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((o, r, n)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let pr = find_pr(w, repo, &n)?;
        let changes = w.pr_changes(&repo.name, pr.index);
        // Gitea diffs `refs/pull/N/head`, which a push moves a little later.
        let (head, files) = changes.lagging.unwrap_or_else(|| {
            let head = pr.pull.as_ref().map(|p| p.head_sha.clone());
            (head.unwrap_or_default(), changes.files)
        });
        let total = files.len();
        let paging = params.paging();
        let page: Vec<_> = page_of(files, Some(paging))
            .iter()
            .map(|f| file_json(w, repo, &head, f))
            .collect();
        let link = link_header(w, &uri, &params, total, paging.size);
        Ok(with_link(with_total(ok(&page)?, total), link))
    })
}

/// `GetPullRequestCommits`: oldest first, as `git log --reverse` of base..head.
pub(crate) async fn pull_commits(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((o, r, n)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let pr = find_pr(w, repo, &n)?;
        let base = pr
            .pull
            .as_ref()
            .map(|p| p.merge_base.clone())
            .unwrap_or_default();
        let changes = w.pr_changes(&repo.name, pr.index);
        let mut commits = changes.commits;
        // While `refs/pull/N/head` lags a push, the commits end at the head it still names.
        if let Some((head, _)) = &changes.lagging {
            if let Some(at) = commits.iter().position(|c| &c.sha == head) {
                commits.truncate(at + 1);
            }
        }
        let parents: Vec<String> = std::iter::once(base)
            .chain(commits.iter().map(|c| c.sha.clone()))
            .collect();
        let total = commits.len();
        let paging = params.paging();
        let skip = (paging.page - 1) * paging.size;
        let page: Vec<_> = page_of(commits, Some(paging))
            .iter()
            .enumerate()
            .map(|(i, c)| commit_json(w, repo, c, &parents[skip + i], doer))
            .collect();
        let link = link_header(w, &uri, &params, total, paging.size);
        Ok(with_link(with_total(ok(&page)?, total), link))
    })
}

/// `CreatePullReviewRequests`, for teams: the poster, or anyone in one of the org's teams
/// (`CanDoerChangeReviewRequests`), may ask; an unknown team is a 422; a team already asked
/// is not asked twice. 201 with the new `REQUEST_REVIEW` reviews.
pub(crate) async fn request_reviewers(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, n)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let index = find_pr(w, repo, &n)?.index;
        let repo_name = repo.name.clone();
        let form = parse_body(w, &body)?;
        let teams: Vec<String> = form
            .get("team_reviewers")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let poster = w.issue(&repo_name, index).author.eq_ignore_ascii_case(doer);
        let in_a_team = w.teams.iter().any(|t| w.is_team_member(t.id, doer));
        if !poster && !in_a_team && !w.is_site_admin(doer) {
            return Err(json_error(
                w,
                StatusCode::FORBIDDEN,
                "reviewer can't be requested",
            ));
        }
        for t in &teams {
            if !w.teams.iter().any(|x| x.name.eq_ignore_ascii_case(t)) {
                let msg = format!("team does not exist [id: 0, team_id: 0, name: {t}]");
                return Err(json_error(w, StatusCode::UNPROCESSABLE_ENTITY, &msg));
            }
        }
        let mut ids = Vec::new();
        for t in &teams {
            let team_id = w.team_id(t);
            let repo_id = w.repo(&repo_name).id;
            let asked = w.reviews.iter().any(|x| {
                x.repo_id == repo_id
                    && x.index == index
                    && x.team == Some(team_id)
                    && x.state == "REQUEST_REVIEW"
            });
            if !asked {
                ids.push(w.request_team_review(&repo_name, index, t));
            }
        }
        let repo = w.repo(&repo_name);
        let issue = w.issue(&repo_name, index);
        let out: Vec<_> = w
            .reviews
            .iter()
            .filter(|x| ids.contains(&x.id))
            .map(|x| json::review(w, repo, issue, x, Some(doer)))
            .collect();
        Ok(json_body(StatusCode::CREATED, &out))
    })
}
