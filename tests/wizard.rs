//! The setup wizard: each answer validated, the exported files (golden), and the setup applied
//! against the stand-ins and verified, then re-run without a change.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use pulldoctor::iam::policy::PolicyDocument;
use pulldoctor::source;
use pulldoctor::wizard::{self, Answers, Mode, export};
use std::path::Path;
use support::{Harness, TempDir};

fn answers() -> Answers {
    Answers {
        namespace: "shop".into(),
        service_account: "orders".into(),
        repositories: vec!["shop/web".into()],
        ..Default::default()
    }
}

#[test]
fn each_answer_is_validated() {
    assert_eq!(wizard::validate(&answers()), Vec::<String>::new());
    let bad = |f: &dyn Fn(&mut Answers)| {
        let mut a = answers();
        f(&mut a);
        wizard::validate(&a)
    };
    assert!(bad(&|a| a.namespace = "Shop".into())[0].starts_with("namespace"));
    assert!(bad(&|a| a.service_account = "-orders".into())[0].starts_with("ServiceAccount"));
    assert!(bad(&|a| a.repositories.clear())[0].contains("repository"));
    assert!(bad(&|a| a.role_name = Some("bad role".into()))[0].starts_with("role name"));
    assert!(bad(&|a| a.permissions_boundary = Some("boundary".into()))[0].contains("boundary"));
    let star = PolicyDocument::from_text(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    )
    .unwrap();
    let errors = bad(&|a| a.app_policy = Some(star.clone()));
    assert_eq!(errors.len(), 2, "{errors:?}");
    let token = PolicyDocument::from_text(
        r#"{"Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(
        bad(&|a| a.app_policy = Some(token.clone())),
        Vec::<String>::new(),
        "the token's * is allowed"
    );
    // pulldoctor's own agent: its read calls on every resource, so the wizard sets up its role;
    // one more action beside them, and the * is refused again.
    let agent =
        PolicyDocument::from_text(&std::fs::read_to_string("deploy/iam-policy.json").unwrap())
            .unwrap();
    assert_eq!(
        bad(&|a| a.app_policy = Some(agent.clone())),
        Vec::<String>::new()
    );
    let widened = PolicyDocument::from_text(
        r#"{"Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:PassRole"],"Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(bad(&|a| a.app_policy = Some(widened.clone())).len(), 1);
}

#[test]
fn derived_names_are_validated_too() {
    let facts = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let mut a = answers();
    a.repositories.push("  ".into());
    assert!(wizard::validate(&a).iter().any(|e| e.contains("empty")));
    // The default role name is CLUSTER-NAMESPACE-SERVICEACCOUNT: here longer than IAM allows.
    let mut a = answers();
    a.service_account = "a".repeat(60);
    let errors = wizard::plan(&facts, &a).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("--role-name") && e.contains("64")),
        "{errors:?}"
    );
    a.role_name = Some("orders".into());
    assert!(wizard::plan(&facts, &a).is_ok());
}

