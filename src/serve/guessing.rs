//! Who is guessing, at the service: the account the request names and its
//! client (the address it names, or the one the request came from), and
//! the answer a guesser over its limit gets (429 with `Retry-After`). The
//! limit itself is the ledger's (`ledger::guesses`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Utc};

use super::answers::{TooManyBody, TooManyOutcome, MAX_CLIENT_CHARS};
use super::api::{answer, ApiError, ClientAddr};
use crate::ledger::Guesser;
use crate::ops::AccountRef;

/// The one guessing: the account the body names, and the client it names
/// or else the address the request came from.
pub fn guesser(
    account: Option<&str>,
    client: Option<&str>,
    addr: Option<Extension<ClientAddr>>,
) -> Result<Guesser, ApiError> {
    let account = account
        .map(|a| AccountRef::parse(a).map(|a| a.as_str().to_string()))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("account: {e}")))?;
    let client = match client {
        Some(c) => {
            let printable = c.chars().all(|ch| ch.is_ascii_graphic());
            if c.is_empty() || c.chars().count() > MAX_CLIENT_CHARS || !printable {
                return Err(ApiError::bad_request(format!(
                    "client: 1 to {MAX_CLIENT_CHARS} printable ASCII characters, no spaces"
                )));
            }
            c.to_string()
        }
        None => addr.map_or_else(|| "-".to_string(), |Extension(a)| a.0.to_string()),
    };
    Ok(Guesser { account, client })
}

/// 429: the one guessing waits until `until`; nothing was checked.
pub fn too_many(receipt: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Response {
    let wait = (until - now).num_seconds().max(1);
    let mut r = answer(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_wrong_codes",
        TooManyBody {
            receipt: receipt.to_string(),
            outcome: TooManyOutcome::TooManyWrongCodes,
            retry_after_s: wait,
            message: format!(
                "too many wrong codes from this account or address; no code is checked for it until {} UTC",
                until.format("%H:%M")
            ),
        },
    );
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}
