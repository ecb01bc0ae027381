//! `sopbot healthcheck`: a container HEALTHCHECK without curl in the image. Asks the configured
//! listen address's `/readyz` (or `/healthz` with `--live`) and exits 0 on 200, 1 otherwise.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::Config;

use super::Outcome;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example (Dockerfile):\n  HEALTHCHECK CMD [\"sopbot\", \"healthcheck\"]\n\nExit status: 0 the bot answers 200, 1 it does not (or is not ready), 78 bad configuration."
)]
pub struct Args {
    /// Probe /healthz (the process answers) instead of /readyz (database and Gitea reachable).
    #[arg(long)]
    pub live: bool,
    /// Give up after this long (e.g. "3s").
    #[arg(long, default_value = "3s", value_parser = crate::config::duration::parse)]
    pub timeout: Duration,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<Outcome> {
    let listen: SocketAddr = config.server.listen.parse()?;
    let url = format!(
        "http://{}/{}",
        probe_addr(listen),
        if args.live { "healthz" } else { "readyz" }
    );
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        // The probe is local: never through HTTP_PROXY.
        .no_proxy()
        .build()?;
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            println!("ok: {url} answered {}", resp.status().as_u16());
            Ok(Outcome::Ok)
        }
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            println!("unhealthy: {url} answered {status}: {}", body.trim());
            Ok(Outcome::CheckFailed)
        }
        Err(e) => {
            println!("unhealthy: {url}: {}", e.without_url());
            Ok(Outcome::CheckFailed)
        }
    }
}

/// Where to connect for a listen address: a wildcard means "this host", so loopback.
fn probe_addr(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_probed_on_loopback() {
        let p = |s: &str| probe_addr(s.parse().unwrap()).to_string();
        assert_eq!(p("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(p("[::]:8080"), "[::1]:8080");
        assert_eq!(p("10.0.0.5:9000"), "10.0.0.5:9000");
    }
}
