//! The agent's Prometheus metrics. Label values come from closed lists (link ids, cause codes,
//! verdicts, lanes) or from the cluster's namespaces and workloads: never a pod name, so the
//! series stay as few as the broken workloads.

use crate::report::Report;
use crate::source::live::tally::{AwsCall, KubeCall};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct FindingLabels {
    namespace: String,
    workload: String,
    lane: String,
    link: String,
    cause: String,
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeLabels {
    verb: String,
    resource: String,
}

struct Families {
    findings: Family<FindingLabels, Gauge>,
    diagnosis_seconds: Histogram,
    aws: Family<AwsLabels, Counter>,
    kube: Family<KubeLabels, Counter>,
    kept: Gauge,
    /// What each counter was last set from: the session's tallies only grow.
    aws_seen: BTreeMap<AwsCall, u64>,
    kube_seen: BTreeMap<KubeCall, u64>,
}

/// The registry and its families, behind one lock: a scrape never sees findings half replaced.
pub struct Metrics {
    registry: Registry,
    families: Mutex<Families>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let findings = Family::<FindingLabels, Gauge>::default();
        registry.register(
            "pulldoctor_findings",
            "Containers that cannot pull, by the link of the chain that breaks and its cause",
            findings.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "pulldoctor_build_info",
            "The pulldoctor version running",
            build.clone(),
        );
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        let diagnosis_seconds = Histogram::new([0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]);
        registry.register(
            "pulldoctor_diagnosis_duration_seconds",
            "How long one read and diagnosis of the cluster took",
            diagnosis_seconds.clone(),
        );
        let aws = Family::<AwsLabels, Counter>::default();
        registry.register(
            "pulldoctor_aws_requests",
            "AWS API calls made, by service, operation and outcome",
            aws.clone(),
        );
        let kube = Family::<KubeLabels, Counter>::default();
        registry.register(
            "pulldoctor_kube_requests",
            "Kubernetes API requests made, by verb and resource",
            kube.clone(),
        );
        let kept = Gauge::default();
        registry.register(
            "pulldoctor_aws_lookups_kept",
            "AWS lookups kept from earlier reads for reads within --aws-cache",
            kept.clone(),
        );
        Metrics {
            registry,
            families: Mutex::new(Families {
                findings,
                diagnosis_seconds,
                aws,
                kube,
                kept,
                aws_seen: BTreeMap::new(),
                kube_seen: BTreeMap::new(),
            }),
        }
    }

    /// Replaces the findings with this diagnosis's: a workload that recovered loses its series.
    pub fn diagnosed(&self, report: &Report, took: std::time::Duration) {
        let mut counts: BTreeMap<FindingLabels, i64> = BTreeMap::new();
        for f in report.findings.iter().filter(|f| f.failing) {
            let link = f.broken_link;
            let labels = FindingLabels {
                namespace: f.namespace.clone(),
                workload: f.workload.clone().unwrap_or_default(),
                lane: link.map_or("", |l| l.lane().as_str()).to_string(),
                link: link.map_or("", |l| l.as_str()).to_string(),
                cause: f.cause.map_or("", |c| c.as_str()).to_string(),
                verdict: f.verdict.as_str().to_string(),
            };
            *counts.entry(labels).or_default() += 1;
        }
        let families = crate::source::live::lock(&self.families);
        families.findings.clear();
        for (labels, count) in counts {
            families.findings.get_or_create(&labels).set(count);
        }
        families.diagnosis_seconds.observe(took.as_secs_f64());
    }

    /// How many AWS lookups the session keeps between reads.
    pub fn kept(&self, lookups: usize) {
        let families = crate::source::live::lock(&self.families);
        families
            .kept
            .set(i64::try_from(lookups).unwrap_or(i64::MAX));
    }

    /// Brings the request counters up to the session's tallies.
    pub fn requests(&self, aws: Vec<(AwsCall, u64)>, kube: Vec<(KubeCall, u64)>) {
        let mut families = crate::source::live::lock(&self.families);
        let families = &mut *families;
        for (call, count) in aws {
            let before = families.aws_seen.insert(call.clone(), count).unwrap_or(0);
            let labels = AwsLabels {
                service: call.service,
                operation: call.operation,
                outcome: call.outcome.to_string(),
            };
            families
                .aws
                .get_or_create(&labels)
                .inc_by(count.saturating_sub(before));
        }
        for (call, count) in kube {
            let before = families.kube_seen.insert(call.clone(), count).unwrap_or(0);
            let labels = KubeLabels {
                verb: call.verb.to_string(),
                resource: call.resource,
            };
            families
                .kube
                .get_or_create(&labels)
                .inc_by(count.saturating_sub(before));
        }
    }

    /// The text exposition format Prometheus scrapes.
    pub fn text(&self) -> String {
        let _families = crate::source::live::lock(&self.families);
        let mut out = String::new();
        match prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            Ok(()) => out,
            Err(_) => String::new(),
        }
    }
}
