//! The footer on every page: a rule, the piece ID on the left and "page X of
//! Y" on the right, below the lowest line of body text.

use super::wrap::{rule, text};
use super::{LetterParts, Page, BODY_WIDTH_PT, MARGIN_LEFT_PT, MARGIN_RIGHT_PT};
use crate::envelope::{PAGE_HEIGHT_PT, PAGE_WIDTH_PT};
use crate::fonts::{fonts, Face};

/// Top edge of the footer rule, 42 pt above the page's bottom edge.
pub const FOOTER_RULE_PT: f32 = PAGE_HEIGHT_PT - 42.0;
/// Thickness of the footer rule.
pub const FOOTER_RULE_THICKNESS_PT: f32 = 0.5;
/// Baseline of the footer text, 30 pt above the page's bottom edge.
pub const FOOTER_BASELINE_PT: f32 = PAGE_HEIGHT_PT - 30.0;
/// Size of the footer text.
pub const FOOTER_SIZE_PT: f32 = 8.0;

/// The footer of page `page` of `total`.
pub(super) fn footer(parts: &LetterParts<'_>, page: usize, total: usize, out: &mut Page) {
    let t = parts.text;
    out.push(
        rule(
            MARGIN_LEFT_PT,
            FOOTER_RULE_PT,
            BODY_WIDTH_PT,
            FOOTER_RULE_THICKNESS_PT,
        ),
        true,
    );
    let items = &mut out.items;
    let piece = format!("{} {}", t.slot("footer_piece"), parts.piece_id);
    items.push(text(
        MARGIN_LEFT_PT,
        FOOTER_BASELINE_PT,
        Face::Sans,
        FOOTER_SIZE_PT,
        &piece,
    ));
    let page_text = t
        .slot("footer_page")
        .replace("{page}", &page.to_string())
        .replace("{pages}", &total.to_string());
    let w = fonts()
        .get(Face::Serif)
        .width_pt(&page_text, FOOTER_SIZE_PT);
    items.push(text(
        PAGE_WIDTH_PT - MARGIN_RIGHT_PT - w,
        FOOTER_BASELINE_PT,
        Face::Serif,
        FOOTER_SIZE_PT,
        &page_text,
    ));
}
