//! The shape of `src/`, checked: the stage order of DESIGN.md holds in the
//! `use` lines and paths, there are no import circles (between top-level
//! modules, nor between the files of one module), and no file or function
//! grows past what a newcomer can read in one sitting.
//!
//! Each file is parsed with `syn`, the parser Rust's own macros use, and
//! line numbers come from the parsed tokens (proc-macro2's span locations):
//! a comment or a string names nothing, every `fn` is measured (free,
//! `async`, `const`, in an `impl`, a trait's default body, nested in another
//! fn), from its signature's first line to its closing brace, whatever the
//! signature holds. The rules about the code that ships leave out what is
//! under `#[cfg(test)]` (and only that). It fails the moment a change breaks
//! one of these rules, whatever the rest of the suite says.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

mod reader;

use reader::{module_path, read, FileFacts};

/// Most lines a source file may have, unit tests included.
const MAX_FILE_LINES: usize = 800;
/// Most lines a file of the command line (`src/cli/`) may have.
const MAX_CLI_FILE_LINES: usize = 80;
/// Most lines a function may have outside test code.
const MAX_FN_LINES: usize = 80;

/// Functions over [`MAX_FN_LINES`] allowed for now, as (`file::fn`, why).
/// Each is in a file that other work is changing at the same time, so its
/// split waits for that work to land; the test says when an entry is no
/// longer over the limit, so the entry goes with it.
const KNOWN_LONG: &[(&str, &str)] = &[];

/// Each top-level module and its place in the data flow (tens are the stages
/// of DESIGN.md, units the order inside a stage). A module may use modules of
/// a lower rank; rank 0 is plain data and shared resources, which every stage
/// may use but which use only each other (without circles).
const STAGES: &[(&str, u32)] = &[
    ("filing", 0),
    ("config", 0),
    ("envelope", 0),
    ("output", 0),
    ("sfnt", 0),
    ("fonts", 0),
    ("imb", 0),
    ("letter_proof", 0),
    ("address", 10),
    ("intake", 11),
    ("key", 20),
    ("code", 21),
    ("letter", 30),
    ("layout", 40),
    ("pdf", 50),
    ("render", 51),
    ("print", 52),
    ("ledger", 60),
    ("issue", 70),
    ("rebuild", 72),
    ("picture", 75),
    ("manifest", 80),
    ("batch", 90),
    ("metrics", 95),
    ("report", 85),
    ("ops", 100),
    ("ingest", 101),
    ("deliver", 102),
    ("serve", 105),
    ("gen", 110),
    ("cli", 120),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every file under `src/`: its path there (`ledger/sqlite.rs`) and its text.
fn all_sources() -> Vec<(String, String)> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            (rel, fs::read_to_string(&p).expect("source is UTF-8"))
        })
        .collect()
}

/// A file under `src/`, read.
struct Parsed {
    /// Its path under `src/`: `batch/finish.rs`.
    rel: String,
    /// Its module path: `batch::finish`.
    module: Vec<String>,
    facts: FileFacts,
}

fn parse_all(sources: &[(String, String)]) -> Vec<Parsed> {
    sources
        .iter()
        .map(|(rel, text)| Parsed {
            rel: rel.clone(),
            module: module_path(rel),
            facts: read(rel, text),
        })
        .collect()
}

/// Module paths declared (`mod x;`) in `files`, and the module paths of
/// the files that ship: the crate root and every module declared outside
/// `#[cfg(test)]` in a file that ships.
fn shipped_modules(files: &[Parsed]) -> BTreeSet<Vec<String>> {
    let mut shipped: BTreeSet<Vec<String>> = BTreeSet::from([Vec::new()]);
    loop {
        let before = shipped.len();
        let declared: Vec<Vec<String>> = files
            .iter()
            .filter(|f| shipped.contains(&f.module))
            .flat_map(|f| f.facts.mods.iter().filter(|(_, test)| !test))
            .map(|(m, _)| m.clone())
            .collect();
        shipped.extend(declared);
        if shipped.len() == before {
            return shipped;
        }
    }
}

/// Whether a file is test code only: declared under `#[cfg(test)]`
/// (`#[cfg(test)] mod tests;`), or inside a module that is.
fn test_only(files: &[Parsed], file: &Parsed) -> bool {
    files
        .iter()
        .flat_map(|f| &f.facts.mods)
        .any(|(m, test)| *test && file.module.len() >= m.len() && file.module[..m.len()] == m[..])
}

