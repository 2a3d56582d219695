//! Which words of a letter are the same on every letter of a run: the
//! template's own text, decided from the template itself.
//!
//! A template is literal text interleaved with variables and tags. Its
//! **literal runs** are the stretches of text between them, where the
//! run-wide variables (the agency's name, department, portal, contact
//! numbers and the codes' validity, all from `agency.toml`) count as text,
//! since every letter of a run shows the same value. A variable that comes
//! from the filing (a name, a date, the receipt, the form) ends a run, and so
//! does every tag (`{% if %}`, `{% for %}`...): the text inside an `if` is a
//! run of its own, literal in every letter that takes that branch.
//!
//! A line of rendered text is **fixed** when it is a line of one literal
//! run (trimmed, as the markup reads lines): it holds no variable of the
//! filing. The print stage draws fixed lines
//! once per print file (see `crate::print`); the rest is drawn per letter.
//! No list of lines is kept by hand, so a new template needs nothing here.

use tera::ast::{ExprVal, Node};

use crate::config::Config;

/// Variables whose value is the same on every letter of a run.
const RUN_WIDE: &[&str] = &[
    "agency_name",
    "department",
    "portal_url",
    "contact_center",
    "contact_center_tty",
    "valid_days",
];

/// The literal runs of one template, with the run's values in place of
/// its run-wide variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiteralRuns {
    /// Every line of every run, trimmed: looked up once per rendered line.
    lines: rustc_hash::FxHashSet<String>,
}

impl LiteralRuns {
    /// The literal runs of a template's syntax tree.
    pub fn of(ast: &[Node], config: &Config) -> LiteralRuns {
        let values = run_wide_values(config);
        let mut walk = Walk {
            values: &values,
            runs: Vec::new(),
            open: String::new(),
        };
        walk.nodes(ast);
        walk.close();
        let lines = walk
            .runs
            .iter()
            .flat_map(|run| run.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        LiteralRuns { lines }
    }

    /// Whether `line` (trimmed rendered text) is a line of a literal run.
    pub fn holds(&self, line: &str) -> bool {
        self.lines.contains(line)
    }
}

fn run_wide_values(config: &Config) -> Vec<(&'static str, String)> {
    let a = &config.agency;
    let values = [
        a.name.clone(),
        a.department.clone(),
        a.portal_url.clone(),
        a.contact_center.clone(),
        a.contact_center_tty.clone(),
        config.codes.valid_days.to_string(),
    ];
    RUN_WIDE.iter().copied().zip(values).collect()
}

struct Walk<'a> {
    values: &'a [(&'static str, String)],
    runs: Vec<String>,
    open: String,
}

impl<'a> Walk<'a> {
    fn close(&mut self) {
        if !self.open.is_empty() {
            self.runs.push(std::mem::take(&mut self.open));
        }
    }

    /// The value of a run-wide variable written plainly (`{{ name }}`, no
    /// filter, no negation).
    fn run_wide(&self, expr: &tera::ast::Expr) -> Option<&'a str> {
        let ExprVal::Ident(name) = &expr.val else {
            return None;
        };
        if expr.negated || !expr.filters.is_empty() {
            return None;
        }
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Text(text) | Node::Raw(_, text, _) => self.open.push_str(text),
                Node::VariableBlock(_, expr) => match self.run_wide(expr) {
                    Some(value) => self.open.push_str(value),
                    None => self.close(),
                },
                Node::Comment(..) => {}
                Node::If(branches, _) => {
                    self.close();
                    for (_, _, body) in &branches.conditions {
                        self.branch(body);
                    }
                    if let Some((_, body)) = &branches.otherwise {
                        self.branch(body);
                    }
                }
                Node::Forloop(_, f, _) => {
                    self.close();
                    self.branch(&f.body);
                    if let Some(body) = &f.empty_body {
                        self.branch(body);
                    }
                }
                Node::Block(_, b, _) => {
                    self.close();
                    self.branch(&b.body);
                }
                _ => self.close(),
            }
        }
    }

    /// A body of its own: literal runs do not continue across its edges.
    fn branch(&mut self, body: &[Node]) {
        self.close();
        self.nodes(body);
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(source: &str) -> LiteralRuns {
        let mut tera = tera::Tera::default();
        tera.add_raw_template("t", source).unwrap();
        let ast = &tera.get_template("t").unwrap().ast;
        LiteralRuns::of(ast, &Config::default_config())
    }

    #[test]
    fn a_filing_variable_ends_a_run_and_a_run_wide_one_does_not() {
        let r = runs("Dear {{ full_name }}:\nCall {{ contact_center }} today.\nBye.");
        let center = Config::default_config().agency.contact_center;
        assert!(r.holds(&format!("Call {center} today.")));
        assert!(r.holds("Bye."));
        assert!(!r.holds("Dear Ana:"));
        assert!(!r.holds("Dear :\nCall"));
        // A filter makes even a run-wide value the filing's business.
        let r = runs("Call {{ contact_center | upper }} today.");
        assert!(!r.holds(&format!("Call {center} today.")));
    }

    #[test]
    fn each_branch_is_a_run_of_its_own() {
        let r = runs("A {% if form == \"I-485\" %}B one{% else %}C two{% endif %} D");
        assert!(r.holds("B one") && r.holds("C two") && r.holds("A") && r.holds("D"));
        assert!(!r.holds("A B one"));
        assert!(!r.holds(""));
    }
}
