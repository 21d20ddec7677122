//! Live sources against the stand-ins: every scenario seeded into a Kubernetes API stand-in and
//! moto gives the same report as the scenario read offline; faults leave the run complete and
//! the affected links unknown with their reason; each entity is fetched once; nothing writes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use pulldoctor::report::Report;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::Harness;

type Key = (String, Option<String>, Option<String>, String);

fn key_of(f: &Value) -> Key {
    (
        f["namespace"].as_str().unwrap_or_default().to_string(),
        f["pod"].as_str().map(str::to_string),
        f["workload"].as_str().map(str::to_string),
        f["container"].as_str().unwrap_or_default().to_string(),
    )
}

/// Differences between the offline and the live report: verdict, broken link and cause of every
/// finding, and the status of every link the offline facts decide.
fn differences(offline: &Report, live: &Value) -> Vec<String> {
    let offline = serde_json::to_value(offline).unwrap();
    let index = |r: &Value| -> BTreeMap<Key, Value> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (key_of(f), f.clone()))
            .collect()
    };
    let (a, b) = (index(&offline), index(live));
    let mut out = Vec::new();
    for (key, f) in &a {
        let Some(g) = b.get(key) else {
            out.push(format!("{key:?}: no live finding"));
            continue;
        };
        for field in ["verdict", "brokenLink", "cause"] {
            if f[field] != g[field] {
                out.push(format!(
                    "{key:?}: {field} offline {} live {} — live summary: {}",
                    f[field], g[field], g["summary"]
                ));
            }
        }
        for (la, lb) in f["links"]
            .as_array()
            .unwrap()
            .iter()
            .zip(g["links"].as_array().unwrap())
        {
            if la["status"] != "unknown" && la["status"] != lb["status"] {
                out.push(format!(
                    "{key:?}: link {} offline {} live {} ({})",
                    la["id"], la["status"], lb["status"], lb["summary"]
                ));
            }
        }
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{key:?}: only live"));
    }
    out
}

/// Findings where one set of credentials cannot see what the scenario holds: a role in another
/// account. Live must say unknown and name that account, never guess.
fn cross_account_iam(name: &str, key: &Key) -> bool {
    name == "oidc" && key.1.as_deref() == Some("other-account")
}

/// Findings that rest on a node's CredentialProviderConfig, which a bundle may hold and no API
/// serves: live, the node's credential provider is not known to read `ecr-role-arn`, so the node
/// role pulls and these are never broken there.
fn node_config_only(name: &str, finding: &serde_json::Value) -> bool {
    name == "token-pull" && finding["verdict"] != "broken"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_reads_the_same_live_as_offline() {
    let mut failures = Vec::new();
    for path in support::scenarios() {
        let harness = Harness::new(&path).await;
        let (live, out) = tokio::task::block_in_place(|| harness.live_report(&[]));
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}: exit {:?}: {}",
            harness.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(live["source"]["kind"], "live");
        let offline = harness.offline_report();
        if let Some(problems) = live.get("problems") {
            failures.push(format!("{}: live input problems {problems}", harness.name));
        }
        for d in differences(&offline, &live) {
            let exempt = live["findings"].as_array().unwrap().iter().any(|f| {
                let about = d.starts_with(&format!("{:?}", key_of(f)));
                about
                    && (node_config_only(&harness.name, f)
                        || (cross_account_iam(&harness.name, &key_of(f))
                            && f["verdict"] == "unknown"
                            && f["summary"].as_str().unwrap_or("").contains("777788889999")))
            });
            if !exempt {
                failures.push(format!("{}: {d}", harness.name));
            }
        }
        // A read-only run sends no mutating request to either stand-in.
        let writes = harness.front.writes();
        assert!(
            writes.is_empty(),
            "{}: mutating AWS requests {writes:?}",
            harness.name
        );
        assert!(
            harness
                .kube
                .requests()
                .iter()
                .all(|r| r.starts_with("GET ")),
            "{}: {:?}",
            harness.name,
            harness.kube.requests()
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/demo.yaml")
}

fn finding<'a>(report: &'a Value, pod: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["pod"] == pod)
        .unwrap_or_else(|| panic!("no finding for {pod}"))
}

fn link<'a>(report: &'a Value, pod: &str, id: &str) -> &'a Value {
    finding(report, pod)["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap()
}

