//! `pulldoctor mcp`: the diagnosis as Model Context Protocol tools, over stdio, for assistants.
//! Read-only by construction: no tool writes, and nothing here can make the `WritePermission` a
//! write needs. JSON answers are the report's exact text (as `diagnose -o json` prints it); the
//! Markdown beside them is escaped as every human output is.

use crate::diagnose::{self, Selection};
use crate::facts::Facts;
use crate::report::{self, Finding, Report};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use rmcp::{Json, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reads the facts: the input the server was started on (a bundle, an agent, the live cluster),
/// live also the pods named (`namespace/name`) whether they fail or not.
pub type Load = Arc<dyn Fn(&[String]) -> Result<Facts, String> + Send + Sync>;

/// The most findings one answer lists; `offset` pages through the rest.
const PAGE: usize = 50;

const SCHEMA_MIME: &str = "application/schema+json";

/// The facts last read, and when.
type LastRead = (Instant, Arc<Facts>);

/// Where the facts come from, and so how long a read answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A bundle, snapshot or agent: read once, and it holds every pod it has.
    Offline,
    /// The cluster: read again once `fresh_for` old; a pod that is not failing is read by name,
    /// as a live read looks into the AWS side of failing pods only.
    Live { fresh_for: Duration },
}

#[derive(Clone)]
pub struct Server {
    load: Load,
    input: Input,
    /// One read at a time: calls that arrive during a read wait for it rather than start theirs.
    read: Arc<tokio::sync::Mutex<Option<LastRead>>>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListRequest {
    /// Only this namespace (all when absent).
    pub namespace: Option<String>,
    /// Skip this many findings (the answer says how many there are).
    pub offset: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PodRequest {
    pub namespace: String,
    /// The pod's name, or KIND/NAME of a workload that cannot create pods.
    pub pod: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LinkRequest {
    pub namespace: String,
    pub pod: String,
    /// A link id of the chain: image-reference, repository, image, platform, node-role,
    /// pull-permissions, repository-policy, network, service-account, role-annotation, …
    pub link: String,
}

/// One failing container, as the list shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Headline {
    pub namespace: String,
    pub pod: Option<String>,
    pub workload: Option<String>,
    pub container: String,
    pub state: String,
    pub verdict: String,
    pub broken_link: Option<String>,
    pub cause: Option<String>,
    pub summary: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FailingPods {
    /// How many findings there are in all.
    pub total: usize,
    pub offset: usize,
    /// At most 50 findings from `offset`.
    pub findings: Vec<Headline>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PodDiagnosis {
    /// The pod's findings, one per container, exactly as `diagnose -o json` has them.
    pub findings: Vec<Value>,
    /// The same, as Markdown for a person (tenant text escaped).
    pub markdown: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LinkExplanation {
    pub container: String,
    /// The link as the report has it: status, cause, summary, evidence, basis (an `unknown`
    /// link's summary says what would settle it).
    pub link: Value,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FixPlan {
    /// Never applied: this server has no tool that writes.
    pub applied: bool,
    /// Per container: the broken link, its cause, and the fixes as the report has them
    /// (commands, documents, diffs).
    pub containers: Vec<Value>,
}

impl Server {
    pub fn new(load: Load, input: Input) -> Server {
        Server {
            load,
            input,
            read: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    /// The facts, read again when the last read is too old; off the async threads, as a read
    /// may block.
    async fn facts(&self) -> Result<Arc<Facts>, String> {
        let mut read = self.read.lock().await;
        let fresh_for = match self.input {
            Input::Offline => Duration::MAX,
            Input::Live { fresh_for } => fresh_for,
        };
        if let Some((at, facts)) = read.as_ref()
            && at.elapsed() < fresh_for
        {
            return Ok(facts.clone());
        }
        let facts = Arc::new(self.read_named(Vec::new()).await?);
        *read = Some((Instant::now(), facts.clone()));
        Ok(facts)
    }

    async fn read_named(&self, named: Vec<String>) -> Result<Facts, String> {
        let load = self.load.clone();
        tokio::task::spawn_blocking(move || load(&named))
            .await
            .map_err(|e| format!("the read stopped: {e}"))?
    }

    /// The report of one pod (or workload), or why there is none. Live, a pod the shared read
    /// does not hold as failing is read by name: that read keeps failing pods only, and did not
    /// look into the AWS side of the others.
    async fn pod_report(&self, namespace: &str, pod: &str) -> Result<Report, String> {
        let selection = Selection {
            all: true,
            namespaces: Vec::new(),
            pods: vec![format!("{namespace}/{pod}")],
        };
        let facts = self.facts().await?;
        let shared = report_of(&facts, &selection);
        let failing = shared
            .as_ref()
            .is_ok_and(|r| r.findings.iter().any(|f| f.failing));
        if failing || self.input == Input::Offline {
            return shared;
        }
        report_of(&self.read_named(selection.pods.clone()).await?, &selection)
    }
}

fn report_of(facts: &Facts, selection: &Selection) -> Result<Report, String> {
    if let Some(why) = diagnose::missing_pod(facts, selection) {
        return Err(why);
    }
    let report = diagnose::diagnose(facts, selection);
    if report.findings.is_empty() {
        return Err(format!(
            "pod {} has no container to diagnose",
            crate::text::escape_line(&selection.pods.join(", "))
        ));
    }
    Ok(report)
}

fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn headline(f: &Finding) -> Headline {
    Headline {
        namespace: f.namespace.clone(),
        pod: f.pod.clone(),
        workload: f.workload.clone(),
        container: f.container.clone(),
        state: f.state.clone(),
        verdict: f.verdict.as_str().to_string(),
        broken_link: f.broken_link.map(|l| l.as_str().to_string()),
        cause: f.cause.map(|c| c.as_str().to_string()),
        summary: f.summary.clone(),
    }
}

#[tool_router]
impl Server {
    #[tool(
        description = "List the pods on EKS that cannot pull their image (or start their sandbox), each with the broken link of its chain and the cause; 50 at a time from `offset`."
    )]
    async fn list_failing_pods(
        &self,
        Parameters(request): Parameters<ListRequest>,
    ) -> Result<Json<FailingPods>, String> {
        let facts = self.facts().await?;
        let selection = Selection {
            all: false,
            namespaces: request.namespace.into_iter().collect(),
            pods: Vec::new(),
        };
        let report = diagnose::diagnose(&facts, &selection);
        let failing: Vec<&Finding> = report.findings.iter().filter(|f| f.failing).collect();
        let offset = request.offset.unwrap_or(0);
        Ok(Json(FailingPods {
            total: failing.len(),
            offset,
            findings: failing
                .into_iter()
                .skip(offset)
                .take(PAGE)
                .map(headline)
                .collect(),
        }))
    }

    #[tool(
        description = "Diagnose one pod: why it cannot pull, link by link of the pull lane (node role, repository, image, permissions, network) and the app-identity lane (IRSA, Pod Identity), with evidence."
    )]
    async fn diagnose_pod(
        &self,
        Parameters(request): Parameters<PodRequest>,
    ) -> Result<Json<PodDiagnosis>, String> {
        let report = self.pod_report(&request.namespace, &request.pod).await?;
        let escaped = report.escaped();
        Ok(Json(PodDiagnosis {
            findings: report.findings.iter().map(json).collect(),
            markdown: escaped
                .findings
                .iter()
                .map(crate::report::markdown::finding_markdown)
                .collect::<Vec<_>>()
                .join("\n"),
        }))
    }

    #[tool(
        description = "Explain one link of a pod's chain: its status, cause and evidence, and for an unknown link what would settle it."
    )]
    async fn explain_link(
        &self,
        Parameters(request): Parameters<LinkRequest>,
    ) -> Result<Json<LinkExplanation>, String> {
        let report = self.pod_report(&request.namespace, &request.pod).await?;
        for finding in &report.findings {
            if let Some(link) = finding.links.iter().find(|l| l.id.as_str() == request.link) {
                return Ok(Json(LinkExplanation {
                    container: finding.container.clone(),
                    link: json(link),
                }));
            }
        }
        let ids: Vec<&str> = report
            .findings
            .iter()
            .flat_map(|f| f.links.iter().map(|l| l.id.as_str()))
            .collect();
        Err(format!(
            "no link {} in the chain of {}/{}: its links are {}",
            crate::text::escape_line(&request.link),
            crate::text::escape_line(&request.namespace),
            crate::text::escape_line(&request.pod),
            ids.join(", ")
        ))
    }

    #[tool(
        description = "The least-privilege fix of a pod's broken link: the commands, documents and diffs that would repair it. Shown only, never applied: this server writes nothing."
    )]
    async fn plan_fix(
        &self,
        Parameters(request): Parameters<PodRequest>,
    ) -> Result<Json<FixPlan>, String> {
        let report = self.pod_report(&request.namespace, &request.pod).await?;
        Ok(Json(FixPlan {
            applied: false,
            containers: report
                .findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "container": f.container,
                        "brokenLink": f.broken_link.map(|l| l.as_str()),
                        "cause": f.cause.map(|c| c.as_str()),
                        "fixes": json(&f.fixes),
                    })
                })
                .collect(),
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let info = Implementation::new("pulldoctor", env!("CARGO_PKG_VERSION"));
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(info)
            .with_instructions(
            "pulldoctor: why pods on Amazon EKS cannot pull their images from Amazon ECR. The kubelet pulls with the node's IAM role (on Fargate the pod execution role), not the pod's IRSA or Pod Identity role; the chain shows both lanes. Read-only.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let schema = Resource::new(report::SCHEMA_URI, "report-schema")
            .with_title("The JSON Schema of pulldoctor's report")
            .with_description(
                "The JSON Schema (2020-12) of `diagnose -o json`: the findings that diagnose_pod returns and their links, causes and fixes.",
            )
            .with_mime_type(SCHEMA_MIME);
        Ok(ListResourcesResult::with_all_items(vec![schema]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != report::SCHEMA_URI {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {}: the one resource is {}",
                    crate::text::escape_line(&request.uri),
                    report::SCHEMA_URI
                ),
                None,
            ));
        }
        let text = serde_json::to_string_pretty(&report::json_schema()).unwrap_or_default();
        let contents = ResourceContents::text(text, report::SCHEMA_URI).with_mime_type(SCHEMA_MIME);
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// Serves on stdin/stdout until the client closes them.
pub async fn serve(load: Load, input: Input) -> Result<(), String> {
    let running = Server::new(load, input)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("the MCP session ended: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server whose reads are counted and take a while.
    fn counted(input: Input) -> (Server, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        let load: Load = Arc::new(move |_named| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            Ok(Facts::default())
        });
        (Server::new(load, input), reads)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_during_a_read_wait_for_it_and_a_live_read_is_made_again_when_old() {
        let (server, reads) = counted(Input::Live {
            fresh_for: Duration::from_millis(300),
        });
        let (a, b, c) = tokio::join!(server.facts(), server.facts(), server.facts());
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for three calls");
        tokio::time::sleep(Duration::from_millis(400)).await;
        server.facts().await.unwrap();
        assert_eq!(
            reads.load(Ordering::SeqCst),
            2,
            "an old live read is made again"
        );

        let (offline, reads) = counted(Input::Offline);
        offline.facts().await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        offline.facts().await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1, "a bundle is read once");
    }
}
