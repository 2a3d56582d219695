//! A receipt's history as data: its letters and what became of each code
//! (redeemed, revoked, returned, unlinked), the wrong codes tried and the
//! locks, the sources guessing at it, and the mail trail of its letters.
//!
//! One read for both doors: `status RECEIPT` prints it as text
//! ([`super::status`]), and the desk's `GET /v1/receipts/{receipt}`
//! answers it as JSON (the field names below are that answer's). Never a
//! code, a fingerprint or an account: the ledger holds no code, and this
//! type leaves out the fingerprint and the account it does hold.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::filing::{FormType, IssuanceStatus, ReceiptNumber};
use crate::ledger::{
    returned_after_redeemed, AttemptLimit, GuessLimit, Issuance, Ledger, LedgerError,
    MailEventKind, MailTime,
};

/// Everything the ledger knows of one receipt, never its code. The desk's
/// receipt answer is this value serialized, and its OpenAPI schema is
/// generated from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReceiptHistory {
    #[schema(value_type = String)]
    pub receipt: ReceiptNumber,
    /// Who the letters went to, for the operator's screen; never answered
    /// over HTTP (the desk's client knows its case).
    #[serde(skip)]
    pub applicant: Option<Applicant>,
    /// Each letter and its code's life, oldest first.
    pub issuances: Vec<IssuanceHistory>,
    /// Issues whose batch was interrupted: the code is live, the letter not
    /// printed (nor mailed) yet.
    #[serde(skip)]
    pub unfinished: Vec<Unfinished>,
    /// A letter came back after its code was redeemed: check the account.
    pub returned_after_redeemed: bool,
    /// Distinct accounts or addresses that tried wrong codes at the service
    /// within the guess window.
    pub guess_sources: u32,
    /// More sources than the limit allows: someone may be guessing.
    pub targeted: bool,
    #[serde(skip)]
    pub guess_limit: GuessLimit,
    pub wrong_codes: WrongCodes,
    /// Each letter's way through the mail, in time order per letter.
    pub mail_trail: Vec<MailStep>,
}

/// The form and the applicant's name, as on the first letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applicant {
    pub form: FormType,
    pub name: String,
}

/// An issue whose batch stopped before its letters were printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    pub issue_no: u32,
    pub batch_id: String,
}

/// One letter and its code's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct IssuanceHistory {
    pub issue_no: u32,
    /// active, superseded, revoked, redeemed or returned.
    #[serde(serialize_with = "status_text")]
    #[schema(value_type = String, pattern = "^(active|superseded|revoked|redeemed|returned)$")]
    pub status: IssuanceStatus,
    /// The form filed (I-485, I-131, I-765).
    #[schema(value_type = String)]
    pub form: FormType,
    pub notice_date: NaiveDate,
    pub expires_on: NaiveDate,
    pub piece_id: String,
    pub batch_id: String,
    pub key_id: String,
    /// The operator's reason for a reissue.
    pub reason: Option<String>,
    /// The reissue overrode the policy.
    pub forced: bool,
    pub recorded_at: DateTime<Utc>,
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Why the status changed (a revocation's or a return's reason).
    pub status_reason: Option<String>,
    /// When the code was used; never by which account.
    pub redeemed_at: Option<DateTime<Utc>>,
    /// When the desk removed the account link, and why.
    pub unlinked_at: Option<DateTime<Utc>>,
    pub unlink_reason: Option<String>,
    /// This letter came back after its code was redeemed.
    pub returned_after_redeemed: bool,
}

fn status_text<S: serde::Serializer>(s: &IssuanceStatus, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(s.as_str())
}

/// The wrong codes tried at the door that locks the receipt, and its locks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct WrongCodes {
    pub in_window: u32,
    pub total: u64,
    pub refused_while_locked: u64,
    pub locks: u64,
    pub locked_until: Option<DateTime<Utc>>,
    /// The counts and the limit in a sentence.
    pub limit: String,
}

/// One step of a letter through the mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct MailStep {
    /// The letter (issue) the step belongs to.
    pub issue_no: u32,
    #[serde(flatten)]
    pub what: MailStepKind,
}

/// What happened: the batch handed to the vendor, or an event the vendor
/// or USPS reported for the piece.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum MailStepKind {
    /// The letter's batch handed to the print vendor; not finished while
    /// `completed_at` is empty.
    HandedOff {
        vendor: String,
        started_at: DateTime<Utc>,
        completed_at: Option<DateTime<Utc>>,
        /// An operator sent the batch once more.
        again: bool,
    },
    /// Printed, mailed, a USPS scan, delivered or returned.
    Event {
        /// printed, mailed, scanned, delivered or returned.
        #[serde(serialize_with = "kind_text")]
        #[schema(value_type = String)]
        kind: MailEventKind,
        /// A day (`YYYY-MM-DD`) or a local time (`YYYY-MM-DDTHH:MM:SS`).
        #[serde(serialize_with = "time_text")]
        #[schema(value_type = String)]
        at: MailTime,
        detail: String,
    },
}

