//! The command line as users and scripts meet it: exit statuses, JSON shape, clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn pulldoctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the binary runs")
}

fn asset(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pulldoctor-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `diagnose --output json --from dir`, which must exit with `code`, parsed.
fn json_report(dir: &Path, code: i32) -> serde_json::Value {
    let out = pulldoctor(&[
        "diagnose",
        "--output",
        "json",
        "--from",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn diagnose_exits_one_when_something_is_broken_and_zero_when_not() {
    let demo = asset("assets/scenarios/demo.yaml");
    let broken = pulldoctor(&["diagnose", "--from", &demo]);
    assert_eq!(broken.status.code(), Some(1), "{}", stderr(&broken));
    // A pod named on the command line is diagnosed whatever its state (contract §1).
    let healthy = pulldoctor(&["diagnose", "--from", &demo, "shop/web-7f9c6d-x2x"]);
    assert_eq!(healthy.status.code(), Some(0), "{}", stderr(&healthy));
    let text = String::from_utf8_lossy(&healthy.stdout);
    assert!(text.contains("✓ ok  shop/web-7f9c6d-x2x"), "{text}");
    let all = pulldoctor(&["diagnose", "--all", "--from", &demo, "shop/web-7f9c6d-x2x"]);
    assert_eq!(all.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&all.stdout).contains("✓ ok  shop/web-7f9c6d-x2x"));
}

/// Every command accepts `--from`; `demo` is `--from` on the embedded demo, so given one of its
/// own it reads that (piped, it prints the report instead of opening the TUI).
#[test]
fn demo_reads_a_from_of_its_own() {
    let trust = asset("assets/scenarios/causes/trust.yaml");
    let out = pulldoctor(&["demo", "--from", &trust]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("app/t-subject") && !text.contains("prod-east"),
        "{text}"
    );
    let builtin = pulldoctor(&["demo"]);
    assert!(String::from_utf8_lossy(&builtin.stdout).contains("shop/checkout-6c9e7a-m3n"));
}

#[test]
fn json_report_has_the_contract_shape() {
    let demo = asset("assets/scenarios/demo.yaml");
    let out = pulldoctor(&["diagnose", "--all", "--output", "json", "--from", &demo]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(report["schema"], "pulldoctor.report/v1");
    assert_eq!(report["source"]["kind"], "snapshot");
    assert_eq!(report["source"]["cluster"], "prod-east");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 16);
    for f in findings {
        for key in [
            "namespace",
            "pod",
            "workload",
            "container",
            "image",
            "state",
            "verdict",
            "brokenLink",
            "cause",
            "summary",
            "pullIdentity",
            "links",
            "fixes",
        ] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
        assert!(
            [
                "node-role",
                "fargate-role",
                "service-account-role",
                "unknown"
            ]
            .contains(&f["pullIdentity"]["kind"].as_str().unwrap())
        );
        for link in f["links"].as_array().unwrap() {
            for key in ["id", "status", "cause", "summary", "evidence", "basis"] {
                assert!(link.get(key).is_some(), "link lacks {key}: {link}");
            }
            assert!(["observed", "event", "pulled"].contains(&link["basis"].as_str().unwrap()));
        }
        if f["verdict"] == "broken" {
            assert!(f["brokenLink"].is_string() && f["cause"].is_string());
            let fix = &f["fixes"][0];
            assert!(fix["writes"].is_boolean() && fix["steps"][0]["explain"].is_string());
        } else {
            assert!(f["brokenLink"].is_null() && f["cause"].is_null());
        }
    }
    let workload = findings
        .iter()
        .find(|f| f["pod"].is_null())
        .expect("a workload finding");
    assert_eq!(workload["workload"], "ReplicaSet/reconciler-6f7d8");
}

#[test]
fn namespace_and_pod_selection() {
    let demo = asset("assets/scenarios/demo.yaml");
    let out = pulldoctor(&[
        "diagnose", "-n", "billing", "--output", "json", "--from", &demo,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["namespace"] == "billing"));
    let out = pulldoctor(&[
        "diagnose",
        "-n",
        "shop",
        "cart-5b8d4f-q7w",
        "--output",
        "json",
        "--from",
        &demo,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    assert_eq!(report["findings"][0]["cause"], "image-tag-missing");
}

#[test]
fn expected_failures_are_one_clear_line_and_exit_two() {
    let cases: Vec<Vec<&str>> = vec![
        vec!["diagnose", "--from", "/nonexistent/bundle"],
        vec!["diagnose", "--from", &"/tmp"[..0]],
        vec![
            "diagnose",
            "not-a-namespaced-pod",
            "--from",
            "assets/scenarios/demo.yaml",
        ],
        vec!["diagnose"],
        vec!["snapshot", "--out", "/tmp/x.json"],
    ];
    for args in cases {
        let out = pulldoctor(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            err.starts_with("pulldoctor: ") || err.starts_with("error:"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
        assert!(err.trim().lines().count() <= 3, "{args:?}: {err}");
    }
}

#[test]
fn malformed_and_unknown_files_are_reported_and_skipped() {
    let dir = temp_dir("bundle");
    std::fs::copy(asset("assets/scenarios/demo.yaml"), dir.join("demo.yaml")).unwrap();
    std::fs::write(dir.join("garbage.json"), "{ this is not json").unwrap();
    std::fs::write(dir.join("unknown.json"), r#"{"Something": "else"}"#).unwrap();
    std::fs::write(dir.join("bad-pod.json"), r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": "nope"}}"#).unwrap();
    let report = json_report(&dir, 1);
    let problems: Vec<String> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    // The bad pod is kept with its bad field dropped, and both are said.
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("garbage.json")));
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("bad-pod.json: Pod x: spec.containers does not parse"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("bad-pod.json: Pod x: no containers"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("unknown.json") && p.contains("skipped"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("bad-pod.json") && p.contains("Pod"))
    );
    // Nothing of the good input was lost; the pod read without its spec may be failing, so it
    // is an unknown finding of its own.
    assert_eq!(report["source"]["kind"], "bundle");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 10);
    assert!(
        findings
            .iter()
            .any(|f| f["pod"] == "x" && f["verdict"] == "unknown" && f["failing"] == true)
    );
}

#[test]
fn bundles_of_plain_cli_json_with_url_encoded_policies() {
    let dir = temp_dir("plain");
    let encoded: String = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D".into();
    let files = [
        ("caller.json", r#"{"UserId": "AIDA", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/me"}"#.to_string()),
        ("cluster.json", r#"{"cluster": {"name": "c", "arn": "arn:aws:eks:us-east-1:111122223333:cluster/c", "identity": {"oidc": {"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/X"}}}}"#.to_string()),
        ("ng.json", r#"{"nodegroup": {"nodegroupName": "ng", "nodeRole": "arn:aws:iam::111122223333:role/node"}}"#.to_string()),
        ("iam.json", format!(r#"{{"RoleDetailList": [{{"RoleName": "node", "Arn": "arn:aws:iam::111122223333:role/node", "AssumeRolePolicyDocument": "{encoded}", "RolePolicyList": [], "AttachedManagedPolicies": []}}], "Policies": []}}"#)),
        ("repos.json", r#"{"repositories": [{"repositoryArn": "arn:aws:ecr:us-east-1:111122223333:repository/web", "registryId": "111122223333", "repositoryName": "web"}]}"#.to_string()),
        ("images.json", r#"{"imageDetails": [{"registryId": "111122223333", "repositoryName": "web", "imageDigest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "imageTags": ["1"], "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"}]}"#.to_string()),
        ("policy.json", r#"{"registryId": "111122223333", "repositoryName": "web", "policyText": null}"#.to_string()),
        ("kube.json", r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "labels": {"eks.amazonaws.com/nodegroup": "ng", "kubernetes.io/arch": "amd64"}}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "a"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}, "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1"}]},
             "status": {"containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}},
            {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "a"}, "eventTime": "2026-11-28T10:00:00.000000Z", "regarding": {"kind": "Pod", "namespace": "a", "name": "p"}, "reason": "Failed", "type": "Warning", "note": "Failed to pull image \"111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1\": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials", "reportingController": "kubelet", "reportingInstance": "n", "action": "Pulling"}
        ]}"#.to_string()),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let report = json_report(&dir, 1);
    assert!(report.get("problems").is_none(), "{report}");
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "pull-permission-missing", "{f}");
    assert_eq!(
        f["pullIdentity"]["arn"],
        "arn:aws:iam::111122223333:role/node"
    );
    let pod_link = &f["links"][0];
    assert_eq!(pod_link["basis"], "event");
    assert!(
        pod_link["evidence"][0]
            .as_str()
            .unwrap()
            .contains("no basic auth credentials")
    );
}

#[test]
fn collect_script_is_valid_bash_and_read_only() {
    let out = pulldoctor(&["collect-script"]);
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).unwrap();
    let dir = temp_dir("collect");
    let path = dir.join("collect.sh");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    for verb in [
        "create-",
        "put-",
        "delete-",
        "update-",
        "attach-",
        "set-repository-policy",
        "kubectl apply",
        "kubectl patch",
        "get secret",
    ] {
        assert!(
            !script.contains(verb),
            "the collect script must only read, found {verb}"
        );
    }
    assert!(script.contains("get-account-authorization-details"));
    assert!(script.contains(r#""policyText": null"#));
}

// Never confidently wrong, never steerable, from the outside: no all-clear without a pod list,
// hostile text escaped in every human output, bounded inputs, errors a person can act on.

/// Exit 2 with one line on stderr that contains `needle`.
fn fails_with(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"));
}

#[test]
fn an_input_without_a_pod_list_is_no_all_clear() {
    let empty = temp_dir("empty");
    fails_with(
        &pulldoctor(&["diagnose", "--from", empty.to_str().unwrap()]),
        "holds no pod list",
    );
    let not_bundle = temp_dir("not-bundle").join("notes.txt");
    std::fs::write(&not_bundle, "these are my notes\n").unwrap();
    fails_with(
        &pulldoctor(&["diagnose", "--from", not_bundle.to_str().unwrap()]),
        "holds no pod list",
    );
    fails_with(
        &pulldoctor(&["diagnose", "--from", "/dev/null"]),
        "a character device",
    );
    // A truncated kubectl output does not parse: no pod list.
    let truncated = temp_dir("truncated").join("kube.json");
    std::fs::write(&truncated, r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metad"#).unwrap();
    fails_with(
        &pulldoctor(&["diagnose", "--from", truncated.to_str().unwrap()]),
        "holds no pod list",
    );
    // Only AWS documents, no pods.
    let aws_only = temp_dir("aws-only").join("caller.json");
    std::fs::write(&aws_only, r#"{"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/x", "UserId": "AIDA"}"#).unwrap();
    fails_with(
        &pulldoctor(&["diagnose", "--from", aws_only.to_str().unwrap()]),
        "holds no pod list",
    );
    // An empty cluster is a pod list: nothing is failing, truly.
    let no_pods = temp_dir("no-pods").join("kube.json");
    std::fs::write(
        &no_pods,
        r#"{"apiVersion": "v1", "kind": "List", "items": []}"#,
    )
    .unwrap();
    let out = pulldoctor(&["diagnose", "--from", no_pods.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// The exit status says what the report says, however pulldoctor was asked: piped, the TUI's
/// command lines (`pulldoctor NS/POD`, `kubectl pulldoctor NS/POD`, `demo`) exit as `diagnose`
/// does, and a pod that could not be read may be failing — unknown, and counted.
#[test]
fn exit_codes_a_script_can_trust() {
    let demo = asset("assets/scenarios/demo.yaml");
    let broken = "shop/checkout-6c9e7a-m3n";
    let piped = pulldoctor(&["--from", &demo, broken]);
    assert_eq!(piped.status.code(), Some(1), "{}", stderr(&piped));
    assert!(String::from_utf8_lossy(&piped.stdout).contains("1 broken"));
    let plugin = Command::new(env!("CARGO_BIN_EXE_kubectl-pulldoctor"))
        .args(["--from", &demo, broken])
        .output()
        .unwrap();
    assert_eq!(plugin.status.code(), Some(1), "{}", stderr(&plugin));
    assert_eq!(pulldoctor(&["demo"]).status.code(), Some(1));

    let dir = temp_dir("unreadable-pod");
    std::fs::write(
        dir.join("pods.json"),
        r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": "shop"}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}, "status": {"phase": "Running"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "garbled", "namespace": "shop"}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}, "status": {"containerStatuses": "not a list"}}]}"#,
    )
    .unwrap();
    let out = pulldoctor(&["diagnose", "--from", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(!text.contains("No pod is failing"), "{text}");
    assert!(text.contains("shop/garbled"), "{text}");

    // A namespace nothing of the input is in is a typo, not an all-clear; a workload is named
    // as the list shows it.
    fails_with(
        &pulldoctor(&["diagnose", "--from", &demo, "-n", "nosuchns"]),
        "namespace nosuchns",
    );
    let workload = pulldoctor(&[
        "diagnose",
        "--from",
        &demo,
        "billing/ReplicaSet/reconciler-6f7d8",
    ]);
    assert_eq!(workload.status.code(), Some(1), "{}", stderr(&workload));
    assert!(String::from_utf8_lossy(&workload.stdout).contains("1 finding: 1 broken"));
    let fix = pulldoctor(&[
        "fix",
        "--from",
        &demo,
        "billing/ReplicaSet/reconciler-6f7d8",
    ]);
    assert!(
        String::from_utf8_lossy(&fix.stdout).contains("service-account-missing"),
        "{}",
        stderr(&fix)
    );
}

/// A ServiceAccount's `ecr-role-arn` is tenant-writable: it names the pull identity only where
/// the input shows the node's credential provider uses it. Without that (no readable config), a
/// running pod whose annotated role lacks ECR rights is not broken and gets no fix; with it, the
/// fix of the annotated role says who chose its target, in the plan and in every diff.
#[test]
fn a_tenants_annotation_does_not_choose_who_gets_access() {
    let identity = asset("assets/scenarios/causes/identity.yaml");
    let out = pulldoctor(&[
        "diagnose",
        "--from",
        &identity,
        "-o",
        "json",
        "app/token-pull",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_ne!(finding["verdict"], "broken", "{finding:#}");
    assert_eq!(finding["pullIdentity"]["kind"], "node-role", "{finding:#}");
    assert!(
        finding["fixes"].as_array().unwrap().is_empty(),
        "{finding:#}"
    );
    let fix = pulldoctor(&["fix", "--from", &identity, "app/token-pull"]);
    assert_eq!(fix.status.code(), Some(2), "{}", stderr(&fix));
    assert!(stderr(&fix).contains("nothing to fix"), "{}", stderr(&fix));

    let token = asset("assets/scenarios/causes/token-pull.yaml");
    let plan = pulldoctor(&["fix", "--from", &token, "app/token-fails"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("chosen by tenant-writable metadata"),
        "{text}"
    );
    assert!(
        text.contains("# target chosen by tenant-writable metadata"),
        "the diff says so: {text}"
    );
    // A pulled image never earns a pull fix, even where the annotated role is the pull identity.
    let ran = pulldoctor(&["fix", "--from", &token, "app/token-ran"]);
    assert!(stderr(&ran).contains("nothing to fix"), "{}", stderr(&ran));
}

/// The command line as people type it: a wrong argument is one line and exit 2; `--choice 0`
/// is refused (it used to mean 1); `--from -` reads standard input; a YAML file of several
/// documents (`---` between them) is a bundle.
#[test]
fn the_command_line_as_people_type_it() {
    for args in [
        &["--bogus"][..],
        &["diagnose", "--output", "xml"],
        &["fix", "--choice", "x"],
    ] {
        let out = pulldoctor(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("pulldoctor: ") && err.contains("--help"),
            "{err}"
        );
    }
    assert!(stderr(&pulldoctor(&["diagnose", "--output", "xml"])).contains("json"));
    let demo = asset("assets/scenarios/demo.yaml");
    let zero = pulldoctor(&[
        "fix",
        "--from",
        &demo,
        "shop/checkout-6c9e7a-m3n",
        "--choice",
        "0",
    ]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(stderr(&zero).contains("counts from 1"), "{}", stderr(&zero));

    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["diagnose", "--from", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&demo).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let from_stdin: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_file = pulldoctor(&["diagnose", "--from", &demo, "-o", "json"]);
    let from_file: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(from_stdin["findings"], from_file["findings"]);

    let dir = temp_dir("multi-doc");
    let pod = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  containers: [{{name: c, image: nginx:1}}]\nstatus:\n  containerStatuses:\n  - {{name: c, image: nginx:1, ready: false, restartCount: 0, state: {{waiting: {{reason: ImagePullBackOff}}}}}}\n"
        )
    };
    std::fs::write(
        dir.join("pods.yaml"),
        format!("{}---\n{}", pod("a"), pod("b")),
    )
    .unwrap();
    let report = json_report(&dir, 1);
    let pods: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["pod"].as_str())
        .collect();
    assert_eq!(pods.len(), 2, "{report:#}");
}

/// Runs pulldoctor and waits at most `limit`: a command that hangs is killed and fails the test.
fn bounded(args: &[&str], env: &[(&str, &str)], limit: std::time::Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("pulldoctor {args:?} still ran after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Inputs that never end are refused, not read: `/dev/zero` as the kubeconfig or the wizard's
/// app policy; a kubeconfig exec plugin or an AWS `credential_process` that never answers is
/// bounded by --timeout, one line, exit 2.
#[test]
fn endless_inputs_and_silent_credential_helpers_are_bounded() {
    let seconds = std::time::Duration::from_secs;
    for args in [
        &["--kubeconfig", "/dev/zero", "diagnose"][..],
        &[
            "wizard",
            "--from",
            &asset("assets/scenarios/demo.yaml"),
            "-n",
            "shop",
            "--service-account",
            "new",
            "--repository",
            "shop/web",
            "--app-policy",
            "/dev/zero",
        ],
    ] {
        let out = bounded(args, &[], seconds(20));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("character device"),
            "{}",
            stderr(&out)
        );
    }
    let dir = temp_dir("silent-helpers");
    let kubeconfig = |user: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"https://127.0.0.1:1\"}}\ncontexts:\n- name: lab\n  context: {{cluster: c, user: u}}\ncurrent-context: lab\nusers:\n- name: u\n  user: {user}\n"
        )
    };
    std::fs::write(dir.join("exec"), kubeconfig("{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: sleep, args: [\"600\"]}}")).unwrap();
    std::fs::write(dir.join("token"), kubeconfig("{token: t}")).unwrap();
    std::fs::write(
        dir.join("aws-config"),
        "[profile silent]\nregion = us-east-1\ncredential_process = sleep 600\n",
    )
    .unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let exec = bounded(
        &["--kubeconfig", &path("exec"), "--timeout", "2", "diagnose"],
        &[],
        seconds(30),
    );
    assert_eq!(exec.status.code(), Some(2), "{}", stderr(&exec));
    assert!(
        stderr(&exec).contains("did not answer within --timeout"),
        "{}",
        stderr(&exec)
    );
    let aws_config = path("aws-config");
    let process = bounded(
        &[
            "--kubeconfig",
            &path("token"),
            "--profile",
            "silent",
            "--timeout",
            "2",
            "diagnose",
        ],
        &[
            ("AWS_CONFIG_FILE", aws_config.as_str()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ],
        seconds(30),
    );
    assert_eq!(process.status.code(), Some(2), "{}", stderr(&process));
    assert!(
        stderr(&process).contains("no AWS credentials within --timeout"),
        "{}",
        stderr(&process)
    );
    assert_eq!(stderr(&process).lines().count(), 1, "{}", stderr(&process));
    // …and the helpers that never answered were ended at exit, not left behind.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.trim() == "sleep 600")
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
}

/// A file read as it streams by (its list items one at a time) says what it said read whole: a
/// list of ServiceAccounts is no pod list; a typed PodList whose items name no kind is read; a
/// snapshot's documents are read.
#[test]
fn a_streamed_list_reads_as_it_did_whole() {
    let dir = temp_dir("streamed");
    let sa_list = dir.join("sas.json");
    std::fs::write(&sa_list, r#"{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "shop"}}], "kind": "List"}"#).unwrap();
    fails_with(
        &pulldoctor(&["diagnose", "--from", sa_list.to_str().unwrap()]),
        "holds no pod list",
    );
    let typed = dir.join("podlist.json");
    std::fs::write(&typed, r#"{"apiVersion": "v1", "items": [{"metadata": {"name": "p", "namespace": "shop"}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}, "status": {"containerStatuses": [{"name": "c", "image": "nginx:1", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}}], "kind": "PodList", "metadata": {}}"#).unwrap();
    let out = pulldoctor(&["diagnose", "--from", typed.to_str().unwrap(), "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["pod"], "p", "{}", stderr(&out));
    // The demo as a JSON snapshot: the same findings as its YAML.
    let demo = asset("assets/scenarios/demo.yaml");
    let yaml: serde_json::Value =
        serde_json::from_slice(&pulldoctor(&["diagnose", "--from", &demo, "-o", "json"]).stdout)
            .unwrap();
    let text = std::fs::read_to_string(&demo).unwrap();
    let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let snapshot = dir.join("demo.json");
    std::fs::write(&snapshot, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &pulldoctor(&[
            "diagnose",
            "--from",
            snapshot.to_str().unwrap(),
            "-o",
            "json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(json["findings"], yaml["findings"]);
}

/// The last step of a diagnosis: a repository or a registry host a typo away from one that
/// exists is said in the headline, and the fix corrects the image instead of creating the typo.
#[test]
fn a_typo_is_named_and_corrected_not_created() {
    let demo = asset("assets/scenarios/demo.yaml");
    let report = |pod: &str| -> serde_json::Value {
        serde_json::from_slice(
            &pulldoctor(&["diagnose", "--from", &demo, "-o", "json", pod]).stdout,
        )
        .unwrap()
    };
    let search = report("shop/search-84c2d1-w2e");
    let finding = &search["findings"][0];
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("did you mean shop/search?"),
        "{finding:#}"
    );
    let first = &finding["fixes"][0];
    assert_eq!(first["writes"], false, "{first:#}");
    let command = first["steps"][0]["command"].as_str().unwrap();
    assert!(
        command.contains("set image") && command.ends_with("/shop/search:1.0"),
        "{command}"
    );
    let ledger = report("billing/ledger-6b5a4c-j6k");
    let summary = ledger["findings"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("did you mean 111122223333.dkr.ecr.us-east-1.amazonaws.com?"),
        "{summary}"
    );
}

#[test]
fn a_named_pod_that_is_not_there_is_an_error() {
    let demo = asset("assets/scenarios/demo.yaml");
    fails_with(
        &pulldoctor(&["diagnose", "--from", &demo, "shop/typo"]),
        "pod shop/typo is not in the input",
    );
    let out = pulldoctor(&["diagnose", "--from", &demo, "-n", "shop", "web-7f9c6d-x2x"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn utf16_kubectl_output_is_read() {
    // What PowerShell's `>` writes: UTF-16LE with a byte-order mark.
    let demo = std::fs::read_to_string(asset("assets/scenarios/demo.yaml")).unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    for unit in demo.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let file = temp_dir("utf16").join("demo.yaml");
    std::fs::write(&file, bytes).unwrap();
    let out = pulldoctor(&["diagnose", "--from", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn what_a_directory_does_not_read_is_listed() {
    let dir = temp_dir("listed");
    std::fs::copy(asset("assets/scenarios/demo.yaml"), dir.join("demo.yaml")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join(".hidden.json"), "{}").unwrap();
    std::os::unix::fs::symlink(dir.join("loop-a"), dir.join("loop-b")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop-b"), dir.join("loop-a")).unwrap();
    let fifo = dir.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(dir.join("spec-null.json"), r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty", "namespace": "shop"}, "spec": null}"#).unwrap();
    let report = json_report(&dir, 1);
    let problems = report["problems"].to_string();
    for name in [
        "sub: a directory",
        ".hidden.json: a hidden file",
        "loop-a: unreadable",
        "loop-b: unreadable",
        "fifo: a named pipe",
        "spec-null.json: Pod shop/empty: no containers",
    ] {
        assert!(problems.contains(name), "{name} in {problems}");
    }
}

#[test]
fn a_pipe_is_read_and_its_size_is_capped() {
    let demo = std::fs::read(asset("assets/scenarios/demo.yaml")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["diagnose", "--from", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&demo).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // An endless pipe stops at the cap with one line, not with the machine's memory.
    let mut endless = Command::new("yes").stdout(Stdio::piped()).spawn().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["diagnose", "--max-input-mb", "1", "--from", "/dev/stdin"])
        .stdin(Stdio::from(endless.stdout.take().unwrap()))
        .output()
        .unwrap();
    let _ = endless.kill();
    let _ = endless.wait();
    fails_with(&out, "larger than 1 MiB");
    // A character device is no bundle.
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["diagnose", "--from", "/dev/zero"])
        .output()
        .unwrap();
    fails_with(&out, "a character device");
}

/// A bundle whose tenant-written text (event message, waiting message, annotation, names in an
/// image) carries terminal escapes and bidirectional marks.
fn hostile_bundle() -> PathBuf {
    let dir = temp_dir("hostile");
    let evil = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}gnp.exe";
    let image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.0";
    let kube = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "shop",
            "annotations": {"eks.amazonaws.com/role-arn": format!("arn:aws:iam::111122223333:role/x{evil}")}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"containers": [{"name": "web", "image": image}]},
         "status": {"containerStatuses": [{"name": "web", "image": image, "ready": false, "restartCount": 0, "imageID": "",
            "state": {"waiting": {"reason": "ErrImagePull", "message": format!("pull failed {evil}")}}}]}},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "shop"},
         "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web"}, "reason": "Failed", "type": "Warning",
         "message": format!("Failed to pull image \"{image}\": 403 Forbidden {evil}"), "lastTimestamp": "2026-11-28T09:00:00Z"}
    ]});
    std::fs::write(dir.join("kube.json"), kube.to_string()).unwrap();
    dir
}

fn assert_inert(text: &str) {
    for c in text.chars() {
        let steering = (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(!steering, "raw {c:?} in {text}");
    }
}

#[test]
fn hostile_text_is_escaped_in_text_and_exact_in_json() {
    let dir = hostile_bundle();
    let out = pulldoctor(&["diagnose", "--from", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\\u{1b}]0;owned"), "{text}");
    assert_inert(&text);
    assert_inert(&stderr(&out));

    let out = pulldoctor(&["diagnose", "-o", "json", "--from", dir.to_str().unwrap()]);
    let json = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        report.to_string().contains("\\u001b]0;owned"),
        "JSON keeps the exact text"
    );
}

#[test]
fn errors_name_a_hostile_pod_escaped() {
    let demo = asset("assets/scenarios/demo.yaml");
    let out = pulldoctor(&["diagnose", "--from", &demo, "shop/\u{1b}[2Jx"]);
    fails_with(&out, "\\u{1b}[2Jx");
    assert_inert(&stderr(&out));
}

#[test]
fn a_report_that_cannot_be_written_fails() {
    let demo = asset("assets/scenarios/demo.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["diagnose", "--from", &demo])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    fails_with(&out, "cannot write the output");
}

/// Names outside what Kubernetes and EKS allow would reach printed commands: such objects are
/// skipped and listed, never diagnosed with their names pasted into a shell line.
#[test]
fn names_kubernetes_and_eks_do_not_allow_are_refused() {
    let dir = temp_dir("bad-names");
    std::fs::copy(asset("assets/scenarios/demo.yaml"), dir.join("demo.yaml")).unwrap();
    let image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.0";
    let pod = |ns: &str, name: &str, sa: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"serviceAccountName": sa, "containers": [{"name": "web", "image": image}]},
            "status": {"containerStatuses": [{"name": "web", "image": image, "ready": false, "restartCount": 0, "imageID": "",
                "state": {"waiting": {"reason": "ErrImagePull"}}}]}})
    };
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        pod("shop;rm -rf ~", "x", "default"),
        pod("shop", "$(id)", "default"),
        pod("shop", "y", "sa`id`"),
        serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "z", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs;reboot", "uid": "u"}]},
            "spec": {"containers": [{"name": "web", "image": image}]}}),
    ]});
    std::fs::write(dir.join("bad.json"), list.to_string()).unwrap();
    std::fs::write(
        dir.join("cluster.json"),
        r#"{"cluster": {"name": "lab$(id)"}}"#,
    )
    .unwrap();
    let out = pulldoctor(&["diagnose", "-o", "json", "--from", dir.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].to_string();
    assert_eq!(problems.matches("does not allow").count(), 4, "{problems}");
    assert!(
        problems.contains("cluster.json: the cluster name is not one EKS allows"),
        "{problems}"
    );
    let findings = report["findings"].to_string();
    assert!(
        !findings.contains("rm -rf") && !findings.contains("$(id)") && !findings.contains("`id`")
    );
}

/// `--output markdown`: one finding as it would be pasted into a ticket (golden file).
#[test]
fn markdown_report_of_one_finding() {
    let out = pulldoctor(&[
        "diagnose",
        "--from",
        &asset("assets/scenarios/demo.yaml"),
        "shop/checkout-6c9e7a-m3n",
        "--output",
        "markdown",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("markdown_checkout", text);
}

/// The first run, with no kubeconfig or an unreachable cluster: one line that says what was
/// tried, what to do, and that the demo needs neither — never an error chain.
#[test]
fn first_run_without_a_cluster_says_what_to_do() {
    let home = temp_dir("first-run");
    let run = |kubeconfig: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pulldoctor"));
        command
            .args(["diagnose", "--timeout", "3"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", &home);
        if let Some(path) = kubeconfig {
            command.env("KUBECONFIG", path);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    let none = run(None);
    assert_eq!(none.lines().count(), 1, "{none}");
    for needle in [
        "~/.kube/config does not exist",
        "aws eks update-kubeconfig --name",
        "pulldoctor demo",
    ] {
        assert!(none.contains(needle), "{needle}: {none}");
    }
    // A context whose API server does not answer (nothing listens on port 1).
    let config = home.join("config");
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\ncontexts:\n- name: lab\n  context: {cluster: c, user: u}\ncurrent-context: lab\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let unreachable = run(Some(&config));
    assert_eq!(unreachable.lines().count(), 1, "{unreachable}");
    for needle in [
        "cannot reach the cluster's API server",
        "context lab",
        "pulldoctor demo",
    ] {
        assert!(unreachable.contains(needle), "{needle}: {unreachable}");
    }
    assert!(!unreachable.contains("ServiceError"), "{unreachable}");
}

/// Stub clients on the PATH: `kubectl` and `aws` as shell bodies.
fn stub_clients(bin: &Path, kubectl: &str, aws: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin).unwrap();
    for (name, body) in [("kubectl", kubectl), ("aws", aws)] {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Runs the collect script with the clients of `bin` first on the PATH; what it said on stderr.
fn run_collect_script(bin: &Path, out_dir: &Path) -> String {
    run_collect_script_status(bin, out_dir).0
}

/// What the collect script said on stderr, and its exit status.
fn run_collect_script_status(bin: &Path, out_dir: &Path) -> (String, Option<i32>) {
    let script = pulldoctor(&["collect-script"]).stdout;
    let mut bash = Command::new("bash")
        .args(["-s", "lab", out_dir.to_str().unwrap()])
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bash.stdin.take().unwrap().write_all(&script).unwrap();
    let out = bash.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

const ONE_FAILING_POD: &str = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop"}, "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1"}]}, "status": {"phase": "Pending", "containerStatuses": [{"name": "web", "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}]}"#;

/// `value` as kubectl prints JSON: keys sorted, four spaces a level.
fn as_kubectl_prints(value: &serde_json::Value) -> String {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let map = keys.into_iter().map(|k| (k.clone(), sorted(&map[k])));
                serde_json::Value::Object(map.collect())
            }
            serde_json::Value::Array(items) => items.iter().map(sorted).collect(),
            other => other.clone(),
        }
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&sorted(value), &mut serializer).unwrap();
    String::from_utf8(out).unwrap() + "\n"
}

/// A kubectl pod list file in `dir`: one failing pod per image (its status names the image too,
/// as a kubelet's does), and an annotation that says `image` (tenant text, not an image).
fn pods_file(dir: &Path, images: &[&str]) -> PathBuf {
    let items: Vec<serde_json::Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p-{i}"), "namespace": "shop",
                    "annotations": {"image": "evil.example/not-an-image:1"}},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": image}]},
                "status": {"containerStatuses": [{"name": "c", "image": "docker.io/library/status-only:1",
                    "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}
            })
        })
        .collect();
    let path = dir.join("pods.json");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&path, as_kubectl_prints(&list)).unwrap();
    path
}

/// A kubectl that answers the pod list alone: one failing pod per image.
fn kubectl_with_pods(dir: &Path, images: &[&str]) -> String {
    format!(
        r#"case "$*" in
  "get pods -A -o json") cat "{}" ;;
  *) exit 1 ;;
esac"#,
        pods_file(dir, images).display()
    )
}

/// The collect script against clients that answer as a namespace-scoped user's would: `nodes`
/// refused (kubectl prints part of a list and exits 1), AWS refusing everything. The pods must
/// still reach the bundle — before, one refused kind threw the whole Kubernetes file away and an
/// empty list of another kind passed for "no pods", so the diagnosis said nothing was failing.
#[test]
fn the_collect_script_keeps_the_pods_when_rbac_refuses_a_kind() {
    let dir = temp_dir("collect-rbac");
    let pods: serde_json::Value = serde_json::from_str(ONE_FAILING_POD).unwrap();
    std::fs::write(dir.join("pods.json"), as_kubectl_prints(&pods)).unwrap();
    let run = |refused: &str| {
        let bin = dir.join(format!("bin-{refused}"));
        stub_clients(
            &bin,
            &format!(
                r#"case "$*" in
  *{refused}*) printf '{{"apiVersion": "v1", "items": [' ; echo "Error from server (Forbidden): {refused} is forbidden" >&2; exit 1 ;;
  "get pods -A -o json") cat "{}" ;;
  get*) printf '{{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List"\n}}\n' ;;
  *) exit 1 ;;
esac"#,
                dir.join("pods.json").display()
            ),
            r#"echo "An error occurred (AccessDenied) when calling the operation: denied" >&2; exit 254"#,
        );
        let out_dir = dir.join(format!("bundle-{refused}"));
        let (log, status) = run_collect_script_status(&bin, &out_dir);
        (
            status,
            pulldoctor(&[
                "diagnose",
                "--from",
                out_dir.to_str().unwrap(),
                "-o",
                "json",
            ]),
            log,
        )
    };
    // Nodes refused: the failing pod is in the bundle and diagnosed.
    let (status, out, log) = run("nodes");
    assert_eq!(status, Some(0), "{log}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        report["findings"][0]["pod"],
        "web-1",
        "{log}\n{}",
        stderr(&out)
    );
    // Pods refused: no pod list, so "could not run" (2) — never "nothing is failing" (0).
    let (status, out, log) = run("pods");
    assert_eq!(out.status.code(), Some(2), "{log}\n{}", stderr(&out));
    assert!(log.contains("the pods could not be listed"), "{log}");
    // …and the script itself fails, saying so, so a pipeline does not ship that bundle.
    assert_eq!(status, Some(1), "{log}");
    assert!(log.contains("collect: FAILED"), "{log}");
}

/// A list answer is never a glob: AWS answering `*` for the node groups asks for a node group
/// named `*`, once, instead of one per file in the working directory.
#[test]
fn the_collect_script_never_expands_an_answer_into_file_names() {
    let dir = temp_dir("collect-glob");
    for name in ["a", "b", "c"] {
        std::fs::write(dir.join(name), "").unwrap();
    }
    let bin = dir.join("bin");
    let asked = dir.join("asked.log");
    stub_clients(
        &bin,
        &kubectl_with_pods(
            &dir,
            &["111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1"],
        ),
        &format!(
            r#"printf '%s\n' "$*" >> "{}"
case "$*" in
  "eks list-nodegroups"*) printf '*\n' ;;
  *) exit 254 ;;
esac"#,
            asked.display()
        ),
    );
    let script = pulldoctor(&["collect-script"]).stdout;
    let mut bash = Command::new("bash")
        .args(["-s", "lab", dir.join("bundle").to_str().unwrap()])
        .current_dir(&dir)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    bash.stdin.take().unwrap().write_all(&script).unwrap();
    bash.wait().unwrap();
    let asked = std::fs::read_to_string(&asked).unwrap();
    let described: Vec<&str> = asked
        .lines()
        .filter(|l| l.contains("describe-nodegroup"))
        .collect();
    assert_eq!(described.len(), 1, "{asked}");
    assert!(described[0].ends_with("--nodegroup-name *"), "{asked}");
}

/// Dual-stack and FIPS registry hosts give their Region; JSON whatever the profile's output says;
/// `shop/web` and `shop_web` get files of their own, none ending in `_`; a failure's reason stays
/// on its line.
#[test]
fn the_collect_script_reads_regions_names_files_and_reports_failures_right() {
    let dir = temp_dir("collect-names");
    let images = [
        "111122223333.dkr-ecr.eu-west-1.on.aws/shop/web:1",
        "111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com/shop_web:1",
    ];
    let bin = dir.join("bin");
    let calls = dir.join("aws-calls.log");
    stub_clients(
        &bin,
        &kubectl_with_pods(&dir, &images),
        &format!(
            r#"echo "$AWS_DEFAULT_OUTPUT $*" >> "{}"
case "$*" in
  "ecr describe-images"*) echo '{{"imageDetails": []}}' ;;
  *) printf 'An error occurred (AccessDenied)
when calling the operation: denied
' >&2; exit 254 ;;
esac"#,
            calls.display()
        ),
    );
    let out_dir = dir.join("bundle");
    let log = run_collect_script(&bin, &out_dir);
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.lines().all(|c| c.starts_with("json ")),
        "AWS_DEFAULT_OUTPUT: {calls}"
    );
    for (repository, region) in [("shop/web", "eu-west-1"), ("shop_web", "us-gov-west-1")] {
        assert!(
            calls.contains(&format!(
                "ecr describe-images --registry-id 111122223333 --region {region} --repository-name {repository}"
            )),
            "{calls}"
        );
    }
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let images_files: Vec<&String> = files.iter().filter(|f| f.starts_with("images-")).collect();
    assert_eq!(images_files.len(), 2, "{files:?}");
    // An empty answer carries what was asked.
    let mut asked: Vec<(String, String)> = images_files
        .iter()
        .map(|f| {
            let answer: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out_dir.join(f)).unwrap()).unwrap();
            assert_eq!(answer["registryId"], "111122223333", "{answer}");
            (
                answer["repositoryName"].as_str().unwrap().to_string(),
                answer["region"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            ("shop/web".to_string(), "eu-west-1".to_string()),
            ("shop_web".to_string(), "us-gov-west-1".to_string())
        ]
    );
    assert!(
        files
            .iter()
            .all(|f| !f.trim_end_matches(".json").ends_with('_')),
        "{files:?}"
    );
    // The AWS CLI's two-line error stays on the "collect: … failed:" line.
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("collect: aws "))
        .collect();
    assert!(!failures.is_empty(), "{log}");
    for line in failures {
        assert!(
            line.contains("(AccessDenied) when calling the operation: denied"),
            "{line}"
        );
    }
}

/// The collect script takes the cluster's Region from the kube context (or its third argument),
/// reads Auto Mode's node classes, and asks each registry- and repository-level question once,
/// even when it failed: 24 tags of one repository are one `describe-images`.
#[test]
fn the_collect_script_asks_each_question_once_in_the_clusters_region() {
    let dir = temp_dir("collect-once");
    let images: Vec<String> = (0..24)
        .map(|t| format!("111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:{t}"))
        .collect();
    let node_classes = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "eks.amazonaws.com/v1", "kind": "NodeClass", "metadata": {"name": "default"}, "spec": {"role": "auto-node"}}]}"#;
    let calls = dir.join("aws-calls.log");
    let kubectl_calls = dir.join("kubectl-calls.log");
    let image_refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let pods = pods_file(&dir, &image_refs);
    let run = |region_argument: Option<&str>| {
        let bin = dir.join("bin");
        stub_clients(
            &bin,
            &format!(
                r#"echo "$*" >> "{}"
case "$*" in
  "config view"*) printf 'https://0A1B2C3D.gr7.eu-central-1.eks.amazonaws.com' ;;
  "get nodeclasses.eks.amazonaws.com -o json") printf '%s' '{node_classes}' ;;
  "get pods -A -o json") cat "{}" ;;
  *) exit 1 ;;
