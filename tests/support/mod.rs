//! The offline stand-ins for a live cluster and AWS account, seeded from a scenario: a
//! Kubernetes API server, the moto server, and an AWS front that fills moto's gaps.

#![allow(dead_code)]

pub mod aws_front;
pub mod ec2_front;
pub mod kube_api;
pub mod real_clients;
pub mod terminal;

use aws_front::{AwsFront, World};
use kube_api::KubeApi;
use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::ecr::reference::AWS_EKS_REGISTRIES;
use pulldoctor::facts::Facts;
use pulldoctor::facts::trail::ImageChange;
use pulldoctor::report::Report;
use pulldoctor::source::{self, bundle};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use terminal::Terminal;

pub const REGION: &str = "us-east-1";

/// Every scenario: the demo, then each cause's file.
pub fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("causes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.insert(0, dir.join("demo.yaml"));
    files
}

/// A moto server on a free loopback port, stopped on drop.
pub struct Moto {
    pub url: String,
    child: Child,
}

pub fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PULLDOCTOR_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server")
}

impl Moto {
    pub fn start(account: &str) -> Moto {
        let binary = moto_binary();
        assert!(
            binary.exists(),
            "moto_server not found at {}: run scripts/test, which installs moto into target/moto-venv",
            binary.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_ACCOUNT_ID", account)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sdk_config(endpoint: &str, region: &str) -> aws_types::SdkConfig {
    aws_types::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(aws_types::region::Region::new(region.to_string()))
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            aws_sdk_iam::config::Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

/// Everything a scenario needs to be read live.
pub struct Harness {
    pub name: String,
    pub facts: Facts,
    pub kube: KubeApi,
    pub front: AwsFront,
    pub kubeconfig: PathBuf,
    pub cluster_arn: String,
    /// The Region the stand-ins are asked in: the scenario's when it is in another partition
    /// than `aws` (moto keeps IAM per partition), else [`REGION`].
    pub region: String,
    _moto: Moto,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "pulldoctor-live-{}-{name}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free on the loopback now, for a server started as a process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The kube objects of a scenario's documents, Lists flattened.
fn kube_objects(documents: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for d in documents {
        if d["kind"] == "List" {
            out.extend(d["items"].as_array().cloned().unwrap_or_default());
        } else if d.get("apiVersion").is_some() && d.get("kind").is_some() {
            out.push(d.clone());
        }
    }
    out
}

impl Harness {
    pub async fn new(path: &Path) -> Harness {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let original = std::fs::read_to_string(path).unwrap();
        let first = source::facts_from_bundle(&bundle::read(path).unwrap(), "snapshot");
        let account = first.account().expect("scenarios name their account");
        let cluster = first
            .cluster
            .clone()
            .expect("scenarios describe their cluster");
        let moto = Moto::start(&account);
        let region = first
            .region()
            .filter(|r| pulldoctor::iam::arn::partition_for_region(r) != "aws")
            .unwrap_or_else(|| REGION.to_string());
        let config = sdk_config(&moto.url, &region);
        let eks = aws_sdk_eks::Client::new(&config);
        eks.create_cluster()
            .name(&cluster.name)
            .role_arn(pulldoctor::iam::arn::iam(
                pulldoctor::iam::arn::partition_for_region(&region),
                &account,
                "role/eks-cluster",
            ))
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .subnet_ids("subnet-1")
                    .build(),
            )
            .send()
            .await
            .expect("moto creates the cluster");
        let described = eks
            .describe_cluster()
            .name(&cluster.name)
            .send()
            .await
            .unwrap();
        let moto_issuer = described
            .cluster()
            .unwrap()
            .identity()
            .unwrap()
            .oidc()
            .unwrap()
            .issuer()
            .unwrap()
            .to_string();
        let cluster_arn = described.cluster().unwrap().arn().unwrap().to_string();
        // moto gives every cluster its own issuer: the scenario is rewritten to use it.
        let old_key = cluster
            .issuer()
            .unwrap()
            .trim_start_matches("https://")
            .to_string();
        let new_key = moto_issuer.trim_start_matches("https://").to_string();
        let text = original.replace(&old_key, &new_key);
        let mut rewritten = bundle::Bundle::default();
        bundle::add_text(&mut rewritten, &format!("{name}.yaml"), &text);
        let facts = source::facts_from_bundle(&rewritten, "snapshot");
        seed(&config, &facts, &account, &cluster.name).await;
        let world = world(&facts, &cluster.name);
        let front = AwsFront::start(&moto.url, world).await;
        let raw: Vec<Value> = rewritten
            .documents
            .iter()
            .map(|d| d.value.clone())
            .collect();
        let kube = KubeApi::start(kube_objects(&raw)).await;
        let dir = TempDir::new(&name);
        let kubeconfig = dir.0.join("kubeconfig");
        std::fs::write(&kubeconfig, kube.kubeconfig(&cluster_arn)).unwrap();
        Harness {
            name,
            facts,
            kube,
            front,
            kubeconfig,
            cluster_arn,
            region,
            _moto: moto,
            _dir: dir,
        }
    }

    /// Runs the real binary against the stand-ins.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("pulldoctor runs")
    }

    /// `pulldoctor fix POD --allow-writes --yes`, backing up into `backups`, with `extra` args.
    pub fn fix(&self, pod: &str, backups: &Path, extra: &[&str]) -> Output {
        let backups = backups.to_str().expect("a UTF-8 path");
        let mut args = vec![
            "fix",
            pod,
            "--allow-writes",
            "--yes",
            "--backup-dir",
            backups,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The real binary in tmux against the stand-ins, with `env` over what `command` sets (an
    /// empty value unsets the variable).
    pub fn terminal(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        Terminal::start(name, 100, 30, &self.shell_line(args, env))
    }

    /// The shell line that runs the real binary against the stand-ins, with `env` over what
    /// `command` sets (an empty value unsets the variable).
    pub fn shell_line(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let command = self.command(args);
        let mut line = String::from("env");
        // `env` takes its options before the first assignment.
        for (k, _) in env.iter().filter(|(_, v)| v.is_empty()) {
            line.push_str(&format!(" -u {k}"));
        }
        for (k, v) in env.iter().filter(|(_, v)| !v.is_empty()) {
            line.push_str(&format!(" {k}={v}"));
        }
        for (k, v) in command.get_envs() {
            let k = k.to_string_lossy();
            if let Some(v) = v
                && !env.iter().any(|(name, _)| *name == k)
            {
                line.push_str(&format!(" {k}={}", v.to_string_lossy()));
            }
        }
        line.push_str(&format!(" {}", command.get_program().to_string_lossy()));
        for a in command.get_args() {
            line.push_str(&format!(" {}", a.to_string_lossy()));
        }
        line
    }

    /// The command that runs the real binary against the stand-ins.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pulldoctor"));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("AWS_ENDPOINT_URL", self.front.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", &self.region)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("KUBECONFIG");
        command
    }

    /// `diagnose --all --output json` against the stand-ins, parsed.
    pub fn live_report(&self, extra: &[&str]) -> (Value, Output) {
        let mut args = vec!["diagnose", "--all", "--output", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: no JSON report ({e}); stderr: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (report, out)
    }

    pub fn offline_report(&self) -> Report {
        diagnose(
            &self.facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
    }
}

/// What the AWS front serves and refuses, from the scenario.
fn world(facts: &Facts, cluster: &str) -> World {
    World {
        registries: facts.repository_listings.clone(),
        images: facts.images.keys().map(|k| (k.registry.clone(), k.name.clone())).collect(),
        policies: facts.repository_policies.keys().map(|k| (k.registry.clone(), k.name.clone())).collect(),
        pod_identity: facts.pod_identity.as_ref().map(|list| {
            list.iter()
                .map(|a| json!({"clusterName": cluster, "namespace": a.namespace, "serviceAccount": a.service_account,
                    "associationId": a.association_id.clone().unwrap_or_else(|| format!("a-{}-{}", a.namespace, a.service_account)), "roleArn": a.role_arn,
                    // EKS's REST JSON carries timestamps as epoch seconds.
                    "createdAt": a.created_at.as_deref().and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok()).map(|t| t.as_second())}))
                .collect()
        }),
        access_entries: facts.access_entries.as_ref().map(|list| {
            list.iter()
                .map(|e| json!({"principalArn": e.principal_arn, "type": e.entry_type, "kubernetesGroups": e.kubernetes_groups}))
                .collect()
        }),
        cache_rules: (!facts.pull_through_rules.is_empty()).then(|| {
            facts
                .pull_through_rules
                .values()
                .flatten()
                .map(|r| json!({"ecrRepositoryPrefix": r.ecr_repository_prefix, "upstreamRegistryUrl": r.upstream_registry_url, "registryId": r.registry_id}))
                .collect()
        }),
        ec2: (!facts.ec2.is_empty()).then(|| facts.ec2.clone()),
        cache_validations: facts
            .cache_rule_validations
            .iter()
            .map(|(key, v)| (key.clone(), serde_json::to_value(v).unwrap()))
            .collect(),
        registry_policies: facts
            .registry_policies
            .iter()
            .map(|(key, policy)| {
                let text = policy.as_ref().map(|p| p.as_ref().unwrap().to_pretty_json());
                (key.clone(), text)
            })
            .collect(),
        added_client_ids: Default::default(),
        addon_images: facts
            .manifests
            .iter()
            .map(|((k, id), m)| ((k, id), Ok(m.clone())))
            .chain(facts.image_failures.iter().map(|((k, id), c)| ((k, id), Err(c.clone()))))
            .filter(|((k, _), _)| AWS_EKS_REGISTRIES.contains(&k.registry.as_str()))
            .map(|((k, id), answer)| ((k.registry.clone(), k.name.clone(), id.clone()), answer))
            .collect(),
        compute_config: facts
            .cluster
            .as_ref()
            .and_then(|c| c.compute_config.as_ref())
            .map(|c| json!({"enabled": c.enabled, "nodeRoleArn": c.node_role_arn})),
        image_status: facts
            .images
            .values()
            .flatten()
            .flat_map(|i| {
                let status = i.image_status.clone();
                i.image_tags.iter().filter_map(move |tag| {
                    let key = (i.registry_id.clone(), i.repository_name.clone(), tag.clone());
                    Some((key, status.clone()?))
                })
            })
            .collect(),
        status_digests: Default::default(),
        trail: trail_wire(facts),
        trail_refused: facts
            .errors
            .keys()
            .filter_map(|scope| scope.strip_prefix(pulldoctor::facts::scope::TRAIL_PREFIX))
            .map(str::to_string)
            .collect(),
    }
}

/// The scenario's CloudTrail events as LookupEvents answers them: newest first, timestamps in
/// epoch seconds, the record as JSON text (with `AwsRegion` beside, for the front to filter on).
fn trail_wire(facts: &Facts) -> Vec<Value> {
    let mut events: Vec<_> = facts.trail.events.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.time));
    events
        .into_iter()
        .map(|e| {
            // A token exchange is made by the token's subject, for the role it names.
            let (identity, parameters) = match &e.requested_role {
                Some(role) => (
                    json!({"type": "WebIdentityUser", "userName": e.username}),
                    json!({"roleArn": role, "roleSessionName": e.session_name}),
                ),
                None => (
                    json!({"type": "AssumedRole", "arn": e.principal,
                        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": e.role}}}),
                    json!({"repositoryName": e.repository, "registryId": e.registry}),
                ),
            };
            let mut record = json!({
                "eventTime": e.time.to_string(), "eventName": e.name, "eventSource": e.source,
                "errorCode": e.error_code, "errorMessage": e.error_message,
                "awsRegion": e.region, "recipientAccountId": e.registry,
                "userIdentity": identity, "requestParameters": parameters,
            });
            record_changes(&mut record, &e.changes);
            // The repository a call names is its resource, as CloudTrail lists it.
            let resources: Vec<Value> = match (&e.repository, &e.registry, &e.region) {
                (Some(repository), Some(registry), Some(region)) => {
                    let partition = pulldoctor::iam::arn::partition_for_region(region);
                    vec![json!({"ResourceType": "AWS::ECR::Repository",
                        "ResourceName": format!("arn:{partition}:ecr:{region}:{registry}:repository/{repository}")})]
                }
                _ => Vec::new(),
            };
            json!({"EventId": e.id, "EventName": e.name, "EventTime": e.time.as_second(),
                "EventSource": e.source, "Username": e.username, "AwsRegion": e.region,
                "Resources": resources, "CloudTrailEvent": record.to_string()})
        })
        .collect()
}

/// A record's image changes in the shapes ECR records them.
fn record_changes(record: &mut Value, changes: &[ImageChange]) {
    let mut rules: Vec<Value> = Vec::new();
    let mut expired = Vec::new();
    for change in changes {
        match change {
            ImageChange::Expired { digest, tags, rule } => {
                let priority = rule.as_ref().map(|r| r.priority);
                if let Some(rule) = rule.as_ref().filter(|r| {
                    !rules
                        .iter()
                        .any(|known| known["rulePriority"] == r.priority)
                }) {
                    // The selection is kept as one phrase: the diagnosis shows it as it came.
                    rules.push(json!({"rulePriority": rule.priority, "description": rule.description,
                        "lifecycleEventSelection": {"countType": rule.selection}, "action": "expire"}));
                }
                expired.push(
                    json!({"lifecycleEventImage": {"digest": digest, "tagStatus":
                    if tags.is_empty() { "Untagged" } else { "Tagged" }, "tagList": tags},
                    "rulePriority": priority}),
                );
            }
            ImageChange::Deleted { tag, digest } => {
                let ids = record["responseElements"]["imageIds"].as_array().cloned();
                let mut ids = ids.unwrap_or_default();
                ids.push(json!({"imageTag": tag, "imageDigest": digest}));
                record["responseElements"] = json!({"imageIds": ids, "failures": []});
            }
            ImageChange::Pushed { tag, digest } => {
                record["requestParameters"]["imageTag"] = json!(tag);
                record["responseElements"] =
                    json!({"image": {"imageId": {"imageTag": tag, "imageDigest": digest}}});
            }
        }
    }
    if !expired.is_empty() {
        let repository = record["requestParameters"]["repositoryName"].take();
        record["requestParameters"] = Value::Null;
        record["serviceEventDetails"] = json!({"repositoryName": repository,
            "lifecycleEventPolicy": {"lifecycleEventRules": rules},
            "lifecycleEventImageActions": expired});
    }
}
/// Puts the scenario's IAM, ECR and EKS facts into moto (the caller's account only: one set of
/// credentials reads one account, as on a real laptop).
#[expect(
    clippy::too_many_lines,
    reason = "one step per kind of fact moto is seeded with, in order"
)]
async fn seed(config: &aws_types::SdkConfig, facts: &Facts, account: &str, cluster: &str) {
    let iam = aws_sdk_iam::Client::new(config);
    // A registry lives in its Region: moto keeps each Region's repositories apart.
    let ecr_in = |region: &str| {
        aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(config)
                .region(aws_types::region::Region::new(region.to_string()))
                .build(),
        )
    };
    let eks = aws_sdk_eks::Client::new(config);
    for (policy_arn, doc) in &facts.policies {
        if policy_arn.contains(":iam::aws:") || !policy_arn.contains(account) {
            continue;
        }
        let name = policy_arn.rsplit('/').next().unwrap();
        iam.create_policy()
            .policy_name(name)
            .policy_document(doc.as_ref().unwrap().to_pretty_json())
            .send()
            .await
            .unwrap_or_else(|e| panic!("create policy {name}: {e:?}"));
    }
    for ((role_account, name), role) in &facts.roles {
        if role_account != account {
            continue;
        }
        let mut create = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(role.trust.as_ref().unwrap().to_pretty_json());
        if let Some(b) = &role.boundary_arn {
            create = create.permissions_boundary(b);
        }
        create
            .send()
            .await
            .unwrap_or_else(|e| panic!("create role {name}: {e:?}"));
        for (policy_name, doc) in role.permissions.iter().flat_map(|p| p.inline.iter()) {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .policy_document(doc.as_ref().unwrap().to_pretty_json())
                .send()
                .await
                .unwrap();
        }
        for policy_arn in role.permissions.iter().flat_map(|p| p.attached.iter()) {
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .unwrap_or_else(|e| panic!("attach {policy_arn} to {name}: {e:?}"));
        }
    }
    for (provider_arn, audiences) in &facts.oidc_providers {
        if !provider_arn.contains(account) {
            continue;
        }
        let url = provider_arn.split(":oidc-provider/").nth(1).unwrap();
        iam.create_open_id_connect_provider()
            .url(format!("https://{url}"))
            .set_client_id_list(Some(
                audiences
                    .clone()
                    .unwrap_or_else(|| vec!["sts.amazonaws.com".into()]),
            ))
            .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
            .send()
            .await
            .unwrap();
    }
    for key in &facts.repositories {
        ecr_in(&key.region)
            .create_repository()
            .repository_name(&key.name)
            .registry_id(&key.registry)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create repository {}: {e:?}", key.name));
    }
    for (key, images) in &facts.images {
        for image in images {
            for tag in &image.image_tags {
                let manifest = facts.manifests.get(&(key.clone(), tag.clone())).cloned().unwrap_or_else(|| {
                    let media = image
                        .image_manifest_media_type
                        .clone()
                        .unwrap_or_else(|| "application/vnd.docker.distribution.manifest.v2+json".into());
                    json!({"schemaVersion": 2, "mediaType": media,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", "0".repeat(64)), "size": 1},
                        // moto's digest is the hash of the layer digests: the scenario's digest
                        // as a layer makes each image its own.
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": image.image_digest, "size": 1}]})
                    .to_string()
                });
                ecr_in(&key.region)
                    .put_image()
                    .registry_id(&key.registry)
                    .repository_name(&key.name)
                    .image_manifest(manifest)
                    .image_tag(tag)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("put image {}:{tag}: {e:?}", key.name));
            }
        }
    }
    for (key, policy) in &facts.repository_policies {
        if let Some(Ok(doc)) = policy {
            ecr_in(&key.region)
                .set_repository_policy()
                .registry_id(&key.registry)
                .repository_name(&key.name)
                .policy_text(doc.to_pretty_json())
                .send()
                .await
                .unwrap_or_else(|e| panic!("set policy of {}: {e:?}", key.name));
        }
    }
    for group in facts.nodegroups.values() {
        // moto gives every group an EKS AMI; a group the scenario says nothing of the bootstrap
        // of gets a launch template, so that live too its nodes' configuration is not known.
        let template = match (&group.ami_type, &group.launch_template) {
            (_, Some(t)) => t["name"].as_str().map(str::to_string),
            (None, None) => Some("bootstrap-not-known".to_string()),
            (Some(_), None) => None,
        };
        eks.create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(&group.nodegroup_name)
            .node_role(&group.node_role)
            .subnets("subnet-1")
            .set_ami_type(
                group
                    .ami_type
                    .as_deref()
                    .map(aws_sdk_eks::types::AmiTypes::from),
            )
            .set_launch_template(template.map(|name| {
                aws_sdk_eks::types::LaunchTemplateSpecification::builder()
                    .name(name)
                    .build()
            }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("create node group {}: {e:?}", group.nodegroup_name));
    }
    for profile in facts.fargate_profiles.values() {
        let selectors = profile.selectors.iter().map(|s| {
            aws_sdk_eks::types::FargateProfileSelector::builder()
                .set_namespace(s.namespace.clone())
                .set_labels((!s.labels.is_empty()).then(|| s.labels.clone().into_iter().collect()))
                .build()
        });
        eks.create_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(&profile.fargate_profile_name)
            .pod_execution_role_arn(&profile.pod_execution_role_arn)
            .set_selectors(Some(selectors.collect()))
            .subnets("subnet-1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create Fargate profile: {e:?}"));
    }
}
