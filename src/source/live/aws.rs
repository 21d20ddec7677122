//! Reading AWS (STS, EKS, IAM, ECR) read-only through the SDK. Every call goes through
//! [`Aws::call`]: the concurrency bound, a timeout, the SDK's retries for throttling, and errors
//! kept as data so that a refusal becomes a recorded gap.

use super::Limits;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_types::region::Region;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Aws {
    pub config: aws_config::SdkConfig,
    pub sts: aws_sdk_sts::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub organizations: aws_sdk_organizations::Client,
    ecr: Mutex<HashMap<String, aws_sdk_ecr::Client>>,
    limits: Limits,
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

pub async fn connect(profile: Option<&str>, region: Option<&str>, limits: Limits) -> Aws {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(limits.timeout)
                .operation_timeout(limits.timeout * 3)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(4));
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    let config = loader.load().await;
    Aws {
        sts: aws_sdk_sts::Client::new(&config),
        eks: aws_sdk_eks::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        organizations: aws_sdk_organizations::Client::new(&config),
        ecr: Mutex::new(HashMap::new()),
        config,
        limits,
    }
}

impl Aws {
    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    /// The ECR client of a region: images name their registry's region.
    pub fn ecr(&self, region: &str) -> aws_sdk_ecr::Client {
        let mut clients = self
            .ecr
            .lock()
            .expect("the ECR client map is never poisoned");
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_ecr::config::Builder::from(&self.config)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_ecr::Client::from_conf(config)
            })
            .clone()
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
        let _permit = self.limits.permit().await;
        match tokio::time::timeout(self.limits.timeout * 4, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(describe(action, target, &error)),
            Err(_) => Err(AwsError {
                code: "Timeout".into(),
                message: format!("{action} on {target} timed out"),
            }),
        }
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
    let code = error.code().unwrap_or("").to_string();
    let detail = error.message().map(str::to_string).unwrap_or_else(|| {
        aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
    });
    let message = match code.as_str() {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            format!("AccessDenied: {action} on {target} was refused — grant {action} to settle it")
        }
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException" => {
            format!(
                "{code}: the AWS credentials were refused for {action} (log in again, or pass --profile)"
            )
        }
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
            format!("throttled: {action} on {target} (retries exhausted)")
        }
        "" => format!("{action} on {target} failed: {detail}"),
        _ => format!("{code}: {action} on {target}: {detail}"),
    };
    AwsError { code, message }
}