esac"#,
                kubectl_calls.display(),
                pods.display()
            ),
            &format!(
                r#"echo "$AWS_REGION $*" >> "{}"
echo "An error occurred (AccessDenied) when calling the operation: denied" >&2; exit 254"#,
                calls.display()
            ),
        );
        let _ = std::fs::remove_file(&calls);
        let out_dir = dir.join("bundle");
        let script = pulldoctor(&["collect-script"]).stdout;
        let mut args = vec![
            "-s".to_string(),
            "lab".to_string(),
            out_dir.display().to_string(),
        ];
        args.extend(region_argument.map(str::to_string));
        let mut bash = Command::new("bash")
            .args(&args)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        bash.stdin.take().unwrap().write_all(&script).unwrap();
        bash.wait().unwrap();
        (std::fs::read_to_string(&calls).unwrap(), out_dir)
    };
    let (calls, out_dir) = run(None);
    assert!(
        calls.contains("eu-central-1 eks describe-cluster --name lab"),
        "{calls}"
    );
    // The pod list and the node list are each read once.
    let kubectl = std::fs::read_to_string(&kubectl_calls).unwrap();
    for kind in ["pods", "nodes"] {
        let reads = kubectl
            .lines()
            .filter(|l| l.starts_with(&format!("get {kind} ")))
            .count();
        assert_eq!(reads, 1, "{kind}: {kubectl}");
    }
    assert!(
        !calls.contains("evil.example") && !calls.contains("status-only"),
        "{calls}"
    );
    let count = |what: &str| calls.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("ecr describe-images"), 1, "{calls}");
    assert_eq!(count("ecr get-repository-policy"), 1, "{calls}");
    assert_eq!(count("ecr describe-repositories"), 1, "{calls}");
    assert_eq!(
        count("ecr describe-pull-through-cache-rules --registry-id"),
        1,
        "{calls}"
    );
    assert_eq!(
        count("ecr batch-get-image"),
        24,
        "one manifest per tag: {calls}"
    );
    assert!(
        out_dir
            .join("kube-nodeclasses.eks.amazonaws.com.json")
            .exists(),
        "Auto Mode's node classes"
    );
    let (calls, _) = run(Some("ap-south-1"));
    assert!(
        calls.contains("ap-south-1 eks describe-cluster --name lab"),
        "{calls}"
    );
}

