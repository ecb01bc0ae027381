//! Throughput of the comment parser: prose-only comments (the common case: one line scan),
//! command-dense comments, and a pasted multi-MiB log (only the first 64 KiB are read).
//!
//! `cargo bench --bench parser -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sopbot::command::{parse_comment, GateNames};

/// Review prose with URLs, paths and slashes mid-line, but no `/` at a line start.
const PROSE: &[&str] = &[
    "Thanks! I had a look at https://gitea.example.com/acme/widgets/pulls/1234/files and it reads well.",
    "The change to src/bot/engine.rs looks right, but the retry in src/gitea/client.rs/retry() could",
    "back off less aggressively: the 5xx/429 case is rare and 30s/60s/120s is long for a status post.",
    "",
    "- nit: `config/sopbot.toml` still mentions /etc/sopbot in a comment (see docs/ops/runbook.md)",
    "- the migration in migrations/0003_waivers.sql should keep `created_at` as TEXT (RFC 3339)",
    "  > quoted from the issue: we need /refire to work for qa and security both",
    "",
    "Tested locally with `cargo test --all-targets` on x86_64/aarch64; CI at",
    "https://ci.example.com/acme/widgets/builds/98765/logs?step=test&attempt=2 is green.",
    "cc @bob and @carol for the security/qa side, and 1/2 of the on-call rota (see wiki/oncall).",
    "",
];

/// Commands as people write them, with the prose around them.
const COMMANDS: &[&str] = &[
    "/refire qa",
    "Docs-only change, so:",
    "/sop-n/a security-review — only README.md and docs/ changed",
    "/sop-n/a QA, Security_Review: typo fix in a comment",
    "/sop-revoke qa-review",
    "  /refire security review",
    "/sop-help",
    "/sop-na qa oops",
    "/refire all",
    "/refier qa",
    "/refire qa, security",
    "/usr/local/bin/sopbot is the binary, by the way",
];

/// Lines that start with `/` or look like commands but are not run: the worst case for the
/// region scanner and the grammar.
const SLASHY: &[&str] = &[
    "/usr/local/lib/python3.12/site-packages/foo/bar.py:123: DeprecationWarning: use /x instead",
    "/home/runner/work/widgets/widgets/target/debug/build/sopbot-1234abcd/out/generated.rs",
    "> /refire qa",
    "/cc @bob @carol",
    "```",
    "/sop-n/a qa inside a code block is not a command",
    "```",
    "<!-- /refire security -->",
    "  /api/v1/repos/acme/widgets/statuses/0123456789abcdef0123456789abcdef01234567",
];

/// `lines` cycled into a comment of about `size` bytes.
fn comment(lines: &[&str], size: usize) -> String {
    let mut out = String::with_capacity(size + 256);
    for line in lines.iter().cycle() {
        if out.len() >= size {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A 64 KiB comment of slash lines, with ten real commands spread through it.
fn dense_64k() -> String {
    let commands: Vec<&str> = COMMANDS
        .iter()
        .copied()
        .filter(|l| l.trim_start().starts_with('/') && !l.starts_with("/usr"))
        .collect();
    let mut out = String::new();
    for section in 0..10 {
        // Whole cycles only, so that every code fence is closed before the command.
        let section_start = out.len();
        while out.len() - section_start < 6 * 1024 {
            for line in SLASHY {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(commands[section % commands.len()]);
        out.push('\n');
    }
    out
}

/// A CI log pasted into a fenced block after a command: 4 MiB.
fn pasted_log() -> String {
    let mut out = String::from("/refire\nThe job failed again, here is the log:\n```\n");
    let mut i = 0u64;
    while out.len() < 4 * 1024 * 1024 {
        out.push_str(&format!(
            "2024-05-01T12:{:02}:{:02}.{:03}Z INFO  [runner] /home/runner/work/widgets/src/lib.rs:{} step {} ok\n",
            (i / 60) % 60,
            i % 60,
            i % 1000,
            i % 900,
            i
        ));
        i += 1;
    }
    out.push_str("```\n");
    out
}

fn bench(c: &mut Criterion) {
    let gates = GateNames::default_gates();

    let mut group = c.benchmark_group("prose");
    for size in [1024, 16 * 1024, 64 * 1024] {
        let body = comment(PROSE, size);
        assert!(parse_comment(&body, &gates).is_empty());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| parse_comment(black_box(body), &gates))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("commands");
    let ten = {
        let mut out = String::new();
        for (prose, command) in PROSE.iter().zip(COMMANDS) {
            out.push_str(prose);
            out.push('\n');
            out.push_str(command);
            out.push('\n');
        }
        out
    };
    let dense = dense_64k();
    for (name, body) in [("10-among-prose", &ten), ("64k-slash-lines", &dense)] {
        let parsed = parse_comment(body, &gates);
        assert_eq!(parsed.len(), 10, "{name}");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| parse_comment(black_box(body), &gates))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("pasted-log");
    let log = pasted_log();
    assert_eq!(parse_comment(&log, &gates).len(), 1);
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.bench_function("4MiB", |b| {
        b.iter(|| parse_comment(black_box(&log), &gates))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
