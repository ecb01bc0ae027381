//! Pull requests and their reviews: `/repos/{o}/{r}/pulls…`.

use crate::server::*;

pub(crate) async fn list_pulls(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let state = params.get("state").unwrap_or("open");
        let mut prs: Vec<&Issue> = repo
            .issues
            .iter()
            .filter(|i| i.pull.is_some())
            .filter(|i| match state {
                "closed" => i.closed,
                "all" => true,
                _ => !i.closed,
            })
            .filter(|i| {
                params.get("base_branch").is_none_or(|b| {
                    b.is_empty() || i.pull.as_ref().is_some_and(|p| p.base_ref == b)
                })
            })
            .filter(|i| {
                params
                    .get("poster")
                    .is_none_or(|p| p.is_empty() || i.author.eq_ignore_ascii_case(p))
            })
            .collect();
        match params.get("sort").unwrap_or("") {
            "oldest" => prs.sort_by_key(|i| (i.created, i.index)),
            "recentupdate" => prs.sort_by_key(|i| std::cmp::Reverse((i.updated, i.index))),
            "leastupdate" => prs.sort_by_key(|i| (i.updated, i.index)),
            _ => prs.sort_by_key(|i| std::cmp::Reverse((i.created, i.index))),
        }
        let total = prs.len();
        let paging = params.paging();
        let page: Vec<_> = page_of(prs, Some(paging))
            .into_iter()
            .map(|i| {
                let mut pr = json::pull_request(w, repo, i, Some(doer));
                if let Some(lagging) = i.pull.as_ref().and_then(|p| p.listed_head.clone()) {
                    pr.head.sha = lagging;
                }
                pr
            })
            .collect();
        let link = link_header(w, &uri, &params, total, paging.size);
        Ok(with_link(with_total(ok(&page)?, total), link))
    })
}

pub(crate) async fn get_pull(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, n)): Path<(String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let pr = find_pr(w, repo, &n)?;
        ok(&json::pull_request(w, repo, pr, Some(doer)))
    })
}

/// `ToPullReviewList`: PENDING reviews only for their reviewer or a site admin.
pub(crate) fn review_visible(w: &World, x: &crate::world::Review, doer: &str) -> bool {
    x.state != "PENDING"
        || w.is_site_admin(doer)
        || x.user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(doer))
}

pub(crate) async fn list_reviews(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, n)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let pr = find_pr(w, repo, &n)?;
        let all: Vec<_> = w
            .reviews
            .iter()
            .filter(|x| x.repo_id == repo.id && x.index == pr.index)
            .collect();
        // X-Total-Count counts before the PENDING filter, as Gitea does.
        let total = all.len();
        let page: Vec<_> = page_of(all, params.paging_if_page())
            .into_iter()
            .filter(|x| review_visible(w, x, doer))
            .map(|x| json::review(w, repo, pr, x, Some(doer)))
            .collect();
        Ok(with_total(ok(&page)?, total))
    })
}

pub(crate) async fn get_review(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, n, id)): Path<(String, String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let pr = find_pr(w, repo, &n)?;
        let id: i64 = id.parse().unwrap_or(0);
        match w
            .reviews
            .iter()
            .find(|x| x.id == id && x.repo_id == repo.id && x.index == pr.index)
        {
            Some(x) if review_visible(w, x, doer) => ok(&json::review(w, repo, pr, x, Some(doer))),
            _ => Err(not_found(w)),
        }
    })
}
