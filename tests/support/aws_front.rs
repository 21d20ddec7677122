//! The AWS endpoint pulldoctor talks to in tests: it forwards to the moto server, serves the
//! operations moto lacks (Pod Identity associations, access entries, pull-through cache rules)
//! from the scenario, refuses what the scenario does not know (as real AWS refuses a foreign
//! registry), injects faults, and counts every request by operation.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pulldoctor::ecr::reference::AWS_EKS_REGISTRIES;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct AwsFault {
    /// `service:Operation`, e.g. `iam:GetRole`.
    pub op: String,
    pub code: String,
    pub remaining: usize,
}

/// What the scenario says beyond what moto can hold.
#[derive(Default, Clone)]
pub struct World {
    /// (registry, region) pairs whose repositories the scenario lists.
    pub registries: BTreeSet<(String, String)>,
    /// (registry, repository) pairs whose images the scenario lists.
    pub images: BTreeSet<(String, String)>,
    /// (registry, repository) pairs whose policy the scenario knows.
    pub policies: BTreeSet<(String, String)>,
    pub pod_identity: Option<Vec<Value>>,
    pub access_entries: Option<Vec<Value>>,
    /// Pull-through cache rules per registry, when the scenario has them.
    pub cache_rules: Option<Vec<Value>>,
    /// The EC2 facts of the scenario (its nodes' network path), when it has any.
    pub ec2: Option<pulldoctor::facts::network::Ec2>,
    /// ECR's validation of each cache rule the scenario knows, by (registry, prefix).
    pub cache_validations: BTreeMap<(String, String), Value>,
    /// Registry policies the scenario knows, by (registry, Region); `None`: none (moto would
    /// answer for a registry the scenario says nothing about).
    pub registry_policies: BTreeMap<(String, String), Option<String>>,
    /// Audiences added to OIDC providers (moto answers AddClientIDToOpenIDConnectProvider with a
    /// 500), by provider ARN: shown in GetOpenIDConnectProvider beside moto's own.
    pub added_client_ids: BTreeMap<String, Vec<String>>,
    /// The cluster's EKS Auto Mode settings (moto's DescribeCluster has no computeConfig).
    pub compute_config: Option<Value>,
    /// Images in ECR's archive (moto has no storage classes): `imageStatus` by (registry,
    /// repository, tag), shown in DescribeImages and changed by UpdateImageStorageClass.
    pub image_status: BTreeMap<(String, String, String), String>,
    /// moto's digest of each image with a status (moto computes its own), learned as
    /// DescribeImages answers pass.
    pub status_digests: BTreeMap<String, (String, String, String)>,
    /// Images of AWS's EKS add-on registries (moto holds one account): by (registry,
    /// repository, tag or digest), the manifest, or the failure code BatchGetImage answers.
    pub addon_images: BTreeMap<(String, String, String), Result<String, String>>,
    /// CloudTrail's events (moto has no LookupEvents), as its wire has them, newest first.
    pub trail: Vec<Value>,
    /// Sessions whose lookup the scenario records as refused: their LookupEvents is refused.
    pub trail_refused: BTreeSet<String>,
}

pub struct FrontState {
    pub moto: String,
    pub world: Mutex<World>,
    pub requests: Mutex<Vec<String>>,
    /// When each request arrived, and what it asked: the waves of a read under latency.
    pub arrivals: Mutex<Vec<(std::time::Instant, String)>>,
    pub faults: Mutex<Vec<AwsFault>>,
    pub latency: Mutex<Duration>,
    /// moto's answers by request (operation, Region, URI and body), each recorded as it passes.
    recorded: Mutex<BTreeMap<String, Recorded>>,
    /// Answer a request recorded before from memory instead of asking moto again: for timing
    /// runs, which should measure pulldoctor and the latency, not moto's own time.
    pub replay: std::sync::atomic::AtomicBool,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response of moto's, kept whole enough to answer the same request again.
#[derive(Clone)]
struct Recorded {
    status: axum::http::StatusCode,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

pub struct AwsFront {
    pub addr: SocketAddr,
    pub state: Arc<FrontState>,
}

impl AwsFront {
    pub async fn start(moto: &str, world: World) -> AwsFront {
        let state = Arc::new(FrontState {
            moto: moto.to_string(),
            world: Mutex::new(world),
            requests: Mutex::new(Vec::new()),
            arrivals: Mutex::default(),
            faults: Mutex::new(Vec::new()),
            latency: Mutex::new(Duration::ZERO),
            recorded: Mutex::default(),
            replay: Default::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        AwsFront { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request as `service:Operation|target`.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests that would change something: a read-only run sends none.
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|op| is_mutating(op))
            .collect()
    }

    /// The operations of every request.
    pub fn operations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.split('|').next().unwrap().to_string())
            .collect()
    }

