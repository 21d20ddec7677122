//! `pulldoctor agent`: the command line of [`crate::agent`].

use super::{Failure, Global};
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where /report and /snapshot are served: what the agent read of the cluster's IAM, ECR
    /// and network. On loopback, only who may port-forward to the pod reads them (kubectl
    /// port-forward -n pulldoctor deploy/pulldoctor-agent 8081).
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub data_listen: SocketAddr,
    /// Write a Warning Event on each pod that cannot pull, and a Normal one when it pulls (the
    /// agent's only write; needs create and patch on events.k8s.io events).
    #[arg(long)]
    pub events: bool,
    /// How long a pod fails before its first Event (a pod that pulls meanwhile gets none).
    #[arg(long, default_value = "2m", value_parser = duration, value_name = "DURATION")]
    pub event_delay: Duration,
    /// How often an unchanged diagnosis is said again while it lasts (Events expire after an
    /// hour).
    #[arg(long, default_value = "30m", value_parser = duration, value_name = "DURATION")]
    pub event_refresh: Duration,
    /// At most this many API calls a second (Kubernetes and AWS together), on average: the
    /// agent reads all day, and stays far below the APIs' throttling.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub api_rate: u32,
    /// How often the cluster and AWS are read again when no pod changes (IAM and ECR are not
    /// watched).
    #[arg(long, default_value = "5m", value_parser = duration, value_name = "DURATION")]
    pub resync: Duration,
    /// How old an AWS lookup (a role, a policy, a manifest) may be for a read that pods changing
    /// started to use it again; a resync asks everything anew. Absences and refusals are never
    /// kept. 0s: every read asks everything.
    #[arg(long, default_value = "5m", value_parser = duration, value_name = "DURATION")]
    pub aws_cache: Duration,
}

/// `90s`, `2m`, `1h`, or a number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: use 30s, 2m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?} is not a duration: use 30s, 2m or 1h")),
    };
    Ok(Duration::from_secs(seconds))
}

pub fn run(global: &Global, args: &AgentArgs) -> Result<ExitCode, Failure> {
    if global.offline() {
        return Err(Failure(
            "the agent follows a live cluster: --from and --from-agent are for diagnose and the TUI".into(),
        ));
    }
    if global.allow_writes {
        return Err(Failure(
            "the agent writes nothing but Events (--events): drop --allow-writes".into(),
        ));
    }
    let options = crate::source::live::Options {
        rate: Some(args.api_rate),
        ..super::load::live_options(global, false)
    };
    let settings = crate::agent::Settings {
        events: args.events,
        timing: crate::agent::track::Timing {
            delay: args.event_delay,
            refresh: args.event_refresh,
        },
        resync: args.resync,
        aws_cache: args.aws_cache,
    };
    let (listen, data_listen) = (args.listen, args.data_listen);
    super::block_on(async move {
        let public = bind(listen).await?;
        let data = bind(data_listen).await?;
        eprintln!(
            "pulldoctor agent: serving /metrics, /healthz, /readyz on {}; /report, /snapshot on {}; Events {}",
            public.local_addr().map_or(listen, |a| a),
            data.local_addr().map_or(data_listen, |a| a),
            if args.events { "on" } else { "off" }
        );
        crate::agent::run(options, settings, crate::agent::Listeners { public, data }).await
    })?
    .map_err(Failure)
    .map(|()| ExitCode::SUCCESS)
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    /// What the agent read of IAM and ECR is, by default, for those who may port-forward to it.
    #[test]
    fn the_read_is_served_on_loopback_by_default() {
        use clap::Parser;
        let cli = crate::cmd::Cli::try_parse_from(["pulldoctor", "agent"]).unwrap();
        let Some(crate::cmd::Command::Agent(args)) = cli.command else {
            panic!("the agent's arguments");
        };
        assert!(args.data_listen.ip().is_loopback());
        assert!(!args.listen.ip().is_loopback());
    }

    #[test]
    fn durations_read_as_kubectl_writes_them() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(duration("2d").is_err() && duration("m").is_err() && duration("").is_err());
    }
}
