//! The shape of `src/`, checked: the stage order of DESIGN.md holds in the
//! `use` lines, there are no import circles (between top-level modules, nor
//! between the files of one module), and no file or function grows past
//! what a newcomer can read in one sitting.
//!
//! This reads the source text, whole files, with comments and strings
//! blanked out; the rules about the code that ships leave out what is under
//! `#[cfg(test)]` (and only that). It fails the moment a change breaks one
//! of these rules, whatever the rest of the suite says.

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

/// The code of a file with comments, strings and character literals
/// blanked out (replaced by spaces, newlines kept), so that a brace or a
/// `crate::` inside a string or a doc comment counts for nothing and line
/// numbers stay those of the file.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && (i == 0 || !ident(chars[i - 1]))
            && {
                let start = if c == 'b' { i + 2 } else { i + 1 };
                let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
                chars.get(start + hashes) == Some(&'"')
            }
        {
            // A raw string: r"..", r#".."#, br"..".
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            let body = start + hashes + 1;
            let mut j = body;
            while j < chars.len() {
                if chars[j] == '"'
                    && chars[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &k in &chars[i..j.min(chars.len())] {
                blank(&mut out, k);
            }
            i = j;
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{7b}'), or else a lifetime.
            let end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&k| k == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &k in &chars[i..=e] {
                        blank(&mut out, k);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` (from [`code_only`]) with every item under `#[cfg(test)]` blanked
/// out, attributes, braces and all, wherever it stands in the file: what is
/// left is the code that ships. Line numbers stay those of the file.
fn production_code(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let mut keep = vec![true; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            i += 1;
            continue;
        }
        // The attribute, any attributes after it, then the item: up to its
        // `;` (`mod tests;`) or to where its braces balance again.
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        'item: while j < lines.len() {
            keep[j] = false;
            let attribute = lines[j].trim_start().starts_with("#[");
            if !attribute {
                for c in lines[j].chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        ';' if !opened => break 'item,
                        _ => {}
                    }
                }
                if opened && depth <= 0 {
                    break;
                }
            }
            j += 1;
        }
        i = j + 1;
    }
    lines
        .iter()
        .zip(keep)
        .map(|(l, k)| if k { *l } else { "" })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::NAME` a file's code mentions.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for code in code_only(text).lines() {
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
        "modules missing from STAGES in tests/it/architecture.rs: {unknown:?}"
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

/// Circles between the files of one module allowed for now, as pairs of
/// module paths. Each must still be a circle (the test says when one is
/// gone, so the entry goes with it).
const KNOWN_FILE_CIRCLES: &[(&str, &str)] = &[];

/// The module path of a file under `src/`: `batch/commit.rs` -> `batch::commit`,
/// `batch/mod.rs` -> `batch`, `lib.rs` -> the crate root (empty).
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The paths a use tree or path expression names, read from `chars[*i]`,
/// just after its `crate::`, `super::` or `self::`: `a::{b, c::d as e}` ->
/// `a::b`, `a::c::d`. `chars` must come from [`code_only`].
fn use_tree(chars: &[char], i: &mut usize) -> Vec<Vec<String>> {
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let mut prefix: Vec<String> = Vec::new();
    loop {
        skip_ws(i);
        if chars.get(*i) == Some(&'{') {
            *i += 1;
            let mut out = Vec::new();
            loop {
                skip_ws(i);
                match chars.get(*i) {
                    None => return out,
                    Some('}') => {
                        *i += 1;
                        return out;
                    }
                    Some(',') => *i += 1,
                    _ => {
                        let before = *i;
                        for t in use_tree(chars, i) {
                            out.push(prefix.iter().cloned().chain(t).collect());
                        }
                        if *i == before {
                            *i += 1; // `*` or anything else that names no path
                        }
                    }
                }
            }
        }
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        if *i == start {
            return vec![prefix];
        }
        prefix.push(chars[start..*i].iter().collect());
        let mut j = *i;
        skip_ws(&mut j);
        if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
            *i = j + 2;
        } else {
            // `x as y` names x; whatever follows ends the path.
            return vec![prefix];
        }
    }
}

/// [`use_tree`] over a string.
fn expand_path(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    use_tree(&chars, &mut 0)
}

/// Every path a file's shipped code names through `crate::`, `super::` or
/// `self::`, made absolute (from the crate root), with the line it starts on.
fn absolute_refs(module: &[String], code: &str) -> Vec<(Vec<String>, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let at = |i: usize, word: &str| {
        word.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    let mut refs = Vec::new();
    let (mut line, mut i) = (1, 0);
    while i < chars.len() {
        if chars[i] == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        let joined = i > 0 && (chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | ':'));
        let start = if joined {
            None
        } else if at(i, "crate::") {
            Some((Vec::new(), i + 7))
        } else if at(i, "self::") {
            Some((module.to_vec(), i + 6))
        } else if at(i, "super::") {
            let (mut base, mut j) = (module.to_vec(), i);
            while at(j, "super::") {
                base.pop();
                j += 7;
            }
            Some((base, j))
        } else {
            None
        };
        let Some((base, j)) = start else {
            i += 1;
            continue;
        };
        for path in use_tree(&chars, &mut j.clone()) {
            if !path.is_empty() {
                refs.push((base.iter().cloned().chain(path).collect(), line));
            }
        }
        i = j;
    }
    refs
}

/// What a module re-exports (`pub use finish::Written;` in `batch/mod.rs`
/// makes `batch::Written` mean `batch::finish::Written`), so that
/// `super::Written` in a sibling counts as a use of `finish`.
fn re_exports(files: &[(Vec<String>, String)]) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut map = BTreeMap::new();
    for (module, code) in files {
        for line in code.lines() {
            let t = line.trim_start();
            let Some(rest) = ["pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|p| t.strip_prefix(p))
            else {
                continue;
            };
            let rest = rest.trim_start();
            let (base, tail) = if let Some(r) = rest.strip_prefix("crate::") {
                (Vec::new(), r)
            } else if let Some(r) = rest.strip_prefix("self::") {
                (module.clone(), r)
            } else if let Some(r) = rest.strip_prefix("super::") {
                (module[..module.len().saturating_sub(1)].to_vec(), r)
            } else {
                (module.clone(), rest)
            };
            for path in expand_path(tail) {
                let Some(name) = path.last() else { continue };
                let alias: Vec<String> = module.iter().chain([name]).cloned().collect();
                map.insert(alias, base.iter().cloned().chain(path).collect());
            }
        }
    }
    map
}

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
    let all: Vec<(Vec<String>, String, String)> = sources
        .iter()
        .map(|(rel, text)| {
            (
                module_path(rel),
                rel.clone(),
                production_code(&code_only(text)),
            )
        })
        .collect();
    // Files that ship: the crate root and every module declared (`mod x;`)
    // in the shipped code of a file that ships; a `#[cfg(test)] mod tests;`
    // file is left out with its declaration.
    let mut shipped: BTreeSet<Vec<String>> = BTreeSet::from([Vec::new()]);
    loop {
        let before = shipped.len();
        for (module, _, code) in &all {
            if !shipped.contains(module) {
                continue;
            }
            for line in code.lines() {
                let t = line.trim_start();
                let t = t
                    .strip_prefix("pub(crate) ")
                    .or(t.strip_prefix("pub "))
                    .unwrap_or(t);
                if let Some(name) = t
                    .strip_prefix("mod ")
                    .and_then(|r| r.trim_end().strip_suffix(';'))
                {
                    shipped.insert(
                        module
                            .iter()
                            .cloned()
                            .chain([name.trim().to_string()])
                            .collect(),
                    );
                }
            }
        }
        if shipped.len() == before {
            break;
        }
    }
    let files: Vec<(Vec<String>, String, String)> = all
        .into_iter()
        .filter(|(m, _, _)| shipped.contains(m))
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _, _)| m.clone()).collect();
    let exports = re_exports(
        &files
            .iter()
            .map(|(m, _, c)| (m.clone(), c.clone()))
            .collect::<Vec<_>>(),
    );
    let mut uses = Vec::new();
    for (module, rel, code) in &files {
        for (mut target, line) in absolute_refs(module, code) {
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
            if from != to && modules.contains(&to) {
                uses.push(FileUse {
                    from: from.join("::"),
                    to: to.join("::"),
                    at: format!("src/{rel}:{line}"),
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

/// Functions and their lengths in the code that ships, the whole file read
/// (items under `#[cfg(test)]` left out wherever they stand): from a line
/// starting a `fn` to the line where its braces balance again.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let shipped = production_code(&code_only(text));
    let lines: Vec<&str> = shipped.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let code = lines[i].trim_start();
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
            for c in lines[j].chars() {
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
            if (opened && depth <= 0) || (!opened && lines[j].contains(';')) {
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
    // The whole file is read: a `#[cfg(test)] mod tests;` near the top hides
    // nothing after it, a test module's own functions are left out, and a
    // brace in a string or a character literal counts for nothing.
    let file = format!(
        "#[cfg(test)]\nmod tests;\n\n#[cfg(test)]\nmod more {{\n    fn helper() {{\n{body}    }}\n}}\n\n\
         fn shipped() {{\n    let _ = \"}}\";\n    let _ = '{{';\n{}}}\n",
        "    let _ = 1;\n".repeat(90)
    );
    let lens = function_lengths(&file);
    let names: Vec<&str> = lens.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["shipped"], "{lens:?}");
    assert_eq!((lens[0].1, lens[0].2), (102, 94), "{lens:?}");
}
