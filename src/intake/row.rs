//! One row, field by field, in column order; the first problem found is
//! the row's one reject.

use chrono::{Datelike, NaiveDate};

use super::reader::{Record, TooLong, MAX_RECORD_BYTES, MAX_RECORD_FIELDS};
use super::seen::ReceiptIndex;
use super::{
    Outcome, A_NUMBER, CITY, COLUMN_COUNT, EARLIEST_RECEIVED_YEAR, FAMILY, FORM, GIVEN, IN_CARE_OF,
    LANGUAGE, LINE1, LINE2, MIDDLE, RECEIPT, RECEIVED, STATE, ZIP,
};
use crate::address::{self, shown, FieldProblem, RawAddress, WindowFit, SHOWN_VALUE_MAX_CHARS};
use crate::filing::{Filing, FormType, Language, ReceiptNumber, Reject};

/// What a row is checked against besides its own cells.
pub(super) struct Rules {
    /// The latest acceptable received date.
    pub(super) batch_date: NaiveDate,
    /// The envelope window every printed line must fit.
    pub(super) fit: WindowFit,
}

/// A row checked on its own, before the receipts already claimed in the
/// file are consulted: the part of a row's check that any thread may do.
pub(super) struct Unclaimed {
    line: u64,
    /// The receipt as typed, for a reject's receipt column.
    typed: Option<String>,
    receipt: ReceiptNumber,
    /// The row's filing, or its first problem after the receipt.
    rest: Result<Filing, FieldProblem>,
}

/// The row's one reject.
fn reject(line: u64, typed: Option<String>, p: FieldProblem) -> Reject {
    Reject {
        line,
        receipt_number: typed,
        field: p.field.to_string(),
        reason: p.reason,
    }
}

/// A row with a receipt number, checked on its own ([`claim`] decides
/// whether it is the first with that receipt); a row without one is
/// rejected here.
pub(super) fn check_row(
    cells: &[&str; COLUMN_COUNT],
    line: u64,
    rules: &Rules,
) -> Result<Unclaimed, Reject> {
    let typed = non_empty(cells[RECEIPT]);
    let receipt = match parse_receipt(cells[RECEIPT]) {
        Ok(r) => r,
        Err(p) => return Err(reject(line, typed, p)),
    };
    let rest = validate_rest(cells, line, receipt.clone(), rules);
    Ok(Unclaimed {
        line,
        typed,
        receipt,
        rest,
    })
}

/// The row's outcome: a duplicate when an earlier row claimed its receipt
/// (whatever else is wrong with it), else what [`check_row`] found; the
/// receipt is then claimed by this row. Rows must be claimed in file order.
pub(super) fn claim(row: Unclaimed, seen: &mut ReceiptIndex) -> rusqlite::Result<Outcome> {
    let key = ReceiptIndex::pack(&row.receipt);
    if let Some(first) = seen.get(key)? {
        let note = if first & 1 == 1 {
            " (that row was rejected)"
        } else {
            ""
        };
        return Ok(Outcome::Rejected(reject(
            row.line,
            row.typed,
            FieldProblem::new(
                "receipt_number",
                format!(
                    "receipt {} already appears on line {}{note}; only the first row is used",
                    row.receipt,
                    first >> 1
                ),
            ),
        )));
    }
    let line = row.line;
    let outcome = match row.rest {
        Ok(filing) => Outcome::Valid(filing),
        Err(p) => Outcome::Rejected(reject(line, row.typed, p)),
    };
    let rejected_bit = u64::from(matches!(outcome, Outcome::Rejected(_)));
    seen.insert(key, (line << 1) | rejected_bit)?;
    Ok(outcome)
}

