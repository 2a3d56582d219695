//! A work folder for the integration tests, in the style of xsv's
//! `tests/workdir.rs`: each test gets a fresh temporary folder, writes its
//! inputs there, runs the real `access-letters` binary and reads back what
//! it wrote (batch folders, manifest, rejects, batch.json, letters, ledger).
//!
//! Commands get `--out <tmp>/output` and `--key fixtures/test.key` unless the
//! test names them itself, so every run is isolated from the others and from
//! the developer's own `output/`. Nothing else is added: a `run` that names
//! no mode makes print files, as the nightly script's does; a test of another
//! mode names it (`--letters pieces`) and says so in its name. A `run` given a date also gets
//! `--allow-any-date`, since the fixtures are dated [`BATCH_DATE`] whatever
//! the day the tests run on. Every command's stdout and stderr are kept
//! in a transcript, so a test can check that no secret was ever printed.

pub mod conformance;
pub mod ledger_case;
pub mod pdf;
pub mod pg;
pub mod sshd;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_access-letters");

/// The batch date the fixtures are written for.
pub const BATCH_DATE: &str = "2026-11-25";

/// Exit statuses the CLI promises.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_REJECTS: i32 = 2;
pub const EXIT_NOT_VALID: i32 = 3;
pub const EXIT_NO_FILINGS: i32 = 4;

/// Rows in `fixtures/filings.csv`: 46 valid, 14 rejected.
pub const FIXTURE_ROWS: u64 = 60;
pub const FIXTURE_VALID: u64 = 46;
pub const FIXTURE_REJECTED: u64 = 14;

/// Is this a CI run? `.ci/run` sets `CI` (as most CI services do); there
/// every tool the tests use is installed and a PostgreSQL server is running.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// What a CI run does about a part of a test this machine cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InCi {
    /// CI provides what the part needs (`.ci/run` installs the tools and
    /// starts a PostgreSQL server), so a CI run that lacks it fails: a run
    /// that skipped the part would pass without testing it.
    Fails,
    /// What is missing is a permission a CI container may not have (to
    /// mount a filesystem, say): skipped there too, and said so.
    Skips,
}

/// The one way a test skips a part: `part` says what was not tested and
/// `why` what is missing and how to get it. The line goes to the terminal
/// even when the test's output is captured (libtest captures `println!` and
/// `eprintln!`, not writes to the stderr handle), so `cargo test` shows
/// every skip without `--nocapture`; each line once per run. Under CI (see
/// [`under_ci`]) a part marked [`InCi::Fails`] fails the test instead.
#[track_caller]
pub fn skip(part: &str, why: &str, in_ci: InCi) {
    use std::io::Write;
    use std::sync::Mutex;
    if in_ci == InCi::Fails && under_ci() {
        panic!("{part} cannot run: {why}. CI (the CI variable is set) must run it, not skip it");
    }
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let line = format!("SKIPPED {part}: {why}");
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&line) {
        let _ = writeln!(std::io::stderr(), "{line}");
        said.push(line);
    }
}

/// Runs an external tool, or skips (see [`skip`]) the part that needs it
/// when the tool is not installed: `install` says how to get it.
#[track_caller]
pub fn tool(
    name: &str,
    args: &[&OsStr],
    part: &str,
    install: &str,
) -> Option<std::process::Output> {
    match Command::new(name).args(args).stdin(Stdio::null()).output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip(
                part,
                &format!("`{name}` is not installed ({install}; .ci/run installs it)"),
                InCi::Fails,
            );
            None
        }
        Err(e) => panic!("running {name}: {e}"),
    }
}

