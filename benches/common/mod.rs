//! The synthetic cluster the benchmarks run on.

use serde_json::{Value, json};

pub const ACCOUNT: &str = "111122223333";

/// 10,000 pods over 20 namespaces and 50 node groups, 500 of them failing, 100 roles, 50
/// repositories.
pub fn synthetic_cluster(pods: usize, failing: usize) -> Vec<Value> {
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
    docs.push(json!({"associations": []}));
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
    docs
}
