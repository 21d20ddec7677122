//! `--from-agent URL`: what a running `pulldoctor agent` last read (its `/snapshot`), fetched over
//! plain HTTP — `kubectl port-forward` reaches an agent in the cluster — and read as a snapshot
//! file is. Nothing else is asked of the agent, and nothing of the cluster or AWS.

use super::bundle::{self, Bundle};
use crate::facts::Facts;
use crate::text::escape_line;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// The facts the agent at `url` last read: its answer at most `limit` bytes, within `timeout`.
pub async fn facts_from_agent(url: &str, limit: u64, timeout: Duration) -> Result<Facts, String> {
    let uri = snapshot_uri(url)?;
    let text = tokio::time::timeout(timeout, fetch(&uri, limit))
        .await
        .map_err(|_| {
            format!(
                "the agent at {} did not answer within --timeout ({} s)",
                escape_line(url),
                timeout.as_secs()
            )
        })??;
    let mut bundle = Bundle::default();
    bundle::add_text(&mut bundle, "the agent's snapshot", &text);
    Ok(super::facts_from_owned_bundle(bundle, "agent"))
}

/// `URL/snapshot`, for an `http://` URL.
fn snapshot_uri(url: &str) -> Result<http::Uri, String> {
    let not_a_url = || {
        format!(
            "--from-agent {}: not an agent's URL (http://HOST:PORT, as the agent's --listen)",
            escape_line(url)
        )
    };
    let uri: http::Uri = url.parse().map_err(|_| not_a_url())?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "--from-agent speaks plain HTTP, as the agent serves: reach it with kubectl port-forward (http://localhost:8081)"
                    .to_string(),
            );
        }
        _ => return Err(not_a_url()),
    }
    let authority = uri.authority().ok_or_else(not_a_url)?.clone();
    let path = format!("{}/snapshot", uri.path().trim_end_matches('/'));
    http::Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|_| not_a_url())
}

async fn fetch(uri: &http::Uri, limit: u64) -> Result<String, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<hyper::body::Bytes>>();
    let shown = escape_line(&uri.to_string()).into_owned();
    let response = client.get(uri.clone()).await.map_err(|e| {
        format!(
            "cannot reach the agent at {shown}: {}",
            super::live::innermost(&e)
        )
    })?;
    let status = response.status();
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let body = Limited::new(response.into_body(), cap)
        .collect()
        .await
        .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
            Some(_) => format!(
                "the agent's snapshot at {shown} is larger than --max-input-mb ({} MiB)",
                limit / (1024 * 1024)
            ),
            None => format!(
                "the agent at {shown} stopped answering: {}",
                super::live::one_line(&e.to_string())
            ),
        })?
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        let why = text.lines().next().unwrap_or_default();
        return Err(format!(
            "the agent at {shown} answered {status}: {}",
            escape_line(why)
        ));
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::snapshot_uri;

    #[test]
    fn the_snapshot_is_asked_of_the_agents_own_address() {
        let uri = |url: &str| snapshot_uri(url).map(|u| u.to_string());
        assert_eq!(
            uri("http://localhost:8080").unwrap(),
            "http://localhost:8080/snapshot"
        );
        assert_eq!(
            uri("http://10.0.0.7:8080/pulldoctor/").unwrap(),
            "http://10.0.0.7:8080/pulldoctor/snapshot"
        );
        assert!(
            uri("https://agent:8080")
                .unwrap_err()
                .contains("port-forward")
        );
        assert!(
            uri("agent:8080")
                .unwrap_err()
                .contains("not an agent's URL")
        );
        assert!(uri("localhost").unwrap_err().contains("not an agent's URL"));
    }
}