/// `qpdf --check` and `pdffonts` on a PDF: the structure is sound and
/// every font is embedded. Skipped (see [`skip`]) where the tools are not
/// installed; the in-process checks of each test still run.
#[track_caller]
pub fn qpdf_and_pdffonts_accept(path: &Path) {
    let part = "the qpdf and pdffonts cross-checks";
    let show = path.display();
    if let Some(out) = tool(
        "qpdf",
        &[OsStr::new("--check"), path.as_os_str()],
        part,
        "apt-get install qpdf",
    ) {
        assert!(
            out.status.success(),
            "qpdf --check {show}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(out) = tool(
        "pdffonts",
        &[path.as_os_str()],
        part,
        "apt-get install poppler-utils",
    ) {
        assert!(out.status.success(), "pdffonts {show} failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert!(!rows.is_empty(), "pdffonts lists no fonts in {show}");
        for row in rows {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // name type encoding emb sub uni object ID
            assert_eq!(cols[cols.len() - 5], "yes", "not embedded in {show}: {row}");
        }
    }
}

/// A file of the repository (`fixtures/filings.csv`, ...).
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn fixtures_csv() -> PathBuf {
    repo_file("fixtures/filings.csv")
}

/// The shipped agency.toml with mailer ID 123456, so letters carry an
/// Intelligent Mail barcode and the manifest its tracking code.
pub fn mailer_config(w: &Workdir) -> PathBuf {
    let text = std::fs::read_to_string(repo_file("templates/agency.toml")).unwrap();
    let text = text.replace("mailer_id = \"\"", "mailer_id = \"123456\"");
    assert!(text.contains("mailer_id = \"123456\""));
    w.write("agency.toml", text)
}

pub fn test_key() -> PathBuf {
    repo_file("fixtures/test.key")
}

/// Subcommands that take `--out DIR` (batch folders) and `--key FILE`.
const TAKES_OUT_AND_KEY: &[&str] = &["run", "reprint", "reissue", "verify", "redeem"];
/// Subcommands that take `--out DIR` only.
const TAKES_OUT: &[&str] = &["status", "revoke", "ingest", "deliver"];
/// Subcommands that take `--key FILE` only (they write one file, `--to`).
const TAKES_KEY: &[&str] = &["preview"];

/// What a command did.
#[derive(Clone)]
pub struct Output {
    pub args: String,
    /// Exit status; -1 when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n$ access-letters {}\nexit {}\n--- stdout\n{}--- stderr\n{}---",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Asserts the exit status, showing the whole output when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, code, "unexpected exit status:{self:?}");
        self
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The batch folder named on the `output: DIR` line of `run`.
    #[track_caller]
    pub fn batch_dir(&self) -> PathBuf {
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("output: "))
            .unwrap_or_else(|| panic!("no `output:` line:{self:?}"));
        PathBuf::from(line.trim())
    }

    /// The counts on `run`'s summary line:
    /// `read N = issued N + already issued N + rejected N`.
    #[track_caller]
    pub fn counts(&self) -> Counts {
        let line = self
            .stdout
            .lines()
            .find(|l| l.contains(": read "))
            .unwrap_or_else(|| panic!("no counts line:{self:?}"));
        let after = |label: &str| -> u64 {
            let rest = &line[line
                .find(label)
                .unwrap_or_else(|| panic!("no '{label}' in {line:?}"))
                + label.len()..];
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no number after '{label}' in {line:?}"))
        };
        Counts {
            read: after(": read "),
            issued: after("= issued "),
            already_issued: after("+ already issued "),
            rejected: after("+ rejected "),
        }
    }
}

/// Row counts of a batch, from stdout or from batch.json.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub issued: u64,
    pub already_issued: u64,
    pub rejected: u64,
}

impl Counts {
    #[track_caller]
    pub fn assert_add_up(&self) {
        assert_eq!(
            self.read,
            self.issued + self.already_issued + self.rejected,
            "counts do not add up: {self:?}"
        );
    }
}

/// A fresh temporary folder holding the inputs and `output/` of one test.
pub struct Workdir {
    dir: tempfile::TempDir,
    transcript: RefCell<Vec<Output>>,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    pub fn new() -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("access-letters-it-")
            .tempdir()
            .expect("a temporary folder");
        Workdir {
            dir,
            transcript: RefCell::new(Vec::new()),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the work folder.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root().join(rel)
    }

    /// The folder for batch folders passed as `--out`.
    pub fn out(&self) -> PathBuf {
        self.path("output")
    }

