//! The routes: parse, call the library function the CLI calls, and turn
//! its typed answer into a status and JSON. No rule lives here.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    receipt: String,
    /// As typed; never logged, never echoed.
    code: String,
    /// The portal's account id of the one asking, if signed in; never
    /// logged. Wrong codes are limited per account and per client.
    #[serde(default)]
    account: Option<String>,
    /// The applicant's address, or an opaque id the portal keeps for the
    /// sign-in; the connecting (or forwarded) address when absent.
    #[serde(default)]
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
        json!({
            "receipt": receipt,
            "outcome": "locked",
            "locked_until": until,
            "message": format!("too many wrong codes were tried for this receipt; no code is checked until {} UTC", until.format("%H:%M")),
        }),
    )
}

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
                json!({
                    "receipt": receipt.as_str(),
                    "outcome": outcome,
                    "valid": verdict.is_valid(),
                    "message": verdict.message(),
                    "wrong_in_window": wrong_in_window,
                    "locked_until": locked_until,
                }),
            )
        }
    })
}

/// `POST /v1/redeem`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    receipt: String,
    /// As typed; never logged, never echoed.
    code: String,
    /// The portal's account id; never logged.
    account: String,
    /// As for verify: the applicant's address or the portal's sign-in id.
    #[serde(default)]
    client: Option<String>,
}

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
            json!({"receipt": receipt, "outcome": "redeemed", "issue_no": issue_no, "redeemed_at": at, "again": again, "message": message}),
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
                json!({"receipt": receipt, "outcome": "used", "used_on": on, "message": message, "wrong_in_window": wrong_in_window, "locked_until": locked_until}),
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
                json!({"receipt": receipt, "outcome": outcome, "valid": false, "message": message, "wrong_in_window": wrong_in_window, "locked_until": locked_until}),
            )
        }
        RedeemAnswer::Locked { until } => locked(receipt, until),
        RedeemAnswer::TooMany { until } => too_many(receipt, until, Utc::now()),
    }
}

/// `POST /v1/revoke`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    receipt: String,
    reason: String,
}

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
            json!({"receipt": receipt, "outcome": "revoked", "issue_no": r.issue_no, "revoked_at": r.at}),
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlinkBody {
    receipt: String,
    reason: String,
}

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
            json!({"receipt": receipt, "outcome": "unlinked", "issue_no": u.issue_no, "unlinked_at": u.at}),
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
#[derive(Serialize)]
pub struct ReceiptAnswer {
    pub outcome: &'static str,
    #[serde(flatten)]
    pub history: ReceiptHistory,
}

/// `GET /healthz`: is the ledger reachable, and which keys are loaded.
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let keys: Vec<&str> = app.ring.ids().collect();
    let current = app.ring.current().id();
    match app.pool.with(|ledger| ledger.ledger_id()).await {
        Ok(id) => answer(
            StatusCode::OK,
            "ok",
            json!({"status": "ok", "ledger": "reachable", "ledger_id": id, "keys": keys, "current_key": current}),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the ledger is not reachable");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                json!({"status": "unavailable", "ledger": "unreachable", "keys": keys, "current_key": current}),
            )
        }
    }
}

/// `GET /metrics`.
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
        "no such route: see docs/openapi.yaml (POST /v1/verify, /v1/redeem, /v1/revoke, /v1/unlink; GET /v1/receipts/{receipt}, /healthz, /metrics)",
    )
}
