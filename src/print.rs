//! Print files: many letters in one PDF, in the order the press runs them.
//!
//! A print vendor takes a few large PDFs whose pages are already in mailing
//! order rather than one file per letter. A print file here is assembled
//! directly with lopdf from parts that are each made once:
//!
//! * each page's content stream is drawn by [`draw_letter`] from the laid-out
//!   page, with the same operators, numbers and glyph codes printpdf writes
//!   for the standalone letter, so the page content of a letter is the same
//!   bytes in its standalone PDF and in a print file (a test holds the two
//!   together);
//! * a letter's glyph codes are those of its font subset (see
//!   `Fonts::letter_font`), and letters share a few dozen subsets: a print
//!   file embeds each subset its letters use once, with widths and a
//!   `ToUnicode` map covering every character the file's letters draw in it;
//! * pages that use the same fonts share one resource dictionary.
//!
//! What the press prints of a letter is therefore named by its **content
//! digest** ([`content_digest`]): SHA-256 over each page's font resources
//! (name and subset font name) and uncompressed content stream. It is the
//! same computed from the drawn letter, from its standalone PDF
//! ([`digest_of_letter_pdf`]) or from its pages in a print file
//! ([`digest_of_pages`]); the ledger records it, and `reprint` proves a
//! standalone letter is the printed one by comparing it.
//!
//! A print file's bytes depend only on its letters and the batch date: no
//! clock, object numbers in order, and a trailer `/ID` from the letters'
//! digests. Print files make no PDF/X claim (see `tests/test_conformance.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};
use printpdf::{Op, TextItem};
use sha2::{Digest, Sha256};

use crate::envelope::{PAGE_HEIGHT_PT, PAGE_WIDTH_PT};
use crate::fonts::{Face, LetterFont};
use crate::layout::Page;
use crate::letter_proof::LetterProof;
use crate::letter_proof::Sha256Hex;
pub use crate::pdf::CharSet;
use crate::pdf::{
    compress_streams, letter_fonts, page_content, page_ops, register_font, RenderedLetter,
};
use crate::render::{CodeDisplay, LetterJob, RenderError, Renderer};

/// A letter drawn for a print file: its pages' content streams and fonts.
/// The content holds the access code: it is never logged (see `Debug`).
pub struct DrawnLetter {
    /// Each page's content stream, uncompressed.
    pub pages: Vec<Vec<u8>>,
    /// The subset each face is embedded as, indexed by `Face as usize`.
    pub fonts: [Option<Arc<LetterFont>>; 3],
    /// The characters drawn in each face.
    pub chars: [CharSet; 3],
    /// [`content_digest`] of the letter.
    pub digest: Sha256Hex,
}

impl std::fmt::Debug for DrawnLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrawnLetter")
            .field("pages", &self.pages.len())
            .field("digest", &self.digest)
            .finish()
    }
}

impl DrawnLetter {
    /// (resource name, subset font name) of each face used, by face.
    pub fn font_names(&self) -> Vec<(String, String)> {
        font_names(&self.fonts)
    }
}

fn font_names(fonts: &[Option<Arc<LetterFont>>; 3]) -> Vec<(String, String)> {
    Face::ALL
        .iter()
        .zip(fonts)
        .filter_map(|(face, font)| {
            let font = font.as_ref()?;
            Some((face.pdf_id().0, subset_name(font)))
        })
        .collect()
}

fn subset_name(font: &LetterFont) -> String {
    font.parsed.font_name.clone().unwrap_or_default()
}

/// Lays out and draws the letter of `job` for a print file.
pub fn draw_letter(renderer: &Renderer, job: &LetterJob<'_>) -> Result<DrawnLetter, RenderError> {
    let (pages, _meta) = renderer.lay_out(job, CodeDisplay::Shown)?;
    Ok(draw_pages(&pages))
}

/// Draws laid-out pages: content streams, fonts, characters and digest.
pub fn draw_pages(pages: &[Page]) -> DrawnLetter {
    let fonts = letter_fonts(pages);
    let mut chars: [CharSet; 3] = Default::default();
    let contents: Vec<Vec<u8>> = pages
        .iter()
        .map(|p| page_content(&page_ops(p), &fonts, &mut chars))
        .collect();
    let names = font_names(&fonts);
    let digest = content_digest(contents.iter().map(|c| (names.as_slice(), c.as_slice())));
    DrawnLetter {
        pages: contents,
        fonts,
        chars,
        digest,
    }
}

