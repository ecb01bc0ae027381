//! The details page (issue 13): every status links to `{external_url}/pr/OWNER/REPO/N?sig=…`,
//! which explains the gates from the bot's own database. Driven through the in-process bot and
//! the emulator: the link comes from the status Gitea stores, is opened on the bot's real
//! router, and a page view never reaches Gitea. The browser test opens the pages in Debian's
//! Chromium (`.ci/run` installs it) and keeps screenshots in `target/tmp/details-page/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use gitea_emu::{Status, World};
use serde_json::Value;
use sopbot::details::Links;
use sopbot::secret::Secret;

use crate::support::serve::{wait_for, SECRET};
use crate::support::tester::{world, Runner, Tester, PR, REPO, WAIT};
use crate::support::{sopbot, stderr, stdout};

const QA: &str = "qa-review / approved";
const SECURITY: &str = "security-review / approved";
const NA: &str = "sop-checklist / na-declarations (pull_request)";
/// The bot's public address as configured (a proxy in front of it, say): links start with it.
const EXTERNAL: &str = "https://sopbot.example.test";

/// A tester whose statuses link to the details page, with memberships never cached (so a
/// team the bot leaves is an `error` at the next evaluation).
async fn start(world: World) -> Tester {
    Tester::setup_in(world)
        .config(|c| {
            c.server(&format!("external_url = \"{EXTERNAL}/\"\n"))
                .gitea("membership_cache_ttl = \"0s\"\n")
        })
        .start()
        .await
}

fn bot_url(c: &Tester) -> String {
    match &c.bot {
        Runner::InProc(b) => b.url.clone(),
        Runner::Process(_) => unreachable!("these tests run the bot in-process"),
    }
}

/// The page a status links to, as a path on the bot (the external address cut off, and the
/// fragment, which a browser does not send).
fn page_path(status: &Status) -> String {
    let path = status
        .target_url
        .strip_prefix(EXTERNAL)
        .unwrap_or_else(|| panic!("{} does not start with {EXTERNAL}", status.target_url));
    path.split('#').next().unwrap().to_string()
}

