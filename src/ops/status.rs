//! `status`: a receipt's history ([`ReceiptHistory`]) as text a desk agent
//! can read (a table with columns as wide as what they hold, what became of
//! each code, the mail trail, the wrong codes), and `status --mail`'s
//! report. Never a code: the ledger has none.

use chrono::{DateTime, Duration, Utc};

use super::history::{IssuanceHistory, MailStep, MailStepKind, ReceiptHistory};
use crate::filing::IssuanceStatus;
use crate::ledger::{Ledger, LedgerError, MailEventKind};

/// How many unacknowledged pieces `status --mail` names one by one.
const UNACKNOWLEDGED_SHOWN: usize = 50;

/// The header and one line per issuance, columns aligned; the last column
/// (the reason) is as long as it is.
pub fn history_table(history: &[IssuanceHistory]) -> Vec<String> {
    let header = [
        "issue", "status", "notice", "expires", "piece", "batch", "key", "reason",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(str::to_string)];
    for i in history {
        let reason = match (&i.reason, i.forced) {
            (Some(r), true) => format!("{r} (forced)"),
            (Some(r), false) => r.clone(),
            (None, _) => String::new(),
        };
        rows.push([
            i.issue_no.to_string(),
            i.status.as_str().to_string(),
            i.notice_date.to_string(),
            i.expires_on.to_string(),
            i.piece_id.clone(),
            i.batch_id.clone(),
            i.key_id.clone(),
            reason,
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (n, (cell, w)) in row.iter().zip(widths).enumerate() {
                if n + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$} "));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

impl IssuanceHistory {
    /// What became of the code after the envelope, when anything did:
    /// redeemed (never by which account), unlinked, returned, revoked.
    pub fn after_the_envelope(&self) -> Option<String> {
        let n = self.issue_no;
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        if let Some(redeemed) = self.redeemed_at {
            return Some(match (self.unlinked_at, &self.unlink_reason) {
                (Some(u), Some(why)) => format!(
                    "issue {n} redeemed at {}; the desk removed its account link at {}: {why}",
                    at(redeemed),
                    at(u)
                ),
                _ => format!(
                    "issue {n} redeemed at {}: linked to an online account (the account is not shown)",
                    at(redeemed)
                ),
            });
        }
        let when = self
            .status_changed_at
            .map(|t| format!(" at {}", at(t)))
            .unwrap_or_default();
        match self.status {
            IssuanceStatus::Returned => {
                let why = self.status_reason.as_deref().unwrap_or("letter returned");
                Some(format!(
                    "issue {n} stopped{when}: {why}; send a new letter to a corrected address (reissue)"
                ))
            }
            IssuanceStatus::Revoked => {
                let why = self
                    .status_reason
                    .as_deref()
                    .unwrap_or("no reason recorded");
                Some(format!("issue {n} revoked{when}: {why}"))
            }
            _ => None,
        }
    }
}

impl MailStep {
    /// One line of the mail trail: "issue 1: 2026-11-26 delivered".
    pub fn line(&self) -> String {
        let n = self.issue_no;
        match &self.what {
            MailStepKind::HandedOff {
                vendor,
                started_at,
                completed_at: None,
                ..
            } => format!(
                "issue {n}: hand-off to {vendor} started {} UTC, not finished: deliver the batch again",
                started_at.format("%Y-%m-%d %H:%M")
            ),
            MailStepKind::HandedOff {
                vendor,
                completed_at: Some(done),
                again,
                ..
            } => format!(
                "issue {n}: {} UTC delivered to the print vendor ({vendor}{})",
                done.format("%Y-%m-%d %H:%M"),
                if *again { ", sent again" } else { "" }
            ),
            MailStepKind::Event { kind, at, detail } => {
                let what = match kind {
                    // The one step the desk must not miss.
                    MailEventKind::Returned => "RETURNED as undeliverable",
                    kind => kind.describe(),
                };
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                };
                format!("issue {n}: {at} {what}{detail}")
            }
        }
    }
}

/// `status --mail`: the mail trail's totals, the letters that came back and
/// await a new letter (the returns list, for address follow-up), and the
/// pieces handed to the vendor over `ack_days` days before `now` that it
/// never acknowledged.
pub fn mail_report_lines(
    ledger: &dyn Ledger,
    now: DateTime<Utc>,
    (ack_days, guess): (u32, crate::ledger::GuessLimit),
) -> Result<Vec<String>, LedgerError> {
    let t = ledger.mail_counts(None)?;
    let mut lines = vec![format!(
        "mail trail: {} hand-offs to the vendor; pieces printed {}, mailed {}, accepted by USPS {}, delivered {}, returned {}; {} scans matched no letter of ours",
        t.deliveries,
        t.pieces(MailEventKind::Printed),
        t.pieces(MailEventKind::Mailed),
        t.pieces(MailEventKind::Accepted),
        t.pieces(MailEventKind::Delivered),
        t.pieces(MailEventKind::Returned),
        t.unmatched_scans
    )];
    let returns = ledger.returned_awaiting_reissue()?;
    lines.push(format!(
        "returned, awaiting a new letter to a corrected address: {}",
        returns.len()
    ));
    for i in &returns {
        lines.push(format!(
            "  {} issue {} (piece {}): {}; was mailed to {}",
            i.issued.receipt,
            i.issued.issue_no,
            i.issued.piece_id,
            i.status_reason.as_deref().unwrap_or("returned"),
            i.issued.filing.address_lines().join(", ")
        ));
    }
    let flagged = ledger.redeemed_then_returned()?;
    lines.push(format!(
        "redeemed, then returned: check the linked account: {}",
        flagged.len()
    ));
    for i in &flagged {
        lines.push(format!(
            "  {} issue {} (piece {}): its code was redeemed{}, yet the letter came back undelivered: whoever used the code never got this letter",
            i.issued.receipt,
            i.issued.issue_no,
            i.issued.piece_id,
            i.redemption
                .as_ref()
                .map(|r| format!(" on {}", r.at.format("%Y-%m-%d")))
                .unwrap_or_default(),
        ));
    }
    let targeted = ledger.targeted(now, guess.window, guess.targeted_sources)?;
    lines.push(format!(
        "targeted: receipts guessed at from more than {} distinct accounts or addresses in the last {} minutes: {}",
        guess.targeted_sources,
        guess.window.num_minutes(),
        targeted.len()
    ));
    for (receipt, sources) in &targeted {
        lines.push(format!("  {receipt}: wrong codes from {sources} sources"));
    }
    let silent = ledger.unacknowledged(now - Duration::days(i64::from(ack_days)))?;
    lines.push(format!(
        "delivered to the vendor over {ack_days} days ago and never acknowledged: {} {}",
        silent.len(),
        if silent.len() == 1 { "piece" } else { "pieces" }
    ));
    for p in silent.iter().take(UNACKNOWLEDGED_SHOWN) {
        lines.push(format!(
            "  {} ({} issue {}, batch {})",
            p.piece_id, p.receipt, p.issue_no, p.batch_id
        ));
    }
    if silent.len() > UNACKNOWLEDGED_SHOWN {
        lines.push(format!(
            "  ... and {} more",
            silent.len() - UNACKNOWLEDGED_SHOWN
        ));
    }
    Ok(lines)
}

impl ReceiptHistory {
    /// `status RECEIPT`: who and what, the table, what became of each code,
    /// interrupted batches, the mail trail, the wrong codes and the sources
    /// guessing at it.
    pub fn lines(&self) -> Vec<String> {
        let receipt = &self.receipt;
        let Some(applicant) = &self.applicant else {
            let mut lines = vec![format!("{receipt}: no code has been issued")];
            lines.extend(self.attempts_line());
            return lines;
        };
        let n = self.issuances.len();
        let mut lines = vec![format!(
            "{receipt}: Form {}, {} ({n} {})",
            applicant.form,
            applicant.name,
            if n == 1 { "issuance" } else { "issuances" }
        )];
        lines.extend(history_table(&self.issuances));
        lines.extend(self.issuances.iter().filter_map(|i| i.after_the_envelope()));
        // Interrupted batches: codes live, letters not printed (nor mailed).
        for u in &self.unfinished {
            lines.push(format!(
                "issue {}: issued, not printed yet: batch {} was interrupted; run the batch again",
                u.issue_no, u.batch_id
            ));
        }
        for i in self.issuances.iter().filter(|i| i.returned_after_redeemed) {
            lines.push(format!(
                "WARNING issue {}: redeemed, then returned: the letter came back undelivered after its code was used, so whoever used it never got this letter; check the linked account (unlink if it is not the applicant's)",
                i.issue_no
            ));
        }
        if !self.mail_trail.is_empty() {
            lines.push("mail trail:".into());
            lines.extend(self.mail_trail.iter().map(|s| format!("  {}", s.line())));
        }
        lines.extend(self.attempts_line());
        lines.extend(self.targeted_line());
        lines
    }

    /// The wrong-code line, when `verify` was ever wrong or refused.
    fn attempts_line(&self) -> Option<String> {
        let w = &self.wrong_codes;
        (w.total + w.refused_while_locked > 0).then(|| w.limit.clone())
    }

    /// The portal's wrong codes by source: `None` when none came within the
    /// window; flagged TARGETED when more distinct accounts or addresses
    /// than the limit's `targeted_sources` guessed at it.
    fn targeted_line(&self) -> Option<String> {
        let minutes = self.guess_limit.window.num_minutes();
        match self.guess_sources {
            0 => None,
            n if self.targeted => Some(format!(
                "TARGETED: wrong codes from {n} distinct accounts or addresses at the portal in the last {minutes} minutes; someone other than the applicant may be guessing (each guesser is limited; the applicant's right code still works)"
            )),
            n => Some(format!(
                "portal: wrong codes from {n} {} in the last {minutes} minutes",
                if n == 1 { "source" } else { "distinct sources" }
            )),
        }
    }
}
