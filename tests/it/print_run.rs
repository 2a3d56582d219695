//! `run --letters print`: print files in presort order, as the vendor gets
//! them. Each page range the manifest names holds the right letter, the
//! files pass qpdf and pdffonts, a piece printed in a file can be reprinted
//! and proven, the bytes do not depend on the number of threads, and a run
//! killed at any point then run again ends with every valid filing in
//! exactly one page range of exactly one complete, listed print file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use access_letters::print::{digest_of_letter_pdf, digest_of_pages};
use lopdf::Document;

use crate::support::*;

/// Print files of the fixtures: 46 letters, 10 to a file.
const FIXTURE_PIECES_PER_FILE: &str = "10";

pub(crate) fn print_args(input: &Path, pieces_per_file: &str) -> Vec<String> {
    [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
        "--letters",
        "print",
        "--pieces-per-file",
        pieces_per_file,
    ]
    .map(String::from)
    .to_vec()
}

pub(crate) fn print_fixtures(wd: &Workdir, extra: &[&str]) -> (Output, Batch) {
    let mut args = print_args(&fixtures_csv(), FIXTURE_PIECES_PER_FILE);
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = wd.cmd(args);
    out.expect_code(EXIT_REJECTS);
    let batch = Batch::new(wd.path(out.batch_dir()));
    (out, batch)
}

#[test]
fn fixtures_print_in_presort_order_and_pass_qpdf_and_pdffonts() {
    let wd = Workdir::new();
    let (out, batch) = print_fixtures(&wd, &[]);
    assert_eq!(out.counts().issued, FIXTURE_VALID);
    let order = crate::support::check_print_files(&batch);
    assert_eq!(order.len() as u64, FIXTURE_VALID);
    let manifest_order: Vec<String> = batch
        .manifest()
        .iter()
        .map(|r| r["piece_id"][..13].to_string())
        .collect();
    assert_eq!(order, manifest_order);
    for f in walk(&batch.path("print")) {
        crate::support::qpdf_and_pdffonts_accept(&f);
        let bytes = std::fs::read(&f).unwrap();
        let problems = crate::support::conformance::conformance_problems(&bytes);
        assert!(problems.is_empty(), "{problems:?}");
    }
    // No secret in the manifest or batch.json: codes only on the pages.
    let code = batch.path("print");
    assert!(code.is_dir());
    let summary = String::from_utf8(batch.read("batch.json")).unwrap();
    let manifest = String::from_utf8(batch.read("manifest.csv")).unwrap();
    let first = walk(&batch.path("print"))[0].clone();
    let doc = Document::load(&first).unwrap();
    let text = doc.extract_text(&[1]).unwrap();
    for c in codes_in(&text) {
        assert!(
            !summary.contains(&c) && !manifest.contains(&c),
            "a code leaked"
        );
    }
}

#[test]
fn golden_print_file_matches_byte_for_byte() {
    let wd = Workdir::new();
    let (_, batch) = print_fixtures(&wd, &[]);
    let first = walk(&batch.path("print"))
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("-001.pdf"))
        .unwrap();
    let bytes = std::fs::read(first).unwrap();
    let golden = repo_file("tests/golden/print/fixtures-001.pdf");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &bytes).unwrap();
    }
    let expected = std::fs::read(&golden).expect(
        "tests/golden/print/fixtures-001.pdf: run `UPDATE_GOLDEN=1 cargo test --test it print_run::`",
    );
    assert!(
        bytes == expected,
        "the first print file of the fixtures differs from tests/golden/print/fixtures-001.pdf; \
         if the change is intended run `UPDATE_GOLDEN=1 cargo test --test it print_run::` and review"
    );
}

#[test]
fn a_piece_printed_in_a_file_is_reprinted_and_proven() {
    let wd = Workdir::new();
    let (_, batch) = print_fixtures(&wd, &[]);
    let row = batch.manifest()[17].clone();
    let receipt = &row["piece_id"][..13];
    let out = wd.cmd(["reprint", receipt]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("the letter printed"), "{out:?}");
    let reprint = wd.out().join(format!("reprints/{}.pdf", row["piece_id"]));
    let standalone = digest_of_letter_pdf(&std::fs::read(&reprint).unwrap()).unwrap();
    let doc = Document::load(batch.path(&row["print_file"])).unwrap();
    let ids = page_ids(&doc);
    let first: usize = row["first_page"].parse().unwrap();
    let n: usize = row["pages"].parse().unwrap();
    let printed = digest_of_pages(&doc, &ids[first - 1..first - 1 + n]).unwrap();
    assert_eq!(standalone, printed, "the reprint is the printed letter");
    assert!(out.stdout.contains(printed.as_str()), "{out:?}");
}

