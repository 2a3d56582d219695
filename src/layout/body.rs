//! The body: headings, paragraphs, steps and bullets, and the code box,
//! measured and then flowed down the page and onto further pages.
//!
//! Pagination never splits the code box, never leaves a heading at the foot
//! of a page without at least two lines of what it heads, and never leaves a
//! single line of a paragraph alone at the top or bottom of a page.

use super::code_box::{code_box, CODE_BOX_GAP_PT, CODE_BOX_HEIGHT_PT};
use std::sync::Arc;

use super::wrap::{push_line, text, wrap, wrap_fixed, Line};
use super::{watermark, LetterParts, Page, BODY_WIDTH_PT, MARGIN_LEFT_PT};
use crate::envelope::PAGE_HEIGHT_PT;
use crate::fonts::{fonts, Face};
use crate::letter::{Block, LetterText, Span};

/// Space between the recipient window's lower edge and the body on page 1.
pub const BODY_GAP_BELOW_WINDOW_PT: f32 = 16.0;
/// Top of the body on the second and later pages.
pub const CONTINUATION_TOP_PT: f32 = 54.0;
/// Lowest point body text may reach, 50 pt above the page's bottom edge; the
/// footer lives below.
pub const BODY_BOTTOM_PT: f32 = PAGE_HEIGHT_PT - 50.0;

/// Size of body text (paragraphs, steps, bullets).
pub const BODY_SIZE_PT: f32 = 10.0;
/// Baseline-to-baseline distance of body text.
pub const BODY_LEADING_PT: f32 = 12.8;
/// Space before a paragraph (and before a list that follows a paragraph).
pub const PARAGRAPH_GAP_PT: f32 = 5.5;
/// Space between two items of a list.
pub const LIST_GAP_PT: f32 = 2.5;
/// Size of a heading.
pub const HEADING_SIZE_PT: f32 = 11.0;
/// Baseline-to-baseline distance of a heading's lines, in ems of its size.
pub const HEADING_LEADING_EM: f32 = 1.25;
/// Space before a heading (none when it opens the body).
pub const HEADING_GAP_BEFORE_PT: f32 = 7.0;
/// Space between a heading and what it heads.
pub const HEADING_GAP_AFTER_PT: f32 = 2.0;
/// How far the text of a step or bullet stands right of the left margin.
pub const STEP_INDENT_PT: f32 = 20.0;
/// How far a step's number or a bullet stands right of the left margin.
pub const LIST_MARKER_INDENT_PT: f32 = 2.0;
/// Two positions closer than this are the same (the top of the body).
const SAME_POSITION_PT: f32 = 0.01;

/// A body block measured for pagination.
struct Measured {
    gap_before: f32,
    kind: MeasuredKind,
}

enum MeasuredKind {
    Lines(Lines),
    CodeBox,
}

/// Wrapped text of one block and how to set it.
struct Lines {
    lines: Arc<Vec<Line>>,
    x: f32,
    size: f32,
    leading: f32,
    /// A step's number or a bullet, set left of the first line.
    marker: Option<(String, Face)>,
    heading: bool,
}