/// SHA-256 (hex) over each page's font resources, sorted by resource name
/// (`name=subset font name`, one a line), then the length and bytes of its
/// uncompressed content stream.
pub fn content_digest<'a>(
    pages: impl IntoIterator<Item = (&'a [(String, String)], &'a [u8])>,
) -> Sha256Hex {
    let mut h = Sha256::new();
    for (fonts, content) in pages {
        let mut fonts = fonts.to_vec();
        fonts.sort();
        for (name, base) in &fonts {
            h.update(name.as_bytes());
            h.update(b"=");
            h.update(base.as_bytes());
            h.update(b"\n");
        }
        h.update((content.len() as u64).to_be_bytes());
        h.update(content);
    }
    Sha256Hex::from_hasher(h)
}

/// The [`content_digest`] of pages of a parsed PDF (a letter's own, or its
/// page range in a print file).
pub fn digest_of_pages(doc: &Document, page_ids: &[ObjectId]) -> Result<Sha256Hex, lopdf::Error> {
    let mut pages = Vec::with_capacity(page_ids.len());
    for &id in page_ids {
        let fonts = doc
            .get_page_fonts(id)?
            .into_iter()
            .map(|(name, dict)| {
                let base = dict
                    .get(b"BaseFont")
                    .and_then(Object::as_name)
                    .unwrap_or_default();
                (
                    String::from_utf8_lossy(&name).into_owned(),
                    String::from_utf8_lossy(base).into_owned(),
                )
            })
            .collect::<Vec<_>>();
        pages.push((fonts, page_content_of(doc, id)));
    }
    Ok(content_digest(
        pages.iter().map(|(f, c)| (f.as_slice(), c.as_slice())),
    ))
}

/// A page's content streams, uncompressed and joined (unlike lopdf's
/// `get_page_content`, with nothing added between or after them).
fn page_content_of(doc: &Document, page_id: ObjectId) -> Vec<u8> {
    let mut content = Vec::new();
    for id in doc.get_page_contents(page_id) {
        if let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) {
            match stream.decompressed_content() {
                Ok(data) => content.extend_from_slice(&data),
                Err(_) => content.extend_from_slice(&stream.content),
            }
        }
    }
    content
}

/// The [`content_digest`] of every page of a standalone letter's PDF.
pub fn digest_of_letter_pdf(bytes: &[u8]) -> Result<Sha256Hex, lopdf::Error> {
    let doc = Document::load_mem(bytes)?;
    let ids: Vec<ObjectId> = doc.get_pages().into_values().collect();
    digest_of_pages(&doc, &ids)
}

/// How a letter made again compares with the proof the ledger recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebuilt {
    /// The same letter.
    Same,
    /// The ledger records no print of it yet: nothing to compare with.
    NotPrinted,
    /// Another letter: its proof, of the recorded kind.
    Differs(LetterProof),
    /// The rebuilt PDF cannot be read back to take its content digest.
    Unreadable(String),
}

/// Compares `letter` with `recorded` in the recorded kind: its SHA-256 for
/// a letter file, its content digest for a letter printed in a print file
/// (which a standalone PDF of the same letter shares).
pub fn compare_rebuilt(recorded: &LetterProof, letter: &RenderedLetter) -> Rebuilt {
    let now = match recorded {
        LetterProof::File(_) => LetterProof::File(letter.sha256.clone()),
        LetterProof::Printed(_) => match digest_of_letter_pdf(&letter.bytes) {
            Ok(digest) => LetterProof::Printed(digest),
            Err(e) => return Rebuilt::Unreadable(e.to_string()),
        },
        LetterProof::NotYetPrinted => return Rebuilt::NotPrinted,
    };
    if now == *recorded {
        Rebuilt::Same
    } else {
        Rebuilt::Differs(now)
    }
}

fn real(v: f32) -> Object {
    Object::Real(v)
}

/// A letter ready to go into a print file: its drawing with each page's
/// content compressed (the uncompressed content is not kept, so a file's
/// worth of letters stays small).
pub struct PrintLetter {
    pub fonts: [Option<Arc<LetterFont>>; 3],
    pub chars: [CharSet; 3],
    pub digest: Sha256Hex,
    pub compressed: Vec<Vec<u8>>,
}

impl PrintLetter {
    pub fn new(drawn: DrawnLetter) -> Self {
        let compressed = drawn
            .pages
            .iter()
            .map(|c| crate::pdf::deflate_content(c))
            .collect();
        PrintLetter {
            fonts: drawn.fonts,
            chars: drawn.chars,
            digest: drawn.digest,
            compressed,
        }
    }

