//! Reading a letter PDF back, for tests that trust nothing the layout code
//! says about itself: where every run of text sits (from the fonts' `/W`
//! widths, their `FontDescriptor` ascent and descent and their `ToUnicode`
//! maps), which rectangles are painted, and the envelope card's windows
//! turned into page rectangles independently of `src/envelope.rs`.
//!
//! Coordinates are PDF user space: points, origin bottom-left, y up.

use std::collections::HashMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object};

// ---------------------------------------------------------------------------
// The envelope card (DESIGN.md, "Letters"), turned into page rectangles here,
// independently of src/envelope.rs.
// ---------------------------------------------------------------------------

/// PDF points per inch.
pub const PT_PER_IN: f64 = 72.0;
const PAGE_W_IN: f64 = 8.5;
const PAGE_H_IN: f64 = 11.0;
/// #10 envelope, 9 1/2 x 4 1/8 in.
const ENVELOPE_W_IN: f64 = 9.5;
const ENVELOPE_H_IN: f64 = 4.125;
/// Text keeps 1/8 in clear of every window edge.
pub const CLEARANCE_IN: f64 = 0.125;
/// Tolerance for "inside" and "overlaps", in points.
pub const EPS: f64 = 0.01;

/// A window as the card gives it: from the envelope's lower-left corner.
struct EnvelopeWindow {
    left_in: f64,
    bottom_in: f64,
    width_in: f64,
    height_in: f64,
}

/// Recipient window 4 x 1 in, 5/8 in from the left and 1 in from the bottom.
const RECIPIENT_WINDOW: EnvelopeWindow = EnvelopeWindow {
    left_in: 0.625,
    bottom_in: 1.0,
    width_in: 4.0,
    height_in: 1.0,
};
/// Return window 3 1/4 x 7/8 in, 5/8 in from the left and 2 3/8 in from the bottom.
const RETURN_WINDOW: EnvelopeWindow = EnvelopeWindow {
    left_in: 0.625,
    bottom_in: 2.375,
    width_in: 3.25,
    height_in: 0.875,
};

/// An axis-aligned box in PDF user space (points, origin bottom-left, y up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxPt {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl BoxPt {
    /// From inches measured the way a person measures a sheet: from the
    /// page's top-left corner, y downwards.
    pub fn from_top_in(x0: f64, x1: f64, top: f64, bottom: f64) -> BoxPt {
        BoxPt {
            x0: x0 * PT_PER_IN,
            x1: x1 * PT_PER_IN,
            y0: (PAGE_H_IN - bottom) * PT_PER_IN,
            y1: (PAGE_H_IN - top) * PT_PER_IN,
        }
    }

    pub fn shrink(self, d: f64) -> BoxPt {
        BoxPt {
            x0: self.x0 + d,
            y0: self.y0 + d,
            x1: self.x1 - d,
            y1: self.y1 - d,
        }
    }

    pub fn of_points(points: &[(f64, f64)]) -> BoxPt {
        let mut b = BoxPt {
            x0: f64::INFINITY,
            y0: f64::INFINITY,
            x1: f64::NEG_INFINITY,
            y1: f64::NEG_INFINITY,
        };
        for &(x, y) in points {
            b.x0 = b.x0.min(x);
            b.y0 = b.y0.min(y);
            b.x1 = b.x1.max(x);
            b.y1 = b.y1.max(y);
        }
        b
    }

    pub fn contains_point(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x0 - EPS && x <= self.x1 + EPS && y >= self.y0 - EPS && y <= self.y1 + EPS
    }

    pub fn contains(&self, other: &BoxPt) -> bool {
        self.contains_point((other.x0, other.y0)) && self.contains_point((other.x1, other.y1))
    }

    pub fn corners(&self) -> [(f64, f64); 4] {
        [
            (self.x0, self.y0),
            (self.x1, self.y0),
            (self.x1, self.y1),
            (self.x0, self.y1),
        ]
    }

    pub fn overlaps(&self, other: &BoxPt) -> bool {
        quad_overlaps_box(&other.corners(), self)
    }

    /// In inches from the page's top-left corner, for messages.
    pub fn describe(&self) -> String {
        format!(
            "x {:.3}-{:.3} in, y {:.3}-{:.3} in from the top",
            self.x0 / PT_PER_IN,
            self.x1 / PT_PER_IN,
            PAGE_H_IN - self.y1 / PT_PER_IN,
            PAGE_H_IN - self.y0 / PT_PER_IN
        )
    }
}

