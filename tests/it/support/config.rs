//! The bot's config for tests, written in this one place: the emulator, a database, acme/widgets
//! with `main` protected, the qa and security gates waivable by their team or `managers`. Each
//! suite states only what it changes (timeouts, the poller, the webhook secret, more branches).

use gitea_emu::Emulator;

/// A `sopbot.toml` being put together; [`ConfigToml::render`] gives its text.
#[derive(Debug, Clone)]
pub struct ConfigToml {
    url: String,
    token: String,
    timeout: String,
    retries: u32,
    gitea: String,
    server: String,
    db: String,
    poll_secs: u64,
    poller: String,
    branches: Vec<String>,
    repo: String,
    extra: String,
}

impl ConfigToml {
    /// The common case: Gitea timeout 2 s with 3 retries, `sopbot.db` beside the config, the
    /// poller off, `main` protected.
    pub fn new(emu: &Emulator) -> ConfigToml {
        ConfigToml {
            url: emu.base_url(),
            token: emu.token(),
            timeout: "2s".into(),
            retries: 3,
            gitea: String::new(),
            server: String::new(),
            db: "sopbot.db".into(),
            poll_secs: 0,
            poller: String::new(),
            branches: vec!["main".into()],
            repo: String::new(),
            extra: String::new(),
        }
    }

    /// The Gitea client's timeout (`"2s"`) and retries.
    pub fn timeout(mut self, timeout: &str, retries: u32) -> Self {
        self.timeout = timeout.into();
        self.retries = retries;
        self
    }

    /// More lines in `[gitea]`.
    pub fn gitea(mut self, lines: &str) -> Self {
        self.gitea.push_str(lines);
        self
    }

    /// More lines in `[server]`.
    pub fn server(mut self, lines: &str) -> Self {
        self.server.push_str(lines);
        self
    }

    /// The webhook secret, and the 64 KiB body limit `serve` tests use.
    pub fn webhook_secret(self, secret: &str) -> Self {
        self.server(&format!(
            "webhook_secret = \"{secret}\"\nmax_body_bytes = 65536\n"
        ))
    }

    /// The database file (relative paths are beside the config file).
    pub fn db(mut self, path: &str) -> Self {
        self.db = path.into();
        self
    }

    /// The poller every `secs` (0: off), with more `[poller]` lines.
    pub fn poll(mut self, secs: u64, lines: &str) -> Self {
        self.poll_secs = secs;
        self.poller.push_str(lines);
        self
    }

    /// The protected branches of acme/widgets.
    pub fn branches(mut self, branches: &[&str]) -> Self {
        self.branches = branches.iter().map(|b| b.to_string()).collect();
        self
    }

    /// More lines in acme/widgets' `[[repo]]` (`gates = ["qa"]`).
    pub fn repo(mut self, lines: &str) -> Self {
        self.repo.push_str(lines);
        self
    }

    /// Text after the gates (more tables, more gates).
    pub fn extra(mut self, text: &str) -> Self {
        self.extra.push_str(text);
        self
    }

    pub fn render(&self) -> String {
        let Self {
            url,
            token,
            timeout,
            retries,
            gitea,
            server,
            db,
            poll_secs,
            poller,
            branches,
            repo,
            extra,
        } = self;
        let branches = branches
            .iter()
            .map(|b| format!("{b:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            r#"[gitea]
url = "{url}"
token = "{token}"
timeout = "{timeout}"
retries = {retries}
{gitea}
[server]
listen = "127.0.0.1:0"
{server}
[database]
path = "{db}"

[poller]
interval_secs = {poll_secs}
{poller}
[[repo]]
name = "acme/widgets"
branches = [{branches}]
{repo}

[gate.qa]
team = "qa"
context = "qa-review / approved"
waivable_by = ["qa", "managers"]

[gate.security]
team = "security"
context = "security-review / approved"
waivable_by = ["security", "managers"]
{extra}
"#
        )
    }
}
