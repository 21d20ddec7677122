//! Conditions are evaluated with the request context the kubelet's ECR call carries, not read as
//! "no": a condition that holds allows, one that fails does not, and one on a key we could not
//! establish makes the link `unknown` — with no fix that would widen a permission that works.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::facts::ingest::Document;
use pulldoctor::report::{Cause, Finding, LinkId, Status};
use pulldoctor::source::{self, bundle::Bundle};
use serde_json::{Value, json};

const NODE_ROLE: &str = "arn:aws:iam::111122223333:role/node";

struct Case {
    /// The node role's inline policy statements (besides nothing else: no managed policy).
    node_statements: Value,
    /// The node role's `Tags` (absent: not read).
    node_tags: Option<Value>,
    /// The image's registry account: another account makes it a cross-account pull.
    registry: &'static str,
    repository_policy: Value,
    /// `aws organizations describe-organization` as recorded, if at all.
    organization: Option<Value>,
}

fn pull_all() -> Value {
    json!([{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*"}])
}

impl Default for Case {
    fn default() -> Case {
        Case {
            node_statements: pull_all(),
            node_tags: Some(json!([])),
            registry: "111122223333",
            repository_policy: Value::Null,
            organization: None,
        }
    }
}

fn finding(case: Case) -> Finding {
    let image = format!(
        "{}.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.0",
        case.registry
    );
    let mut role = json!({"RoleName": "node", "Arn": NODE_ROLE,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "AttachedManagedPolicies": [],
        "RolePolicyList": [{"PolicyName": "pull", "PolicyDocument": {"Version": "2012-10-17", "Statement": case.node_statements}}]});
    if let Some(tags) = case.node_tags {
        role["Tags"] = tags;
    }
    let policy_text = match &case.repository_policy {
        Value::Null => Value::Null,
        policy => Value::String(policy.to_string()),
    };
    let mut documents = vec![
        json!({"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/oncall", "UserId": "AIDAEXAMPLE"}),
        json!({"cluster": {"name": "lab", "arn": "arn:aws:eks:us-east-1:111122223333:cluster/lab", "identity": {"oidc": {"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"}}}}),
        json!({"nodegroup": {"nodegroupName": "ng", "nodeRole": NODE_ROLE}}),
        json!({"RoleDetailList": [role], "Policies": []}),
        json!({"repositories": [{"repositoryArn": format!("arn:aws:ecr:us-east-1:{}:repository/shop/web", case.registry), "registryId": case.registry, "repositoryName": "shop/web"}]}),
        json!({"imageDetails": [{"registryId": case.registry, "repositoryName": "shop/web", "imageDigest": format!("sha256:{}", "a".repeat(64)), "imageTags": ["1.0"]}]}),
        json!({"registryId": case.registry, "repositoryName": "shop/web", "policyText": policy_text}),
        json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"eks.amazonaws.com/nodegroup": "ng", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "shop"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": image}]},
             "status": {"containerStatuses": [{"name": "web", "image": image, "ready": false, "restartCount": 0, "imageID": "",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}}]}}
        ]}),
    ];
    documents.extend(case.organization);
    let bundle = Bundle {
        documents: documents
            .into_iter()
            .enumerate()
            .map(|(i, value)| Document {
                origin: format!("doc{i}"),
                value,
            })
            .collect(),
        ..Bundle::default()
    };
    let facts = source::facts_from_bundle(&bundle, "bundle");
    let report = diagnose(&facts, &Selection::default());
    assert_eq!(report.findings.len(), 1, "{:#?}", report.problems);
    report.findings.into_iter().next().unwrap()
}

fn link(f: &Finding, id: LinkId) -> (Status, Option<Cause>, String) {
    let l = f.link(id).unwrap();
    (l.status, l.cause, l.summary.clone())
}

fn cross_account_policy(condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "org", "Effect": "Allow", "Principal": "*",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Condition": condition}]})
}

fn org_shared(organization: Option<Value>) -> Finding {
    finding(Case {
        registry: "444455556666",
        repository_policy: cross_account_policy(
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
        ),
        organization,
        ..Case::default()
    })
}

#[test]
fn organization_sharing_is_unknown_until_the_organization_is_read() {
    let f = org_shared(None);
    let (status, cause, summary) = link(&f, LinkId::RepositoryPolicy);
    assert_eq!((status, cause), (Status::Unknown, None), "{summary}");
    assert!(summary.contains("aws:PrincipalOrgID"), "{summary}");
    assert!(summary.contains("o-abc123"), "{summary}");
    assert!(summary.contains("not checked"), "{summary}");
    assert_ne!(f.verdict, Status::Broken);
    assert!(f.fixes.is_empty(), "no fix for a link that is not broken");
}