    pub fn clear(&self) {
        self.state.requests.lock().unwrap().clear();
        self.state.arrivals.lock().unwrap().clear();
        self.state.faults.lock().unwrap().clear();
    }

    pub fn fault(&self, op: &str, code: &str, remaining: usize) {
        self.state.faults.lock().unwrap().push(AwsFault {
            op: op.to_string(),
            code: code.to_string(),
            remaining,
        });
    }
}

/// `service:Operation` of a request, and its region.
fn operation(
    method: &str,
    path: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> (String, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let scope: Vec<&str> = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split(',').next())
        .map(|c| c.split('/').collect())
        .unwrap_or_default();
    let region = scope.get(2).copied().unwrap_or("us-east-1").to_string();
    let service = scope.get(3).copied().unwrap_or("?");
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let op = target.rsplit('.').next().unwrap_or(target);
        return (format!("{service}:{op}"), region);
    }
    let text = String::from_utf8_lossy(body);
    if let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return (format!("{service}:{action}"), region);
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let op = match (method, parts.as_slice()) {
        ("GET", ["clusters"]) => "ListClusters",
        ("GET", ["clusters", _]) => "DescribeCluster",
        ("GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("GET", ["clusters", _, "fargate-profiles", _]) => "DescribeFargateProfile",
        ("GET", ["clusters", _, "pod-identity-associations"]) => "ListPodIdentityAssociations",
        ("POST", ["clusters", _, "pod-identity-associations"]) => "CreatePodIdentityAssociation",
        ("GET", ["clusters", _, "pod-identity-associations", _]) => {
            "DescribePodIdentityAssociation"
        }
        ("GET", ["clusters", _, "access-entries"]) => "ListAccessEntries",
        ("GET", ["clusters", _, "access-entries", _]) => "DescribeAccessEntry",
        _ => return (format!("{service}:{method} {path}"), region),
    };
    (format!("{service}:{op}"), region)
}

/// What a request is about: the entity it looks up.
fn target(path: &str, body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let mut parts = vec![];
        for key in [
            "registryId",
            "repositoryName",
            "imageIds",
            "LookupAttributes",
            "NextToken",
        ] {
            if let Some(v) = json.get(key) {
                parts.push(v.to_string());
            }
        }
        return parts.join(" ");
    }
    let text = String::from_utf8_lossy(body);
    let wanted = [
        "RoleName=",
        "PolicyName=",
        "PolicyArn=",
        "VersionId=",
        "OpenIDConnectProviderArn=",
        // EC2: the VPC and the attribute asked, the instances, endpoints and groups named.
        "VpcId=",
        "Attribute=",
        "Filter.1.Value.1=",
        "InstanceId.",
        "VpcEndpointId",
        "GroupId",
    ];
    let form: Vec<&str> = text
        .split('&')
        .filter(|kv| wanted.iter().any(|w| kv.starts_with(w)))
        .collect();
    if form.is_empty() {
        path.to_string()
    } else {
        form.join(" ")
    }
}

/// Operations that change something: pulldoctor must never send one without --allow-writes.
pub fn is_mutating(op: &str) -> bool {
    let name = op.split(':').nth(1).unwrap_or(op);
    [
        "Create",
        "Put",
        "Delete",
        "Update",
        "Attach",
        "Detach",
        "Set",
        "Tag",
        "Untag",
        "Associate",
        "Add",
        "Remove",
        "Upload",
        "Authorize",
        "Revoke",
        "Modify",
        "Replace",
        "Complete",
        "Initiate",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn error(service: &str, code: &str, message: &str) -> Response {
    match service {
        "ec2" => Response::builder()
            .status(if code.contains("Throttl") || code.contains("RequestLimit") { 503 } else { 403 })
            .header("content-type", "text/xml")
            .body(Body::from(format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>front</RequestID></Response>"
            )))
            .unwrap(),
        "iam" | "sts" => Response::builder()
            .status(if code.contains("Throttl") { 400 } else { 403 })
            .header("content-type", "text/xml")
            .body(Body::from(format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>front</RequestId></ErrorResponse>"
            )))
            .unwrap(),
        _ => Response::builder()
            .status(400)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amzn-ErrorType", code)
            .body(Body::from(json!({"__type": code, "message": message}).to_string()))
            .unwrap(),
    }
}

/// LookupEvents by user name, by resource name, or by event name in the request's Region, newest
/// first, a page of
/// `MaxResults` (50 at most) at a time, the next page's start as `NextToken`; another attribute
/// is refused.
fn lookup_events(world: &World, body: &Value, region: &str) -> Response {
    let attribute = &body["LookupAttributes"][0];
    let value = attribute["AttributeValue"].as_str().unwrap_or_default();
    let by = attribute["AttributeKey"].as_str().unwrap_or_default();
    let key = match by {
        "Username" => value.to_string(),
        "EventName" => pulldoctor::facts::trail::event_key(region, value),
        "ResourceName" => pulldoctor::facts::trail::resource_key(value),
        _ => {
            return error(
                "cloudtrail",
                "InvalidLookupAttributesException",
                "the front looks up user, event and resource names only",
            );
        }
    };
    let matches = |e: &Value| match by {
        "Username" => e["Username"] == value,
        "EventName" => e["EventName"] == value && e["AwsRegion"] == region,
        _ => e["Resources"]
            .as_array()
            .is_some_and(|list| list.iter().any(|r| r["ResourceName"] == value)),
    };
    if world.trail_refused.contains(&key) {
        return error(
            "cloudtrail",
            "AccessDeniedException",
            "not authorized to perform: cloudtrail:LookupEvents",
        );
    }
    let events: Vec<&Value> = world.trail.iter().filter(|e| matches(e)).collect();
    let size = body["MaxResults"].as_u64().unwrap_or(50).clamp(1, 50) as usize;
    let start: usize = body["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = events
        .iter()
        .skip(start)
        .take(size)
        .map(|e| {
            let mut e = (*e).clone();
            e.as_object_mut().map(|o| o.remove("AwsRegion"));
            e
        })
        .collect();
    let mut answer = json!({"Events": page});
    if start + size < events.len() {
        answer["NextToken"] = json!((start + size).to_string());
    }
    ok(answer)
}

fn ok(value: Value) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per AWS call the front answers, read as one table"
)]
async fn handle(State(state): State<Arc<FrontState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let (op, region) = operation(&method, &path, &parts.headers, &body);
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("{op}|{}", target(&path, &body)));
    state
        .arrivals
        .lock()
        .unwrap()
        .push((std::time::Instant::now(), op.clone()));
    let service = op.split(':').next().unwrap_or("").to_string();
    let latency = *state.latency.lock().unwrap();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    {
        let mut faults = state.faults.lock().unwrap();
        if let Some(f) = faults.iter_mut().find(|f| f.op == op && f.remaining > 0) {
            f.remaining -= 1;
            return error(&service, &f.code, &format!("injected {} for {op}", f.code));
        }
    }
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let registry = json_body["registryId"].as_str().unwrap_or("").to_string();
    let repository = json_body["repositoryName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // The scenario's world is locked only in this block, never across an await.
    {
        let mut world_guard = state.world.lock().unwrap();
        let world = &mut *world_guard;
        let refuse = |what: &str| {
            error(
                &service,
                "AccessDeniedException",
                &format!("the scenario does not know {what}"),
            )
        };
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match op.as_str() {
            "ecr:DescribeRepositories"
                if !world
                    .registries
                    .contains(&(registry.clone(), region.clone())) =>
            {
                return refuse(&format!("registry {registry} in {region}"));
            }
            "ecr:DescribeImages"
                if !world
                    .images
                    .contains(&(registry.clone(), repository.clone())) =>
            {
                return refuse(&format!("the images of {repository}"));
            }
            // AWS's add-on registries answer any account's BatchGetImage, and nothing else.
            "ecr:BatchGetImage" if AWS_EKS_REGISTRIES.contains(&registry.as_str()) => {
                let asked = &json_body["imageIds"][0];
                let id = asked["imageDigest"]
                    .as_str()
                    .or(asked["imageTag"].as_str())
                    .unwrap_or("");
                let key = (registry.clone(), repository.clone(), id.to_string());
                return match world.addon_images.get(&key) {
                    Some(Ok(manifest)) => ok(json!({"images": [{"registryId": registry,
                        "repositoryName": repository, "imageId": asked, "imageManifest": manifest}],
                        "failures": []})),
                    Some(Err(code)) => ok(json!({"images": [], "failures": [{"imageId": asked,
                        "failureCode": code, "failureReason": "Requested image not found"}]})),
                    None => refuse(&format!("the image {repository}:{id}")),
                };
            }
            "ecr:DescribeRepositories" | "ecr:DescribeImages" | "ecr:GetRepositoryPolicy"
                if AWS_EKS_REGISTRIES.contains(&registry.as_str()) =>
            {
                return refuse(&format!("AWS's registry {registry}"));
            }
            "ecr:UpdateImageStorageClass" => {
                let digest = json_body["imageId"]["imageDigest"].as_str().unwrap_or("");
                let key = world.status_digests.get(digest).cloned();
                let Some(status) = key.and_then(|k| world.image_status.get_mut(&k)) else {
                    return error(&service, "ImageNotFoundException", "no such archived image");
                };
                // A restore is not instant: the image reads ACTIVATING until it is done.
                *status = "ACTIVATING".to_string();
                return ok(json!({"registryId": registry, "repositoryName": repository,
                    "imageId": {"imageDigest": digest}, "imageStatus": "ACTIVATING"}));
            }
            "ecr:GetRepositoryPolicy"
                if !world
                    .policies
                    .contains(&(registry.clone(), repository.clone())) =>
            {
                return refuse(&format!("the policy of {repository}"));
            }
            "cloudtrail:LookupEvents" => return lookup_events(world, &json_body, &region),
            op if op.starts_with("ec2:") => {
                let action = op.trim_start_matches("ec2:");
                // A scenario that says nothing of EC2 has an empty one: nothing to find.
                let ec2 = world.ec2.get_or_insert_with(Default::default);
                let form = form(&body);
                let answered = match is_mutating(op) {
                    true => super::ec2_front::write(action, &form, ec2),
                    false => super::ec2_front::answer(action, &form, ec2),
                };
                return answered.unwrap_or_else(|| refuse(&format!("EC2 {action}")));
            }
            "ecr:ValidatePullThroughCacheRule" => {
                let prefix = json_body["ecrRepositoryPrefix"].as_str().unwrap_or("");
                return match world
                    .cache_validations
                    .get(&(registry.clone(), prefix.to_string()))
                {
                    Some(answer) => ok(answer.clone()),
                    None => refuse(&format!("the validation of cache rule {prefix}")),
                };
            }
            "ecr:GetRegistryPolicy" => {
                let known = world
                    .registry_policies
                    .iter()
                    .find(|((_, r), _)| *r == region);
                return match known {
                    Some(((registry, _), Some(text))) => {
                        ok(json!({"registryId": registry, "policyText": text}))
                    }
                    Some((_, None)) => error(
                        &service,
                        "RegistryPolicyNotFoundException",
                        "the registry has no policy",
                    ),
                    None => refuse(&format!("the registry policy in {region}")),
                };
            }
            "ecr:DescribePullThroughCacheRules" => {
                return match &world.cache_rules {
                    Some(rules) => ok(json!({"pullThroughCacheRules": rules})),
                    None => refuse("pull-through cache rules"),
                };
            }
            "iam:AddClientIDToOpenIDConnectProvider" => {
                let form = form(&body);
                let (Some(arn), Some(client_id)) =
                    (form.get("OpenIDConnectProviderArn"), form.get("ClientID"))
                else {
                    return error(&service, "InvalidInput", "ARN and ClientID are required");
                };
                let added = world.added_client_ids.entry(arn.clone()).or_default();
                if !added.contains(client_id) {
                    added.push(client_id.clone());
                }
                return Response::builder()
                    .status(200)
                    .header("content-type", "text/xml")
                    .body(Body::from(
                        "<AddClientIDToOpenIDConnectProviderResponse><ResponseMetadata><RequestId>front</RequestId></ResponseMetadata></AddClientIDToOpenIDConnectProviderResponse>",
                    ))
                    .unwrap();
            }
            "eks:CreatePodIdentityAssociation" => {
                let list = world.pod_identity.get_or_insert_with(Vec::new);
                let association = json!({"clusterName": segments.get(1).copied().unwrap_or(""), "namespace": json_body["namespace"],
                "serviceAccount": json_body["serviceAccount"], "roleArn": json_body["roleArn"], "associationId": format!("a-created-{}", list.len())});
                list.push(association.clone());
                return ok(json!({"association": association}));
            }
            "eks:ListPodIdentityAssociations" => {
                return match &world.pod_identity {
                    Some(list) => {
                        let query = parts.uri.query().unwrap_or("");
                        let ns = query
                            .split('&')
                            .find_map(|kv| kv.strip_prefix("namespace="));
                        let sa = query
                            .split('&')
                            .find_map(|kv| kv.strip_prefix("serviceAccount="));
                        let summaries: Vec<Value> = list
                        .iter()
                        .filter(|a| ns.is_none_or(|n| a["namespace"] == n))
                        .filter(|a| sa.is_none_or(|n| a["serviceAccount"] == n))
                        .map(|a| json!({"clusterName": a["clusterName"], "namespace": a["namespace"], "serviceAccount": a["serviceAccount"], "associationId": a["associationId"]}))
                        .collect();
                        ok(json!({"associations": summaries}))
                    }
                    None => refuse("Pod Identity associations"),
                };
            }
            "eks:DescribePodIdentityAssociation" => {
                let id = segments.last().copied().unwrap_or("");
                return match world
                    .pod_identity
                    .iter()
                    .flatten()
                    .find(|a| a["associationId"] == id)
                {
                    Some(a) => ok(json!({"association": a})),
                    None => error(&service, "ResourceNotFoundException", "no such association"),
                };
            }
            "eks:ListAccessEntries" => {
                return match &world.access_entries {
                    Some(list) => ok(
                        json!({"accessEntries": list.iter().map(|e| e["principalArn"].clone()).collect::<Vec<_>>()}),
                    ),
                    None => refuse("access entries"),
                };
            }
            "eks:DescribeAccessEntry" => {
                let arn =
                    percent_encoding::percent_decode_str(segments.last().copied().unwrap_or(""))
                        .decode_utf8_lossy()
                        .into_owned();
                return match world
                    .access_entries
                    .iter()
                    .flatten()
                    .find(|e| e["principalArn"] == arn.as_str())
                {
                    Some(e) => ok(json!({"accessEntry": e})),
                    None => error(
                        &service,
                        "ResourceNotFoundException",
                        "no such access entry",
                    ),
                };
            }
            _ => {}
        }
    }
    let compute_config = match op.as_str() {
        "eks:DescribeCluster" => state.world.lock().unwrap().compute_config.clone(),
        _ => None,
    };
    let added = match op.as_str() {
        "iam:GetOpenIDConnectProvider" => {
            form(&body).get("OpenIDConnectProviderArn").and_then(|arn| {
                state
                    .world
                    .lock()
                    .unwrap()
                    .added_client_ids
                    .get(arn)
                    .cloned()
            })
        }
        _ => None,
    };
    let key = format!(
        "{op}|{region}|{method} {}|{}",
        parts.uri,
        String::from_utf8_lossy(&body)
    );
    let response = forward(&state, key, parts, body).await;
    if let Some(ids) = added {
        return with_client_ids(response, &ids).await;
    }
    match op.as_str() {
        // moto's DescribeCluster has no computeConfig: the scenario's Auto Mode settings.
        "eks:DescribeCluster" => {
            rewrite_json(response, |value| {
                if let Some(config) = compute_config
                    && value["cluster"].is_object()
                {
                    value["cluster"]["computeConfig"] = config;
                }
            })
            .await
        }
        // moto answers for another registry's images with the caller's account as their
        // registryId; ECR names the registry asked.
        "ecr:DescribeImages" | "ecr:BatchGetImage" if !registry.is_empty() => {
            rewrite_json(response, |value| {
                let mut world = state.world.lock().unwrap();
                for list in ["imageDetails", "images"] {
                    for item in value[list].as_array_mut().into_iter().flatten() {
                        item["registryId"] = Value::String(registry.clone());
                        let digest = item["imageDigest"].as_str().unwrap_or("").to_string();
                        let tags: Vec<String> = item["imageTags"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| Some(t.as_str()?.to_string()))
                            .collect();
                        for tag in tags {
                            let key = (registry.clone(), repository.clone(), tag);
                            if let Some(s) = world.image_status.get(&key).cloned() {
                                item["imageStatus"] = Value::String(s);
                                world.status_digests.insert(digest.clone(), key);
                            }
                        }
                    }
                }
            })
            .await
        }
        _ => response,
    }
}

