//! Repositories and branches: `/repos/{o}/{r}`, `/repos/{o}/{r}/branches/{branch}` and
//! `/orgs/{org}/repos`.

use crate::server::*;

pub(crate) async fn get_repo(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        ok(&json::repository(w, repo, w.access(doer)))
    })
}

pub(crate) async fn get_branch(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, b)): Path<(String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        match repo.branches.iter().find(|x| x.name == b) {
            Some(branch) => ok(&json::branch(w, repo, branch, doer)),
            None => Err(not_found_with(
                w,
                "not found",
                vec![format!("branch does not exist [name: {b}]")],
            )),
        }
    })
}

/// `GET /orgs/{org}/repos` (`ListOrgRepos` → `listUserRepos`, routers/api/v1/user/repo.go):
/// the organisation's repositories by id, paged in the database and *then* filtered to those
/// the caller may see (private ones: organisation members and site admins), so `X-Total-Count` counts them all and a page can come back short with
/// more to follow. An unknown organisation is 404.
pub(crate) async fn org_repos(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(org): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        if !org.eq_ignore_ascii_case(w.org_login()) {
            return Err(not_found(w));
        }
        let mut repos: Vec<&Repo> = w.repos.iter().collect();
        repos.sort_by_key(|r| r.id);
        let total = repos.len();
        let paging = params.paging();
        let access = w.access(doer);
        let member = w.is_org_member(doer) || w.is_site_admin(doer);
        let owner = w.is_org_owner(doer) || w.is_site_admin(doer);
        let page: Vec<_> = page_of(repos, Some(paging))
            .into_iter()
            .filter(|r| (!r.private || member) && (!r.hidden || owner))
            .map(|r| json::repository(w, r, access))
            .collect();
        let link = link_header(w, &uri, &params, total, paging.size);
        Ok(with_link(with_total(ok(&page)?, total), link))
    })
}