    pub fn pages(&self) -> usize {
        self.compressed.len()
    }
}

/// What a print file says about itself.
#[derive(Clone, Debug)]
pub struct PrintFileMeta {
    /// The file's name, which is also its title.
    pub name: String,
    pub author: String,
    /// The batch date: every date in the file.
    pub date: NaiveDate,
}

/// Builds one print file from `letters`, pages in the order given.
pub fn build_print_file(letters: Vec<PrintLetter>, meta: &PrintFileMeta) -> Vec<u8> {
    let mut file = PrintFile::new(meta);
    for letter in letters {
        file.add(letter);
    }
    let mut bytes = Vec::new();
    file.write(&mut bytes)
        .expect("writing a PDF to memory cannot fail");
    bytes
}

/// A print file being assembled, letter by letter, in page order.
///
/// Letters are added as they are drawn (a few at a time, in parallel, by
/// the caller), so the drawing of a whole file is never held at once: the
/// file keeps only each page's compressed content, copied into memory of
/// its own so that what the drawing threads freed is free again.
pub struct PrintFile {
    doc: Document,
    meta: PrintFileMeta,
    pages_id: ObjectId,
    kids: Vec<Object>,
    /// Each subset used, by subset font name: its font dictionary's object
    /// (written last) and the characters drawn in it.
    fonts: BTreeMap<String, (ObjectId, Face, Arc<LetterFont>, CharSet)>,
    /// Resource dictionaries shared by pages using the same fonts.
    resources: HashMap<Vec<String>, ObjectId>,
    /// Hash of the name and every letter's digest: the trailer `/ID`.
    id: Sha256,
}

impl PrintFile {
    pub fn new(meta: &PrintFileMeta) -> Self {
        let mut doc = Document::with_version("1.4");
        let pages_id = doc.new_object_id();
        let mut id = Sha256::new();
        id.update(meta.name.as_bytes());
        PrintFile {
            doc,
            meta: meta.clone(),
            pages_id,
            kids: Vec::new(),
            fonts: BTreeMap::new(),
            resources: HashMap::new(),
            id,
        }
    }

    /// Adds a letter's pages after the pages added before.
    pub fn add(&mut self, letter: PrintLetter) {
        self.id.update(letter.digest.as_str().as_bytes());
        let res_id = self.resources_for(&letter);
        let media_box = Object::Array(
            [0.0, 0.0, PAGE_WIDTH_PT, PAGE_HEIGHT_PT]
                .into_iter()
                .map(real)
                .collect(),
        );
        for content in &letter.compressed {
            let mut sd = Dictionary::new();
            sd.set("Filter", Object::Name(b"FlateDecode".to_vec()));
            let content_id = self.doc.add_object(Stream::new(sd, content.to_vec()));
            let mut page = Dictionary::new();
            page.set("Type", Object::Name(b"Page".to_vec()));
            page.set("Parent", Object::Reference(self.pages_id));
            page.set("MediaBox", media_box.clone());
            page.set("TrimBox", media_box.clone());
            page.set("Resources", Object::Reference(res_id));
            page.set("Contents", Object::Reference(content_id));
            self.kids.push(Object::Reference(self.doc.add_object(page)));
        }
    }

    /// The resource dictionary for the fonts `letter` uses (shared), noting
    /// the characters it draws in each.
    fn resources_for(&mut self, letter: &PrintLetter) -> ObjectId {
        let mut key = Vec::with_capacity(3);
        let mut font_dict = Dictionary::new();
        for face in Face::ALL {
            let Some(font) = &letter.fonts[face as usize] else {
                continue;
            };
            let name = subset_name(font);
            let doc = &mut self.doc;
            let entry = self.fonts.entry(name.clone()).or_insert_with(|| {
                (
                    doc.new_object_id(),
                    face,
                    Arc::clone(font),
                    CharSet::default(),
                )
            });
            entry.3.extend_from(&letter.chars[face as usize]);
            font_dict.set(face.pdf_id().0.into_bytes(), Object::Reference(entry.0));
            key.push(name);
        }
        let doc = &mut self.doc;
        *self.resources.entry(key).or_insert_with(|| {
            let mut res = Dictionary::new();
            res.set("Font", Object::Dictionary(font_dict));
            doc.add_object(res)
        })
    }

