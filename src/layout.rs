//! Placement: where every word, box and bar of a letter goes on the page.
//!
//! The template owns the words ([`crate::letter`]); this module owns the
//! geometry. Page 1 carries, in its top panel, the return address in the
//! envelope's return window, the letterhead and reference block to the
//! right, and the recipient block (with the Intelligent Mail barcode above it
//! when one is configured) in the recipient window. The body follows below
//! the recipient window and flows onto further pages only when it must.
//!
//! Pagination never splits the code box, never leaves a heading at the foot
//! of a page without at least two lines of what it heads, and never leaves a
//! single line of a paragraph alone at the top or bottom of a page.
//!
//! Coordinates are points from the page's top-left corner (see
//! [`crate::envelope`]). Output is a list of [`Page`]s of plain drawing
//! items; [`crate::pdf`] turns them into PDF operators.
//!
//! One file per block: `top_panel` (return address, letterhead, reference
//! block, fold marks), `address_block` (barcode and recipient address),
//! `body` (measuring and pagination), `code_box`, `footer`, and
//! `wrap` (line breaking and item builders they share).

mod address_block;
mod body;
mod code_box;
mod footer;
mod top_panel;
mod wrap;

pub use address_block::*;
pub use body::*;
pub use code_box::*;
pub use footer::*;
pub use top_panel::*;

use crate::address::WindowFit;
use crate::config::{Config, Envelope};
use crate::envelope::{PageWindows, Rect, PAGE_HEIGHT_PT, PAGE_WIDTH_PT};
use crate::filing::Filing;
use crate::fonts::{fonts, Face};
use crate::imb::Barcode;
use crate::key::KeyMode;
use crate::letter::LetterText;

/// Left page margin of the body and footer (3/4 in).
pub const MARGIN_LEFT_PT: f32 = 54.0;
/// Right page margin of the body, footer and letterhead (3/4 in).
pub const MARGIN_RIGHT_PT: f32 = 54.0;
/// Width of the body text column.
pub const BODY_WIDTH_PT: f32 = PAGE_WIDTH_PT - MARGIN_LEFT_PT - MARGIN_RIGHT_PT;

/// Size of the diagonal SPECIMEN watermark on test-key letters.
pub const WATERMARK_SIZE_PT: f32 = 100.0;
/// Gray level of the watermark (0 black, 1 white): light, so the letter
/// stays readable under it.
pub const WATERMARK_GRAY: f32 = 0.86;
/// How far the watermark's centre sits below the page's centre.
pub const WATERMARK_BELOW_CENTRE_PT: f32 = 30.0;
/// The watermark's angle, counter-clockwise from the horizontal.
pub const WATERMARK_ANGLE_DEG: f32 = 40.0;
/// Gray level of ordinary text, rules and bars: black.
pub const BLACK: f32 = 0.0;
/// Gray level of labels and the department line (0 black, 1 white).
pub const LABEL_GRAY: f32 = 0.35;

/// One drawing instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// Text with its baseline at `baseline`, starting at `x`.
    Text {
        x: f32,
        baseline: f32,
        face: Face,
        size: f32,
        text: String,
        /// 0 = black, 1 = white.
        gray: f32,
        /// Outline width added around glyphs (0 for none), for emphasis.
        stroke: f32,
    },
    /// Text with every character centred in a cell `cell` points wide, so a
    /// proportional face reads as monospaced (for the access code).
    CellText {
        x: f32,
        baseline: f32,
        face: Face,
        size: f32,
        text: String,
        cell: f32,
        stroke: f32,
    },
    /// Large text rotated about its centre, drawn under everything else.
    Watermark {
        text: String,
        face: Face,
        size: f32,
        center_x: f32,
        center_y: f32,
        angle_deg: f32,
        gray: f32,
    },
    /// A filled rectangle (`fill` gray) or an outline (`stroke` width).
    Rect {
        rect: Rect,
        fill: Option<f32>,
        stroke: Option<f32>,
    },
}

/// One page's drawing items, in painting order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// The items that are the same on every letter of a run, as sorted,
    /// disjoint ranges of `items`: the template's own text (see
    /// [`crate::letter::LiteralRuns`]), the agency's return address and
    /// letterhead, rules, frames and the watermark. Names, addresses, dates,
    /// the receipt, the code and the barcode never are. The print stage draws
    /// fixed items once per print file (see [`crate::pdf::form`]).
    pub fixed: Vec<std::ops::Range<usize>>,
}

