//! The routes: parse, call the library function the CLI calls, and turn
//! its typed answer into a status and JSON. No rule lives here.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::answers::{
    AccountId, Checked, ClientId, ErrorBody, Health, LockedBody, LockedOutcome, Reason, Receipt,
    Redeemed, RedeemedOutcome, Revoked, RevokedOutcome, TypedCode, Unlinked, UnlinkedOutcome, Used,
    UsedOutcome,
};
use super::api::{answer, receipt, ApiError, ClientAddr, JsonBody, Outcome};
use super::guessing::{guesser, too_many};
use super::metrics::CONTENT_TYPE;
use super::tokens::Client;
use super::App;
use crate::code::Verdict;
use crate::ops::{
    receipt_history, redeem_at_service, revoke as revoke_code, unlink as unlink_account,
    verify_code, AccountRef, Answer, Clock, Guessing, ReceiptHistory, RedeemAnswer, RevokeError,
    RevokeRequest, ServiceRedeem, UnlinkError, UnlinkRequest, VerifyRequest,
};

/// `POST /v1/verify`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    #[schema(value_type = Receipt)]
    receipt: String,
    /// As typed; never logged, never echoed.
    #[schema(value_type = TypedCode)]
    code: String,
    /// The portal's account id of the one asking, if signed in; never
    /// logged. Wrong codes are limited per account and per client.
    #[serde(default)]
    #[schema(value_type = Option<AccountId>)]
    account: Option<String>,
    /// The applicant's address, or an opaque id the portal keeps for the
    /// sign-in; the connecting (or forwarded) address when absent.
    #[serde(default)]
    #[schema(value_type = Option<ClientId>)]
    client: Option<String>,
}

/// The outcome name of a verdict, in answers, logs and metrics.
pub fn verdict_outcome(v: &Verdict) -> &'static str {
    match v {
        Verdict::Valid { .. } => "valid",
        Verdict::Mistyped(_) => "mistyped",
        Verdict::WrongCode => "wrong_code",
        Verdict::Superseded { .. } => "superseded",
        Verdict::Revoked { .. } => "revoked",
        Verdict::Returned { .. } => "returned",
        Verdict::NotValidYet { .. } => "not_valid_yet",
        Verdict::Expired { .. } => "expired",
        Verdict::Unknown => "unknown",
        Verdict::UnknownKey { .. } => "unknown_key",
        Verdict::Redeemed { .. } => "used",
    }
}

fn locked(receipt: &str, until: DateTime<Utc>) -> Response {
    answer(
        StatusCode::LOCKED,
        "locked",
        LockedBody {
            receipt: receipt.to_string(),
            outcome: LockedOutcome::Locked,
            locked_until: until,
            message: format!(
                "too many wrong codes were tried for this receipt; no code is checked until {} UTC",
                until.format("%H:%M")
            ),
        },
    )
}