fn completed(harness: &Harness, out: &std::process::Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: exit {:?}: {stderr}",
        out.status.code()
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let _ = harness;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one block per injected fault, each checked where it lands"
)]
async fn faults_leave_the_run_complete_and_the_links_unknown_with_their_reason() {
    let h = Harness::new(&demo()).await;
    let run = |h: &Harness| tokio::task::block_in_place(|| h.live_report(&[]));

    // Kubernetes: a ServiceAccount list that keeps failing, a node the RBAC hides.
    h.kube
        .fault("/namespaces/shop/serviceaccounts", 500, usize::MAX);
    h.kube
        .fault("/nodes/ip-10-0-1-11.ec2.internal", 403, usize::MAX);
    let (report, out) = run(&h);
    completed(&h, &out, "kube faults");
    let sa = link(&report, "cart-5b8d4f-q7w", "service-account");
    assert_eq!(sa["status"], "unknown", "{sa}");
    assert!(
        sa["summary"]
            .as_str()
            .unwrap()
            .contains("HTTP 500: list serviceaccounts in shop"),
        "{sa}"
    );
    let node = link(&report, "checkout-6c9e7a-m3n", "node-role");
    assert_eq!(node["status"], "unknown", "{node}");
    assert!(
        node["summary"]
            .as_str()
            .unwrap()
            .contains("needs RBAC verb \"get\" on \"nodes\""),
        "{node}"
    );
    // The 500 was retried before it was given up.
    let sa_requests = h
        .kube
        .requests()
        .iter()
        .filter(|r| r.contains("/namespaces/shop/serviceaccounts"))
        .count();
    assert_eq!(sa_requests, 3, "three tries");

    // Passing faults are retried away: the report is the one without faults.
    h.kube.clear();
    h.front.clear();
    let (clean, _) = run(&h);
    h.kube.clear();
    h.kube.fault("/api/v1/pods", 429, 2);
    h.front
        .fault("ecr:DescribeRepositories", "ThrottlingException", 2);
    h.front.fault("iam:GetRole", "Throttling", 1);
    let (retried, out) = run(&h);
    completed(&h, &out, "throttling");
    assert_eq!(differences_between(&clean, &retried), Vec::<String>::new());
    assert!(
        h.front
            .operations()
            .iter()
            .filter(|o| *o == "ecr:DescribeRepositories")
            .count()
            >= 4
    );

    // AWS AccessDenied on each kind of call: the run completes and says what it could not read.
    let cases: &[(&str, Option<(&str, &str)>)] = &[
        ("sts:GetCallerIdentity", None),
        (
            "eks:DescribeCluster",
            Some(("api-58d7c9-t4r", "trust-policy")),
        ),
        (
            "eks:DescribeNodegroup",
            Some(("checkout-6c9e7a-m3n", "node-role")),
        ),
        (
            "eks:DescribeFargateProfile",
            Some(("export-29013-4hq7d", "node-role")),
        ),
        (
            "eks:ListPodIdentityAssociations",
            Some(("metrics-6d9c8b-r5t", "role-annotation")),
        ),
        ("iam:GetRole", Some(("checkout-6c9e7a-m3n", "node-role"))),
        (
            "iam:ListAttachedRolePolicies",
            Some(("checkout-6c9e7a-m3n", "node-role")),
        ),
        (
            "iam:ListRolePolicies",
            Some(("checkout-6c9e7a-m3n", "node-role")),
        ),
        ("iam:GetPolicy", None),
        (
            "iam:ListOpenIDConnectProviders",
            Some(("api-58d7c9-t4r", "oidc-provider")),
        ),
        (
            "ecr:DescribeRepositories",
            Some(("cart-5b8d4f-q7w", "repository")),
        ),
        // BatchGetImage's ImageNotFound still answers for the image: see below.
        ("ecr:DescribeImages", None),
        (
            "ecr:GetRepositoryPolicy",
            Some(("cart-5b8d4f-q7w", "repository-policy")),
        ),
        (
            "ecr:BatchGetImage",
            Some(("invoicer-7d6f5c-z9x", "platform")),
        ),
    ];
    for (op, affected) in cases {
        h.kube.clear();
        h.front.clear();
        h.front.fault(op, "AccessDeniedException", usize::MAX);
        let (report, out) = run(&h);
        completed(&h, &out, op);
        assert!(
            h.front.operations().iter().any(|o| o == op),
            "{op} was never called"
        );
        if let Some((pod, id)) = affected {
            let l = link(&report, pod, id);
            let summary = l["summary"].as_str().unwrap();
            assert!(
                matches!(l["status"].as_str(), Some("unknown" | "skipped")),
                "{op}: {pod} {id} is {l}"
            );
            assert!(
                summary.contains("AccessDenied") || summary.contains(op.split(':').nth(1).unwrap()),
                "{op}: {pod} {id}: {summary}"
            );
            // Never a verdict on a fact it could not read.
            assert_ne!(l["status"], "broken", "{op}");
        }
    }

    // The image link is read twice over: with DescribeImages refused, BatchGetImage's
    // ImageNotFound settles it; with both refused it is unknown and names a refused call.
    h.front.clear();
    h.front
        .fault("ecr:DescribeImages", "AccessDeniedException", usize::MAX);
    let (report, _) = run(&h);
    let image = link(&report, "cart-5b8d4f-q7w", "image");
    assert_eq!(image["cause"], "image-tag-missing", "{image}");
    assert_eq!(
        image["evidence"][0], "ecr:BatchGetImage answers ImageNotFound",
        "{image}"
    );
    h.front.clear();
    for op in ["ecr:DescribeImages", "ecr:BatchGetImage"] {
        h.front.fault(op, "AccessDeniedException", usize::MAX);
    }
    let (report, _) = run(&h);
    let image = link(&report, "cart-5b8d4f-q7w", "image");
    assert_eq!(image["status"], "unknown", "{image}");
    assert!(
        image["summary"].as_str().unwrap().contains("AccessDenied"),
        "{image}"
    );

    // A server too slow for the timeout: one clear line, no panic.
    h.kube.clear();
    h.front.clear();
    *h.kube.state.latency.lock().unwrap() = std::time::Duration::from_millis(1500);
    let out = tokio::task::block_in_place(|| h.run(&["diagnose", "--timeout", "1"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("pulldoctor: list pods")
            && stderr.contains("timed out")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
}

fn differences_between(a: &Value, b: &Value) -> Vec<String> {
    let pick = |r: &Value| -> Vec<(Key, Value, Value, Value)> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    key_of(f),
                    f["verdict"].clone(),
                    f["brokenLink"].clone(),
                    f["cause"].clone(),
                )
            })
            .collect()
    };
    let (x, y) = (pick(a), pick(b));
    x.iter()
        .filter(|f| !y.contains(f))
        .map(|f| format!("{f:?}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_entity_is_fetched_once_and_only_for_failing_pods() {
    let h = Harness::new(&demo()).await;
    let (_, out) = tokio::task::block_in_place(|| h.live_report(&[]));
    completed(&h, &out, "all pods");
    let aws = h.front.requests();
    let kube = h.kube.requests();
    let duplicates = |list: &[String]| -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        list.iter()
            .filter(|r| !seen.insert((*r).clone()))
            .cloned()
            .collect()
    };
    assert_eq!(
        duplicates(&aws),
        Vec::<String>::new(),
        "AWS lookups repeated"
    );
    assert_eq!(
        duplicates(&kube),
        Vec::<String>::new(),
        "Kubernetes lookups repeated"
    );
    let count = |op: &str| {
        aws.iter()
            .filter(|r| r.starts_with(&format!("{op}|")))
            .count()
    };
    // Roles: 4 node/Fargate roles + 5 app roles of the demo, each read once.
    assert_eq!(count("iam:GetRole"), 9, "{aws:#?}");
    assert_eq!(
        count("ecr:DescribeRepositories"),
        2,
        "one per registry and region"
    );
    assert_eq!(count("sts:GetCallerIdentity"), 1);
    assert_eq!(count("eks:DescribeCluster"), 1);
    // CloudTrail: one page per EC2 instance a pod that cannot pull waits on, no more.
    let offline = h.offline_report();
    let failing_instances: std::collections::BTreeSet<String> = offline
        .findings
        .iter()
        .filter(|f| f.failing && f.state != "ContainerCreating")
        .filter_map(|f| {
            let pod = h.facts.pods.iter().find(|p| {
                p.metadata.name == f.pod && p.metadata.namespace.as_deref() == Some(&f.namespace)
            })?;
            let node = h
                .facts
                .nodes
                .get(pod.spec.as_ref()?.node_name.as_deref()?)?;
            let provider = node.spec.as_ref()?.provider_id.as_deref()?;
            Some(provider.rsplit('/').next()?.to_string())
        })
        .filter(|id| id.starts_with("i-"))
        .collect();
    assert!(!failing_instances.is_empty());
    let lookups = |attribute: &str| {
        aws.iter()
            .filter(|r| r.starts_with("cloudtrail:LookupEvents|") && r.contains(attribute))
            .count()
    };
    assert_eq!(
        lookups("\"Username\",\"AttributeValue\":\"i-"),
        failing_instances.len(),
        "{failing_instances:?}: {aws:#?}"
    );
    // The token exchanges of the one restarting pod whose ServiceAccount has an IRSA role of the
    // account (the demo's billing/api, refused by its trust policy), and nobody else's.
    let subjects: Vec<&String> = aws
        .iter()
        .filter(|r| r.contains("\"AttributeValue\":\"system:serviceaccount:"))
        .collect();
    assert_eq!(
        subjects,
        [&"cloudtrail:LookupEvents|[{\"AttributeKey\":\"Username\",\"AttributeValue\":\"system:serviceaccount:billing:api\"}]".to_string()]
    );
    // For Fargate's pod execution role, whose session names are not known ahead: each failing
    // Fargate pod's repository, by resource name.
    let fargate_repositories: std::collections::BTreeSet<String> = offline
        .findings
        .iter()
        .filter(|f| {
            f.failing && f.pull_identity.kind == pulldoctor::report::PullIdentityKind::FargateRole
        })
        .filter_map(|f| match pulldoctor::ecr::reference::parse(&f.image) {
            Ok(pulldoctor::ecr::reference::ImageRef::Ecr(e)) => Some(e.repository_arn()),
            _ => None,
        })
        .collect();
    assert!(!fargate_repositories.is_empty());
    for arn in &fargate_repositories {
        assert_eq!(
            lookups(&format!("\"ResourceName\",\"AttributeValue\":\"{arn}\"")),
            1,
            "{arn}: {aws:#?}"
        );
    }
    // And why an image of one's own registry is gone: one page of each call that removes an
    // image or moves a tag, per Region such an image is missing in.
    let account = h.facts.source.account.clone().unwrap_or_default();
    let missing_regions: std::collections::BTreeSet<String> = offline
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.cause.map(|c| c.as_str()),
                Some("image-tag-missing" | "image-digest-missing")
            )
        })
        .filter_map(|f| match pulldoctor::ecr::reference::parse(&f.image) {
            Ok(pulldoctor::ecr::reference::ImageRef::Ecr(e)) if e.account == account => {
                Some(e.region)
            }
            _ => None,
        })
        .collect();
    assert!(!missing_regions.is_empty());
    assert_eq!(
        lookups("\"EventName\""),
        3 * missing_regions.len(),
        "{missing_regions:?}: {aws:#?}"
    );
    assert_eq!(
        count("cloudtrail:LookupEvents"),
        failing_instances.len()
            + subjects.len()
            + fargate_repositories.len()
            + 3 * missing_regions.len()
    );
    println!(
        "all pods: {} AWS requests, {} Kubernetes requests",
        aws.len(),
        kube.len()
    );

    // Without --all only the pods that cannot pull are looked into: no app role of a healthy pod.
    h.front.clear();
    h.kube.clear();
    let out = tokio::task::block_in_place(|| h.run(&["diagnose", "--output", "json"]));
    completed(&h, &out, "failing pods");
    let lazy = h.front.requests();
    assert!(
        !lazy.iter().any(|r| r.contains("RoleName=shop-web")),
        "a healthy pod's role was read: {lazy:#?}"
    );
    assert!(
        !lazy
            .iter()
            .any(|r| r.starts_with("ecr:DescribeImages|") && r.contains("shop/web")),
        "{lazy:#?}"
    );
    assert!(lazy.len() < aws.len());
    println!(
        "failing pods only: {} AWS requests, {} Kubernetes requests",
        lazy.len(),
        h.kube.requests().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_replays_to_the_same_report() {
    let h = Harness::new(&demo()).await;
    // A tenant's secrets in its pod: an environment value, an argument, the copy `kubectl
    // apply` keeps. None of them is read by the diagnosis; none may leave in a snapshot.
    let mut pod = h
        .kube
        .object("Pod", "billing", "invoicer-7d6f5c-z9x")
        .unwrap();
    pod["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        "{\"password\":\"pw-in-annotation\"}".into();
    let app = &mut pod["spec"]["containers"][0];
    app["args"] = serde_json::json!(["--token=pw-in-args"]);
    app["env"] = serde_json::json!([{"name": "DB_PASSWORD", "value": "pw-in-env"}]);
    h.kube.replace(pod);
    let dir = support::TempDir::new("snapshot");
    let file = dir.0.join("snap.json");
    let out = tokio::task::block_in_place(|| {
        h.run(&["snapshot", "--all", "--out", file.to_str().unwrap()])
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (live, _) = tokio::task::block_in_place(|| h.live_report(&[]));
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args([
            "diagnose",
            "--all",
            "--output",
            "json",
            "--from",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let replayed: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(replayed["source"]["kind"], "snapshot");
    assert_eq!(
        live["findings"], replayed["findings"],
        "the snapshot replays to the same findings"
    );
    let plain = std::fs::read_to_string(&file).unwrap();
    for secret in ["pw-in-annotation", "pw-in-args", "pw-in-env"] {
        assert!(!plain.contains(secret), "{secret} was kept in the snapshot");
    }
    assert!(plain.contains("DB_PASSWORD"), "a variable keeps its name");
    // Redacted: no account id or role name left, and the same verdicts.
    let redacted = dir.0.join("redacted.json");
    let out = tokio::task::block_in_place(|| {
        h.run(&[
            "snapshot",
            "--all",
            "--redact",
            "--out",
            redacted.to_str().unwrap(),
        ])
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&redacted).unwrap();
    for secret in [
        "111122223333",
        "444455556666",
        "eks-node-legacy",
        "shop-checkout",
        "prod-east",
        "data/exporter",
    ] {
        assert!(!text.contains(secret), "{secret} survived redaction");
    }
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args([
            "diagnose",
            "--all",
            "--output",
            "json",
            "--from",
            redacted.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let replayed: Value = serde_json::from_slice(&replay.stdout).unwrap();
    let verdicts = |r: &Value| -> Vec<(Value, Value, Value, Value, Value)> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["namespace"].clone(),
                    f["pod"].clone(),
                    f["verdict"].clone(),
                    f["brokenLink"].clone(),
                    f["cause"].clone(),
                )
            })
            .collect()
    };
    let mut a = verdicts(&live);
    let mut b = verdicts(&replayed);
    a.sort_by_key(|x| format!("{x:?}"));
    b.sort_by_key(|x| format!("{x:?}"));
    assert_eq!(a, b, "a redacted snapshot diagnoses the same");
    // A snapshot never carries Secret data: pulldoctor does not read Secrets at all.
    assert!(!h.kube.requests().iter().any(|r| r.contains("secrets")));
}

/// The TUI on a live cluster: it opens at once, reads in the background, and shows the pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_reads_a_live_cluster_in_the_background() {
    let h = Harness::new(&demo()).await;
    let screen = h.terminal("live", &[], &[]);
    // The whole read: its end waits for CloudTrail's pages, and while it is under way each row
    // carries a ⟳ that narrows the pod column.
    let text = tokio::task::block_in_place(|| {
        screen.wait_within(std::time::Duration::from_secs(90), "the whole read", |s| {
            s.contains("pods (16)") && !s.contains("read so far")
        })
    });
    assert!(
        text.contains("prod-east") && text.contains("(live)"),
        "{text}"
    );
    // At 100 columns the causes are whole and long pod names give way.
    assert!(text.contains("checkout-6c9e"), "{text}");
}

/// Following: a pod that starts failing after the TUI opened appears without a keypress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_follows_the_cluster_with_a_watch() {
    let h = Harness::new(&demo()).await;
    let screen = h.terminal("follow", &[], &[]);
    tokio::task::block_in_place(|| screen.wait_for("pods (16)"));
    // Once the watch is open (the stand-in does not replay missed events), a new pod fails.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !h.kube.requests().iter().any(|r| r.contains("watch=true")) {
        assert!(std::time::Instant::now() < deadline, "no watch was opened");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lists = |h: &Harness| {
        h.kube
            .requests()
            .iter()
            .filter(|r| r.contains("/pods?") && !r.contains("watch"))
            .count()
    };
    let lists_before = lists(&h);
    h.kube.add(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "late-1", "namespace": "shop", "creationTimestamp": "2026-11-28T10:09:00Z"},
        "spec": {"nodeName": "ip-10-0-1-10.ec2.internal", "containers": [{"name": "late", "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/cart:9.9"}]},
        "status": {"containerStatuses": [{"name": "late", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}}));
    let text = tokio::task::block_in_place(|| screen.wait_for("pods (17)"));
    assert!(text.contains("late-1"), "{text}");
    // Not polling: one new read after the change, not one per interval.
    let lists_after = lists(&h);
    assert!(
        lists_after - lists_before <= 2,
        "{lists_before} → {lists_after}"
    );
}

/// The fix pane applies: open the fix, confirm with a typed yes, see the link turn ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_applies_a_fix_and_shows_the_link_turn_ok() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/trust.yaml"),
    )
    .await;
    let state = support::TempDir::new("tui-apply");
    let screen = h.terminal(
        "apply",
        &["--allow-writes"],
        &[("PULLDOCTOR_STATE_DIR", state.0.to_str().unwrap())],
    );
    tokio::task::block_in_place(|| {
        screen.wait_for("pods (");
        screen.keys(&["/", "t-subject", "Enter"]);
        screen.wait_for("pods (1)");
        screen.keys(&["Enter"]);
        let chain = screen.wait_for("trust-wrong-subject");
        assert!(chain.contains("▶├ ✗ BROKEN   trust-policy"), "{chain}");
        screen.keys(&["f", "a"]);
        screen.wait_for("type yes to apply");
        screen.keys(&["yes", "Enter"]);
        screen.wait_for("applied iam:UpdateAssumeRolePolicy");
        screen.keys(&["Escape"]);
        let after = screen.wait_for("✓ ok       trust-policy");
        assert!(!after.contains("trust-wrong-subject"), "{after}");
    });
    let log = std::fs::read_to_string(state.0.join("changes.log")).expect("the change is logged");
    assert!(
        log.contains("t-subject-v2"),
        "the backup holds the original trust policy: {log}"
    );
}

/// `r` reads the selected pod again — that pod alone — and shows what changed elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_reads_the_selected_pod_again() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/trust.yaml"),
    )
    .await;
    let backups = support::TempDir::new("refresh-backups");
    let screen = h.terminal("refresh", &[], &[]);
    tokio::task::block_in_place(|| {
        screen.wait_for("pods (");
        screen.keys(&["/", "t-subject", "Enter"]);
        screen.wait_for("pods (1)");
        screen.keys(&["Enter"]);
        screen.wait_for("▶├ ✗ BROKEN   trust-policy");
    });
    // Someone fixes the trust policy from another terminal; the TUI cannot know.
    let out = h.fix("app/t-subject", &backups.0, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    h.kube.clear();
    tokio::task::block_in_place(|| {
        screen.keys(&["r"]);
        screen.wait_for("✓ ok       trust-policy");
    });
    // Only that pod was read: its own list by name, never a list of every pod.
    let pod_reads: Vec<String> = h
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.contains("/pods") && !r.contains("watch"))
        .collect();
    assert!(!pod_reads.is_empty(), "the pod was read again");
    assert!(
        pod_reads
            .iter()
            .all(|r| r.contains("/namespaces/app/pods") && r.contains("metadata.name%3Dt-subject")),
        "{pod_reads:#?}"
    );
}

