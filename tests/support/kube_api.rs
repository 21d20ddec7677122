//! A Kubernetes API stand-in: serves a scenario's objects over real HTTP with paging
//! (limit/continue), field selectors, injectable faults and latency, and counts requests.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Fault {
    /// Applies to requests whose path contains this.
    pub path_contains: String,
    pub status: u16,
    /// How many requests it answers before it stops (usize::MAX: always).
    pub remaining: usize,
}

pub struct KubeState {
    pub objects: Mutex<Vec<Value>>,
    /// Watch events (one JSON line each) for every open watch.
    pub events: tokio::sync::broadcast::Sender<String>,
    pub requests: Mutex<Vec<String>>,
    pub faults: Mutex<Vec<Fault>>,
    pub latency: Mutex<Duration>,
}

pub struct KubeApi {
    pub addr: SocketAddr,
    pub state: Arc<KubeState>,
}

impl KubeApi {
    pub async fn start(objects: Vec<Value>) -> KubeApi {
        let state = Arc::new(KubeState {
            objects: Mutex::new(objects),
            events: tokio::sync::broadcast::channel(64).0,
            requests: Mutex::default(),
            faults: Mutex::default(),
            latency: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        KubeApi { addr, state }
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The stored object of this kind and name.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.state
            .objects
            .lock()
            .unwrap()
            .iter()
            .find(|o| {
                o["kind"] == kind
                    && o["metadata"]["namespace"] == namespace
                    && o["metadata"]["name"] == name
            })
            .cloned()
    }

    /// Adds an object, as a controller would, and tells every watch.
    pub fn add(&self, object: Value) {
        self.state.objects.lock().unwrap().push(object.clone());
        let _ = self
            .state
            .events
            .send(json!({"type": "ADDED", "object": object}).to_string() + "\n");
    }

    pub fn clear(&self) {
        self.state.requests.lock().unwrap().clear();
        self.state.faults.lock().unwrap().clear();
        *self.state.latency.lock().unwrap() = Duration::ZERO;
    }

    pub fn fault(&self, path_contains: &str, status: u16, remaining: usize) {
        self.state.faults.lock().unwrap().push(Fault {
            path_contains: path_contains.to_string(),
            status,
            remaining,
        });
    }

    /// A kubeconfig whose cluster entry is the EKS cluster ARN, as `aws eks update-kubeconfig`
    /// writes it.
    pub fn kubeconfig(&self, cluster_arn: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: \"{cluster_arn}\"\n  cluster:\n    server: http://{}\ncontexts:\n- name: test\n  context:\n    cluster: \"{cluster_arn}\"\n    user: test\nusers:\n- name: test\n  user:\n    token: test-token\n",
            self.addr
        )
    }
}

fn kind_of(plural: &str) -> Option<&'static str> {
    Some(match plural {
        "pods" => "Pod",
        "secrets" => "Secret",
        "events" => "Event",
        "serviceaccounts" => "ServiceAccount",
        "nodes" => "Node",
        "configmaps" => "ConfigMap",
        "replicasets" => "ReplicaSet",
        "statefulsets" => "StatefulSet",
        "daemonsets" => "DaemonSet",
        "jobs" => "Job",
        "ec2nodeclasses" => "EC2NodeClass",
        "nodeclasses" => "NodeClass",
        "deployments" => "Deployment",
        _ => return None,
    })
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "code": code})
            .to_string(),
        ))
        .unwrap()
}

fn field(object: &Value, path: &str) -> Option<String> {
    let mut v = object;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    v.as_str().map(str::to_string)
}

