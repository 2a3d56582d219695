//! The top panel of page 1, the part that faces out of the envelope: the
//! return address in the return window, the letterhead and the reference
//! block to the right of the windows, and fold marks at the left edge. The
//! recipient block in the recipient window is `address_block`.
//!
//! Baselines are measured from the top of the page, in points.

use super::wrap::{fit_size, gray_text, push_line, rule, text, wrap};
use super::{Item, LayoutError, LetterParts, Page, LABEL_GRAY, MARGIN_RIGHT_PT};
use crate::config::Agency;
use crate::envelope::{Rect, PAGE_WIDTH_PT, PANEL_HEIGHT_PT, POINTS_PER_INCH};
use crate::fonts::{fonts, Face};
use crate::letter::{LetterText, Span};

/// Return address sizes tried from largest to smallest.
pub const RETURN_SIZES_PT: [f32; 5] = [9.0, 8.5, 8.0, 7.5, 7.0];
/// Baseline-to-baseline distance of the return address, in ems of its size.
pub const RETURN_LEADING_EM: f32 = 1.15;

/// Left edge of the letterhead and reference block, right of the windows
/// (the return and recipient windows end at 3 3/8 and 4 1/8 in).
pub const LETTERHEAD_LEFT_IN: f32 = 4.5;
/// [`LETTERHEAD_LEFT_IN`] in points.
pub const LETTERHEAD_LEFT_PT: f32 = LETTERHEAD_LEFT_IN * POINTS_PER_INCH;
/// Width of the letterhead and reference block, up to the right margin.
pub const LETTERHEAD_WIDTH_PT: f32 = PAGE_WIDTH_PT - MARGIN_RIGHT_PT - LETTERHEAD_LEFT_PT;
/// Height a single letterhead line may take when its size is chosen; more
/// than any size tried, so only the width decides.
pub const LETTERHEAD_LINE_HEIGHT_LIMIT_PT: f32 = 40.0;
/// Leading passed to the size search for a single line (unused by one line).
pub const SINGLE_LINE_LEADING_EM: f32 = 1.0;

/// Baseline of the department line ("U.S. Department of Homeland Security").
pub const DEPARTMENT_BASELINE_PT: f32 = 40.0;
/// Size of the department line.
pub const DEPARTMENT_SIZE_PT: f32 = 8.5;
/// Baseline of the agency name under the department line.
pub const AGENCY_BASELINE_PT: f32 = 55.0;
/// Agency name sizes tried from largest to smallest until it fits the width.
pub const AGENCY_SIZES_PT: [f32; 4] = [12.0, 11.0, 10.0, 9.0];
/// Top edge of the rule under the agency name.
pub const LETTERHEAD_RULE_TOP_PT: f32 = 62.0;
/// Thickness of the rule under the agency name.
pub const LETTERHEAD_RULE_THICKNESS_PT: f32 = 0.9;
/// Baseline of the letter's title under the rule.
pub const TITLE_BASELINE_PT: f32 = 82.0;
/// Title sizes tried from largest to smallest until it fits the width.
pub const TITLE_SIZES_PT: [f32; 5] = [15.0, 14.0, 13.0, 12.0, 11.0];

/// Baseline of the first reference row (receipt number).
pub const REFERENCE_FIRST_BASELINE_PT: f32 = 104.0;
/// Width of the reference labels' column; the values start after it.
pub const REFERENCE_LABEL_WIDTH_PT: f32 = 86.0;
/// Size of the reference labels ("Receipt number", "Notice date"...).
pub const REFERENCE_LABEL_SIZE_PT: f32 = 8.5;
/// Size of the reference values.
pub const REFERENCE_VALUE_SIZE_PT: f32 = 9.5;
/// Baseline-to-baseline distance of the lines of one reference value.
pub const REFERENCE_LEADING_PT: f32 = 12.0;
/// Extra space between two reference rows.
pub const REFERENCE_ROW_GAP_PT: f32 = 1.5;

/// Length of the fold marks at the page's left edge.
pub const FOLD_MARK_LENGTH_PT: f32 = 12.0;
/// Thickness of the fold marks.
pub const FOLD_MARK_THICKNESS_PT: f32 = 0.5;

/// Everything in the top panel except the recipient block.
pub(super) fn top_panel(
    parts: &LetterParts<'_>,
    return_text: Rect,
    page: &mut Page,
) -> Result<(), LayoutError> {
    // The return address and fold marks come from the configuration and
    // the letterhead from the template: the same on every letter of a run.
    let start = page.items.len();
    return_address(&parts.config.agency, return_text, &mut page.items)?;
    page.mark_fixed(start);
    letterhead(parts.text, page);
    reference_block(parts, page);
    let start = page.items.len();
    fold_marks(&mut page.items);
    page.mark_fixed(start);
    Ok(())
}

