//! From laid-out pages to PDF bytes, deterministically.
//!
//! A letter's PDF is assembled the way print files are ([`file::PdfFile`]):
//! the page's fixed parts are forms ([`form`]), its own words are drawn in
//! its content stream ([`items_content`], the operators printpdf's model
//! names, written directly), and each face is embedded once as a subset cut
//! with printpdf ([`cid_font`]). Nothing comes from process-wide state, so
//! the same letter always gives the same bytes, on any thread, in any
//! order, in any process:
//!
//! * fonts have fixed resource names ([`Face::pdf_id`]) and subset tags
//!   derived from what they hold;
//! * forms are named by their content's digest;
//! * the trailer `/ID` is a hash of the letter's content, not a counter;
//! * document dates come from the batch date, never the clock.
//!
//! Fonts are embedded and subset (print vendors reject PDFs whose fonts are
//! not embedded), and streams are compressed.
//!
//! [`render_legacy`] keeps how letters were made before forms (printpdf's
//! own document, one subset per letter), only to prove letters that earlier
//! versions recorded.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Datelike, NaiveDate};
use printpdf::{Op, PdfDocument, PdfPage, PdfSaveOptions, Pt, TextItem};
use sha2::{Digest, Sha256};

use crate::envelope::{PAGE_HEIGHT_PT, PAGE_WIDTH_PT};
use crate::fonts::{fonts, Face, LetterFont};
use crate::layout::{Item, Page};
use crate::letter_proof::Sha256Hex;

pub mod cid_font;
mod content;
mod draw;
pub mod file;
pub mod form;
mod id;
pub use content::{items_content, page_content, CharSet, GlyphCodes};
pub(crate) use draw::items_ops;

/// Document information written into every letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdfMeta {
    pub title: String,
    pub subject: String,
    pub author: String,
    /// Shown as the document's identifier (the piece ID).
    pub identifier: String,
    /// Creation and modification dates (midnight UTC of the batch date).
    pub date: NaiveDate,
}

