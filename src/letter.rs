//! The words of a letter: a filing and its code become text through tera.
//!
//! Templates (`templates/letter.<language>.tera`) own the wording; this module
//! builds the values they may use and reads the small markup they produce:
//!
//! * `@name: text` fills a named slot (title, labels, footer words);
//! * `@code-box` marks where the access-code box stands in the body;
//! * `# ` heading, `1. ` numbered step, `- ` bullet, blank line between
//!   paragraphs, `**bold**` words.
//!
//! The access code is *not* given to the template: the code box is drawn by
//! [`crate::layout`], so no template edit can print the code somewhere it
//! should not be, and a template author's preview never needs a real code.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use tera::Tera;

use crate::config::Config;
use crate::filing::{Filing, Language};

mod fixed;
pub use fixed::LiteralRuns;

const TEMPLATE_EN: &str = include_str!("../templates/letter.en.tera");
const TEMPLATE_ES: &str = include_str!("../templates/letter.es.tera");

/// Slots every template must fill.
pub const REQUIRED_SLOTS: &[&str] = &[
    "department",
    "agency",
    "title",
    "label_receipt",
    "label_form",
    "label_applicant",
    "label_a_number",
    "label_notice_date",
    "label_code",
    "label_valid_until",
    "footer_piece",
    "footer_page",
];

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("cannot load templates from {dir}: {message}")]
    Load { dir: String, message: String },
    #[error("template {template} failed: {message}")]
    Render { template: String, message: String },
    #[error("template {template} line {line}: {message}")]
    Markup {
        template: String,
        line: usize,
        message: String,
    },
}

/// A run of words in one weight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub text: String,
    pub bold: bool,
}

/// One block of the letter body, in reading order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    Heading(Vec<Span>),
    Paragraph(Vec<Span>),
    /// A numbered step; `marker` is the number as written (`1.`).
    Step {
        marker: String,
        spans: Vec<Span>,
    },
    Bullet(Vec<Span>),
    CodeBox,
}

/// The rendered words of one letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetterText {
    pub slots: BTreeMap<String, String>,
    pub blocks: Vec<Block>,
    /// Whether each block of `blocks` is the template's own text, the same
    /// on every letter of the run (see [`LiteralRuns`]).
    pub fixed_blocks: Vec<bool>,
    /// The slots whose text is the template's own.
    pub fixed_slots: std::collections::BTreeSet<String>,
}

impl LetterText {
    /// A slot's text; templates are checked for every required slot on render.
    pub fn slot(&self, name: &str) -> &str {
        self.slots.get(name).map(String::as_str).unwrap_or("")
    }

    /// Whether the slot `name` is the template's own text.
    pub fn slot_is_fixed(&self, name: &str) -> bool {
        self.fixed_slots.contains(name)
    }

    /// Whether block `i` is the template's own text.
    pub fn block_is_fixed(&self, i: usize) -> bool {
        self.fixed_blocks.get(i).copied().unwrap_or(false)
    }
}

/// The dates a letter states, all derived from the batch date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoticeDates {
    pub notice: NaiveDate,
    pub expires_on: NaiveDate,
}

impl NoticeDates {
    pub fn new(notice: NaiveDate, valid_days: u32) -> NoticeDates {
        NoticeDates {
            notice,
            expires_on: notice + chrono::Days::new(u64::from(valid_days)),
        }
    }
}

/// A date written out the way the language writes it.
pub fn long_date(date: NaiveDate, language: Language) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const ES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    let m = date.month0() as usize;
    match language {
        Language::En => format!("{} {}, {}", EN[m], date.day(), date.year()),
        Language::Es => format!("{} de {} de {}", date.day(), ES[m], date.year()),
    }
}

/// The loaded templates, shared by every thread of a run.
pub struct Templates {
    tera: Tera,
}

fn template_name(language: Language) -> String {
    format!("letter.{}.tera", language.code())
}

