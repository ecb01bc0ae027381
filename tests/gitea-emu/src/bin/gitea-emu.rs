//! `gitea-emu`: serves the fixtures' scenario (org `acme`, repo `widgets`, PR #7 by alice,
//! bob in qa, carol in security, the bot `sopbot` in both) for the demo and the load bench.
//!
//! ```text
//! gitea-emu [--listen 127.0.0.1:3000] [--latency-ms 0] [--extra-prs 0] [--approved-by LOGIN]
//!           [--flavor gitea|forgejo]
//! ```
//! Prints `url=…` and `token=…`, then serves until Ctrl-C.

use std::time::Duration;

use gitea_emu::{Emulator, Flavor, World};

const USAGE: &str =
    "usage: gitea-emu [--listen ADDR] [--latency-ms MS] [--extra-prs N] [--approved-by LOGIN] [--flavor gitea|forgejo]";

struct Args {
    listen: String,
    latency_ms: u64,
    extra_prs: u64,
    /// Users who approve PR #7 before it is served (benches/old-approach.sh).
    approved_by: Vec<String>,
    /// Answer as Gitea (default) or Forgejo.
    flavor: Flavor,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:3000".into(),
        latency_ms: 0,
        extra_prs: 0,
        approved_by: Vec::new(),
        flavor: Flavor::Gitea,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--listen" => args.listen = value.clone(),
            "--latency-ms" => args.latency_ms = number()?,
            "--extra-prs" => args.extra_prs = number()?,
            "--approved-by" => args.approved_by.push(value.clone()),
            "--flavor" => {
                args.flavor = Flavor::parse(&value)
                    .ok_or_else(|| format!("--flavor: gitea or forgejo, not {value}"))?
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut world = World::example().with_flavor(args.flavor);
    for i in 0..args.extra_prs {
        world.open_pr("widgets", "alice", "main", &format!("load/{i}"));
    }
    for login in &args.approved_by {
        world.review("widgets", 7, login, "APPROVED", "LGTM");
    }
    let emu = match Emulator::bind(world, &args.listen).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("gitea-emu: cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        }
    };
    emu.set_latency(Duration::from_millis(args.latency_ms));
    println!("url={}", emu.base_url());
    println!("token={}", emu.token());
    eprintln!(
        "gitea-emu: {:?} {} emulator for acme/widgets (PR #7), API at {}; Ctrl-C stops",
        args.flavor,
        args.flavor.version(),
        emu.api_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    emu.shutdown().await;
}