/// `GET path` on the bot, as HTML or JSON: status and body.
async fn get(c: &Tester, path: &str, json: bool) -> (u16, String) {
    let accept = if json {
        "application/json"
    } else {
        "text/html"
    };
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", bot_url(c)))
        .header("accept", accept)
        .send()
        .await
        .expect("the bot answers");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn page(c: &Tester, path: &str) -> String {
    let (status, body) = get(c, path, false).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn page_json(c: &Tester, path: &str) -> Value {
    let (status, body) = get(c, path, true).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until the page at `path` contains `text` (the store is written before the statuses,
/// so the page may lead the status a test waited for, never lag it).
async fn page_with(c: &Tester, path: &str, text: &str) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        last = get(c, path, false).await.1;
        if last.contains(text) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {text:?}:\n{last}");
}

fn signature(repo: &str, pr: u64) -> String {
    Links::new(EXTERNAL, &Secret::new(SECRET)).signature(repo, pr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_links_to_its_page_and_only_a_signed_link_opens_it() {
    let c = start(world()).await;
    c.approve("bob").await;
    let qa = c.expect_status(QA, "success", "approved by @bob").await;
    let security = c.expect_status(SECURITY, "failure", "awaiting").await;
    let na = c.expect_status(NA, "success", "no gates waived").await;
    let sig = signature("acme/widgets", PR);
    assert_eq!(sig.len(), 32, "128 bits, hex");
    let base = format!("{EXTERNAL}/pr/acme/widgets/7?sig={sig}");
    assert_eq!(qa.target_url, format!("{base}#gate-qa"));
    assert_eq!(security.target_url, format!("{base}#gate-security"));
    assert_eq!(na.target_url, format!("{base}#waivers"));

    let path = page_path(&qa);
    let html = page(&c, &path).await;
    for text in [
        "<h1>Add token-bucket rate limiter to widget API</h1>",
        "1 of 2 gates pass",
        "approved by @bob, a member of team qa",
        "@bob: <strong class=\"counts\">counts</strong>",
        "✓ passes",
        "✗ fails",
        "awaiting an approval from a member of team security",
        "No active waiver.",
        &format!("<code>{}</code>", c.head()),
    ] {
        assert!(html.contains(text), "the page lacks {text:?}:\n{html}");
    }
    assert!(html.contains(r#"href="http://127.0.0.1:"#) && html.contains("/org/acme/teams/qa\""));

    // Gitea's names are case-insensitive, so are links; anything else is the same 404.
    let upper = format!("/pr/ACME/Widgets/7?sig={sig}");
    assert_eq!(get(&c, &upper, false).await.0, 200);
    let mut altered = sig.clone().into_bytes();
    altered[31] = if altered[31] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    let refused = [
        "/pr/acme/widgets/7".to_string(),
        "/pr/acme/widgets/7?sig=".to_string(),
        format!("/pr/acme/widgets/7?sig={altered}"),
        format!("/pr/acme/widgets/7?sig={}", &sig[..16]),
        format!("/pr/acme/widgets/7?sig={sig}00"),
        format!("/pr/acme/widgets/8?sig={sig}"),
        format!("/pr/acme/widgets/+7?sig={sig}"),
        format!("/pr/acme/widgets/07?sig={}", signature("acme/widgets", 7)),
        // Signed, but never evaluated, or of a repository sopbot does not serve.
        format!("/pr/acme/widgets/99?sig={}", signature("acme/widgets", 99)),
        format!("/pr/acme/gadgets/7?sig={}", signature("acme/gadgets", 7)),
        format!("/pr/acme/widgets/7/extra?sig={sig}"),
    ];
    for path in &refused {
        for json in [false, true] {
            assert_eq!(
                get(&c, path, json).await,
                (404, "not found".to_string()),
                "{path}"
            );
        }
    }
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_view_never_calls_gitea_and_a_current_status_is_not_posted_again() {
    let c = start(world()).await;
    c.approve("bob").await;
    let qa = c.expect_status(QA, "success", "approved by @bob").await;
    let path = page_path(&qa);
    page(&c, &path).await;
    let before = c.emu.calls().len();
    for _ in 0..5 {
        page(&c, &path).await;
        page_json(&c, &path).await;
        get(&c, "/pr/acme/widgets/7?sig=00", false).await;
    }
    assert_eq!(
        c.emu.calls().len(),
        before,
        "a page view called Gitea: {:#?}",
        &c.emu.calls()[before..]
    );

    // A /refire evaluates again: every status is current, link included, so none is posted.
    let posts = |c: &Tester| {
        c.emu
            .calls()
            .iter()
            .filter(|x| x.method == "POST" && x.path.contains("/statuses/"))
            .count()
    };
    let posted = posts(&c);
    let id = c.comment("dave", "/refire").await;
    c.expect_reply(id).await;
    assert_eq!(posts(&c), posted, "{:#?}", c.emu.calls());

    // A status posted by hand on a gate's context is still overturned, with the link.
    let head = c.head();
    let hook = c.world(|w| {
        let s = w.post_status(REPO, &head, "alice", "success", SECURITY, "trust me", "");
        w.webhook_for_status(REPO, &head, s.id)
    });
    c.deliver(&hook).await;
    wait_for(
        "the guard's re-post",
        WAIT,
        || c.log(),
        || {
            c.world(|w| w.status(REPO, &head, SECURITY))
                .filter(|s| s.creator == "sopbot" && s.state == "failure")
        },
    )
    .await;
    let ours = c.world(|w| w.status(REPO, &head, SECURITY)).unwrap();
    assert!(ours.target_url.ends_with("#gate-security"), "{ours:?}");
    page_with(&c, &path, "status.guard").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_json_agrees_with_sopbot_check() {
    let c = start(world()).await;
    c.approve("bob").await;
    c.world(|w| w.review(REPO, PR, "dave", "APPROVED", "me too"));
    c.world(|w| w.review(REPO, PR, "carol", "APPROVED", "ok"));
    c.dismiss("carol");
    let id = c.comment("dave", "/refire").await;
    c.expect_reply(id).await;
    let qa = c.expect_status(QA, "success", "approved by @bob").await;
    let json = page_json(&c, &page_path(&qa)).await;

    let out = sopbot(&c.config, &["check", "acme/widgets#7", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let check: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in ["repo", "pr", "head_sha", "gates"] {
        assert_eq!(
            json[key], check[key],
            "{key}:\npage {json:#}\ncheck {check:#}"
        );
    }
    let states: Vec<&str> = json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "failure"]);
    // What the page adds: the evaluation's time, the waivers, the audit trail.
    assert!(json["details"]["evaluated_at"].is_string(), "{json:#}");
    assert_eq!(
        json["details"]["title"],
        "Add token-bucket rate limiter to widget API"
    );
    assert_eq!(json["details"]["waivers"], serde_json::json!([]));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_is_shown_escaped_with_its_comment_and_how_it_ended() {
    let c = start(world()).await;
    let id = c
        .comment(
            "mia",
            "/sop-n/a qa <script>alert(1)</script> & <b>docs</b> only",
        )
        .await;
    c.expect_reply(id).await;
    let qa = c.expect_status(QA, "success", "waived").await;
    let path = page_path(&qa);
    let html = page(&c, &path).await;
    assert!(
        html.contains(
            "&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#60;b&#62;docs&#60;/b&#62; only"
        ) || html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;docs&lt;/b&gt; only"),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
    assert!(
        html.contains(&format!(
            "/acme/widgets/pulls/7#issuecomment-{id}\">the comment</a>"
        )),
        "{html}"
    );
    assert!(
        html.contains("<strong>qa</strong> waived by @mia"),
        "{html}"
    );

    let revoke = c.comment("mia", "/sop-revoke qa").await;
    c.expect_reply(revoke).await;
    c.expect_status(QA, "failure", "awaiting").await;
    let html = page_with(&c, &path, "revoked by @mia").await;
    let past = html.split("<h3>Past</h3>").nth(1).unwrap();
    assert!(
        past.contains("<strong>qa</strong> waived by @mia"),
        "{html}"
    );
    assert!(html.contains("No active waiver."), "{html}");
    assert!(
        html.contains("<code>waiver.created</code>")
            && html.contains("<code>waiver.revoked</code>")
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_gate_shows_the_doctor_diagnosis_and_its_fix() {
    let mut w = world();
    let security = w.team_id("security");
    w.remove_team_member(security, "sopbot");
    let c = start(w).await;
    c.deliver(&c.world(|w| w.webhook_for_pr(REPO, PR, "opened")))
        .await;
    c.expect_status(QA, "failure", "awaiting").await;
    c.world(|w| w.review(REPO, PR, "carol", "APPROVED", "ok"));
    let id = c.comment("alice", "/refire security").await;
    c.expect_reply(id).await;
    let status = c.expect_status(SECURITY, "error", "(403)").await;
    let path = page_path(&status);
    let html = page(&c, &path).await;
    let fix = "add @sopbot to team security in acme (Organisation → Teams → security → Add member), or make it an owner of acme; the token needs read:organization";
    for text in [
        "! error: could not be verified",
        "team security in acme: team security of org `acme` is not readable by the bot (403)",
        fix,
        "could not be checked: the bot's token got 403 for team security",
    ] {
        let text = askama_escaped(text);
        assert!(html.contains(&text), "the page lacks {text:?}:\n{html}");
    }
    assert!(
        html.contains(
            "<li>@carol: <strong class=\"nocount\">does not count</strong> — could not be checked"
        ),
        "{html}"
    );
    let json = page_json(&c, &path).await;
    assert_eq!(json["details"]["diagnoses"][0]["gate"], "security");
    assert_eq!(json["details"]["diagnoses"][0]["fix"], fix);
    // Only security was evaluated by that /refire: the page still shows qa as last evaluated.
    assert!(html.contains("id=\"gate-qa\""), "{html}");
    assert!(html.contains("0 of 2 gates pass"), "{html}");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_external_url_statuses_carry_no_link_and_there_is_no_page() {
    let c = Tester::start().await;
    c.approve("bob").await;
    let qa = c.expect_status(QA, "success", "approved by @bob").await;
    assert_eq!(qa.target_url, "");
    let path = format!("/pr/acme/widgets/7?sig={}", signature("acme/widgets", 7));
    assert_eq!(get(&c, &path, false).await.0, 404);
    c.finish();
}

/// `s` as askama's HTML escaping writes it (`&`, `<`, `>`, quotes as numeric references).
fn askama_escaped(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ----- the browser ------------------------------------------------------------------------------

/// Debian's Chromium, or a failure that says how to install it (as `.ci/run` does).
fn chromium() -> &'static str {
    let found = Command::new("chromium").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "chromium is needed for the details-page browser test: apt-get install chromium \
         (.ci/run installs it when missing)"
    );
    "chromium"
}

/// Runs headless Chromium on `url` with `args`, in a profile of its own; returns stdout.
async fn run_chromium(args: Vec<String>, url: String) -> String {
    let profile = tempfile::tempdir().unwrap();
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                &profile_arg,
            ])
            .args(&args)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chromium {args:?} {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        drop(profile);
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// The DOM Chromium built from the page (what a person's browser shows, as markup).
async fn dom(url: &str) -> String {
    run_chromium(vec!["--dump-dom".into()], url.into()).await
}

/// A screenshot of the page at `width`x`height`, light or dark; returns the top-left pixel.
async fn screenshot(url: &str, file: &Path, (width, height): (u32, u32), dark: bool) -> [u8; 3] {
    // Blink's preferredColorScheme: 0 is dark, 1 light (explicit, whatever the machine's).
    let scheme = if dark { 0 } else { 1 };
    run_chromium(
        vec![
            format!("--window-size={width},{height}"),
            format!("--blink-settings=preferredColorScheme={scheme}"),
            format!("--screenshot={}", file.display()),
        ],
        url.into(),
    )
    .await;
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(file).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width, info.height),
        (width, height),
        "{}",
        file.display()
    );
    let px = info.color_type.samples();
    [buf[0], buf[1], buf[px.min(2)]]
}

/// The text of `dom` with tags removed and whitespace collapsed: what a person reads.
fn text_of(dom: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in dom.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("details-page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The status of `context` on PR `n`'s head, once the bot posted it in `state`.
async fn status_of(c: &Tester, n: u64, context: &str, state: &str) -> Status {
    let sha = c.world(|w| w.head_sha(REPO, n));
    c.expect_status_on(&sha, context, state, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_read_right_in_a_real_browser_on_a_phone_and_a_desktop_light_and_dark() {
    chromium();
    let c = start(world()).await;
    // #7 approved by both teams; #8 awaiting; #9 waived by a manager; #10 in error.
    let (failing, waived, error) = c.world(|w| {
        let failing = w.open_pr(REPO, "alice", "main", "feature/retry-budget");
        w.set_pr_text(REPO, failing, "Retry budget for the widget client", "");
        let waived = w.open_pr(REPO, "alice", "main", "docs/typos");
        w.set_pr_text(REPO, waived, "Fix typos in the operator guide", "");
        let error = w.open_pr(REPO, "alice", "main", "feature/audit-export");
        w.set_pr_text(REPO, error, "Export the audit log as CSV", "");
        (failing, waived, error)
    });
    c.approve("bob").await;
    let hook = c.world(|w| {
        w.review(REPO, PR, "carol", "APPROVED", "ok");
        w.webhook_for_review(REPO, PR, "carol", "approved")
    });
    c.deliver(&hook).await;
    c.deliver(&c.world(|w| w.webhook_for_pr(REPO, failing, "opened")))
        .await;
    let hook = c.world(|w| {
        let id = w.comment(REPO, waived, "mia", "/sop-n/a docs only: <no code changes>");
        w.webhook_for_comment(REPO, waived, id, "created")
    });
    c.deliver(&hook).await;
    let approved = status_of(&c, PR, SECURITY, "success").await;
    let failing_status = status_of(&c, failing, SECURITY, "failure").await;
    let waived_status = status_of(&c, waived, SECURITY, "success").await;
    // Every event of #7 handled (the status may come from bob's, which already saw carol's).
    c.barrier().await;
    // The bot loses its place in security; carol's approval on #10 can no longer be checked.
    c.world(|w| {
        let security = w.team_id("security");
        w.remove_team_member(security, "sopbot")
    });
    let hook = c.world(|w| {
        w.review(REPO, error, "carol", "APPROVED", "ok");
        w.webhook_for_review(REPO, error, "carol", "approved")
    });
    c.deliver(&hook).await;
    let error_status = status_of(&c, error, SECURITY, "error").await;

    let cases = [
        (
            "approved",
            &approved,
            vec![
                "2 of 2 gates pass",
                "✓ passes",
                "approved by @carol, a member of team security",
            ],
        ),
        (
            "failing",
            &failing_status,
            vec![
                "0 of 2 gates pass",
                "✗ fails",
                "awaiting an approval from a member of team security",
                "No approval was considered for this gate.",
            ],
        ),
        (
            "waived",
            &waived_status,
            vec![
                "2 of 2 gates pass",
                "waived by @mia",
                "docs only: <no code changes>",
            ],
        ),
        (
            "error",
            &error_status,
            vec![
                "! error: could not be verified",
                "Diagnosis (as sopbot doctor says):",
                "Fix: add @sopbot to team security in acme",
            ],
        ),
    ];
    let dir = shots_dir();
    for (name, status, texts) in &cases {
        let url = format!("{}{}", bot_url(&c), page_path(status));
        let dom = dom(&url).await;
        assert!(!dom.contains("<script"), "{name}: {dom}");
        assert!(dom.contains(r#"<meta name="viewport""#), "{name}");
        let text = text_of(&dom);
        for t in texts {
            assert!(
                text.contains(t),
                "{name}: the page does not say {t:?}:\n{text}"
            );
        }
        for heading in [
            "<h1>",
            "<h2 id=\"gates\">",
            "<h2 id=\"waivers\">",
            "<h2 id=\"audit\">",
        ] {
            assert!(dom.contains(heading), "{name}: no {heading}");
        }
        let light = screenshot(
            &url,
            &dir.join(format!("{name}-desktop-light.png")),
            (1280, 900),
            false,
        )
        .await;
        assert!(
            light.iter().all(|&v| v > 230),
            "{name}: light background {light:?}"
        );
        let dark = screenshot(
            &url,
            &dir.join(format!("{name}-phone-dark.png")),
            (390, 844),
            true,
        )
        .await;
        assert!(
            dark.iter().all(|&v| v < 40),
            "{name}: dark background {dark:?}"
        );
    }
    let url = format!("{}{}", bot_url(&c), page_path(&error_status));
    screenshot(&url, &dir.join("error-phone-light.png"), (390, 844), false).await;
    screenshot(&url, &dir.join("error-desktop-dark.png"), (1280, 900), true).await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_sopbot_serve_serves_the_page_and_config_check_says_it_is_on() {
    let c = Tester::setup()
        .config(|c| c.server(&format!("external_url = \"{EXTERNAL}\"\n")))
        .process()
        .start()
        .await;
    c.approve("bob").await;
    let qa = c.expect_status(QA, "success", "approved by @bob").await;
    let path = page_path(&qa);
    let (status, html) = c.bot.get(&path).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("approved by @bob, a member of team qa"),
        "{html}"
    );
    let altered = path.replace("?sig=", "?sig=0");
    assert_eq!(c.bot.get(&altered).await, (404, "not found".to_string()));

    let out = sopbot(&c.config, &["config", "check"]).await;
    assert!(
        stdout(&out).contains(&format!(
            "# details page: on, statuses link to {EXTERNAL}/pr/OWNER/REPO/N"
        )),
        "{}",
        stdout(&out)
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_shared_by_two_prs_links_to_the_one_that_holds_the_gate() {
    let c = start(world()).await;
    let other = c.world(|w| w.open_pr_from_branch(REPO, "alice", "main", "feature/rate-limiter"));
    c.approve("bob").await;
    // qa: #7 approved, #8 awaiting: the commit's status is #8's failure, and links to #8.
    let qa = c.expect_status(QA, "failure", "#8: awaiting").await;
    let sig = signature("acme/widgets", other);
    assert_eq!(
        qa.target_url,
        format!("{EXTERNAL}/pr/acme/widgets/{other}?sig={sig}#gate-qa")
    );
    let html = page(&c, &page_path(&qa)).await;
    assert!(html.contains("acme/widgets#8</a>"), "{html}");
    // #7's own page still says its qa gate passes.
    let own = format!("/pr/acme/widgets/7?sig={}", signature("acme/widgets", 7));
    page_with(&c, &own, "approved by @bob, a member of team qa").await;
    c.finish();
}
