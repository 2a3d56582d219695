//! The router, with every limit named where it is built: the body size,
//! the body's pauses, the request timeout, the token and route checks, the
//! per-client rate, every error as JSON, and the request log line with the
//! metrics around it all. (The connection's own clocks, the header and
//! keep-alive timeouts, and the cap on connections are in
//! [`super::conn`] and [`super::listen`].)

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use super::api::{ApiError, ClientAddr, ClientName, Outcome, Peer};
use super::auth::{authenticate, rate_limit, route_of};
use super::handlers;
use super::{App, MAX_BODY_BYTES, REQUEST_TIMEOUT};

/// The service: `/v1/` behind the guards, `/healthz`, `/metrics` and
/// `/openapi.json` open (for probes, the scraper on the private network,
/// and the portal's developers).
pub fn router(app: Arc<App>) -> Router {
    let v1 = Router::new()
        .route("/v1/verify", post(handlers::verify))
        .route("/v1/redeem", post(handlers::redeem))
        .route("/v1/revoke", post(handlers::revoke))
        .route("/v1/unlink", post(handlers::unlink))
        .route("/v1/receipts/{receipt}", get(handlers::status));
    let v1 = v1
        // Layers run from the last added: who (401), may they (403), then
        // their per-minute allowance (429).
        .route_layer(from_fn_with_state(Arc::clone(&app), rate_limit))
        .route_layer(from_fn_with_state(Arc::clone(&app), authenticate));
    Router::new()
        .merge(v1)
        .route("/healthz", get(handlers::healthz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(super::openapi::serve_document))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A body that pauses longer than a request's headers may take is
        // answered 408 (see `api::JsonBody`).
        .layer(RequestBodyTimeoutLayer::new(app.edge.clocks.header))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // A bug in a handler is a 500 with a JSON error, never a dropped
        // connection.
        .layer(CatchPanicLayer::custom(panicked))
        // Every error as the documented JSON (see `json_errors`), logged
        // and counted.
        .layer(from_fn_with_state(Arc::clone(&app), observe))
        .with_state(app)
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    IntoResponse::into_response(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "error",
        "the service failed on this request; it has been logged",
    ))
}

/// The route name of a path, for logs and metrics.
fn route_label(path: &str) -> &'static str {
    match (route_of(path), path) {
        (Some(route), _) => route.as_str(),
        (None, "/healthz") => "healthz",
        (None, "/metrics") => "metrics",
        (None, "/openapi.json") => "openapi",
        _ => "other",
    }
}

/// The outcome of a response none of ours made (a timeout, a wrong method).
fn outcome_of_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "error",
        s if s.is_client_error() => "bad_request",
        _ => "other",
    }
}

/// Every error is the documented JSON, also those no handler of ours made
/// (the request timeout, a wrong method, an extractor's refusal).
fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Outcome>().is_some()
    {
        return response;
    }
    let message = match status {
        StatusCode::REQUEST_TIMEOUT => format!(
            "the request was not answered within {} s; try again",
            REQUEST_TIMEOUT.as_secs()
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            "this route does not take that method: see /openapi.json".to_string()
        }
        s => format!(
            "the request was refused: {}",
            s.canonical_reason().unwrap_or("error")
        ),
    };
    let (mut parts, _) = response.into_parts();
    let mut json = ApiError::new(status, outcome_of_status(status), message).into_response();
    // Keep what the refusal said besides its body (such as `Allow`).
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    json.headers_mut().extend(parts.headers);
    json
}

/// One JSON log line per request (client, its address, route, outcome,
/// status, duration; never a code, token or account reference) and its
/// metrics.
async fn observe(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let addr = req
        .extensions()
        .get::<Peer>()
        .map(|peer| app.edge.proxies.client(peer.0.ip(), req.headers()));
    if let Some(addr) = addr {
        req.extensions_mut().insert(ClientAddr(addr));
    }
    let route = route_label(req.uri().path());
    let method = req.method().clone();
    let response = json_errors(next.run(req).await);
    let took = started.elapsed();
    let status = response.status();
    let outcome = response
        .extensions()
        .get::<Outcome>()
        .map_or_else(|| outcome_of_status(status), |o| o.0);
    let client = response
        .extensions()
        .get::<ClientName>()
        .map_or("-", |c| c.0.as_str());
    app.metrics.observe(route, outcome, took);
    tracing::info!(
        client,
        addr = addr.map(tracing::field::display),
        route,
        method = %method,
        outcome,
        status = status.as_u16(),
        duration_ms = took.as_secs_f64() * 1000.0,
        "request"
    );
    response
}
