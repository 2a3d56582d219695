//! The JSON the service answers with, as types: each handler builds one of
//! these, and the OpenAPI document ([`super::openapi`]) is generated from
//! the same types, so the document cannot drift from the answers.
//!
//! Also the string fields of the requests as schemas ([`Receipt`],
//! [`TypedCode`], [`AccountId`], [`ClientId`], [`Reason`]): each carries the
//! rule the server enforces with a 400, no more and no less, so a request
//! valid by the document is never refused as malformed.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::ops::redeem::ACCOUNT_REF_MAX_CHARS;
use crate::ops::revoke::REASON_MAX_CHARS;

/// Longest `client` a request may name (`guessing::guesser` holds to it).
pub const MAX_CLIENT_CHARS: usize = 128;

/// A receipt as `ReceiptNumber::parse` takes it: three letters and ten
/// digits, spaces, tabs and hyphens anywhere (dropped), any case.
pub const RECEIPT_PATTERN: &str = r"^[ \t-]*(?:[A-Za-z][ \t-]*){3}(?:[0-9][ \t-]*){10}$";

fn string(description: &str) -> ObjectBuilder {
    Object::builder()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
}

/// A string schema named `$name`, built by `$schema`.
macro_rules! string_schema {
    ($name:ident, $schema:expr) => {
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let built: ObjectBuilder = $schema;
                RefOr::T(Schema::Object(built.build()))
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

string_schema!(
    Receipt,
    string(
        "Three letters and ten digits; spaces, tabs and hyphens are dropped, letters uppercased."
    )
    .pattern(Some(RECEIPT_PATTERN))
    .examples(["IOE0912345602"])
);

string_schema!(
    TypedCode,
    string(
        "The code as typed: 12 letters and digits from the letter; case, spaces and hyphens do \
         not matter. Never logged, never echoed. Anything else typed (nothing, too few, a \
         character codes do not use) is checked like a code and answered `mistyped`, never 400."
    )
    .examples(["7KQ2-M9XD-4HTW"])
);

string_schema!(
    AccountId,
    string(&format!(
        "The portal's opaque account id: 1 to {ACCOUNT_REF_MAX_CHARS} printable ASCII \
         characters, no spaces. Never logged."
    ))
    .min_length(Some(1))
    .max_length(Some(ACCOUNT_REF_MAX_CHARS))
    .pattern(Some(format!("^[!-~]{{1,{ACCOUNT_REF_MAX_CHARS}}}$")))
    .examples(["acct-5f2c91"])
);

string_schema!(
    ClientId,
    string(&format!(
        "The applicant's address, or an opaque id the portal keeps for the sign-in, 1 to \
         {MAX_CLIENT_CHARS} printable ASCII characters, no spaces; the connecting (or \
         trusted-forwarded) address when absent. Wrong codes are limited per client."
    ))
    .min_length(Some(1))
    .max_length(Some(MAX_CLIENT_CHARS))
    .pattern(Some(format!("^[!-~]{{1,{MAX_CLIENT_CHARS}}}$")))
    .examples(["203.0.113.9"])
);

string_schema!(
    Reason,
    string(&format!(
        "Why, in words: recorded in the ledger with the time, shown by status. Not blank; at \
         most {REASON_MAX_CHARS} characters once the spaces around it are trimmed."
    ))
    .min_length(Some(1))
    .pattern(Some(r"\S"))
    .examples(["letter reported stolen (call 2026-12-02)"])
);

string_schema!(
    VerdictOutcome,
    Object::builder()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(
            "What the code is, as the logs and the metrics name it."
        ))
        .enum_values(Some(VERDICT_OUTCOMES))
);

/// Every name `handlers::verdict_outcome` gives.
pub const VERDICT_OUTCOMES: [&str; 11] = [
    "valid",
    "mistyped",
    "wrong_code",
    "superseded",
    "revoked",
    "returned",
    "not_valid_yet",
    "expired",
    "unknown",
    "unknown_key",
    "used",
];

/// A refusal: what is wrong, and the outcome the logs and metrics name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, in a sentence.
    pub error: String,
    /// The outcome name, as in the logs and the metrics.
    pub outcome: &'static str,
}

/// A code checked (valid or not: `valid` says which).
#[derive(Debug, Serialize, ToSchema)]
pub struct Checked {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(value_type = VerdictOutcome)]
    pub outcome: &'static str,
    pub valid: bool,
    /// A sentence a support agent can read to the caller.
    pub message: String,
    /// Wrong codes counted for the receipt in the current window.
    pub wrong_in_window: u32,
    /// Set when this attempt locked the receipt.
    pub locked_until: Option<DateTime<Utc>>,
}

/// An outcome name that has one value in its answer.
macro_rules! one_outcome {
    ($name:ident, $variant:ident) => {
        #[derive(Clone, Copy, Debug, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $variant,
        }
    };
}

one_outcome!(RedeemedOutcome, Redeemed);
one_outcome!(UsedOutcome, Used);
one_outcome!(RevokedOutcome, Revoked);
one_outcome!(UnlinkedOutcome, Unlinked);
one_outcome!(LockedOutcome, Locked);
one_outcome!(TooManyOutcome, TooManyWrongCodes);

/// Redeemed by this account, now or earlier (`again`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Redeemed {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(inline)]
    pub outcome: RedeemedOutcome,
    pub issue_no: u32,
    pub redeemed_at: DateTime<Utc>,
    /// True when this account had already redeemed the code (a retry).
    pub again: bool,
    pub message: String,
}

/// The code was already used by another account: counted as a wrong code.
#[derive(Debug, Serialize, ToSchema)]
pub struct Used {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(inline)]
    pub outcome: UsedOutcome,
    pub used_on: DateTime<Utc>,
    pub message: String,
    pub wrong_in_window: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// The live code is cancelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(inline)]
    pub outcome: RevokedOutcome,
    pub issue_no: u32,
    pub revoked_at: DateTime<Utc>,
}

/// The account link is removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unlinked {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(inline)]
    pub outcome: UnlinkedOutcome,
    /// The issue whose redemption made the link.
    pub issue_no: u32,
    pub unlinked_at: DateTime<Utc>,
}

/// Too many wrong codes for the receipt: no code is checked until
/// `locked_until`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockedBody {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(inline)]
    pub outcome: LockedOutcome,
    pub locked_until: DateTime<Utc>,
    pub message: String,
}

/// The one guessing (account or client) is over its wrong-code limit:
/// nothing was checked.
#[derive(Debug, Serialize, ToSchema)]
pub struct TooManyBody {
    #[schema(value_type = Receipt)]
    pub receipt: String,
    #[schema(inline)]
    pub outcome: TooManyOutcome,
    /// Seconds to wait, as in `Retry-After`.
    pub retry_after_s: i64,
    pub message: String,
}

/// A 429: the client's per-minute allowance (an [`ErrorBody`]), or the one
/// guessing over its wrong-code limit (a [`TooManyBody`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RateLimitedBody {
    PerMinute(ErrorBody),
    Guessing(TooManyBody),
}

/// Is the ledger reachable, and which keys are loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` (answered 503).
    #[schema(value_type = String, pattern = "^(ok|unavailable)$")]
    pub status: &'static str,
    /// `reachable`, or `unreachable` (answered 503).
    #[schema(value_type = String, pattern = "^(reachable|unreachable)$")]
    pub ledger: &'static str,
    /// The ledger's identity (when reachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_id: Option<String>,
    pub keys: Vec<String>,
    pub current_key: String,
}
