//! Fixes applied against the stand-ins: broken → `fix --allow-writes --yes` → the pod's chain
//! diagnosed again is no longer broken, and the backup holds the original document. Without
//! --allow-writes nothing is written; a second apply changes nothing; a plan whose document
//! changed since it was made is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::path::{Path, PathBuf};
use support::{Harness, TempDir};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios/causes")
        .join(name)
}

fn writes(h: &Harness) -> Vec<String> {
    h.front
        .requests()
        .into_iter()
        .filter(|r| support::aws_front::is_mutating(r.split('|').next().unwrap()))
        .collect()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Applies the fix of `pod` and checks it repaired the pod and kept a backup of `original`.
fn apply(h: &Harness, backups: &Path, pod: &str, choice: &str, original: Option<&str>) {
    let out = h.fix(pod, backups, &["--choice", choice]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{pod}: {all}");
    let after = all
        .split("after the change:")
        .nth(1)
        .unwrap_or_else(|| panic!("{pod}: no re-verification: {all}"));
    assert!(
        !after.contains("✗ BROKEN"),
        "{pod} still broken after the fix:\n{after}"
    );
    // The re-verification read that pod alone.
    let (namespace, name) = pod.split_once('/').unwrap();
    let last_pod_read = h
        .kube
        .requests()
        .into_iter()
        .rfind(|r| r.contains("/pods?"))
        .unwrap();
    assert!(
        last_pod_read.contains(&format!("/namespaces/{namespace}/pods?"))
            && last_pod_read.contains(&format!("metadata.name%3D{name}")),
        "{last_pod_read}"
    );
    if let Some(original) = original {
        let log = std::fs::read_to_string(backups.join("changes.log")).unwrap();
        let record: serde_json::Value = log
            .lines()
            .rev()
            .map(|l| serde_json::from_str(l).unwrap())
            .next()
            .unwrap();
        let backup: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(record["backup"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        assert!(
            backup["before"].as_str().unwrap_or("").contains(original),
            "{pod}: the backup lacks the original: {backup}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_policy_fixes_apply_and_verify() {
    let h = Harness::new(&scenario("trust.yaml")).await;
    let backups = TempDir::new("trust-backups");
    tokio::task::block_in_place(|| {
        // Read-only first: the plan is shown, nothing is written.
        let out = h.run(&["fix", "app/t-subject"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("iam:UpdateAssumeRolePolicy") && text(&out).contains("read-only"),
            "{}",
            text(&out)
        );
        assert_eq!(writes(&h), Vec::<String>::new(), "a read-only fix wrote");
        for (pod, original) in [
            ("app/t-provider", "0000000000000000000000000000DEAD"),
            ("app/t-subject", "t-subject-v2"),
            ("app/t-audience", "sts.amazon.com"),
            ("app/t-action", "\"sts:AssumeRole\""),
            ("app/t-scheme", "https://"),
            ("app/t-wildcard", "t-wild*"),
            ("app/t-pia", "AssumeRoleWithWebIdentity"),
        ] {
            apply(&h, &backups.0, pod, "1", Some(original));
        }
        // Applying again changes nothing.
        h.front.clear();
        let out = h.fix("app/t-subject", &backups.0, &[]);
        assert!(
            text(&out).contains("nothing to fix") || text(&out).contains("nothing to change"),
            "{}",
            text(&out)
        );
        assert_eq!(writes(&h), Vec::<String>::new(), "a second apply wrote");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_permission_fixes_apply_and_verify() {
    let h = Harness::new(&scenario("pull-permissions.yaml")).await;
    let backups = TempDir::new("pull-backups");
    tokio::task::block_in_place(|| {
        apply(&h, &backups.0, "app/pp-missing", "1", None);
        apply(&h, &backups.0, "app/pp-token", "2", None);
        apply(&h, &backups.0, "app/pp-ptc", "1", None);
        apply(&h, &backups.0, "app/pp-boundary", "1", Some("s3:*"));
        // An explicit deny is explained, never removed.
        h.front.clear();
        let out = h.run(&["fix", "app/pp-deny", "--allow-writes", "--yes"]);
        assert!(
            text(&out).contains("no API call fixes this"),
            "{}",
            text(&out)
        );
        assert_eq!(writes(&h), Vec::<String>::new());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_repository_fixes() {
    let h = Harness::new(&scenario("identity.yaml")).await;
    let backups = TempDir::new("identity-backups");
    tokio::task::block_in_place(|| {
        apply(&h, &backups.0, "app/ghost", "1", None);
        // The annotated-role probe: a running pod whose ServiceAccount's ecr-role-arn names a
        // role without ECR rights. Nothing shows the node pulls with it, and the image was
        // pulled: nothing is broken, and --allow-writes grants that role nothing.
        h.front.clear();
        let out = h.fix("app/token-pull", &backups.0, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("nothing to fix"), "{}", text(&out));
        assert_eq!(
            writes(&h),
            Vec::<String>::new(),
            "the annotated role was granted"
        );
    });
    // A repository of another account: its owner must change the policy; these credentials
    // refuse to try, and write nothing.
    let r = Harness::new(&scenario("repository.yaml")).await;
    tokio::task::block_in_place(|| {
        let out = r.run(&["fix", "app/r-cross", "--allow-writes", "--yes"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("account 444455556666"),
            "{}",
            text(&out)
        );
        assert_eq!(writes(&r), Vec::<String>::new());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_document_changed_is_refused() {
    let h = Harness::new(&scenario("trust.yaml")).await;
    let dir = TempDir::new("plan");
    let plan = dir.0.join("plan.json");
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::new()
            .endpoint_url(h.front.url())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .build(),
    );
    let out = tokio::task::block_in_place(|| {
        h.run(&[
            "fix",
            "app/t-audience",
            "--plan-out",
            plan.to_str().unwrap(),
        ])
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Someone else edits the trust policy after the plan was reviewed.
    iam.update_assume_role_policy()
        .role_name("t-audience")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    h.front.clear();
    let out = tokio::task::block_in_place(|| {
        h.run(&[
            "fix",
            "--plan",
            plan.to_str().unwrap(),
            "--allow-writes",
            "--yes",
            "--backup-dir",
            dir.0.to_str().unwrap(),
        ])
    });
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("changed since it was read"),
        "{}",
        text(&out)
    );
    assert_eq!(
        writes(&h),
        Vec::<String>::new(),
        "nothing written after the refusal"
    );
}

/// Kubernetes fixes: the malformed annotation is patched; the pod that still carries the old
/// value then needs a rollout restart, which patches the Deployment's pod template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_fixes_patch_the_service_account_and_restart_the_deployment() {
    let h = Harness::new(&scenario("identity.yaml")).await;
    let backups = TempDir::new("kube-backups");
    tokio::task::block_in_place(|| {
        let out = h.fix("app/fixme-7d9f8-abcde", &backups.0, &[]);
        let all = text(&out);
        assert!(all.contains("kube:AnnotateServiceAccount"), "{all}");
        let sa = h.kube.object("ServiceAccount", "app", "fixme").unwrap();
        assert_eq!(
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::111122223333:role/fixme-role"
        );
        // The chain moves on: the running pod still has the old value, so it must be restarted.
        let after = all
            .split("after the change:")
            .nth(1)
            .unwrap_or_else(|| panic!("{all}"));
        assert!(after.contains("pod-role-mismatch"), "{after}");
        let log = std::fs::read_to_string(backups.0.join("changes.log")).unwrap();
        assert!(log.contains("\"before\":\"fixme-role\""), "{log}");

        let out = h.fix("app/fixme-7d9f8-abcde", &backups.0, &[]);
        let all = text(&out);
        assert!(all.contains("kube:RolloutRestart"), "{all}");
        let deployment = h.kube.object("Deployment", "app", "fixme").unwrap();
        assert!(deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(), "{deployment}");
        // The stand-in has no controller to replace the pod, so it stays broken: exit 1, honestly.
        assert_eq!(out.status.code(), Some(1), "{all}");
    });
    let patches: Vec<String> = h
        .kube
        .requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
}

/// The OIDC provider is created for the cluster's issuer, a provider without the STS audience
/// gets it (through the front: moto lacks AddClientIDToOpenIDConnectProvider), and a warning's
/// fix (a trust policy without its audience condition) applies too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_and_audience_condition_fixes() {
    let h = Harness::new(&scenario("oidc-missing.yaml")).await;
    let backups = TempDir::new("oidc-backups");
    tokio::task::block_in_place(|| apply(&h, &backups.0, "app/no-provider", "1", None));
    let o = Harness::new(&scenario("oidc.yaml")).await;
    tokio::task::block_in_place(|| {
        apply(&o, &backups.0, "app/vault-aud", "1", None);
        let adds = o
            .front
            .operations()
            .into_iter()
            .filter(|op| op == "iam:AddClientIDToOpenIDConnectProvider")
            .count();
        assert_eq!(adds, 1, "{:?}", o.front.operations());
        // A second apply finds the audience there and writes nothing.
        o.front.clear();
        let out = o.fix("app/vault-aud", &backups.0, &[]);
        assert!(o.front.writes().is_empty(), "{}", text(&out));
    });
    let t = Harness::new(&scenario("trust.yaml")).await;
    tokio::task::block_in_place(|| {
        let out = t.fix(
            "app/t-noaud",
            &backups.0,
            &["--cause", "trust-no-audience-condition"],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        let after = all.split("after the change:").nth(1).unwrap();
        assert!(after.starts_with("\n✓ ok"), "the warning is gone: {after}");
    });
}

/// A plan file is not trusted: a document widened past what the cause's fix writes is refused
/// before anything is shown as the plan; one that stays within the rules but is not what the fix
/// writes now (another repository) is refused when applied; nothing is written either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_plan_is_refused() {
    let h = Harness::new(&scenario("pull-permissions.yaml")).await;
    let dir = TempDir::new("forged");
    let plan = dir.0.join("plan.json");
    tokio::task::block_in_place(|| {
        let out = h.run(&[
            "fix",
            "app/pp-missing",
            "--plan-out",
            plan.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let original = std::fs::read_to_string(&plan).unwrap();
        let forge = |from: &str, to: &str, name: &str| {
            assert!(original.contains(from), "{from} in {original}");
            let path = dir.0.join(name);
            std::fs::write(&path, original.replace(from, to)).unwrap();
            path
        };
        h.front.clear();
        let wide = forge("ecr:BatchGetImage", "*", "wide.json");
        for extra in [&[][..], &["--allow-writes", "--yes"][..]] {
            let mut args = vec!["fix", "--plan", wide.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = h.run(&args);
            assert_eq!(out.status.code(), Some(2), "{}", text(&out));
            assert!(text(&out).contains("refused"), "{}", text(&out));
            assert!(
                !text(&out).contains("\"*\""),
                "the forged document is not shown as the plan"
            );
        }
        let apply = |path: &std::path::Path| {
            h.run(&[
                "fix",
                "--plan",
                path.to_str().unwrap(),
                "--allow-writes",
                "--yes",
                "--backup-dir",
                dir.0.to_str().unwrap(),
            ])
        };
        let other = forge("repository/app/web", "repository/app/other", "other.json");
        let out = apply(&other);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("does not match"), "{}", text(&out));
        assert_eq!(writes(&h), Vec::<String>::new(), "nothing written");
        // The genuine plan still applies.
        let out = apply(&plan);
        assert!(
            text(&out).contains("applied iam:PutRolePolicy"),
            "{}",
            text(&out)
        );
    });
}

/// A plan file's text is never sent: JSON that reads two ways (a duplicate key, an unknown key
/// a parser drops, a URL-encoded document) is refused, and a genuine plan sends the document
/// pulldoctor computes now. Nothing mutating reaches the stand-in for any smuggled plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_plan_text_is_refused() {
    let h = Harness::new(&scenario("pull-permissions.yaml")).await;
    let dir = TempDir::new("smuggled");
    let plan = dir.0.join("plan.json");
    tokio::task::block_in_place(|| {
        let out = h.run(&[
            "fix",
            "app/pp-missing",
            "--plan-out",
            plan.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let original = std::fs::read_to_string(&plan).unwrap();
        let value: serde_json::Value = serde_json::from_str(&original).unwrap();
        let after = value["writes"][0]["after"].as_str().unwrap().to_string();
        let with_after = |document: &str| {
            let mut v = value.clone();
            v["writes"][0]["after"] = serde_json::Value::String(document.to_string());
            serde_json::to_string_pretty(&v).unwrap()
        };
        let effect = "\"Effect\": \"Allow\"";
        assert!(after.contains(effect), "{after}");
        let encoded: String = after
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let smuggles = [
            (
                "duplicate key in the document",
                with_after(&after.replacen(
                    effect,
                    "\"Effect\": \"Deny\", \"Effect\": \"Allow\"",
                    1,
                )),
                "appears twice",
            ),
            (
                "unknown lower-case key",
                with_after(&after.replacen(
                    effect,
                    "\"effect\": \"Deny\", \"Effect\": \"Allow\"",
                    1,
                )),
                "does not match",
            ),
            ("URL-encoded document", with_after(&encoded), "encoded"),
            (
                "duplicate key in the plan",
                original.replacen("\"cause\":", "\"cause\": \"x\", \"cause\":", 1),
                "appears twice",
            ),
            (
                "unknown field in the plan",
                original.replacen("\"cause\":", "\"causes\": [], \"cause\":", 1),
                "unknown field",
            ),
        ];
        for (what, forged, said) in smuggles {
            assert_ne!(forged, original, "{what}: nothing forged");
            let path = dir.0.join("forged.json");
            std::fs::write(&path, &forged).unwrap();
            h.front.clear();
            let out = h.run(&[
                "fix",
                "--plan",
                path.to_str().unwrap(),
                "--allow-writes",
                "--yes",
                "--backup-dir",
                dir.0.to_str().unwrap(),
            ]);
            assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
            assert!(text(&out).contains(said), "{what}: {}", text(&out));
            assert_eq!(writes(&h), Vec::<String>::new(), "{what}: written");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_path_fixes_apply_through_ec2_and_verify() {
    let h = Harness::new(&scenario("network-path.yaml")).await;
    let backups = TempDir::new("network-backups");
    tokio::task::block_in_place(|| {
        // Read-only first: the EC2 call is planned, nothing is sent.
        let out = h.run(&["fix", "net/s3-not-on-table"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("ec2:ModifyVpcEndpoint") && text(&out).contains("read-only"),
            "{}",
            text(&out)
        );
        assert_eq!(writes(&h), Vec::<String>::new(), "a read-only fix wrote");
        apply(&h, &backups.0, "net/s3-not-on-table", "1", None);
        apply(&h, &backups.0, "net/wrong-zone", "1", None);
        apply(&h, &backups.0, "net/dns-off", "1", None);
        apply(&h, &backups.0, "net/security-group", "1", None);
        // The endpoint policy: one statement added, the original kept in the backup.
        apply(
            &h,
            &backups.0,
            "net/endpoint-policy",
            "1",
            Some("repository/platform/*"),
        );
        let sent = writes(&h);
        for call in ["ec2:ModifyVpcEndpoint", "ec2:AuthorizeSecurityGroupIngress"] {
            assert!(
                sent.iter().any(|w| w.starts_with(call)),
                "{call} was not sent: {sent:#?}"
            );
        }
        // Applying again changes nothing.
        h.front.clear();
        let out = h.fix("net/s3-not-on-table", &backups.0, &[]);
        assert!(
            text(&out).contains("nothing to fix") || text(&out).contains("nothing to change"),
            "{}",
            text(&out)
        );
        assert_eq!(writes(&h), Vec::<String>::new(), "a second apply wrote");
    });
}

/// An archived image is restored through ECR's UpdateImageStorageClass, only with
/// --allow-writes; the fresh diagnosis reads the image ACTIVATING (a restore takes a while),
/// the backup holds the storage class it replaced, and a second apply writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_image_is_restored_and_reads_activating() {
    let h = Harness::new(&scenario("long-tail.yaml")).await;
    let backups = TempDir::new("archive-backups");
    tokio::task::block_in_place(|| {
        let out = h.run(&["fix", "lt/archived"]);
        assert!(
            text(&out).contains("ecr:UpdateImageStorageClass"),
            "{}",
            text(&out)
        );
        assert_eq!(
            writes(&h),
            Vec::<String>::new(),
            "wrote without --allow-writes"
        );
        let out = h.fix("lt/archived", &backups.0, &["--choice", "1"]);
        let all = text(&out);
        let restores: Vec<String> = writes(&h)
            .into_iter()
            .filter(|w| w.starts_with("ecr:UpdateImageStorageClass"))
            .collect();
        assert_eq!(restores.len(), 1, "{all}");
        let after = all
            .split("after the change:")
            .nth(1)
            .unwrap_or_else(|| panic!("{all}"));
        assert!(after.contains("ACTIVATING"), "{after}");
        let log = std::fs::read_to_string(backups.0.join("changes.log")).unwrap();
        let record: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
        assert_eq!(record["before"], "ARCHIVE", "{record}");
        assert_eq!(record["call"], "ecr:UpdateImageStorageClass");
        h.front.clear();
        let again = h.fix("lt/archived", &backups.0, &["--choice", "1"]);
        assert_eq!(writes(&h), Vec::<String>::new(), "{}", text(&again));
    });
}
