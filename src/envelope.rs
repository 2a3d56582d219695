//! Where the envelope's windows fall on the page.
//!
//! The letter is a US Letter sheet folded in three. The top panel faces out
//! through the windows with its lower fold resting on the envelope bottom and
//! the sheet centred left to right. A point at height `h` above the envelope
//! bottom therefore lies `panel_height - h` below the top of the page, and a
//! window `left` from the envelope's left edge lies `left - (envelope_width -
//! page_width) / 2` from the page's left edge.
//!
//! All page coordinates here are in PDF points measured from the page's
//! top-left corner, y growing downwards, which is how a person measures a
//! printed sheet; [`crate::pdf`] flips them for PDF's bottom-left origin.

use serde::Deserialize;

/// A window cut in the envelope, measured from the envelope's lower-left corner.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// From the envelope's left edge to the window's left edge.
    pub left_in: f32,
    /// From the envelope's bottom edge to the window's bottom edge.
    pub bottom_in: f32,
    pub width_in: f32,
    pub height_in: f32,
}

/// Envelope size and windows; [`PageWindows::from_envelope`] maps them onto the page.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub width_in: f32,
    pub height_in: f32,
    /// The window that shows the recipient's address (and barcode).
    pub recipient_window: Window,
    /// The window that shows the agency's return address.
    pub return_window: Window,
    /// How far text keeps inside every window edge, so the insert may shift.
    pub clearance_in: f32,
}

/// PDF user space units per inch.
pub const POINTS_PER_INCH: f32 = 72.0;
/// US Letter width, 8 1/2 in.
pub const PAGE_WIDTH_PT: f32 = 612.0;
/// US Letter height, 11 in.
pub const PAGE_HEIGHT_PT: f32 = 792.0;
/// The sheet is folded in three equal panels.
pub const PANEL_HEIGHT_PT: f32 = PAGE_HEIGHT_PT / 3.0;

/// An axis-aligned rectangle on the page, in points, from the top-left corner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl Rect {
    pub fn right(&self) -> f32 {
        self.x + self.width
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.height
    }

    /// The rectangle shrunk by `margin` on every side.
    pub fn inset(&self, margin: f32) -> Rect {
        Rect {
            x: self.x + margin,
            y: self.y + margin,
            width: self.width - 2.0 * margin,
            height: self.height - 2.0 * margin,
        }
    }

    pub fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x - 1e-3
            && other.y >= self.y - 1e-3
            && other.right() <= self.right() + 1e-3
            && other.bottom() <= self.bottom() + 1e-3
    }
}

/// The two windows as rectangles on the page, and the areas text may use
/// inside them (the windows less the clearance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageWindows {
    pub recipient: Rect,
    pub return_address: Rect,
    pub recipient_text: Rect,
    pub return_text: Rect,
}

impl PageWindows {
    /// Maps the envelope's windows onto the folded page. Fails with a sentence
    /// when a window would fall outside the top panel or leave no room for text.
    pub fn from_envelope(env: &Envelope) -> Result<PageWindows, String> {
        let page_width_in = PAGE_WIDTH_PT / POINTS_PER_INCH;
        if env.width_in < page_width_in {
            return Err(format!(
                "envelope width {} in is narrower than the {page_width_in} in page",
                env.width_in
            ));
        }
        let side_offset_in = (env.width_in - page_width_in) / 2.0;
        let map = |w: &Window, name: &str| -> Result<Rect, String> {
            let rect = Rect {
                x: (w.left_in - side_offset_in) * POINTS_PER_INCH,
                y: PANEL_HEIGHT_PT - (w.bottom_in + w.height_in) * POINTS_PER_INCH,
                width: w.width_in * POINTS_PER_INCH,
                height: w.height_in * POINTS_PER_INCH,
            };
            let panel = Rect {
                x: 0.0,
                y: 0.0,
                width: PAGE_WIDTH_PT,
                height: PANEL_HEIGHT_PT,
            };
            if !panel.contains(&rect) {
                return Err(format!(
                    "the {name} window does not lie on the top panel of the folded page"
                ));
            }
            Ok(rect)
        };
        let recipient = map(&env.recipient_window, "recipient")?;
        let return_address = map(&env.return_window, "return")?;
        let clearance = env.clearance_in * POINTS_PER_INCH;
        if clearance < 0.0
            || recipient.height <= 2.0 * clearance
            || return_address.height <= 2.0 * clearance
        {
            return Err(format!(
                "a clearance of {} in leaves no room for text in the windows",
                env.clearance_in
            ));
        }
        Ok(PageWindows {
            recipient,
            return_address,
            recipient_text: recipient.inset(clearance),
            return_text: return_address.inset(clearance),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The design card's #10 double-window envelope (also the shipped
    /// default in `templates/agency.toml`, checked in `config`'s tests).
    pub(crate) fn number_10() -> Envelope {
        Envelope {
            width_in: 9.5,
            height_in: 4.125,
            recipient_window: Window {
                left_in: 0.625,
                bottom_in: 1.0,
                width_in: 4.0,
                height_in: 1.0,
            },
            return_window: Window {
                left_in: 0.625,
                bottom_in: 2.375,
                width_in: 3.25,
                height_in: 0.875,
            },
            clearance_in: 0.125,
        }
    }

    fn close(a: f32, b_in: f32) {
        assert!(
            (a - b_in * POINTS_PER_INCH).abs() < 0.05,
            "{a} pt is not {b_in} in"
        );
    }

    #[test]
    fn default_envelope_matches_the_design_card() {
        let w = PageWindows::from_envelope(&number_10()).unwrap();
        // Recipient window x 0.125-4.125 in, y 1.667-2.667 in.
        close(w.recipient.x, 0.125);
        close(w.recipient.right(), 4.125);
        close(w.recipient.y, 1.0 + 2.0 / 3.0);
        close(w.recipient.bottom(), 2.0 + 2.0 / 3.0);
        // Return window x 0.125-3.375 in, y 0.417-1.292 in.
        close(w.return_address.x, 0.125);
        close(w.return_address.right(), 3.375);
        close(w.return_address.y, 11.0 / 3.0 - 3.25);
        close(w.return_address.bottom(), 11.0 / 3.0 - 2.375);
        // Text keeps 1/8 in inside.
        close(w.recipient_text.x, 0.25);
        close(w.recipient_text.height, 0.75);
    }

    #[test]
    fn a_window_off_the_panel_is_refused() {
        let mut env = number_10();
        env.recipient_window.bottom_in = 3.5;
        let err = PageWindows::from_envelope(&env).unwrap_err();
        assert!(err.contains("recipient window"), "{err}");
    }
}