#[utoipa::path(
    post,
    path = "/v1/verify",
    operation_id = "verify",
    summary = "Is this typed code valid now?",
    description = "Case, spaces and hyphens in the code do not matter. A wrong or mistyped code counts against the one guessing (account and client). Verifying never uses the code.",
    request_body = VerifyBody,
    responses(
        (status = 200, description = "The code was checked (valid or not; `valid` says which).", body = Checked),
        (status = 423, description = "Too many wrong codes for this receipt (the CLI's per-receipt limit): no code is checked until `locked_until`.", body = LockedBody),
    )
)]
pub async fn verify(
    State(app): State<Arc<App>>,
    Extension(client): Extension<Arc<Client>>,
    addr: Option<Extension<ClientAddr>>,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Response, ApiError> {
    let receipt = receipt(&body.receipt)?;
    let who = guesser(body.account.as_deref(), body.client.as_deref(), addr)?;
    let clock = Clock::in_zone(app.zone);
    let door = client.door.into();
    let (shared, asked) = (Arc::clone(&app), receipt.clone());
    let answer_ = app
        .pool
        .with(move |ledger| {
            let req = VerifyRequest {
                receipt: &asked,
                typed: &body.code,
                as_of: clock.today,
                now: clock.now,
                limit: shared.limit,
                door,
                guessing: Some(Guessing {
                    guesser: &who,
                    limit: shared.guess,
                }),
            };
            verify_code(&req, &shared.ring, ledger)
        })
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    Ok(match answer_ {
        Answer::Locked { until } => locked(receipt.as_str(), until),
        Answer::TooMany { until } => too_many(receipt.as_str(), until, clock.now),
        Answer::Checked {
            verdict,
            wrong_in_window,
            locked_until,
        } => {
            if locked_until.is_some() {
                app.metrics.locked();
            }
            let outcome = verdict_outcome(&verdict);
            answer(
                StatusCode::OK,
                outcome,
                Checked {
                    receipt: receipt.as_str().to_string(),
                    outcome,
                    valid: verdict.is_valid(),
                    message: verdict.message(),
                    wrong_in_window,
                    locked_until,
                },
            )
        }
    })
}

/// `POST /v1/redeem`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    #[schema(value_type = Receipt)]
    receipt: String,
    /// As typed; never logged, never echoed.
    #[schema(value_type = TypedCode)]
    code: String,
    /// The portal's account id; never logged.
    #[schema(value_type = AccountId)]
    account: String,
    /// As for verify: the applicant's address or the portal's sign-in id.
    #[serde(default)]
    #[schema(value_type = Option<ClientId>)]
    client: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/redeem",
    operation_id = "redeem",
    summary = "Use the code, once, to link the case to one account.",
    description = "One transaction, serialised per receipt, under the wrong-code limit. The same account redeeming again (a retried request) gets 200 again with the original time and `again: true`. Another account gets 409, which counts as a wrong attempt and changes nothing.",
    request_body = RedeemBody,
    responses(
        (status = 200, description = "Redeemed by this account (now, or earlier when `again` is true).", body = Redeemed),
        (status = 409, description = "The code was already used by another account. Counted as a wrong attempt.", body = Used),
        (status = 422, description = "The code is not valid (wrong, mistyped, superseded, revoked, expired, not yet valid...); `message` says why.", body = Checked),
        (status = 423, description = "Too many wrong codes for this receipt (the CLI's per-receipt limit): no code is checked until `locked_until`.", body = LockedBody),
    )
)]
pub async fn redeem(
    State(app): State<Arc<App>>,
    Extension(client): Extension<Arc<Client>>,
    addr: Option<Extension<ClientAddr>>,
    JsonBody(body): JsonBody<RedeemBody>,
) -> Result<Response, ApiError> {
    let receipt = receipt(&body.receipt)?;
    let account = AccountRef::parse(&body.account)
        .map_err(|e| ApiError::bad_request(format!("account: {e}")))?;
    let clock = Clock::in_zone(app.zone);
    let ask = ServiceRedeem {
        receipt: receipt.clone(),
        guesser: guesser(Some(&body.account), body.client.as_deref(), addr)?,
        typed: body.code,
        account,
        as_of: clock.today,
        now: clock.now,
        limit: app.limit,
        door: client.door.into(),
        guess: app.guess,
    };
    let answer_ = redeem_at_service(&app, app.redeem_writer.as_ref(), ask)
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    Ok(redeem_answer(&app, receipt.as_str(), answer_))
}

/// 200 redeemed, 409 used by another account, 422 not valid, 423 locked,
/// 429 the guesser is over its limit.
fn redeem_answer(app: &App, receipt: &str, a: RedeemAnswer) -> Response {
    let message = a.message();
    match a {
        RedeemAnswer::Redeemed {
            issue_no,
            at,
            again,
        } => answer(
            StatusCode::OK,
            "redeemed",
            Redeemed {
                receipt: receipt.to_string(),
                outcome: RedeemedOutcome::Redeemed,
                issue_no,
                redeemed_at: at,
                again,
                message,
            },
        ),
        RedeemAnswer::UsedByAnother {
            on,
            wrong_in_window,
            locked_until,
        } => {
            if locked_until.is_some() {
                app.metrics.locked();
            }
            answer(
                StatusCode::CONFLICT,
                "used",
                Used {
                    receipt: receipt.to_string(),
                    outcome: UsedOutcome::Used,
                    used_on: on,
                    message,
                    wrong_in_window,
                    locked_until,
                },
            )
        }
        RedeemAnswer::NotValid {
            verdict,
            wrong_in_window,
            locked_until,
        } => {
            if locked_until.is_some() {
                app.metrics.locked();
            }
            let outcome = verdict_outcome(&verdict);
            answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                outcome,
                Checked {
                    receipt: receipt.to_string(),
                    outcome,
                    valid: false,
                    message,
                    wrong_in_window,
                    locked_until,
                },
            )
        }
        RedeemAnswer::Locked { until } => locked(receipt, until),
        RedeemAnswer::TooMany { until } => too_many(receipt, until, Utc::now()),
    }
}

