//! Failures rebuilt from public reports (assets/scenarios/causes/real-world.yaml and
//! pull-through-cache.yaml): beyond their verdicts, which the scenario suite checks, what the
//! user is told — advice that fits the registry, what remains when every readable policy allows a
//! refused pull, and the pull-through cache's first pull.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::facts::Facts;
use pulldoctor::report::{Finding, Report};
use pulldoctor::source::{self, bundle};
use std::path::Path;

fn facts_of(name: &str) -> Facts {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("assets/scenarios/causes/{name}"));
    source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot")
}

fn report_of(facts: &Facts) -> Report {
    diagnose(
        facts,
        &Selection {
            all: true,
            ..Default::default()
        },
    )
}

fn finding<'a>(report: &'a Report, pod: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.pod.as_deref() == Some(pod))
        .unwrap_or_else(|| panic!("no finding for {pod}"))
}

#[test]
fn network_advice_fits_where_the_pull_goes() {
    let report = report_of(&facts_of("real-world.yaml"));
    // Public ECR has no VPC endpoint: the advice is a route to the internet, not endpoints.
    let public = &finding(&report, "public-ecr").summary;
    assert!(
        public.contains("no VPC endpoint") && public.contains("route to the internet"),
        "{public}"
    );
    assert!(
        !public.contains("ecr.dkr") && !public.contains("ecr.api"),
        "{public}"
    );
    // A cache that sent the download to its upstream's CDN: that host, and the internet.
    let cdn = &finding(&report, "cdn-redirect").summary;
    assert!(
        cdn.contains("production.cloudflare.docker.com") && cdn.contains("route to the internet"),
        "{cdn}"
    );
    assert!(!cdn.contains("ecr.api"), "{cdn}");
    // A private registry keeps the endpoint advice.
    let timeout = &finding(&report, "not-ready");
    assert_eq!(timeout.cause.map(|c| c.as_str()), Some("node-not-ready"));
    let network = timeout
        .links
        .iter()
        .find(|l| l.id.as_str() == "network")
        .unwrap();
    assert!(network.summary.contains("ecr.dkr"), "{}", network.summary);
}

#[test]
fn a_refused_pull_that_every_readable_policy_allows_names_what_remains() {
    let report = report_of(&facts_of("real-world.yaml"));
    let f = finding(&report, "forbidden-all-fine");
    assert_eq!(f.verdict.as_str(), "unknown");
    for remaining in [
        "SERVICE_CONTROL_POLICY",
        "RESOURCE_CONTROL_POLICY",
        "VpcEndpoints[].PolicyDocument",
        "matchImages",
    ] {
        assert!(
            f.summary.contains(remaining),
            "{remaining} in {}",
            f.summary
        );
    }
    assert!(f.fixes.is_empty(), "no fix for a link that is not broken");
}

#[test]
fn node_trouble_names_the_node_and_is_neither_iam_nor_network() {
    let report = report_of(&facts_of("real-world.yaml"));
    let disk = finding(&report, "disk-full");
    assert!(disk.summary.contains("node n-disk"), "{}", disk.summary);
    let pod_link = disk.links.iter().find(|l| l.id.as_str() == "pod").unwrap();
    assert!(
        pod_link
            .evidence
            .iter()
            .any(|e| e.contains("DiskPressure=True")),
        "{:?}",
        pod_link.evidence
    );
    let commands: Vec<&str> = disk.fixes[0]
        .steps
        .iter()
        .filter_map(|s| s.command.as_deref())
        .collect();
    assert!(
        commands.contains(&"kubectl describe node n-disk"),
        "{commands:?}"
    );
    assert!(!disk.fixes[0].writes, "nodes are guided, never written");
}

