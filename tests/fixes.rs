//! Every fix that changes a document or attaches a policy is applied to the facts in memory, and
//! the same pod is diagnosed again: the link it was for must no longer be broken. This proves the
//! proposed documents are right without writing anything anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::facts::aws::{IpPermission, IpRange, VpcEndpoint};
use pulldoctor::facts::{Facts, RepoKey};
use pulldoctor::iam::policy::PolicyDocument;
use pulldoctor::report::{Finding, Status};
use pulldoctor::source::{self, bundle};
use std::path::Path;

fn arg<'a>(command: &'a str, flag: &str) -> Option<&'a str> {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == flag {
            return words.next();
        }
    }
    None
}

fn role_key(facts: &Facts, name: &str) -> (String, String) {
    facts
        .roles
        .keys()
        .find(|(_, n)| n == name)
        .cloned()
        .unwrap_or_else(|| panic!("role {name}"))
}

/// Applies one fix step to the facts; false when the step is not a document or policy change.
fn apply(facts: &mut Facts, command: &str, document: Option<&str>) -> bool {
    let doc = || {
        PolicyDocument::from_text(document.expect("a document"))
            .expect("the proposed document parses")
    };
    if command.starts_with("aws iam update-assume-role-policy") {
        let key = role_key(facts, arg(command, "--role-name").unwrap());
        facts.roles.get_mut(&key).unwrap().trust = Ok(doc());
    } else if command.starts_with("aws iam put-role-policy") {
        let key = role_key(facts, arg(command, "--role-name").unwrap());
        let name = arg(command, "--policy-name").unwrap().to_string();
        let permissions = facts
            .roles
            .get_mut(&key)
            .unwrap()
            .permissions
            .as_mut()
            .unwrap();
        permissions.inline.retain(|(n, _)| *n != name);
        permissions.inline.push((name, Ok(doc())));
    } else if command.starts_with("aws iam attach-role-policy") {
        let key = role_key(facts, arg(command, "--role-name").unwrap());
        let policy = arg(command, "--policy-arn").unwrap().to_string();
        facts
            .roles
            .get_mut(&key)
            .unwrap()
            .permissions
            .as_mut()
            .unwrap()
            .attached
            .push(policy);
    } else if command.starts_with("aws ecr set-repository-policy") {
        let key = RepoKey {
            registry: arg(command, "--registry-id").unwrap().to_string(),
            region: arg(command, "--region").unwrap().to_string(),
            name: arg(command, "--repository-name").unwrap().to_string(),
        };
        facts.repository_policies.insert(key, Some(Ok(doc())));
    } else if command.starts_with("aws ec2 ") {
        return command
            .split("; ")
            .map(|c| apply_ec2(facts, c, document))
            .fold(false, |a, b| a | b);
    } else if command.starts_with("aws iam create-policy-version") {
        let policy = arg(command, "--policy-arn").unwrap().to_string();
        facts.policies.insert(policy, Ok(doc()));
    } else {
        return false;
    }
    true
}

/// Applies one `aws ec2` command of a network fix to the EC2 facts.
fn apply_ec2(facts: &mut Facts, command: &str, document: Option<&str>) -> bool {
    let ec2 = &mut facts.ec2;
    let endpoint = |ec2: &mut pulldoctor::facts::network::Ec2| {
        let id = arg(command, "--vpc-endpoint-id").unwrap().to_string();
        ec2.endpoints
            .values_mut()
            .flatten()
            .find(|e| e.vpc_endpoint_id == id)
            .unwrap_or_else(|| panic!("endpoint {id}"))
            .clone()
    };
    let replace = |ec2: &mut pulldoctor::facts::network::Ec2, new: VpcEndpoint| {
        for e in ec2.endpoints.values_mut().flatten() {
            if e.vpc_endpoint_id == new.vpc_endpoint_id {
                *e = new.clone();
            }
        }
    };
    if command.starts_with("aws ec2 modify-vpc-endpoint") {
        let mut e = endpoint(ec2);
        if let Some(table) = arg(command, "--add-route-table-ids") {
            e.route_table_ids.push(table.to_string());
        }
        if let Some(subnet) = arg(command, "--add-subnet-ids") {
            e.subnet_ids.push(subnet.to_string());
        }
        if command.contains("--private-dns-enabled") {
            e.private_dns_enabled = Some(true);
        }
        if command.contains("--policy-document") {
            e.policy_document = Some(document.expect("a policy").to_string());
        }
        replace(ec2, e);
    } else if command.starts_with("aws ec2 modify-vpc-attribute") {
        let vpc = arg(command, "--vpc-id").unwrap().to_string();
        if command.contains("--enable-dns-support") {
            ec2.dns_support.insert(vpc.clone(), true);
        }
        if command.contains("--enable-dns-hostnames") {
            ec2.dns_hostnames.insert(vpc, true);
        }
    } else if command.starts_with("aws ec2 create-vpc-endpoint") {
        let vpc = arg(command, "--vpc-id").unwrap().to_string();
        let list = |flag: &str| arg(command, flag).map(str::to_string).into_iter().collect();
        let endpoints = ec2.endpoints.entry(vpc.clone()).or_default();
        endpoints.push(VpcEndpoint {
            vpc_endpoint_id: format!("vpce-created{}", endpoints.len()),
            vpc_id: vpc,
            service_name: arg(command, "--service-name").unwrap().into(),
            vpc_endpoint_type: arg(command, "--vpc-endpoint-type").map(str::to_string),
            state: Some("available".into()),
            private_dns_enabled: Some(command.contains("--private-dns-enabled")),
            subnet_ids: list("--subnet-ids"),
            route_table_ids: list("--route-table-ids"),
            groups: Vec::new(),
            policy_document: None,
            service_region: None,
        });
    } else if command.starts_with("aws ec2 authorize-security-group-ingress") {
        let group = arg(command, "--group-id").unwrap();
        ec2.security_groups
            .get_mut(group)
            .unwrap()
            .ip_permissions
            .push(IpPermission {
                ip_protocol: "tcp".into(),
                from_port: Some(443),
                to_port: Some(443),
                ip_ranges: vec![IpRange {
                    cidr_ip: arg(command, "--cidr").unwrap().into(),
                }],
                user_id_group_pairs: Vec::new(),
                prefix_list_ids: Vec::new(),
            });
    } else {
        return false;
    }
    true
}