/// `POST /v1/revoke`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[schema(value_type = Receipt)]
    receipt: String,
    #[schema(value_type = Reason)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/v1/revoke",
    operation_id = "revoke",
    summary = "Cancel the live code at once (letter stolen, wrong address).",
    request_body = RevokeBody,
    responses(
        (status = 200, description = "Revoked; verify and redeem now answer \"revoked\", and a reissue need not wait.", body = Revoked),
        (status = 404, description = "No code was ever issued for this receipt.", body = ErrorBody),
        (status = 409, description = "The receipt has no live code to revoke (already revoked, redeemed or superseded).", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Response, ApiError> {
    let receipt = receipt(&body.receipt)?;
    let now = Clock::in_zone(app.zone).now;
    let asked = receipt.clone();
    let done = app
        .pool
        .with(move |ledger| {
            let req = RevokeRequest {
                receipt: &asked,
                reason: &body.reason,
                now,
            };
            match revoke_code(&req, ledger) {
                Err(RevokeError::Ledger(e)) => Err(e),
                other => Ok(other),
            }
        })
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    let receipt = receipt.as_str();
    match done {
        Ok(r) => Ok(answer(
            StatusCode::OK,
            "revoked",
            Revoked {
                receipt: receipt.to_string(),
                outcome: RevokedOutcome::Revoked,
                issue_no: r.issue_no,
                revoked_at: r.at,
            },
        )),
        Err(e @ (RevokeError::NoReason | RevokeError::ReasonTooLong { .. })) => {
            Err(ApiError::bad_request(e.to_string()))
        }
        Err(e @ RevokeError::NeverIssued { .. }) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "nothing_live",
            e.to_string(),
        )),
    }
}

/// `POST /v1/unlink`: the desk removes a receipt's account link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlinkBody {
    #[schema(value_type = Receipt)]
    receipt: String,
    #[schema(value_type = Reason)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/v1/unlink",
    operation_id = "unlink",
    summary = "Remove a receipt's online-account link (the desk only).",
    description = "A receipt is linked to at most one account, ever: the account that redeemed its code. When that link is wrong (the letter was intercepted, an account was opened by someone else), the desk records an unlink with its reason. The redeemed code stays used; the receipt may then be reissued (a linked receipt never is, not even forced), and the new code links the right account. Decided in one ledger transaction under the receipt's lock.",
    request_body = UnlinkBody,
    responses(
        (status = 200, description = "Unlinked.", body = Unlinked),
        (status = 409, description = "The receipt is not linked to an account (outcome `not_linked`).", body = ErrorBody),
    )
)]
pub async fn unlink(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<UnlinkBody>,
) -> Result<Response, ApiError> {
    let receipt = receipt(&body.receipt)?;
    let now = Clock::in_zone(app.zone).now;
    let asked = receipt.clone();
    let done = app
        .pool
        .with(move |ledger| {
            let req = UnlinkRequest {
                receipt: &asked,
                reason: &body.reason,
                now,
            };
            match unlink_account(&req, ledger) {
                Err(UnlinkError::Ledger(e)) => Err(e),
                other => Ok(other),
            }
        })
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    let receipt = receipt.as_str();
    match done {
        Ok(u) => Ok(answer(
            StatusCode::OK,
            "unlinked",
            Unlinked {
                receipt: receipt.to_string(),
                outcome: UnlinkedOutcome::Unlinked,
                issue_no: u.issue_no,
                unlinked_at: u.at,
            },
        )),
        Err(e @ (UnlinkError::NoReason | UnlinkError::ReasonTooLong { .. })) => {
            Err(ApiError::bad_request(e.to_string()))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_linked",
            e.to_string(),
        )),
    }
}

