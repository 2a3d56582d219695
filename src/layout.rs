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

use crate::address::WindowFit;
use crate::config::{Config, Envelope};
use crate::envelope::{PageWindows, Rect, PAGE_HEIGHT_PT, PAGE_WIDTH_PT};
use crate::filing::Filing;
use crate::fonts::{fonts, Face};
use crate::imb::{self, Barcode};
use crate::letter::{Block, LetterText, Span};

pub const MARGIN_LEFT_PT: f32 = 54.0;
pub const MARGIN_RIGHT_PT: f32 = 54.0;
pub const BODY_WIDTH_PT: f32 = PAGE_WIDTH_PT - MARGIN_LEFT_PT - MARGIN_RIGHT_PT;
/// Left edge of the letterhead and reference block, right of the windows.
pub const LETTERHEAD_LEFT_PT: f32 = 4.5 * 72.0;
pub const LETTERHEAD_WIDTH_PT: f32 = PAGE_WIDTH_PT - MARGIN_RIGHT_PT - LETTERHEAD_LEFT_PT;
/// Space between the recipient window's lower edge and the body on page 1.
pub const BODY_GAP_BELOW_WINDOW_PT: f32 = 16.0;
/// Top of the body on the second and later pages.
pub const CONTINUATION_TOP_PT: f32 = 54.0;
/// Lowest point body text may reach; the footer lives below.
pub const BODY_BOTTOM_PT: f32 = PAGE_HEIGHT_PT - 50.0;
pub const FOOTER_RULE_PT: f32 = PAGE_HEIGHT_PT - 42.0;
pub const FOOTER_BASELINE_PT: f32 = PAGE_HEIGHT_PT - 30.0;
pub const FOOTER_SIZE_PT: f32 = 8.0;

pub const BODY_SIZE_PT: f32 = 10.0;
pub const BODY_LEADING_PT: f32 = 12.8;
pub const PARAGRAPH_GAP_PT: f32 = 5.5;
pub const LIST_GAP_PT: f32 = 2.5;
pub const HEADING_SIZE_PT: f32 = 11.0;
pub const HEADING_GAP_BEFORE_PT: f32 = 7.0;
pub const HEADING_GAP_AFTER_PT: f32 = 2.0;
pub const STEP_INDENT_PT: f32 = 20.0;

pub const CODE_BOX_HEIGHT_PT: f32 = 62.0;
pub const CODE_BOX_GAP_PT: f32 = 9.0;
pub const CODE_BOX_BORDER_PT: f32 = 1.6;
pub const CODE_SIZE_PT: f32 = 22.0;
/// Cell width of one code character, in ems of the code size. DejaVu Sans
/// caps and digits are 0.6-0.77 em wide; M and W overflow a little into the
/// side bearings of their neighbours, which is still clear of them.
pub const CODE_CELL_EM: f32 = 0.82;
/// Extra stroke around code glyphs, for a bolder code without another font.
pub const CODE_STROKE_PT: f32 = 0.6;

/// Address sizes tried from largest to smallest; USPS asks for at least 8 pt.
pub const ADDRESS_SIZES_PT: [f32; 5] = [10.0, 9.5, 9.0, 8.5, 8.0];
pub const ADDRESS_LEADING: f32 = 1.06;
/// The barcode's top edge below the recipient window's top edge. It sits in
/// the text clearance band (the barcode is not text) but keeps more than the
/// 0.028 in clear zone USPS-B-3200 asks for.
pub const BARCODE_TOP_OFFSET_PT: f32 = 0.0625 * 72.0;
/// Space between the barcode and the first address line.
pub const BARCODE_GAP_PT: f32 = 2.5;

pub const RETURN_SIZES_PT: [f32; 5] = [9.0, 8.5, 8.0, 7.5, 7.0];
pub const WATERMARK_SIZE_PT: f32 = 100.0;
pub const WATERMARK_GRAY: f32 = 0.86;
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

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
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
    /// Letters made with a test key carry a SPECIMEN watermark.
    pub specimen: bool,
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

/// A positioned run of words on one line.
#[derive(Clone, Debug, PartialEq)]
struct Run {
    dx: f32,
    face: Face,
    text: String,
}

type Line = Vec<Run>;

