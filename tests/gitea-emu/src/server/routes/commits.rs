//! Git commits: `GET /repos/{o}/{r}/git/commits/{sha}`, with the commit's parents as Gitea gives
//! them (`parents: [{"url","sha","created"}]`; the rest of Gitea's answer is left out).

use crate::server::*;

pub(crate) async fn git_commit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = find_repo(w, &o, &r, doer)?;
        if !repo.commits.contains(&sha) {
            return Err(not_found_with(
                w,
                "sha not found",
                vec![format!("object does not exist [id: {sha}, rel_path: ]")],
            ));
        }
        let parents: Vec<serde_json::Value> = w
            .commit_parents(&sha)
            .iter()
            .map(|p| serde_json::json!({ "sha": p, "url": "", "created": "" }))
            .collect();
        ok(&serde_json::json!({ "sha": sha, "parents": parents }))
    })
}