fn validate_rest(
    cells: &[&str; COLUMN_COUNT],
    line: u64,
    receipt: ReceiptNumber,
    rules: &Rules,
) -> Result<Filing, FieldProblem> {
    let form = parse_form(cells[FORM])?;
    let received_date = parse_received_date(cells[RECEIVED], rules.batch_date)?;
    let given_name = parse_name("given_name", "given name", cells[GIVEN], &rules.fit)?;
    let middle_name = parse_name("middle_name", "middle name", cells[MIDDLE], &rules.fit)?;
    let family_name = parse_name("family_name", "family name", cells[FAMILY], &rules.fit)?;
    if family_name.is_empty() {
        return Err(FieldProblem::new("family_name", "family name is missing"));
    }
    let middle_name = (!middle_name.is_empty()).then_some(middle_name);
    let name_line = address::name_line(
        &given_name,
        middle_name.as_deref(),
        &family_name,
        &rules.fit,
    )?;
    let a_number = parse_a_number(cells[A_NUMBER])?;
    let address = address::normalize_address(
        &RawAddress {
            in_care_of: cells[IN_CARE_OF],
            line1: cells[LINE1],
            line2: cells[LINE2],
            city: cells[CITY],
            state: cells[STATE],
            zip: cells[ZIP],
        },
        &rules.fit,
    )?;
    let language = parse_language(cells[LANGUAGE])?;
    Ok(Filing {
        line,
        receipt,
        form,
        received_date,
        given_name,
        middle_name,
        family_name,
        a_number,
        name_line,
        address,
        language,
    })
}

fn parse_receipt(raw: &str) -> Result<ReceiptNumber, FieldProblem> {
    // ReceiptNumber::parse quotes the value back; keep control characters out of it.
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(FieldProblem::new(
            "receipt_number",
            format!(
                "receipt number '{}' contains a control character; retype it",
                shown(raw.trim())
            ),
        ));
    }
    ReceiptNumber::parse(raw).map_err(|reason| FieldProblem::new("receipt_number", reason))
}

fn parse_form(raw: &str) -> Result<FormType, FieldProblem> {
    let typed = raw.trim();
    if typed.is_empty() {
        return Err(FieldProblem::new("form_type", "form type is missing"));
    }
    let key: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match key.as_str() {
        "I485" => Ok(FormType::I485),
        "I131" => Ok(FormType::I131),
        "I765" => Ok(FormType::I765),
        _ => Err(FieldProblem::new(
            "form_type",
            format!(
                "form type '{}' is not one of I-485, I-131, I-765",
                shown(typed)
            ),
        )),
    }
}

fn parse_received_date(raw: &str, batch_date: NaiveDate) -> Result<NaiveDate, FieldProblem> {
    const FIELD: &str = "received_date";
    let typed = raw.trim();
    if typed.is_empty() {
        return Err(FieldProblem::new(FIELD, "received date is missing"));
    }
    let b = typed.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, &c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(FieldProblem::new(
            FIELD,
            format!(
                "received date '{}' is not a date in the form YYYY-MM-DD (like 2026-11-20)",
                shown(typed)
            ),
        ));
    }
    let date = NaiveDate::parse_from_str(typed, "%Y-%m-%d").map_err(|_| {
        FieldProblem::new(
            FIELD,
            format!("received date '{typed}' is not a real calendar date"),
        )
    })?;
    if date > batch_date {
        return Err(FieldProblem::new(
            FIELD,
            format!("received date {date} is after the batch date {batch_date}"),
        ));
    }
    if date.year() < EARLIEST_RECEIVED_YEAR {
        return Err(FieldProblem::new(
            FIELD,
            format!("received date {date} is before {EARLIEST_RECEIVED_YEAR}; check the year"),
        ));
    }
    Ok(date)
}