#[test]
fn exported_files_in_both_modes() {
    let facts = source::facts_from_bundle(&source::demo::bundle(), "demo");
    for mode in [Mode::Irsa, Mode::PodIdentity] {
        let mut a = answers();
        a.mode = Some(mode);
        a.repositories
            .push("444455556666.dkr.ecr.us-east-1.amazonaws.com/data/exporter".into());
        a.app_policy = Some(PolicyDocument::from_text(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::shop-orders/*"}]}"#).unwrap());
        let setup = wizard::plan(&facts, &a).unwrap();
        let dir = TempDir::new(mode.as_str());
        export::write(&setup, &dir.0, false).unwrap();
        if mode == Mode::Irsa {
            // A second export refuses to overwrite; with force it replaces a planted symlink
            // instead of writing through it.
            let again = export::write(&setup, &dir.0, false).unwrap_err();
            assert!(
                again.contains("already exist") && again.contains("--force"),
                "{again}"
            );
            let victim = dir.0.join("victim.txt");
            std::fs::write(&victim, "keep me").unwrap();
            std::fs::remove_file(dir.0.join("apply.sh")).unwrap();
            std::os::unix::fs::symlink(&victim, dir.0.join("apply.sh")).unwrap();
            export::write(&setup, &dir.0, true).unwrap();
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
            assert!(
                !dir.0
                    .join("apply.sh")
                    .symlink_metadata()
                    .unwrap()
                    .is_symlink()
            );
        }
        for (name, text) in export::files(&setup) {
            insta::assert_snapshot!(format!("wizard_{}_{name}", mode.as_str()), text);
            if name.ends_with(".json") {
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            if name.ends_with(".yaml") {
                serde_saphyr::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        let check = std::process::Command::new("bash")
            .arg("-n")
            .arg(dir.0.join("apply.sh"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        // No * beyond the token: the guard rails hold for every generated policy.
        for w in &setup.plan.writes {
            if let Some(after) = &w.after
                && let Ok(doc) = PolicyDocument::from_text(after)
            {
                assert_eq!(
                    pulldoctor::fix::guard::app_policy_rails(&doc),
                    Vec::<String>::new(),
                    "{after}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_applies_and_a_pod_of_it_would_be_ok() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/trust.yaml"),
    )
    .await;
    let backups = TempDir::new("wizard-backups");
    let args = [
        "wizard",
        "-n",
        "app",
        "--service-account",
        "newapp",
        "--repository",
        "app/web",
        // trust.yaml runs the Pod Identity agent: IRSA is asked for.
        "--mode",
        "irsa",
        "--apply",
        "--allow-writes",
        "--yes",
        "--backup-dir",
        backups.0.to_str().unwrap(),
    ];
    tokio::task::block_in_place(|| {
        let out = h.run(&args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(
            all.contains("applied iam:CreateRole")
                && all.contains("applied kube:ApplyServiceAccount"),
            "{all}"
        );
        let verified = all
            .split("a pod of the new ServiceAccount would see:")
            .nth(1)
            .unwrap_or_else(|| panic!("{all}"));
        assert!(verified.trim_start().starts_with("✓ ok"), "{verified}");
        let sa = h
            .kube
            .object("ServiceAccount", "app", "newapp")
            .expect("the ServiceAccount was created");
        assert_eq!(
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::111122223333:role/lab-app-newapp"
        );
        // The same answers again change nothing.
        h.front.clear();
        let out = h.run(&args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("nothing to change"), "{all}");
        let writes: Vec<String> = h
            .front
            .requests()
            .into_iter()
            .filter(|r| support::aws_front::is_mutating(r.split('|').next().unwrap()))
            .collect();
        assert_eq!(writes, Vec::<String>::new());
        // Without --allow-writes the wizard refuses to apply and writes nothing.
        let out = h.run(&[
            "wizard",
            "-n",
            "app",
            "--service-account",
            "other",
            "--repository",
            "app/web",
            "--apply",
        ]);
        assert_eq!(out.status.code(), Some(2));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_identity_setup_applies_too() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/trust.yaml"),
    )
    .await;
    let backups = TempDir::new("wizard-pia");
    tokio::task::block_in_place(|| {
        let out = h.run(&[
            "wizard",
            "-n",
            "app",
            "--service-account",
            "pia-app",
            "--repository",
            "app/web",
            "--mode",
            "pod-identity",
            "--apply",
            "--allow-writes",
            "--yes",
            "--backup-dir",
            backups.0.to_str().unwrap(),
        ]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(
            all.contains("applied eks:CreatePodIdentityAssociation"),
            "{all}"
        );
        let verified = all
            .split("a pod of the new ServiceAccount would see:")
            .nth(1)
            .unwrap_or_else(|| panic!("{all}"));
        assert!(verified.trim_start().starts_with("✓ ok"), "{verified}");
        assert!(
            verified
                .contains("EKS Pod Identity: an association gives ServiceAccount pia-app the role"),
            "{verified}"
        );
        assert!(verified.contains("✓ ok       trust-policy"), "{verified}");
    });
}

/// The wizard in the TUI on a live cluster: the checks read what the answers name (here the Pod
/// Identity agent, which no diagnosis reads), then the plan applies and is verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_wizard_reads_plans_and_applies_live() {
    let h = Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/trust.yaml"),
    )
    .await;
    h.kube.add(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "eks-pod-identity-agent", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}}
    }));
    let backups = TempDir::new("tui-wizard");
    let screen = h.terminal(
        "wizard",
        &["wizard", "--allow-writes"],
        &[("PULLDOCTOR_STATE_DIR", backups.0.to_str().unwrap())],
    );
    tokio::task::block_in_place(|| {
        screen.wait_for("▶ namespace");
        for answer in ["app", "tui-app", "app/web", "", "", ""] {
            if !answer.is_empty() {
                screen.keys(&[answer]);
            }
            screen.keys(&["Enter"]);
        }
        // Auto mode chose Pod Identity because the setup's own reads saw the agent.
        let plan = screen.wait_for("mode pod-identity");
        assert!(plan.contains("eks-pod-identity-agent"), "{plan}");
        screen.keys(&["a"]);
        screen.wait_for("type yes to apply");
        screen.keys(&["yes", "Enter"]);
        let verified = screen.wait_for("a pod of the new ServiceAccount would see");
        assert!(verified.contains(" applied iam:CreateRole"), "{verified}");
        assert!(
            verified.contains("✓ ok  app/pulldoctor-setup-check"),
            "the verification scrolled into view and is ok:\n{verified}"
        );
    });
    let sa = h
        .kube
        .object("ServiceAccount", "app", "tui-app")
        .expect("the ServiceAccount was created");
    assert_eq!(sa["metadata"]["name"], "tui-app");
    assert!(
        h.front
            .operations()
            .iter()
            .any(|op| op.contains("CreatePodIdentityAssociation")),
        "{:?}",
        h.front.operations()
    );
}

fn demo_facts() -> pulldoctor::facts::Facts {
    source::facts_from_bundle(&source::demo::bundle(), "demo")
}

/// The demo's `shop/web` exists, names role shop-web and runs 2 pods: a setup for it is a
/// take-over, shown as the annotation's diff with the pods; one that keeps its role is not. A
/// namespace that does not exist is said, with the one a typo away; a setup without app
/// permissions says it grants the pull only.
#[test]
fn a_setup_over_what_exists_says_so() {
    let facts = demo_facts();
    let web = Answers {
        namespace: "shop".into(),
        service_account: "web".into(),
        repositories: vec!["shop/web".into()],
        mode: Some(Mode::Irsa),
        ..Default::default()
    };
    let setup = wizard::plan(&facts, &web).unwrap();
    assert_eq!(
        setup.plan.takes_over.len(),
        1,
        "{:?}",
        setup.plan.takes_over
    );
    let over = &setup.plan.takes_over[0];
    assert!(
        over.contains("role/shop-web")
            && over.contains("used by 2 pods (web-7f9c6d-k8p, web-7f9c6d-x2x)")
            && over.contains("give shop-web as the role name"),
        "{over}"
    );
    let annotation = setup
        .plan
        .writes
        .iter()
        .find(|w| w.apply.call() == "kube:ApplyServiceAccount")
        .and_then(|w| w.diff.clone())
        .unwrap_or_default();
    assert!(
        annotation.contains("-eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/shop-web")
            && annotation.contains(
                "+eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/prod-east-shop-web"
            ),
        "{annotation}"
    );
    let said =
        |setup: &wizard::Setup, text: &str| setup.checks.iter().any(|c| c.text.contains(text));
    assert!(said(&setup, "grants the image pull only"));

    // Keeping the role it names changes nothing of the ServiceAccount.
    let keep = Answers {
        role_name: Some("shop-web".into()),
        app_policy: Some(
            wizard::allow_list(&["s3:GetObject=arn:aws:s3:::orders/*".into()]).unwrap(),
        ),
        ..web.clone()
    };
    let kept = wizard::plan(&facts, &keep).unwrap();
    assert!(
        !kept
            .plan
            .writes
            .iter()
            .any(|w| w.apply.call() == "kube:ApplyServiceAccount"),
        "{:?}",
        kept.plan.writes
    );
    assert!(said(&kept, "already names role"));
    assert!(!said(&kept, "grants the image pull only"));

    let typo = Answers {
        namespace: "shpo".into(),
        ..web
    };
    let typo = wizard::plan(&facts, &typo).unwrap();
    assert!(
        said(&typo, "namespace shpo does not exist") && said(&typo, "did you mean shop?"),
        "{:?}",
        typo.checks
    );
}

/// Live, the take-over is refused without `--take-over` (nothing written, the ServiceAccount as
/// it was) and applied with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_over_only_with_take_over() {
    let h = Harness::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/demo.yaml"))
        .await;
    let backups = TempDir::new("wizard-take-over");
    let mut args = vec![
        "wizard",
        "-n",
        "shop",
        "--service-account",
        "web",
        "--repository",
        "shop/web",
        // The demo runs the Pod Identity agent: the take-over of its IRSA annotation is asked for.
        "--mode",
        "irsa",
        "--apply",
        "--allow-writes",
        "--yes",
        "--backup-dir",
        backups.0.to_str().unwrap(),
    ];
    let annotation = |h: &Harness| {
        h.kube.object("ServiceAccount", "shop", "web").unwrap()["metadata"]["annotations"]
            ["eks.amazonaws.com/role-arn"]
            .clone()
    };
    tokio::task::block_in_place(|| {
        let out = h.run(&args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(
            stdout.contains("! takes over: ServiceAccount shop/web"),
            "{stdout}"
        );
        assert!(stderr.contains("add --take-over"), "{stderr}");
        assert_eq!(annotation(&h), "arn:aws:iam::111122223333:role/shop-web");
        let writes: Vec<String> = h
            .front
            .requests()
            .into_iter()
            .filter(|r| support::aws_front::is_mutating(r.split('|').next().unwrap()))
            .collect();
        assert_eq!(writes, Vec::<String>::new());

        args.push("--take-over");
        let out = h.run(&args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("applied kube:ApplyServiceAccount"), "{all}");
        assert_eq!(
            annotation(&h),
            "arn:aws:iam::111122223333:role/prod-east-shop-web"
        );
    });
}

/// A setup's plan is held to its purpose by the guard: one write wider than the ServiceAccount
/// and role it sets up refuses the whole plan.
#[test]
fn a_setup_plan_widened_beyond_its_purpose_is_refused() {
    use pulldoctor::fix::guard;
    use pulldoctor::fix::write_plan::Write;
    use pulldoctor::report::Apply;
    let facts = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let mut a = answers();
    a.mode = Some(Mode::Irsa);
    a.app_policy = Some(
        PolicyDocument::from_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::orders/*"}]}"#,
        )
        .unwrap(),
    );
    let setup = wizard::plan(&facts, &a).unwrap();
    let plan = setup.plan.plan().clone();
    assert!(guard::check(plan.clone()).is_ok(), "the setup as planned");
    let role = setup.role_name.clone();
    let document = |text: &str| Write {
        apply: Apply::PutRolePolicy {
            account: setup.account.clone(),
            role: role.clone(),
            policy_name: "app".into(),
        },
        before: None,
        after: Some(text.to_string()),
        diff: None,
    };
    let widened: Vec<(&str, Write)> = vec![
        (
            "an administrator policy on its role",
            Write {
                apply: Apply::AttachRolePolicy {
                    account: setup.account.clone(),
                    role: role.clone(),
                    policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                },
                before: None,
                after: None,
                diff: None,
            },
        ),
        (
            "another ServiceAccount",
            Write {
                apply: Apply::ApplyServiceAccount {
                    namespace: "kube-system".into(),
                    name: "default".into(),
                    role_arn: Some(setup.role_arn.clone()),
                },
                before: None,
                after: None,
                diff: None,
            },
        ),
        (
            "its ServiceAccount pointed at another role",
            Write {
                apply: Apply::ApplyServiceAccount {
                    namespace: "shop".into(),
                    name: "orders".into(),
                    role_arn: Some("arn:aws:iam::111122223333:role/admin".into()),
                },
                before: None,
                after: None,
                diff: None,
            },
        ),
        (
            "its ServiceAccount pointed at a role of the same name in another account",
            Write {
                apply: Apply::ApplyServiceAccount {
                    namespace: "shop".into(),
                    name: "orders".into(),
                    role_arn: Some(setup.role_arn.replace(&setup.account, "999988887777")),
                },
                before: None,
                after: None,
                diff: None,
            },
        ),
        (
            "its app policy on a role of the same name in another account",
            Write {
                apply: Apply::PutRolePolicy {
                    account: "999988887777".into(),
                    role: role.clone(),
                    policy_name: "app".into(),
                },
                before: None,
                after: Some(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::orders/*"}]}"#.into(),
                ),
                diff: None,
            },
        ),
        (
            "an app policy of *",
            document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#),
        ),
        (
            "a trust policy for another ServiceAccount",
            Write {
                apply: Apply::UpdateAssumeRolePolicy {
                    account: setup.account.clone(),
                    role: role.clone(),
                },
                before: None,
                after: Some(
                    serde_json::json!({"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:default"}}}]})
                    .to_string(),
                ),
                diff: None,
            },
        ),
    ];
    for (what, write) in widened {
        let mut wider = plan.clone();
        wider.writes.push(write);
        let refused = guard::check(wider).expect_err(what);
        assert!(refused.starts_with("refused: "), "{what}: {refused}");
        assert!(
            refused.contains("no setup of ServiceAccount shop/orders"),
            "{what}: {refused}"
        );
    }
}