    /// The ledger: `--out`'s default, `OUT/ledger.sqlite`.
    pub fn ledger(&self) -> PathBuf {
        self.out().join("ledger.sqlite")
    }

    /// Writes an input file and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(&p, contents).unwrap();
        p
    }

    /// The binary with `args`, plus `--out` and `--key` for the subcommands
    /// that take them, unless `args` already names them.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command_with(self.out(), args)
    }

    /// As [`Workdir::command`], with another `--out` folder.
    pub fn command_with<I, S>(&self, out: PathBuf, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let sub = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let wants_out =
            TAKES_OUT_AND_KEY.contains(&sub.as_str()) || TAKES_OUT.contains(&sub.as_str());
        let wants_key =
            TAKES_OUT_AND_KEY.contains(&sub.as_str()) || TAKES_KEY.contains(&sub.as_str());
        let (add_out, add_key) = (wants_out && !has("--out"), wants_key && !has("--key"));
        let dated = has("--date") || has("--batch-date");
        if sub == "run" && dated && !has("--allow-any-date") {
            args.push("--allow-any-date".into());
        }
        if add_out {
            args.push("--out".into());
            args.push(out.into());
        }
        if add_key {
            args.push("--key".into());
            args.push(test_key().into());
        }
        let mut cmd = Command::new(BIN);
        cmd.args(&args)
            .current_dir(self.root())
            .env_remove("ACCESS_LETTERS_LOG")
            .env_remove("ACCESS_LETTERS_LEDGER")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a prepared command to the end and keeps its output.
    pub fn output(&self, cmd: &mut Command) -> Output {
        let args = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let out = cmd.output().expect("the binary runs");
        let output = Output {
            args,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        };
        self.transcript.borrow_mut().push(output.clone());
        output
    }

    /// Runs the binary with `args` (and the default `--out`/`--key`).
    pub fn cmd<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.output(&mut self.command(args))
    }

    /// `run` over `input` on the fixtures' batch date.
    pub fn run(&self, input: &Path) -> Output {
        self.cmd([
            OsStr::new("run"),
            OsStr::new("--input"),
            input.as_os_str(),
            OsStr::new("--batch-date"),
            OsStr::new(BATCH_DATE),
        ])
    }

    /// `run` over `fixtures/filings.csv` with the key file `key`.
    pub fn run_fixtures_with_key(&self, key: &Path) -> Output {
        self.cmd([
            OsStr::new("run"),
            OsStr::new("--input"),
            fixtures_csv().as_os_str(),
            OsStr::new("--batch-date"),
            OsStr::new(BATCH_DATE),
            OsStr::new("--key"),
            key.as_os_str(),
        ])
    }

    /// `run` over `fixtures/filings.csv` in the default mode (print files),
    /// which must finish with rejects; returns the output and the batch.
    #[track_caller]
    pub fn run_fixtures(&self) -> (Output, Batch) {
        self.run_fixtures_with(&[])
    }

    /// `run` over `fixtures/filings.csv` in pieces mode (one PDF per
    /// letter, `letters/<piece>.pdf`), for the tests about those files.
    #[track_caller]
    pub fn run_fixtures_as_pieces(&self) -> (Output, Batch) {
        self.run_fixtures_with(&["--letters", "pieces"])
    }

    /// As [`Workdir::run_fixtures`], with more arguments.
    #[track_caller]
    pub fn run_fixtures_with(&self, extra: &[&str]) -> (Output, Batch) {
        let input = fixtures_csv();
        let mut args = vec![
            "run",
            "--input",
            input.to_str().unwrap(),
            "--batch-date",
            BATCH_DATE,
        ];
        args.extend(extra);
        let out = self.cmd(args);
        out.expect_code(EXIT_REJECTS);
        let batch = Batch::new(self.path(out.batch_dir()));
        (out, batch)
    }

    /// Every command run so far, in order.
    pub fn transcript(&self) -> Vec<Output> {
        self.transcript.borrow().clone()
    }

    /// Batch folders under `output/` (folders other than `reprints`).
    pub fn batch_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.out()) else {
            return Vec::new();
        };
        let mut dirs: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir() && p.file_name() != Some(OsStr::new("reprints")))
            .collect();
        dirs.sort();
        dirs
    }

    /// `gen-fixtures --rows N --seed S` into the work folder.
    #[track_caller]
    pub fn generate(&self, rows: u64, seed: u64) -> PathBuf {
        let path = self.path(format!("generated-{rows}-{seed}.csv"));
        self.cmd([
            "gen-fixtures",
            "--rows",
            &rows.to_string(),
            "--seed",
            &seed.to_string(),
            "--to",
            path.to_str().unwrap(),
        ])
        .expect_code(EXIT_OK);
        path
    }

    /// Makes a production key with `keygen` and returns its path.
    #[track_caller]
    pub fn production_key(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        self.cmd([OsStr::new("keygen"), OsStr::new("--to"), path.as_os_str()])
            .expect_code(EXIT_OK);
        path
    }
}