/// Until its print file is written, a letter of a print run has nothing
/// printed to prove it by (a run killed before then leaves its rows so):
/// reprint refuses it, and says how to finish the batch.
#[test]
fn a_letter_not_printed_yet_is_not_reprinted() {
    let wd = Workdir::new();
    let (_, batch) = print_fixtures(&wd, &[]);
    let row = batch.manifest()[5].clone();
    let receipt = &row["piece_id"][..13];
    let conn = rusqlite::Connection::open(wd.ledger()).unwrap();
    let changed = conn
        .execute(
            "UPDATE issuances SET proof_kind = 'not-yet-printed', proof_digest = NULL \
             WHERE piece_id = ?1",
            [row["piece_id"].as_str()],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let out = wd.cmd(["reprint", receipt]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("is not printed yet"), "{out:?}");
    assert!(out.stderr.contains(&batch.id()), "names the batch: {out:?}");
    let reprint = wd.out().join(format!("reprints/{}.pdf", row["piece_id"]));
    assert!(!reprint.exists(), "nothing written");
}

#[test]
fn print_files_are_the_same_bytes_on_one_or_two_threads_and_in_both_mode() {
    let snapshots: Vec<BTreeMap<String, String>> = [["--jobs", "1"], ["--jobs", "2"]]
        .iter()
        .map(|extra| {
            let wd = Workdir::new();
            let (_, batch) = print_fixtures(&wd, extra);
            let mut s = snapshot(&batch.path("print"));
            s.insert("manifest".into(), file_sha256(&batch.path("manifest.csv")));
            s
        })
        .collect();
    assert_eq!(snapshots[0], snapshots[1]);
    // `both`: the same print files, and letter files as `pieces` writes them.
    let wd = Workdir::new();
    let mut args = print_args(&fixtures_csv(), FIXTURE_PIECES_PER_FILE);
    args[6] = "both".into();
    let out = wd.cmd(args);
    out.expect_code(EXIT_REJECTS);
    let both = Batch::new(wd.path(out.batch_dir()));
    assert_eq!(
        snapshot(&both.path("print")),
        snapshots[0]
            .iter()
            .filter(|(k, _)| *k != "manifest")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    );
    let pieces_wd = Workdir::new();
    let (_, pieces) = pieces_wd.run_fixtures_as_pieces();
    assert_eq!(
        snapshot(&both.path("letters")),
        snapshot(&pieces.path("letters"))
    );
    assert_eq!(both.summary()["output"], "both");
}

// ---------------------------------------------------------------------------
// Killed, then run again.
// ---------------------------------------------------------------------------

const ROWS: u64 = 400;
const SEED: u64 = 11;
const PIECES_PER_FILE: &str = "40";
const PATIENCE: Duration = Duration::from_secs(60);

fn crash_args(input: &Path) -> Vec<String> {
    let mut args = print_args(input, PIECES_PER_FILE);
    args.extend(["--chunk-size", "16", "--jobs", "2"].map(String::from));
    args
}

/// The batch folder of an uninterrupted print run, as (path -> sha256).
fn reference() -> &'static BTreeMap<String, String> {
    static REFERENCE: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let wd = Workdir::new();
        let input = wd.generate(ROWS, SEED);
        let out = wd.cmd(crash_args(&input));
        out.expect_code(EXIT_REJECTS);
        snapshot(&wd.path(out.batch_dir()))
    })
}

fn ledger_count(ledger: &Path) -> usize {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM issuances", [], |r| r.get::<_, i64>(0))
        .map_or(0, |n| n as usize)
}

/// Ledger rows without the digest of what was printed.
fn unproven_count(ledger: &Path) -> usize {
    let conn =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(
        "SELECT count(*) FROM issuances WHERE proof_kind <> 'content-sha256'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

fn print_files_on_disk(batch_dir: &Path) -> usize {
    std::fs::read_dir(batch_dir.join("print")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".pdf"))
        })
        .count()
    })
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

fn kill_then_rerun(what: &str, mut ready: impl FnMut(&Workdir, &Path) -> bool) {
    let reference = reference();
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));
    let mut child: Child = wd
        .command(crash_args(&input))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reached = wait_until(PATIENCE, || {
        ready(&wd, &batch_dir) || child.try_wait().unwrap().is_some()
    });
    assert!(reached, "{what}: the run neither got there nor finished");
    let early = child.try_wait().unwrap();
    assert!(
        early.is_none(),
        "{what}: finished ({early:?}) before the kill"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !batch_dir.join("batch.json").exists(),
        "{what}: killed, yet complete"
    );
    eprintln!(
        "{what}: killed with {} ledger rows, {} print files",
        ledger_count(&wd.ledger()),
        print_files_on_disk(&batch_dir)
    );

    let out = wd.cmd(crash_args(&input));
    out.expect_code(EXIT_REJECTS);
    let batch = Batch::new(batch_dir.clone());
    out.counts().assert_add_up();
    assert_eq!(out.counts().read, ROWS);
    let order = crate::support::check_print_files(&batch);
    let unique: BTreeSet<&String> = order.iter().collect();
    assert_eq!(unique.len(), order.len(), "{what}: a receipt printed twice");
    assert_eq!(order.len() as u64, out.counts().issued);
    assert_eq!(ledger_count(&wd.ledger()), order.len());
    assert_eq!(
        unproven_count(&wd.ledger()),
        0,
        "{what}: every letter's print is recorded"
    );
    assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new(), "{what}");
    assert_eq!(
        &snapshot(&batch_dir),
        reference,
        "{what}: same bytes as uninterrupted"
    );
}

