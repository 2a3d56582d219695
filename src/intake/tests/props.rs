//! Property tests: no input makes intake panic or lose a row.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(mut intake) = Intake::new(&bytes[..], "fuzz.csv", batch(), FIT) {
            let mut outcomes = 0u64;
            for item in intake.by_ref() {
                if item.is_ok() {
                    outcomes += 1;
                }
            }
            prop_assert_eq!(intake.read(), intake.valid() + intake.rejected());
            prop_assert_eq!(outcomes, intake.read());
        }
    }

    #[test]
    fn never_panics_with_a_good_header(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut bytes = csv_of(&[]);
        bytes.extend(body);
        let mut intake = Intake::new(&bytes[..], "fuzz.csv", batch(), FIT).expect("header ok");
        let mut outcomes = 0u64;
        for item in intake.by_ref() {
            if item.is_ok() {
                outcomes += 1;
            }
        }
        prop_assert_eq!(intake.read(), intake.valid() + intake.rejected());
        prop_assert_eq!(outcomes, intake.read());
    }

    #[test]
    fn every_row_of_arbitrary_cells_is_one_outcome(
        rows in proptest::collection::vec(proptest::collection::vec(any::<String>(), COLUMN_COUNT), 0..12)
    ) {
        let rows: Vec<Vec<(&'static str, String)>> = rows
            .into_iter()
            .map(|cells| COLUMNS.iter().copied().zip(cells).collect())
            .collect();
        let blank = rows.iter().filter(|r| r.iter().all(|(_, v)| v.trim().is_empty())).count() as u64;
        let (outcomes, read, valid, rejected) = run_bytes(&csv_of(&rows)).expect("well-formed CSV never fails the file");
        prop_assert_eq!(read, rows.len() as u64 - blank);
        prop_assert_eq!(outcomes.len() as u64, read);
        prop_assert_eq!(read, valid + rejected);
        for o in &outcomes {
            if let Outcome::Valid(f) = o {
                for l in f.address_lines() {
                    prop_assert!(l.chars().count() <= address::MAX_LINE_CHARS);
                }
            }
        }
    }

    #[test]
    fn mutating_one_cell_of_a_valid_row_never_panics(col in 0..COLUMN_COUNT, value in "\\PC{0,50}") {
        let mut row = base_row();
        row[col].1 = value;
        let (outcomes, ..) = run_bytes(&csv_of(&[row])).expect("file is fine");
        prop_assert_eq!(outcomes.len(), 1);
    }
}

/// One record as an independent reference splitter sees it: where it
/// starts, its fields, and how many bytes of cells it holds. Written from
/// the CSV rules (RFC 4180, only `\n` ends a record, a quote opens a quoted
/// field only at its start), not from intake's code.
struct RefRecord {
    start_line: u64,
    fields: Vec<Vec<u8>>,
}