/// One batch folder: `letters/`, `manifest.csv`, `rejects.csv`, `batch.json`.
#[derive(Clone, Debug)]
pub struct Batch {
    pub dir: PathBuf,
}

/// A CSV row by column name.
pub type Row = BTreeMap<String, String>;

impl Batch {
    pub fn new(dir: PathBuf) -> Batch {
        assert!(dir.is_dir(), "no batch folder {}", dir.display());
        Batch { dir }
    }

    pub fn id(&self) -> String {
        self.dir.file_name().unwrap().to_string_lossy().into_owned()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn is_complete(&self) -> bool {
        self.path("batch.json").exists()
    }

    /// `batch.json`.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_slice(&self.read("batch.json")).expect("batch.json is JSON")
    }

    /// The counts in `batch.json`.
    pub fn counts(&self) -> Counts {
        let s = self.summary();
        let n = |k: &str| {
            s["counts"][k]
                .as_u64()
                .unwrap_or_else(|| panic!("counts.{k}"))
        };
        Counts {
            read: n("read"),
            issued: n("issued"),
            already_issued: n("already_issued"),
            rejected: n("rejected"),
        }
    }

    pub fn manifest(&self) -> Vec<Row> {
        read_csv(&self.path("manifest.csv"))
    }

    pub fn rejects(&self) -> Vec<Row> {
        read_csv(&self.path("rejects.csv"))
    }

    /// What `run` was asked to write, as batch.json records it: `print`
    /// (the default), `pieces` or `both`.
    pub fn mode(&self) -> String {
        let s = self.summary();
        s["output"]
            .as_str()
            .unwrap_or_else(|| panic!("batch.json has no output mode: {s}"))
            .to_string()
    }

