//! The OpenAPI document of the service, generated (utoipa) from the
//! request and response types and the handlers' annotations; served at
//! `GET /openapi.json` and kept as `docs/openapi.yaml` (a test regenerates
//! it and fails when the two differ; `UPDATE_OPENAPI=1` rewrites the file).
//!
//! The refusals every route shares come from the layers, not the handlers,
//! so they are added here by where a route stands (`Refusals`): every
//! route may time out (408) or fail (500); a `/v1/` route is behind the
//! token (401), the route check (403), the per-minute allowance (429), a
//! receipt's parse (400) and the ledger (503); a route with a JSON body
//! also answers 400, 413 and 415 about the body.

use std::sync::LazyLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

use super::answers::{ErrorBody, RateLimitedBody, TooManyBody};
use super::handlers;

/// Bad JSON, a missing or unknown field, a malformed receipt, account
/// reference, client or reason; or a request that is not readable HTTP/1.1
/// (then the connection is closed; a path or headers too large are 414 and
/// 431, with the same JSON error).
#[derive(ToResponse)]
#[response(example = json!({"error": "receipt number 'IOE09' is not three letters followed by ten digits (like IOE0912345678)", "outcome": "bad_request"}))]
pub struct BadRequest(#[allow(dead_code)] ErrorBody);

/// No bearer token, or one this service does not know.
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "Bearer")))]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

/// This client may not call this route.
#[derive(ToResponse)]
pub struct Forbidden(#[allow(dead_code)] ErrorBody);

/// The request's headers did not arrive within the header timeout, its
/// body paused longer than that, or it was not answered within the request
/// timeout. The connection is closed; send the request again.
#[derive(ToResponse)]
#[response(example = json!({"error": "the request's headers did not arrive within 10 s; send the request again, whole", "outcome": "timeout"}))]
pub struct Timeout(#[allow(dead_code)] ErrorBody);

/// The request body is over the size limit (4096 bytes).
#[derive(ToResponse)]
pub struct TooLarge(#[allow(dead_code)] ErrorBody);

/// The request body is not declared JSON (no `Content-Type`, or not
/// `application/json`).
#[derive(ToResponse)]
pub struct NotJson(#[allow(dead_code)] ErrorBody);

/// The client is over its per-minute limit (counted by each replica of the
/// service on its own); or, on verify and redeem (outcome
/// `too_many_wrong_codes`), the one guessing (account or client) is over
/// its wrong-code limit (shared through the ledger) and nothing was
/// checked.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = i64, description = "Seconds to wait.")))]
pub struct RateLimited(#[allow(dead_code)] RateLimitedBody);

/// The ledger could not answer (try again: a redeem retried by the same
/// account is answered 200 again); or every connection is in the middle of
/// a request (outcome `too_many_connections`).
#[derive(ToResponse)]
pub struct Unavailable(#[allow(dead_code)] ErrorBody);

/// The service failed on this request (a bug); it has been logged.
#[derive(ToResponse)]
pub struct Failed(#[allow(dead_code)] ErrorBody);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "access-letters serve",
        version = "1",
        description = include_str!("openapi.md"),
    ),
    servers((url = "https://access-letters.internal.example.gov:8443")),
    paths(
        handlers::verify,
        handlers::redeem,
        handlers::revoke,
        handlers::unlink,
        handlers::status,
        handlers::healthz,
        handlers::metrics,
        serve_document,
    ),
    components(
        schemas(ErrorBody, RateLimitedBody, TooManyBody),
        responses(
        BadRequest, Unauthorized, Forbidden, Timeout, TooLarge, NotJson, RateLimited,
        Unavailable, Failed
    )),
    modifiers(&Bearer, &Refusals),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// The bearer token scheme every `/v1/` route asks for.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A token printed once by `access-letters token add`; the tokens file keeps only its SHA-256.",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The refusals of the layers, added to each route by where it stands.
struct Refusals;

fn refer(op: &mut Operation, status: &str, name: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
}

impl Modify for Refusals {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [&mut item.get, &mut item.post].into_iter().flatten();
            for op in ops {
                if path.starts_with("/v1/") {
                    refer(op, "400", "BadRequest");
                    refer(op, "401", "Unauthorized");
                    refer(op, "403", "Forbidden");
                    refer(op, "429", "RateLimited");
                    refer(op, "503", "Unavailable");
                }
                if op.request_body.is_some() {
                    refer(op, "400", "BadRequest");
                    refer(op, "413", "TooLarge");
                    refer(op, "415", "NotJson");
                }
                refer(op, "408", "Timeout");
                refer(op, "500", "Failed");
            }
        }
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as `/openapi.json` serves it, made once.
pub fn json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_pretty_json()
            .expect("the OpenAPI document is plain data")
    });
    &JSON
}

/// `GET /openapi.json`: this document. No token: it says how to ask, never
/// anything about a receipt.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    summary = "This document (no token needed).",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json"),
    )
)]
pub async fn serve_document() -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json(),
    )
        .into_response();
    r.extensions_mut().insert(super::api::Outcome("ok"));
    r
}