    /// Embeds the fonts, closes the document and writes it to `out`.
    pub fn write(mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for (id, face, font, chars) in std::mem::take(&mut self.fonts).into_values() {
            let dict = font_object(&mut self.doc, face, &font, &chars);
            self.doc.objects.insert(id, dict);
        }
        let id = Object::String(
            hex::encode(&self.id.clone().finalize()[..16]).into_bytes(),
            StringFormat::Literal,
        );
        let kids = std::mem::take(&mut self.kids);
        finish_document(&mut self.doc, self.pages_id, kids, id, &self.meta);
        self.doc.save_to(out)
    }
}

/// The page tree, catalog, document information and trailer `/ID`.
fn finish_document(
    doc: &mut Document,
    pages_id: ObjectId,
    kids: Vec<Object>,
    id: Object,
    meta: &PrintFileMeta,
) {
    let mut pages = Dictionary::new();
    pages.set("Type", Object::Name(b"Pages".to_vec()));
    pages.set("Count", Object::Integer(kids.len() as i64));
    pages.set("Kids", Object::Array(kids));
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    let date = format!("D:{}000000+00'00'", meta.date.format("%Y%m%d"));
    let mut info = Dictionary::new();
    for (key, value) in [
        ("Title", meta.name.as_str()),
        ("Author", meta.author.as_str()),
        ("Creator", "access-letters"),
        ("CreationDate", date.as_str()),
        ("ModDate", date.as_str()),
    ] {
        info.set(key, Object::string_literal(value));
    }
    let producer = format!("access-letters {} print file", env!("CARGO_PKG_VERSION"));
    info.set("Producer", Object::string_literal(producer));
    let info_id = doc.add_object(info);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    doc.trailer.set("Info", Object::Reference(info_id));
    doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
}

/// The font dictionary printpdf writes for `font` when a page draws `chars`
/// in it, copied into `doc`.
fn font_object(doc: &mut Document, face: Face, font: &LetterFont, chars: &CharSet) -> Object {
    let mut pdf = printpdf::PdfDocument::new("fonts");
    register_font(&mut pdf, face, font);
    let size = printpdf::Pt(10.0);
    let ops = vec![
        Op::StartTextSection,
        Op::SetFont {
            font: printpdf::PdfFontHandle::External(face.pdf_id()),
            size,
        },
        Op::ShowText {
            items: vec![TextItem::Text(chars.chars().collect())],
        },
        Op::EndTextSection,
    ];
    pdf.pages = vec![printpdf::PdfPage::new(
        printpdf::Mm(100.0),
        printpdf::Mm(100.0),
        ops,
    )];
    let opts = printpdf::PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        image_optimization: None,
    };
    let mut src = printpdf::serialize::to_lopdf_doc(&pdf, &opts, &mut Vec::new());
    compress_streams(&mut src);
    let page = *src.get_pages().values().next().expect("one page");
    let fonts = src.get_page_fonts(page).expect("the page has fonts");
    let dict = fonts
        .get(face.pdf_id().0.as_bytes())
        .expect("the face is on the page");
    copy_object(
        &src,
        &Object::Dictionary((*dict).clone()),
        doc,
        &mut HashMap::new(),
    )
}

/// A deep copy of `obj` from `src` into `dst`, with new object numbers.
fn copy_object(
    src: &Document,
    obj: &Object,
    dst: &mut Document,
    seen: &mut HashMap<ObjectId, ObjectId>,
) -> Object {
    match obj {
        Object::Reference(id) => {
            if let Some(new) = seen.get(id) {
                return Object::Reference(*new);
            }
            let new = dst.new_object_id();
            seen.insert(*id, new);
            let target = src.get_object(*id).cloned().unwrap_or(Object::Null);
            let copied = copy_object(src, &target, dst, seen);
            dst.objects.insert(new, copied);
            Object::Reference(new)
        }
        Object::Array(items) => Object::Array(
            items
                .iter()
                .map(|o| copy_object(src, o, dst, seen))
                .collect(),
        ),
        Object::Dictionary(d) => Object::Dictionary(copy_dict(src, d, dst, seen)),
        Object::Stream(s) => {
            let mut s = s.clone();
            s.dict = copy_dict(src, &s.dict, dst, seen);
            Object::Stream(s)
        }
        other => other.clone(),
    }
}

fn copy_dict(
    src: &Document,
    d: &Dictionary,
    dst: &mut Document,
    seen: &mut HashMap<ObjectId, ObjectId>,
) -> Dictionary {
    let mut out = Dictionary::new();
    for (k, v) in d.iter() {
        out.set(k.clone(), copy_object(src, v, dst, seen));
    }
    out
}
