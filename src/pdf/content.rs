//! Content streams written directly: the operators of a letter's pages
//! (see `pdf::draw`) as printpdf 0.12.8 writes them (`translate_operations`,
//! then lopdf's `Content::encode`), byte for byte, straight from the laid
//! out items ([`items_content`]) or from printpdf's operations
//! ([`page_content`], for letters made the way earlier versions made them).
//! Standalone letters and print files both use it; the golden letters
//! (`tests/golden`, byte for byte) pin what it writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use printpdf::{Color, Op, PaintMode, TextItem, TextRenderingMode};

use super::draw::{items_draw, Draw, Shown};
use crate::fonts::{Face, LetterFont};
use crate::layout::Item;

/// A set of characters: ASCII as bits, the rest in a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CharSet {
    ascii: u128,
    other: BTreeSet<char>,
}

impl CharSet {
    pub fn insert(&mut self, c: char) {
        if c.is_ascii() {
            self.ascii |= 1 << (c as u32);
        } else {
            self.other.insert(c);
        }
    }

    pub fn extend_from(&mut self, other: &CharSet) {
        self.ascii |= other.ascii;
        self.other.extend(other.other.iter().copied());
    }

    /// The characters, in order.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        (0u8..128)
            .filter(|&b| self.ascii & (1 << b) != 0)
            .map(char::from)
            .chain(self.other.iter().copied())
    }
}

/// Which glyph codes a content stream uses for a face's characters.
#[derive(Clone, Copy)]
pub enum GlyphCodes<'a> {
    /// The glyph ids of each face's repertoire font, whatever subset is
    /// embedded (mapped by the font's `/CIDToGIDMap`): what letters and
    /// print files draw.
    Repertoire,
    /// The glyph ids of these subsets (`/CIDToGIDMap /Identity`): how
    /// letters were drawn before 0.2 (see `pdf::legacy`).
    Subsets(&'a [Option<Arc<LetterFont>>; 3]),
}

impl GlyphCodes<'_> {
    fn code(self, face: Face, c: char) -> u16 {
        match self {
            GlyphCodes::Repertoire => crate::fonts::fonts().get(face).glyph(c),
            GlyphCodes::Subsets(fonts) => fonts[face as usize].as_ref().map_or(0, |f| f.glyph(c)),
        }
    }
}

/// A content stream written as lopdf's `Content::encode` writes it (one
/// operation a line, each operand followed by a space), without building
/// its objects first.
struct ContentWriter {
    out: Vec<u8>,
    started: bool,
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// Writes `v` exactly as Rust's `Display` writes it (as printpdf and lopdf
/// wrote content streams, so page bytes and content digests stay the
/// same): the fewest digits that read back as `v`, the nearest to `v` among
/// them, no exponent, no `.0` on a whole number.
///
/// ryu finds those digits several times faster than `core::fmt`, and the
/// two agree except where two shortest candidates are equally near (an
/// exact tie: `Display` rounds it up, ryu to even). A tie needs `v`'s exact
/// binary fraction to end one decimal past ryu's digits, so that case is
/// left to `Display`, as are numbers ryu writes with an exponent, values
/// of 2^24 and more, and subnormals (none of which a page holds).
pub(super) fn write_real(out: &mut Vec<u8>, v: f32) {
    // A whole number (most sizes, grays and many positions) is its digits:
    // `Display` writes 54.0 as "54". Not -0.0, which it writes as "-0".
    let whole = v as i32;
    if whole as f32 == v && v.abs() < EXACT_INTEGERS && v.to_bits() != (-0.0f32).to_bits() {
        out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
        return;
    }
    let mut buf = ryu::Buffer::new();
    if let Some(digits) = shortest_untied(&mut buf, v) {
        out.extend_from_slice(digits.as_bytes());
    } else {
        use std::io::Write;
        let _ = write!(out, "{v}");
    }
}

/// 2^24: every whole number below it is an `f32` of its own.
const EXACT_INTEGERS: f32 = 16_777_216.0;

/// ryu's digits for `v` without a trailing `.0`, when they are certainly
/// `Display`'s (see [`write_real`]).
fn shortest_untied(buf: &mut ryu::Buffer, v: f32) -> Option<&str> {
    let bits = v.to_bits();
    let biased = (bits >> 23) & 0xFF;
    if !v.is_finite() || v.abs() >= EXACT_INTEGERS || (biased == 0 && v != 0.0) {
        return None;
    }
    let text = buf.format_finite(v);
    if text.contains('e') {
        return None;
    }
    let text = text.strip_suffix(".0").unwrap_or(text);
    if v != 0.0 {
        // v = mantissa * 2^exp; its exact decimal expansion has as many
        // decimals as it has binary fraction digits.
        let mantissa = (bits & 0x7F_FFFF) | 0x80_0000;
        let exp = biased as i32 - 150;
        let fraction_digits = -(exp + mantissa.trailing_zeros() as i32);
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
        if fraction_digits == decimals + 1 {
            return None;
        }
    }
    Some(text)
}

impl ContentWriter {
    fn op(&mut self, operator: &str) {
        self.out.extend_from_slice(operator.as_bytes());
    }

