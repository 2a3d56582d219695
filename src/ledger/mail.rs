//! The mail trail as the ledger keeps it: hand-offs of a batch to the print
//! vendor, the files imported from the vendor and USPS, and what happened
//! to each piece after the press (printed, mailed, scanned, delivered,
//! returned). The values here are shared by both backends; the rules for
//! reading the files are in [`crate::ingest`], the hand-off in
//! [`crate::deliver`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{LedgerError, Sha256Hex};
use crate::filing::{IssuanceStatus, ReceiptNumber};

/// One letter as the mail trail needs it: enough to match a vendor's or a
/// USPS line to it and to say whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PieceRef {
    pub piece_id: String,
    pub receipt: ReceiptNumber,
    pub issue_no: u32,
    pub batch_id: String,
    pub notice_date: NaiveDate,
    pub imb_serial: Option<u64>,
    pub status: IssuanceStatus,
}

/// What happened to a piece, in the order mail goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MailEventKind {
    /// The vendor printed it (acknowledgement file).
    Printed,
    /// The vendor handed it to USPS (acknowledgement file).
    Mailed,
    /// USPS accepted it (IV-MTR scan).
    Accepted,
    /// USPS sorted it (IV-MTR scan).
    Processed,
    /// On a carrier's route today (IV-MTR scan).
    OutForDelivery,
    /// Delivered (IV-MTR scan).
    Delivered,
    /// Came back as undeliverable (return file, or an IV-MTR scan).
    Returned,
    /// A scan whose event type says none of the above.
    Scanned,
}

impl MailEventKind {
    pub const ALL: [MailEventKind; 8] = [
        MailEventKind::Printed,
        MailEventKind::Mailed,
        MailEventKind::Accepted,
        MailEventKind::Processed,
        MailEventKind::OutForDelivery,
        MailEventKind::Delivered,
        MailEventKind::Returned,
        MailEventKind::Scanned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailEventKind::Printed => "printed",
            MailEventKind::Mailed => "mailed",
            MailEventKind::Accepted => "accepted",
            MailEventKind::Processed => "processed",
            MailEventKind::OutForDelivery => "out-for-delivery",
            MailEventKind::Delivered => "delivered",
            MailEventKind::Returned => "returned",
            MailEventKind::Scanned => "scanned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The step in words, for people (status, the report).
    pub fn describe(self) -> &'static str {
        match self {
            MailEventKind::Printed => "printed by the vendor",
            MailEventKind::Mailed => "mailed by the vendor",
            MailEventKind::Accepted => "accepted by USPS",
            MailEventKind::Processed => "processed by USPS",
            MailEventKind::OutForDelivery => "out for delivery",
            MailEventKind::Delivered => "delivered",
            MailEventKind::Returned => "returned as undeliverable",
            MailEventKind::Scanned => "scanned by USPS",
        }
    }
}

/// When an event happened, as precisely as its file says: a vendor's
/// acknowledgement gives a day, a USPS scan a day and a time (local to the
/// facility, so no zone is claimed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MailTime {
    Day(NaiveDate),
    At(NaiveDateTime),
}

impl MailTime {
    /// The stored text: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`, which sort
    /// in time order as text.
    pub fn to_text(self) -> String {
        match self {
            MailTime::Day(d) => d.format("%Y-%m-%d").to_string(),
            MailTime::At(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }

    pub fn parse_text(s: &str) -> Option<Self> {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
            return Some(MailTime::At(t));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(MailTime::Day)
    }

    pub fn date(self) -> NaiveDate {
        match self {
            MailTime::Day(d) => d,
            MailTime::At(t) => t.date(),
        }
    }
}

impl fmt::Display for MailTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailTime::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            MailTime::At(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M")),
        }
    }
}

/// One event of one piece. `detail` is what the file said beside it: the
/// USPS operation code and facility ZIP of a scan, the reason of a return;
/// never a code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailEvent {
    pub piece_id: String,
    pub kind: MailEventKind,
    pub at: MailTime,
    pub detail: String,
}

/// The issue numbers whose letter came back after their code was
/// redeemed, from a receipt's history and mail trail: whoever used the code
/// got it some other way than the letter.
pub fn returned_after_redeemed(
    history: &[crate::ledger::Issuance],
    trail: &[MailEvent],
) -> Vec<u32> {
    history
        .iter()
        .filter(|i| i.redemption.is_some())
        .filter(|i| {
            trail
                .iter()
                .any(|e| e.kind == MailEventKind::Returned && e.piece_id == i.issued.piece_id)
        })
        .map(|i| i.issued.issue_no)
        .collect()
}

