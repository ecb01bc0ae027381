//! Issue comments and their reactions: `/repos/{o}/{r}/issues/…/comments` and
//! `/repos/{o}/{r}/issues/comments/{id}…`.

use crate::server::*;

pub(crate) async fn list_comments(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, n)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let (since, before) = params.since_before(w)?;
        let issue = find_issue_or_500(w, repo, &n, doer)?;
        // Not paginated at all: page and limit are ignored.
        let mut rows: Vec<_> = w
            .comments
            .iter()
            .filter(|c| {
                c.repo_id == repo.id && c.index == issue.index && c.kind == CommentKind::Comment
            })
            .filter(|c| in_window(&c.updated, since, before))
            .collect();
        rows.sort_by_key(|c| (c.created, c.id));
        let out: Vec<_> = rows
            .iter()
            .map(|c| json::comment(w, repo, issue, c, Some(doer)))
            .collect();
        Ok(with_total(ok(&out)?, out.len()))
    })
}

pub(crate) async fn list_repo_comments(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let (since, before) = params.since_before(w)?;
        let mut rows: Vec<_> = w
            .comments
            .iter()
            .filter(|c| c.repo_id == repo.id && c.kind == CommentKind::Comment)
            .filter(|c| in_window(&c.updated, since, before))
            .collect();
        rows.sort_by_key(|c| (c.created, c.id));
        let total = rows.len();
        let out: Vec<_> = page_of(rows, params.paging_if_page())
            .into_iter()
            .filter_map(|c| {
                let issue = repo.issues.iter().find(|i| i.index == c.index)?;
                Some(json::comment(w, repo, issue, c, Some(doer)))
            })
            .collect();
        Ok(with_total(ok(&out)?, total))
    })
}

pub(crate) async fn post_comment(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, n)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let form = parse_body(w, &body)?;
        let text = str_field(&form, "body");
        if text.trim().is_empty() {
            return Err(json_error(
                w,
                StatusCode::UNPROCESSABLE_ENTITY,
                "[Body]: Required",
            ));
        }
        let index = find_issue_or_500(w, repo, &n, doer)?.index;
        let repo_name = repo.name.clone();
        let id = w.add_comment(&repo_name, index, Some(doer.to_string()), &text);
        let repo = w.repo(&repo_name);
        let issue = w.issue(&repo_name, index);
        let c = w.comments.iter().find(|c| c.id == id).expect("just added");
        Ok(json_body(
            StatusCode::CREATED,
            &json::comment(w, repo, issue, c, Some(doer)),
        ))
    })
}

/// The comment `id` for the comment-by-id routes: unknown is a JSON 404, one of another repo a
/// bare 404.
pub(crate) fn find_comment(
    w: &World,
    repo: &Repo,
    id: &str,
) -> Result<crate::world::Comment, Response> {
    let id: i64 = id.parse().unwrap_or(0);
    let c = w
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| not_found(w))?;
    if c.repo_id != repo.id {
        return Err(bare(StatusCode::NOT_FOUND));
    }
    Ok(c.clone())
}

pub(crate) async fn get_comment(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let c = find_comment(w, repo, &id)?;
        // Anything but a plain comment, a code-review thread reply included, is a bodiless 204
        // (`GetIssueComment`, `routers/api/v1/repo/issue_comment.go` @ v1.25.4).
        if c.kind != CommentKind::Comment {
            return Err(bare(StatusCode::NO_CONTENT));
        }
        let issue = w.issue(&repo.name, c.index);
        ok(&json::comment(w, repo, issue, &c, Some(doer)))
    })
}

pub(crate) async fn edit_comment(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let form = parse_body(w, &body)?;
        let text = str_field(&form, "body");
        if text.trim().is_empty() {
            return Err(json_error(
                w,
                StatusCode::UNPROCESSABLE_ENTITY,
                "[Body]: Required",
            ));
        }
        let c = find_comment(w, repo, &id)?;
        let poster = c
            .user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(doer));
        if !poster && w.access(doer) < Access::Write {
            return Err(bare(StatusCode::FORBIDDEN));
        }
        // Code comments and review bodies are editable; other timeline rows answer 204
        // (`editIssueComment`, `routers/api/v1/repo/issue_comment.go` @ v1.25.4).
        if !c.kind.has_content_support() {
            return Err(bare(StatusCode::NO_CONTENT));
        }
        let repo_name = repo.name.clone();
        w.edit_comment(&repo_name, c.id, &text);
        let c = w.comment_by_id(c.id).expect("still there");
        let repo = w.repo(&repo_name);
        let issue = w.issue(&repo_name, c.index);
        ok(&json::comment(w, repo, issue, &c, Some(doer)))
    })
}

pub(crate) async fn delete_comment(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let c = find_comment(w, repo, &id)?;
        let poster = c
            .user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(doer));
        if !poster && w.access(doer) < Access::Write {
            return Err(bare(StatusCode::FORBIDDEN));
        }
        // `deleteIssueComment` (same file): rows without content are a bare 400.
        if !c.kind.has_content_support() {
            return Err(bare(StatusCode::BAD_REQUEST));
        }
        let repo_name = repo.name.clone();
        w.delete_comment(&repo_name, c.id);
        if let Some(d) = w.deleted_comments.iter_mut().find(|d| d.id == c.id) {
            d.deleted_by = Some(doer.to_string());
        }
        Ok(bare(StatusCode::NO_CONTENT))
    })
}

/// The comment for the reaction routes: unknown or in another repo is a JSON 404.
pub(crate) fn reaction_target(w: &World, repo: &Repo, id: &str) -> Result<i64, Response> {
    let id: i64 = id.parse().unwrap_or(0);
    match w.comments.iter().find(|c| c.id == id) {
        Some(c) if c.repo_id == repo.id => Ok(id),
        _ => Err(not_found(w)),
    }
}

pub(crate) async fn list_reactions(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let id = reaction_target(w, repo, &id)?;
        let out: Vec<_> = w
            .reactions(id)
            .iter()
            .map(|x| json::reaction(w, x, Some(doer)))
            .collect();
        ok(&out)
    })
}

pub(crate) async fn post_reaction(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let id = reaction_target(w, repo, &id)?;
        let form = parse_body(w, &body)?;
        let content = str_field(&form, "content");
        if !ALLOWED_REACTIONS.contains(&content.as_str()) {
            let msg = format!("'{content}' is not an allowed reaction");
            return Err(json_error(w, StatusCode::FORBIDDEN, &msg));
        }
        let created = w.react(id, doer, &content);
        let x = w
            .reactions(id)
            .into_iter()
            .find(|x| x.user.eq_ignore_ascii_case(doer) && x.content == content)
            .expect("reaction exists");
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json_body(status, &json::reaction(w, &x, Some(doer))))
    })
}

pub(crate) async fn delete_reaction(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let id = reaction_target(w, repo, &id)?;
        let form = parse_body(w, &body)?;
        let content = str_field(&form, "content");
        w.reactions.retain(|x| {
            !(x.comment_id == id && x.user.eq_ignore_ascii_case(doer) && x.content == content)
        });
        Ok(bare(StatusCode::OK))
    })
}
