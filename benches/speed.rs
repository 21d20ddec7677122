//! Benchmarks (not tests): the diagnosis of a large synthetic cluster, and drawing the pod list
//! of the TUI with 10,000 pods. Run: cargo bench --bench speed

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::facts::ingest::{Document, ingest};
use pulldoctor::tui::app::{Action, App};
use pulldoctor::tui::theme::Theme;
use pulldoctor::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ACCOUNT: &str = "111122223333";

/// 10,000 pods over 20 namespaces and 50 node groups, 500 of them failing, 100 roles, 50
/// repositories.
fn synthetic_cluster(pods: usize, failing: usize) -> Vec<Document> {
    let reg = format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com");
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/BENCH";
    let mut docs = vec![
        json!({"Account": ACCOUNT, "Arn": format!("arn:aws:iam::{ACCOUNT}:user/b"), "UserId": "A"}),
        json!({"cluster": {"name": "bench", "arn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/bench"), "identity": {"oidc": {"issuer": format!("https://{issuer}")}}}}),
        json!({"OpenIDConnectProviderList": [{"Arn": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}")}]}),
        json!({"Url": issuer, "ClientIDList": ["sts.amazonaws.com"]}),
    ];
    let mut roles = Vec::new();
    for ng in 0..50 {
        docs.push(json!({"nodegroup": {"nodegroupName": format!("ng{ng}"), "nodeRole": format!("arn:aws:iam::{ACCOUNT}:role/node-{ng}")}}));
        let attached = if ng % 10 == 0 {
            vec![]
        } else {
            vec![json!({"PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"})]
        };
        roles.push(json!({"RoleName": format!("node-{ng}"), "Arn": format!("arn:aws:iam::{ACCOUNT}:role/node-{ng}"),
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "AttachedManagedPolicies": attached}));
    }
    for app in 0..50 {
        roles.push(json!({"RoleName": format!("app-{app}"), "Arn": format!("arn:aws:iam::{ACCOUNT}:role/app-{app}"),
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}")}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{issuer}:sub"): format!("system:serviceaccount:ns{}:app-{app}", app % 20), format!("{issuer}:aud"): "sts.amazonaws.com"}}}]}}));
    }
    docs.push(json!({"RoleDetailList": roles, "Policies": []}));
    let repos: Vec<Value> = (0..50).map(|r| json!({"repositoryArn": format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/repo{r}"), "registryId": ACCOUNT, "repositoryName": format!("repo{r}")})).collect();
    docs.push(json!({"repositories": repos}));
    for r in 0..50 {
        docs.push(json!({"imageDetails": [{"registryId": ACCOUNT, "repositoryName": format!("repo{r}"), "imageDigest": format!("sha256:{}", "a".repeat(64)), "imageTags": ["1"], "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"}]}));
        docs.push(json!({"registryId": ACCOUNT, "repositoryName": format!("repo{r}"), "policyText": null}));
    }
    let mut items = Vec::new();
    for ng in 0..50 {
        items.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node{ng}"), "labels": {"eks.amazonaws.com/nodegroup": format!("ng{ng}"), "kubernetes.io/arch": "amd64"}}}));
    }
    for ns in 0..20 {
        items.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": format!("ns{ns}")}}));
    }
    for app in 0..50 {
        items.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("app-{app}"), "namespace": format!("ns{}", app % 20), "annotations": {"eks.amazonaws.com/role-arn": format!("arn:aws:iam::{ACCOUNT}:role/app-{app}")}}}));
    }
    for p in 0..pods {
        let fails = p < failing;
        let app = p % 50;
        let tag = if fails && p % 2 == 0 { "missing" } else { "1" };
        let image = format!("{reg}/repo{}:{tag}", p % 50);
        let state = if fails {
            json!({"waiting": {"reason": "ImagePullBackOff"}})
        } else {
            json!({"running": {}})
        };
        let image_id = if fails {
            String::new()
        } else {
            format!("{reg}/repo@sha256:{}", "a".repeat(64))
        };
        items.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{p}"), "namespace": format!("ns{}", app % 20), "creationTimestamp": "2026-11-28T09:00:00Z"},
            "spec": {"serviceAccountName": format!("app-{app}"), "nodeName": format!("node{}", p % 50), "containers": [{"name": "main", "image": image, "env": [{"name": "AWS_ROLE_ARN", "value": format!("arn:aws:iam::{ACCOUNT}:role/app-{app}")}]}]},
            "status": {"containerStatuses": [{"name": "main", "image": image, "imageID": image_id, "ready": !fails, "restartCount": 0, "state": state}]}}));
        if fails {
            items.push(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": format!("e{p}"), "namespace": format!("ns{}", app % 20)},
                "involvedObject": {"kind": "Pod", "namespace": format!("ns{}", app % 20), "name": format!("pod-{p}")}, "type": "Warning", "reason": "Failed",
                "lastTimestamp": "2026-11-28T10:00:00Z", "message": format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = not found")}));
        }
    }
    docs.push(json!({"apiVersion": "v1", "kind": "List", "items": items}));
    docs.into_iter()
        .map(|value| Document {
            origin: "bench".into(),
            value,
        })
        .collect()
}

fn time<T>(runs: u32, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = None;
    let start = Instant::now();
    for _ in 0..runs {
        last = Some(f());
    }
    (start.elapsed() / runs, last.expect("at least one run"))
}

fn main() {
    let docs = synthetic_cluster(10_000, 500);
    let (ingest_time, facts) = time(3, || ingest(&docs));
    let (failing_time, failing) = time(3, || diagnose(&facts, &Selection::default()));
    let (all_time, all) = time(3, || {
        diagnose(
            &facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
    });
    println!(
        "synthetic cluster: {} pods, {} failing",
        facts.pods.len(),
        failing.findings.len()
    );
    println!("ingest:                      {ingest_time:>10.2?}");
    println!(
        "diagnose failing pods only:  {failing_time:>10.2?}  ({} findings)",
        failing.findings.len()
    );
    println!(
        "diagnose every pod (--all):  {all_time:>10.2?}  ({} findings)",
        all.findings.len()
    );

    let demo = pulldoctor::source::facts_from_bundle(&pulldoctor::source::demo::bundle(), "demo");
    let (demo_time, demo_report) = time(50, || {
        diagnose(
            &demo,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
    });
    println!(
        "diagnose the demo (--all):   {demo_time:>10.2?}  ({} findings)",
        demo_report.findings.len()
    );

    let mut app = App::new(
        facts,
        k8s_openapi::jiff::Timestamp::from_second(1_795_000_000).unwrap(),
    );
    let theme = Theme { color: true };
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let frames = 200;
        let (frame_time, _) = time(frames, || {
            app.update(Action::Down);
            terminal.draw(|f| view::draw(f, &mut app, theme)).unwrap();
        });
        println!(
            "draw the pod list, 10,000 pods, {w}x{h}: {frame_time:>8.2?} a frame (mean of {frames})"
        );
    }
    app.update(Action::StartFilter);
    for c in "ns1".chars() {
        app.update(Action::Input(c));
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let (filtered, _) = time(100, || {
        terminal.draw(|f| view::draw(f, &mut app, theme)).unwrap();
    });
    println!("draw with a filter, 200x60:  {filtered:>10.2?} a frame");
}
