//! Commit statuses: post, list (by SHA or ref) and the combined status.

use crate::server::*;

pub(crate) async fn post_status(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, sha)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        if w.access(doer) < Access::Write {
            return Err(json_error(
                w,
                StatusCode::FORBIDDEN,
                "user should have a permission to write to a repo",
            ));
        }
        let form = parse_body(w, &body)?;
        let repo_name = repo.name.clone();
        let Some(full) = w.resolve_sha(&repo_name, &sha) else {
            return Err(internal(
                w,
                doer,
                &format!("object does not exist [id: {sha}, rel_path: ]"),
            ));
        };
        let s = w.post_status(
            &repo_name,
            &full,
            doer,
            &str_field(&form, "state"),
            &str_field(&form, "context"),
            &str_field(&form, "description"),
            &str_field(&form, "target_url"),
        );
        Ok(json_body(
            StatusCode::CREATED,
            &json::commit_status(w, w.repo(&repo_name), &s),
        ))
    })
}

/// The status list of `sha`: newest first unless `sort` says otherwise, `state` filter, paged,
/// with `X-Total-Count` and `Link`.
pub(crate) fn status_list(w: &World, repo: &Repo, sha: &str, uri: &Uri, params: &Params) -> Res {
    let mut rows: Vec<_> = w
        .statuses
        .iter()
        .filter(|s| s.repo_id == repo.id && s.sha == sha)
        .filter(|s| {
            params
                .get("state")
                .is_none_or(|f| f.is_empty() || s.state == f)
        })
        .collect();
    match params.get("sort").unwrap_or("") {
        "oldest" | "leastupdate" | "leastindex" => rows.sort_by_key(|s| s.id),
        _ => rows.sort_by_key(|s| std::cmp::Reverse(s.id)),
    }
    let total = rows.len();
    let paging = params.paging();
    let out: Vec<_> = page_of(rows, Some(paging))
        .into_iter()
        .map(|s| json::commit_status(w, repo, s))
        .collect();
    let link = link_header(w, uri, params, total, paging.size);
    Ok(with_link(with_total(ok(&out)?, total), link))
}

pub(crate) async fn list_statuses(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((o, r, sha)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        // Not resolved: only the full SHA matches.
        status_list(w, repo, &sha, &uri, &params)
    })
}

/// A branch name, or a full or abbreviated SHA the repo knows.
pub(crate) fn resolve_ref(w: &World, repo: &Repo, reference: &str) -> Result<String, Response> {
    if let Some(b) = repo.branches.iter().find(|b| b.name == reference) {
        return Ok(b.sha.clone());
    }
    w.resolve_sha(&repo.name, reference).ok_or_else(|| {
        not_found_with(
            w,
            "not found",
            vec![format!(
                "object does not exist [id: {reference}, rel_path: ]"
            )],
        )
    })
}

pub(crate) async fn list_statuses_by_ref(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((o, r, reference)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let sha = resolve_ref(w, repo, &reference)?;
        status_list(w, repo, &sha, &uri, &params)
    })
}

pub(crate) async fn combined_status(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, reference)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let sha = resolve_ref(w, repo, &reference)?;
        // Latest row per context, contexts ordered by their newest index (desc) for paging,
        // then returned in index order.
        let mut latest: Vec<&crate::world::Status> = Vec::new();
        for s in w
            .statuses
            .iter()
            .filter(|s| s.repo_id == repo.id && s.sha == sha)
        {
            match latest.iter_mut().find(|l| l.context == s.context) {
                Some(l) => *l = s,
                None => latest.push(s),
            }
        }
        latest.sort_by_key(|s| std::cmp::Reverse(s.id));
        let total = latest.len();
        let mut page = page_of(latest, Some(params.paging()));
        page.sort_by_key(|s| s.id);
        if page.is_empty() {
            return Ok(with_total(ok(&json::CombinedStatusJson::default())?, total));
        }
        let api = json::repo_api_url(w, repo);
        let combined = json::CombinedStatusJson {
            state: json::combine_states(page.iter().map(|s| s.state.as_str())),
            sha: sha.clone(),
            total_count: page.len() as i64,
            statuses: Some(
                page.iter()
                    .map(|s| json::commit_status(w, repo, s))
                    .collect(),
            ),
            repository: Some(json::repository(w, repo, w.access(doer))),
            commit_url: format!("{api}/commits/{sha}"),
            url: format!("{api}/commits/{sha}/status"),
        };
        Ok(with_total(ok(&combined)?, total))
    })
}