async fn handle(State(state): State<Arc<KubeState>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // A metadata-only list, as kube-rs's list_metadata asks for it: no object bodies come back.
    let metadata_only = request
        .headers()
        .get("accept")
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadataList"));
    let uri = request.uri().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("{method} {uri}"));
    let latency = *state.latency.lock().unwrap();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    {
        let mut faults = state.faults.lock().unwrap();
        if let Some(f) = faults
            .iter_mut()
            .find(|f| path.contains(&f.path_contains) && f.remaining > 0)
        {
            f.remaining = f.remaining.saturating_sub(1);
            let reason = match f.status {
                403 => "Forbidden",
                404 => "NotFound",
                429 => "TooManyRequests",
                _ => "InternalError",
            };
            return status(
                f.status,
                reason,
                &format!("injected {} for {path}", f.status),
            );
        }
    }
    if method != Method::GET && method != Method::PATCH && method != Method::POST {
        return status(
            405,
            "MethodNotAllowed",
            "the stand-in reads, creates and merge-patches only",
        );
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match parts.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return status(404, "NotFound", "unknown path"),
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return status(404, "NotFound", "unknown path"),
    };
    let Some(kind) = kind_of(plural) else {
        return status(404, "NotFound", "unknown resource");
    };
    // Secret data never leaves the stand-in: a read that is not metadata-only is refused, so a
    // test sees any attempt.
    if kind == "Secret" && !metadata_only {
        return status(
            403,
            "Forbidden",
            "the stand-in sends Secrets as metadata only",
        );
    }
    let selectors: Vec<(String, String)> = query
        .get("fieldSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    if method == Method::POST {
        let mut object: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        object["kind"] = Value::String(kind.to_string());
        object["apiVersion"] = Value::String(
            if kind == "Deployment" {
                "apps/v1"
            } else {
                "v1"
            }
            .to_string(),
        );
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = Value::String(ns.to_string());
        }
        let mut objects = state.objects.lock().unwrap();
        let name = object["metadata"]["name"].clone();
        if objects.iter().any(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == object["metadata"]["namespace"]
        }) {
            return status(409, "AlreadyExists", "already exists");
        }
        objects.push(object.clone());
        return json_response(StatusCode::CREATED, object);
    }
    if method == Method::PATCH {
        let Some(name) = name else {
            return status(405, "MethodNotAllowed", "patch a named object");
        };
        let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut objects = state.objects.lock().unwrap();
        let Some(object) = objects.iter_mut().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
        }) else {
            return status(404, "NotFound", &format!("{plural} \"{name}\" not found"));
        };
        merge(object, &patch);
        return json_response(StatusCode::OK, object.clone());
    }
    if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch(&state);
    }
    let objects = state.objects.lock().unwrap().clone();
    let matching: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
        .filter(|o| name.is_none_or(|n| o["metadata"]["name"] == n))
        .filter(|o| {
            selectors
                .iter()
                .all(|(k, v)| field(o, k).as_deref() == Some(v.as_str()))
        })
        .collect();
    if let Some(name) = name {
        return match matching.first() {
            Some(o) => json_response(StatusCode::OK, (*o).clone()),
            None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
        };
    }
    let start: usize = query
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|o| match metadata_only {
            true => json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]}),
            false => (*o).clone(),
        })
        .collect();
    let next = start + page.len();
    let mut metadata = json!({"resourceVersion": "1"});
    if next < matching.len() {
        metadata["continue"] = Value::String(next.to_string());
    }
    let (api_version, list_kind) = match metadata_only {
        true => ("meta.k8s.io/v1", "PartialObjectMetadataList".to_string()),
        false => ("v1", format!("{kind}List")),
    };
    json_response(
        StatusCode::OK,
        json!({"apiVersion": api_version, "kind": list_kind, "metadata": metadata, "items": page}),
    )
}

/// JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A watch: a chunked stream of newline-delimited events, as the API server sends them.
fn watch(state: &KubeState) -> Response {
    let receiver = state.events.subscribe();
    let stream = futures::stream::unfold(receiver, |mut rx| async move {
        match rx.recv().await {
            Ok(line) => Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(line)), rx)),
            Err(_) => None,
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn json_response(code: StatusCode, value: Value) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