#[test]
fn killed_while_issuing_then_run_again() {
    kill_then_rerun("issuing", |wd, _| ledger_count(&wd.ledger()) >= 100);
}

#[test]
fn killed_while_writing_print_files_then_run_again() {
    kill_then_rerun("first print file", |_, dir| print_files_on_disk(dir) >= 1);
    kill_then_rerun("later print files", |_, dir| print_files_on_disk(dir) >= 5);
}

#[test]
fn killed_while_starting_then_run_again() {
    let start = std::time::Instant::now();
    kill_then_rerun("starting", move |_, _| {
        start.elapsed() >= Duration::from_millis(30)
    });
}

#[test]
fn a_complete_print_batch_run_again_as_pieces_is_refused_not_called_complete() {
    let wd = Workdir::new();
    let (_, batch) = print_fixtures(&wd, &[]);
    let before = snapshot(&batch.dir);
    let mut args = print_args(&fixtures_csv(), FIXTURE_PIECES_PER_FILE);
    args[6] = "pieces".into();
    let out = wd.cmd(args);
    out.expect_code(EXIT_FAILED);
    // The thing, and the flag that changes the answer.
    assert!(
        out.all().contains("--letters: batch")
            && out
                .all()
                .contains("written in print mode; it was not made again in pieces mode"),
        "{out:?}"
    );
    assert_eq!(snapshot(&batch.dir), before, "nothing changed");
}

#[test]
fn a_complete_print_batch_run_again_with_another_file_size_is_refused() {
    let wd = Workdir::new();
    let (_, batch) = print_fixtures(&wd, &[]);
    let before = snapshot(&batch.dir);
    let other = (FIXTURE_PIECES_PER_FILE.parse::<u64>().unwrap() + 1).to_string();
    let out = wd.cmd(print_args(&fixtures_csv(), &other));
    out.expect_code(EXIT_FAILED);
    assert!(
        out.all()
            .contains(&format!("print files of {FIXTURE_PIECES_PER_FILE} pieces")),
        "{out:?}"
    );
    assert_eq!(snapshot(&batch.dir), before, "nothing changed");
    // The same size again is the same complete batch.
    let again = wd.cmd(print_args(&fixtures_csv(), FIXTURE_PIECES_PER_FILE));
    again.expect_code(EXIT_REJECTS);
    assert_eq!(snapshot(&batch.dir), before, "nothing changed");
}

/// A print run counts a letter's pages when it draws it (nothing is laid
/// out when it is issued): every manifest row's pages, from its first page,
/// are exactly its letter in its print file (the ledger's digest of what
/// was printed), the ledger holds the same count, and the files hold no
/// other page.
#[test]
fn each_letters_pages_are_counted_as_printed() {
    let wd = Workdir::new();
    // English letters grow onto a second page; Spanish ones stay on one.
    let templates = wd.path("templates");
    std::fs::create_dir_all(&templates).unwrap();
    for lang in ["en", "es"] {
        let name = format!("letter.{lang}.tera");
        let text = std::fs::read_to_string(repo_file(&format!("templates/{name}"))).unwrap();
        let filler: String = match lang {
            "en" => (1..=30)
                .map(|i| format!("Added paragraph {i}.\n\n"))
                .collect(),
            _ => String::new(),
        };
        assert!(text.contains("\n@code-box\n"), "{name}");
        let edited = text.replacen("\n@code-box\n", &format!("\n{filler}@code-box\n"), 1);
        std::fs::write(templates.join(&name), edited).unwrap();
    }
    let (_, batch) = print_fixtures(&wd, &["--templates", templates.to_str().unwrap()]);
    let conn = rusqlite::Connection::open(wd.ledger()).unwrap();
    let mut docs: BTreeMap<String, (Document, usize)> = BTreeMap::new();
    let rows = batch.manifest();
    for row in &rows {
        let (digest, pages): (String, u32) = conn
            .query_row(
                "SELECT proof_digest, pages FROM issuances WHERE piece_id = ?1",
                [row["piece_id"].as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let n: usize = row["pages"].parse().unwrap();
        assert_eq!(n, pages as usize, "{}", row["piece_id"]);
        assert!(n >= 1, "{}", row["piece_id"]);
        let (doc, used) = docs
            .entry(row["print_file"].clone())
            .or_insert_with(|| (Document::load(batch.path(&row["print_file"])).unwrap(), 0));
        let ids = page_ids(doc);
        let first: usize = row["first_page"].parse().unwrap();
        let printed = digest_of_pages(doc, &ids[first - 1..first - 1 + n]).unwrap();
        assert_eq!(printed.as_str(), digest, "{}", row["piece_id"]);
        *used += n;
    }
    for (file, (doc, used)) in &docs {
        assert_eq!(
            page_ids(doc).len(),
            *used,
            "{file} holds only its letters' pages"
        );
    }
    let counts: BTreeSet<&str> = rows.iter().map(|r| r["pages"].as_str()).collect();
    assert_eq!(
        counts,
        BTreeSet::from(["1", "2"]),
        "letters of one and two pages"
    );
}
