//! Users and teams: `/user`, `/user/teams`, `/teams/{id}/…` and `/orgs/{org}/teams`, with
//! Gitea's team visibility rules.

use crate::server::*;

pub(crate) async fn get_user(State(st): State<AppState>, headers: HeaderMap) -> Response {
    st.api(&headers, |w, doer| ok(&json::user(w, doer, Some(doer))))
}

pub(crate) async fn user_teams(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let mut teams: Vec<_> = w
            .teams
            .iter()
            .filter(|t| w.is_team_member(t.id, doer))
            .collect();
        teams.sort_by_key(|t| t.name.to_lowercase());
        let total = teams.len();
        let page: Vec<_> = page_of(teams, Some(params.paging()))
            .into_iter()
            .map(|t| json::team(w, t, true))
            .collect();
        Ok(with_total(ok(&page)?, total))
    })
}

/// `orgAssignment` + `reqTeamMembership` for `/teams/{id}/…`.
pub(crate) fn team_gate(w: &World, id: &str, doer: &str) -> Result<i64, Response> {
    let id: i64 = id.parse().unwrap_or(0);
    match w.check_team_access(doer, id) {
        Ok(()) => Ok(id),
        Err(TeamDenial::Forbidden) => Err(json_error(
            w,
            StatusCode::FORBIDDEN,
            "Must be a team member",
        )),
        Err(TeamDenial::NotFound) => Err(not_found(w)),
    }
}

pub(crate) async fn get_team(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    st.api(&headers, |w, doer| {
        let id = team_gate(w, &id, doer)?;
        let t = w.team_by_id(id).expect("checked");
        ok(&json::team(w, t, true))
    })
}

pub(crate) async fn team_members(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        let id = team_gate(w, &id, doer)?;
        let t = w.team_by_id(id).expect("checked");
        let mut members: Vec<_> = t.members.iter().filter_map(|m| w.user(m)).collect();
        members.sort_by_key(|u| (u.full_name.clone(), u.login.to_lowercase()));
        let total = members.len();
        let out: Vec<_> = page_of(members, params.paging_if_page())
            .into_iter()
            .filter_map(|u| json::user(w, &u.login, Some(doer)))
            .collect();
        Ok(with_total(ok(&out)?, total))
    })
}

pub(crate) async fn team_member(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, username)): Path<(String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let id = team_gate(w, &id, doer)?;
        if w.user(&username).is_none() {
            return Err(not_found_with(
                w,
                "GetUserByName",
                vec![format!("user does not exist [uid: 0, name: {username}]")],
            ));
        }
        if !w.is_team_member(id, &username) {
            return Err(not_found(w));
        }
        ok(&json::user(w, &username, Some(doer)))
    })
}

pub(crate) async fn org_teams(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(q);
    st.api(&headers, |w, doer| {
        if !org.eq_ignore_ascii_case(w.org_login()) {
            return Err(not_found(w));
        }
        if !w.is_org_member(doer) && !w.is_site_admin(doer) {
            return Err(json_error(
                w,
                StatusCode::FORBIDDEN,
                "Must be an organization member",
            ));
        }
        let mut teams: Vec<_> = w.teams.iter().collect();
        teams.sort_by_key(|t| t.name.to_lowercase());
        let total = teams.len();
        let out: Vec<_> = page_of(teams, Some(params.paging()))
            .into_iter()
            .map(|t| json::team(w, t, false))
            .collect();
        Ok(with_total(ok(&out)?, total))
    })
}