impl Templates {
    /// The templates compiled into the program.
    pub fn builtin() -> Templates {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        tera.add_raw_templates(vec![
            (template_name(Language::En), TEMPLATE_EN),
            (template_name(Language::Es), TEMPLATE_ES),
        ])
        .expect("the shipped templates compile (checked by a test)");
        Templates { tera }
    }

    /// Templates from a directory holding `letter.en.tera` and `letter.es.tera`,
    /// for program officers trying new wording.
    pub fn from_dir(dir: &Path) -> Result<Templates, LetterError> {
        let load_err = |message: String| LetterError::Load {
            dir: dir.display().to_string(),
            message,
        };
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        let mut sources = Vec::new();
        for language in [Language::En, Language::Es] {
            let name = template_name(language);
            let text = std::fs::read_to_string(dir.join(&name))
                .map_err(|e| load_err(format!("{name}: {e}")))?;
            sources.push((name, text));
        }
        tera.add_raw_templates(sources)
            .map_err(|e| load_err(error_chain(&e)))?;
        Ok(Templates { tera })
    }

    /// Renders the words of one letter.
    pub fn render(
        &self,
        filing: &Filing,
        dates: NoticeDates,
        config: &Config,
    ) -> Result<LetterText, LetterError> {
        self.render_marked(filing, dates, config, None)
    }

    /// Renders the words of one letter, marking the blocks and slots that
    /// lie inside `literal` (the runs of the filing's language, see
    /// [`Templates::literal_runs`]) as fixed.
    pub fn render_marked(
        &self,
        filing: &Filing,
        dates: NoticeDates,
        config: &Config,
        literal: Option<&LiteralRuns>,
    ) -> Result<LetterText, LetterError> {
        let name = template_name(filing.language);
        let ctx = context(filing, dates, config);
        let text = self
            .tera
            .render(&name, &ctx)
            .map_err(|e| LetterError::Render {
                template: name.clone(),
                message: error_chain(&e),
            })?;
        parse_marked(&text, &name, literal)
    }

    /// The literal runs of the template of `language`, with `config`'s
    /// run-wide values.
    pub fn literal_runs(&self, language: Language, config: &Config) -> LiteralRuns {
        self.tera
            .get_template(&template_name(language))
            .map(|t| LiteralRuns::of(&t.ast, config))
            .unwrap_or_default()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The values a template may use. Never the access code.
pub fn context(filing: &Filing, dates: NoticeDates, config: &Config) -> tera::Context {
    let lang = filing.language;
    let mut ctx = tera::Context::new();
    ctx.insert("full_name", &filing.full_name());
    ctx.insert("given_name", &filing.given_name);
    ctx.insert("receipt", filing.receipt.as_str());
    ctx.insert("form", filing.form.code());
    ctx.insert("form_title", filing.form.title());
    ctx.insert("received_date", &long_date(filing.received_date, lang));
    ctx.insert("notice_date", &long_date(dates.notice, lang));
    ctx.insert("expires_on", &long_date(dates.expires_on, lang));
    ctx.insert("valid_days", &config.codes.valid_days);
    ctx.insert("a_number", filing.a_number.as_deref().unwrap_or(""));
    ctx.insert("agency_name", &config.agency.name);
    ctx.insert("department", &config.agency.department);
    ctx.insert("portal_url", &config.agency.portal_url);
    ctx.insert("contact_center", &config.agency.contact_center);
    ctx.insert("contact_center_tty", &config.agency.contact_center_tty);
    ctx
}

/// Splits `**bold**` runs: every `**` toggles bold, empty runs are dropped.
fn spans(text: &str) -> Vec<Span> {
    text.split("**")
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| Span {
            text: t.to_string(),
            bold: i % 2 == 1,
        })
        .collect()
}

/// [`spans`] of a block's own text, which it takes: most blocks have no
/// bold run, and then the text is the one span as it is, not copied.
fn text_spans(text: String) -> Vec<Span> {
    if has_bold_marker(&text) {
        spans(&text)
    } else if text.is_empty() {
        Vec::new()
    } else {
        vec![Span { text, bold: false }]
    }
}

/// Whether `text` holds `**`: a byte search for `*` (memchr) and a look at
/// the next byte, which is quicker than a general substring search for a
/// needle of two bytes, on every block of every letter.
fn has_bold_marker(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find('*') {
        let star = from + at;
        if bytes.get(star + 1) == Some(&b'*') {
            return true;
        }
        from = star + 1;
    }
    false
}

enum Open {
    None,
    Paragraph(String),
    Step(String, String),
    Bullet(String),
}

fn numbered_marker(line: &str) -> Option<(&str, &str)> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !line[digits..].starts_with(". ") {
        return None;
    }
    Some((&line[..digits + 1], line[digits + 2..].trim()))
}

