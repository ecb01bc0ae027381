//! Contract: when a review is official, as Gitea decides it.
//!
//! - `models/issues/review.go` `IsOfficialReviewer`: with no protection rule on the base branch,
//!   a reviewer with write access to the code (`HasAccessUnit(…, unit.TypeCode,
//!   perm.AccessModeWrite)`) is official; with a rule, `IsUserOfficialReviewer` decides.
//! - `models/git/protected_branch.go` `IsUserOfficialReviewer`: without
//!   `EnableApprovalsWhitelist`, write access to the code; with it, only users in
//!   `ApprovalsWhitelistUserIDs` or members of `ApprovalsWhitelistTeamIDs`.
//! - `models/organization/team.go` / `routers/api/v1/org/team.go` `CreateTeam`: a new team's
//!   permission defaults to read (`perm.AccessModeRead`) on every unit.
//! - `CreateReview` stores `Official` once, at submission; nothing recomputes it later.

mod common;

use common::*;
use gitea_emu::{Emulator, World};

const REVIEWS: &str = "/repos/acme/widgets/pulls/7/reviews";

/// The example world, with security's permission set to `permission`.
fn with_security(permission: &str) -> World {
    scene().with_team_permission("security", permission)
}

async fn official_of_carols_approval(world: World) -> serde_json::Value {
    let emu = Emulator::start(world).await;
    emu.with_world(|w| w.review("widgets", 7, "carol", "APPROVED", ""));
    Api::new(&emu).get(BOT, REVIEWS).await.json[0]["official"].clone()
}

#[tokio::test]
async fn a_new_team_reads_and_its_members_approvals_are_not_official() {
    let world = scene().with_team("auditors", &["dave"]);
    let emu = Emulator::start(world).await;
    let id = emu.with_world(|w| w.team_id("auditors"));
    // The bot is not in auditors: ask as the site admin.
    let team = Api::new(&emu).get(ROOT, &format!("/teams/{id}")).await;
    assert_eq!(team.json["permission"], "read", "{}", team.json);
    assert_eq!(team.json["units_map"]["repo.code"], "read");

    emu.with_world(|w| w.review("widgets", 7, "dave", "APPROVED", ""));
    assert_eq!(
        Api::new(&emu).get(BOT, REVIEWS).await.json[0]["official"],
        false
    );
}

#[tokio::test]
async fn write_on_code_makes_an_approval_official_read_does_not() {
    assert_eq!(
        official_of_carols_approval(with_security("write")).await,
        true
    );
    assert_eq!(
        official_of_carols_approval(with_security("read")).await,
        false
    );
}

#[tokio::test]
async fn with_the_approvals_whitelist_only_whitelisted_teams_and_users_are_official() {
    // Write access no longer suffices once the rule has a whitelist.
    let w = with_security("write").with_approvals_whitelist("widgets", "main", &[], &["qa"]);
    assert_eq!(official_of_carols_approval(w).await, false);
    // A whitelisted team is official even with read access, so is a whitelisted user.
    let w = with_security("read").with_approvals_whitelist("widgets", "main", &[], &["security"]);
    assert_eq!(official_of_carols_approval(w).await, true);
    let w = with_security("read").with_approvals_whitelist("widgets", "main", &["carol"], &[]);
    assert_eq!(official_of_carols_approval(w).await, true);
}

#[tokio::test]
async fn official_is_fixed_at_submission() {
    let emu = Emulator::start(with_security("read")).await;
    emu.with_world(|w| w.review("widgets", 7, "carol", "APPROVED", ""));
    // Granting write afterwards does not make the earlier approval official.
    emu.with_world(|w| w.set_team_permission("security", "write"));
    let api = Api::new(&emu);
    assert_eq!(api.get(BOT, REVIEWS).await.json[0]["official"], false);
    // Approving again after the fix is official (and un-officials the earlier one).
    emu.with_world(|w| w.review("widgets", 7, "carol", "APPROVED", ""));
    let rs = api.get(BOT, REVIEWS).await.json;
    assert_eq!(
        (&rs[0]["official"], &rs[1]["official"]),
        (&false.into(), &true.into())
    );
}

#[tokio::test]
async fn branch_protections_show_the_approvals_whitelist() {
    let w = scene().with_approvals_whitelist("widgets", "main", &["carol"], &["security"]);
    let emu = Emulator::start(w).await;
    let rules = Api::new(&emu)
        .get(ROOT, "/repos/acme/widgets/branch_protections")
        .await;
    let main = &rules.json[0];
    assert_eq!(main["enable_approvals_whitelist"], true);
    assert_eq!(main["approvals_whitelist_teams"][0], "security");
    assert_eq!(main["approvals_whitelist_username"][0], "carol");
}