fn find<'a>(findings: &'a [Finding], f: &Finding) -> &'a Finding {
    findings
        .iter()
        .find(|g| g.namespace == f.namespace && g.pod == f.pod && g.container == f.container)
        .expect("the finding is still there")
}

#[test]
fn applied_fixes_repair_their_link() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir.join("causes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(dir.join("demo.yaml"));
    let all = Selection {
        all: true,
        ..Default::default()
    };
    let mut applied = 0;
    let mut repaired = Vec::new();
    for path in files {
        let facts = source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot");
        let report = diagnose(&facts, &all);
        for finding in report
            .findings
            .iter()
            .filter(|f| f.verdict == Status::Broken)
        {
            let broken = finding.broken_link.unwrap();
            for fix in &finding.fixes {
                let mut patched = facts.clone();
                let mut changed = false;
                for step in &fix.steps {
                    if let Some(command) = &step.command {
                        changed |= apply(&mut patched, command, step.document.as_deref());
                    }
                }
                if !changed {
                    continue;
                }
                applied += 1;
                let again = diagnose(&patched, &all);
                let after = find(&again.findings, finding);
                let link = after.link(broken).unwrap();
                // Repaired: not broken, not unknown (a warning left on the link is about
                // something else, such as a stale pull secret beside the repaired role).
                // The network link keeps the kubelet's old timeout event: once every hop is in
                // place it says so, and that only the event is left.
                let path_complete = link.status == Status::Unknown
                    && link.summary.starts_with("every observed hop is in place");
                // An endpoint policy whose only statement was a Deny on a condition nothing
                // settles: the added Allow is there, and that Deny is what is left to decide.
                let undecidable_deny = link.status == Status::Unknown
                    && finding.summary.contains("no statement allows it, whatever")
                    && link.summary.contains(": denied if ");
                // CloudTrail keeps the refusal made before the fix: the policies now allow, and
                // until the kubelet pulls again the two are shown side by side, unsettled.
                let refused_before = link.status == Status::Unknown
                    && link
                        .summary
                        .contains("which the policies read do not explain");
                assert!(
                    path_complete
                        || undecidable_deny
                        || refused_before
                        || matches!(link.status, Status::Ok | Status::Skipped | Status::Warning),
                    "{}: fix \"{}\" left {broken} {}: {}",
                    finding.subject(),
                    fix.title,
                    link.status.as_str(),
                    link.summary
                );
                repaired.push(format!("{} {}", finding.subject(), fix.cause));
            }
        }
    }
    // Trust (7 IRSA/PIA causes in trust.yaml + 2 in the demo), permissions (2 fixes each), boundary, cross-account.
    assert!(applied >= 20, "only {applied} fixes applied: {repaired:#?}");
    // The network path's fixes that EC2 calls carry out, each repairing its pod.
    for cause in [
        "s3-gateway-not-on-route-table",
        "vpc-endpoint-not-in-az",
        "vpc-endpoint-private-dns-disabled",
        "vpc-endpoint-policy-denies",
        "vpc-endpoint-security-group-blocks",
        "vpc-endpoint-missing",
    ] {
        assert!(
            repaired.iter().any(|r| r.ends_with(cause)),
            "no fix of {cause} was applied and repaired: {repaired:#?}"
        );
    }
}

#[test]
fn fixes_edit_one_statement_and_keep_the_rest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/demo.yaml");
    let facts = source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot");
    let report = diagnose(
        &facts,
        &Selection {
            all: true,
            ..Default::default()
        },
    );
    let api = report
        .findings
        .iter()
        .find(|f| f.pod.as_deref() == Some("api-58d7c9-t4r"))
        .unwrap();
    let step = &api.fixes[0].steps[0];
    let diff = step.diff.as_deref().unwrap();
    let removed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    let added: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert_eq!(removed.len(), 1, "{diff}");
    assert!(
        added
            .iter()
            .any(|l| l.contains("system:serviceaccount:billing:api\"")),
        "{diff}"
    );
    // The old subject stays: the fix adds, it does not take away what another pod may use.
    assert!(
        added
            .iter()
            .any(|l| l.contains("system:serviceaccount:billing:api-server")),
        "{diff}"
    );
    assert!(
        step.command
            .as_deref()
            .unwrap()
            .contains("--role-name billing-api")
    );
}