    /// Starts an operation: a line break after the previous one.
    fn begin(&mut self) -> &mut Self {
        if self.started {
            self.out.push(b'\n');
        }
        self.started = true;
        self
    }

    fn real(&mut self, v: f32) -> &mut Self {
        write_real(&mut self.out, v);
        self.out.push(b' ');
        self
    }

    fn int(&mut self, v: i64) -> &mut Self {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.out.push(b' ');
        self
    }

    /// A name of plain letters (resource names), needing no escapes.
    fn name(&mut self, name: &str) -> &mut Self {
        self.out.push(b'/');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        self
    }

    /// `text` as a hex string of two-byte glyph codes.
    fn glyphs(&mut self, code: &dyn Fn(char) -> u16, text: &str) {
        // Four hex digits a character at most (fewer characters than bytes
        // when some are not ASCII), so the buffer grows once.
        self.out.reserve(text.len() * 4 + 2);
        self.out.push(b'<');
        for c in text.chars() {
            let g = code(c);
            let hex = |shift: u16| HEX_DIGITS[usize::from((g >> shift) & 15)];
            self.out
                .extend_from_slice(&[hex(12), hex(8), hex(4), hex(0)]);
        }
        self.out.push(b'>');
    }
}

/// A content stream being written, as a [`Draw`]: each operator as
/// printpdf writes it (`translate_operations` in printpdf 0.12.8, then
/// lopdf's `Content::encode`), for the operators a letter uses. Records the
/// characters drawn per face.
struct Stream<'c, 'g> {
    w: ContentWriter,
    codes: GlyphCodes<'g>,
    chars: &'c mut [CharSet; 3],
    face: Option<Face>,
}

impl<'c, 'g> Stream<'c, 'g> {
    fn new(capacity: usize, codes: GlyphCodes<'g>, chars: &'c mut [CharSet; 3]) -> Self {
        Stream {
            w: ContentWriter {
                out: Vec::with_capacity(capacity),
                started: false,
            },
            codes,
            chars,
            face: None,
        }
    }
}

impl Draw for Stream<'_, '_> {
    fn begin_text(&mut self) {
        self.w.begin().op("BT");
    }
    fn end_text(&mut self) {
        self.w.begin().op("ET");
    }
    fn fill_gray(&mut self, level: f32) {
        self.w.begin().real(level).op("g");
    }
    fn stroke_gray(&mut self, level: f32) {
        self.w.begin().real(level).op("G");
    }
    fn line_width(&mut self, pt: f32) {
        self.w.begin().real(pt).op("w");
    }
    fn render_mode(&mut self, mode: TextRenderingMode) {
        self.w.begin().int(mode.id()).op("Tr");
    }
    fn font(&mut self, face: Face, size: f32) {
        self.face = Some(face);
        self.w.begin().name(&face.pdf_id().0).real(size).op("Tf");
    }
    fn cursor(&mut self, x: f32, y: f32) {
        self.w.begin().real(x).real(y).op("Td");
    }
    fn matrix(&mut self, m: [f32; 6]) {
        self.w.begin();
        for v in m {
            self.w.real(v);
        }
        self.w.op("Tm");
    }
    fn show(&mut self, pieces: &[Shown<'_>]) {
        let (face, codes) = (self.face, self.codes);
        if let Some(face) = face {
            for piece in pieces {
                if let Shown::Text(text) = piece {
                    text.chars()
                        .for_each(|c| self.chars[face as usize].insert(c));
                }
            }
        }
        let code = |c: char| face.map_or(0, |f| codes.code(f, c));
        show_text(self.w.begin(), pieces, &code);
    }
    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, paint: PaintMode) {
        self.w.begin().real(x).real(y).real(width).real(height);
        self.w.op("re");
        let paint = match paint {
            PaintMode::Fill => "f",
            PaintMode::FillStroke => "B",
            _ => "S",
        };
        self.w.begin().op(paint);
    }
}

/// The content stream that draws `items` in a space whose top edge is at
/// PDF y `top` ([`items_draw`]), written straight from the items. Records
/// the characters drawn per face.
pub fn items_content(
    items: &[Item],
    top: f32,
    codes: GlyphCodes<'_>,
    chars: &mut [CharSet; 3],
) -> Vec<u8> {
    let mut stream = Stream::new(items.len() * 96, codes, chars);
    items_draw(&mut stream, items, top);
    stream.w.out
}

/// A page's content stream from printpdf's operations (those of
/// `pdf::page_ops`): each is written as [`items_content`] writes it.
/// Records the characters drawn per face.
pub fn page_content(ops: &[Op], codes: GlyphCodes<'_>, chars: &mut [CharSet; 3]) -> Vec<u8> {
    let mut d = Stream::new(ops.len() * 24, codes, chars);
    for op in ops {
        match op {
            Op::StartTextSection => d.begin_text(),
            Op::EndTextSection => d.end_text(),
            Op::SetFillColor { col } => d.fill_gray(gray_level(col)),
            Op::SetOutlineColor { col } => d.stroke_gray(gray_level(col)),
            Op::SetOutlineThickness { pt } => d.line_width(pt.0),
            Op::SetTextRenderingMode { mode } => d.render_mode(*mode),
            Op::SetFont { font, size } => {
                let id = font.get_resource_name();
                match Face::ALL.into_iter().find(|f| f.pdf_id().0 == id) {
                    Some(face) => d.font(face, size.0),
                    None => unreachable!("a letter page uses its own faces, not {id}"),
                }
            }
            Op::SetTextCursor { pos } => d.cursor(pos.x.0, pos.y.0),
            Op::SetTextMatrix { matrix } => d.matrix(matrix.as_array()),
            Op::ShowText { items } => {
                let pieces: Vec<Shown<'_>> = items
                    .iter()
                    .map(|item| match item {
                        TextItem::Text(text) => Shown::Text(text),
                        TextItem::Offset(o) => Shown::Offset(*o),
                        TextItem::GlyphIds(_) => {
                            unreachable!("letters show text, not glyph ids")
                        }
                    })
                    .collect();
                d.show(&pieces);
            }
            Op::DrawRectangle { rectangle: r } => d.rect(
                r.x.0,
                r.y.0,
                r.width.0,
                r.height.0,
                r.mode.unwrap_or(PaintMode::Stroke),
            ),
            other => unreachable!("a letter page does not use {other:?}"),
        }
    }
    d.w.out
}

fn gray_level(col: &Color) -> f32 {
    match col {
        Color::Greyscale(g) => g.percent,
        other => unreachable!("letters are drawn in gray, not {other:?}"),
    }
}

/// `Tj` for one run of text, `TJ` for runs with offsets between them (a
/// number is set off by a space, a string is not, as lopdf writes arrays).
fn show_text(w: &mut ContentWriter, pieces: &[Shown<'_>], code: &dyn Fn(char) -> u16) {
    if let [Shown::Text(text)] = pieces {
        w.glyphs(code, text);
        w.out.push(b' ');
        w.op("Tj");
        return;
    }
    w.out.push(b'[');
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Shown::Text(text) => w.glyphs(code, text),
            Shown::Offset(o) => {
                if i > 0 {
                    w.out.push(b' ');
                }
                write_real(&mut w.out, *o);
            }
        }
    }
    w.out.extend_from_slice(b"] ");
    w.op("TJ");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Rect;