    /// Letter files, relative to the batch folder (`letters/X.pdf`), sorted.
    /// Only a batch with letter files may ask (pieces or both mode): in
    /// print mode a loop over them would check nothing; use
    /// [`Batch::codes`] or [`Batch::letter_text_for`], which read either.
    #[track_caller]
    pub fn letter_files(&self) -> Vec<String> {
        if self.is_complete() && !self.summary()["output"].is_null() {
            let mode = self.mode();
            assert_ne!(
                mode,
                "print",
                "{}: a print batch has no letter files",
                self.dir.display()
            );
        }
        let Ok(entries) = fs::read_dir(self.path("letters")) else {
            return Vec::new();
        };
        let mut v: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".pdf") && !n.starts_with('.'))
            .map(|n| format!("letters/{n}"))
            .collect();
        v.sort();
        v
    }

    /// The text of a letter (`letters/X.pdf`).
    pub fn letter_text(&self, rel: &str) -> String {
        pdf_text(&self.read(rel))
    }

    /// The access code printed on a letter.
    #[track_caller]
    pub fn letter_code(&self, rel: &str) -> String {
        letter_code(&self.read(rel))
    }

    /// The manifest row of a receipt's letter.
    #[track_caller]
    pub fn row_for(&self, receipt: &str) -> Row {
        self.manifest()
            .into_iter()
            .find(|r| r["piece_id"].starts_with(&format!("{receipt}-")))
            .unwrap_or_else(|| panic!("{receipt} is not in {}", self.dir.display()))
    }

    /// The text of a manifest row's letter, whatever the mode: its own PDF
    /// (`file`) when it has one, else its page range of its print file.
    #[track_caller]
    pub fn row_text(&self, row: &Row) -> String {
        if !row["file"].is_empty() {
            return self.letter_text(&row["file"]);
        }
        let file = &row["print_file"];
        assert!(!file.is_empty(), "a manifest row with no letter: {row:?}");
        let first: u32 = row["first_page"].parse().expect("first_page");
        let pages: u32 = row["pages"].parse().expect("pages");
        pdf_pages_text(&self.read(file), first..first + pages)
    }

    /// The digest of the page content of a receipt's letter as printed in
    /// its print file (what the ledger records of a letter in print mode,
    /// and what `reprint` proves a reprint by).
    #[track_caller]
    pub fn printed_digest_for(&self, receipt: &str) -> String {
        let row = self.row_for(receipt);
        let file = &row["print_file"];
        assert!(!file.is_empty(), "{receipt} is in no print file: {row:?}");
        let doc = lopdf::Document::load(self.path(file)).unwrap();
        let ids = page_ids(&doc);
        let first: usize = row["first_page"].parse().unwrap();
        let n: usize = row["pages"].parse().unwrap();
        access_letters::print::digest_of_pages(&doc, &ids[first - 1..first - 1 + n])
            .expect("the printed pages have a digest")
            .to_string()
    }

    /// The text of a receipt's letter in this batch, whatever the mode.
    #[track_caller]
    pub fn letter_text_for(&self, receipt: &str) -> String {
        self.row_text(&self.row_for(receipt))
    }

    /// The access code on a receipt's letter in this batch, whatever the mode.
    #[track_caller]
    pub fn code_for(&self, receipt: &str) -> String {
        one_code(&self.letter_text_for(receipt))
    }

    /// The code of every letter of the batch, in manifest order, whatever
    /// the mode.
    #[track_caller]
    pub fn all_codes(&self) -> Vec<String> {
        self.codes().into_iter().map(|(_, c)| c).collect()
    }

    /// Every letter of the batch as (piece id, the one code it carries), in
    /// manifest order, whatever the mode.
    #[track_caller]
    pub fn codes(&self) -> Vec<(String, String)> {
        let rows = self.manifest();
        assert!(!rows.is_empty(), "{}: no letters", self.dir.display());
        rows.iter()
            .map(|r| {
                let text = self.row_text(r);
                let code = one_code(&text);
                // The search a leak check uses finds the code on its letter.
                assert!(
                    contains_bytes(text.as_bytes(), code.as_bytes()),
                    "control: {code} not found in the text of {}",
                    r["piece_id"]
                );
                (r["piece_id"].clone(), code)
            })
            .collect()
    }
}

pub fn read_csv(path: &Path) -> Vec<Row> {
    // Flexible: a rejects file keeps the extra cells of a row longer than
    // its header.
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn file_sha256(path: &Path) -> String {
    sha256_hex(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The batch id `run` gives an input on a date: the date and the first six
/// hex digits of the file's SHA-256.
pub fn expected_batch_id(input: &Path, date: &str) -> String {
    format!("{date}-{}", &file_sha256(input)[..6])
}

/// Every file under `dir`, by path relative to `dir`, with its SHA-256.
///
/// `report.html` is hashed without its stage times, and
/// `batch.json` without its `ledger_id` line: that id is the
/// identity of the ledger (random when the ledger is made), so two runs of
/// one input into two ledgers differ there and only there.
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in walk(dir) {
        if p.is_file() {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let hash = if p.file_name().is_some_and(|n| n == "report.html") {
                // Stage times differ from run to run; the rest must not.
                let text = fs::read_to_string(&p).unwrap();
                let kept = match (text.find("<!--timings-->"), text.find("<!--/timings-->")) {
                    (Some(a), Some(b)) => format!("{}{}", &text[..a], &text[b..]),
                    _ => text,
                };
                sha256_hex(kept.as_bytes())
            } else if p.file_name().is_some_and(|n| n == "batch.json") {
                let text = fs::read_to_string(&p).unwrap();
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("\"ledger_id\""))
                    .collect();
                sha256_hex(kept.join("\n").as_bytes())
            } else {
                file_sha256(&p)
            };
            out.insert(rel, hash);
        }
    }
    out
}

/// Every file and folder under `dir` (not `dir` itself), depth first.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        let is_dir = fs::symlink_metadata(&p).unwrap().is_dir();
        out.push(p.clone());
        if is_dir {
            out.extend(walk(&p));
        }
    }
    out
}