/// moto's JSON answer, changed by `change`.
async fn rewrite_json(response: Response, change: impl FnOnce(&mut Value)) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    change(&mut value);
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// The fields of a form-encoded (IAM query protocol) body.
fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// moto's GetOpenIDConnectProvider answer with the audiences added through the front.
async fn with_client_ids(response: Response, ids: &[String]) -> Response {
    let (parts, body) = response.into_parts();
    let text = body
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let members: String = ids
        .iter()
        .filter(|id| !text.contains(&format!("<member>{id}</member>")))
        .map(|id| format!("<member>{id}</member>"))
        .collect();
    let text = if text.contains("<ClientIDList/>") {
        text.replace(
            "<ClientIDList/>",
            &format!("<ClientIDList>{members}</ClientIDList>"),
        )
    } else {
        text.replacen("</ClientIDList>", &format!("{members}</ClientIDList>"), 1)
    };
    let mut parts = parts;
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from(text))
}

async fn forward(
    state: &FrontState,
    key: String,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let replay = state.replay.load(std::sync::atomic::Ordering::Relaxed);
    let recorded = |r: &Recorded| {
        let mut response = Response::new(Body::from(r.body.clone()));
        *response.status_mut() = r.status;
        *response.headers_mut() = r.headers.clone();
        response
    };
    let read = !is_mutating(key.split('|').next().unwrap_or(""));
    if replay
        && read
        && let Some(r) = state.recorded.lock().unwrap().get(&key)
    {
        return recorded(r);
    }
    let uri = format!(
        "{}{}",
        state.moto,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut builder = hyper::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        if name != "host" {
            builder = builder.header(name, value);
        }
    }
    let request = builder.body(Full::new(body)).unwrap();
    match state.client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let answer = Recorded {
                status: parts.status,
                headers: parts.headers,
                body: bytes,
            };
            let response = recorded(&answer);
            state.recorded.lock().unwrap().insert(key, answer);
            response
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(format!("moto: {e}")))
            .unwrap(),
    }
}
