//! `status`: a receipt's history as a table a desk agent can read, its
//! columns as wide as what they hold, and its mail trail. Never a code: the
//! ledger has none.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::ledger::{Issuance, Ledger, LedgerError, MailEventKind};

/// How many unacknowledged pieces `status --mail` names one by one.
const UNACKNOWLEDGED_SHOWN: usize = 50;

/// The header and one line per issuance, columns aligned; the last column
/// (the reason) is as long as it is.
pub fn history_table(history: &[Issuance]) -> Vec<String> {
    let header = [
        "issue", "status", "notice", "expires", "piece", "batch", "key", "reason",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(str::to_string)];
    for i in history {
        let reason = match (&i.issued.reason, i.issued.forced) {
            (Some(r), true) => format!("{r} (forced)"),
            (Some(r), false) => r.clone(),
            (None, _) => String::new(),
        };
        rows.push([
            i.issued.issue_no.to_string(),
            i.status.as_str().to_string(),
            i.issued.notice_date.to_string(),
            i.issued.expires_on.to_string(),
            i.issued.piece_id.clone(),
            i.issued.batch_id.clone(),
            i.issued.key_id.clone(),
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

/// The receipt's mail trail, one line per step, in time order within each
/// letter: handed to the vendor (from the batch's hand-offs), printed,
/// mailed, USPS scans, delivered or returned. Answers the desk's "was my
/// letter mailed?" without a code or an account.
pub fn mail_trail_lines(
    ledger: &dyn Ledger,
    history: &[Issuance],
) -> Result<Vec<String>, LedgerError> {
    let issue_of: HashMap<&str, u32> = history
        .iter()
        .map(|i| (i.issued.piece_id.as_str(), i.issued.issue_no))
        .collect();
    let Some(first) = history.first() else {
        return Ok(Vec::new());
    };
    let events = ledger.mail_trail(&first.issued.receipt)?;
    let mut lines = Vec::new();
    let batches: BTreeSet<&str> = history.iter().map(|i| i.issued.batch_id.as_str()).collect();
    let mut handoffs: HashMap<&str, Vec<String>> = HashMap::new();
    for batch in batches {
        for d in ledger.deliveries(batch)? {
            let Some(done) = d.completed_at else {
                handoffs.entry(batch).or_default().push(format!(
                    "hand-off to {} started {} UTC, not finished: deliver the batch again",
                    d.vendor,
                    d.started_at.format("%Y-%m-%d %H:%M")
                ));
                continue;
            };
            handoffs.entry(batch).or_default().push(format!(
                "{} UTC delivered to the print vendor ({}{})",
                done.format("%Y-%m-%d %H:%M"),
                d.vendor,
                if d.again { ", sent again" } else { "" }
            ));
        }
    }
    for i in history {
        let n = i.issued.issue_no;
        for h in handoffs
            .get(i.issued.batch_id.as_str())
            .into_iter()
            .flatten()
        {
            lines.push(format!("issue {n}: {h}"));
        }
        for e in events
            .iter()
            .filter(|e| issue_of.get(e.piece_id.as_str()) == Some(&n))
        {
            let what = match e.kind {
                // The one step the desk must not miss.
                MailEventKind::Returned => "RETURNED as undeliverable",
                kind => kind.describe(),
            };
            let detail = if e.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.detail)
            };
            lines.push(format!("issue {n}: {} {what}{detail}", e.at));
        }
    }
    Ok(lines)
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

/// `status RECEIPT` of a receipt with a history: who and what, the table,
/// what became of each code, interrupted batches, the mail trail.
pub fn receipt_lines(
    ledger: &dyn Ledger,
    history: &[Issuance],
) -> Result<Vec<String>, LedgerError> {
    let Some(first) = history.first() else {
        return Ok(Vec::new());
    };
    let f = &first.issued.filing;
    let n = history.len();
    let mut lines = vec![format!(
        "{}: Form {}, {} ({n} {})",
        first.issued.receipt,
        f.form,
        f.full_name(),
        if n == 1 { "issuance" } else { "issuances" }
    )];
    lines.extend(history_table(history));
    lines.extend(history.iter().filter_map(|i| i.after_the_envelope()));
    // Interrupted batches: codes live, letters not printed (nor mailed).
    for (n, batch) in super::audit::unfinished_issuances(ledger, history)? {
        lines.push(format!(
            "issue {n}: issued, not printed yet: batch {batch} was interrupted; run the batch again"
        ));
    }
    let events = ledger.mail_trail(&first.issued.receipt)?;
    for n in crate::ledger::returned_after_redeemed(history, &events) {
        lines.push(format!(
            "WARNING issue {n}: redeemed, then returned: the letter came back undelivered after its code was used, so whoever used it never got this letter; check the linked account (unlink if it is not the applicant's)"
        ));
    }
    let trail = mail_trail_lines(ledger, history)?;
    if !trail.is_empty() {
        lines.push("mail trail:".into());
        lines.extend(trail.into_iter().map(|l| format!("  {l}")));
    }
    Ok(lines)
}

/// The portal's wrong codes for a receipt, by source: `None` when none
/// came within the window; flagged TARGETED when more distinct accounts or
/// addresses than the limit's `targeted_sources` guessed at it.
pub fn targeted_line(
    ledger: &dyn Ledger,
    receipt: &crate::filing::ReceiptNumber,
    now: DateTime<Utc>,
    limit: crate::ledger::GuessLimit,
) -> Result<Option<String>, LedgerError> {
    let sources = ledger.guess_sources(receipt, now, limit.window)?;
    let minutes = limit.window.num_minutes();
    Ok(match sources {
        0 => None,
        n if n > limit.targeted_sources => Some(format!(
            "TARGETED: wrong codes from {n} distinct accounts or addresses at the portal in the last {minutes} minutes; someone other than the applicant may be guessing (each guesser is limited; the applicant's right code still works)"
        )),
        n => Some(format!(
            "portal: wrong codes from {n} {} in the last {minutes} minutes",
            if n == 1 { "source" } else { "distinct sources" }
        )),
    })
}
