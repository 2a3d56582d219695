//! The recipient block: the Intelligent Mail barcode (when a mailer ID is
//! configured) and the address lines, inside the recipient window.

use super::wrap::{fit_size, text};
use super::{Item, LayoutError, LetterParts, BLACK};
use crate::envelope::{Envelope, PageWindows, Rect, POINTS_PER_INCH};
use crate::filing::Filing;
use crate::fonts::{fonts, Face};
use crate::imb::{self, Barcode};

/// Address sizes tried from largest to smallest; USPS asks for at least 8 pt.
pub const ADDRESS_SIZES_PT: [f32; 5] = [10.0, 9.5, 9.0, 8.5, 8.0];
/// Baseline-to-baseline distance of the address lines, in ems of their size.
pub const ADDRESS_LEADING_EM: f32 = 1.06;
/// The barcode's top edge below the recipient window's top edge, 1/16 in. It
/// sits in the text clearance band (the barcode is not text) but keeps more
/// than the 0.028 in clear zone USPS-B-3200 asks for.
pub const BARCODE_TOP_OFFSET_IN: f32 = 0.0625;
/// [`BARCODE_TOP_OFFSET_IN`] in points.
pub const BARCODE_TOP_OFFSET_PT: f32 = BARCODE_TOP_OFFSET_IN * POINTS_PER_INCH;
/// Space between the barcode and the first address line.
pub const BARCODE_GAP_PT: f32 = 2.5;

/// Points per inch for the barcode's dimensions, which [`imb`] gives in f64.
const POINTS_PER_INCH_F64: f64 = POINTS_PER_INCH as f64;

/// Barcode and address lines inside the recipient window's text area.
pub(super) fn recipient_block(
    parts: &LetterParts<'_>,
    windows: &PageWindows,
    items: &mut Vec<Item>,
) -> Result<(), LayoutError> {
    let area = windows.recipient_text;
    if let Some(barcode) = parts.barcode {
        barcode_bars(barcode, area.x, barcode_top(windows), items);
    }
    address_lines(
        parts,
        area,
        address_top(windows, parts.barcode.is_some()),
        items,
    )
}

/// Whether `filing`'s address fits the recipient window of `envelope`, as
/// [`recipient_block`] sets it (below a barcode when the letter has one),
/// without laying out the rest of the letter: a print run checks this when
/// it issues a letter it draws later.
pub fn check_address_fits(
    filing: &Filing,
    with_barcode: bool,
    envelope: &Envelope,
) -> Result<(), LayoutError> {
    let windows = PageWindows::from_envelope(envelope).map_err(LayoutError::Envelope)?;
    let lines = filing.address_lines();
    address_size(
        &lines,
        windows.recipient_text,
        address_top(&windows, with_barcode),
    )
    .map(|_| ())
}

/// The top of the first address line: the text area's, or below the
/// barcode's field.
fn address_top(windows: &PageWindows, with_barcode: bool) -> f32 {
    let area = windows.recipient_text;
    if !with_barcode {
        return area.y;
    }
    let field_bottom = barcode_top(windows) + barcode_field_height();
    area.y.max(field_bottom + BARCODE_GAP_PT)
}

/// The top of the barcode's bar field, in the recipient window.
fn barcode_top(windows: &PageWindows) -> f32 {
    windows.recipient.y + BARCODE_TOP_OFFSET_PT
}

/// The height of the barcode's bar field (its full bars).
fn barcode_field_height() -> f32 {
    (imb::FULL_BAR_HEIGHT_IN * POINTS_PER_INCH_F64) as f32
}

/// The 65 bars of the barcode, left-aligned at `x` with their field's top at
/// `bar_top`.
fn barcode_bars(barcode: &Barcode, x: f32, bar_top: f32, items: &mut Vec<Item>) {
    let field_bottom = bar_top + barcode_field_height();
    let pitch = (imb::BAR_PITCH_IN * POINTS_PER_INCH_F64) as f32;
    let bar_w = (imb::BAR_WIDTH_IN * POINTS_PER_INCH_F64) as f32;
    for (i, kind) in barcode.bar_kinds().enumerate() {
        let (lo, hi) = imb::bar_extent(kind);
        let (lo, hi) = (lo as f32, hi as f32);
        items.push(Item::Rect {
            rect: Rect {
                x: x + i as f32 * pitch,
                y: field_bottom - hi * POINTS_PER_INCH,
                width: bar_w,
                height: (hi - lo) * POINTS_PER_INCH,
            },
            fill: Some(BLACK),
            stroke: None,
        });
    }
}

/// The largest size at which `lines` fit `area` from `top` down.
fn address_size(lines: &[String], area: Rect, top: f32) -> Result<f32, LayoutError> {
    let bottom = area.bottom();
    let block: Vec<(Face, &str)> = lines.iter().map(|l| (Face::Sans, l.as_str())).collect();
    fit_size(
        &block,
        &ADDRESS_SIZES_PT,
        area.width,
        bottom - top,
        ADDRESS_LEADING_EM,
    )
    .ok_or_else(|| {
        LayoutError::AddressTooBig(format!(
            "{} lines do not fit {:.2} in of window height at 8 pt",
            lines.len(),
            (bottom - top) / POINTS_PER_INCH
        ))
    })
}

/// The address lines from `top` down, as large as the text area allows.
fn address_lines(
    parts: &LetterParts<'_>,
    area: Rect,
    top: f32,
    items: &mut Vec<Item>,
) -> Result<(), LayoutError> {
    let lines = parts.filing.address_lines();
    let size = address_size(&lines, area, top)?;
    let mut baseline = top + fonts().get(Face::Sans).ascent_em * size;
    for line in &lines {
        items.push(text(area.x, baseline, Face::Sans, size, line));
        baseline += ADDRESS_LEADING_EM * size;
    }
    Ok(())
}