fn reference_records(bytes: &[u8]) -> Vec<RefRecord> {
    #[derive(PartialEq)]
    enum S {
        RecordStart,
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut records = Vec::new();
    let mut state = S::RecordStart;
    let mut line = 1u64;
    let mut current: Option<RefRecord> = None;
    let mut field = Vec::new();
    for &b in bytes {
        if state == S::RecordStart {
            if b == b'\n' {
                line += 1;
                continue;
            }
            current = Some(RefRecord {
                start_line: line,
                fields: Vec::new(),
            });
            state = S::FieldStart;
        }
        let rec = current.as_mut().expect("in a record");
        let end_field =
            |rec: &mut RefRecord, field: &mut Vec<u8>| rec.fields.push(std::mem::take(field));
        state = match (state, b) {
            (S::FieldStart, b'"') => S::Quoted,
            (S::FieldStart | S::Unquoted | S::QuoteInQuoted, b',') => {
                end_field(rec, &mut field);
                S::FieldStart
            }
            (S::FieldStart | S::Unquoted | S::QuoteInQuoted, b'\n') => {
                end_field(rec, &mut field);
                records.push(current.take().expect("record"));
                S::RecordStart
            }
            (S::Quoted, b'"') => S::QuoteInQuoted,
            (S::QuoteInQuoted, b'"') => {
                field.push(b'"');
                S::Quoted
            }
            (S::Quoted, _) => {
                field.push(b);
                S::Quoted
            }
            (_, _) => {
                field.push(b);
                S::Unquoted
            }
        };
        if b == b'\n' {
            line += 1;
        }
    }
    if let Some(mut rec) = current {
        rec.fields.push(field);
        records.push(rec);
    }
    records
}

/// What intake must make of one record, by the reference splitter.
#[derive(Debug, PartialEq)]
enum Expect {
    Row(u64),
    Blank,
    FileError,
}

fn expectation(r: &RefRecord) -> Expect {
    let bytes: usize = r.fields.iter().map(Vec::len).sum();
    if bytes > MAX_RECORD_BYTES || r.fields.len() > MAX_RECORD_FIELDS {
        return Expect::Row(r.start_line);
    }
    let mut texts = Vec::new();
    for f in &r.fields {
        match std::str::from_utf8(f) {
            Ok(t) => texts.push(t),
            Err(_) => return Expect::FileError,
        }
    }
    let last = texts.len() - 1;
    texts[last] = texts[last].strip_suffix('\r').unwrap_or(texts[last]);
    if texts.iter().all(|t| t.trim().is_empty()) {
        Expect::Blank
    } else {
        Expect::Row(r.start_line)
    }
}

/// A way to damage a CSV file.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    StrayQuote(usize),
    Bytes(usize, Vec<u8>),
    HugeField(usize, usize),
    Crlf,
    BlankLines(usize, usize),
    DuplicateRow(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::StrayQuote),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Bytes(at, b)),
        (
            any::<usize>(),
            prop_oneof![Just(100), Just(MAX_RECORD_BYTES + 1), Just(70_000)]
        )
            .prop_map(|(at, n)| Mutation::HugeField(at, n)),
        Just(Mutation::Crlf),
        (any::<usize>(), 1..4usize).prop_map(|(at, n)| Mutation::BlankLines(at, n)),
        any::<usize>().prop_map(Mutation::DuplicateRow),
    ]
}

/// Applies `m` to the body (after the header line), so the header survives.
fn apply(m: &Mutation, body: &mut Vec<u8>) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Truncate(i) => body.truncate(at(*i, body.len())),
        Mutation::StrayQuote(i) => body.insert(at(*i, body.len()), b'"'),
        Mutation::Bytes(i, bytes) => {
            let p = at(*i, body.len());
            body.splice(p..p, bytes.iter().copied());
        }
        Mutation::HugeField(i, n) => {
            let p = at(*i, body.len());
            body.splice(p..p, std::iter::repeat_n(b'x', *n));
        }
        Mutation::Crlf => {
            *body = body
                .iter()
                .flat_map(|&b| {
                    if b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![b]
                    }
                })
                .collect()
        }
        Mutation::BlankLines(i, n) => {
            let p = at(*i, body.len());
            body.splice(p..p, std::iter::repeat_n(b'\n', *n));
        }
        Mutation::DuplicateRow(i) => {
            let lines: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
            if !lines.is_empty() {
                let line = lines[i % lines.len()].to_vec();
                body.extend(line);
            }
        }
    }
}

