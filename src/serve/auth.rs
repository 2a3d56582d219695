//! The guards in front of every `/v1/` route, as layers of the router:
//! who is calling (bearer token: 401), may they call this route (403), and
//! are they within their per-minute limit (429).
//!
//! Their refusals are made before the request's body is read, so they say
//! `Connection: close` and the connection closes ([`super::conn`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::{ApiError, ClientName};
use super::tokens::{Client, Route};
use super::App;

/// The route a `/v1/` path belongs to.
pub fn route_of(path: &str) -> Option<Route> {
    match path {
        "/v1/verify" => Some(Route::Verify),
        "/v1/redeem" => Some(Route::Redeem),
        "/v1/revoke" => Some(Route::Revoke),
        "/v1/unlink" => Some(Route::Unlink),
        p if p.starts_with("/v1/receipts/") => Some(Route::Status),
        _ => None,
    }
}

/// The token of an `Authorization: Bearer TOKEN` header.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// 401 without a known token, 403 for a route the client may not call;
/// otherwise the request goes on with its [`Client`] attached.
pub async fn authenticate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else {
        return unauthorized("no bearer token: send the header `Authorization: Bearer TOKEN`");
    };
    let Some(client) = app.tokens.authenticate(token).cloned() else {
        return unauthorized("the bearer token is not one this service knows");
    };
    let name = ClientName(client.name.clone());
    let route = route_of(req.uri().path());
    let mut response = match route {
        Some(route) if client.may(route) => {
            req.extensions_mut().insert(Arc::new(client));
            next.run(req).await
        }
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "client '{}' may not call {} (allowed: {})",
                client.name,
                route.map_or("this route", Route::as_str),
                client
                    .allow
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into_response(),
    };
    response.extensions_mut().insert(name);
    response
}

/// 429 once an authenticated client is over its per-minute limit.
pub async fn rate_limit(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(client) = req.extensions().get::<Arc<Client>>().cloned() else {
        return next.run(req).await;
    };
    match app
        .rate
        .take(&client.name, client.per_minute, Instant::now())
    {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs() + 1;
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "client '{}' is over its limit of {} requests a minute; try again in {secs} s",
                    client.name, client.per_minute
                ),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
    }
}
