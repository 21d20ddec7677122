//! `pulldoctor agent` against the stand-ins, as a process: the Event it writes on a failing pod
//! and when, a changed cause, a recovery, its metrics read back with a Prometheus parser, its
//! report, and that it writes nothing else — nothing at all without `--events`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::Harness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCENARIO: &str = "assets/scenarios/causes/pull-permissions.yaml";

/// The agent as a child process, killed when dropped.
struct Agent {
    child: Child,
    /// `/metrics`, `/healthz`, `/readyz`.
    addr: String,
    /// `/report`, `/snapshot`.
    data: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(h: &Harness, extra: &[&str]) -> Agent {
    let addr = format!("127.0.0.1:{}", support::free_port());
    let data = format!("127.0.0.1:{}", support::free_port());
    let mut args = vec!["agent", "--listen", &addr, "--data-listen", &data];
    if !extra.contains(&"--resync") {
        args.extend(["--resync", "1s"]);
    }
    args.extend_from_slice(extra);
    let child = h
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the agent starts");
    Agent { child, addr, data }
}

/// One HTTP GET: the status and the body.
async fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Polls `check` until it gives a value, for at most a minute.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn findings_gauges(metrics: &str) -> Vec<(String, f64, std::collections::HashMap<String, String>)> {
    let lines = metrics.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the metrics parse");
    scrape
        .samples
        .into_iter()
        .filter(|s| s.metric == "pulldoctor_findings")
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("a gauge, not {other:?}"),
            };
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (s.metric, value, labels)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_says_why_on_the_pod_and_in_its_metrics() {
    let h = Harness::new(Path::new(SCENARIO)).await;
    let agent = start(&h, &["--events", "--event-delay", "0s"]);
    eventually("ready", async || {
        get(&agent.addr, "/readyz").await.filter(|(s, _)| *s == 200)
    })
    .await;

    // One Warning on the pod, naming its cause in `action` and its broken link in the note.
    let first = eventually("an Event on pp-missing", async || {
        h.kube.events_about("pp-missing").into_iter().next()
    })
    .await;
    assert_eq!(first["type"], "Warning");
    assert_eq!(first["reason"], "PullDiagnosed");
    assert_eq!(first["action"], "pull-permission-missing");
    assert_eq!(first["reportingController"], "pulldoctor");
    let note = first["note"].as_str().unwrap();
    assert!(
        note.starts_with("pulldoctor: pull-permissions broken"),
        "{note}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.kube.events_about("pp-missing").len(),
        1,
        "said once while unchanged"
    );

    // The metrics, as Prometheus parses them: one series per workload and cause, no pod names.
    let (status, metrics) = get(&agent.addr, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    let gauges = findings_gauges(&metrics);
    let missing = gauges
        .iter()
        .find(|(_, _, l)| l["cause"] == "pull-permission-missing")
        .unwrap_or_else(|| panic!("{metrics}"));
    assert_eq!(missing.1, 1.0);
    assert_eq!(missing.2["link"], "pull-permissions");
    assert_eq!(missing.2["lane"], "pull");
    assert_eq!(missing.2["verdict"], "broken");
    assert!(gauges.iter().all(|(_, _, l)| !l.contains_key("pod")));
    for series in [
        "pulldoctor_build_info",
        "pulldoctor_diagnosis_duration_seconds",
        "pulldoctor_aws_requests_total{",
        "pulldoctor_kube_requests_total{",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    assert!(
        metrics.contains(r#"verb="watch",resource="pods""#),
        "{metrics}"
    );

    // The report: the schema `diagnose -o json` prints.
    let (_, report) = get(&agent.data, "/report").await.unwrap();
    let report: Value = serde_json::from_str(&report).unwrap();
    let causes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["cause"].as_str())
        .collect();
    assert!(causes.contains(&"pull-permission-missing"), "{causes:?}");

    // The cause changes (the pod moved to a node whose role is denied): a new Event says so.
    let mut pod = h.kube.object("Pod", "app", "pp-missing").unwrap();
    pod["spec"]["nodeName"] = "pp-deny-1".into();
    h.kube.replace(pod.clone());
    let changed = eventually("a second Event on pp-missing", async || {
        let events = h.kube.events_about("pp-missing");
        events
            .into_iter()
            .find(|e| e["action"] == "pull-explicit-deny")
    })
    .await;
    assert_eq!(changed["reason"], "PullDiagnosed");

    // The pod pulls (fixed elsewhere): PullRecovered, and its series is gone.
    pod["status"]["phase"] = "Running".into();
    pod["status"]["containerStatuses"][0]["state"] =
        serde_json::json!({"running": {"startedAt": "2026-12-05T12:00:00Z"}});
    pod["status"]["containerStatuses"][0]["ready"] = true.into();
    h.kube.replace(pod);
    let recovered = eventually("PullRecovered on pp-missing", async || {
        h.kube
            .events_about("pp-missing")
            .into_iter()
            .find(|e| e["reason"] == "PullRecovered")
    })
    .await;
    assert_eq!(recovered["type"], "Normal");
    let metrics = eventually("the series of pp-missing gone", async || {
        let (_, metrics) = get(&agent.addr, "/metrics").await?;
        let gauges = findings_gauges(&metrics);
        let deny = gauges
            .iter()
            .find(|(_, _, l)| l["cause"] == "pull-explicit-deny")?;
        (deny.1 == 1.0).then_some(metrics)
    })
    .await;
    assert!(!metrics.contains("pull-permission-missing"), "{metrics}");

    // Events are the only write, to the Kubernetes API; none to AWS.
    let writes = h.kube.writes();
    assert!(!writes.is_empty());
    assert!(
        writes
            .iter()
            .all(|w| w.contains("/apis/events.k8s.io/v1/namespaces/app/events")),
        "{writes:#?}"
    );
    assert_eq!(h.front.writes(), Vec::<String>::new());

    // What it asked is what deploy/ grants it: the RBAC (with the chart's Event rule) and the
    // IAM policy.
    let (_, metrics) = get(&agent.addr, "/metrics").await.unwrap();
    let (kube, aws) = requests(&metrics);
    let granted = granted_by_manifests();
    for (verb, resource) in kube {
        let events = resource == "events" && ["create", "patch"].contains(&verb.as_str());
        assert!(
            events || granted.contains(&(resource.clone(), verb.clone())),
            "{verb} {resource} is not granted by the manifests"
        );
    }
    let policy = std::fs::read_to_string("deploy/iam-policy.json").unwrap();
    assert!(!aws.is_empty());
    for action in aws {
        assert!(
            policy.contains(&format!("\"{action}\"")),
            "{action} not in the IAM policy"
        );
    }
}

/// The requests the agent counted: `(verb, resource)` of the Kubernetes API, `service:operation`
/// of AWS.
fn requests(metrics: &str) -> (Vec<(String, String)>, Vec<String>) {
    let lines = metrics.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let mut kube = Vec::new();
    let mut aws = Vec::new();
    for sample in scrape.samples {
        match sample.metric.as_str() {
            "pulldoctor_kube_requests_total" => kube.push((
                sample.labels["verb"].to_string(),
                sample.labels["resource"].to_string(),
            )),
            "pulldoctor_aws_requests_total" => aws.push(format!(
                "{}:{}",
                &sample.labels["service"], &sample.labels["operation"]
            )),
            _ => {}
        }
    }
    (kube, aws)
}

/// `(resource, verb)` the plain manifests' ClusterRole grants.
fn granted_by_manifests() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("deploy/pulldoctor-agent.yaml").unwrap();
    let documents = serde_saphyr::from_multiple::<Value>(&text).unwrap();
    let role = documents
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    let mut out = Vec::new();
    for rule in role["rules"].as_array().unwrap() {
        for resource in rule["resources"].as_array().unwrap() {
            for verb in rule["verbs"].as_array().unwrap() {
                out.push((
                    resource.as_str().unwrap().to_string(),
                    verb.as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// One sample's value in the metrics text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    let lines = metrics.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the metrics parse");
    scrape
        .samples
        .into_iter()
        .find(|s| s.metric == name)
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            other => panic!("one number, not {other:?}"),
        })
}

/// A read started by pods changing reuses the AWS lookups the first read made (a replica added
/// costs Kubernetes reads, not IAM's) and diagnoses the new pod as its twin; with
/// `--aws-cache 0s` it asks IAM again.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_for_changed_pods_reuses_aws_lookups_within_the_aws_cache() {
    for (cache, reused) in [("1h", true), ("0s", false)] {
        let h = Harness::new(Path::new(SCENARIO)).await;
        let agent = start(&h, &["--resync", "1h", "--aws-cache", cache]);
        eventually("the first read", async || {
            get(&agent.addr, "/readyz").await.filter(|(s, _)| *s == 200)
        })
        .await;
        let roles_read = || {
            let requests = h.front.requests();
            requests
                .iter()
                .filter(|r| r.starts_with("iam:GetRole|"))
                .count()
        };
        let before = roles_read();
        assert!(before > 0);

        let mut twin = h.kube.object("Pod", "app", "pp-missing").unwrap();
        twin["metadata"]["name"] = "pp-missing-twin".into();
        twin["metadata"]["uid"] = "twin-uid".into();
        h.kube.add(twin);
        let report = eventually("the twin diagnosed", async || {
            let (_, report) = get(&agent.data, "/report").await?;
            let report: Value = serde_json::from_str(&report).ok()?;
            let findings = report["findings"].as_array()?;
            let twin = findings.iter().find(|f| f["pod"] == "pp-missing-twin")?;
            Some((twin.clone(), report))
        })
        .await;
        let original = report.1["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["pod"] == "pp-missing")
            .unwrap()
            .clone();
        for field in ["verdict", "brokenLink", "cause"] {
            assert_eq!(report.0[field], original[field], "{cache}: {field}");
        }
        let (_, metrics) = get(&agent.addr, "/metrics").await.unwrap();
        let kept = sample(&metrics, "pulldoctor_aws_lookups_kept").unwrap();
        if reused {
            assert_eq!(roles_read(), before, "--aws-cache {cache}: IAM asked again");
            assert!(kept > 0.0, "{metrics}");
        } else {
            assert!(roles_read() > before, "--aws-cache {cache}: IAM not asked");
            assert!(
                kept > 0.0,
                "a read keeps its lookups for the next: {metrics}"
            );
        }
    }
}

/// `--from-agent URL` opens what the agent last read, with nothing else to reach: `diagnose`
/// says what `/report` says, the TUI shows the agent's pods; an agent not there, or a URL that is
/// not one, is one line.
#[tokio::test(flavor = "multi_thread")]
async fn from_agent_opens_what_the_agent_read() {
    let h = Harness::new(Path::new(SCENARIO)).await;
    let agent = start(&h, &["--resync", "1h"]);
    let report = eventually("a report", async || {
        let (status, body) = get(&agent.data, "/report").await?;
        (status == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
    })
    .await;
    let url = format!("http://{}", agent.data);
    // What the agent read is not served where the cluster scrapes its metrics.
    for path in ["/report", "/snapshot"] {
        let (status, _) = get(&agent.addr, path).await.unwrap();
        assert_eq!(status, 404, "{path} on the metrics listener");
    }
    // No kubeconfig and no AWS: any live call would fail.
    let offline = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"));
        command
            .args(args)
            .env("KUBECONFIG", "/nonexistent")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_ENDPOINT_URL");
        command
    };
    let out = tokio::task::block_in_place(|| {
        offline(&["diagnose", "--from-agent", &url, "-o", "json"])
            .output()
            .unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let opened: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{stderr}"));
    let verdicts = |r: &Value| -> Vec<(Value, Value, Value, Value)> {
        let mut all: Vec<_> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["pod"].clone(),
                    f["verdict"].clone(),
                    f["brokenLink"].clone(),
                    f["cause"].clone(),
                )
            })
            .collect();
        all.sort_by_key(|v| v.0.to_string());
        all
    };
    assert_eq!(verdicts(&opened), verdicts(&report));
    assert!(
        verdicts(&opened)
            .iter()
            .any(|v| v.3 == "pull-permission-missing")
    );
    assert_eq!(opened["source"]["kind"], "agent");

    let line = format!("{} --from-agent {url}", env!("CARGO_BIN_EXE_pulldoctor"));
    let terminal = support::terminal::Terminal::start("from-agent", 120, 30, &line);
    let screen = tokio::task::block_in_place(|| terminal.wait_for("pp-missing"));
    assert!(screen.contains("(agent)"), "{screen}");
    assert!(screen.contains("pull-permission-missing"), "{screen}");
    terminal.keys(&["q"]);

    let port = support::free_port();
    let nobody = format!("http://127.0.0.1:{port}");
    for (args, said) in [
        (
            vec!["diagnose", "--from-agent", nobody.as_str()],
            "cannot reach the agent",
        ),
        (
            vec!["diagnose", "--from-agent", "https://agent:8080"],
            "port-forward",
        ),
        (
            vec!["diagnose", "--from-agent", &url, "--from", SCENARIO],
            "cannot be used with",
        ),
    ] {
        let out = tokio::task::block_in_place(|| offline(&args).output().unwrap());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A pod whose sandbox cannot be created stays `ContainerCreating`; the kubelet's
/// `FailedCreatePodSandBox` event is what says so, and what starts a read of it (no resync here).
#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_failure_starts_a_read() {
    let h = Harness::new(Path::new("assets/scenarios/causes/sandbox.yaml")).await;
    let agent = start(&h, &["--resync", "1h"]);
    let finding = async |pod: &str| {
        let (_, report) = get(&agent.data, "/report").await?;
        let report: Value = serde_json::from_str(&report).ok()?;
        let findings = report["findings"].as_array()?;
        findings.iter().find(|f| f["pod"] == pod).cloned()
    };
    let original = eventually("gc diagnosed", async || finding("gc").await).await;
    assert_eq!(original["cause"], "sandbox-image-not-cached", "{original}");

    let mut pod = h.kube.object("Pod", "sb", "gc").unwrap();
    pod["metadata"]["name"] = "gc-2".into();
    h.kube.add(pod);
    let mut event = h.kube.object("Event", "sb", "gc.e").unwrap();
    event["metadata"]["name"] = "gc-2.e".into();
    event["involvedObject"]["name"] = "gc-2".into();
    h.kube.add(event);
    let twin = eventually("gc-2 diagnosed", async || finding("gc-2").await).await;
    for field in ["verdict", "brokenLink", "cause"] {
        assert_eq!(twin[field], original[field], "{field}");
    }
}

/// Where events may not be watched (RBAC without `watch` on events), pods are still followed: a
/// new failing pod is read at once, not at the next resync.
#[tokio::test(flavor = "multi_thread")]
async fn pods_are_followed_where_events_cannot_be_watched() {
    let h = Harness::new(Path::new(SCENARIO)).await;
    h.kube.fault("/api/v1/events", 403, usize::MAX);
    let agent = start(&h, &["--resync", "1h"]);
    eventually("ready", async || {
        get(&agent.addr, "/readyz").await.filter(|(s, _)| *s == 200)
    })
    .await;
    let mut twin = h.kube.object("Pod", "app", "pp-missing").unwrap();
    twin["metadata"]["name"] = "pp-missing-twin".into();
    h.kube.add(twin);
    eventually("the twin read", async || {
        let (_, report) = get(&agent.data, "/report").await?;
        report.contains("pp-missing-twin").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_events_the_agent_writes_nothing() {
    let h = Harness::new(Path::new(SCENARIO)).await;
    let agent = start(&h, &["--event-delay", "0s"]);
    eventually("a finding in the metrics", async || {
        let (_, metrics) = get(&agent.addr, "/metrics").await?;
        metrics.contains("pull-permission-missing").then_some(())
    })
    .await;
    // Several ticks past the delay: an Event would have been sent by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = h.kube.writes();
    assert_eq!(writes, Vec::<String>::new());
    assert_eq!(h.front.writes(), Vec::<String>::new());
}

#[test]
fn the_agent_refuses_what_it_cannot_do() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
            .args(args)
            .output()
            .unwrap()
    };
    let from = run(&["agent", "--from", SCENARIO]);
    assert_eq!(from.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&from.stderr).contains("follows a live cluster"));
    let writes = run(&["agent", "--allow-writes"]);
    assert_eq!(writes.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&writes.stderr).contains("nothing but Events"));
    let delay = run(&["agent", "--event-delay", "2d"]);
    assert_eq!(delay.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&delay.stderr).contains("not a duration"));
}