impl Page {
    /// Adds `item`, fixed or not.
    pub fn push(&mut self, item: Item, fixed: bool) {
        self.items.push(item);
        if fixed {
            self.mark_fixed(self.items.len() - 1);
        }
    }

    /// Marks the items from `start` to the last as fixed.
    pub fn mark_fixed(&mut self, start: usize) {
        let end = self.items.len();
        if start >= end {
            return;
        }
        match self.fixed.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => self.fixed.push(start..end),
        }
    }

    /// Whether item `i` is fixed.
    pub fn is_fixed(&self, i: usize) -> bool {
        self.fixed.iter().any(|r| r.contains(&i))
    }
}

/// Everything a letter's layout needs besides its words.
pub struct LetterParts<'a> {
    pub text: &'a LetterText,
    pub filing: &'a Filing,
    /// The access code, grouped `XXXX-XXXX-XXXX`.
    pub code: &'a str,
    pub notice_date: &'a str,
    pub expires_on: &'a str,
    pub piece_id: &'a str,
    pub barcode: Option<&'a Barcode>,
    /// The key's kind: letters made with a test key carry a SPECIMEN
    /// watermark on every page.
    pub mode: KeyMode,
    pub config: &'a Config,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LayoutError {
    #[error("the letter font cannot print '{ch}' (U+{code:04X}) in \"{context}\"")]
    MissingGlyph {
        ch: char,
        code: u32,
        context: String,
    },
    #[error("the address does not fit the envelope window: {0}")]
    AddressTooBig(String),
    #[error("the envelope configuration is not usable: {0}")]
    Envelope(String),
}

/// The recipient window as intake checks address lines against it: the
/// text width of the configured envelope's recipient window and the
/// smallest size the recipient block sets the address at. Built once at the
/// edge (the batch, the CLI) and handed to [`crate::intake::Intake`], so
/// that no row intake accepts can fail the layout of its letter.
pub fn window_fit(envelope: &Envelope) -> Result<WindowFit, LayoutError> {
    let windows = PageWindows::from_envelope(envelope).map_err(LayoutError::Envelope)?;
    Ok(WindowFit {
        max_line_width_pt: windows.recipient_text.width,
        font_size_pt: ADDRESS_SIZES_PT[ADDRESS_SIZES_PT.len() - 1],
        face: Face::Sans,
    })
}

#[cfg(test)]
mod window_fit_tests {
    #[test]
    fn default_envelope_fit_is_what_intake_tests_assume() {
        let env = Config::default_config().envelope;
        let fit = super::window_fit(&env).expect("default envelope");
        assert_eq!(fit, crate::address::DEFAULT_WINDOW_FIT);
    }
    use crate::config::Config;
}

/// Lays out one letter. Pure: the same parts give the same pages.
pub fn layout(parts: &LetterParts<'_>) -> Result<Vec<Page>, LayoutError> {
    let windows =
        PageWindows::from_envelope(&parts.config.envelope).map_err(LayoutError::Envelope)?;
    let mut first = Page::default();
    first.items.extend(watermark(parts.mode));
    first.mark_fixed(0);
    top_panel::top_panel(parts, windows.return_text, &mut first)?;
    address_block::recipient_block(parts, &windows, &mut first.items)?;
    let body_top = windows.recipient.bottom() + BODY_GAP_BELOW_WINDOW_PT;
    let mut pages = body::flow_body(parts, first, body_top);
    let total = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        footer::footer(parts, i + 1, total, page);
    }
    check_glyphs(&pages)?;
    Ok(pages)
}

/// The SPECIMEN watermark of a test key's page, drawn first so it lies
/// under everything else; a production key's page has none.
fn watermark(mode: KeyMode) -> Option<Item> {
    match mode {
        KeyMode::Test => Some(specimen_watermark()),
        KeyMode::Production => None,
    }
}

fn specimen_watermark() -> Item {
    Item::Watermark {
        text: "SPECIMEN".into(),
        face: Face::SerifBold,
        size: WATERMARK_SIZE_PT,
        center_x: PAGE_WIDTH_PT / 2.0,
        center_y: PAGE_HEIGHT_PT / 2.0 + WATERMARK_BELOW_CENTRE_PT,
        angle_deg: WATERMARK_ANGLE_DEG,
        gray: WATERMARK_GRAY,
    }
}

