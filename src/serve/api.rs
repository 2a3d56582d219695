//! What every answer shares: the outcome a response carries for the log
//! and the metrics, JSON errors that say what is wrong, and the request
//! body extractor that turns every malformed body into a 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::answers::ErrorBody;
use super::MAX_BODY_BYTES;
use crate::filing::ReceiptNumber;

/// The outcome of a request, as the request log line and the metrics name
/// it ("valid", "wrong_code", "redeemed", "unauthorized"...). Set on every
/// response this service makes.
#[derive(Clone, Copy, Debug)]
pub struct Outcome(pub &'static str);

/// The client a request was made by, once authenticated.
#[derive(Clone, Debug)]
pub struct ClientName(pub String);

/// The address a connection came from (set on every request it carries).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

/// The client's address: the peer, or behind a trusted proxy the address
/// it forwarded for (see [`super::client_addr`]).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

/// A JSON response with its outcome attached.
pub fn answer(status: StatusCode, outcome: &'static str, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(Outcome(outcome));
    response
}

/// A refusal: `{"error": "...", "outcome": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub outcome: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, outcome: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            outcome,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The ledger could not answer; the cause goes to the log, not to the
    /// client.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "ledger call failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ledger_error",
            "the ledger could not be reached or refused the request; try again later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        answer(
            self.status,
            self.outcome,
            ErrorBody {
                error: self.message,
                outcome: self.outcome,
            },
        )
    }
}

/// A receipt number from a request, or a 400 saying what is wrong with it.
pub fn receipt(raw: &str) -> Result<ReceiptNumber, ApiError> {
    ReceiptNumber::parse(raw).map_err(ApiError::bad_request)
}

/// A JSON request body: `Content-Type: application/json` (else 415), at
/// most [`MAX_BODY_BYTES`] (else 413), sent without a pause longer than the
/// header timeout (else 408, see the router), every field known (else
/// 400). Each refusal says what is wrong; the body is never echoed back.
pub struct JsonBody<T>(pub T);

/// Whether a `Content-Type` names JSON (`application/json`, any parameters).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether reading a body failed because the client paused too long.
fn body_timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON, sent with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the request body is over {MAX_BODY_BYTES} bytes"),
                )
            } else if body_timed_out(&rejection) {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the request body stopped arriving; send the request again, whole",
                )
            } else {
                ApiError::bad_request(format!("the request body could not be read: {rejection}"))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))
    }
}