/// `GET /v1/receipts/{receipt}`: the history `status RECEIPT` shows
/// ([`ReceiptHistory`]), mail trail included; never a code, fingerprint or
/// account.
#[utoipa::path(
    get,
    path = "/v1/receipts/{receipt}",
    operation_id = "status",
    summary = "The history of a receipt (never a code or a fingerprint).",
    params(("receipt" = Receipt, Path, description = "The receipt number.")),
    responses(
        (status = 200, description = "Every issuance, and the wrong codes tried.", body = ReceiptAnswer),
        (status = 404, description = "No code was ever issued for this receipt (`outcome` is `unknown`; the wrong codes tried are still shown).", body = ReceiptAnswer),
    )
)]
pub async fn status(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let receipt = receipt(&raw)?;
    let (shared, asked) = (Arc::clone(&app), receipt.clone());
    let now = Clock::in_zone(app.zone).now;
    let history = app
        .pool
        .with(move |ledger| receipt_history(ledger, &asked, now, (shared.limit, shared.guess)))
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    let (status, outcome) = if history.issuances.is_empty() {
        (StatusCode::NOT_FOUND, "unknown")
    } else {
        (StatusCode::OK, "found")
    };
    let mut r = (status, Json(ReceiptAnswer { outcome, history })).into_response();
    r.extensions_mut().insert(Outcome(outcome));
    Ok(r)
}

/// The receipt's answer: its outcome and its history.
#[derive(Serialize, ToSchema)]
pub struct ReceiptAnswer {
    /// `found`, or `unknown` (answered 404).
    #[schema(value_type = String, pattern = "^(found|unknown)$")]
    pub outcome: &'static str,
    #[serde(flatten)]
    pub history: ReceiptHistory,
}

/// `GET /healthz`: is the ledger reachable, and which keys are loaded.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    summary = "Is the ledger reachable, and which keys are loaded (no token needed).",
    security(()),
    responses(
        (status = 200, description = "Healthy.", body = Health),
        (status = 503, description = "The ledger cannot be reached.", body = Health),
    )
)]
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let keys: Vec<String> = app.ring.ids().map(str::to_string).collect();
    let current_key = app.ring.current().id().to_string();
    match app.pool.with(|ledger| ledger.ledger_id()).await {
        Ok(id) => answer(
            StatusCode::OK,
            "ok",
            Health {
                status: "ok",
                ledger: "reachable",
                ledger_id: Some(id.to_string()),
                keys,
                current_key,
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the ledger is not reachable");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                Health {
                    status: "unavailable",
                    ledger: "unreachable",
                    ledger_id: None,
                    keys,
                    current_key,
                },
            )
        }
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    summary = "Prometheus text (OpenMetrics) (no token needed).",
    description = "`access_letters_http_requests_total{route,outcome}`, `access_letters_http_request_duration_seconds{route}` (histogram), `access_letters_http_locks_total` (receipts locked by a wrong code typed here), `access_letters_http_redeemed_then_returned`, `access_letters_http_targeted_receipts`, `access_letters_http_connections_open`, `access_letters_http_connections_closed_total{reason}` (closed by the service: `idle`, `header_timeout`, `evicted` to make room at the cap, `tls_handshake`), `access_letters_http_connections_refused_total` (refused at the cap).",
    security(()),
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "application/openmetrics-text"),
    )
)]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    // The ledger's signals for the desk, read at each scrape; an
    // unreachable ledger leaves the last values (healthz says why).
    let (now, guess) = (Clock::in_zone(app.zone).now, app.guess);
    let read = app
        .pool
        .with(move |ledger| {
            let counts = ledger.mail_counts(None)?;
            let targeted = ledger.targeted(now, guess.window, guess.targeted_sources)?;
            Ok((counts, targeted.len()))
        })
        .await;
    match read {
        Ok((c, targeted)) => {
            app.metrics
                .set_redeemed_then_returned(c.redeemed_then_returned);
            app.metrics.set_targeted(targeted);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: the ledger is not reachable"),
    }
    let mut r = ([(header::CONTENT_TYPE, CONTENT_TYPE)], app.metrics.render()).into_response();
    r.extensions_mut().insert(super::api::Outcome("ok"));
    r
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route: see /openapi.json (POST /v1/verify, /v1/redeem, /v1/revoke, /v1/unlink; GET /v1/receipts/{receipt}, /healthz, /metrics, /openapi.json)",
    )
}