#[test]
fn organization_sharing_is_decided_once_the_organization_is_read() {
    let same = org_shared(Some(json!({"Organization": {"Id": "o-abc123"}})));
    assert_eq!(link(&same, LinkId::RepositoryPolicy).0, Status::Ok);
    for other in [
        json!({"Organization": {"Id": "o-zzz999"}}),
        json!({"Organization": null}),
    ] {
        let f = org_shared(Some(other));
        let (status, cause, _) = link(&f, LinkId::RepositoryPolicy);
        assert_eq!(
            (status, cause),
            (Status::Broken, Some(Cause::CrossAccountNotAllowed))
        );
    }
}

#[test]
fn principal_arn_patterns_that_match_the_puller_allow() {
    let f = finding(Case {
        registry: "444455556666",
        repository_policy: cross_account_policy(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}}),
        ),
        ..Case::default()
    });
    assert_eq!(link(&f, LinkId::RepositoryPolicy).0, Status::Ok);
    let f = finding(Case {
        registry: "444455556666",
        repository_policy: cross_account_policy(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci-*"}}),
        ),
        ..Case::default()
    });
    assert_eq!(
        link(&f, LinkId::RepositoryPolicy).1,
        Some(Cause::CrossAccountNotAllowed)
    );
}

fn node_policy_with(condition: Value) -> Value {
    json!([{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*", "Condition": condition}])
}

#[test]
fn global_keys_the_call_carries_are_evaluated() {
    let holds = [
        json!({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}),
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        json!({"StringEquals": {"aws:PrincipalAccount": "111122223333"}}),
        json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1", "aws:RequestedRegion": "us-east-1"}, "StringEquals": {"aws:PrincipalType": "AssumedRole"}}),
    ];
    for condition in holds {
        let f = finding(Case {
            node_statements: node_policy_with(condition.clone()),
            ..Case::default()
        });
        let (status, _, summary) = link(&f, LinkId::PullPermissions);
        // IfExists on a network key is still undecidable: the call may carry it.
        if condition.to_string().contains("SourceVpc") {
            assert_eq!(status, Status::Unknown, "{condition}: {summary}");
        } else {
            assert_eq!(status, Status::Ok, "{condition}: {summary}");
        }
    }
    let f = finding(Case {
        node_statements: node_policy_with(
            json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
        ),
        ..Case::default()
    });
    assert_eq!(
        link(&f, LinkId::PullPermissions).1,
        Some(Cause::PullPermissionMissing)
    );
}

#[test]
fn principal_tags_count_when_read_and_are_unknown_when_not() {
    let team = || node_policy_with(json!({"StringEquals": {"aws:PrincipalTag/team": "platform"}}));
    let tagged = finding(Case {
        node_statements: team(),
        node_tags: Some(json!([{"Key": "team", "Value": "platform"}])),
        ..Case::default()
    });
    assert_eq!(link(&tagged, LinkId::PullPermissions).0, Status::Ok);
    let untagged = finding(Case {
        node_statements: team(),
        node_tags: Some(json!([])),
        ..Case::default()
    });
    assert_eq!(
        link(&untagged, LinkId::PullPermissions).1,
        Some(Cause::PullPermissionMissing)
    );
    let unread = finding(Case {
        node_statements: team(),
        node_tags: None,
        ..Case::default()
    });
    let (status, _, summary) = link(&unread, LinkId::PullPermissions);
    assert_eq!(status, Status::Unknown, "{summary}");
    assert!(summary.contains("list-role-tags"), "{summary}");
    assert!(unread.fixes.is_empty());
}

#[test]
fn network_keys_are_unknown_whether_they_allow_or_deny() {
    let allow = finding(Case {
        node_statements: node_policy_with(json!({"StringEquals": {"aws:sourceVpce": "vpce-0abc"}})),
        ..Case::default()
    });
    let (status, _, summary) = link(&allow, LinkId::PullPermissions);
    assert_eq!(status, Status::Unknown, "{summary}");
    assert!(
        summary.contains("allowed only if") && summary.contains("vpce-0abc"),
        "{summary}"
    );
    assert!(allow.fixes.is_empty(), "a fix would widen what may work");

    // A deny that hangs on an unknown key is not silently ignored.
    let mut statements = pull_all();
    statements
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Deny", "Action": "ecr:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0abc"}}}));
    let deny = finding(Case {
        node_statements: statements,
        ..Case::default()
    });
    let (status, _, summary) = link(&deny, LinkId::PullPermissions);
    assert_eq!(status, Status::Unknown, "{summary}");
    assert!(summary.contains("denied if"), "{summary}");
}

#[test]
fn keys_no_ecr_call_carries_are_absent() {
    // Another service's key cannot be in the request: the allow does not apply.
    let f = finding(Case {
        node_statements: node_policy_with(json!({"StringEquals": {"s3:prefix": "home/"}})),
        ..Case::default()
    });
    assert_eq!(
        link(&f, LinkId::PullPermissions).1,
        Some(Cause::PullPermissionMissing)
    );
}