    /// Written straight from the items or through printpdf's operations,
    /// a stream is the same bytes and records the same characters, for
    /// every kind of item and every branch of each.
    #[test]
    fn items_and_their_operations_write_the_same_stream() {
        let text = |face, stroke: f32, text: &str| Item::Text {
            x: 54.0,
            baseline: 301.337,
            face,
            size: 10.5,
            text: text.into(),
            gray: 0.25,
            stroke,
        };
        let rect = |fill, stroke| Item::Rect {
            rect: Rect {
                x: 70.5,
                y: 309.004,
                width: 200.0,
                height: 40.25,
            },
            fill,
            stroke,
        };
        let items = vec![
            text(Face::Serif, 0.0, "Nguyễn Thị Hồng, 1234 Elm St. Apt 4B"),
            text(Face::SerifBold, 0.4, "IOE0934567812"),
            Item::CellText {
                x: 90.0,
                baseline: 420.5,
                face: Face::Sans,
                size: 22.0,
                text: "7KQ2-M9XD-4HTW".into(),
                cell: 17.5,
                stroke: 0.6,
            },
            Item::CellText {
                x: 90.0,
                baseline: 440.5,
                face: Face::Sans,
                size: 22.0,
                text: "É".into(),
                cell: 17.5,
                stroke: 0.0,
            },
            Item::Watermark {
                text: "SPECIMEN".into(),
                face: Face::SerifBold,
                size: 96.0,
                center_x: 306.0,
                center_y: 420.25,
                angle_deg: 35.0,
                gray: 0.9,
            },
            rect(Some(0.95), Some(0.75)),
            rect(Some(0.9), None),
            rect(None, Some(1.5)),
        ];
        for top in [792.0, 0.0, 366.25] {
            let mut direct_chars: [CharSet; 3] = Default::default();
            let mut op_chars: [CharSet; 3] = Default::default();
            let direct = items_content(&items, top, GlyphCodes::Repertoire, &mut direct_chars);
            let ops = crate::pdf::items_ops(&items, top);
            let through_ops = page_content(&ops, GlyphCodes::Repertoire, &mut op_chars);
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&through_ops)
            );
            assert_eq!(direct_chars, op_chars);
            assert!(direct.windows(2).any(|w| w == b"TJ"), "a TJ array is drawn");
            assert!(direct_chars[Face::Sans as usize].chars().any(|c| c == 'É'));
        }
    }

    fn written(v: f32) -> String {
        let mut out = Vec::new();
        write_real(&mut out, v);
        String::from_utf8(out).expect("ASCII")
    }

    /// Content streams stay the same bytes: `write_real` writes what
    /// `Display` writes, for every position and size a page uses, the ties
    /// ryu rounds otherwise, and any bit pattern at all.
    #[test]
    fn reals_are_written_as_display_writes_them() {
        let mut checked = 0u32;
        let mut same = |v: f32| {
            assert_eq!(written(v), format!("{v}"), "bits {:#010x}", v.to_bits());
            checked += 1;
        };
        // Every hundredth of a point across and beyond a page, and values
        // computed the way layout computes positions.
        for n in -400_000..=400_000 {
            same(n as f32 / 100.0);
            same((n as f32 * 0.01) * 1.06 + 0.5);
            same(n as f32 * 0.012_345);
        }
        // A tie: -4238.90625 (bits 0xC584_7740) is Display's -4238.9063
        // and ryu's -4238.9062.
        let tie = f32::from_bits(0xC584_7740);
        assert_eq!(f64::from(tie), -4_238.906_25);
        same(tie);
        for v in [0.0, -0.0, 1.0, 1e-7, 1e-5, 16_777_215.0, 16_777_216.0, 1e17] {
            same(v);
            same(-v);
        }
        for v in [f32::MAX, f32::MIN_POSITIVE, f32::NAN, f32::INFINITY, 1e-45] {
            same(v);
            same(-v);
        }
        // Every float of a few binades in full (positions near 300 and 600
        // points, sizes near 10), and bit patterns from a fixed generator.
        for start in [8.0f32, 256.0, 512.0] {
            let (low, high) = (start.to_bits(), (start * 2.0).to_bits());
            for bits in (low..high).step_by(7) {
                same(f32::from_bits(bits));
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            same(f32::from_bits((x >> 32) as u32));
        }
        assert!(checked > 5_000_000);
    }
}