/// Every character must have a glyph: a missing one would print as an empty
/// box, so it is an error, never a silent substitution.
fn check_glyphs(pages: &[Page]) -> Result<(), LayoutError> {
    let f = fonts();
    for item in pages.iter().flat_map(|p| &p.items) {
        let (face, s) = match item {
            Item::Text { face, text, .. }
            | Item::CellText { face, text, .. }
            | Item::Watermark { face, text, .. } => (*face, text),
            Item::Rect { .. } => continue,
        };
        if let Some(ch) = f.get(face).missing_glyph(s) {
            return Err(LayoutError::MissingGlyph {
                ch,
                code: ch as u32,
                context: s.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::POINTS_PER_INCH;
    use crate::filing::{Address, FormType, Language, ReceiptNumber};
    use crate::letter::{NoticeDates, Templates};
    use chrono::NaiveDate;

    /// The first row of `fixtures/filings.csv`, as intake validates it.
    fn fixture_filing() -> Filing {
        Filing {
            line: 2,
            receipt: ReceiptNumber::parse("IOE0912345601").unwrap(),
            form: FormType::I485,
            received_date: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            given_name: "José".into(),
            middle_name: Some("Luis".into()),
            family_name: "Ramírez Núñez".into(),
            a_number: Some("A012345678".into()),
            name_line: "JOSE LUIS RAMIREZ NUNEZ".into(),
            address: Address {
                in_care_of: None,
                line1: "1234 ELM ST APT 4B".into(),
                line2: None,
                city: "LOS ANGELES".into(),
                state: "CA".into(),
                zip5: "90012".into(),
                zip4: Some("3456".into()),
            },
            language: Language::En,
        }
    }

    /// Lays out the fixture letter with `config`, and nothing else.
    fn lay_out(config: &Config) -> Result<Vec<Page>, LayoutError> {
        let filing = fixture_filing();
        let dates = NoticeDates::new(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), 90);
        let text = Templates::builtin().render(&filing, dates, config).unwrap();
        layout(&LetterParts {
            text: &text,
            filing: &filing,
            code: "ABCD-EFGH-JKMN",
            notice_date: "November 25, 2026",
            expires_on: "February 23, 2027",
            piece_id: "IOE0912345601-01",
            barcode: None,
            mode: KeyMode::Production,
            config,
        })
    }

    /// Where page 1 sets the text `s`: (x, baseline).
    fn position(pages: &[Page], s: &str) -> (f32, f32) {
        pages[0]
            .items
            .iter()
            .find_map(|item| match item {
                Item::Text {
                    x, baseline, text, ..
                } if text == s => Some((*x, *baseline)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("'{s}' is not on page 1"))
    }

    #[test]
    fn layout_uses_the_envelope_and_agency_of_the_config_it_is_given() {
        let shipped = Config::default_config();
        let mut config = shipped.clone();
        // A window 1/2 in further right and 1/4 in lower on the envelope
        // (so 1/4 in further down the page), and another return address.
        config.envelope.recipient_window.left_in += 0.5;
        config.envelope.recipient_window.bottom_in -= 0.25;
        config.agency.return_address = vec!["PO BOX 1".into(), "TESTVILLE KS 66001".into()];
        let before = lay_out(&shipped).unwrap();
        let after = lay_out(&config).unwrap();

        let last_line = fixture_filing().address.last_line();
        let (x0, y0) = position(&before, &last_line);
        let (x1, y1) = position(&after, &last_line);
        assert!(
            (x1 - x0 - 0.5 * POINTS_PER_INCH).abs() < 0.01,
            "{x0} -> {x1}"
        );
        assert!(
            (y1 - y0 - 0.25 * POINTS_PER_INCH).abs() < 0.01,
            "{y0} -> {y1}"
        );
        position(&after, "TESTVILLE KS 66001");
        assert!(!format!("{after:?}").contains("LEES SUMMIT"));
    }

    #[test]
    fn an_envelope_config_that_does_not_fit_the_page_is_a_layout_error() {
        let mut config = Config::default_config();
        config.envelope.recipient_window.bottom_in = 3.5;
        let err = lay_out(&config).unwrap_err();
        assert!(
            matches!(&err, LayoutError::Envelope(m) if m.contains("recipient window")),
            "{err}"
        );
    }
}
