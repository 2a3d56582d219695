//! Print files: many letters in one PDF, in the order the press runs them.
//!
//! A print vendor takes a few large PDFs whose pages are already in mailing
//! order rather than one file per letter. A print file is made the way
//! variable-data printing makes them (the practice PDF/VT standardises,
//! though no conformance is claimed): what every letter shares is drawn
//! once per file, and each page adds only what is its own.
//!
//! * the fixed parts of each page (the template's own text, the letterhead,
//!   rules and frames, see `layout::Page::fixed`) are Form XObjects, drawn
//!   once per file however many pages place them ([`crate::pdf::form`]);
//! * each page's content stream places its forms and draws its variable
//!   text (the address, names, dates, the receipt, the code, the barcode),
//!   with glyph codes that do not depend on which subset the file embeds,
//!   so a letter's page content is the same bytes in its standalone PDF and
//!   in any print file (a test holds the two together);
//! * each face is embedded once per file: one subset holding every
//!   character its letters draw ([`crate::pdf::file`]).
//!
//! What the press prints of a letter is named by its **content digest**
//! (version 2): SHA-256 over the line `access-letters content digest 2`,
//! then for each page the line `page`, the font resources its drawing sets
//! (`name=face` lines, sorted, the face without its subset tag), the forms
//! it places in the order first placed (each its name, length-prefixed, and
//! the SHA-256 of its uncompressed content), and its uncompressed content
//! stream (length-prefixed; lengths are 8-byte big-endian). It covers everything the letter itself
//! draws and nothing of its neighbours: not the file's subsets, not forms
//! only other letters place. It is the same computed from the drawn letter,
//! from its standalone PDF ([`digest_of_letter_pdf`]) or from its pages in
//! a print file ([`digest_of_pages`]); the ledger records it, and `reprint`
//! proves a standalone letter is the printed one by comparing it. Proofs
//! recorded before version 2 are checked against the letter made as it was
//! then ([`compare_rebuilt`]).
//!
//! A print file's bytes depend only on its letters and the batch date: no
//! clock, object numbers in order, and a trailer `/ID` from the letters'
//! digests. Print files make no PDF/X or PDF/VT claim (see
//! `tests/it/conformance.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use lopdf::{Dictionary, Document, Object, ObjectId};
use sha2::{Digest, Sha256};

use crate::fonts::{fonts, Face};
use crate::layout::{Item, Page};
use crate::letter_proof::LetterProof;
use crate::letter_proof::Sha256Hex;
use crate::pdf::file::PdfFile;
use crate::pdf::form::{draw_page, Form};
pub use crate::pdf::CharSet;
use crate::pdf::RenderedLetter;
use crate::render::{CodeDisplay, LetterJob, RenderError, Renderer};

mod legacy;
pub use legacy::digest_v1_of_letter_pdf;

