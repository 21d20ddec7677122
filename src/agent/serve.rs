//! The agent's HTTP endpoints: `/metrics` for Prometheus, `/healthz` and `/readyz` on one
//! listener; `/report` (the JSON report of current findings, as `diagnose -o json` prints it) and
//! `/snapshot` (what the last read found, which `--from-agent` opens) on another — they hold the
//! account's policies and the cluster's identity wiring, not for every pod that can reach the
//! Service. Read-only: nothing sent to them changes what the agent does.

use super::{Listeners, Shared};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

pub async fn serve(listeners: Listeners, shared: Arc<Shared>) -> Result<(), String> {
    let public = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(shared.clone());
    let data = Router::new()
        .route("/report", get(report))
        .route("/snapshot", get(snapshot))
        .with_state(shared);
    let stopped = |e: std::io::Error| format!("the agent's HTTP server stopped: {e}");
    tokio::try_join!(
        async { axum::serve(listeners.public, public).await.map_err(stopped) },
        async { axum::serve(listeners.data, data).await.map_err(stopped) },
    )
    .map(|_| ())
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.text(),
    )
        .into_response()
}

/// The last diagnosis; 503 until the first read has ended.
async fn report(State(shared): State<Arc<Shared>>) -> Response {
    match shared.report() {
        Some(report) => match serde_json::to_string_pretty(&*report) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        None => not_ready(&shared),
    }
}

/// What the last read found, as a snapshot (`pulldoctor --from-agent URL` opens it); 503 until
/// the first read has ended.
async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    match shared.snapshot() {
        Some(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        None => not_ready(&shared),
    }
}

/// Ready once a read has ended well: before, the findings would pass for an all-clear.
async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    match shared.report() {
        Some(_) => "ok\n".into_response(),
        None => not_ready(&shared),
    }
}

fn not_ready(shared: &Shared) -> Response {
    let why = shared.last_error().map_or(
        "the first read of the cluster is under way".to_string(),
        |e| format!("no read has succeeded yet: {e}"),
    );
    (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
}
