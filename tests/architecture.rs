//! The shape of `src/`, checked: the stage order of DESIGN.md holds in the
//! `use` lines, there are no import circles, and no file or function grows
//! past what a newcomer can read in one sitting.
//!
//! This reads the source text, so it fails the moment a change breaks one of
//! these rules, whatever the rest of the suite says.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Most lines a source file may have, unit tests included.
const MAX_FILE_LINES: usize = 800;
/// Most lines a file of the command line (`src/cli/`) may have.
const MAX_CLI_FILE_LINES: usize = 80;
/// Most lines a function may have outside test code.
const MAX_FN_LINES: usize = 80;

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
    ("proof", 75),
    ("manifest", 80),
    ("batch", 90),
    ("metrics", 95),
    ("report", 85),
    ("ops", 100),
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

/// The top-level module a file belongs to: `ledger/sqlite.rs` -> `ledger`.
fn module_of(rel: &str) -> Option<String> {
    let first = rel.split('/').next()?;
    let name = first.trim_end_matches(".rs");
    match name {
        "lib" | "main" => None,
        _ => Some(name.to_string()),
    }
}

/// The code of a line with any `//` comment cut off (doc links don't count).
fn code_part(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every `crate::NAME` a file's code mentions.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for line in text.lines() {
        let code = code_part(line);
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.insert(name);
            }
            rest = after;
        }
    }
    refs
}

fn rank(module: &str) -> Option<u32> {
    STAGES.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn dependency_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in all_sources() {
        let Some(module) = module_of(&rel) else {
            continue;
        };
        let deps = graph.entry(module.clone()).or_default();
        for dep in crate_refs(&text) {
            if dep != module && rank(&dep).is_some() {
                deps.insert(dep);
            }
        }
    }
    graph
}

#[test]
fn every_module_has_a_place_in_the_stage_order() {
    let unknown: Vec<String> = dependency_graph()
        .keys()
        .filter(|m| rank(m).is_none())
        .cloned()
        .collect();
    assert!(
        unknown.is_empty(),
        "modules missing from STAGES in tests/architecture.rs: {unknown:?}"
    );
}

#[test]
fn stages_use_only_earlier_stages() {
    let mut wrong = Vec::new();
    for (module, deps) in dependency_graph() {
        let Some(r) = rank(&module) else { continue };
        for dep in deps {
            let d = rank(&dep).unwrap();
            if d > r || (d == r && r != 0) {
                wrong.push(format!("{module} (stage {r}) uses {dep} (stage {d})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the data flow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_circles() {
    let graph = dependency_graph();
    // Depth-first search with colours: grey on the stack, black done.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for dep in graph.get(m).into_iter().flatten() {
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
            let circle = visit(m, &graph, &mut state, &mut Vec::new());
            assert!(
                circle.is_none(),
                "import circle: {}",
                circle.unwrap().join(" -> ")
            );
        }
    }
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

/// Functions and their lengths in the non-test part of a file: from a line
/// starting a `fn` to the line where its braces balance again.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.trim() == "#[cfg(test)]")
        .unwrap_or(lines.len());
    let mut found = Vec::new();
    let mut i = 0;
    while i < end {
        let code = code_part(lines[i]).trim_start();
        let starts_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "const fn ",
        ]
        .iter()
        .any(|p| code.starts_with(p));
        if !starts_fn {
            i += 1;
            continue;
        }
        let name: String = code
            .split("fn ")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        while j < lines.len() {
            for c in code_part(lines[j]).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break,
                    _ => {}
                }
            }
            if (opened && depth <= 0) || (!opened && code_part(lines[j]).contains(';')) {
                break;
            }
            j += 1;
        }
        found.push((name, i + 1, j - i + 1));
        i = j + 1;
    }
    found
}

#[test]
fn no_function_is_over_the_limit() {
    let mut long = Vec::new();
    for (rel, text) in all_sources() {
        // Unit tests kept in their own file (`mod tests;` under `#[cfg(test)]`).
        if rel.ends_with("tests.rs") {
            continue;
        }
        for (name, line, n) in function_lengths(&text) {
            if n > MAX_FN_LINES {
                long.push(format!("src/{rel}:{line}: fn {name} is {n} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines outside tests:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_themselves_see_problems() {
    // A circle and a long function written here must be caught, so the
    // checks above cannot pass by reading nothing.
    let refs = crate_refs("use crate::ledger::Ledger; // crate::batch in a comment\n");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        vec!["ledger".to_string()]
    );
    let body = format!("fn big() {{\n{}}}\n", "    let _ = 1;\n".repeat(90));
    let lens = function_lengths(&body);
    assert_eq!(lens.len(), 1);
    assert_eq!(lens[0].2, 92);
    assert!(!all_sources().is_empty());
}