/// `:ctx NAME` switches to another kube context: the other cluster's pods replace the first's,
/// and what the first one's reads send afterwards is not mixed in. Each context is connected
/// once for the whole TUI session — its kubeconfig exec plugin (`aws eks get-token`) run once,
/// its AWS credentials resolved once — however often it is read again, followed or switched back
/// to: counted by an exec plugin and a `credential_process` that log every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_switches_to_another_cluster_with_one_session_per_context() {
    let a = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/trust.yaml"),
    )
    .await;
    let b = Harness::new(&demo()).await;
    let dir = support::TempDir::new("sessions");
    let runs = |name: &str| dir.0.join(format!("{name}.runs"));
    let script = |name: &str, body: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let get_token = script(
        "get-token",
        &format!(
            "echo \"$1\" >> {}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"test-token\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}}}'",
            runs("kube").display()
        ),
    );
    let credentials = script(
        "credentials",
        &format!(
            "echo run >> {}\nprintf '{{\"Version\":1,\"AccessKeyId\":\"testing\",\"SecretAccessKey\":\"testing\",\"Expiration\":\"2099-01-01T00:00:00Z\"}}'",
            runs("aws").display()
        ),
    );
    let aws_config = dir.0.join("aws-config");
    std::fs::write(
        &aws_config,
        format!("[profile counted]\nregion = us-east-1\ncredential_process = {credentials}\n"),
    )
    .unwrap();
    let user = |name: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {get_token}\n      args: [\"{name}\"]\n      interactiveMode: Never\n"
        )
    };
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: first\nclusters:\n- name: \"{}\"\n  cluster:\n    server: http://{}\n- name: \"{}\"\n  cluster:\n    server: http://{}\ncontexts:\n- name: first\n  context:\n    cluster: \"{}\"\n    user: first\n- name: second\n  context:\n    cluster: \"{}\"\n    user: second\nusers:\n{}{}",
        a.cluster_arn,
        a.kube.addr,
        b.cluster_arn,
        b.kube.addr,
        a.cluster_arn,
        b.cluster_arn,
        user("first"),
        user("second")
    );
    std::fs::write(&a.kubeconfig, kubeconfig).unwrap();
    let aws_config = aws_config.display().to_string();
    let screen = a.terminal(
        "ctx",
        &["--profile", "counted"],
        &[
            ("AWS_CONFIG_FILE", &aws_config),
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ],
    );
    let read_again = |pods: &str| {
        screen.keys(&["r"]);
        screen.wait_until(&format!("{pods} read again"), |s| {
            s.contains(pods) && !s.contains("⟳")
        });
    };
    let lines = |name: &str| -> Vec<String> {
        std::fs::read_to_string(runs(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let count = |name: &str, line: &str| lines(name).iter().filter(|l| *l == line).count();
    let (first_connect, second_connect) = tokio::task::block_in_place(|| {
        let first = screen.wait_for("pods (9)");
        assert!(first.contains("t-subject"), "{first}");
        let first_connect = (count("kube", "first"), count("aws", "run"));
        read_again("pods (9)");
        read_again("pods (9)");
        screen.keys(&[":", "ctx", "Enter"]);
        screen.wait_for("contexts: first (in use), second");
        screen.keys(&[":", "ctx second", "Enter"]);
        let second = screen.wait_for("pods (16)");
        assert!(
            second.contains("prod-east") && second.contains("checkout-6c9e"),
            "{second}"
        );
        assert!(!second.contains("t-subject"), "{second}");
        let second_connect = (count("kube", "second"), count("aws", "run"));
        read_again("pods (16)");
        screen.keys(&[":", "ctx first", "Enter"]);
        screen.wait_for("pods (9)");
        read_again("pods (9)");
        (first_connect, second_connect)
    });
    assert!(
        b.kube.requests().iter().any(|r| r.contains("/pods")),
        "the second context's API server was read"
    );
    // Connecting runs the plugin (kube-rs asks it for a token and for client certificates)
    // and resolves credentials once; reading again, following and switching back do neither.
    assert!(
        first_connect.0 >= 1 && first_connect.1 == 1,
        "{first_connect:?}"
    );
    assert_eq!(
        count("kube", "first"),
        first_connect.0,
        "{:?}",
        lines("kube")
    );
    assert_eq!(
        count("kube", "second"),
        second_connect.0,
        "{:?}",
        lines("kube")
    );
    assert_eq!(second_connect.1, 2, "one AWS configuration per context");
    assert_eq!(
        count("aws", "run"),
        2,
        "credential_process runs: one per context"
    );
}

/// Credentials that cannot work stop the run with one line that names the fix (every AWS link
/// would otherwise be unknown for the same reason); a named pod is read whether it fails or not,
/// and a named pod that is not there is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_failures_and_named_pods() {
    let h = Harness::new(&demo()).await;
    tokio::task::block_in_place(|| {
        let one_line_exit_2 = |out: &std::process::Output, needle: &str| {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(err.contains(needle), "{needle} in {err}");
            assert!(
                !err.contains("DispatchFailure") && !err.contains("Extensions"),
                "{err}"
            );
        };
        let mut none = h.command(&["diagnose"]);
        none.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        one_line_exit_2(&none.output().unwrap(), "no usable AWS credentials");

        let config =
            std::env::temp_dir().join(format!("pulldoctor-broken-aws-{}", std::process::id()));
        std::fs::write(
            &config,
            "[profile broken\nregion = us-east-1\nsso_start_url = x\n",
        )
        .unwrap();
        let mut broken = h.command(&["diagnose", "--profile", "broken"]);
        broken
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_CONFIG_FILE", &config);
        let out = broken.output().unwrap();
        one_line_exit_2(&out, "--profile");
        let _ = std::fs::remove_file(&config);

        let out = h.run(&["diagnose", "--all", "shop/web-7f9c6d-x2x"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("✓ ok  shop/web-7f9c6d-x2x"));
        one_line_exit_2(
            &h.run(&["diagnose", "shop/typo"]),
            "pod shop/typo is not in the input",
        );
    });
}

/// An AWS endpoint that accepts connections and never answers costs one `--timeout` budget per
/// service, not one per wave of lookups: later calls to it are not tried, and say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_aws_endpoint_is_waited_for_once() {
    let h = Harness::new(&demo()).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    tokio::task::block_in_place(|| {
        let mut command = h.command(&["diagnose", "--timeout", "1", "--output", "json"]);
        command.env("AWS_ENDPOINT_URL", &url);
        let started = std::time::Instant::now();
        let out = command.output().unwrap();
        // Said, not asserted: speed is measured, not tested.
        eprintln!(
            "a silent AWS endpoint with --timeout 1: {:?}",
            started.elapsed()
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = report.to_string();
        assert!(text.contains("timed out"), "{text}");
        assert!(text.contains("not tried"), "{text}");
    });
    held.abort();
}

/// A Kubernetes API answer that never ends is read up to --max-input-mb, then the call fails
/// with one line — memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_stops_at_the_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = server.local_addr().unwrap();
    let endless = tokio::spawn(async move {
        while let Ok((mut socket, _)) = server.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 65536, " ".repeat(65536));
                // Bounded: 64 MiB at most, far past the 1 MiB cap.
                for _ in 0..1024 {
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let kubeconfig =
        std::env::temp_dir().join(format!("pulldoctor-endless-{}", std::process::id()));
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n    server: http://{address}\ncontexts:\n- name: t\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n")).unwrap();
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
            .args([
                "diagnose",
                "--max-input-mb",
                "1",
                "--cluster",
                "lab",
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("list pods"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    endless.abort();
    let _ = std::fs::remove_file(&kubeconfig);
}

/// A pod list whose pages never end (a fresh continue token every time) stops at the page
/// limit with one line, exit 2 — never a read that runs forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_whose_pages_never_end_stops_at_the_page_limit() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pages = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = pages.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            axum::Json(serde_json::json!({
                "apiVersion": "v1", "kind": "PodList",
                "metadata": {"resourceVersion": "1", "continue": format!("page-{n}")},
                "items": []
            }))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let kubeconfig = std::env::temp_dir().join(format!("pulldoctor-pages-{}", std::process::id()));
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n    server: http://{address}\ncontexts:\n- name: t\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n")).unwrap();
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
            .args(["diagnose", "--cluster", "lab", "--kubeconfig"])
            .arg(&kubeconfig)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("pages did not end"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // The page limit, not a page more: 2,000 pages of each list read (the pods, and the events
    // read beside them), then the read stops.
    assert!(
        pages.load(Ordering::SeqCst) <= 4_000,
        "{}",
        pages.load(Ordering::SeqCst)
    );
    server.abort();
    let _ = std::fs::remove_file(&kubeconfig);
}

/// The network lane read live: the nodes' instances and each VPC once; EC2 refusing a read
/// leaves the network link `unknown`, naming the call — never a guess from the event alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_path_is_read_once_per_vpc_and_a_refusal_is_unknown() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/network-path.yaml"),
    )
    .await;
    let run = |h: &Harness| tokio::task::block_in_place(|| h.live_report(&[]));
    let (report, out) = run(&h);
    completed(&h, &out, "network");
    let ops = h.front.operations();
    let count = |op: &str| ops.iter().filter(|o| *o == op).count();
    assert_eq!(count("ec2:DescribeInstances"), 1, "{ops:?}");
    assert_eq!(count("ec2:DescribeNetworkInterfaces"), 1, "{ops:?}");
    // Eight VPCs (seven of nodes, one of a Fargate pod), each read whole once.
    assert_eq!(count("ec2:DescribeRouteTables"), 8, "{ops:?}");
    assert_eq!(count("ec2:DescribeVpcEndpoints"), 8, "{ops:?}");
    let fargate = link(&report, "fargate-private", "network");
    assert_eq!(fargate["cause"], "vpc-endpoint-missing", "{fargate}");
    assert_eq!(fargate["path"][0]["kind"], "pod-interface", "{fargate}");
    let network = link(&report, "s3-not-on-table", "network");
    assert_eq!(
        network["cause"], "s3-gateway-not-on-route-table",
        "{network}"
    );

    h.front.clear();
    h.front.fault(
        "ec2:DescribeVpcEndpoints",
        "UnauthorizedOperation",
        usize::MAX,
    );
    let (report, out) = run(&h);
    completed(&h, &out, "endpoints refused");
    let network = link(&report, "s3-not-on-table", "network");
    assert_eq!(network["status"], "unknown", "{network}");
    let summary = network["summary"].as_str().unwrap();
    assert!(
        summary.contains("grant ec2:DescribeVpcEndpoints"),
        "{summary}"
    );

    h.front.clear();
    h.front
        .fault("ec2:DescribeInstances", "UnauthorizedOperation", usize::MAX);
    let (report, _) = run(&h);
    let network = link(&report, "no-endpoints", "network");
    assert_eq!(network["status"], "unknown", "{network}");
    assert!(
        network["summary"]
            .as_str()
            .unwrap()
            .contains("ec2:DescribeInstances"),
        "{network}"
    );

    h.front.clear();
    h.front.fault(
        "ec2:DescribeNetworkInterfaces",
        "UnauthorizedOperation",
        usize::MAX,
    );
    let (report, _) = run(&h);
    let network = link(&report, "fargate-private", "network");
    assert_eq!(network["status"], "unknown", "{network}");
    assert!(
        network["summary"]
            .as_str()
            .unwrap()
            .contains("ec2:DescribeNetworkInterfaces"),
        "{network}"
    );
}

/// A live read on a terminal shows its stage and counts on stderr while it runs and clears the
/// line at the end; with --quiet, or when stderr is not a terminal, nothing — stdout stays the
/// report alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_read_shows_progress_on_a_terminal_only() {
    let h = Harness::new(&demo()).await;
    *h.front.state.latency.lock().unwrap() = std::time::Duration::from_millis(250);
    let dir = support::TempDir::new("progress");
    tokio::task::block_in_place(|| {
        let piped = h.command(&["diagnose", "-o", "json"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
        assert!(report["findings"].as_array().is_some());
        let err = String::from_utf8_lossy(&piped.stderr);
        assert!(!err.contains("to diagnose"), "{err}");
        for (name, quiet) in [("progress", false), ("quiet", true)] {
            let out = dir.0.join(format!("{name}.json"));
            let mut args = vec!["diagnose", "-o", "json"];
            if quiet {
                args.push("--quiet");
            }
            // stdout to a file, stderr to the terminal; the pane stays after the run.
            let line = format!(
                "{} > {}; echo finished; sleep 60",
                h.shell_line(&args, &[]),
                out.display()
            );
            let screen = support::terminal::Terminal::start(name, 120, 20, &line);
            let mut seen_progress = false;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let now = screen.screen();
                seen_progress |= now.contains("pod(s) to diagnose") || now.contains("role(s)");
                if now.contains("finished") {
                    // Cleared at the end: only the shell's line is left.
                    assert!(!now.contains("role(s)"), "{now}");
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{now}");
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
            assert_eq!(seen_progress, !quiet, "{name}");
            let report: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
            assert!(report["findings"].as_array().is_some());
        }
    });
}

/// `pulldoctor -n NS POD` on a live cluster (the k9s plugin's command): that pod is read alone
/// and its chain opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_opens_on_one_pod_reading_it_alone() {
    let h = Harness::new(&demo()).await;
    let screen = h.terminal("one-pod", &["-n", "shop", "checkout-6c9e7a-m3n"], &[]);
    let chain = tokio::task::block_in_place(|| screen.wait_for("PULL LANE"));
    assert!(chain.contains("shop/checkout-6c9e7a-m3n"), "{chain}");
    assert!(chain.contains("pull-permission-missing"), "{chain}");
    let pod_reads: Vec<String> = h
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.contains("/pods?") && !r.contains("watch"))
        .collect();
    // (The watch that follows the cluster lists every pod on its own.)
    assert!(
        pod_reads
            .iter()
            .any(|r| r.contains("/namespaces/shop/pods?")
                && r.contains("metadata.name%3Dcheckout-6c9e7a-m3n")),
        "{pod_reads:?}"
    );
    screen.keys(&["q"]);
}

/// A cluster of several pod-list pages (500 pods a page): each page's failing pods are looked
/// into as the page arrives — before the last page is even asked for — every entity the pages
/// share is fetched once, and a failing pod on a later page is diagnosed as its twin on the
/// first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_looked_into_as_they_arrive_and_share_each_lookup() {
    let dir = support::TempDir::new("pages");
    let bundle = pulldoctor::source::bundle::read(&demo()).unwrap();
    let mut documents: Vec<Value> = bundle.documents.iter().map(|d| d.value.clone()).collect();
    let list = documents
        .iter_mut()
        .find(|d| {
            d["kind"] == "List"
                && d["items"]
                    .as_array()
                    .is_some_and(|i| i.iter().any(|o| o["kind"] == "Pod"))
        })
        .unwrap();
    let items = list["items"].as_array_mut().unwrap();
    let originals: Vec<Value> = items
        .iter()
        .filter(|o| {
            o["kind"] == "Pod" || (o["kind"] == "Event" && o["involvedObject"]["kind"] == "Pod")
        })
        .cloned()
        .collect();
    let healthy = originals
        .iter()
        .find(|o| o["metadata"]["name"] == "web-7f9c6d-x2x")
        .unwrap()
        .clone();
    // Healthy pods fill pages; a twin of every demo pod (and its events) sits on the third and
    // on the sixth page.
    for (fillers, suffix) in [(1_200, "p3"), (1_300, "p6")] {
        for i in 0..fillers {
            let mut pod = healthy.clone();
            pod["metadata"]["name"] = serde_json::json!(format!("filler-{suffix}-{i}"));
            items.push(pod);
        }
        for original in &originals {
            let mut twin = original.clone();
            let name = |o: &Value| format!("{}-{suffix}", o.as_str().unwrap());
            twin["metadata"]["name"] = serde_json::json!(name(&twin["metadata"]["name"]));
            if twin["kind"] == "Event" {
                twin["involvedObject"]["name"] =
                    serde_json::json!(name(&twin["involvedObject"]["name"]));
            }
            items.push(twin);
        }
    }
    let path = dir.0.join("pages.json");
    let snapshot = serde_json::json!({"source": bundle.source, "documents": documents});
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let h = Harness::new(&path).await;
    *h.kube.state.latency.lock().unwrap() = std::time::Duration::from_millis(100);
    let out = tokio::task::block_in_place(|| h.run(&["diagnose", "--output", "json"]));
    completed(&h, &out, "pages");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    let kube = h.kube.requests();
    let pages = kube.iter().filter(|r| r.contains("/pods")).count();
    assert_eq!(pages, 6, "{kube:#?}");
    for list in [&h.front.requests(), &kube] {
        let mut seen = std::collections::BTreeSet::new();
        let repeated: Vec<&String> = list.iter().filter(|r| !seen.insert(*r)).collect();
        assert!(repeated.is_empty(), "fetched twice: {repeated:#?}");
    }
    let count = |op: &str| {
        h.front
            .requests()
            .iter()
            .filter(|r| r.starts_with(&format!("{op}|")))
            .count()
    };
    assert_eq!(count("eks:DescribeCluster"), 1);
    assert_eq!(count("sts:GetCallerIdentity"), 1);

    // The first page's lookups reach IAM while the pod list is still being read.
    let last_page = h
        .kube
        .state
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, op)| op.contains("/pods"))
        .map(|a| a.0)
        .max()
        .unwrap();
    let first_role = h
        .front
        .state
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, op)| op == "iam:GetRole")
        .map(|a| a.0)
        .min()
        .unwrap();
    assert!(
        first_role < last_page,
        "roles were read only after the last page of pods"
    );

    let findings = report["findings"].as_array().unwrap();
    let failing: Vec<&Value> = findings
        .iter()
        .filter(|f| {
            f["pod"]
                .as_str()
                .is_some_and(|p| !p.ends_with("-p3") && !p.ends_with("-p6"))
        })
        .collect();
    assert_eq!(failing.len(), 8, "the demo's failing pods: {report:#}");
    for original in failing {
        for suffix in ["p3", "p6"] {
            let twin = finding(
                &report,
                &format!("{}-{suffix}", original["pod"].as_str().unwrap()),
            );
            for field in ["verdict", "brokenLink", "cause"] {
                assert_eq!(twin[field], original[field], "{}: {field}", twin["pod"]);
            }
        }
    }

    // The TUI shows the first pages' pods diagnosed while the rest is still read — each row as
    // the whole read (of every pod, as the TUI reads) has it.
    let (everything, _) = tokio::task::block_in_place(|| h.live_report(&[]));
    h.kube.clear();
    // The pages after the first wait until the screen has been looked at: what the first page
    // shows is seen whatever the machine's load.
    h.kube.hold_later_pages();
    // A held page must not run into the request timeout while the first is diagnosed.
    let line = h.shell_line(&["--timeout", "120"], &[]);
    let terminal = support::terminal::Terminal::start("pages", 160, 40, &line);
    let partial = tokio::task::block_in_place(|| {
        // Generous: beside the real-client tests, moto answers the first page's lookups slowly.
        let limit = std::time::Duration::from_secs(180);
        terminal.wait_within(limit, "a failing pod while the read goes on", |screen| {
            screen.contains("read so far") && screen.contains("ImagePullBackOff")
        })
    });
    h.kube.release_later_pages();
    let rows: Vec<(&str, &str, &str)> = partial
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                [_, verdict, _, pod, ..]
                    if ["broken", "unknown", "ok"].contains(&verdict.to_lowercase().as_str())
                        && !pod.contains('/') =>
                {
                    Some((verdict, pod, *words.last().unwrap()))
                }
                _ => None,
            }
        })
        .collect();
    assert!(rows.iter().any(|r| r.0 == "BROKEN"), "{partial}");
    for (verdict, pod, cause) in rows {
        let whole = finding(&everything, pod);
        assert_eq!(whole["verdict"], verdict.to_lowercase(), "{pod}: {partial}");
        if verdict != "ok" {
            assert_eq!(whole["cause"], cause, "{pod}: {partial}");
        }
    }
}