fn rank(module: &str) -> Option<u32> {
    STAGES.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The top-level module a file belongs to: `ledger/sqlite.rs` -> `ledger`.
fn module_of(rel: &str) -> Option<String> {
    module_path(rel).first().cloned()
}

/// Which top-level module uses which, with where it does first; test code
/// included: a test of a stage may use only what the stage may.
fn dependency_graph(files: &[Parsed]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in files {
        let Some(module) = module_of(&f.rel) else {
            continue;
        };
        let deps = graph.entry(module.clone()).or_default();
        for r in &f.facts.refs {
            let Some(dep) = r.path.first() else { continue };
            if *dep != module && rank(dep).is_some() {
                deps.entry(dep.clone())
                    .or_insert_with(|| format!("src/{}:{}", f.rel, r.line));
            }
        }
    }
    graph
}

/// Each use of a module of the same or a higher stage, in words.
fn stage_violations(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (module, deps) in graph {
        let Some(r) = rank(module) else { continue };
        for (dep, at) in deps {
            let d = rank(dep).unwrap();
            if d > r || (d == r && r != 0) {
                wrong.push(format!(
                    "{module} (stage {r}) uses {dep} (stage {d}) at {at}"
                ));
            }
        }
    }
    wrong
}

/// A circle among top-level modules, if there is one, as the modules on it
/// (the first one repeated at the end).
fn module_circle(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    // Depth-first search with colours: grey on the stack, black done.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for dep in graph.get(m).into_iter().flat_map(|d| d.keys()) {
            match state.get(dep.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == dep).unwrap();
                    let mut circle = stack[start..].to_vec();
                    circle.push(dep.clone());
                    return Some(circle);
                }
                0 => {
                    if let Some(c) = visit(dep, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if state.get(m.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(m, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn every_module_has_a_place_in_the_stage_order() {
    let unknown: Vec<String> = dependency_graph(&parse_all(&all_sources()))
        .into_keys()
        .filter(|m| rank(m).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "modules missing from STAGES in tests/it/architecture.rs: {unknown:?}"
    );
}

#[test]
fn stages_use_only_earlier_stages() {
    let wrong = stage_violations(&dependency_graph(&parse_all(&all_sources())));
    assert!(
        wrong.is_empty(),
        "imports against the data flow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_circles() {
    let graph = dependency_graph(&parse_all(&all_sources()));
    assert!(
        graph.values().map(BTreeMap::len).sum::<usize>() > 30,
        "{graph:?}"
    );
    if let Some(circle) = module_circle(&graph) {
        panic!("import circle: {}", circle.join(" -> "));
    }
}

/// Circles between the files of one module allowed for now, as pairs of
/// module paths. Each must still be a circle (the test says when one is
/// gone, so the entry goes with it).
const KNOWN_FILE_CIRCLES: &[(&str, &str)] = &[];

/// A use of one file by another file of the same module: `from` and `to`
/// are module paths with the same parent, `at` says where.
#[derive(Clone, Debug)]
struct FileUse {
    from: String,
    to: String,
    at: String,
}

/// The uses between sibling files (files with the same parent module), in
/// the shipped code of `sources` (path under `src/`, text).
fn sibling_uses(sources: &[(String, String)]) -> Vec<FileUse> {
    let all = parse_all(sources);
    let shipped = shipped_modules(&all);
    let files: Vec<&Parsed> = all.iter().filter(|f| shipped.contains(&f.module)).collect();
    let exports: BTreeMap<Vec<String>, Vec<String>> = files
        .iter()
        .flat_map(|f| f.facts.exports.iter().cloned())
        .collect();
    let mut uses = Vec::new();
    for f in &files {
        let module = &f.module;
        for r in f.facts.refs.iter().filter(|r| !r.test) {
            let mut target = r.path.clone();
            // Follow re-exports (a few steps: a re-export of a re-export).
            for _ in 0..4 {
                let Some((k, v)) = (1..=target.len())
                    .rev()
                    .find_map(|n| exports.get(&target[..n]).map(|v| (n, v.clone())))
                else {
                    break;
                };
                if v == target[..k] {
                    break;
                }
                target = v.into_iter().chain(target[k..].iter().cloned()).collect();
            }
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common >= module.len() || common >= target.len() {
                continue; // a use of an ancestor or of something inside this file
            }
            let from = module[..=common].to_vec();
            let to = target[..=common].to_vec();
            if from != to && shipped.contains(&to) {
                uses.push(FileUse {
                    from: from.join("::"),
                    to: to.join("::"),
                    at: format!("src/{}:{}", f.rel, r.line),
                });
            }
        }
    }
    uses
}
/// The circles among sibling files: each strongly connected set of more
/// than one file (Tarjan's algorithm), sorted.
fn file_circles(uses: &[FileUse]) -> Vec<BTreeSet<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for u in uses {
        graph.entry(&u.from).or_default().insert(&u.to);
        graph.entry(&u.to).or_default();
    }
    struct Tarjan<'a> {
        graph: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for &w in &self.graph[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut set = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    set.insert(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    self.found.push(set);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for &v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found.sort();
    t.found
}

/// A circle in words, with each use that closes it and where it is.
fn describe_circle(circle: &BTreeSet<String>, uses: &[FileUse]) -> String {
    let mut lines = vec![format!(
        "files of one module use each other: {}",
        circle.iter().cloned().collect::<Vec<_>>().join(", ")
    )];
    let mut seen = BTreeSet::new();
    for u in uses {
        if circle.contains(&u.from)
            && circle.contains(&u.to)
            && seen.insert((&u.from, &u.to, &u.at))
        {
            lines.push(format!("  {} uses {} ({})", u.from, u.to, u.at));
        }
    }
    lines.join("\n")
}

#[test]
fn no_circles_between_files_of_one_module() {
    let uses = sibling_uses(&all_sources());
    assert!(
        uses.iter().any(|u| u.from == "batch::finish"),
        "the sibling graph is empty: the reader of `super::` paths is broken"
    );
    let circles = file_circles(&uses);
    let known: Vec<BTreeSet<String>> = KNOWN_FILE_CIRCLES
        .iter()
        .map(|(a, b)| [a.to_string(), b.to_string()].into())
        .collect();
    let new: Vec<String> = circles
        .iter()
        .filter(|c| !known.contains(c))
        .map(|c| describe_circle(c, &uses))
        .collect();
    assert!(
        new.is_empty(),
        "circles between files of one module (move what both need into a third file, \
         or let one call the other only):\n{}",
        new.join("\n")
    );
    let gone: Vec<String> = known
        .iter()
        .filter(|k| !circles.contains(k))
        .map(|k| k.iter().cloned().collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(
        gone.is_empty(),
        "these known circles are gone: remove them from KNOWN_FILE_CIRCLES in \
         tests/it/architecture.rs: {gone:?}"
    );
}

#[test]
fn the_circle_check_sees_circles() {
    let src = |files: &[(&str, &str)]| -> Vec<(String, String)> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    };
    // Two files naming each other through `super::`, one through a
    // re-export of the parent module, one over several lines.
    let circle = src(&[
        ("lib.rs", "pub mod stage;\n"),
        (
            "stage/mod.rs",
            "mod a;\nmod b;\nmod c;\npub use a::Tally;\n",
        ),
        (
            "stage/a.rs",
            "use super::{\n    c::Plan,\n    b::withdraw,\n};\npub struct Tally;\n",
        ),
        ("stage/b.rs", "use super::Tally;\npub fn withdraw() {}\n"),
        (
            "stage/c.rs",
            "// super::a in a comment\nconst S: &str = \"super::a\";\npub struct Plan;\n",
        ),
    ]);
    let uses = sibling_uses(&circle);
    let circles = file_circles(&uses);
    assert_eq!(
        circles,
        vec![BTreeSet::from([
            "stage::a".to_string(),
            "stage::b".to_string()
        ])],
        "{uses:#?}"
    );
    assert!(
        describe_circle(&circles[0], &uses).contains("stage::b uses stage::a (src/stage/b.rs:1)")
    );
    // A longer circle through `crate::` paths, and one only in test code.
    let three = src(&[
        ("lib.rs", "mod x;\n"),
        (
            "x/mod.rs",
            "mod p;\nmod q;\nmod r;\nmod s;\n#[cfg(test)]\nmod tests;\n",
        ),
        ("x/p.rs", "fn f() { crate::x::q::g() }\n"),
        ("x/q.rs", "pub fn g() { crate::x::r::h() }\n"),
        (
            "x/r.rs",
            "pub fn h() {}\n#[cfg(test)]\nmod tests {\n    use crate::x::p;\n}\n",
        ),
        ("x/s.rs", "pub fn k() { super::p::f() }\n"),
        ("x/tests.rs", "use super::s::k;\n"),
    ]);
    let uses = sibling_uses(&three);
    assert!(
        file_circles(&uses).is_empty(),
        "test code makes no circle: {uses:#?}"
    );
    let mut shipped = three.clone();
    shipped[4].1 = "pub fn h() { super::p::f() }\n".into();
    assert_eq!(
        file_circles(&sibling_uses(&shipped)),
        vec![BTreeSet::from(["x::p", "x::q", "x::r"].map(String::from))]
    );
}

#[test]
fn no_source_file_is_over_the_limit() {
    let long: Vec<String> = all_sources()
        .into_iter()
        .map(|(rel, text)| (rel, text.lines().count()))
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .map(|(rel, n)| format!("src/{rel}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines (split them by concern):\n{}",
        long.join("\n")
    );
}

#[test]
fn command_files_stay_thin() {
    // A command file parses flags, calls one library function and prints.
    let long: Vec<String> = all_sources()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("cli/"))
        .map(|(rel, text)| (rel, text.lines().count()))
        .filter(|(_, n)| *n > MAX_CLI_FILE_LINES)
        .map(|(rel, n)| format!("src/{rel}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "command files over {MAX_CLI_FILE_LINES} lines (move the logic into the library):\n{}",
        long.join("\n")
    );
}

/// The functions over [`MAX_FN_LINES`] in the code that ships, as
/// (`file::fn`, where and how long): test code is left out, whether it
/// is an item under `#[cfg(test)]` or a file declared there.
fn long_functions(sources: &[(String, String)]) -> Vec<(String, String)> {
    let files = parse_all(sources);
    let mut long = Vec::new();
    for f in files.iter().filter(|f| !test_only(&files, f)) {
        for func in f.facts.fns.iter().filter(|func| func.lines > MAX_FN_LINES) {
            long.push((
                format!("{}::{}", f.rel, func.name),
                format!(
                    "src/{}:{}: fn {} is {} lines",
                    f.rel, func.line, func.name, func.lines
                ),
            ));
        }
    }
    long
}

#[test]
fn no_function_is_over_the_limit() {
    let sources = all_sources();
    let measured: usize = parse_all(&sources).iter().map(|f| f.facts.fns.len()).sum();
    assert!(
        measured > 1000,
        "only {measured} functions measured in src/"
    );
    let long = long_functions(&sources);
    let new: Vec<&str> = long
        .iter()
        .filter(|(key, _)| !KNOWN_LONG.iter().any(|(k, _)| k == key))
        .map(|(_, said)| said.as_str())
        .collect();
    assert!(
        new.is_empty(),
        "functions over {MAX_FN_LINES} lines outside tests (split them along their meaning):\n{}",
        new.join("\n")
    );
    let gone: Vec<&str> = KNOWN_LONG
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !long.iter().any(|(key, _)| key == k))
        .collect();
    assert!(
        gone.is_empty(),
        "these functions are no longer over the limit: remove them from KNOWN_LONG in \
         tests/it/architecture.rs: {gone:?}"
    );
}

/// `files` as sources: (path under `src/`, text).
fn snippets(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

/// `n` lines of statements, each indented by four spaces.
fn statements(n: usize) -> String {
    "    let _ = 1;\n".repeat(n)
}

#[test]
fn the_function_check_measures_every_fn() {
    assert!(!all_sources().is_empty());
    // An 81-line async fn, and a 98-line fn whose signature has a `;` in
    // it and runs over several lines (as `pdf::id::content_id` did).
    let file = format!(
        "pub async fn slow() {{\n{}}}\n\n\
         pub(super) fn content_id(\n    pages: &[u8; 4],\n) -> [u8; 16] {{\n{}    [0; 16]\n}}\n",
        statements(79),
        statements(93),
    );
    let long = long_functions(&snippets(&[("pdf/id.rs", &file)]));
    assert_eq!(
        long.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        [
            "src/pdf/id.rs:1: fn slow is 81 lines",
            "src/pdf/id.rs:83: fn content_id is 98 lines",
        ]
    );
    // An 80-line fn is within the limit.
    let at_limit = format!("fn fits() {{\n{}}}\n", statements(78));
    assert!(long_functions(&snippets(&[("a.rs", &at_limit)])).is_empty());
    // Methods, a trait's default body and a nested fn are measured; a
    // brace in a string, a character or a comment counts for nothing.
    let body = format!(
        "{{\n    let _ = \"}}\"; let _ = '{{'; // }}\n{}}}\n",
        statements(85)
    );
    let file = format!(
        "struct S;\nimpl S {{\n    pub fn method(&self) {body}}}\n\
         trait T {{\n    fn required(&self);\n    fn provided(&self) {body}}}\n\
         fn outer() {{\n    fn inner() {body}}}\n"
    );
    let names: Vec<String> = long_functions(&snippets(&[("a.rs", &file)]))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        names,
        [
            "a.rs::method",
            "a.rs::provided",
            "a.rs::outer",
            "a.rs::inner"
        ]
    );
}

#[test]
fn the_function_check_leaves_out_test_code_only() {
    let big = format!("fn big() {{\n{}}}\n", statements(90));
    // Under `#[cfg(test)]`: an inline module, a function, an impl's method,
    // and a whole file declared there. A `#[cfg(test)] mod tests;` near the
    // top hides nothing after it.
    let file = format!(
        "#[cfg(test)]\nmod tests;\n\n#[cfg(test)]\nmod more {{\n{big}}}\n\
         #[cfg(test)]\n{big}\nstruct S;\nimpl S {{\n    #[cfg(test)]\n    {big}}}\n\
         fn shipped() {{\n{}}}\n",
        statements(90)
    );
    let sources = snippets(&[
        ("lib.rs", "mod a;\n"),
        ("a/mod.rs", &file),
        ("a/tests.rs", &big),
    ]);
    let long = long_functions(&sources);
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(long[0].0, "a/mod.rs::shipped");
    assert!(long[0].1.ends_with(": fn shipped is 92 lines"), "{long:?}");
}

#[test]
fn the_stage_check_sees_uses_of_later_stages() {
    let wrong =
        |files: &[(&str, &str)]| stage_violations(&dependency_graph(&parse_all(&snippets(files))));
    // `ledger` (60) may use `code` (21), in any form, and names in comments
    // and strings count for nothing.
    let fine = wrong(&[(
        "ledger/mod.rs",
        "use crate::code::Code;\n// crate::batch\nconst S: &str = \"crate::serve\";\n",
    )]);
    assert!(fine.is_empty(), "{fine:?}");
    // A `use` of a later stage, in a group, in code, in a type, in a
    // macro's arguments, from test code, and through `super::super`.
    let batch = "batch (stage 90)";
    for (rel, text, dep, at) in [
        (
            "ledger/mod.rs",
            "use crate::batch::Plan;\n",
            batch,
            "ledger/mod.rs:1",
        ),
        (
            "ledger/mod.rs",
            "use crate::{\n    code::Code,\n    serve::App,\n};\n",
            "serve (stage 105)",
            "ledger/mod.rs:3",
        ),
        (
            "ledger/a.rs",
            "fn f() {\n    crate::batch::run();\n}\n",
            batch,
            "ledger/a.rs:2",
        ),
        (
            "ledger/a.rs",
            "fn f(_: &crate::batch::Plan) {}\n",
            batch,
            "ledger/a.rs:1",
        ),
        (
            "ledger/a.rs",
            "fn f() {\n    tracing::info!(\"{}\", crate::batch::NAME);\n}\n",
            batch,
            "ledger/a.rs:2",
        ),
        (
            "ledger/a.rs",
            "fn f() -> Value {\n    serde_json::json!({\"plan\": crate::batch::NAME})\n}\n",
            batch,
            "ledger/a.rs:2",
        ),
        (
            "ledger/a.rs",
            "macro_rules! plan {\n    () => {\n        $crate::batch::Plan\n    };\n}\n",
            batch,
            "ledger/a.rs:3",
        ),
        (
            "ledger/a.rs",
            "use crate::batch::{self, Plan};\n",
            batch,
            "ledger/a.rs:1",
        ),
        (
            "ledger/a.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::batch::Plan;\n}\n",
            batch,
            "ledger/a.rs:3",
        ),
        (
            "ledger/a/b.rs",
            "use super::super::super::batch::Plan;\n",
            batch,
            "ledger/a/b.rs:1",
        ),
    ] {
        assert_eq!(
            wrong(&[(rel, text)]),
            [format!("ledger (stage 60) uses {dep} at src/{at}")],
            "{text}"
        );
    }
    // Two modules of one stage use each other: a circle.
    let graph = dependency_graph(&parse_all(&snippets(&[
        ("config.rs", "use crate::output::Out;\n"),
        ("output.rs", "fn f() -> crate::config::Config { todo!() }\n"),
    ])));
    assert_eq!(
        module_circle(&graph),
        Some(["config", "output", "config"].map(String::from).to_vec())
    );
}