#[test]
fn a_first_pull_through_the_cache_needs_create_and_import_rights() {
    let facts = facts_of("pull-through-cache.yaml");
    let report = report_of(&facts);
    let first = finding(&report, "first-readonly");
    assert!(!first.summary.contains("probably"), "{}", first.summary);
    let image = first
        .links
        .iter()
        .find(|l| l.id.as_str() == "image")
        .unwrap();
    assert!(
        image.summary.contains("creates the repository"),
        "{}",
        image.summary
    );
    // The managed policy has no ecr:CreateRepository: the one fix is the scoped policy with both.
    assert_eq!(first.fixes.len(), 1, "{:#?}", first.fixes);
    let document = first.fixes[0].steps[0].document.as_deref().unwrap();
    assert!(
        document.contains("ecr:CreateRepository")
            && document.contains("ecr:BatchImportUpstreamImage"),
        "{document}"
    );
    // The registry policy counts: granted there, the same pull is in order.
    assert_eq!(
        finding(&report, "first-registry-grant").verdict.as_str(),
        "ok"
    );
    // Unread, it is unknown — not "missing".
    let mut unread = facts.clone();
    unread.registry_policies.clear();
    let report = report_of(&unread);
    let f = finding(&report, "first-pullonly");
    assert_eq!(f.verdict.as_str(), "unknown", "{}", f.summary);
    let permissions = f
        .links
        .iter()
        .find(|l| l.id.as_str() == "pull-permissions")
        .unwrap();
    assert!(
        permissions.summary.contains("aws ecr get-registry-policy"),
        "{}",
        permissions.summary
    );
}

#[test]
fn a_sandbox_image_that_cannot_be_pulled_is_a_finding_of_its_own() {
    let report = report_of(&facts_of("sandbox.yaml"));
    let sandbox: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.container == "(sandbox)")
        .collect();
    assert_eq!(
        sandbox.len(),
        3,
        "one per pod whose sandbox cannot be pulled"
    );
    let gc = sandbox
        .iter()
        .find(|f| f.pod.as_deref() == Some("gc"))
        .unwrap();
    assert_eq!(
        gc.image,
        "602401143452.dkr.ecr.ap-south-1.amazonaws.com/eks/pause:3.5"
    );
    assert_eq!(gc.state, "ContainerCreating");
    // AWS's registry answers only BatchGetImage: without its answer in the bundle, the
    // repository is unknown and names that call (skipped would mean "not applicable").
    let repository = gc
        .links
        .iter()
        .find(|l| l.id.as_str() == "repository")
        .unwrap();
    assert_eq!(
        repository.status.as_str(),
        "unknown",
        "{}",
        repository.summary
    );
    assert!(
        repository
            .summary
            .contains("aws ecr batch-get-image --registry-id 602401143452"),
        "{}",
        repository.summary
    );
    let commands: Vec<&str> = gc.fixes[0]
        .steps
        .iter()
        .filter_map(|s| s.command.as_deref())
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("sudo crictl pull --creds")
                && c.ends_with(" 602401143452.dkr.ecr.ap-south-1.amazonaws.com/eks/pause:3.5")),
        "{commands:?}"
    );
}

/// imagePullSecrets show on the pull with when and by whom they were last written; a Secret's
/// data is never kept, even when the input carries it.
#[test]
fn pull_secrets_are_metadata_only_and_the_kubelet_tries_them_all() {
    let facts = facts_of("pull-secrets.yaml");
    assert_eq!(facts.secrets.len(), 2);
    let held = format!("{facts:?}");
    assert!(!held.contains("eyJhdXRocyI6e319"), "secret data was kept");
    let report = report_of(&facts);
    // The node role pulls; a stale token beside it is a warning, not the cause.
    let stale = finding(&report, "stale-secret");
    assert_eq!(stale.verdict.as_str(), "warning");
    assert!(stale.summary.contains("ecr-static"), "{}", stale.summary);
    // Both fail: the node role is the broken link, and the secret is named beside it.
    let both = finding(&report, "both-fail");
    let permissions = both
        .links
        .iter()
        .find(|l| l.id.as_str() == "pull-permissions")
        .unwrap();
    assert_eq!(permissions.status.as_str(), "broken");
    assert!(
        permissions
            .evidence
            .iter()
            .any(|e| e.contains("ecr-static") && e.contains("kubectl-create")),
        "{:?}",
        permissions.evidence
    );
}