/// The text of every page of a PDF, page after page.
pub fn pdf_text(bytes: &[u8]) -> String {
    // Read through `read_pdf`, which draws the forms a page places (lopdf's
    // own extraction does not look inside them).
    let pages = pdf::read_pdf(bytes);
    assert!(!pages.is_empty(), "a PDF without pages");
    pages.into_iter().map(|p| p.text).collect()
}

/// Every `XXXX-XXXX-XXXX` group in `text` (0-9, A-Z), standing alone: not
/// part of a longer run of letters, digits or hyphens.
pub fn codes_in(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let sym = |c: char| c.is_ascii_digit() || c.is_ascii_uppercase();
    let joined = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let mut found = Vec::new();
    let mut i = 0;
    while i + 14 <= chars.len() {
        let w = &chars[i..i + 14];
        let shape = w
            .iter()
            .enumerate()
            .all(|(k, &c)| if k == 4 || k == 9 { c == '-' } else { sym(c) });
        let before_ok = i == 0 || !joined(chars[i - 1]);
        let after_ok = chars.get(i + 14).is_none_or(|&c| !joined(c));
        if shape && before_ok && after_ok {
            found.push(w.iter().collect());
            i += 14;
        } else {
            i += 1;
        }
    }
    found
}

/// The digest of the page content of a standalone letter (a reprint, a
/// letter file): equal to [`Batch::printed_digest_for`] when it is the
/// letter printed.
pub fn letter_digest(pdf: &[u8]) -> String {
    access_letters::print::digest_of_letter_pdf(pdf)
        .expect("a letter lopdf can read")
        .to_string()
}

/// The text of some pages of a PDF (numbered from 1), page after page.
pub fn pdf_pages_text(bytes: &[u8], pages: std::ops::Range<u32>) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf can read");
    let numbers: Vec<u32> = pages.collect();
    let count = doc.get_pages().len() as u32;
    assert!(
        !numbers.is_empty() && numbers.iter().all(|&n| n >= 1 && n <= count),
        "pages {numbers:?} of a PDF of {count}"
    );
    drop(doc);
    pdf::read_pdf_pages(bytes, &numbers)
        .into_iter()
        .map(|p| p.text)
        .collect()
}

/// The one access code printed on a letter (it may be printed more than once).
#[track_caller]
pub fn letter_code(pdf: &[u8]) -> String {
    one_code(&pdf_text(pdf))
}

/// The one access code in a letter's text (it may be printed more than once).
#[track_caller]
pub fn one_code(text: &str) -> String {
    let codes: BTreeSet<String> = codes_in(text).into_iter().collect();
    assert_eq!(
        codes.len(),
        1,
        "expected one access code in the letter, found {codes:?}:\n{text}"
    );
    codes.into_iter().next().unwrap()
}

/// The ways a code could show up if it leaked: as printed, without hyphens,
/// with spaces, in lower case.
pub fn code_forms(code: &str) -> Vec<String> {
    let bare: String = code.chars().filter(|c| *c != '-').collect();
    let spaced = code.replace('-', " ");
    let mut forms = vec![code.to_string(), bare.clone(), spaced.clone()];
    forms.extend([code, &bare, &spaced].map(|s| s.to_lowercase()));
    forms
}