/// A letter drawn for a print file: each page's content stream and forms.
/// The content holds the access code: it is never logged (see `Debug`).
pub struct DrawnLetter {
    /// Each page's content stream, uncompressed.
    pub pages: Vec<Vec<u8>>,
    /// The forms each page places, in the order it first places them.
    pub forms: Vec<Vec<Arc<Form>>>,
    /// The characters drawn in each face, indexed by `Face as usize`.
    pub chars: [CharSet; 3],
    /// content digest of the letter.
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

/// Lays out and draws the letter of `job` for a print file.
pub fn draw_letter(renderer: &Renderer, job: &LetterJob<'_>) -> Result<DrawnLetter, RenderError> {
    let (pages, _meta) = renderer.lay_out(job, CodeDisplay::Shown)?;
    Ok(draw_pages(&pages))
}

/// The font resources a page's items set, by resource name: (name, face
/// name without a subset tag). Each face is looked at once, however many
/// items use it.
fn page_fonts(page: &Page) -> BTreeSet<(String, String)> {
    let mut used = [false; Face::ALL.len()];
    for item in &page.items {
        match item {
            Item::Text { face, .. }
            | Item::CellText { face, .. }
            | Item::Watermark { face, .. } => used[*face as usize] = true,
            Item::Rect { .. } => {}
        }
    }
    Face::ALL
        .into_iter()
        .filter(|face| used[*face as usize])
        .map(font_line)
        .collect()
}

fn font_line(face: Face) -> (String, String) {
    let name = fonts()
        .get(face)
        .parsed
        .font_name
        .clone()
        .unwrap_or_default();
    (face.pdf_id().0, name)
}

/// Draws laid-out pages: content streams, forms, characters and digest.
pub fn draw_pages(pages: &[Page]) -> DrawnLetter {
    let mut chars: [CharSet; 3] = Default::default();
    let mut contents = Vec::with_capacity(pages.len());
    let mut forms = Vec::with_capacity(pages.len());
    let mut digest = DigestWriter::new();
    for page in pages {
        let drawn = draw_page(page, &mut chars);
        digest.page(
            &page_fonts(page),
            drawn.forms.iter().map(|f| (f.name.as_str(), f.sha256)),
            &drawn.content,
        );
        contents.push(drawn.content);
        forms.push(drawn.forms);
    }
    DrawnLetter {
        pages: contents,
        forms,
        chars,
        digest: digest.finish(),
    }
}

/// The content digest, version 2, taken page by page.
struct DigestWriter(Sha256);

impl DigestWriter {
    fn new() -> Self {
        DigestWriter(Sha256::new_with_prefix(
            b"access-letters content digest 2\n",
        ))
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    /// One page: its font lines (sorted), its forms in the order first
    /// placed (name and the SHA-256 of the content), then its content.
    fn page<'a>(
        &mut self,
        fonts: &BTreeSet<(String, String)>,
        forms: impl Iterator<Item = (&'a str, [u8; 32])>,
        content: &[u8],
    ) {
        self.0.update(b"page\n");
        for (name, face) in fonts {
            self.0.update(format!("{name}={face}\n").as_bytes());
        }
        for (name, sha256) in forms {
            self.bytes(name.as_bytes());
            self.0.update(sha256);
        }
        self.bytes(content);
    }

    fn finish(self) -> Sha256Hex {
        Sha256Hex::from_hasher(self.0)
    }
}

/// A page's resource dictionary (inline or referenced).
fn page_resources(doc: &Document, page_id: ObjectId) -> Option<&Dictionary> {
    let page = doc.get_dictionary(page_id).ok()?;
    let res = page.get(b"Resources").ok()?;
    match res {
        Object::Reference(id) => doc.get_dictionary(*id).ok(),
        Object::Dictionary(d) => Some(d),
        _ => None,
    }
}

/// An entry of a resource sub-dictionary (`Font`, `XObject`), resolved.
fn resource<'a>(
    doc: &'a Document,
    res: &'a Dictionary,
    kind: &[u8],
    name: &[u8],
) -> Option<&'a Object> {
    let sub = match res.get(kind).ok()? {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(d) => d,
        _ => return None,
    };
    match sub.get(name).ok()? {
        Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

fn stream_content(stream: &lopdf::Stream) -> Vec<u8> {
    stream
        .decompressed_content()
        .unwrap_or_else(|_| stream.content.clone())
}

/// PDF names, as bytes.
type Names = Vec<Vec<u8>>;

/// The `Tf` font names and `Do` names a content stream uses, in order.
fn names_used(content: &[u8]) -> Result<(Names, Names), lopdf::Error> {
    let ops = lopdf::content::Content::decode(content)?.operations;
    let mut fonts = Vec::new();
    let mut xobjects = Vec::new();
    for op in ops {
        let first = op.operands.first().and_then(|o| o.as_name().ok());
        match (op.operator.as_str(), first) {
            ("Tf", Some(n)) => fonts.push(n.to_vec()),
            ("Do", Some(n)) if !xobjects.iter().any(|x: &Vec<u8>| x == n) => {
                xobjects.push(n.to_vec())
            }
            _ => {}
        }
    }
    Ok((fonts, xobjects))
}

/// The content digest of pages of a parsed PDF (a letter's own, or its
/// page range in a print file).
pub fn digest_of_pages(doc: &Document, page_ids: &[ObjectId]) -> Result<Sha256Hex, lopdf::Error> {
    let mut digest = DigestWriter::new();
    for &id in page_ids {
        let content = page_content_of(doc, id);
        let res = page_resources(doc, id).ok_or(lopdf::Error::DictKey("Resources".into()))?;
        let (mut font_names, form_names) = names_used(&content)?;
        let mut forms = Vec::new();
        for name in form_names {
            let stream = resource(doc, res, b"XObject", &name)
                .and_then(|o| o.as_stream().ok())
                .ok_or(lopdf::Error::DictKey("XObject".into()))?;
            let form = stream_content(stream);
            font_names.extend(names_used(&form)?.0);
            let sha256: [u8; 32] = Sha256::digest(&form).into();
            forms.push((String::from_utf8_lossy(&name).into_owned(), sha256));
        }
        let mut fonts = BTreeSet::new();
        for name in font_names {
            let base = resource(doc, res, b"Font", &name)
                .and_then(|o| o.as_dict().ok())
                .and_then(|d| d.get(b"BaseFont").and_then(Object::as_name).ok())
                .unwrap_or_default();
            let base = String::from_utf8_lossy(base);
            let untagged = base.split_once('+').map_or(&*base, |(_, b)| b);
            fonts.insert((
                String::from_utf8_lossy(&name).into_owned(),
                untagged.to_string(),
            ));
        }
        digest.page(
            &fonts,
            forms.iter().map(|(n, s)| (n.as_str(), *s)),
            &content,
        );
    }
    Ok(digest.finish())
}

/// A page's content streams, uncompressed and joined (unlike lopdf's
/// `get_page_content`, with nothing added between or after them).
fn page_content_of(doc: &Document, page_id: ObjectId) -> Vec<u8> {
    let mut content = Vec::new();
    for id in doc.get_page_contents(page_id) {
        if let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) {
            content.extend_from_slice(&stream_content(stream));
        }
    }
    content
}

/// The content digest of every page of a standalone letter's PDF.
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
    /// The same letter as an earlier version made it (before print forms):
    /// these bytes, which are the letter's.
    SameAsEarlier(RenderedLetter),
    /// The ledger records no print of it yet: nothing to compare with.
    NotPrinted,
    /// Another letter: its proof, of the recorded kind.
    Differs(LetterProof),
    /// The rebuilt PDF cannot be read back to take its content digest.
    Unreadable(String),
}

