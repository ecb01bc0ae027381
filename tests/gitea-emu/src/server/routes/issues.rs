//! Issues: the listing (`/repos/{o}/{r}/issues`) and an issue's timeline.

use crate::server::*;

pub(crate) async fn timeline(
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
        let mut rows: Vec<_> = w
            .comments
            .iter()
            // Code comments are left out after paging (`comment.Type != CommentTypeCode`,
            // `ListIssueCommentsAndTimeline`, `routers/api/v1/repo/issue_comment.go` @ v1.25.4).
            .filter(|c| c.repo_id == repo.id && c.index == issue.index)
            .filter(|c| in_window(&c.updated, since, before))
            .collect();
        rows.sort_by_key(|c| (c.created, c.id));
        let page: Vec<_> = page_of(rows, params.paging_if_page())
            .into_iter()
            .filter(|c| c.kind != CommentKind::Code)
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| json::timeline_comment(w, repo, issue, c, Some(doer)))
            .collect();
        // Gitea's quirk (`routers/api/v1/repo/issue_comment.go` `ListIssueCommentsAndTimeline`:
        // `ctx.SetTotalCountHeader(int64(len(apiComments)))`): the count is this page's length.
        let total = page.len();
        Ok(with_total(ok(&page)?, total))
    })
}

/// `GET /repos/{o}/{r}/issues` (`ListIssues`, `routers/api/v1/repo/issue.go` @ v1.25.4): `state`
/// (default open), `type` (`issues`/`pulls`), `since`/`before` on the issue's `updated_unix`
/// (which every new comment, review, dismissal, push comment and state change moves:
/// `updateCommentInfos`, `models/issues/comment.go`), newest created first, paged with the total.
pub(crate) async fn list_issues(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        let (since, before) = params.since_before(w)?;
        let state = params.get("state").unwrap_or("open");
        let kind = params.get("type").unwrap_or("");
        let mut rows: Vec<&Issue> = repo
            .issues
            .iter()
            .filter(|i| match state {
                "closed" => i.closed,
                "all" => true,
                _ => !i.closed,
            })
            .filter(|i| match kind {
                "pulls" => i.pull.is_some(),
                "issues" => i.pull.is_none(),
                _ => true,
            })
            .filter(|i| in_window(&i.updated, since, before))
            .collect();
        rows.sort_by_key(|i| std::cmp::Reverse((i.created, i.index)));
        let total = rows.len();
        let paging = params.paging();
        let out: Vec<_> = page_of(rows, Some(paging))
            .into_iter()
            .map(|i| json::issue(w, repo, i, Some(doer)))
            .collect();
        Ok(with_total(ok(&out)?, total))
    })
}
