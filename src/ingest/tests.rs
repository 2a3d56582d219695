//! The three file readers, without a ledger: what a row means, which rows
//! are rejected and why, which files are refused as a whole.

use super::source::{survey, Row, Rows};
use super::*;
use crate::ledger::{MailEventKind, MailTime};

/// Today, as the agency's clock says, in these tests.
const TODAY: &str = "2026-12-07";

/// A file's rows as the second pass reads them.
struct Parsed {
    lines: Vec<(u64, Vec<String>, Line)>,
    rejected: Vec<SetAside>,
}

/// Reads `text` as a file of `kind`: its rows, or the whole-file refusal
/// as (line, reason).
fn read(kind: ImportKind, text: impl AsRef<[u8]>) -> Result<Parsed, (u64, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.csv");
    std::fs::write(&path, text).unwrap();
    let refused = |e: IngestError| match e {
        IngestError::Malformed { line, reason, .. } => (line, reason),
        other => panic!("not a refusal: {other}"),
    };
    let survey = survey(&path, kind).map_err(refused)?;
    let today = NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap();
    let mut rows = Rows::open(&path, &survey, today).map_err(refused)?;
    let mut parsed = Parsed {
        lines: Vec::new(),
        rejected: Vec::new(),
    };
    while let Some(row) = rows.next_row().map_err(refused)? {
        match row {
            Row::Parsed {
                line,
                fields,
                parsed: l,
            } => parsed.lines.push((line, fields, l)),
            Row::Aside(a) => parsed.rejected.push(a),
        }
    }
    rows.finish().map_err(refused)?;
    Ok(parsed)
}

mod acks {
    pub(super) fn parse(text: &str) -> Result<super::Parsed, (u64, String)> {
        super::read(super::ImportKind::Acks, text)
    }
}

mod scans {
    pub(super) fn parse(text: &str) -> Result<super::Parsed, (u64, String)> {
        super::read(super::ImportKind::Scans, text)
    }
}

mod returns {
    pub(super) fn parse(text: &str) -> Result<super::Parsed, (u64, String)> {
        super::read(super::ImportKind::Returns, text)
    }

    pub(super) fn parse_bytes(bytes: &[u8]) -> Result<super::Parsed, (u64, String)> {
        super::read(super::ImportKind::Returns, bytes)
    }
}

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
fn an_unclosed_quote_is_one_rejected_row_at_its_line_and_the_next_lines_are_read() {
    let text = "piece_id,status,date\n\nP-1,printed,2026-11-26\n\"P-2,printed,2026-11-26\nP-3,mailed,2026-11-27\n";
    let p = acks::parse(text).expect("parse");
    let lines: Vec<u64> = p.lines.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(lines, [3, 5], "a blank line counts");
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

#[test]
fn a_short_or_long_row_is_a_rejected_row_and_the_rest_is_read() {
    let text = "piece_id,status,date\n\
                P-1,printed\n\
                P-2,printed,2026-11-26\n\
                P-3,mailed,2026-11-27,tray 4\n\
                P-4,mailed,2026-11-27\n";
    let p = acks::parse(text).expect("parse");
    let lines: Vec<u64> = p.lines.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(lines, [3, 5]);
    let rejected: Vec<_> = p
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "the row is short: it has 2 fields, the header has 3"),
            (4, "the row is long: it has 4 fields, the header has 3"),
        ]
    );
}

#[test]
fn an_unclosed_quote_is_named_where_it_opens() {
    // Mid-file: it costs its row only, the lines after it are read.
    let text = "piece_id,status,date\nP-1,\"printed,2026-11-26\nP-2,mailed,2026-11-27\nP-3,\"mailed\",2026-11-27\n";
    let p = acks::parse(text).expect("parse");
    assert_eq!(p.lines.len(), 2, "{:?}", p.rejected);
    assert_eq!(p.rejected.len(), 1, "{:?}", p.rejected);
    assert_eq!(p.rejected[0].line, 2);
    assert_eq!(
        p.rejected[0].reason,
        "a quote (\") opened on line 2 is not closed before the line ends"
    );
    // On the last line.
    let text = "piece_id,status,date\nP-1,printed,2026-11-26\nP-2,\"mailed,2026-11-27\n";
    let p = acks::parse(text).expect("parse");
    assert_eq!(p.lines.len(), 1);
    assert_eq!(p.rejected[0].line, 3);
    assert!(p.rejected[0].reason.contains("not closed"));
}