/// Asserts that none of `codes`, in any form [`code_forms`] lists, is in
/// `haystack` (`what` names it). `codes` come from letters (their text
/// read back), so each is known to be where it belongs. First a positive
/// control: the same search, run on `haystack` with each form of the first
/// code written into it, finds it; so this check can fail, and its passing
/// means the codes are absent, not that the search is blind.
#[track_caller]
pub fn assert_no_code_in(codes: &[String], haystack: &[u8], what: &str) {
    assert!(!codes.is_empty(), "no codes to look for in {what}");
    let found = |bytes: &[u8], code: &str| {
        code_forms(code)
            .into_iter()
            .find(|f| contains_bytes(bytes, f.as_bytes()))
    };
    for form in code_forms(&codes[0]) {
        let mut planted = haystack.to_vec();
        planted.extend(format!(" {form} ").as_bytes());
        assert!(
            found(&planted, &codes[0]).is_some(),
            "control: the search misses {form:?} written into {what}"
        );
    }
    for code in codes {
        if let Some(form) = found(haystack, code) {
            panic!("code {code} appears as {form:?} in {what}");
        }
    }
}

/// Asserts that no needle (a secret, a name, a form of a code) is in
/// `haystack` (`what` names it), after a positive control: each needle
/// written into a copy of `haystack` is found by the same search. Callers
/// also show each needle is found where it belongs (a code in its letter,
/// a password in the URL given), so a pass means absent, not unseen.
#[track_caller]
pub fn assert_none_in(needles: &[String], haystack: &[u8], what: &str) {
    assert!(!needles.is_empty(), "nothing to look for in {what}");
    for needle in needles {
        assert!(!needle.is_empty(), "an empty needle for {what}");
        let mut planted = haystack.to_vec();
        planted.extend(format!(" {needle} ").as_bytes());
        assert!(
            contains_bytes(&planted, needle.as_bytes()),
            "control: the search misses {needle:?} written into {what}"
        );
    }
    for needle in needles {
        assert!(
            !contains_bytes(haystack, needle.as_bytes()),
            "{needle:?} appears in {what}"
        );
    }
}

/// Does `haystack` contain `needle`?
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Unix permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// One character of a code changed to another symbol of the alphabet.
pub fn mistype(code: &str, position: usize) -> String {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut chars: Vec<char> = code.chars().collect();
    let idx = chars
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != '-')
        .nth(position)
        .map(|(i, _)| i)
        .expect("position inside the code");
    let at = ALPHABET.find(chars[idx]).expect("a code symbol");
    chars[idx] = ALPHABET.as_bytes()[(at + 1) % ALPHABET.len()] as char;
    chars.into_iter().collect()
}

