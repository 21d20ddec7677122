//! Every scenario in assets/scenarios is diagnosed (all pods) and checked against its `expect`
//! list; together the scenarios must produce every cause code of the contract.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::ecr::reference::AWS_EKS_REGISTRIES;
use pulldoctor::report::{Cause, Report, Status};
use pulldoctor::scenario;
use pulldoctor::source::{self, bundle};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scenario_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            ) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios"),
        &mut files,
    );
    files
}

fn run(path: &Path) -> (Report, Vec<scenario::Expectation>) {
    let b = bundle::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expect = b
        .expect
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no expect list", path.display()));
    let expectations =
        scenario::parse(expect).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let facts = source::facts_from_bundle(&b, "snapshot");
    let report = diagnose(
        &facts,
        &Selection {
            all: true,
            ..Default::default()
        },
    );
    (report, expectations)
}

#[test]
fn every_scenario_meets_its_expectations() {
    let files = scenario_files();
    assert!(
        files.len() >= 8,
        "expected the demo and the cause scenarios, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let (report, expectations) = run(path);
        assert!(
            !expectations.is_empty(),
            "{}: empty expect list",
            path.display()
        );
        assert!(
            report.problems.is_empty(),
            "{}: input problems: {:?}",
            path.display(),
            report.problems
        );
        for e in scenario::check(&expectations, &report) {
            failures.push(format!(
                "{}: {e}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn scenarios_cover_every_cause_code() {
    let mut covered = BTreeSet::new();
    for path in scenario_files() {
        let (_, expectations) = run(&path);
        for e in expectations {
            covered.extend(e.cause.clone());
            covered.extend(e.warnings.clone());
        }
    }
    let missing: Vec<&str> = Cause::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "causes no scenario expects: {missing:?}"
    );
}

#[test]
fn every_finding_with_a_broken_link_carries_a_fix() {
    for path in scenario_files() {
        let (report, _) = run(&path);
        for f in &report.findings {
            if f.verdict == Status::Broken {
                assert!(
                    !f.fixes.is_empty(),
                    "{}: {} ({:?}) has no fix",
                    path.display(),
                    f.subject(),
                    f.cause
                );
                for fix in &f.fixes {
                    assert_eq!(Some(fix.cause), f.cause);
                    assert!(fix.steps.iter().all(|s| !s.explain.is_empty()));
                    // A step that introduces something ("…in Terraform:") shows it; and one
                    // sentence never runs on into the next ("…from S3 Nodes without…").
                    for s in &fix.steps {
                        assert!(
                            !s.explain.ends_with(':')
                                || s.command.is_some()
                                || s.document.is_some(),
                            "{}: {} — a heading with nothing under it: {}",
                            path.display(),
                            f.subject(),
                            s.explain
                        );
                        let run_on = s.explain.split(". ").any(|part| {
                            part.char_indices().any(|(i, c)| {
                                c == ' '
                                    && part[..i]
                                        .ends_with(|p: char| p.is_ascii_alphanumeric() || p == ')')
                                    && part[i + 1..].starts_with(|n: char| n.is_ascii_uppercase())
                                    && part[i + 1..].split(' ').next().is_some_and(|w| {
                                        matches!(
                                            w,
                                            "Nodes"
                                                | "The"
                                                | "This"
                                                | "Add"
                                                | "Ask"
                                                | "Allow"
                                                | "An"
                                                | "A"
                                                | "It"
                                        )
                                    })
                            })
                        });
                        assert!(
                            !run_on,
                            "{}: a run-on sentence: {}",
                            path.display(),
                            s.explain
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_demo_is_deterministic_and_lists_every_pod() {
    let demo = source::demo::bundle();
    let facts = source::facts_from_bundle(&demo, "demo");
    let all = Selection {
        all: true,
        ..Default::default()
    };
    let first = diagnose(&facts, &all);
    assert_eq!(first, diagnose(&facts, &all));
    assert!(
        facts.pods.len() >= 12,
        "the demo has {} pods",
        facts.pods.len()
    );
    let namespaces: BTreeSet<&str> = first
        .findings
        .iter()
        .map(|f| f.namespace.as_str())
        .collect();
    assert!(namespaces.len() >= 3);
    // Without --all only pods that cannot pull (and workloads that cannot create pods) show.
    let failing = diagnose(&facts, &Selection::default());
    assert!(failing.findings.iter().all(|f| f.state != "Running"));
    assert!(failing.findings.len() < first.findings.len());
}

/// `snapshot --redact` over every scenario: the same diagnosis (with names mapped), and no
/// original account id, role, repository or user name left anywhere in the file.
#[test]
fn redaction_keeps_every_diagnosis_and_leaves_no_name() {
    use pulldoctor::source::redact::{Redactor, redact_snapshot};
    let mut failures = Vec::new();
    for path in scenario_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let b = bundle::read(&path).unwrap();
        let documents: Vec<serde_json::Value> =
            b.documents.iter().map(|d| d.value.clone()).collect();
        let mut snapshot = serde_json::json!({"source": b.source, "documents": documents});
        redact_snapshot(&mut snapshot);
        let text = serde_json::to_string(&snapshot).unwrap();
        let mut redacted = bundle::Bundle::default();
        bundle::add_text(&mut redacted, "redacted.json", &text);

        let all = Selection {
            all: true,
            ..Default::default()
        };
        let names = Redactor::new(&documents);
        let shape = |r: &Report, map: &dyn Fn(&str) -> String| {
            let mut rows: Vec<String> = r
                .findings
                .iter()
                .map(|f| {
                    let links: Vec<String> = f
                        .links
                        .iter()
                        .map(|l| format!("{}={:?}/{:?}", l.id, l.status, l.cause))
                        .collect();
                    format!(
                        "{} {} {} {:?} {:?} {:?} [{}]",
                        map(&f.namespace),
                        map(f.pod.as_deref().or(f.workload.as_deref()).unwrap_or("")),
                        map(&f.container),
                        f.verdict,
                        f.broken_link,
                        f.cause,
                        links.join(" ")
                    )
                })
                .collect();
            rows.sort();
            rows
        };
        let original = diagnose(&source::facts_from_bundle(&b, "snapshot"), &all);
        let replayed = diagnose(&source::facts_from_bundle(&redacted, "snapshot"), &all);
        let (want, got) = (
            shape(&original, &|s| names.text(s)),
            shape(&replayed, &|s| s.to_string()),
        );
        if want != got {
            let diff: Vec<String> = want
                .iter()
                .zip(&got)
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("  original {a}\n  redacted {b}"))
                .collect();
            failures.push(format!(
                "{name}: the diagnosis changed:\n{}",
                diff.join("\n")
            ));
        }
        for secret in secrets(&documents) {
            if standalone(&text, &secret) {
                failures.push(format!("{name}: {secret} survived redaction"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Account ids, and the role, repository and user names the documents hold.
fn secrets(documents: &[serde_json::Value]) -> BTreeSet<String> {
    let text = serde_json::to_string(documents).unwrap();
    let mut out = BTreeSet::new();
    let patterns = [
        r"\b(\d{12})\b",
        r":role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)",
        r":user/([\w+=,.@-]+)",
        r":assumed-role/([\w+=,.@-]+)/([\w+=,.@-]+)",
        r#""RoleName":\s*"([^"]+)""#,
        r#""repositoryName":\s*"([^"]+)""#,
    ];
    for p in patterns {
        for caps in regex::Regex::new(p).unwrap().captures_iter(&text) {
            for m in caps.iter().skip(1).flatten() {
                let rest = &text[m.end()..];
                // AWS's own registries and the session name of the node's credential provider
                // are not the user's: they stay, by design.
                let aws_owned = AWS_EKS_REGISTRIES.contains(&m.as_str())
                    || m.as_str() == pulldoctor::facts::trail::CREDENTIAL_PROVIDER_SESSION;
                if m.as_str().len() >= 3 && !rest.starts_with(['*', '?']) && !aws_owned {
                    out.insert(m.as_str().to_string());
                }
            }
        }
    }
    out
}

fn standalone(text: &str, token: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(token).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + token.len()..].chars().next();
        !before.is_some_and(name_char) && !after.is_some_and(name_char)
    })
}

/// The summary of each finding of a scenario in assets/scenarios/causes, by pod name.
fn summaries(file: &str) -> impl Fn(&str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios/causes")
        .join(file);
    let (report, _) = run(&path);
    move |pod: &str| {
        report
            .findings
            .iter()
            .find(|f| f.pod.as_deref() == Some(pod))
            .map(|f| f.summary.clone())
            .unwrap_or_default()
    }
}

/// A pull that fails with links unknown says what the event suggests, from the first such link,
/// and which links are not yet known.
#[test]
fn an_unknown_pull_names_the_probable_cause() {
    let summary = summaries("unknown-not-absent.yaml");
    let forbidden = summary("u-forbidden");
    assert!(
        forbidden.contains(
            ". The event says 403 Forbidden: probably the repository policy of 444455556666"
        ) && forbidden.contains("Not yet known: "),
        "{forbidden}"
    );
    let quiet = summary("u-no-event");
    assert!(
        !quiet.contains("The event says") && quiet.contains("Not yet known: network"),
        "{quiet}"
    );
}

/// A refused pull that every readable policy allows lists as unread only what was not read: no
/// endpoint policy once the path was read, a Region-deny SCP first for another Region's registry,
/// and the Windows credential provider on a Windows node.
#[test]
fn a_refusal_lists_as_unread_only_what_was_not_read() {
    let summary = summaries("endpoint-refusals.yaml");
    for pod in ["pinned-endpoint", "other-region", "windows-node"] {
        let text = summary(pod);
        assert!(
            text.contains("What it cannot read: ") && !text.contains("VPC endpoint policy"),
            "{pod}: {text}"
        );
    }
    let other = summary("other-region");
    let unread = other
        .split("What it cannot read: ")
        .nth(1)
        .unwrap_or_default();
    assert!(
        unread
            .starts_with("a service control policy that denies Regions other than the usual ones")
            && unread.contains("the registry is in eu-west-1, the cluster in us-east-1"),
        "{other}"
    );
    assert!(!summary("pinned-endpoint").contains("denies Regions"));
    let windows = summary("windows-node");
    assert!(
        windows.contains("the Windows node's credential provider configuration")
            && !windows.contains("/etc/eks/image-credential-provider"),
        "{windows}"
    );
    assert!(summary("pinned-endpoint").contains("/etc/eks/image-credential-provider"));
    // Without the network facts, the endpoint policies are still named as unread.
    let bare =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/real-world.yaml");
    let (report, _) = run(&bare);
    assert!(
        report.findings.iter().any(|f| f
            .summary
            .contains("a VPC endpoint policy on the ECR endpoints")),
        "no finding names the unread endpoint policies"
    );
}

/// The facts keep a pod in a compact type of the API's shape: every pod of every scenario reads
/// into it as the API's own type converted would (no field name lost to a spelling, as `podIP`
/// would be), and what it writes reads back the same (a live read's documents are read again).
#[test]
fn the_compact_pod_reads_what_the_api_type_reads() {
    use pulldoctor::facts::pod::Pod;
    let mut pods = 0;
    for path in scenario_files() {
        let read = bundle::read(&path).unwrap();
        let mut values = Vec::new();
        for d in &read.documents {
            let items = d.value["items"].as_array().cloned().unwrap_or_default();
            values.extend(items.into_iter().chain([d.value.clone()]));
        }
        for value in values.into_iter().filter(|v| v["kind"] == "Pod") {
            let Ok(api) = serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(value.clone())
            else {
                continue;
            };
            let direct: Pod = serde_json::from_value(value).unwrap();
            assert_eq!(direct, Pod::from_api(api), "{}", path.display());
            let again: Pod =
                serde_json::from_value(serde_json::to_value(&direct).unwrap()).unwrap();
            assert_eq!(again, direct, "{}", path.display());
            pods += 1;
        }
    }
    assert!(pods > 50, "{pods} pods checked");
}

/// Blast radius: a node role without ECR pulls stops the next pod on every node group whose role
/// lacks them too; a role a cache cannot import through stops the other workload pulling through
/// it — and a pod named alone still counts the whole input.
#[test]
fn a_broken_finding_names_who_else_its_entity_stops() {
    let facts = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/scenarios/causes")
            .join(name);
        source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot")
    };
    let radius = |facts: &pulldoctor::facts::Facts, pod: &str| {
        let selection = Selection {
            pods: vec![pod.to_string()],
            ..Default::default()
        };
        let report = diagnose(facts, &selection);
        serde_json::to_value(&report.findings[0]).unwrap()["blastRadius"].clone()
    };
    let permissions = facts("pull-permissions.yaml");
    let missing = radius(&permissions, "app/pp-missing");
    assert_eq!(
        missing["entity"],
        "arn:aws:iam::111122223333:role/pp-missing"
    );
    assert_eq!(
        missing["nodeGroups"],
        serde_json::json!(["pp-boundary", "pp-deny", "pp-token"])
    );
    let cache = facts("pull-through-cache.yaml");
    let readonly = radius(&cache, "ptc/new-tag-readonly");
    assert_eq!(
        readonly["workloads"],
        serde_json::json!(["ptc/first-readonly"]),
        "{readonly:#}"
    );
    // Nothing else stopped: the radius is there, empty; a healthy finding has none.
    let demo = source::facts_from_bundle(
        &bundle::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/scenarios/demo.yaml")
                .as_path(),
        )
        .unwrap(),
        "demo",
    );
    let report = diagnose(
        &demo,
        &Selection {
            all: true,
            ..Default::default()
        },
    );
    for f in report
        .findings
        .iter()
        .filter(|f| f.verdict != Status::Broken)
    {
        assert!(f.blast_radius.is_none(), "{}", f.subject());
    }
    assert!(report.findings.iter().any(|f| f.blast_radius.is_some()));

    // The network path's radius: the hop that stops the pull, and who else it stops.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/network-path.yaml");
    let facts = source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot");
    let report = diagnose(&facts, &Selection::default());
    let radius = |pod: &str| {
        let f = report
            .findings
            .iter()
            .find(|f| f.pod.as_deref() == Some(pod))
            .unwrap();
        f.blast_radius.clone().unwrap()
    };
    let zone = radius("wrong-zone");
    assert_eq!(zone.entity, "endpoint vpce-api");
    assert_eq!(zone.workloads, ["net/wrong-zone-peer"]);
    assert_eq!(
        zone.line().unwrap(),
        "endpoint vpce-api also stops 1 other workload(s): net/wrong-zone-peer"
    );
    // A missing endpoint is named by the route table that lacks it.
    assert_eq!(
        radius("no-endpoints").entity,
        "route table rtb-bare (no endpoint)"
    );
    // The same route table, for another cause, is not the same radius.
    assert!(radius("public-no-route").workloads.is_empty());
}

/// Why a tag is gone, from CloudTrail's record of the repository: the lifecycle rule, the
/// deletion, the push that moved a pinned digest's tag; and the fix that follows from each.
#[test]
fn a_missing_image_says_what_cloudtrail_recorded_of_it() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/tag-history.yaml");
    let facts = source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot");
    let finding = |pod: &str| {
        let selection = Selection {
            pods: vec![pod.to_string()],
            ..Default::default()
        };
        serde_json::to_value(&diagnose(&facts, &selection).findings[0]).unwrap()
    };
    let image = |finding: &serde_json::Value| {
        let links = finding["links"].as_array().unwrap();
        links.iter().find(|l| l["id"] == "image").unwrap().clone()
    };
    let steps = |finding: &serde_json::Value| finding["fixes"].to_string();

    let expired = finding("history/expired");
    let link = image(&expired);
    assert!(
        link["summary"]
            .as_str()
            .unwrap()
            .ends_with("; lifecycle rule 3 expired it at 2026-11-27T09:00:00Z"),
        "{link:#}"
    );
    assert!(link["evidence"].to_string().contains(
        "lifecycle rule 3 (\\\"keep 30 releases\\\": Tagged [1.] Image count more than 30) expired tag 1.4.2 (tags 1.4.2, 1.4.2-rc)"
    ), "{link:#}");
    assert!(steps(&expired).contains("exclude their tags from it"));

    let deleted = image(&finding("history/deleted"));
    assert!(
        deleted["summary"]
            .as_str()
            .unwrap()
            .ends_with("arn:aws:iam::111122223333:user/ci deleted it at 2026-11-26T12:00:00Z")
    );

    let moved = finding("history/moved");
    let evidence = image(&moved)["evidence"].to_string();
    assert!(
        evidence.contains(
            "a push by arn:aws:iam::111122223333:user/ci moved tag 2.0 onto sha256:dddddddddddd"
        ),
        "{evidence}"
    );
    assert!(
        evidence.contains("expired sha256:cccccccccccc (untagged by then)"),
        "{evidence}"
    );
    assert!(steps(&moved).contains("--image-tag-mutability IMMUTABLE"));
    // Its pinned image was expired by a rule for untagged images: the tags are not that rule's.
    assert!(steps(&moved).contains("The rule expires images no tag names"));
    assert!(!steps(&moved).contains("exclude their tags"));

    // A deletion in another repository is not this tag's history.
    let unrecorded = image(&finding("history/unrecorded"));
    assert!(
        unrecorded["evidence"]
            .to_string()
            .contains("CloudTrail records no lifecycle expiry, deletion or push of shop/web:0.9"),
        "{unrecorded:#}"
    );
    assert!(!unrecorded["summary"].as_str().unwrap().contains("deleted"));
}

/// The app lane's token exchange as CloudTrail recorded it: agreement is evidence, a refusal the
/// reads cannot explain (or an accepted token they refuse) is `unknown`, a refusal of another
/// role or from before the pod is nothing; and a refusal that names the missing provider decides
/// the OIDC link the reads left unknown.
#[test]
fn the_app_lane_shows_what_sts_answered_its_token() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/web-identity.yaml");
    let link = |facts: &pulldoctor::facts::Facts, pod: &str, id: &str| {
        let selection = Selection {
            pods: vec![pod.to_string()],
            all: true,
            ..Default::default()
        };
        let finding = serde_json::to_value(&diagnose(facts, &selection).findings[0]).unwrap();
        let links = finding["links"].as_array().unwrap();
        links.iter().find(|l| l["id"] == id).unwrap().clone()
    };
    let facts = source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot");

    let agree = link(&facts, "wi/agree", "trust-policy");
    assert_eq!(agree["cause"], "trust-wrong-subject");
    assert!(agree["evidence"].to_string().contains(
        "STS refused it so: CloudTrail 2026-11-28T09:05:00Z: sts:AssumeRoleWithWebIdentity of arn:aws:iam::111122223333:role/wi-agree for system:serviceaccount:wi:agree refused — AccessDenied"
    ), "{agree:#}");

    let disagree = link(&facts, "wi/disagree", "trust-policy");
    assert_eq!(disagree["status"], "unknown");
    let shown = disagree["evidence"].to_string();
    assert!(shown.contains("refused — AccessDenied"), "{disagree:#}");
    assert!(shown.contains("the policies read say ok"), "{disagree:#}");

    let accepted = link(&facts, "wi/accepted", "trust-policy");
    assert_eq!(accepted["status"], "unknown");
    assert!(
        accepted["evidence"]
            .to_string()
            .contains("the policies read say broken")
    );

    let provider = link(&facts, "wi/provider", "oidc-provider");
    assert_eq!(provider["status"], "unknown", "{provider:#}");
    assert_eq!(link(&facts, "wi/provider", "trust-policy")["status"], "ok");

    // Another role's refusal, and one from before the pod, say nothing of this pod.
    let old = link(&facts, "wi/old-role", "trust-policy");
    assert_eq!(old["status"], "ok");
    assert!(old["evidence"].to_string().contains(
        "CloudTrail recorded no refused sts:AssumeRoleWithWebIdentity of arn:aws:iam::111122223333:role/wi-old-role for system:serviceaccount:wi:old-role"
    ), "{old:#}");
    // A pod that does not restart was not looked up: nothing is said either way.
    let healthy = link(&facts, "wi/healthy", "trust-policy");
    assert!(!healthy["evidence"].to_string().contains("CloudTrail"));

    // An exchange in a session named ecr-credential-provider is shown, not taken as the node's:
    // the app holds the same token and names its sessions, so it cannot choose who pulls.
    let pulls_as = link(&facts, "wi/token", "node-role");
    assert_eq!(
        pulls_as["summary"],
        "the kubelet pulls as arn:aws:iam::111122223333:role/node"
    );
    assert!(pulls_as["evidence"].to_string().contains(
        "CloudTrail records the ServiceAccount's token exchanged for arn:aws:iam::111122223333:role/wi-token at 2026-11-28T09:05:00Z in session ecr-credential-provider (accepted), as the node's credential provider would; any holder of the token chooses its session's name, so this does not show the node pulls with it"
    ), "{pulls_as:#}");

    // The account's OIDC providers could not be listed: the link is unknown by itself, and STS's
    // "No OpenIDConnect provider found" decides it.
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .lines()
        .filter(|l| !l.contains("OpenIDConnectProviderList") && !l.contains("\"ClientIDList\""))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(
            "documents:\n",
            "documents:\n- {\"pulldoctorLookup\": {\"scope\": \"oidc-providers/111122223333\", \"error\": \"AccessDenied: not authorized to perform iam:ListOpenIDConnectProviders\"}}\n",
        );
    let dir = tempfile::tempdir().unwrap();
    let unread = dir.path().join("unread.yaml");
    std::fs::write(&unread, text).unwrap();
    let facts = source::facts_from_bundle(&bundle::read(&unread).unwrap(), "snapshot");
    let decided = link(&facts, "wi/provider", "oidc-provider");
    assert_eq!(decided["status"], "broken", "{decided:#}");
    assert_eq!(decided["cause"], "oidc-provider-missing");
    assert!(
        decided["summary"]
            .as_str()
            .unwrap()
            .starts_with("STS refused the token of system:serviceaccount:wi:provider"),
        "{decided:#}"
    );
    // Without the provider read, a bare AccessDenied says no more than that: still unknown.
    let bare = link(&facts, "wi/disagree", "oidc-provider");
    assert_eq!(bare["status"], "unknown");
}