/// A name cell: printable by the letter font, then NFC, trimmed and with
/// inner whitespace collapsed; only letters, combining marks, spaces,
/// hyphens, apostrophes and periods. Empty is returned as empty.
fn parse_name(
    field: &'static str,
    label: &str,
    raw: &str,
    fit: &WindowFit,
) -> Result<String, FieldProblem> {
    address::check_printable(field, &format!("the {label}"), raw)?;
    let name = address::tidy_text(raw);
    address::check_fits_alone(field, label, &name.to_uppercase(), fit)?;
    address::check_marks(field, label, &name)?;
    const ALLOWED: &str = "names may hold only letters, spaces, hyphens, apostrophes and periods";
    for c in name.chars() {
        let ok = c.is_alphabetic()
            || matches!(c, '\u{0300}'..='\u{036F}')
            || matches!(c, ' ' | '-' | '\'' | '.' | '\u{2019}' | '\u{02BC}');
        if ok {
            continue;
        }
        let what = if c.is_numeric() {
            format!("the digit '{c}'")
        } else {
            format!("'{c}'")
        };
        return Err(FieldProblem::new(
            field,
            format!("{label} '{}' contains {what}; {ALLOWED}", shown(&name)),
        ));
    }
    if !name.is_empty() && !name.chars().any(char::is_alphabetic) {
        return Err(FieldProblem::new(
            field,
            format!("{label} '{}' has no letters", shown(&name)),
        ));
    }
    Ok(name)
}

/// `A` and 8 or 9 digits, spaces and hyphens tolerated; printed as `A` and
/// 9 digits (an 8-digit A-number takes a leading zero).
fn parse_a_number(raw: &str) -> Result<Option<String>, FieldProblem> {
    let typed = raw.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    let cleaned: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = cleaned.strip_prefix(['A', 'a']).unwrap_or("");
    if matches!(digits.len(), 8 | 9) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(format!("A{digits:0>9}")));
    }
    Err(FieldProblem::new(
        "a_number",
        format!(
            "A-number '{}' is not A followed by 8 or 9 digits (like A012345678)",
            shown(typed)
        ),
    ))
}

fn parse_language(raw: &str) -> Result<Language, FieldProblem> {
    let typed = raw.trim();
    match typed.to_ascii_lowercase().as_str() {
        "" | "en" => Ok(Language::En),
        "es" => Ok(Language::Es),
        _ => Err(FieldProblem::new(
            "language",
            format!(
                "language '{}' has no letter template; use en or es",
                shown(typed)
            ),
        )),
    }
}

/// The receipt number as typed, for the reject's receipt column: trimmed,
/// and clipped like [`shown`] so a runaway cell is not copied whole.
pub(super) fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if t.chars().count() <= SHOWN_VALUE_MAX_CHARS {
        return Some(t.to_string());
    }
    let mut clipped: String = t.chars().take(SHOWN_VALUE_MAX_CHARS).collect();
    clipped.push('…');
    Some(clipped)
}

/// "" for a one-line record, else where it runs and the likely cause.
fn span_note(record: &Record) -> String {
    if record.end_line == record.start_line {
        return String::new();
    }
    format!(
        " (it runs from line {} to line {}: a quote (\") that is never closed joins the lines after it)",
        record.start_line, record.end_line
    )
}

/// A row whose number of cells differs from the header's.
pub(super) fn field_count_reject(
    record: &Record,
    receipt: &str,
    fields: usize,
    header: usize,
) -> Reject {
    Reject {
        line: record.start_line,
        receipt_number: non_empty(receipt),
        field: "row".into(),
        reason: format!(
            "the row has {fields} fields; the header has {header}{}",
            span_note(record)
        ),
    }
}

/// A record over [`MAX_RECORD_BYTES`] or [`MAX_RECORD_FIELDS`]: one reject
/// at the line where it starts, its receipt clipped.
pub(super) fn too_long_reject(
    record: &Record,
    long: &TooLong,
    receipt: Option<&str>,
    header: usize,
) -> Reject {
    let what = if long.fields > MAX_RECORD_FIELDS as u64 {
        format!(
            "the row has {} fields, more than the {MAX_RECORD_FIELDS} read; the header has {header}",
            long.fields
        )
    } else {
        format!(
            "the row holds {} bytes, more than the {} KB a row may hold",
            long.bytes,
            MAX_RECORD_BYTES / 1024
        )
    };
    Reject {
        line: record.start_line,
        receipt_number: receipt.and_then(non_empty),
        field: "row".into(),
        reason: format!("{what}{}", span_note(record)),
    }
}
