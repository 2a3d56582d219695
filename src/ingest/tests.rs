//! The three file readers, without a ledger: what a row means, which rows
//! are rejected and why, which files are refused as a whole.

use super::*;
use crate::ledger::{MailEventKind, MailTime};

fn day(s: &str) -> MailTime {
    MailTime::Day(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

#[test]
fn acks_read_printed_and_mailed_and_reject_the_rest_with_their_lines() {
    let text = "piece_id,status,date,vendor_note\n\
                P-2026-11-25-0001,printed,2026-11-26,\n\
                P-2026-11-25-0001,MAILED,11/27/2026,tray 4\n\
                P-2026-11-25-0002,lost,2026-11-27,\n\
                P-2026-11-25-0003,mailed,2026-13-01,\n\
                \n\
                ,mailed,2026-11-27,\n";
    let p = acks::parse(text).expect("parse");
    let events: Vec<_> = p
        .lines
        .iter()
        .map(|(n, _, l)| (*n, l.event.kind, l.event.at))
        .collect();
    assert_eq!(
        events,
        [
            (2, MailEventKind::Printed, day("2026-11-26")),
            (3, MailEventKind::Mailed, day("2026-11-27")),
        ]
    );
    let rejected: Vec<_> = p
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert_eq!(rejected[0].0, 4);
    assert!(rejected[0].1.contains("neither printed nor mailed"));
    assert_eq!(rejected[1].0, 5);
    assert!(rejected[1].1.contains("not a date"));
    assert_eq!(rejected[2].0, 7);
    assert!(rejected[2].1.contains("piece ID is empty"));
}

#[test]
fn a_file_without_a_required_column_is_refused_at_line_1() {
    let (line, reason) = acks::parse("piece,state,when\nP-1,printed,2026-11-26\n")
        .err()
        .expect("refused");
    assert_eq!(line, 1);
    assert!(reason.contains("no piece_id column"), "{reason}");
    let (line, _) = returns::parse("piece_id,date\nP-1,2026-11-26\n")
        .err()
        .expect("refused");
    assert_eq!(line, 1);
    assert!(scans::parse("").is_err());
}

#[test]
fn an_unclosed_quote_is_one_rejected_row_at_the_line_it_starts() {
    let text = "piece_id,status,date\n\nP-1,printed,2026-11-26\n\"P-2,printed,2026-11-26\nP-3,mailed,2026-11-27\n";
    let p = acks::parse(text).expect("parse");
    assert_eq!(p.lines.len(), 1);
    assert_eq!(p.lines[0].0, 3, "a blank line counts");
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 4);
}

#[test]
fn returns_by_piece_or_by_barcode_keep_the_usps_reason() {
    let text = "piece_id,reason,date\nP-1,\"Attempted, Not Known\",2026-12-01\nP-2,,2026-12-01\n";
    let p = returns::parse(text).expect("parse");
    assert_eq!(p.lines.len(), 1);
    let l = &p.lines[0].2;
    assert_eq!(l.who, PieceKey::Piece("P-1".into()));
    assert_eq!(l.event.kind, MailEventKind::Returned);
    assert_eq!(l.event.detail, "attempted, not known");
    assert!(p.rejected[0].reason.contains("reason is empty"));

    let tracking = "00270123456000004711";
    let text = format!(
        "imb,reason,date\n{tracking}90012,no such number,2026-12-02\n1234,moved,2026-12-02\n"
    );
    let p = returns::parse(&text).expect("parse");
    assert_eq!(
        p.lines[0].2.who,
        PieceKey::Barcode(format!("{tracking}90012"))
    );
    assert!(p.rejected[0]
        .reason
        .contains("not an Intelligent Mail barcode"));
}

#[test]
fn scans_read_iv_mtr_pipe_files_and_map_event_types() {
    let text =
        "IMb|Scan Date Time|Operation Code|Scan Facility ZIP|Handling Event Type|Machine Name\n\
                0027012345600000471190012|2026-11-27 05:10:00|919|90052|A|DBCS-1\n\
                0027012345600000471190012|2026-11-28 08:01:00|918|90012|O|\n\
                0027012345600000471190012|2026-11-28 14:30:00|908|90012|D|\n\
                0027012345600000471190012|2026-11-29 14:30:00|271|90012|X|\n\
                0027012345600000471190012|yesterday|271|90012|D|\n";
    let p = scans::parse(text).expect("parse");
    let kinds: Vec<_> = p.lines.iter().map(|(_, _, l)| l.event.kind).collect();
    assert_eq!(
        kinds,
        [
            MailEventKind::Accepted,
            MailEventKind::OutForDelivery,
            MailEventKind::Delivered,
            MailEventKind::Scanned
        ]
    );
    assert_eq!(p.lines[0].2.event.detail, "operation 919 at facility 90052");
    assert!(p.lines[3].2.event.detail.ends_with("event type X"));
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 6);
    assert!(p.rejected[0].reason.contains("not a date and time"));
}

#[test]
fn scans_read_split_date_and_time_columns_in_a_comma_export() {
    let text = "imb,scan_date,scan_time,op_code,facility_zip,event_type\n\
                00270123456000004711,2026-11-27,05:10:00,919,90052,undeliverable\n";
    let p = scans::parse(text).expect("parse");
    assert_eq!(p.lines[0].2.event.kind, MailEventKind::Returned);
    assert_eq!(p.lines[0].2.event.at.to_string(), "2026-11-27 05:10");
}