/// Ids the input names reach printed commands quoted: a forged one cannot run a command.
#[test]
fn ids_in_network_fixes_are_shell_quoted() {
    let mut facts = facts_of("network-path.yaml");
    let forged = "subnet-a1;touch${IFS}pwned";
    let subnet = facts.ec2.subnets.get("subnet-a1").cloned().unwrap();
    facts.ec2.subnets.insert(
        forged.to_string(),
        pulldoctor::facts::aws::Subnet {
            subnet_id: forged.to_string(),
            ..subnet
        },
    );
    let instance = facts.ec2.instances.get_mut("i-0000000000000001").unwrap();
    instance.subnet_id = Some(forged.to_string());
    for tables in facts.ec2.route_tables.values_mut() {
        for association in tables.iter_mut().flat_map(|t| t.associations.iter_mut()) {
            if association.subnet_id.as_deref() == Some("subnet-a1") {
                association.subnet_id = Some(forged.to_string());
            }
        }
    }
    let report = report_of(&facts);
    let f = finding(&report, "no-endpoints");
    let network = f.links.iter().find(|l| l.id.as_str() == "network").unwrap();
    assert!(
        network.path.iter().any(|hop| hop.id == forged),
        "{:?}",
        network.path
    );
    let commands: Vec<&str> = f
        .fixes
        .iter()
        .flat_map(|x| &x.steps)
        .filter_map(|s| s.command.as_deref())
        .collect();
    assert!(!commands.is_empty());
    for command in commands {
        let words = shlex::split(command).unwrap();
        assert!(
            !words
                .iter()
                .any(|w| w == "touch${IFS}pwned" || w.starts_with("pwned")),
            "{command}"
        );
        assert!(!command.contains(" subnet-a1;"), "{command}");
    }
    let create = f.fixes[0]
        .steps
        .iter()
        .filter_map(|s| s.command.as_deref())
        .find(|c| c.contains("--subnet-ids"))
        .unwrap();
    assert!(
        create.contains("--subnet-ids 'subnet-a1;touch${IFS}pwned'"),
        "{create}"
    );
    // In the Terraform snippets the id is a string that does not interpolate.
    let terraform = f.fixes[0]
        .steps
        .iter()
        .filter_map(|s| s.document.as_deref())
        .find(|d| d.contains("subnet_ids"))
        .unwrap();
    assert!(
        terraform.contains(r#"["subnet-a1;touch$${IFS}pwned"]"#),
        "{terraform}"
    );
}

/// A security group rule that allows 443 from a managed prefix list: pulldoctor does not expand
/// prefix lists, so the link is unknown and names the list — never "blocks".
#[test]
fn a_prefix_list_rule_is_unknown_not_blocking() {
    let mut facts = facts_of("network-path.yaml");
    let group = facts.ec2.security_groups.get_mut("sg-ep-f").unwrap();
    for rule in &mut group.ip_permissions {
        rule.ip_ranges.clear();
        rule.prefix_list_ids = vec![pulldoctor::facts::aws::PrefixListRef {
            prefix_list_id: "pl-0123456789abcdef0".into(),
        }];
    }
    let report = report_of(&facts);
    let network = finding(&report, "security-group")
        .links
        .iter()
        .find(|l| l.id.as_str() == "network")
        .unwrap();
    assert_eq!(
        network.status,
        pulldoctor::report::Status::Unknown,
        "{}",
        network.summary
    );
    assert!(
        network.summary.contains("prefix list pl-0123456789abcdef0"),
        "{}",
        network.summary
    );
}