impl Open {
    /// Ends the open block, if any, adding it to `blocks`.
    fn flush(&mut self, blocks: &mut Vec<Block>) {
        match std::mem::replace(self, Open::None) {
            Open::None => {}
            Open::Paragraph(t) => blocks.push(Block::Paragraph(text_spans(t))),
            Open::Step(m, t) => blocks.push(Block::Step {
                marker: m,
                spans: text_spans(t),
            }),
            Open::Bullet(t) => blocks.push(Block::Bullet(text_spans(t))),
        }
    }
}

/// What `parse_marked` builds: the blocks and whether each is fixed, and
/// whether the open block's lines are all fixed so far.
struct Marked<'r> {
    literal: Option<&'r LiteralRuns>,
    blocks: Vec<Block>,
    fixed_blocks: Vec<bool>,
    open: Open,
    open_fixed: bool,
}

impl Marked<'_> {
    fn holds(&self, line: &str) -> bool {
        self.literal.is_some_and(|r| r.holds(line))
    }

    fn flush(&mut self) {
        if !matches!(self.open, Open::None) {
            self.open.flush(&mut self.blocks);
            self.fixed_blocks.push(self.open_fixed);
        }
    }

    fn push(&mut self, block: Block, fixed: bool) {
        self.flush();
        self.blocks.push(block);
        self.fixed_blocks.push(fixed);
    }

    fn open(&mut self, open: Open, line: &str) {
        self.flush();
        self.open = open;
        self.open_fixed = self.holds(line);
    }
}

/// A slot line `@name: text`: the name and the text.
fn slot_line(directive: &str) -> Result<(&str, &str), String> {
    if let Some((name, value)) = directive.split_once(':') {
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("'@{name}' is not a slot name"));
        }
        Ok((name, value.trim()))
    } else {
        Err(format!(
            "'@{directive}' is neither '@code-box' nor '@name: text'"
        ))
    }
}

/// Reads the markup a template produced.
pub fn parse_markup(text: &str, template: &str) -> Result<LetterText, LetterError> {
    parse_marked(text, template, None)
}

/// Reads the markup a template produced, marking as fixed each block and
/// slot whose every line lies inside `literal`.
pub fn parse_marked(
    text: &str,
    template: &str,
    literal: Option<&LiteralRuns>,
) -> Result<LetterText, LetterError> {
    let mut slots = BTreeMap::new();
    let mut fixed_slots = std::collections::BTreeSet::new();
    let mut m = Marked {
        literal,
        blocks: Vec::new(),
        fixed_blocks: Vec::new(),
        open: Open::None,
        open_fixed: false,
    };
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line == "@code-box" {
            m.push(Block::CodeBox, false);
        } else if let Some(d) = line.strip_prefix('@') {
            m.flush();
            let (name, value) = slot_line(d).map_err(|message| LetterError::Markup {
                template: template.to_string(),
                line: idx + 1,
                message,
            })?;
            if m.holds(line) {
                fixed_slots.insert(name.to_string());
            }
            slots.insert(name.to_string(), value.to_string());
        } else if line.is_empty() {
            m.flush();
        } else if let Some(h) = line.strip_prefix("# ") {
            let fixed = m.holds(line);
            m.push(Block::Heading(spans(h.trim())), fixed);
        } else if let Some((marker, rest)) = numbered_marker(line) {
            m.open(Open::Step(marker.to_string(), rest.to_string()), line);
        } else if let Some(rest) = line.strip_prefix("- ") {
            m.open(Open::Bullet(rest.trim().to_string()), line);
        } else {
            let fixed = m.holds(line);
            match &mut m.open {
                Open::None => m.open(Open::Paragraph(line.to_string()), line),
                Open::Paragraph(t) | Open::Step(_, t) | Open::Bullet(t) => {
                    t.push(' ');
                    t.push_str(line);
                    m.open_fixed &= fixed;
                }
            }
        }
    }
    m.flush();
    let (blocks, fixed_blocks) = (m.blocks, m.fixed_blocks);
    check_complete(&slots, &blocks).map_err(|message| LetterError::Markup {
        template: template.to_string(),
        line: 0,
        message,
    })?;
    Ok(LetterText {
        slots,
        blocks,
        fixed_blocks,
        fixed_slots,
    })
}