/// Polls `f` every few milliseconds until it returns true or `timeout`
/// passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Counts issuances in a ledger file, opened directly with SQLite.
pub fn ledger_rows(ledger: &Path) -> Vec<LedgerRow> {
    let conn = rusqlite::Connection::open(ledger).expect("the ledger opens");
    let mut stmt = conn
        .prepare(
            "SELECT receipt, issue_no, piece_id, batch_id, \
             CASE proof_kind WHEN 'content-sha256' THEN 'content-sha256:' || proof_digest \
                  WHEN 'file-sha256' THEN proof_digest ELSE proof_kind END, status \
             FROM issuances ORDER BY receipt, issue_no",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(LedgerRow {
            receipt: r.get(0)?,
            issue_no: r.get(1)?,
            piece_id: r.get(2)?,
            batch_id: r.get(3)?,
            letter_sha256: r.get(4)?,
            status: r.get(5)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    pub receipt: String,
    pub issue_no: u32,
    pub piece_id: String,
    pub batch_id: String,
    pub letter_sha256: String,
    pub status: String,
}

/// "1 row", "2 rows": how the CLI counts things in its messages.
pub fn counted(n: impl TryInto<u64>, one: &str, many: &str) -> String {
    let n: u64 = n.try_into().ok().expect("a count");
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Today, as the binary's clock sees it: the date in the agency's time
/// zone (`[agency] time_zone` of the shipped agency.toml), not the host's.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
}

/// Moves the audit time of every issuance in `ledger` back by `hours`, as if
/// its letters had been recorded that long ago: the reissue policy counts
/// real time, so this is how a test lets time pass.
pub fn age_ledger(ledger: &Path, hours: i64) {
    let conn = rusqlite::Connection::open(ledger).expect("the ledger opens");
    conn.execute(
        "UPDATE issuances SET recorded_at = \
         strftime('%Y-%m-%dT%H:%M:%fZ', recorded_at, ?1)",
        [format!("-{hours} hours")],
    )
    .expect("the audit times move");
}

/// The page ids of a PDF, in order.
pub fn page_ids(doc: &lopdf::Document) -> Vec<lopdf::ObjectId> {
    doc.get_pages().into_values().collect()
}

/// Checks every print file of `batch` against `batch.json` and the
/// manifest: listed files are exactly the files there, complete, with their
/// SHA-256; every manifest row names a page range of one file; the ranges
/// of a file follow each other from page 1 to its last page. Returns the
/// receipts in print order.
pub fn check_print_files(batch: &Batch) -> Vec<String> {
    let summary = batch.summary();
    assert_eq!(summary["output"], "print");
    let listed = summary["print_files"].as_array().expect("print_files");
    let on_disk: BTreeSet<String> = walk(&batch.path("print"))
        .iter()
        .map(|p| format!("print/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    let names: BTreeSet<String> = listed
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        on_disk, names,
        "the print folder holds exactly the listed files"
    );
    assert!(
        !batch.path("letters").exists(),
        "print mode writes no letter files"
    );
    let manifest = batch.manifest();
    let mut order = Vec::new();
    let (mut pieces, mut pages) = (0u64, 0u64);
    for f in listed {
        let path = f["path"].as_str().unwrap();
        assert_eq!(file_sha256(&batch.path(path)), f["sha256"], "{path}");
        let doc = lopdf::Document::load(batch.path(path)).unwrap();
        let ids = page_ids(&doc);
        assert_eq!(ids.len() as u64, f["pages"].as_u64().unwrap(), "{path}");
        let rows: Vec<&Row> = manifest
            .iter()
            .filter(|r| r["print_file"] == path)
            .collect();
        assert_eq!(rows.len() as u64, f["pieces"].as_u64().unwrap(), "{path}");
        assert_eq!(rows[0]["zip5"], f["first_zip"].as_str().unwrap());
        assert_eq!(
            rows[rows.len() - 1]["zip5"],
            f["last_zip"].as_str().unwrap()
        );
        let mut next = 1usize;
        for r in rows {
            let first: usize = r["first_page"].parse().unwrap();
            let n: usize = r["pages"].parse().unwrap();
            assert_eq!(
                first, next,
                "{path}: {} starts where the last ended",
                r["piece_id"]
            );
            let numbers: Vec<u32> = (first as u32..(first + n) as u32).collect();
            let text = doc.extract_text(&numbers).unwrap();
            let receipt = &r["piece_id"][..13];
            assert!(text.contains(receipt), "{path} p{first}: not {receipt}");
            for word in r["recipient_name"].split_whitespace() {
                assert!(
                    text.contains(word),
                    "{path} p{first}: no {word} for {receipt}"
                );
            }
            order.push(receipt.to_string());
            next += n;
        }
        assert_eq!(next - 1, ids.len(), "{path}: the ranges cover every page");
        pieces += f["pieces"].as_u64().unwrap();
        pages += f["pages"].as_u64().unwrap();
    }
    assert_eq!(pieces, summary["letters"].as_u64().unwrap());
    assert_eq!(pages, summary["pages"].as_u64().unwrap());
    let zips: Vec<&String> = manifest.iter().map(|r| &r["zip5"]).collect();
    assert!(zips.windows(2).all(|w| w[0] <= w[1]), "presort order");
    order
}