fn kind_text<S: serde::Serializer>(k: &MailEventKind, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(k.as_str())
}

fn time_text<S: serde::Serializer>(t: &MailTime, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(&t.to_text())
}

/// Reads `receipt`'s history as of `now`: attempts counted against
/// `limits.0`, guess sources within `limits.1`'s window.
pub fn receipt_history(
    ledger: &dyn Ledger,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    limits: (AttemptLimit, GuessLimit),
) -> Result<ReceiptHistory, LedgerError> {
    let (limit, guess) = limits;
    let history = ledger.history(receipt)?;
    let events = ledger.mail_trail(receipt)?;
    let flagged = returned_after_redeemed(&history, &events);
    let tries = ledger.attempt_summary(receipt, now, limit)?;
    let guess_sources = ledger.guess_sources(receipt, now, guess.window)?;
    let unfinished = super::audit::unfinished_issuances(ledger, &history)?
        .into_iter()
        .map(|(issue_no, batch_id)| Unfinished { issue_no, batch_id })
        .collect();
    Ok(ReceiptHistory {
        receipt: receipt.clone(),
        applicant: history.first().map(|i| Applicant {
            form: i.issued.filing.form,
            name: i.issued.filing.full_name(),
        }),
        issuances: history
            .iter()
            .map(|i| issuance(i, flagged.contains(&i.issued.issue_no)))
            .collect(),
        unfinished,
        returned_after_redeemed: !flagged.is_empty(),
        guess_sources,
        targeted: guess_sources > guess.targeted_sources,
        guess_limit: guess,
        wrong_codes: WrongCodes {
            in_window: tries.wrong_in_window,
            total: tries.wrong_total,
            refused_while_locked: tries.refused_total,
            locks: tries.locks_total,
            locked_until: tries.locked_until,
            limit: tries.describe(limit),
        },
        mail_trail: mail_trail(ledger, &history, &events)?,
    })
}

fn issuance(i: &Issuance, returned_after_redeemed: bool) -> IssuanceHistory {
    let unlinked = i.redemption.as_ref().and_then(|r| r.unlinked.as_ref());
    IssuanceHistory {
        issue_no: i.issued.issue_no,
        status: i.status,
        form: i.issued.form,
        notice_date: i.issued.notice_date,
        expires_on: i.issued.expires_on,
        piece_id: i.issued.piece_id.clone(),
        batch_id: i.issued.batch_id.clone(),
        key_id: i.issued.key_id.clone(),
        reason: i.issued.reason.clone(),
        forced: i.issued.forced,
        recorded_at: i.recorded_at,
        status_changed_at: i.status_changed_at,
        status_reason: i.status_reason.clone(),
        redeemed_at: i.redemption.as_ref().map(|r| r.at),
        unlinked_at: unlinked.map(|u| u.at),
        unlink_reason: unlinked.map(|u| u.reason.clone()),
        returned_after_redeemed,
    }
}

/// Each letter's hand-offs (from its batch's deliveries), then its events,
/// letter by letter.
fn mail_trail(
    ledger: &dyn Ledger,
    history: &[Issuance],
    events: &[crate::ledger::MailEvent],
) -> Result<Vec<MailStep>, LedgerError> {
    let issue_of: HashMap<&str, u32> = history
        .iter()
        .map(|i| (i.issued.piece_id.as_str(), i.issued.issue_no))
        .collect();
    let batches: BTreeSet<&str> = history.iter().map(|i| i.issued.batch_id.as_str()).collect();
    let mut handoffs: HashMap<&str, Vec<MailStepKind>> = HashMap::new();
    for batch in batches {
        for d in ledger.deliveries(batch)? {
            handoffs
                .entry(batch)
                .or_default()
                .push(MailStepKind::HandedOff {
                    vendor: d.vendor,
                    started_at: d.started_at,
                    completed_at: d.completed_at,
                    again: d.again,
                });
        }
    }
    let mut steps = Vec::new();
    for i in history {
        let issue_no = i.issued.issue_no;
        let sent = handoffs
            .get(i.issued.batch_id.as_str())
            .into_iter()
            .flatten();
        steps.extend(sent.map(|what| MailStep {
            issue_no,
            what: what.clone(),
        }));
        let own = events
            .iter()
            .filter(|e| issue_of.get(e.piece_id.as_str()) == Some(&issue_no));
        steps.extend(own.map(|e| MailStep {
            issue_no,
            what: MailStepKind::Event {
                kind: e.kind,
                at: e.at,
                detail: e.detail.clone(),
            },
        }));
    }
    Ok(steps)
}