/// An image reference is tenant text, and AWS echoes it back in its errors: the collect script's
/// lines on the terminal drop control characters instead of sending an escape sequence raw.
#[test]
fn the_collect_script_never_prints_an_escape_sequence_from_a_name() {
    let dir = temp_dir("collect-escape");
    let bin = dir.join("bin");
    stub_clients(
        &bin,
        &kubectl_with_pods(
            &dir,
            &["111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/\u{1b}[31mweb:1"],
        ),
        r#"echo "An error occurred (AccessDenied) when calling the operation: $*" >&2; exit 254"#,
    );
    let log = run_collect_script(&bin, &dir.join("bundle"));
    assert!(log.contains("[31mweb"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

/// "Its policy does not allow" only where there is a policy: a repository of another account
/// with none says so, and the evidence shows it.
#[test]
fn a_repository_without_a_policy_is_said_to_have_none() {
    let out = pulldoctor(&[
        "diagnose",
        "--from",
        &asset("assets/scenarios/demo.yaml"),
        "batch/export-29013-4hq7d",
        "--output",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let link = report["findings"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "repository-policy")
        .cloned()
        .unwrap();
    let summary = link["summary"].as_str().unwrap();
    assert!(summary.contains("has no repository policy"), "{summary}");
    assert!(!summary.contains("its policy does not allow"), "{summary}");
    assert!(
        link["evidence"]
            .to_string()
            .contains("repository policy of data/exporter: none"),
        "{link}"
    );
}
