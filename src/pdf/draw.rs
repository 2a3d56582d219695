//! How laid-out items become PDF operators, decided once for every
//! consumer: [`items_draw`] walks the items and calls a [`Draw`] for each
//! operator, in order. printpdf's operations ([`items_ops`], for the
//! documents printpdf builds) and content-stream bytes (`content`, for
//! every page drawn) are two [`Draw`]s of the same walk, so the bytes come
//! straight from the items without building printpdf's objects first.

use printpdf::{
    Color, Greyscale, Op, PaintMode, PdfFontHandle, Point, Pt, TextItem, TextMatrix,
    TextRenderingMode,
};

use crate::envelope::Rect;
use crate::fonts::{fonts, Face};
use crate::layout::Item;

/// A piece of what a text-showing operator shows: a run of text, or a
/// move between runs in thousandths of an em (as `TJ` takes them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shown<'a> {
    Text(&'a str),
    Offset(f32),
}

/// The operators a letter's pages use, one method each, called in
/// painting order. Coordinates are PDF points from the bottom left.
pub(crate) trait Draw {
    fn begin_text(&mut self);
    fn end_text(&mut self);
    fn fill_gray(&mut self, level: f32);
    fn stroke_gray(&mut self, level: f32);
    fn line_width(&mut self, pt: f32);
    fn render_mode(&mut self, mode: TextRenderingMode);
    fn font(&mut self, face: Face, size: f32);
    fn cursor(&mut self, x: f32, y: f32);
    fn matrix(&mut self, m: [f32; 6]);
    fn show(&mut self, pieces: &[Shown<'_>]);
    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, paint: PaintMode);
}

/// PDF operators reserved per drawing item (a text object takes about six).
const OPS_PER_ITEM: usize = 6;
/// Text space units per em: TJ offsets are in thousandths of the font size.
const TEXT_SPACE_UNITS_PER_EM: f32 = 1000.0;
/// Cap height of DejaVu, in ems; the watermark is centred on it.
const WATERMARK_CAP_HEIGHT_EM: f32 = 0.73;

/// The operators that draw `items` in a space whose top edge is at PDF y
/// `top`, item by item, in order, as printpdf's operations.
pub(crate) fn items_ops(items: &[Item], top: f32) -> Vec<Op> {
    let mut ops = Vec::with_capacity(items.len() * OPS_PER_ITEM);
    items_draw(&mut ops, items, top);
    ops
}

/// Draws `items` in a space whose top edge is at PDF y `top`, item by
/// item, in order.
pub(crate) fn items_draw(d: &mut impl Draw, items: &[Item], top: f32) {
    for item in items {
        match item {
            Item::Text {
                x,
                baseline,
                face,
                size,
                text,
                gray,
                stroke,
            } => {
                let object = TextObject {
                    face: *face,
                    size: *size,
                    gray: *gray,
                    stroke: *stroke,
                    at: (*x, top - *baseline),
                };
                text_object(d, object, &[Shown::Text(text)]);
            }
            Item::CellText {
                x,
                baseline,
                face,
                size,
                text,
                cell,
                stroke,
            } => {
                let (tj, first_w) = cell_text(*face, *size, text, *cell);
                let object = TextObject {
                    face: *face,
                    size: *size,
                    gray: 0.0,
                    stroke: *stroke,
                    at: (x + (cell - first_w) / 2.0, top - *baseline),
                };
                text_object(d, object, &tj);
            }
            Item::Watermark {
                text,
                face,
                size,
                center_x,
                center_y,
                angle_deg,
                gray,
            } => {
                let center = (*center_x, top - *center_y);
                let matrix = rotated_text_matrix(*face, *size, text, center, *angle_deg);
                d.begin_text();
                d.fill_gray(*gray);
                d.font(*face, *size);
                d.matrix(matrix);
                d.show(&[Shown::Text(text)]);
                d.end_text();
            }
            Item::Rect { rect, fill, stroke } => rect_draw(d, rect, *fill, *stroke, top),
        }
    }
}

/// How one text object is set: face, size, gray, optional outline, start.
struct TextObject {
    face: Face,
    size: f32,
    gray: f32,
    /// Outline width drawn around the glyphs (0 for none), for emphasis.
    stroke: f32,
    /// Where the text starts, in PDF coordinates.
    at: (f32, f32),
}

/// One BT..ET text object at an absolute position, so every object stands
/// on its own (and tests can read positions back without tracking state).
fn text_object(d: &mut impl Draw, t: TextObject, pieces: &[Shown<'_>]) {
    d.begin_text();
    d.fill_gray(t.gray);
    if t.stroke > 0.0 {
        d.render_mode(TextRenderingMode::FillStroke);
        d.stroke_gray(t.gray);
        d.line_width(t.stroke);
    }
    d.font(t.face, t.size);
    d.cursor(t.at.0, t.at.1);
    d.show(pieces);
    if t.stroke > 0.0 {
        d.render_mode(TextRenderingMode::Fill);
    }
    d.end_text();
}

/// One TJ array for text set in even cells: each character followed by the
/// offset that moves the pen to the centre of the next cell, so text
/// extraction sees one word. Returns the array and the first glyph's width.
fn cell_text<'t>(face: Face, size: f32, text: &'t str, cell: f32) -> (Vec<Shown<'t>>, f32) {
    let m = fonts().get(face);
    let chars: Vec<&str> = text
        .char_indices()
        .map(|(i, c)| &text[i..i + c.len_utf8()])
        .collect();
    let widths: Vec<f32> = chars.iter().map(|c| m.width_pt(c, size)).collect();
    let mut tj = Vec::with_capacity(chars.len() * 2);
    for (i, c) in chars.iter().enumerate() {
        tj.push(Shown::Text(c));
        if let Some(next_w) = widths.get(i + 1) {
            let pen_after = (cell - widths[i]) / 2.0 + widths[i];
            let next_start = cell + (cell - next_w) / 2.0;
            tj.push(Shown::Offset(
                -(next_start - pen_after) * TEXT_SPACE_UNITS_PER_EM / size,
            ));
        }
    }
    (tj, widths.first().copied().unwrap_or(0.0))
}

/// The text matrix that sets `text` rotated by `angle_deg` about `center`
/// (in PDF coordinates).
fn rotated_text_matrix(
    face: Face,
    size: f32,
    text: &str,
    center: (f32, f32),
    angle_deg: f32,
) -> [f32; 6] {
    let width = fonts().get(face).width_pt(text, size);
    let height = WATERMARK_CAP_HEIGHT_EM * size;
    let (sin, cos) = angle_deg.to_radians().sin_cos();
    let (cx, cy) = center;
    let x0 = cx - width / 2.0 * cos + height / 2.0 * sin;
    let y0 = cy - width / 2.0 * sin - height / 2.0 * cos;
    [cos, sin, -sin, cos, x0, y0]
}

/// A filled rectangle, an outline, or both.
fn rect_draw(d: &mut impl Draw, rect: &Rect, fill: Option<f32>, stroke: Option<f32>, top: f32) {
    let paint = match (fill, stroke) {
        (Some(_), Some(_)) => PaintMode::FillStroke,
        (Some(_), None) => PaintMode::Fill,
        _ => PaintMode::Stroke,
    };
    if let Some(g) = fill {
        d.fill_gray(g);
    }
    if let Some(w) = stroke {
        d.stroke_gray(0.0);
        d.line_width(w);
    }
    d.rect(rect.x, top - rect.bottom(), rect.width, rect.height, paint);
}

fn gray(level: f32) -> Color {
    Color::Greyscale(Greyscale {
        percent: level,
        icc_profile: None,
    })
}

/// printpdf's operations, as its documents take them.
impl Draw for Vec<Op> {
    fn begin_text(&mut self) {
        self.push(Op::StartTextSection);
    }
    fn end_text(&mut self) {
        self.push(Op::EndTextSection);
    }
    fn fill_gray(&mut self, level: f32) {
        self.push(Op::SetFillColor { col: gray(level) });
    }
    fn stroke_gray(&mut self, level: f32) {
        self.push(Op::SetOutlineColor { col: gray(level) });
    }
    fn line_width(&mut self, pt: f32) {
        self.push(Op::SetOutlineThickness { pt: Pt(pt) });
    }
    fn render_mode(&mut self, mode: TextRenderingMode) {
        self.push(Op::SetTextRenderingMode { mode });
    }
    fn font(&mut self, face: Face, size: f32) {
        self.push(Op::SetFont {
            font: PdfFontHandle::External(face.pdf_id()),
            size: Pt(size),
        });
    }
    fn cursor(&mut self, x: f32, y: f32) {
        self.push(Op::SetTextCursor {
            pos: Point { x: Pt(x), y: Pt(y) },
        });
    }
    fn matrix(&mut self, m: [f32; 6]) {
        self.push(Op::SetTextMatrix {
            matrix: TextMatrix::Raw(m),
        });
    }
    fn show(&mut self, pieces: &[Shown<'_>]) {
        let items = pieces
            .iter()
            .map(|p| match p {
                Shown::Text(t) => TextItem::Text(t.to_string()),
                Shown::Offset(o) => TextItem::Offset(*o),
            })
            .collect();
        self.push(Op::ShowText { items });
    }
    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, paint: PaintMode) {
        self.push(Op::DrawRectangle {
            rectangle: printpdf::Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(width),
                height: Pt(height),
                mode: Some(paint),
                winding_order: None,
            },
        });
    }
}