impl Measured {
    /// Height that must fit on the page for this block to start there.
    fn min_start(&self) -> f32 {
        match &self.kind {
            MeasuredKind::Lines(Lines {
                lines,
                leading,
                heading,
                ..
            }) => {
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

    fn is_heading(&self) -> bool {
        matches!(self.kind, MeasuredKind::Lines(Lines { heading: true, .. }))
    }
}

/// `spans` wrapped: once per run when they are `fixed` (see `wrap_fixed`).
fn wrapped(spans: &[Span], width: f32, size: f32, bold: bool, fixed: bool) -> Arc<Vec<Line>> {
    if fixed {
        wrap_fixed(spans, width, size, bold)
    } else {
        Arc::new(wrap(spans, width, size, bold))
    }
}

/// Body text at body size, `indent` right of the left margin.
fn body_lines(
    spans: &[Span],
    indent: f32,
    marker: Option<(String, Face)>,
    fixed: bool,
) -> MeasuredKind {
    MeasuredKind::Lines(Lines {
        lines: wrapped(spans, BODY_WIDTH_PT - indent, BODY_SIZE_PT, false, fixed),
        x: MARGIN_LEFT_PT + indent,
        size: BODY_SIZE_PT,
        leading: BODY_LEADING_PT,
        marker,
        heading: false,
    })
}

/// Space before a paragraph or list item, given the block before it.
fn gap_after(prev: Option<&Block>, in_list: bool) -> f32 {
    match prev {
        None => 0.0,
        Some(Block::Heading(_)) => HEADING_GAP_AFTER_PT,
        Some(Block::Step { .. } | Block::Bullet(_)) if in_list => LIST_GAP_PT,
        _ => PARAGRAPH_GAP_PT,
    }
}

/// One block wrapped and measured, given the block before it.
fn measure_block(block: &Block, prev: Option<&Block>, fixed: bool) -> Measured {
    match block {
        Block::Heading(spans) => Measured {
            gap_before: if prev.is_some() {
                HEADING_GAP_BEFORE_PT
            } else {
                0.0
            },
            kind: MeasuredKind::Lines(Lines {
                lines: wrapped(spans, BODY_WIDTH_PT, HEADING_SIZE_PT, true, fixed),
                x: MARGIN_LEFT_PT,
                size: HEADING_SIZE_PT,
                leading: HEADING_SIZE_PT * HEADING_LEADING_EM,
                marker: None,
                heading: true,
            }),
        },
        Block::Paragraph(spans) => Measured {
            gap_before: gap_after(prev, false),
            kind: body_lines(spans, 0.0, None, fixed),
        },
        Block::Step { marker, spans } => Measured {
            gap_before: gap_after(prev, true),
            kind: body_lines(
                spans,
                STEP_INDENT_PT,
                Some((marker.clone(), Face::SerifBold)),
                fixed,
            ),
        },
        Block::Bullet(spans) => Measured {
            gap_before: gap_after(prev, true),
            kind: body_lines(
                spans,
                STEP_INDENT_PT,
                Some(("•".to_string(), Face::Serif)),
                fixed,
            ),
        },
        Block::CodeBox => Measured {
            gap_before: CODE_BOX_GAP_PT,
            kind: MeasuredKind::CodeBox,
        },
    }
}

fn measure(text: &LetterText) -> Vec<Measured> {
    let blocks = &text.blocks;
    let mut out: Vec<Measured> = Vec::with_capacity(blocks.len());
    let mut prev: Option<&Block> = None;
    for (i, block) in blocks.iter().enumerate() {
        out.push(measure_block(block, prev, text.block_is_fixed(i)));
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

/// The pages so far and the position where the next block may start.
struct Flow<'p, 'a> {
    parts: &'p LetterParts<'a>,
    pages: Vec<Page>,
    y: f32,
    /// Top of the body on page 1.
    body_top: f32,
}

impl Flow<'_, '_> {
    /// Whether `y` is the top of the body on the current page.
    fn at_top(&self) -> bool {
        let top = if self.pages.len() == 1 {
            self.body_top
        } else {
            CONTINUATION_TOP_PT
        };
        (self.y - top).abs() < SAME_POSITION_PT
    }

    fn new_page(&mut self) {
        let mut p = Page::default();
        p.items.extend(watermark(self.parts.mode));
        p.mark_fixed(0);
        self.pages.push(p);
        self.y = CONTINUATION_TOP_PT;
    }

    fn page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a page")
    }

    /// Sets a block's lines from `y`, moving to a new page between lines
    /// where it must, never leaving one line alone at the top of a page.
    /// A `fixed` block's items are marked fixed.
    fn place_lines(&mut self, b: &Lines, fixed: bool) {
        let ascent = fonts().get(Face::Serif).ascent_em * b.size;
        for (n, line) in b.lines.iter().enumerate() {
            let remaining = b.lines.len() - n;
            // Do not leave one line alone at the top of the next page.
            let keep = if !b.heading && n > 0 && remaining == 2 {
                2.0
            } else {
                1.0
            };
            if self.y + keep * b.leading > BODY_BOTTOM_PT && n > 0 {
                self.new_page();
            }
            let baseline = self.y + ascent;
            let page = self.page();
            let start = page.items.len();
            let items = &mut page.items;
            if n == 0 {
                if let Some((mark, face)) = &b.marker {
                    let x = MARGIN_LEFT_PT + LIST_MARKER_INDENT_PT;
                    items.push(text(x, baseline, *face, b.size, mark));
                }
            }
            push_line(items, line, b.x, baseline, b.size);
            if fixed {
                page.mark_fixed(start);
            }
            self.y += b.leading;
        }
    }
}

/// Flows the body from `body_top` on page `first` onto as many pages as it
/// needs.
pub(super) fn flow_body(parts: &LetterParts<'_>, first: Page, body_top: f32) -> Vec<Page> {
    let measured = measure(parts.text);
    let mut flow = Flow {
        parts,
        pages: vec![first],
        y: body_top,
        body_top,
    };
    for (i, m) in measured.iter().enumerate() {
        let gap = if flow.at_top() { 0.0 } else { m.gap_before };
        // A heading keeps the start of what follows it on the same page.
        let mut need = gap + m.min_start();
        if m.is_heading() {
            if let Some(next) = measured.get(i + 1) {
                need += next.gap_before + next.min_start();
            }
        }
        if flow.y + need > BODY_BOTTOM_PT && !flow.at_top() {
            flow.new_page();
        } else {
            flow.y += gap;
        }
        match &m.kind {
            MeasuredKind::CodeBox => {
                code_box(parts, flow.y, flow.page());
                flow.y += CODE_BOX_HEIGHT_PT;
            }
            MeasuredKind::Lines(lines) => flow.place_lines(lines, parts.text.block_is_fixed(i)),
        }
    }
    flow.pages
}