/// Whether a convex quadrilateral and a box share some area (separating axes).
fn quad_overlaps_box(quad: &[(f64, f64); 4], b: &BoxPt) -> bool {
    let rect = b.corners();
    let mut axes = vec![(1.0, 0.0), (0.0, 1.0)];
    for i in 0..4 {
        let (xa, ya) = quad[i];
        let (xb, yb) = quad[(i + 1) % 4];
        let (nx, ny) = (-(yb - ya), xb - xa);
        let len = (nx * nx + ny * ny).sqrt();
        if len > 1e-9 {
            axes.push((nx / len, ny / len));
        }
    }
    for (ax, ay) in axes {
        let project = |pts: &[(f64, f64)]| {
            pts.iter()
                .map(|&(x, y)| x * ax + y * ay)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                })
        };
        let (qlo, qhi) = project(quad);
        let (rlo, rhi) = project(&rect);
        if qhi <= rlo + EPS || rhi <= qlo + EPS {
            return false;
        }
    }
    true
}

/// Where an envelope window falls on the tri-folded page: the top panel rests
/// on the envelope bottom, centred left to right.
fn window_on_page(w: &EnvelopeWindow) -> BoxPt {
    let panel_in = PAGE_H_IN / 3.0;
    assert!(
        panel_in <= ENVELOPE_H_IN,
        "the folded sheet fits the envelope"
    );
    let side_in = (ENVELOPE_W_IN - PAGE_W_IN) / 2.0;
    let x0 = w.left_in - side_in;
    let top = panel_in - (w.bottom_in + w.height_in);
    BoxPt::from_top_in(x0, x0 + w.width_in, top, top + w.height_in)
}

/// The recipient window on the page, from the card.
pub fn recipient_window() -> BoxPt {
    window_on_page(&RECIPIENT_WINDOW)
}

/// The return window on the page, from the card.
pub fn return_window() -> BoxPt {
    window_on_page(&RETURN_WINDOW)
}

// ---------------------------------------------------------------------------
// Reading a PDF back: fonts, ToUnicode maps, and the content stream.
// ---------------------------------------------------------------------------

/// A PDF transformation matrix `[a b c d e f]`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Matrix([f64; 6]);

const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

impl Matrix {
    fn translate(tx: f64, ty: f64) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    /// `self` then `n` (PDF's row-vector convention: `self × n`).
    fn then(self, n: Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [na, nb, nc, nd, ne, nf] = n.0;
        Matrix([
            a * na + b * nc,
            a * nb + b * nd,
            c * na + d * nc,
            c * nb + d * nd,
            e * na + f * nc + ne,
            e * nb + f * nd + nf,
        ])
    }

    fn apply(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    fn is_upright(self) -> bool {
        let [a, b, c, d, ..] = self.0;
        b.abs() < 1e-9 && c.abs() < 1e-9 && a > 0.0 && d > 0.0
    }
}

pub fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).expect("a resolvable reference").1
}

fn num(o: &Object) -> f64 {
    match o {
        Object::Integer(i) => *i as f64,
        Object::Real(r) => f64::from(*r),
        other => panic!("expected a number, found {other:?}"),
    }
}

pub fn name(o: &Object) -> String {
    String::from_utf8_lossy(o.as_name().expect("a name")).into_owned()
}

pub fn dict_get<'a>(doc: &'a Document, d: &'a Dictionary, key: &str) -> Option<&'a Object> {
    d.get(key.as_bytes()).ok().map(|o| deref(doc, o))
}

/// A Type0 / Identity-H font as the content stream needs it.
struct PdfFont {
    base_font: String,
    to_unicode: HashMap<u32, String>,
    widths: HashMap<u32, f64>,
    default_width: f64,
    ascent: f64,
    descent: f64,
}

enum Tok {
    Hex(Vec<u8>),
    Open,
    Close,
    Word(String),
}

fn hex_bytes(digits: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = digits
        .iter()
        .copied()
        .filter(u8::is_ascii_hexdigit)
        .collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).unwrap();
            let s = if s.len() == 1 {
                format!("{s}0")
            } else {
                s.to_string()
            };
            u8::from_str_radix(&s, 16).unwrap()
        })
        .collect()
}