/// Which file an import read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImportKind {
    /// The vendor's acknowledgements (printed, mailed).
    Acks,
    /// USPS Informed Visibility piece scans.
    Scans,
    /// Mail returned as undeliverable.
    Returns,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Acks => "acks",
            ImportKind::Scans => "scans",
            ImportKind::Returns => "returns",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ImportKind::Acks, ImportKind::Scans, ImportKind::Returns]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One imported file, as recorded with its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailImport {
    pub kind: ImportKind,
    /// The file's sha256: the same file imported again records nothing.
    pub file_sha256: Sha256Hex,
    /// The file's name, for people.
    pub file_name: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows that named no piece of this ledger (scans of other mailers'
    /// mail, pieces of another ledger).
    pub unmatched: u64,
    /// Rows refused one by one (written to the rejects file).
    pub rejected: u64,
}

/// What recording an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailRecorded {
    /// This very file (same sha256, same kind) was imported before: nothing
    /// was recorded now.
    AlreadyImported {
        at: DateTime<Utc>,
        file_name: String,
    },
    Recorded {
        /// Events new to the ledger.
        recorded: u64,
        /// Events the ledger already had (an overlapping file).
        duplicates: u64,
        /// Codes stopped because their letter came back, as (receipt,
        /// issue) pairs.
        stopped: Vec<(ReceiptNumber, u32)>,
        /// Letters that came back after their code was redeemed: whoever
        /// used the code got it some other way. Flagged, never stopped
        /// again (a redeemed code is used already).
        after_redeemed: Vec<(ReceiptNumber, u32)>,
    },
}

/// A file put in place on the vendor's server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveredFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: Sha256Hex,
}

/// One hand-off of a batch to the vendor: finished once `completed_at` is
/// set, otherwise in progress (a re-run resumes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub batch_id: String,
    /// Where it went: `user@host:port/remote_dir`.
    pub vendor: String,
    /// An operator asked to send an already delivered batch again.
    pub again: bool,
    pub control_sha256: Sha256Hex,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The files in place so far, by name.
    pub files: Vec<DeliveredFile>,
}

/// Pieces with at least one event of each kind, for a batch or the whole
/// ledger; with the number of scans no piece matched (whole ledger only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailCounts {
    pub by_kind: BTreeMap<MailEventKind, u64>,
    /// Completed hand-offs (for a batch: 0 or more; `--again` adds one).
    pub deliveries: u64,
    /// Scans that matched no piece, over every scans import.
    pub unmatched_scans: u64,
    /// Letters that came back after their code was redeemed: whoever used
    /// the code never got the letter. Each is a case to check.
    pub redeemed_then_returned: u64,
}

/// A stored count read back: a negative one is a damaged row, refused,
/// never turned into a plausible number.
pub(in crate::ledger) fn stored_count(
    label: &str,
    what: &str,
    n: i64,
) -> Result<u64, super::LedgerError> {
    u64::try_from(n).map_err(|_| super::LedgerError::Damaged {
        ledger: label.to_string(),
        detail: format!("the count of {what} is negative ({n})"),
    })
}

/// Counts the issuances redeemed whose letter came back, for one batch or
/// (NULL) the whole ledger; the same text on both backends but for the
/// parameter marker.
pub(in crate::ledger) const REDEEMED_THEN_RETURNED_COUNT: &str =
    "SELECT COUNT(*) FROM issuances i WHERE i.status = 'redeemed' \
     AND (PARAM IS NULL OR i.batch_id = PARAM) \
     AND EXISTS (SELECT 1 FROM mail_events e WHERE e.piece_id = i.piece_id \
     AND e.event = 'returned')";

impl MailCounts {
    pub fn pieces(&self, kind: MailEventKind) -> u64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }
}

/// The status reason a returned letter's code gets: the USPS reason and
/// the day, so `status` and `verify` can say why.
pub fn returned_reason(detail: &str, at: MailTime) -> String {
    if detail.is_empty() {
        format!("letter returned as undeliverable on {}", at.date())
    } else {
        format!(
            "letter returned as undeliverable on {}: {detail}",
            at.date()
        )
    }
}

/// An event read back; anything unreadable is a damaged ledger.
pub(super) fn event_from_parts(
    label: &str,
    piece_id: String,
    kind: &str,
    at: &str,
    detail: String,
) -> Result<MailEvent, LedgerError> {
    let damaged = |detail: String| LedgerError::Damaged {
        ledger: label.to_string(),
        detail,
    };
    Ok(MailEvent {
        kind: MailEventKind::parse(kind)
            .ok_or_else(|| damaged(format!("unknown mail event '{kind}'")))?,
        at: MailTime::parse_text(at)
            .ok_or_else(|| damaged(format!("the mail event time '{at}' is not a time")))?,
        piece_id,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_times_read_back_what_they_write() {
        for k in MailEventKind::ALL {
            assert_eq!(MailEventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(MailEventKind::parse("lost"), None);
        let day = MailTime::Day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let at = MailTime::At(
            NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(7, 5, 9)
                .unwrap(),
        );
        for t in [day, at] {
            assert_eq!(MailTime::parse_text(&t.to_text()), Some(t));
        }
        // Stored texts sort in time order.
        assert!(day.to_text() < at.to_text());
        assert_eq!(at.to_string(), "2026-12-01 07:05");
    }

    #[test]
    fn a_returned_reason_names_the_day_and_the_usps_reason() {
        let d = MailTime::Day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(
            returned_reason("moved, left no address", d),
            "letter returned as undeliverable on 2026-12-01: moved, left no address"
        );
        assert_eq!(
            returned_reason("", d),
            "letter returned as undeliverable on 2026-12-01"
        );
    }
}