/// A finished letter: its bytes and what the manifest says about them.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedLetter {
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`.
    pub sha256: Sha256Hex,
    pub pages: u32,
}

impl std::fmt::Debug for RenderedLetter {
    // The bytes hold the access code; never dump them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedLetter")
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .field("pages", &self.pages)
            .finish()
    }
}

/// The operators that draw one page, item by item, in order.
pub(crate) fn page_ops(page: &Page) -> Vec<Op> {
    items_ops(&page.items, PAGE_HEIGHT_PT)
}

fn pdf_date(date: NaiveDate) -> printpdf::OffsetDateTime {
    printpdf::OffsetDateTime::new_in_offset(
        printpdf::Date {
            year: date.year(),
            month: date.month() as u8,
            day: date.day() as u8,
        },
        printpdf::Time {
            hour: 0,
            minute: 0,
            second: 0,
            millisecond: 0,
        },
        printpdf::Offset {
            hours: 0,
            minutes: 0,
            seconds: 0,
            milliseconds: 0,
        },
    )
}

/// zlib level for page content. lopdf's own `compress` uses the best (and
/// slowest) level, which made deflate over half of the time per letter.
pub const CONTENT_DEFLATE_LEVEL: u32 = 1;
/// zlib level for font programs: they are compressed once and reused (see
/// `compressed_fonts`), so the best level costs nothing per letter.
pub const FONT_DEFLATE_LEVEL: u32 = 9;

/// Font programs repeat from letter to letter (see `Fonts::letter_font`), so
/// their compressed bytes are kept, keyed by the hash of the raw bytes.
const COMPRESSED_FONT_CACHE_ENTRIES: usize = 512;

type CompressedFonts = Mutex<HashMap<[u8; 32], Arc<Vec<u8>>>>;

fn compressed_fonts() -> &'static CompressedFonts {
    static CACHE: OnceLock<CompressedFonts> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn deflate(raw: &[u8], level: u32) -> Vec<u8> {
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;
    let mut enc = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::new(level));
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .expect("compressing into memory cannot fail")
}

/// A page content stream deflated at the letters' level, for print files.
///
/// Each thread keeps one compressor and resets it: a fresh one allocates a
/// few hundred kilobytes of state for every page, which the allocator then
/// serves from a heap it does not give back.
pub fn deflate_content(raw: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::new(CONTENT_DEFLATE_LEVEL), true));
    }
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        let mut out = Vec::with_capacity(raw.len() / 2 + 64);
        loop {
            let consumed = c.total_in() as usize;
            let status = c
                .compress_vec(&raw[consumed..], &mut out, FlushCompress::Finish)
                .expect("compressing into memory cannot fail");
            if status == Status::StreamEnd {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        out
    })
}

/// Deflates every stream that has no filter yet.
pub fn compress_streams(doc: &mut lopdf::Document) {
    compress_letter_streams(doc, &Default::default());
}

/// Deflates every stream that has no filter yet; a font program that is
/// one of `fonts` (the letter's, see [`letter_fonts`]) gets the compressed
/// bytes kept with that font, found by comparing bytes rather than hashing
/// them.
pub fn compress_letter_streams(doc: &mut lopdf::Document, fonts: &[Option<Arc<LetterFont>>; 3]) {
    for object in doc.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object {
            if stream.dict.get(b"Filter").is_ok() {
                continue;
            }
            if stream.dict.get(b"Length1").is_ok() {
                // An embedded font program.
                let known = fonts
                    .iter()
                    .flatten()
                    .find(|f| f.program_is(&stream.content));
                if let Some(font) = known {
                    let compressed =
                        font.compressed_program(|raw| deflate(raw, FONT_DEFLATE_LEVEL));
                    stream.dict.set("Filter", "FlateDecode");
                    stream.set_content(compressed.as_ref().clone());
                    continue;
                }
                let key: [u8; 32] = Sha256::digest(&stream.content).into();
                let cached = compressed_fonts()
                    .lock()
                    .expect("font cache")
                    .get(&key)
                    .cloned();
                let compressed = cached.unwrap_or_else(|| {
                    let c = Arc::new(deflate(&stream.content, FONT_DEFLATE_LEVEL));
                    let mut cache = compressed_fonts().lock().expect("font cache");
                    if cache.len() >= COMPRESSED_FONT_CACHE_ENTRIES {
                        cache.clear();
                    }
                    cache.insert(key, Arc::clone(&c));
                    c
                });
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed.as_ref().clone());
                continue;
            }
            let compressed = deflate(&stream.content, CONTENT_DEFLATE_LEVEL);
            if compressed.len() < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed);
            }
        }
    }
}

/// Renders laid-out pages to PDF bytes: a file of its own made the way
/// print files are ([`file::PdfFile`]), so its page content is the same
/// bytes as in any print file.
pub fn render(pages: &[Page], meta: &PdfMeta) -> RenderedLetter {
    let mut file = file::PdfFile::new();
    let mut chars: [CharSet; 3] = Default::default();
    for page in pages {
        let drawn = form::draw_page(page, &mut chars);
        file.add_page(deflate_content(&drawn.content), &drawn.forms);
    }
    file.add_chars(&chars);
    let date = file::info_date(meta.date);
    let producer = format!("access-letters {} (printpdf)", env!("CARGO_PKG_VERSION"));
    let info = [
        ("Title", meta.title.as_str()),
        ("Subject", meta.subject.as_str()),
        ("Author", meta.author.as_str()),
        ("Identifier", meta.identifier.as_str()),
        ("Creator", "access-letters"),
        ("Producer", producer.as_str()),
        ("CreationDate", date.as_str()),
        ("ModDate", date.as_str()),
    ];
    let mut bytes = Vec::with_capacity(LETTER_BYTES_ESTIMATE);
    file.write(&info, id::content_id(pages, meta), &mut bytes)
        .expect("writing a PDF to memory cannot fail");
    let sha256 = Sha256Hex::of(&bytes);
    RenderedLetter {
        bytes,
        sha256,
        pages: pages.len() as u32,
    }
}

/// Renders laid-out pages as letters were made before forms and one subset
/// per file: printpdf's document, glyph codes of the letter's own subsets.
/// Kept to prove letters recorded by earlier versions (see
/// `print::compare_rebuilt`).
pub fn render_legacy(pages: &[Page], meta: &PdfMeta) -> RenderedLetter {
    let fonts = letter_fonts(pages);
    let mut doc = build_document_with(pages, meta, &fonts);
    compress_letter_streams(&mut doc, &fonts);
    save(doc, pages.len())
}

/// The PDF object tree of a letter: fonts subset, streams not yet compressed.
///
/// printpdf builds everything but the pages' content: it is given, for each
/// page, only the text each font shows there (which decides the fonts'
/// widths and ToUnicode maps), and each page's content stream is then
/// written directly ([`page_content`]), the same bytes printpdf would write
/// for the page's operators at a fraction of the cost.
pub fn build_document(pages: &[Page], meta: &PdfMeta) -> lopdf::Document {
    build_document_with(pages, meta, &letter_fonts(pages))
}

/// [`build_document`] with the letter's fonts already cut.
pub fn build_document_with(
    pages: &[Page],
    meta: &PdfMeta,
    fonts: &[Option<Arc<LetterFont>>; 3],
) -> lopdf::Document {
    let mut doc = PdfDocument::new(&meta.title);
    embed_fonts(&mut doc, fonts);
    set_info(&mut doc, meta);
    let size = printpdf::Rect::from_wh(Pt(PAGE_WIDTH_PT), Pt(PAGE_HEIGHT_PT));
    let mut chars: [CharSet; 3] = Default::default();
    let mut contents = Vec::with_capacity(pages.len());
    doc.pages = pages
        .iter()
        .map(|p| {
            let ops = page_ops(p);
            contents.push(page_content(&ops, GlyphCodes::Subsets(fonts), &mut chars));
            PdfPage {
                media_box: size.clone(),
                trim_box: size.clone(),
                crop_box: size.clone(),
                ops: text_shown(&ops),
            }
        })
        .collect();
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    let mut lo = printpdf::serialize::to_lopdf_doc(&doc, &opts, &mut warnings);
    set_page_contents(&mut lo, contents);
    let id = lopdf::Object::String(
        hex::encode(id::content_id(pages, meta)).into_bytes(),
        lopdf::StringFormat::Literal,
    );
    lo.trailer
        .set("ID", lopdf::Object::Array(vec![id.clone(), id]));
    drop_conformance_claim(&mut lo);
    lo
}

/// The text a page's operators show, as printpdf reads it to build each
/// font's widths and ToUnicode map: per font, every character once, in the
/// order of its last use (printpdf keeps, for a glyph drawn for several
/// characters, the last one).
fn text_shown(ops: &[Op]) -> Vec<Op> {
    let mut used: Vec<(&printpdf::PdfFontHandle, LastUse)> = Vec::new();
    let mut current: Option<usize> = None;
    let mut position = 0u32;
    for op in ops {
        match op {
            Op::SetFont { font, .. } => {
                current = Some(match used.iter().position(|(f, _)| *f == font) {
                    Some(i) => i,
                    None => {
                        used.push((font, LastUse::default()));
                        used.len() - 1
                    }
                });
            }
            Op::ShowText { items } => {
                let Some(i) = current else { continue };
                for item in items {
                    if let TextItem::Text(text) = item {
                        for c in text.chars() {
                            position += 1;
                            used[i].1.note(c, position);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut shown = Vec::with_capacity(used.len() * 2);
    for (font, last) in used {
        shown.push(Op::SetFont {
            font: font.clone(),
            size: Pt(10.0),
        });
        shown.push(Op::ShowText {
            items: vec![TextItem::Text(last.in_order())],
        });
    }
    shown
}

/// Where each character was last used (positions from 1; 0 is unused).
struct LastUse {
    ascii: [u32; 128],
    other: Vec<(char, u32)>,
}

impl Default for LastUse {
    fn default() -> Self {
        LastUse {
            ascii: [0; 128],
            other: Vec::new(),
        }
    }
}

impl LastUse {
    fn note(&mut self, c: char, position: u32) {
        if c.is_ascii() {
            self.ascii[c as usize] = position;
        } else if let Some(entry) = self.other.iter_mut().find(|(o, _)| *o == c) {
            entry.1 = position;
        } else {
            self.other.push((c, position));
        }
    }

    /// Each character once, by its last use.
    fn in_order(self) -> String {
        let mut all: Vec<(u32, char)> = (0u8..128)
            .filter(|&b| self.ascii[usize::from(b)] != 0)
            .map(|b| (self.ascii[usize::from(b)], char::from(b)))
            .chain(self.other.into_iter().map(|(c, p)| (p, c)))
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(_, c)| c).collect()
    }
}

/// Puts each page's content stream in place of the one printpdf wrote.
fn set_page_contents(doc: &mut lopdf::Document, contents: Vec<Vec<u8>>) {
    let page_ids: Vec<lopdf::ObjectId> = doc.get_pages().into_values().collect();
    for (page_id, content) in page_ids.into_iter().zip(contents) {
        let stream_id = doc
            .get_dictionary(page_id)
            .and_then(|page| page.get(b"Contents"))
            .and_then(lopdf::Object::as_reference);
        if let Ok(lopdf::Object::Stream(stream)) = stream_id.and_then(|id| doc.get_object_mut(id)) {
            stream.set_content(content);
        }
    }
}

/// printpdf writes `/GTS_PDFXVersion` into every document information
/// dictionary, empty when no conformance was chosen. A letter makes no
/// PDF/X claim (it has no OutputIntent, ICC profile or bleed box), so the
/// key is removed rather than left as a half-claim a preflight reads as
/// "PDF/X, broken". See `conformance_claims` in the tests.
fn drop_conformance_claim(doc: &mut lopdf::Document) {
    let Ok(info_id) = doc
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
    else {
        return;
    };
    if let Ok(info) = doc.get_dictionary_mut(info_id) {
        info.remove(b"GTS_PDFXVersion");
    }
}

/// The font each face the pages use is embedded as: a subset cut for this
/// letter's characters (see `Fonts::letter_font`), indexed by `Face as usize`.
pub fn letter_fonts(pages: &[Page]) -> [Option<Arc<LetterFont>>; 3] {
    let f = fonts();
    let mut blocks: [BTreeSet<u32>; 3] = Default::default();
    // ASCII blocks as bits (most characters are ASCII), the rest in the set.
    let mut ascii_blocks = [0u8; 3];
    let mut used = [false; 3];
    for item in pages.iter().flat_map(|p| &p.items) {
        let (face, text) = match item {
            Item::Text { face, text, .. }
            | Item::CellText { face, text, .. }
            | Item::Watermark { face, text, .. } => (*face, text),
            Item::Rect { .. } => continue,
        };
        let i = face as usize;
        used[i] = true;
        for c in text.chars() {
            if c.is_ascii() {
                ascii_blocks[i] |= 1 << (c as u32 >> crate::fonts::ASCII_BLOCK_BITS);
            } else {
                blocks[i].insert(crate::fonts::subset_block(c));
            }
        }
    }
    for (i, set) in blocks.iter_mut().enumerate() {
        let ascii = (0u8..8).filter(|b| ascii_blocks[i] & (1 << b) != 0);
        set.extend(
            ascii.map(|b| {
                crate::fonts::subset_block(char::from(b << crate::fonts::ASCII_BLOCK_BITS))
            }),
        );
    }
    Face::ALL.map(|face| used[face as usize].then(|| f.letter_font(face, &blocks[face as usize])))
}

/// Registers each face the letter uses, as a subset cut for its
/// characters ([`letter_fonts`]); printpdf embeds it as given, without
/// cutting again.
fn embed_fonts(doc: &mut PdfDocument, fonts: &[Option<Arc<LetterFont>>; 3]) {
    for (face, font) in Face::ALL.into_iter().zip(fonts) {
        if let Some(font) = font {
            register_font(doc, face, font);
        }
    }
}

/// Registers `font` under the fixed resource name of `face`, as it is
/// (printpdf does not cut it again).
pub(crate) fn register_font(doc: &mut PdfDocument, face: Face, font: &LetterFont) {
    let meta = printpdf::PrintpdfFontMeta {
        requires_subsetting: false,
        ..Default::default()
    };
    doc.resources.fonts.map.insert(
        face.pdf_id(),
        printpdf::PdfFont::with_meta(font.parsed.clone(), meta),
    );
}

/// Document information; every date is the batch date, never the clock.
fn set_info(doc: &mut PdfDocument, meta: &PdfMeta) {
    let info = &mut doc.metadata.info;
    info.subject = meta.subject.clone();
    info.author = meta.author.clone();
    info.creator = "access-letters".into();
    info.producer = format!("access-letters {} (printpdf)", env!("CARGO_PKG_VERSION"));
    info.identifier = meta.identifier.clone();
    info.creation_date = pdf_date(meta.date);
    info.modification_date = pdf_date(meta.date);
    info.metadata_date = pdf_date(meta.date);
}

/// Bytes reserved for a letter's PDF (a one-page letter is about 36 KB).
const LETTER_BYTES_ESTIMATE: usize = 64 * 1024;

/// Serialises a finished document.
pub fn save(mut doc: lopdf::Document, pages: usize) -> RenderedLetter {
    let mut bytes = Vec::with_capacity(LETTER_BYTES_ESTIMATE);
    doc.save_to(&mut bytes)
        .expect("writing a PDF to memory cannot fail");
    let sha256 = Sha256Hex::of(&bytes);
    RenderedLetter {
        bytes,
        sha256,
        pages: pages as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> Op {
        Op::ShowText {
            items: vec![TextItem::Text(text.into())],
        }
    }

    fn set(face: Face) -> Op {
        Op::SetFont {
            font: printpdf::PdfFontHandle::External(face.pdf_id()),
            size: Pt(11.0),
        }
    }

    fn shown_text(ops: &[Op]) -> Vec<String> {
        text_shown(ops)
            .iter()
            .filter_map(|op| match op {
                Op::ShowText { items } => match items.as_slice() {
                    [TextItem::Text(t)] => Some(t.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn text_shown_gives_each_font_its_characters_once_by_last_use() {
        let ops = [
            set(Face::Serif),
            show("abca"),
            set(Face::SerifBold),
            show("yxé"),
            set(Face::Serif),
            show("bñ"),
            Op::EndTextSection,
            show("zz"),
        ];
        // Serif: c (3), a (4), b (8), ñ (9), z (11); bold: y, x, é.
        assert_eq!(shown_text(&ops), ["cabñz", "yxé"].map(String::from));
    }
}