fn face_for(bold: bool, base_bold: bool) -> Face {
    if bold || base_bold {
        Face::SerifBold
    } else {
        Face::Serif
    }
}

/// Greedy word wrap with real glyph advances. A word wider than the column
/// (a long web address) is put on its own line rather than cut.
fn wrap(spans: &[Span], width: f32, size: f32, base_bold: bool) -> Vec<Line> {
    let f = fonts();
    // Words with their face and whether white space stood before them.
    let mut tokens: Vec<(&str, Face, bool)> = Vec::new();
    let mut space_pending = false;
    for span in spans {
        let face = face_for(span.bold, base_bold);
        let mut first = true;
        for word in span.text.split_whitespace() {
            let before = !first || space_pending || span.text.starts_with(char::is_whitespace);
            tokens.push((word, face, before));
            first = false;
        }
        space_pending = span.text.ends_with(char::is_whitespace) || (first && space_pending);
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Line = Vec::new();
    let mut x = 0.0f32;
    for (word, face, space_before) in tokens {
        let w = f.get(face).width_pt(word, size);
        // The space belongs to the run it joins, so measure it in that face.
        let space = f.get(face).width_pt(" ", size);
        let gap = if space_before && !line.is_empty() {
            space
        } else {
            0.0
        };
        if !line.is_empty() && x + gap + w > width {
            lines.push(std::mem::take(&mut line));
            x = 0.0;
        }
        let gap = if line.is_empty() { 0.0 } else { gap };
        match line.last_mut() {
            Some(run) if run.face == face => {
                if gap > 0.0 {
                    run.text.push(' ');
                }
                run.text.push_str(word);
            }
            _ => line.push(Run {
                dx: x + gap,
                face,
                text: word.to_string(),
            }),
        }
        x += gap + w;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn push_line(items: &mut Vec<Item>, line: &Line, x: f32, baseline: f32, size: f32) {
    for run in line {
        items.push(Item::Text {
            x: x + run.dx,
            baseline,
            face: run.face,
            size,
            text: run.text.clone(),
            gray: 0.0,
            stroke: 0.0,
        });
    }
}

fn text(x: f32, baseline: f32, face: Face, size: f32, s: &str) -> Item {
    gray_text(x, baseline, face, size, s, 0.0)
}

fn gray_text(x: f32, baseline: f32, face: Face, size: f32, s: &str, gray: f32) -> Item {
    Item::Text {
        x,
        baseline,
        face,
        size,
        text: s.to_string(),
        gray,
        stroke: 0.0,
    }
}

fn rule(x: f32, y: f32, width: f32, thickness: f32) -> Item {
    Item::Rect {
        rect: Rect {
            x,
            y,
            width,
            height: thickness,
        },
        fill: Some(0.0),
        stroke: None,
    }
}

/// The largest size from `sizes` at which every line fits `width` and the
/// block fits `height`.
fn fit_size(
    lines: &[(Face, &str)],
    sizes: &[f32],
    width: f32,
    height: f32,
    leading: f32,
) -> Option<f32> {
    let f = fonts();
    sizes.iter().copied().find(|&size| {
        let widest = lines
            .iter()
            .map(|(face, s)| f.get(*face).width_pt(s, size))
            .fold(0.0, f32::max);
        let first = lines.first().map(|(face, _)| *face).unwrap_or(Face::Sans);
        let last = lines.last().map(|(face, _)| *face).unwrap_or(Face::Sans);
        let block = f.get(first).ascent_em * size
            + (lines.len().saturating_sub(1)) as f32 * leading * size
            + f.get(last).descent_em * size;
        widest <= width && block <= height
    })
}

/// Lays out one letter. Pure: the same parts give the same pages.
pub fn layout(parts: &LetterParts<'_>) -> Result<Vec<Page>, LayoutError> {
    let windows =
        PageWindows::from_envelope(&parts.config.envelope).map_err(LayoutError::Envelope)?;
    let mut first = Page::default();
    if parts.specimen {
        first.items.push(watermark());
    }
    top_panel(parts, &windows, &mut first.items)?;
    let body_top = windows.recipient.bottom() + BODY_GAP_BELOW_WINDOW_PT;
    let mut pages = flow_body(parts, first, body_top);
    let total = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        footer(parts, i + 1, total, &mut page.items);
    }
    check_glyphs(&pages)?;
    Ok(pages)
}

fn watermark() -> Item {
    Item::Watermark {
        text: "SPECIMEN".into(),
        face: Face::SerifBold,
        size: WATERMARK_SIZE_PT,
        center_x: PAGE_WIDTH_PT / 2.0,
        center_y: PAGE_HEIGHT_PT / 2.0 + 30.0,
        angle_deg: 40.0,
        gray: WATERMARK_GRAY,
    }
}

fn top_panel(
    parts: &LetterParts<'_>,
    windows: &PageWindows,
    items: &mut Vec<Item>,
) -> Result<(), LayoutError> {
    let f = fonts();
    let agency = &parts.config.agency;

    // Return window: agency name and return address.
    let r = windows.return_text;
    let mut ret: Vec<(Face, &str)> = vec![(Face::SerifBold, agency.name.as_str())];
    ret.extend(
        agency
            .return_address
            .iter()
            .map(|l| (Face::Sans, l.as_str())),
    );
    let size = fit_size(&ret, &RETURN_SIZES_PT, r.width, r.height, 1.15).ok_or_else(|| {
        LayoutError::Envelope("the return address does not fit the return window".into())
    })?;
    let mut baseline = r.y + f.get(Face::SerifBold).ascent_em * size;
    for (face, line) in &ret {
        items.push(text(r.x, baseline, *face, size, line));
        baseline += 1.15 * size;
    }

    // Letterhead and reference block, right of the windows.
    let x = LETTERHEAD_LEFT_PT;
    let w = LETTERHEAD_WIDTH_PT;
    let t = parts.text;
    items.push(gray_text(
        x,
        40.0,
        Face::Serif,
        8.5,
        t.slot("department"),
        LABEL_GRAY,
    ));
    let agency_size = fit_size(
        &[(Face::SerifBold, t.slot("agency"))],
        &[12.0, 11.0, 10.0, 9.0],
        w,
        40.0,
        1.0,
    )
    .unwrap_or(9.0);
    items.push(text(
        x,
        55.0,
        Face::SerifBold,
        agency_size,
        t.slot("agency"),
    ));
    items.push(rule(x, 62.0, w, 0.9));
    let title_size = fit_size(
        &[(Face::SerifBold, t.slot("title"))],
        &[15.0, 14.0, 13.0, 12.0, 11.0],
        w,
        40.0,
        1.0,
    )
    .unwrap_or(11.0);
    items.push(text(x, 82.0, Face::SerifBold, title_size, t.slot("title")));

    let label_w = 86.0;
    let value_w = w - label_w;
    let mut rows: Vec<(&str, String, Face)> = vec![
        (
            t.slot("label_receipt"),
            parts.filing.receipt.to_string(),
            Face::Sans,
        ),
        (
            t.slot("label_form"),
            parts.filing.form.code().to_string(),
            Face::SerifBold,
        ),
        (
            t.slot("label_applicant"),
            parts.filing.full_name(),
            Face::SerifBold,
        ),
    ];
    if let Some(a) = &parts.filing.a_number {
        rows.push((t.slot("label_a_number"), a.clone(), Face::Sans));
    }
    rows.push((
        t.slot("label_notice_date"),
        parts.notice_date.to_string(),
        Face::SerifBold,
    ));
    let mut baseline = 104.0;
    for (label, value, face) in rows {
        items.push(gray_text(x, baseline, Face::Serif, 8.5, label, LABEL_GRAY));
        let lines = wrap(
            &[Span {
                text: value,
                bold: face == Face::SerifBold,
            }],
            value_w,
            9.5,
            false,
        );
        for line in lines {
            if face == Face::Sans {
                for run in &line {
                    items.push(text(
                        x + label_w + run.dx,
                        baseline,
                        Face::Sans,
                        9.5,
                        &run.text,
                    ));
                }
            } else {
                push_line(items, &line, x + label_w, baseline, 9.5);
            }
            baseline += 12.0;
        }
        baseline += 1.5;
    }

    // Fold marks at the left edge help the inserter and the reader.
    for fold in 1..3 {
        items.push(rule(0.0, fold as f32 * PAGE_HEIGHT_PT / 3.0, 12.0, 0.5));
    }

    recipient_block(parts, windows, items)
}

/// Barcode and address lines inside the recipient window's text area.
fn recipient_block(
    parts: &LetterParts<'_>,
    windows: &PageWindows,
    items: &mut Vec<Item>,
) -> Result<(), LayoutError> {
    let f = fonts();
    let area = windows.recipient_text;
    let mut top = area.y;
    let mut bottom = area.bottom();
    if let Some(barcode) = parts.barcode {
        let bar_top = windows.recipient.y + BARCODE_TOP_OFFSET_PT;
        let field_height = (imb::FULL_BAR_HEIGHT_IN * 72.0) as f32;
        let field_bottom = bar_top + field_height;
        let pitch = (imb::BAR_PITCH_IN * 72.0) as f32;
        let bar_w = (imb::BAR_WIDTH_IN * 72.0) as f32;
        for (i, kind) in barcode.bar_kinds().enumerate() {
            let (lo, hi) = imb::bar_extent(kind);
            let (lo, hi) = (lo as f32, hi as f32);
            items.push(Item::Rect {
                rect: Rect {
                    x: area.x + i as f32 * pitch,
                    y: field_bottom - hi * 72.0,
                    width: bar_w,
                    height: (hi - lo) * 72.0,
                },
                fill: Some(0.0),
                stroke: None,
            });
        }
        top = top.max(field_bottom + BARCODE_GAP_PT);
    }
    // Guard against rounding: the block must end inside the text area.
    bottom = bottom.min(area.bottom());
    let lines = parts.filing.address_lines();
    let block: Vec<(Face, &str)> = lines.iter().map(|l| (Face::Sans, l.as_str())).collect();
    let size = fit_size(
        &block,
        &ADDRESS_SIZES_PT,
        area.width,
        bottom - top,
        ADDRESS_LEADING,
    )
    .ok_or_else(|| {
        LayoutError::AddressTooBig(format!(
            "{} lines do not fit {:.2} in of window height at 8 pt",
            lines.len(),
            (bottom - top) / 72.0
        ))
    })?;
    let mono = f.get(Face::Sans);
    let mut baseline = top + mono.ascent_em * size;
    for line in &lines {
        items.push(text(area.x, baseline, Face::Sans, size, line));
        baseline += ADDRESS_LEADING * size;
    }
    Ok(())
}

/// A body block measured for pagination.
struct Measured {
    gap_before: f32,
    kind: MeasuredKind,
}

enum MeasuredKind {
    Lines {
        lines: Vec<Line>,
        x: f32,
        size: f32,
        leading: f32,
        marker: Option<(String, Face)>,
        heading: bool,
    },
    CodeBox,
}

impl Measured {
    /// Height that must fit on the page for this block to start there.
    fn min_start(&self) -> f32 {
        match &self.kind {
            MeasuredKind::Lines {
                lines,
                leading,
                heading,
                ..
            } => {
                // A block of three lines or fewer cannot split two and two,
                // so it must start whole; a longer one needs two lines.
                if *heading || lines.len() <= 3 {
                    lines.len() as f32 * leading
                } else {
                    2.0 * leading
                }
            }
            MeasuredKind::CodeBox => CODE_BOX_HEIGHT_PT,
        }
    }
}

fn measure(blocks: &[Block]) -> Vec<Measured> {
    let mut out = Vec::new();
    let mut prev: Option<&Block> = None;
    for block in blocks {
        let is_list = |b: Option<&Block>| matches!(b, Some(Block::Step { .. } | Block::Bullet(_)));
        let m = match block {
            Block::Heading(spans) => Measured {
                gap_before: if prev.is_some() {
                    HEADING_GAP_BEFORE_PT
                } else {
                    0.0
                },
                kind: MeasuredKind::Lines {
                    lines: wrap(spans, BODY_WIDTH_PT, HEADING_SIZE_PT, true),
                    x: MARGIN_LEFT_PT,
                    size: HEADING_SIZE_PT,
                    leading: HEADING_SIZE_PT * 1.25,
                    marker: None,
                    heading: true,
                },
            },
            Block::Paragraph(spans) => Measured {
                gap_before: match prev {
                    None => 0.0,
                    Some(Block::Heading(_)) => HEADING_GAP_AFTER_PT,
                    _ => PARAGRAPH_GAP_PT,
                },
                kind: MeasuredKind::Lines {
                    lines: wrap(spans, BODY_WIDTH_PT, BODY_SIZE_PT, false),
                    x: MARGIN_LEFT_PT,
                    size: BODY_SIZE_PT,
                    leading: BODY_LEADING_PT,
                    marker: None,
                    heading: false,
                },
            },
            Block::Step { spans, .. } | Block::Bullet(spans) => {
                let marker = match block {
                    Block::Step { marker, .. } => (marker.clone(), Face::SerifBold),
                    _ => ("•".to_string(), Face::Serif),
                };
                Measured {
                    gap_before: match prev {
                        None => 0.0,
                        Some(Block::Heading(_)) => HEADING_GAP_AFTER_PT,
                        p if is_list(p) => LIST_GAP_PT,
                        _ => PARAGRAPH_GAP_PT,
                    },
                    kind: MeasuredKind::Lines {
                        lines: wrap(spans, BODY_WIDTH_PT - STEP_INDENT_PT, BODY_SIZE_PT, false),
                        x: MARGIN_LEFT_PT + STEP_INDENT_PT,
                        size: BODY_SIZE_PT,
                        leading: BODY_LEADING_PT,
                        marker: Some(marker),
                        heading: false,
                    },
                }
            }
            Block::CodeBox => Measured {
                gap_before: CODE_BOX_GAP_PT,
                kind: MeasuredKind::CodeBox,
            },
        };
        out.push(m);
        prev = Some(block);
    }
    // The block after the code box keeps its distance too.
    for i in 1..out.len() {
        if matches!(out[i - 1].kind, MeasuredKind::CodeBox) {
            out[i].gap_before = CODE_BOX_GAP_PT;
        }
    }
    out
}

fn flow_body(parts: &LetterParts<'_>, first: Page, body_top: f32) -> Vec<Page> {
    let measured = measure(&parts.text.blocks);
    let mut pages = vec![first];
    let mut y = body_top;
    let new_page = |pages: &mut Vec<Page>| {
        let mut p = Page::default();
        if parts.specimen {
            p.items.push(watermark());
        }
        pages.push(p);
        CONTINUATION_TOP_PT
    };
    for (i, m) in measured.iter().enumerate() {
        let at_top = |y: f32, pages: &Vec<Page>| {
            (pages.len() == 1 && (y - body_top).abs() < 0.01)
                || (pages.len() > 1 && (y - CONTINUATION_TOP_PT).abs() < 0.01)
        };
        let gap = if at_top(y, &pages) { 0.0 } else { m.gap_before };
        // A heading keeps the start of what follows it on the same page.
        let mut need = gap + m.min_start();
        if let MeasuredKind::Lines { heading: true, .. } = m.kind {
            if let Some(next) = measured.get(i + 1) {
                need += next.gap_before + next.min_start();
            }
        }
        if y + need > BODY_BOTTOM_PT && !at_top(y, &pages) {
            y = new_page(&mut pages);
        } else {
            y += gap;
        }
        match &m.kind {
            MeasuredKind::CodeBox => {
                code_box(parts, y, &mut pages.last_mut().expect("a page").items);
                y += CODE_BOX_HEIGHT_PT;
            }
            MeasuredKind::Lines {
                lines,
                x,
                size,
                leading,
                marker,
                heading,
            } => {
                let ascent = fonts().get(Face::Serif).ascent_em * size;
                for (n, line) in lines.iter().enumerate() {
                    let remaining = lines.len() - n;
                    // Do not leave one line alone at the top of the next page.
                    let keep = if !*heading && n > 0 && remaining == 2 {
                        2.0
                    } else {
                        1.0
                    };
                    if y + keep * leading > BODY_BOTTOM_PT && n > 0 {
                        y = new_page(&mut pages);
                    }
                    let baseline = y + ascent;
                    let items = &mut pages.last_mut().expect("a page").items;
                    if n == 0 {
                        if let Some((mark, face)) = marker {
                            items.push(text(MARGIN_LEFT_PT + 2.0, baseline, *face, *size, mark));
                        }
                    }
                    push_line(items, line, *x, baseline, *size);
                    y += leading;
                }
            }
        }
    }
    pages
}

fn code_box(parts: &LetterParts<'_>, top: f32, items: &mut Vec<Item>) {
    let f = fonts();
    let t = parts.text;
    let rect = Rect {
        x: MARGIN_LEFT_PT,
        y: top,
        width: BODY_WIDTH_PT,
        height: CODE_BOX_HEIGHT_PT,
    };
    items.push(Item::Rect {
        rect,
        fill: None,
        stroke: Some(CODE_BOX_BORDER_PT),
    });
    let pad = 14.0;
    items.push(text(
        rect.x + pad,
        top + 17.0,
        Face::SerifBold,
        9.5,
        &t.slot("label_code").to_uppercase(),
    ));
    items.push(Item::CellText {
        x: rect.x + pad,
        baseline: top + 47.0,
        face: Face::Sans,
        size: CODE_SIZE_PT,
        text: parts.code.to_string(),
        cell: code_cell_pt(),
        stroke: CODE_STROKE_PT,
    });
    // Expiry on the right, separated by a thin rule.
    let right = rect.right() - pad;
    let label = t.slot("label_valid_until");
    let date_size = 12.0;
    let date_w = f.get(Face::SerifBold).width_pt(parts.expires_on, date_size);
    let label_w = f.get(Face::Serif).width_pt(label, 9.5);
    let col = date_w.max(label_w);
    let col_x = right - col;
    items.push(rule(
        col_x - pad,
        top + 10.0,
        0.8,
        CODE_BOX_HEIGHT_PT - 20.0,
    ));
    items.push(gray_text(
        col_x,
        top + 26.0,
        Face::Serif,
        9.5,
        label,
        LABEL_GRAY,
    ));
    items.push(text(
        col_x,
        top + 44.0,
        Face::SerifBold,
        date_size,
        parts.expires_on,
    ));
}

/// Width of one character cell of the code.
fn code_cell_pt() -> f32 {
    CODE_CELL_EM * CODE_SIZE_PT
}

fn footer(parts: &LetterParts<'_>, page: usize, total: usize, items: &mut Vec<Item>) {
    let f = fonts();
    let t = parts.text;
    items.push(rule(MARGIN_LEFT_PT, FOOTER_RULE_PT, BODY_WIDTH_PT, 0.5));
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
    let w = f.get(Face::Serif).width_pt(&page_text, FOOTER_SIZE_PT);
    items.push(text(
        PAGE_WIDTH_PT - MARGIN_RIGHT_PT - w,
        FOOTER_BASELINE_PT,
        Face::Serif,
        FOOTER_SIZE_PT,
        &page_text,
    ));
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

    fn span(t: &str, bold: bool) -> Span {
        Span {
            text: t.into(),
            bold,
        }
    }

    fn line_text(line: &Line) -> String {
        line.iter()
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>()
            .join("|")
    }

    fn run_width(run: &Run, size: f32) -> f32 {
        fonts().get(run.face).width_pt(&run.text, size)
    }

    #[test]
    fn wrap_respects_width_and_keeps_words() {
        let words = "the quick brown fox jumps over the lazy dog ".repeat(8);
        let lines = wrap(&[span(&words, false)], 200.0, 10.0, false);
        assert!(lines.len() > 3);
        let mut rebuilt = Vec::new();
        for l in &lines {
            let last = l.last().unwrap();
            assert!(last.dx + run_width(last, 10.0) <= 200.0 + 0.01);
            rebuilt.push(line_text(l));
        }
        assert_eq!(rebuilt.join(" "), words.trim());
    }

    #[test]
    fn wrap_switches_faces_for_bold_runs() {
        let lines = wrap(
            &[
                span("Your ", false),
                span("receipt number", true),
                span(", then", false),
            ],
            500.0,
            10.0,
            false,
        );
        assert_eq!(lines.len(), 1);
        let faces: Vec<Face> = lines[0].iter().map(|r| r.face).collect();
        assert_eq!(faces, vec![Face::Serif, Face::SerifBold, Face::Serif]);
        assert_eq!(line_text(&lines[0]), "Your|receipt number|, then");
        let (a, b, c) = (&lines[0][0], &lines[0][1], &lines[0][2]);
        // A space stands between "Your" and "receipt", none before the comma.
        let space = fonts().get(Face::SerifBold).width_pt(" ", 10.0);
        assert!((b.dx - (a.dx + run_width(a, 10.0)) - space).abs() < 0.01);
        assert!((c.dx - (b.dx + run_width(b, 10.0))).abs() < 0.01);
    }
}
