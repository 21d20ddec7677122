//! Reading AWS (STS, EKS, IAM, ECR) read-only through the SDK. Every call goes through
//! [`Aws::call`]: the concurrency bound, a timeout, the SDK's retries for throttling, and errors
//! kept as data so that a refusal becomes a recorded gap.

use super::{Limits, Progress};
use super::{innermost, one_line};
use crate::facts::aws::refusal;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_types::region::Region;
use std::collections::HashMap;
use std::sync::Mutex;

/// LookupEvents' limit: two requests a second per account and Region.
pub const TRAIL_PER_SECOND: u32 = 2;

pub struct Aws {
    pub config: aws_config::SdkConfig,
    pub sts: aws_sdk_sts::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub organizations: aws_sdk_organizations::Client,
    /// In the cluster's Region: the nodes' network path.
    pub ec2: aws_sdk_ec2::Client,
    ecr: Mutex<HashMap<String, aws_sdk_ecr::Client>>,
    cloudtrail: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>>,
    limits: Limits,
    /// CloudTrail answers LookupEvents twice a second per account and Region: its calls wait
    /// their turn here, beside the session's bound.
    trail_pace: Limits,
    /// Services that let a call time out: later calls to them fail at once, so an endpoint that
    /// never answers costs one `--timeout`, not one per wave of lookups.
    silent: Mutex<std::collections::HashSet<String>>,
    /// Told, once per service and read, that a call has waited `--timeout` without an answer.
    slow: Mutex<(Progress, std::collections::HashSet<String>)>,
    /// Every call made, by service, operation and outcome.
    pub calls: super::tally::Tally<super::tally::AwsCall>,
}

/// The client of `region` in `clients`, made by `make` the first time it is asked for.
fn regional<C: Clone>(
    clients: &Mutex<HashMap<String, C>>,
    region: &str,
    make: impl FnOnce(Region) -> C,
) -> C {
    // A poisoned map still holds good clients: a panic elsewhere cannot break them.
    let mut clients = clients.lock().unwrap_or_else(|e| e.into_inner());
    clients
        .entry(region.to_string())
        .or_insert_with(|| make(Region::new(region.to_string())))
        .clone()
}

/// A failed AWS call, as the user needs to read it.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn is(&self, codes: &[&str]) -> bool {
        codes.contains(&self.code.as_str())
    }
}

/// The profile's credentials, asked for once before any call and within `--timeout`: a
/// `credential_process` or login that never answers is one clear error, not a hang with a child
/// process per retry. What it gave goes to the SDK's cache first, so the process runs once.
async fn prefetched(
    config: aws_config::SdkConfig,
    timeout: std::time::Duration,
) -> Result<aws_config::SdkConfig, String> {
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
    let Some(inner) = config.credentials_provider() else {
        return Ok(config);
    };
    let first = match tokio::time::timeout(timeout, inner.provide_credentials()).await {
        Err(_) => {
            return Err(format!(
                "no AWS credentials within --timeout ({} s): the profile's credential_process or login does not answer — fix it (aws sso login, aws configure) or pass --profile; without AWS: pulldoctor demo, or --from a bundle",
                timeout.as_secs()
            ));
        }
        // A refusal is said by the first call, as without this step.
        Ok(result) => result.ok(),
    };
    let provider = Prefetched {
        first: Mutex::new(first),
        inner,
    };
    Ok(config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build())
}

/// Hands out the credentials fetched up front once, then asks the profile's own provider.
#[derive(Debug)]
struct Prefetched {
    first: Mutex<Option<aws_credential_types::Credentials>>,
    inner: aws_credential_types::provider::SharedCredentialsProvider,
}

impl aws_credential_types::provider::ProvideCredentials for Prefetched {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        use aws_credential_types::provider::future;
        match self.first.lock().ok().and_then(|mut first| first.take()) {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => self.inner.provide_credentials(),
        }
    }
}

pub async fn connect(
    profile: Option<&str>,
    region: Option<&str>,
    limits: Limits,
) -> Result<Aws, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(limits.timeout)
                .operation_timeout(limits.timeout * 2)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(4));
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    let config = prefetched(loader.load().await, limits.timeout).await?;
    Ok(Aws {
        sts: aws_sdk_sts::Client::new(&config),
        eks: aws_sdk_eks::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        organizations: aws_sdk_organizations::Client::new(&config),
        ec2: aws_sdk_ec2::Client::new(&config),
        ecr: Mutex::new(HashMap::new()),
        cloudtrail: Mutex::new(HashMap::new()),
        config,
        trail_pace: Limits::new(2, limits.timeout).with_rate(Some(TRAIL_PER_SECOND)),
        limits,
        silent: Mutex::new(std::collections::HashSet::new()),
        slow: Mutex::default(),
        calls: super::tally::Tally::default(),
    })
}

impl Aws {
    /// A new read tries every service again, even one that was silent during the last read.
    pub fn forget_silence(&self) {
        if let Ok(mut set) = self.silent.lock() {
            set.clear();
        }
        if let Ok(mut slow) = self.slow.lock() {
            slow.1.clear();
        }
    }