/// Just enough PostScript tokenising for a ToUnicode CMap.
fn cmap_tokens(data: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    let is_delim = |c: u8| c.is_ascii_whitespace() || b"<>[]()/%{}".contains(&c);
    while i < data.len() {
        let c = data[i];
        match c {
            b'%' => {
                while i < data.len() && data[i] != b'\n' {
                    i += 1;
                }
            }
            b'<' if data.get(i + 1) == Some(&b'<') => {
                out.push(Tok::Word("<<".into()));
                i += 2;
            }
            b'>' if data.get(i + 1) == Some(&b'>') => {
                out.push(Tok::Word(">>".into()));
                i += 2;
            }
            b'<' => {
                let end = i + data[i..].iter().position(|&b| b == b'>').expect("hex end");
                out.push(Tok::Hex(hex_bytes(&data[i + 1..end])));
                i = end + 1;
            }
            b'[' => {
                out.push(Tok::Open);
                i += 1;
            }
            b']' => {
                out.push(Tok::Close);
                i += 1;
            }
            b'(' => {
                let mut depth = 0;
                let start = i;
                while i < data.len() {
                    match data[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Tok::Word(
                    String::from_utf8_lossy(&data[start..=i.min(data.len() - 1)]).into(),
                ));
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                i += 1;
                while i < data.len() && !is_delim(data[i]) {
                    i += 1;
                }
                out.push(Tok::Word(String::from_utf8_lossy(&data[start..i]).into()));
            }
        }
    }
    out
}

fn be_code(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    assert!(
        bytes.len().is_multiple_of(2),
        "UTF-16BE destination of odd length"
    );
    bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect()
}

/// `bfchar` and `bfrange` entries of a ToUnicode CMap.
fn parse_to_unicode(data: &[u8]) -> HashMap<u32, String> {
    let toks = cmap_tokens(data);
    let mut map = HashMap::new();
    let mut i = 0;
    let hex = |t: &Tok| match t {
        Tok::Hex(b) => b.clone(),
        _ => panic!("ToUnicode: expected a hex string"),
    };
    while i < toks.len() {
        match &toks[i] {
            Tok::Word(w) if w == "beginbfchar" => {
                i += 1;
                while !matches!(&toks[i], Tok::Word(w) if w == "endbfchar") {
                    let src = be_code(&hex(&toks[i]));
                    let dst = String::from_utf16(&utf16_units(&hex(&toks[i + 1]))).unwrap();
                    map.insert(src, dst);
                    i += 2;
                }
            }
            Tok::Word(w) if w == "beginbfrange" => {
                i += 1;
                while !matches!(&toks[i], Tok::Word(w) if w == "endbfrange") {
                    let lo = be_code(&hex(&toks[i]));
                    let hi = be_code(&hex(&toks[i + 1]));
                    match &toks[i + 2] {
                        Tok::Hex(dst) => {
                            let units = utf16_units(dst);
                            for code in lo..=hi {
                                let mut u = units.clone();
                                *u.last_mut().unwrap() += (code - lo) as u16;
                                map.insert(code, String::from_utf16(&u).unwrap());
                            }
                            i += 3;
                        }
                        Tok::Open => {
                            let mut j = i + 3;
                            let mut code = lo;
                            while !matches!(toks[j], Tok::Close) {
                                map.insert(
                                    code,
                                    String::from_utf16(&utf16_units(&hex(&toks[j]))).unwrap(),
                                );
                                code += 1;
                                j += 1;
                            }
                            i = j + 1;
                        }
                        _ => panic!("ToUnicode: malformed bfrange"),
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    map
}

fn load_font(doc: &Document, resource: &str, dict: &Dictionary) -> PdfFont {
    let subtype = dict_get(doc, dict, "Subtype").map(name);
    assert_eq!(
        subtype.as_deref(),
        Some("Type0"),
        "font {resource}: this reader handles the Type0 fonts the letters use"
    );
    assert_eq!(
        dict_get(doc, dict, "Encoding").map(name).as_deref(),
        Some("Identity-H"),
        "font {resource}"
    );
    let base_font = name(dict_get(doc, dict, "BaseFont").expect("BaseFont"));
    let descendants = dict_get(doc, dict, "DescendantFonts")
        .expect("DescendantFonts")
        .as_array()
        .unwrap();
    let cid = deref(doc, &descendants[0]).as_dict().unwrap();
    let descriptor = dict_get(doc, cid, "FontDescriptor")
        .expect("FontDescriptor")
        .as_dict()
        .unwrap();
    let mut widths = HashMap::new();
    if let Some(w) = dict_get(doc, cid, "W") {
        let w = w.as_array().unwrap();
        let mut i = 0;
        while i < w.len() {
            let first = num(deref(doc, &w[i])) as u32;
            match deref(doc, &w[i + 1]) {
                Object::Array(list) => {
                    for (k, v) in list.iter().enumerate() {
                        widths.insert(first + k as u32, num(deref(doc, v)));
                    }
                    i += 2;
                }
                last => {
                    let width = num(deref(doc, &w[i + 2]));
                    for c in first..=num(last) as u32 {
                        widths.insert(c, width);
                    }
                    i += 3;
                }
            }
        }
    }
    let to_unicode = dict_get(doc, dict, "ToUnicode")
        .unwrap_or_else(|| panic!("font {resource} has no ToUnicode map"))
        .as_stream()
        .unwrap()
        .get_plain_content()
        .unwrap();
    PdfFont {
        base_font,
        to_unicode: parse_to_unicode(&to_unicode),
        widths,
        default_width: dict_get(doc, cid, "DW").map(num).unwrap_or(1000.0),
        ascent: num(dict_get(doc, descriptor, "Ascent").expect("Ascent")),
        descent: num(dict_get(doc, descriptor, "Descent").expect("Descent")),
    }
}

/// One `Tj`/`TJ`: its text and the box its glyphs occupy.
#[derive(Clone, Debug)]
pub struct Run {
    pub text: String,
    pub font: String,
    pub size: f64,
    /// Corners of the run's box in user space: x from the pen start to the
    /// pen end, y from descent to ascent (the font descriptor's).
    pub quad: [(f64, f64); 4],
    pub bbox: BoxPt,
    /// Baseline start in user space.
    pub origin: (f64, f64),
    pub upright: bool,
}

impl Run {
    pub fn inside(&self, b: &BoxPt) -> bool {
        self.quad.iter().all(|&p| b.contains_point(p))
    }

    pub fn overlaps(&self, b: &BoxPt) -> bool {
        quad_overlaps_box(&self.quad, b)
    }
}

/// A painted path (rectangles and other shapes), by its bounding box.
#[derive(Clone, Copy, Debug)]
pub struct Painted {
    pub bbox: BoxPt,
    /// Made by one `re` (not a general path).
    pub is_rect: bool,
    pub fill: bool,
    pub stroke: bool,
}

/// What one page draws, read back from the PDF.
pub struct PageRead {
    pub runs: Vec<Run>,
    pub painted: Vec<Painted>,
    pub media_box: Vec<f64>,
    /// `lopdf`'s text extraction of this page.
    pub text: String,
}

struct TextState<'f> {
    tm: Matrix,
    tlm: Matrix,
    font: Option<(&'f str, &'f PdfFont)>,
    size: f64,
    char_spacing: f64,
    horizontal_scale: f64,
    leading: f64,
    rise: f64,
}

impl<'f> TextState<'f> {
    fn next_line(&mut self, tx: f64, ty: f64) {
        self.tlm = Matrix::translate(tx, ty).then(self.tlm);
        self.tm = self.tlm;
    }

    fn show(&mut self, items: &[Object], ctm: Matrix) -> Run {
        let (resource, font) = self.font.expect("text shown before Tf");
        let mut text = String::new();
        let mut adv = 0.0;
        for item in items {
            match item {
                Object::String(bytes, _) => {
                    assert!(
                        bytes.len().is_multiple_of(2),
                        "Identity-H strings are 2-byte codes"
                    );
                    for pair in bytes.chunks(2) {
                        let code = be_code(pair);
                        let s = font.to_unicode.get(&code).unwrap_or_else(|| {
                            panic!(
                                "glyph {code:#06x} of {} has no ToUnicode entry",
                                font.base_font
                            )
                        });
                        text.push_str(s);
                        let w = font
                            .widths
                            .get(&code)
                            .copied()
                            .unwrap_or(font.default_width);
                        adv += (w / 1000.0 * self.size + self.char_spacing) * self.horizontal_scale;
                    }
                }
                other => adv -= num(other) / 1000.0 * self.size * self.horizontal_scale,
            }
        }
        let trm = self.tm.then(ctm);
        let lo = font.descent / 1000.0 * self.size + self.rise;
        let hi = font.ascent / 1000.0 * self.size + self.rise;
        let quad = [
            trm.apply(0.0, lo),
            trm.apply(adv, lo),
            trm.apply(adv, hi),
            trm.apply(0.0, hi),
        ];
        let run = Run {
            text,
            font: resource.to_string(),
            size: self.size,
            quad,
            bbox: BoxPt::of_points(&quad),
            origin: trm.apply(0.0, self.rise),
            upright: trm.is_upright(),
        };
        self.tm = Matrix::translate(adv, 0.0).then(self.tm);
        run
    }
}

/// Ends the open subpath of a path, keeping its bounding box.
fn close_subpath(shapes: &mut Vec<(BoxPt, bool)>, subpath: &mut Vec<(f64, f64)>) {
    if !subpath.is_empty() {
        shapes.push((BoxPt::of_points(subpath), false));
        subpath.clear();
    }
}

/// Every page of a PDF, read back: text runs with their boxes, painted
/// shapes, media box and extracted text.
pub fn read_pdf(bytes: &[u8]) -> Vec<PageRead> {
    let doc = Document::load_mem(bytes).expect("a PDF lopdf can read");
    doc.get_pages()
        .iter()
        .map(|(&number, &page_id)| read_page(&doc, number, page_id))
        .collect()
}

/// Pages `numbers` (from 1) of a PDF, read back as [`read_pdf`] does.
pub fn read_pdf_pages(bytes: &[u8], numbers: &[u32]) -> Vec<PageRead> {
    let doc = Document::load_mem(bytes).expect("a PDF lopdf can read");
    let pages = doc.get_pages();
    numbers
        .iter()
        .map(|n| read_page(&doc, *n, pages[n]))
        .collect()
}

fn read_page(doc: &Document, number: u32, page_id: lopdf::ObjectId) -> PageRead {
    let page = doc.get_dictionary(page_id).unwrap();
    let media_box = dict_get(doc, page, "MediaBox")
        .expect("MediaBox")
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    let fonts: HashMap<String, PdfFont> = doc
        .get_page_fonts(page_id)
        .unwrap()
        .into_iter()
        .map(|(k, d)| {
            let k = String::from_utf8_lossy(&k).into_owned();
            let f = load_font(doc, &k, d);
            (k, f)
        })
        .collect();
    let content = Content::decode(&doc.get_page_content(page_id)).expect("page content parses");
    let operations = with_forms(doc, page_id, content.operations);

    let mut runs = Vec::new();
    let mut painted = Vec::new();
    let mut ctm = IDENTITY;
    let mut line_width = 1.0;
    let mut saved = Vec::new();
    let mut ts = TextState {
        tm: IDENTITY,
        tlm: IDENTITY,
        font: None,
        size: 0.0,
        char_spacing: 0.0,
        horizontal_scale: 1.0,
        leading: 0.0,
        rise: 0.0,
    };
    // The current path: finished shapes (box, is_rect) and an open subpath.
    let mut shapes: Vec<(BoxPt, bool)> = Vec::new();
    let mut subpath: Vec<(f64, f64)> = Vec::new();
    for op in &operations {
        let a = &op.operands;
        let n = |i: usize| num(&a[i]);

        match op.operator.as_str() {
            "q" => saved.push((ctm, line_width)),
            "Q" => (ctm, line_width) = saved.pop().expect("Q without q"),
            "cm" => ctm = Matrix([n(0), n(1), n(2), n(3), n(4), n(5)]).then(ctm),
            "w" => line_width = n(0),
            "BT" => {
                ts.tm = IDENTITY;
                ts.tlm = IDENTITY;
            }
            "ET" => {}
            "Tf" => {
                let key = name(&a[0]);
                let (k, f) = fonts.get_key_value(&key).unwrap_or_else(|| {
                    panic!("page {number}: font /{key} is not in the page resources")
                });
                ts.font = Some((k.as_str(), f));
                ts.size = n(1);
            }
            "Tc" => ts.char_spacing = n(0),
            "Tw" => {} // word spacing does not apply to 2-byte codes
            "Tz" => ts.horizontal_scale = n(0) / 100.0,
            "TL" => ts.leading = n(0),
            "Ts" => ts.rise = n(0),
            "Td" => ts.next_line(n(0), n(1)),
            "TD" => {
                ts.leading = -n(1);
                ts.next_line(n(0), n(1));
            }
            "Tm" => {
                ts.tlm = Matrix([n(0), n(1), n(2), n(3), n(4), n(5)]);
                ts.tm = ts.tlm;
            }
            "T*" => ts.next_line(0.0, -ts.leading),
            "Tj" => runs.push(ts.show(&a[..1], ctm)),
            "TJ" => runs.push(ts.show(a[0].as_array().unwrap(), ctm)),
            "'" => {
                ts.next_line(0.0, -ts.leading);
                runs.push(ts.show(&a[..1], ctm));
            }
            "\"" => {
                ts.char_spacing = n(1);
                ts.next_line(0.0, -ts.leading);
                runs.push(ts.show(&a[2..3], ctm));
            }
            "re" => {
                close_subpath(&mut shapes, &mut subpath);
                let (x, y, w, h) = (n(0), n(1), n(2), n(3));
                let pts = [
                    ctm.apply(x, y),
                    ctm.apply(x + w, y),
                    ctm.apply(x + w, y + h),
                    ctm.apply(x, y + h),
                ];
                shapes.push((BoxPt::of_points(&pts), true));
            }
            "m" => {
                close_subpath(&mut shapes, &mut subpath);
                subpath.push(ctm.apply(n(0), n(1)));
            }
            "l" => subpath.push(ctm.apply(n(0), n(1))),
            "c" => {
                for i in 0..3 {
                    subpath.push(ctm.apply(n(2 * i), n(2 * i + 1)));
                }
            }
            "v" | "y" => {
                for i in 0..2 {
                    subpath.push(ctm.apply(n(2 * i), n(2 * i + 1)));
                }
            }
            "h" | "W" | "W*" => {}
            paint @ ("f" | "F" | "f*" | "S" | "s" | "B" | "B*" | "b" | "b*" | "n") => {
                close_subpath(&mut shapes, &mut subpath);
                let fill = !matches!(paint, "S" | "s" | "n");
                let stroke = matches!(paint, "S" | "s" | "B" | "B*" | "b" | "b*");
                let [a0, b0, c0, d0, ..] = ctm.0;
                let half = if stroke {
                    line_width * (a0 * d0 - b0 * c0).abs().sqrt() / 2.0
                } else {
                    0.0
                };
                for (bbox, is_rect) in shapes.drain(..) {
                    if paint != "n" {
                        painted.push(Painted {
                            bbox: bbox.shrink(-half),
                            is_rect,
                            fill,
                            stroke,
                        });
                    }
                }
            }
            "g" | "G" | "rg" | "RG" | "k" | "K" | "cs" | "CS" | "sc" | "SC" | "scn" | "SCN"
            | "gs" | "J" | "j" | "M" | "d" | "ri" | "i" | "Tr" | "BDC" | "BMC" | "EMC" | "MP"
            | "DP" | "BX" | "EX" => {}
            other => panic!(
                "page {number}: operator '{other}' is not understood by this test's content \
                 reader; teach it before trusting the window checks"
            ),
        }
    }
    // lopdf's own extraction does not look inside forms: the text is read
    // from the runs, in painting order, one a line.
    let text = runs.iter().map(|r: &Run| format!("{}\n", r.text)).collect();
    PageRead {
        runs,
        painted,
        media_box,
        text,
    }
}

/// The page's operations with each form it places (`/Name Do`) drawn in
/// place, inside `q`..`Q` and after its `/Matrix`, as a reader draws it.
fn with_forms(
    doc: &Document,
    page_id: lopdf::ObjectId,
    ops: Vec<lopdf::content::Operation>,
) -> Vec<lopdf::content::Operation> {
    use lopdf::content::Operation;
    let page = doc.get_dictionary(page_id).unwrap();
    let Some(resources) = dict_get(doc, page, "Resources").and_then(|r| r.as_dict().ok()) else {
        return ops;
    };
    let xobjects = dict_get(doc, resources, "XObject").and_then(|x| x.as_dict().ok());
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        if op.operator != "Do" {
            out.push(op);
            continue;
        }
        let key = name(&op.operands[0]);
        let form = xobjects
            .and_then(|x| dict_get(doc, x, &key))
            .and_then(|f| f.as_stream().ok())
            .unwrap_or_else(|| panic!("form /{key} is not in the page resources"));
        let content = form
            .decompressed_content()
            .unwrap_or_else(|_| form.content.clone());
        let inner = Content::decode(&content).expect("form content parses");
        out.push(Operation::new("q", vec![]));
        if let Some(m) = form
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(|m| m.as_array().ok())
        {
            out.push(Operation::new("cm", m.clone()));
        }
        out.extend(inner.operations);
        out.push(Operation::new("Q", vec![]));
    }
    out
}