/// The TUI with AWS silent: the pods show, and that AWS does not answer is said within
/// `--timeout`, never a blank list followed by a silent "facts missing".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_says_aws_is_silent_within_the_timeout() {
    let h = Harness::new(&demo()).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let screen = h.terminal(
        "aws-silent",
        &["--timeout", "2"],
        &[("AWS_ENDPOINT_URL", url.as_str())],
    );
    tokio::task::block_in_place(|| {
        let started = std::time::Instant::now();
        let said = screen.wait_for("has not answered in --timeout (2 s)");
        eprintln!("said after {:?}", started.elapsed());
        assert!(said.contains("AWS "), "{said}");
        let list = screen.wait_until("the pods", |s| s.contains("pods (16)"));
        eprintln!("listed after {:?}", started.elapsed());
        assert!(list.contains("? unknown"), "{list}");
        assert!(list.contains("not known"), "{list}");
    });
}

/// Live, `-n` of a namespace that does not exist is said and exits 2 (listing its pods would
/// answer an empty list: an all-clear); one that exists but has no failing pod exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_that_does_not_exist_is_an_error_live() {
    let h = Harness::new(&demo()).await;
    tokio::task::block_in_place(|| {
        let out = h.run(&["diagnose", "-n", "shpo"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("namespace shpo does not exist"), "{err}");
        let out = h.run(&["diagnose", "-n", "platform"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The TUI with the cluster answering but no AWS credentials: the failed read is a screen of its
/// own (never an empty list), and leaving exits 2 with the reason printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_without_aws_credentials_says_so_and_exits_2() {
    let h = Harness::new(&demo()).await;
    let line = h.shell_line(
        &["--timeout", "3"],
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    let screen = support::terminal::Terminal::start(
        "no-aws",
        80,
        24,
        &format!("{line}; echo exit=$?; sleep 30"),
    );
    tokio::task::block_in_place(|| {
        let failed = screen.wait_for("could not read the cluster");
        assert!(failed.contains("no usable AWS credentials"), "{failed}");
        assert!(!failed.contains("no pods in this input"), "{failed}");
        screen.keys(&["q"]);
        let after = screen.wait_for("exit=");
        assert!(after.contains("exit=2"), "{after}");
    });
}

/// AWS's add-on registries answer only ecr:BatchGetImage: the live read asks that, once per
/// image, and nothing else of them; what it answers (a manifest, ImageNotFound) decides the
/// links, and a refused call leaves them unknown naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addon_registries_are_read_by_their_manifests_alone() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/scenarios/causes/addon-registries.yaml"),
    )
    .await;
    let run = |h: &Harness| tokio::task::block_in_place(|| h.live_report(&[]));
    let (report, out) = run(&h);
    completed(&h, &out, "add-ons");
    let asked: Vec<String> = h
        .front
        .requests()
        .into_iter()
        .filter(|r| r.contains("\"602401143452\""))
        .collect();
    let ops: Vec<&str> = asked.iter().map(|r| r.split('|').next().unwrap()).collect();
    assert_eq!(ops, vec!["ecr:BatchGetImage"; 4], "{asked:#?}");
    let platform = link(&report, "ebs-csi-on-graviton", "platform");
    assert_eq!(platform["cause"], "platform-mismatch", "{platform}");
    let image = link(&report, "coredns-no-such-tag", "image");
    assert_eq!(image["cause"], "image-tag-missing", "{image}");

    h.front.clear();
    h.front
        .fault("ecr:BatchGetImage", "AccessDeniedException", usize::MAX);
    let (report, out) = run(&h);
    completed(&h, &out, "BatchGetImage refused");
    let platform = link(&report, "ebs-csi-on-graviton", "platform");
    assert_eq!(platform["status"], "unknown", "{platform}");
    assert!(
        platform["summary"]
            .as_str()
            .unwrap()
            .contains("ecr:BatchGetImage"),
        "{platform}"
    );
}

/// CloudTrail live: one LookupEvents page per instance a failing pod waits on, through
/// throttling; a page that does not reach the pod's time says so instead of "none recorded"; a
/// refused lookup leaves the links as the policies say, naming the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudtrail_is_read_a_page_per_instance_and_a_refusal_changes_nothing_else() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/cloudtrail.yaml");
    let h = Harness::new(&path).await;
    h.front
        .fault("cloudtrail:LookupEvents", "ThrottlingException", 2);
    let (report, _) = tokio::task::block_in_place(|| h.live_report(&[]));
    let lookups: Vec<String> = h
        .front
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("cloudtrail:LookupEvents|"))
        .collect();
    let sessions: std::collections::BTreeSet<&String> = lookups.iter().collect();
    assert_eq!(
        sessions.len(),
        8,
        "one lookup per failing instance, and the Fargate pod's repository's: {lookups:#?}"
    );
    assert_eq!(
        lookups
            .iter()
            .filter(|r| r.contains("\"ResourceName\""))
            .count(),
        1,
        "{lookups:#?}"
    );
    assert_eq!(lookups.len(), 10, "two throttled, retried: {lookups:#?}");
    assert_eq!(
        finding(&report, "fargate")["cause"],
        "organization-policy-denies"
    );
    let scp = finding(&report, "scp");
    assert_eq!(scp["cause"], "organization-policy-denies", "{scp:#}");
    assert_eq!(finding(&report, "ignored")["verdict"], "unknown");

    // Sixty newer calls of the first node: the refusal is on a page not read.
    {
        let mut world = h.front.state.world.lock().unwrap();
        let newest = world
            .trail
            .iter()
            .find(|e| e["EventId"] == "e-scp")
            .unwrap()
            .clone();
        for i in 0..60 {
            let mut call = newest.clone();
            call["EventId"] = serde_json::json!(format!("busy-{i}"));
            call["EventTime"] = serde_json::json!(newest["EventTime"].as_i64().unwrap() + 60 + i);
            let record = call["CloudTrailEvent"]
                .as_str()
                .unwrap()
                .replace("AccessDenied", "");
            call["CloudTrailEvent"] = serde_json::json!(record);
            world.trail.insert(0, call);
        }
    }
    h.front.clear();
    let (report, _) = tokio::task::block_in_place(|| h.live_report(&[]));
    let scp = finding(&report, "scp");
    assert_eq!(scp["verdict"], "unknown", "{scp:#}");
    let evidence = link(&report, "scp", "pull-permissions")["evidence"].to_string();
    assert!(evidence.contains("reached back to"), "{evidence}");
    let asked = h.front.requests();
    let first_node: Vec<&String> = asked
        .iter()
        .filter(|r| r.starts_with("cloudtrail:") && r.contains("i-00000000000000a01"))
        .collect();
    assert_eq!(
        first_node.len(),
        1,
        "one page, never the next: {first_node:#?}"
    );

    // Refused: the links are what the policies say, and the refusal is named.
    let sessions: Vec<String> = (1..=7).map(|i| format!("i-00000000000000a0{i}")).collect();
    h.front
        .state
        .world
        .lock()
        .unwrap()
        .trail_refused
        .extend(sessions);
    let (report, _) = tokio::task::block_in_place(|| h.live_report(&[]));
    assert_eq!(finding(&report, "scp")["verdict"], "unknown");
    assert_eq!(
        finding(&report, "agree")["cause"],
        "pull-permission-missing"
    );
    let evidence = link(&report, "scp", "pull-permissions")["evidence"].to_string();
    assert!(
        evidence.contains("CloudTrail was not read")
            && evidence.contains("cloudtrail:LookupEvents"),
        "{evidence}"
    );
}