    /// Who is told, during the reads that follow, of a service that keeps a call waiting.
    pub fn tell_slowness_to(&self, listener: Progress) {
        if let Ok(mut slow) = self.slow.lock() {
            slow.0 = listener;
        }
    }

    /// Says once per read that `service` has let a call wait `--timeout`: a screen says so at
    /// once rather than after the call gives up.
    fn waited(&self, service: &str) {
        let Ok(mut slow) = self.slow.lock() else {
            return;
        };
        if slow.1.insert(service.to_string()) {
            let seconds = self.limits.timeout.as_secs();
            slow.0.tell(|| {
                format!(
                    "AWS {service} has not answered in --timeout ({seconds} s): what needs it will be unknown"
                )
            });
        }
    }

    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    /// The ECR client of a region: images name their registry's region.
    pub fn ecr(&self, region: &str) -> aws_sdk_ecr::Client {
        regional(&self.ecr, region, |r| {
            let config = aws_sdk_ecr::config::Builder::from(&self.config)
                .region(r)
                .build();
            aws_sdk_ecr::Client::from_conf(config)
        })
    }

    /// The CloudTrail client of a region: a call is recorded where it was made.
    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        regional(&self.cloudtrail, region, |r| {
            let config = aws_sdk_cloudtrail::config::Builder::from(&self.config)
                .region(r)
                .build();
            aws_sdk_cloudtrail::Client::from_conf(config)
        })
    }

    /// Waits for a turn of CloudTrail's LookupEvents (see [`TRAIL_PER_SECOND`]).
    pub async fn trail_turn(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.trail_pace.permit().await
    }

    /// One call: bounded, timed out, errors as [`AwsError`] naming the action.
    pub async fn call<T, E, Fut>(&self, action: &str, target: &str, fut: Fut) -> Result<T, AwsError>
    where
        Fut: std::future::Future<
                Output = Result<
                    T,
                    aws_sdk_ecr::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
                >,
            >,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let service = action.split(':').next().unwrap_or(action).to_string();
        let silent = |set: &Mutex<std::collections::HashSet<String>>| {
            set.lock().map(|s| s.contains(&service)).unwrap_or(false)
        };
        let not_tried = || AwsError {
            code: "Timeout".into(),
            message: format!(
                "{action} on {target} not tried: {service} did not answer an earlier call within --timeout"
            ),
        };
        if silent(&self.silent) {
            return Err(not_tried());
        }
        let _permit = self.limits.permit().await;
        if silent(&self.silent) {
            return Err(not_tried());
        }
        let answer = tokio::time::timeout(self.limits.timeout * 2, fut);
        tokio::pin!(answer);
        let answer = tokio::select! {
            answer = &mut answer => answer,
            () = tokio::time::sleep(self.limits.timeout) => {
                self.waited(&service);
                answer.await
            }
        };
        let result = match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(describe(action, target, &error)),
            Err(_) => Err(AwsError {
                code: "Timeout".into(),
                message: format!("{action} on {target} timed out"),
            }),
        };
        let code = result.as_ref().err().map(|e| e.code.as_str());
        self.calls.add(super::tally::AwsCall::new(action, code));
        if let Err(e) = &result
            && e.code == "Timeout"
            && let Ok(mut set) = self.silent.lock()
        {
            set.insert(service);
        }
        result
    }
}

fn describe<E>(
    action: &str,
    target: &str,
    error: &aws_sdk_ecr::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_ecr::error::SdkError;
    let code = error.code().unwrap_or("").to_string();
    let detail = || {
        error
            .message()
            .map(one_line)
            .unwrap_or_else(|| innermost(error))
    };
    let failed = |code: &str, message: String| AwsError {
        code: code.to_string(),
        message,
    };
    match code.as_str() {
        "" => match error {
            SdkError::TimeoutError(_) => {
                failed("Timeout", format!("{action} on {target} timed out"))
            }
            SdkError::DispatchFailure(d) if mentions_credentials(error) || d.is_user() => failed(
                NO_CREDENTIALS,
                format!(
                    "no usable AWS credentials ({}): log in (aws sso login, aws configure), or pass --profile; without AWS: pulldoctor demo, or --from a bundle (pulldoctor collect-script)",
                    innermost(error)
                ),
            ),
            SdkError::DispatchFailure(d) if d.is_timeout() => {
                failed("Timeout", format!("{action} on {target} timed out"))
            }
            SdkError::DispatchFailure(_) => failed(
                "Unreachable",
                format!("cannot reach AWS for {action}: {}", innermost(error)),
            ),
            SdkError::ResponseError(_) => failed(
                "BadResponse",
                format!("{action} on {target}: the answer could not be read"),
            ),
            _ => failed("", format!("{action} on {target} failed: {}", detail())),
        },
        _ => failed(&code, refusal(&code, action, target, &detail())),
    }
}

/// The code of a call that failed because there are no usable credentials at all.
pub const NO_CREDENTIALS: &str = "NoCredentials";

/// Whether the failure happened while loading credentials (no profile, a broken config file, an
/// expired SSO session), as the SDK's error chain says.
fn mentions_credentials(error: &dyn std::error::Error) -> bool {
    let mut next: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = next {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("credential") || text.contains("profile") || text.contains("sso") {
            return true;
        }
        next = e.source();
    }
    false
}
