//! The synthetic cluster the benchmarks run on.
#![allow(
    dead_code,
    reason = "each bench uses part of what is shared, and which part differs"
)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "111122223333";

/// 10,000 pods over 20 namespaces and 50 node groups, 500 of them failing, 100 roles, 50
/// repositories. With `network`, the nodes name their EC2 instances, in two VPCs (one with a NAT
/// gateway, one reaching ECR through endpoints without the S3 gateway), and a tenth of the
/// failing pods time out instead of finding no tag.
pub fn synthetic_cluster(pods: usize, failing: usize, network: bool) -> Vec<Value> {
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
        let spec = match network {
            true => json!({"providerID": format!("aws:///us-east-1a/{}", instance(ng))}),
            false => json!({}),
        };
        items.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node{ng}"), "labels": {"eks.amazonaws.com/nodegroup": format!("ng{ng}"), "kubernetes.io/arch": "amd64"}}, "spec": spec}));
    }
    if network {
        docs.extend(vpcs());
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
        let message = match network && p % 10 == 1 {
            true => format!(
                "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to do request: Head \"https://{reg}/v2/repo/manifests/1\": dial tcp 10.1.0.9:443: i/o timeout"
            ),
            false => format!(
                "Failed to pull image \"{image}\": rpc error: code = NotFound desc = not found"
            ),
        };
        if fails {
            items.push(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": format!("e{p}"), "namespace": format!("ns{}", app % 20)},
                "involvedObject": {"kind": "Pod", "namespace": format!("ns{}", app % 20), "name": format!("pod-{p}")}, "type": "Warning", "reason": "Failed",
                "lastTimestamp": "2026-11-28T10:00:00Z", "message": message}));
        }
    }
    docs.push(json!({"apiVersion": "v1", "kind": "List", "items": items}));
    docs
}

fn instance(ng: usize) -> String {
    format!("i-{ng:017x}")
}

/// The nodes' instances and their two VPCs, as the EC2 describes print them.
fn vpcs() -> Vec<Value> {
    let vpc = |ng: usize| format!("vpc-0000000{}", ng / 25);
    let instances: Vec<Value> = (0..50)
        .map(|ng| json!({"InstanceId": instance(ng), "SubnetId": format!("subnet-{ng:08x}"), "VpcId": vpc(ng),
            "PrivateIpAddress": format!("10.{}.{}.10", ng / 25, ng), "Placement": {"AvailabilityZone": "us-east-1a"},
            "SecurityGroups": [{"GroupId": format!("sg-0000000{}", ng / 25)}]}))
        .collect();
    let mut docs = vec![
        json!({"Reservations": [{"Instances": instances}]}),
        json!({"NatGateways": [{"NatGatewayId": "nat-00000000", "State": "available", "VpcId": "vpc-00000000"}]}),
    ];
    for v in 0..2 {
        let id = format!("vpc-0000000{v}");
        let subnets: Vec<Value> = (v * 25..v * 25 + 25)
            .map(|ng| json!({"SubnetId": format!("subnet-{ng:08x}"), "VpcId": id, "AvailabilityZone": "us-east-1a", "CidrBlock": format!("10.{v}.{ng}.0/24")}))
            .collect();
        let mut routes = vec![
            json!({"DestinationCidrBlock": format!("10.{v}.0.0/16"), "GatewayId": "local", "State": "active"}),
        ];
        if v == 0 {
            routes.push(json!({"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-00000000", "State": "active"}));
        }
        let endpoint = |name: &str, service: &str| {
            json!({"VpcEndpointId": format!("vpce-{name}{v}"), "VpcId": id,
            "ServiceName": format!("com.amazonaws.us-east-1.{service}"), "VpcEndpointType": "Interface", "State": "available",
            "SubnetIds": [format!("subnet-{:08x}", v * 25)], "Groups": [{"GroupId": format!("sg-0000000{v}")}], "PrivateDnsEnabled": true})
        };
        let endpoints = match v {
            0 => vec![],
            _ => vec![endpoint("0api", "ecr.api"), endpoint("0dkr", "ecr.dkr")],
        };
        docs.extend([
            json!({"Subnets": subnets}),
            json!({"RouteTables": [{"RouteTableId": format!("rtb-0000000{v}"), "VpcId": id, "Associations": [{"Main": true}], "Routes": routes}]}),
            json!({"VpcEndpoints": endpoints}),
            json!({"SecurityGroups": [{"GroupId": format!("sg-0000000{v}"), "VpcId": id,
                "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": format!("10.{v}.0.0/16")}]}],
                "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}),
            json!({"pulldoctorLookup": {"scope": format!("ec2-vpc/{id}"), "covered": true}}),
        ]);
    }
    docs
}

/// The synthetic cluster as a snapshot file in `dir`, for the stand-ins to be seeded from.
pub fn synthetic_snapshot(dir: &Path, pods: usize, failing: usize, network: bool) -> PathBuf {
    let path = dir.join(format!("synthetic-{pods}-{network}.json"));
    let documents = synthetic_cluster(pods, failing, network);
    let snapshot =
        json!({"source": {"cluster": "bench", "region": "us-east-1"}, "documents": documents});
    std::fs::write(&path, snapshot.to_string()).unwrap();
    path
}

/// A command's output, its wall time, and the peak memory (KiB) of its largest process, measured
/// by `/usr/bin/time` where it exists.
pub fn timed(command: &Command) -> (Output, Duration, Option<u64>) {
    let timer = Path::new("/usr/bin/time");
    let mut runner = Command::new(if timer.exists() {
        timer
    } else {
        Path::new(command.get_program())
    });
    if timer.exists() {
        runner
            .args(["-f", "peak-rss-kib %M"])
            .arg(command.get_program());
    }
    runner.args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        runner.current_dir(dir);
    }
    for (k, v) in command.get_envs() {
        match v {
            Some(v) => runner.env(k, v),
            None => runner.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = runner.output().unwrap();
    let wall = start.elapsed();
    let peak = String::from_utf8_lossy(&out.stderr)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-rss-kib ")?.trim().parse().ok());
    (out, wall, peak)
}
