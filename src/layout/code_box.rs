//! The access code box: a bordered box across the body width with the code,
//! large and in even cells, on the left and its expiry date on the right.
//!
//! Offsets are from the box's top edge, in points.

use super::wrap::{gray_text, rule, text};
use super::{Item, LetterParts, Page, BODY_WIDTH_PT, LABEL_GRAY, MARGIN_LEFT_PT};
use crate::envelope::Rect;
use crate::fonts::{fonts, Face};

/// Height of the code box.
pub const CODE_BOX_HEIGHT_PT: f32 = 62.0;
/// Space kept above the code box and above the block after it.
pub const CODE_BOX_GAP_PT: f32 = 9.0;
/// Width of the code box's border.
pub const CODE_BOX_BORDER_PT: f32 = 1.6;
/// Space between the box's side edges and what it holds.
pub const CODE_BOX_PADDING_PT: f32 = 14.0;
/// Size of the access code.
pub const CODE_SIZE_PT: f32 = 22.0;
/// Cell width of one code character, in ems of the code size. DejaVu Sans
/// caps and digits are 0.6-0.77 em wide; M and W overflow a little into the
/// side bearings of their neighbours, which is still clear of them.
pub const CODE_CELL_EM: f32 = 0.82;
/// Extra stroke around code glyphs, for a bolder code without another font.
pub const CODE_STROKE_PT: f32 = 0.6;
/// Baseline of the code's label ("YOUR ACCESS CODE") below the box's top.
pub const CODE_LABEL_BASELINE_PT: f32 = 17.0;
/// Size of the code's label and of the expiry label.
pub const CODE_LABEL_SIZE_PT: f32 = 9.5;
/// Baseline of the code below the box's top.
pub const CODE_BASELINE_PT: f32 = 47.0;
/// Size of the expiry date.
pub const EXPIRY_DATE_SIZE_PT: f32 = 12.0;
/// Baseline of the expiry label ("Valid until") below the box's top.
pub const EXPIRY_LABEL_BASELINE_PT: f32 = 26.0;
/// Baseline of the expiry date below the box's top.
pub const EXPIRY_DATE_BASELINE_PT: f32 = 44.0;
/// Space between the box's top and bottom edges and the thin rule that
/// separates the expiry column from the code.
pub const EXPIRY_RULE_INSET_PT: f32 = 10.0;
/// Width of the rule before the expiry column.
pub const EXPIRY_RULE_WIDTH_PT: f32 = 0.8;

/// Width of one character cell of the code.
fn code_cell_pt() -> f32 {
    CODE_CELL_EM * CODE_SIZE_PT
}

/// The code box with its top edge at `top`.
pub(super) fn code_box(parts: &LetterParts<'_>, top: f32, page: &mut Page) {
    let rect = Rect {
        x: MARGIN_LEFT_PT,
        y: top,
        width: BODY_WIDTH_PT,
        height: CODE_BOX_HEIGHT_PT,
    };
    page.push(
        Item::Rect {
            rect,
            fill: None,
            stroke: Some(CODE_BOX_BORDER_PT),
        },
        true,
    );
    code(parts, rect, page);
    expiry(parts, rect, page);
}

/// The label and the code, in even cells so it reads as monospaced.
fn code(parts: &LetterParts<'_>, rect: Rect, page: &mut Page) {
    page.push(
        text(
            rect.x + CODE_BOX_PADDING_PT,
            rect.y + CODE_LABEL_BASELINE_PT,
            Face::SerifBold,
            CODE_LABEL_SIZE_PT,
            &parts.text.slot("label_code").to_uppercase(),
        ),
        parts.text.slot_is_fixed("label_code"),
    );
    page.items.push(Item::CellText {
        x: rect.x + CODE_BOX_PADDING_PT,
        baseline: rect.y + CODE_BASELINE_PT,
        face: Face::Sans,
        size: CODE_SIZE_PT,
        text: parts.code.to_string(),
        cell: code_cell_pt(),
        stroke: CODE_STROKE_PT,
    });
}

/// Expiry on the right, separated by a thin rule.
fn expiry(parts: &LetterParts<'_>, rect: Rect, page: &mut Page) {
    let f = fonts();
    let top = rect.y;
    let right = rect.right() - CODE_BOX_PADDING_PT;
    let label = parts.text.slot("label_valid_until");
    let date_w = f
        .get(Face::SerifBold)
        .width_pt(parts.expires_on, EXPIRY_DATE_SIZE_PT);
    let label_w = f.get(Face::Serif).width_pt(label, CODE_LABEL_SIZE_PT);
    let col_x = right - date_w.max(label_w);
    // The column stands where the expiry date's width puts it: the same on
    // every letter of a batch in one language.
    page.push(
        rule(
            col_x - CODE_BOX_PADDING_PT,
            top + EXPIRY_RULE_INSET_PT,
            EXPIRY_RULE_WIDTH_PT,
            CODE_BOX_HEIGHT_PT - 2.0 * EXPIRY_RULE_INSET_PT,
        ),
        true,
    );
    page.push(
        gray_text(
            col_x,
            top + EXPIRY_LABEL_BASELINE_PT,
            Face::Serif,
            CODE_LABEL_SIZE_PT,
            label,
            LABEL_GRAY,
        ),
        parts.text.slot_is_fixed("label_valid_until"),
    );
    page.items.push(text(
        col_x,
        top + EXPIRY_DATE_BASELINE_PT,
        Face::SerifBold,
        EXPIRY_DATE_SIZE_PT,
        parts.expires_on,
    ));
}