fn mutated_csv(rows: &[usize], mutations: &[Mutation]) -> Vec<u8> {
    let receipts = [
        "IOE0912345678",
        "MSC2190000001",
        "EAC2190000002",
        "WAC2190000003",
    ];
    let rows: Vec<Vec<(&'static str, String)>> = rows
        .iter()
        .map(|&r| match r % 4 {
            0 => base_row(),
            1 => with(&[
                ("receipt_number", receipts[1]),
                ("address_line1", "1 Main St\nRear"),
            ]),
            2 => with(&[
                ("receipt_number", receipts[2]),
                ("family_name", "O'Brien, Jr"),
            ]),
            _ => with(&[("receipt_number", receipts[3]), ("zip", "1")]),
        })
        .collect();
    let full = csv_of(&rows);
    let split = full.iter().position(|&b| b == b'\n').expect("header") + 1;
    let (header, body) = full.split_at(split);
    let mut body = body.to_vec();
    for m in mutations {
        apply(m, &mut body);
    }
    let mut bytes = header.to_vec();
    bytes.extend(body);
    bytes
}

/// Cases for the mutation property; `PROPTEST_CASES` overrides it.
const MUTATION_CASES: u32 = 10_000;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(MUTATION_CASES),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_files_account_for_every_record_at_its_starting_line(
        rows in proptest::collection::vec(0..4usize, 0..6),
        mutations in proptest::collection::vec(mutation(), 0..4),
    ) {
        let bytes = mutated_csv(&rows, &mutations);
        let mut intake = Intake::new(&bytes[..], "fuzz.csv", batch(), FIT).expect("the header is untouched");
        let mut lines = Vec::new();
        let mut failed = false;
        for item in intake.by_ref() {
            match item {
                Ok(Outcome::Valid(f)) => lines.push(f.line),
                Ok(Outcome::Rejected(r)) => lines.push(r.line),
                Err(_) => failed = true,
            }
        }
        let counts = intake.counts();
        prop_assert_eq!(counts.records, counts.valid + counts.rejected + counts.blank);
        prop_assert_eq!(counts.data_rows(), lines.len() as u64);
        // The reference: header first, then each record in order.
        let mut want_lines = Vec::new();
        let mut want_blank = 0u64;
        let mut want_failed = false;
        for r in reference_records(&bytes).iter().skip(1) {
            match expectation(r) {
                Expect::Row(line) => want_lines.push(line),
                Expect::Blank => want_blank += 1,
                Expect::FileError => {
                    want_failed = true;
                    break;
                }
            }
        }
        prop_assert_eq!(failed, want_failed);
        prop_assert_eq!(lines, want_lines);
        prop_assert_eq!(counts.blank, want_blank);
    }
}

/// What reading `bytes` row by row ends with: the data rows read, or the
/// error that failed the file (as text); `None` when the header fails.
fn full_read(bytes: &[u8]) -> Option<Result<u64, String>> {
    let mut intake = Intake::new(bytes, "fuzz.csv", batch(), FIT).ok()?;
    for item in intake.by_ref() {
        if let Err(e) = item {
            return Some(Err(e.to_string()));
        }
    }
    Some(Ok(intake.read()))
}

/// The same, through the run's check of the file's shape alone.
fn shape_read(bytes: &[u8]) -> Option<Result<u64, String>> {
    let mut intake = Intake::new(bytes, "fuzz.csv", batch(), FIT).ok()?;
    Some(intake.data_rows_to_end().map_err(|e| e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The run's check before it writes anything fails a file exactly when
    /// reading it row by row does, with the same error, and counts the
    /// same data rows (valid and rejected) when it does not.
    #[test]
    fn the_shape_check_fails_and_counts_as_the_full_read_does(
        rows in proptest::collection::vec(0..4usize, 0..6),
        mutations in proptest::collection::vec(mutation(), 0..4),
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = mutated_csv(&rows, &mutations);
        prop_assert_eq!(shape_read(&bytes), full_read(&bytes));
        bytes.extend(tail);
        prop_assert_eq!(shape_read(&bytes), full_read(&bytes));
    }
}

#[test]
fn the_shape_check_finds_a_bad_byte_deep_in_a_file_where_the_full_read_does() {
    let good: Vec<_> = (0..50).map(|_| base_row()).collect();
    let mut bytes = csv_of(&good);
    bytes.extend_from_slice(
        b"IOE0912345699,I-485,2026-11-20,Jos\xe9,,Ruiz,,,1 Elm St,,Reno,NV,89501,en\n",
    );
    bytes.extend(
        csv_of(&[base_row()])
            .split(|&b| b == b'\n')
            .nth(1)
            .unwrap_or_default(),
    );
    let full = full_read(&bytes).expect("header ok");
    assert!(full.is_err(), "{full:?}");
    assert_eq!(shape_read(&bytes), Some(full));
    // And a clean file: every data row counted, blank lines not.
    let mut clean = csv_of(&good);
    clean.extend_from_slice(b"\n,,,,,,,,,,,,,\n");
    assert_eq!(shape_read(&clean), Some(Ok(50)));
    assert_eq!(full_read(&clean), Some(Ok(50)));
}
