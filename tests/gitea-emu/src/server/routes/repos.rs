//! Repositories and branches: `/repos/{o}/{r}` and `/repos/{o}/{r}/branches/{branch}`.

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