/// Agency name and return address, as large as the return window allows.
fn return_address(agency: &Agency, area: Rect, items: &mut Vec<Item>) -> Result<(), LayoutError> {
    let mut lines: Vec<(Face, &str)> = vec![(Face::SerifBold, agency.name.as_str())];
    lines.extend(
        agency
            .return_address
            .iter()
            .map(|l| (Face::Sans, l.as_str())),
    );
    let size = fit_size(
        &lines,
        &RETURN_SIZES_PT,
        area.width,
        area.height,
        RETURN_LEADING_EM,
    )
    .ok_or_else(|| {
        LayoutError::Envelope("the return address does not fit the return window".into())
    })?;
    let mut baseline = area.y + fonts().get(Face::SerifBold).ascent_em * size;
    for (face, line) in &lines {
        items.push(text(area.x, baseline, *face, size, line));
        baseline += RETURN_LEADING_EM * size;
    }
    Ok(())
}

/// The largest of `sizes` at which `line` fits the letterhead's width.
fn letterhead_size(line: &str, sizes: &[f32]) -> f32 {
    fit_size(
        &[(Face::SerifBold, line)],
        sizes,
        LETTERHEAD_WIDTH_PT,
        LETTERHEAD_LINE_HEIGHT_LIMIT_PT,
        SINGLE_LINE_LEADING_EM,
    )
    .unwrap_or(sizes[sizes.len() - 1])
}

/// Department, agency name, a rule, and the letter's title.
fn letterhead(t: &LetterText, page: &mut Page) {
    let x = LETTERHEAD_LEFT_PT;
    page.push(
        gray_text(
            x,
            DEPARTMENT_BASELINE_PT,
            Face::Serif,
            DEPARTMENT_SIZE_PT,
            t.slot("department"),
            LABEL_GRAY,
        ),
        t.slot_is_fixed("department"),
    );
    let agency_size = letterhead_size(t.slot("agency"), &AGENCY_SIZES_PT);
    page.push(
        text(
            x,
            AGENCY_BASELINE_PT,
            Face::SerifBold,
            agency_size,
            t.slot("agency"),
        ),
        t.slot_is_fixed("agency"),
    );
    page.push(
        rule(
            x,
            LETTERHEAD_RULE_TOP_PT,
            LETTERHEAD_WIDTH_PT,
            LETTERHEAD_RULE_THICKNESS_PT,
        ),
        true,
    );
    let title_size = letterhead_size(t.slot("title"), &TITLE_SIZES_PT);
    page.push(
        text(
            x,
            TITLE_BASELINE_PT,
            Face::SerifBold,
            title_size,
            t.slot("title"),
        ),
        t.slot_is_fixed("title"),
    );
}

/// Label, value and face of each reference row, top to bottom.
fn reference_rows(parts: &LetterParts<'_>) -> Vec<(&'static str, String, Face)> {
    let filing = parts.filing;
    let mut rows: Vec<(&str, String, Face)> = vec![
        ("label_receipt", filing.receipt.to_string(), Face::Sans),
        (
            "label_form",
            filing.form.code().to_string(),
            Face::SerifBold,
        ),
        ("label_applicant", filing.full_name(), Face::SerifBold),
    ];
    if let Some(a) = &filing.a_number {
        rows.push(("label_a_number", a.clone(), Face::Sans));
    }
    rows.push((
        "label_notice_date",
        parts.notice_date.to_string(),
        Face::SerifBold,
    ));
    rows
}

/// Receipt number, form, applicant, A-number and notice date: gray labels
/// on the left, values (wrapped if long) on the right.
fn reference_block(parts: &LetterParts<'_>, page: &mut Page) {
    let x = LETTERHEAD_LEFT_PT;
    let value_x = x + REFERENCE_LABEL_WIDTH_PT;
    let value_w = LETTERHEAD_WIDTH_PT - REFERENCE_LABEL_WIDTH_PT;
    let size = REFERENCE_VALUE_SIZE_PT;
    let mut baseline = REFERENCE_FIRST_BASELINE_PT;
    let t = parts.text;
    for (slot, value, face) in reference_rows(parts) {
        page.push(
            gray_text(
                x,
                baseline,
                Face::Serif,
                REFERENCE_LABEL_SIZE_PT,
                t.slot(slot),
                LABEL_GRAY,
            ),
            t.slot_is_fixed(slot),
        );
        let items = &mut page.items;
        let bold = face == Face::SerifBold;
        let lines = wrap(&[Span { text: value, bold }], value_w, size, false);
        for line in lines {
            if face == Face::Sans {
                for run in &line {
                    items.push(text(
                        value_x + run.dx,
                        baseline,
                        Face::Sans,
                        size,
                        &run.text,
                    ));
                }
            } else {
                push_line(items, &line, value_x, baseline, size);
            }
            baseline += REFERENCE_LEADING_PT;
        }
        baseline += REFERENCE_ROW_GAP_PT;
    }
}

/// Fold marks at the left edge help the inserter and the reader.
fn fold_marks(items: &mut Vec<Item>) {
    for fold in 1..3 {
        items.push(rule(
            0.0,
            fold as f32 * PANEL_HEIGHT_PT,
            FOLD_MARK_LENGTH_PT,
            FOLD_MARK_THICKNESS_PT,
        ));
    }
}