#[test]
fn a_field_over_the_record_bound_is_one_reject_and_reading_goes_on() {
    let huge = "9".repeat(300 * 1024);
    let text = format!(
        "piece_id,status,date\nP-1,printed,2026-11-26\n{huge},mailed,2026-11-27\nP-2,mailed,2026-11-27\n"
    );
    let p = acks::parse(&text).expect("parse");
    assert_eq!(p.lines.len(), 2);
    assert_eq!(p.lines[1].0, 4);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 3);
    let reason = &p.rejected[0].reason;
    let bytes = huge.len() + "mailed2026-11-27".len();
    assert!(
        reason.contains(&format!(
            "the row holds {bytes} bytes in 3 fields, more than the 64 KB"
        )),
        "{reason}"
    );
    assert!(reason.contains("a field is over its bound"), "{reason}");
}

#[test]
fn a_cell_quoted_in_a_reason_is_clipped() {
    let long = "x".repeat(5_000);
    let text = format!("piece_id,status,date\nP-1,{long},2026-11-26\n");
    let p = acks::parse(&text).expect("parse");
    let reason = &p.rejected[0].reason;
    assert!(reason.len() < 150, "{reason}");
    assert!(reason.contains("(5000 characters)"), "{reason}");
}

#[test]
fn an_event_more_than_a_day_after_today_is_rejected_with_that_reason() {
    // TODAY is 2026-12-07: the 8th is a vendor's clock ahead, the 9th is not.
    let text = "piece_id,status,date\n\
                P-1,mailed,2026-12-08\n\
                P-2,mailed,2026-12-09\n\
                P-3,mailed,2030-06-01\n";
    let p = acks::parse(text).expect("parse");
    assert_eq!(p.lines.len(), 1);
    let rejected: Vec<_> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(rejected, [3, 4]);
    assert_eq!(
        p.rejected[1].reason,
        "dated 2030-06-01, more than a day after today (2026-12-07 in the agency's time zone): a wrong date or a wrong clock"
    );
    let scans = "IMb|Scan Date Time|Operation Code|Scan Facility ZIP|Handling Event Type\n\
                 00270123456000004711|2031-01-05 07:00:00|919|90052|A\n";
    let p = scans::parse(scans).expect("parse");
    assert!(p.rejected[0]
        .reason
        .starts_with("dated 2031-01-05, more than a day after today"));
}

#[test]
fn bytes_that_are_not_utf8_refuse_the_file_at_their_line_even_far_in() {
    // A character cut by the reader's buffer is not an error; a bad byte
    // after many buffers is found at its line.
    let mut text = String::from("piece_id,reason,date\n");
    for i in 0..3_000 {
        text.push_str(&format!(
            "P-{i},déménagé sans laisser d'adresse,2026-12-01\n"
        ));
    }
    assert!(returns::parse(&text).is_ok());
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"P-x,caf\xe9,2026-12-01\n");
    let (line, reason) = returns::parse_bytes(&bytes).err().expect("refused");
    assert_eq!(line, 3_002);
    assert_eq!(reason, "the file is not UTF-8 text");
    // A file that ends inside a character.
    let (line, _) = returns::parse_bytes(b"piece_id,reason,date\nP-1,moved,2026-12-01\n\xc3")
        .err()
        .expect("refused");
    assert_eq!(line, 3);
}

#[test]
fn not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("acks.fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .unwrap();
    for (path, what) in [
        (fifo.as_path(), "a named pipe (FIFO)"),
        (Path::new("/dev/zero"), "a device"),
        (dir.path(), "a folder"),
    ] {
        let t = std::time::Instant::now();
        let err = survey(path, ImportKind::Acks).expect_err("refused");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        match &err {
            IngestError::NotAFile { what: w, .. } => assert_eq!(*w, what),
            other => panic!("{}: {other}", path.display()),
        }
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}

#[test]
fn shown_keeps_short_cells_and_clips_long_ones() {
    assert_eq!(shown("lost"), "lost");
    assert_eq!(
        shown(&"é".repeat(50)),
        format!("{}... (50 characters)", "é".repeat(40))
    );
}

#[test]
fn characters_cut_between_reads_are_whole_and_a_bad_byte_is_found_at_its_line() {
    /// Hands over one byte a read: every character is cut between reads.
    struct Trickle<'a>(&'a [u8]);
    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let text = "ñé€😀\nçà\n".as_bytes();
    let mut checked = source::Checked::new(Trickle(text));
    io::copy(&mut checked, &mut io::sink()).expect("UTF-8");
    assert_eq!(checked.finish().unwrap(), Sha256Hex::of(text));

    let mut bytes = text.to_vec();
    bytes.extend_from_slice(b"ok\xe2\x82x\n");
    let mut checked = source::Checked::new(Trickle(&bytes));
    io::copy(&mut checked, &mut io::sink()).expect_err("not UTF-8");
    assert_eq!(checked.bad_utf8(), Some(3));
}