/// Compares `letter` with `recorded` in the recorded kind: its SHA-256 for
/// a letter file, its content digest for a letter printed in a print file
/// (which a standalone PDF of the same letter shares). When they differ,
/// the letter as an earlier version made it (`earlier`, made only then) is
/// compared the same way, with the digest of that version.
pub fn compare_rebuilt(
    recorded: &LetterProof,
    letter: &RenderedLetter,
    earlier: impl FnOnce() -> Option<RenderedLetter>,
) -> Rebuilt {
    let now = match recorded {
        LetterProof::File(_) => LetterProof::File(letter.sha256.clone()),
        LetterProof::Printed(_) => match digest_of_letter_pdf(&letter.bytes) {
            Ok(digest) => LetterProof::Printed(digest),
            Err(e) => return Rebuilt::Unreadable(e.to_string()),
        },
        LetterProof::NotYetPrinted => return Rebuilt::NotPrinted,
    };
    if now == *recorded {
        return Rebuilt::Same;
    }
    if let Some(before) = earlier() {
        let then = match recorded {
            LetterProof::File(_) => Some(LetterProof::File(before.sha256.clone())),
            _ => digest_v1_of_letter_pdf(&before.bytes)
                .ok()
                .map(LetterProof::Printed),
        };
        if then.as_ref() == Some(recorded) {
            return Rebuilt::SameAsEarlier(before);
        }
    }
    Rebuilt::Differs(now)
}

/// A letter ready to go into a print file: its drawing with each page's
/// content compressed (the uncompressed content is not kept, so a file's
/// worth of letters stays small).
pub struct PrintLetter {
    pub chars: [CharSet; 3],
    pub digest: Sha256Hex,
    pub compressed: Vec<Vec<u8>>,
    pub forms: Vec<Vec<Arc<Form>>>,
}

impl PrintLetter {
    pub fn new(drawn: DrawnLetter) -> Self {
        let compressed = drawn
            .pages
            .iter()
            .map(|c| crate::pdf::deflate_content(c))
            .collect();
        PrintLetter {
            chars: drawn.chars,
            digest: drawn.digest,
            compressed,
            forms: drawn.forms,
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
/// file keeps each page's compressed content and each form once.
pub struct PrintFile {
    file: PdfFile,
    meta: PrintFileMeta,
    /// Hash of the name and every letter's digest: the trailer `/ID`.
    id: Sha256,
}

impl PrintFile {
    pub fn new(meta: &PrintFileMeta) -> Self {
        let mut id = Sha256::new();
        id.update(meta.name.as_bytes());
        PrintFile {
            file: PdfFile::new(),
            meta: meta.clone(),
            id,
        }
    }

    /// Adds a letter's pages after the pages added before.
    pub fn add(&mut self, letter: PrintLetter) {
        self.id.update(letter.digest.as_str().as_bytes());
        self.file.add_chars(&letter.chars);
        for (content, forms) in letter.compressed.into_iter().zip(&letter.forms) {
            self.file.add_page(content, forms);
        }
    }

    /// Embeds the fonts, closes the document and writes it to `out`.
    pub fn write(self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.id.finalize()[..16]);
        let meta = &self.meta;
        let date = crate::pdf::file::info_date(meta.date);
        let producer = format!("access-letters {} print file", env!("CARGO_PKG_VERSION"));
        let info = [
            ("Title", meta.name.as_str()),
            ("Author", meta.author.as_str()),
            ("Creator", "access-letters"),
            ("CreationDate", date.as_str()),
            ("ModDate", date.as_str()),
            ("Producer", producer.as_str()),
        ];
        self.file.write(&info, id, out)
    }
}