/// Every required slot is there and the code box appears exactly once.
fn check_complete(slots: &BTreeMap<String, String>, blocks: &[Block]) -> Result<(), String> {
    if let Some(slot) = REQUIRED_SLOTS.iter().find(|s| !slots.contains_key(**s)) {
        return Err(format!("the slot '@{slot}:' is missing"));
    }
    let code_boxes = blocks.iter().filter(|b| **b == Block::CodeBox).count();
    if code_boxes != 1 {
        return Err(format!(
            "'@code-box' must appear exactly once; it appears {code_boxes} times"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_per_language() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(long_date(d, Language::En), "November 25, 2026");
        assert_eq!(long_date(d, Language::Es), "25 de noviembre de 2026");
        let dates = NoticeDates::new(d, 90);
        assert_eq!(
            dates.expires_on,
            NaiveDate::from_ymd_opt(2027, 2, 23).unwrap()
        );
    }

    #[test]
    fn a_blocks_spans_are_its_bold_runs_whether_or_not_it_has_any() {
        // The block's own text, taken without a copy, splits as `spans`.
        for text in [
            "",
            "Dear Nguyễn Thị Hồng:",
            "Use **7KQ2** now",
            "**all bold**",
            "a**b",
            "****",
            "* one star *",
            "*",
            "ends with a star*",
            "* then ** later",
            "é*è**ü",
        ] {
            assert_eq!(text_spans(text.to_string()), spans(text), "{text:?}");
            assert_eq!(has_bold_marker(text), text.contains("**"), "{text:?}");
        }
    }

    #[test]
    fn markup_blocks_and_spans() {
        let mut text = String::new();
        for slot in REQUIRED_SLOTS {
            text.push_str(&format!("@{slot}: {slot} words\n"));
        }
        text.push_str("Dear A:\n\nFirst line\ncontinues **bold** end.\n\n@code-box\n# Steps\n1. One\n   more\n2. Two\n- Bullet\n");
        let l = parse_markup(&text, "t").unwrap();
        assert_eq!(l.slot("title"), "title words");
        assert_eq!(
            l.blocks,
            vec![
                Block::Paragraph(spans("Dear A:")),
                Block::Paragraph(vec![
                    Span {
                        text: "First line continues ".into(),
                        bold: false
                    },
                    Span {
                        text: "bold".into(),
                        bold: true
                    },
                    Span {
                        text: " end.".into(),
                        bold: false
                    },
                ]),
                Block::CodeBox,
                Block::Heading(spans("Steps")),
                Block::Step {
                    marker: "1.".into(),
                    spans: spans("One more")
                },
                Block::Step {
                    marker: "2.".into(),
                    spans: spans("Two")
                },
                Block::Bullet(spans("Bullet")),
            ]
        );
    }

    #[test]
    fn markup_errors_name_the_problem() {
        let err = parse_markup("@code-box\n", "x.tera")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.tera") && err.contains("'@department:' is missing"),
            "{err}"
        );
        let err = parse_markup("@what is this\n", "x.tera")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