/// The document as `docs/openapi.yaml` holds it.
pub fn yaml() -> String {
    let body = document()
        .to_yaml()
        .expect("the OpenAPI document is plain data");
    format!(
        "# Generated from the service's request and response types (src/serve/openapi.rs);\n\
         # do not edit: `UPDATE_OPENAPI=1 cargo test --lib openapi` rewrites it.\n{body}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");

    /// docs/openapi.yaml is the generated document; with UPDATE_OPENAPI=1
    /// the test writes it instead of failing.
    #[test]
    fn docs_openapi_yaml_is_the_generated_document() {
        let generated = yaml();
        if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            std::fs::write(FILE, &generated).unwrap();
        }
        let kept = std::fs::read_to_string(FILE).unwrap_or_default();
        assert!(
            kept == generated,
            "docs/openapi.yaml differs from the document the types make; run \
             `UPDATE_OPENAPI=1 cargo test --lib openapi` and review the difference"
        );
    }

    #[test]
    fn every_v1_route_names_its_guards_and_every_body_its_refusals() {
        let doc = document();
        let verify = doc.paths.paths["/v1/verify"].post.as_ref().unwrap();
        for status in [
            "200", "400", "401", "403", "408", "413", "415", "423", "429", "503",
        ] {
            assert!(verify.responses.responses.contains_key(status), "{status}");
        }
        let status = doc.paths.paths["/v1/receipts/{receipt}"]
            .get
            .as_ref()
            .unwrap();
        assert!(status.responses.responses.contains_key("401"));
        assert!(!status.responses.responses.contains_key("415"));
        let health = doc.paths.paths["/healthz"].get.as_ref().unwrap();
        assert!(!health.responses.responses.contains_key("401"));
    }

    proptest::proptest! {
        /// The document's receipt pattern accepts exactly what the parser
        /// accepts: a request valid by the document is never a 400 for its
        /// receipt, and one the pattern refuses is.
        #[test]
        fn the_receipt_pattern_is_the_parsers_rule(
            raw in "[A-Za-z0-9 \t\u{1}\u{7f}Öz_-]{0,20}|[a-zA-Z]{3}[0-9]{10}|[ -]?[A-Z]{3}-[0-9 ]{10,12}"
        ) {
            let doc = serde_json::to_value(document()).unwrap();
            let pattern = doc["components"]["schemas"]["Receipt"]["pattern"].as_str().unwrap().to_string();
            let matches = regex::Regex::new(&pattern).unwrap().is_match(&raw);
            let parsed = crate::filing::ReceiptNumber::parse(&raw).is_ok();
            proptest::prop_assert_eq!(matches, parsed, "{:?}", raw);
        }
    }
}
