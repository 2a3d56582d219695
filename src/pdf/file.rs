//! A PDF assembled from drawn pages: a letter's own file, or a print file
//! of many letters. Both are made the same way, so a page's content is the
//! same bytes in either:
//!
//! * each page's content stream (compressed once by the caller) places the
//!   forms it shares with other pages and draws what is its own;
//! * each form is written once per file, however many pages place it;
//! * each face is embedded once per file, as one subset holding every
//!   character the file's pages draw in it (see [`super::cid_font`]);
//! * every page and form shares one resource dictionary.
//!
//! Object numbers follow the order pages are added, and nothing depends on
//! a clock or a counter outside the file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

use super::cid_font::font_dictionary;
use super::content::CharSet;
use super::form::Form;
use crate::envelope::{PAGE_HEIGHT_PT, PAGE_WIDTH_PT};
use crate::fonts::{fonts, subset_block, Face};

/// A PDF being assembled, page by page, in order.
pub struct PdfFile {
    doc: Document,
    pages_id: ObjectId,
    kids: Vec<Object>,
    /// The resource dictionary every page and form shares.
    resources_id: ObjectId,
    /// Each face's font dictionary, written last.
    font_ids: [ObjectId; 3],
    /// The characters drawn in each face, on every page so far.
    chars: [CharSet; 3],
    /// Each form placed so far, by name.
    forms: BTreeMap<String, ObjectId>,
}

impl Default for PdfFile {
    fn default() -> Self {
        Self::new()
    }
}

fn real(v: f32) -> Object {
    Object::Real(v)
}

fn media_box() -> Object {
    Object::Array(
        [0.0, 0.0, PAGE_WIDTH_PT, PAGE_HEIGHT_PT]
            .into_iter()
            .map(real)
            .collect(),
    )
}

/// A date as document information gives it: midnight UTC of `date`.
pub fn info_date(date: chrono::NaiveDate) -> String {
    format!("D:{}000000+00'00'", date.format("%Y%m%d"))
}

/// A PDF text string: ASCII as it is, anything else as UTF-16BE with a
/// byte order mark (ISO 32000-1, 7.9.2.2).
fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        return Object::string_literal(s);
    }
    let mut bytes = vec![0xFE, 0xFF];
    bytes.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(bytes, StringFormat::Hexadecimal)
}

fn flate(dict: Dictionary, bytes: Vec<u8>) -> Stream {
    let mut dict = dict;
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    Stream::new(dict, bytes).with_compression(false)
}

impl PdfFile {
    pub fn new() -> Self {
        let mut doc = Document::with_version("1.4");
        let pages_id = doc.new_object_id();
        let resources_id = doc.new_object_id();
        let font_ids = [(); 3].map(|()| doc.new_object_id());
        PdfFile {
            doc,
            pages_id,
            kids: Vec::new(),
            resources_id,
            font_ids,
            chars: Default::default(),
            forms: BTreeMap::new(),
        }
    }

    /// Notes characters drawn in each face by the pages added, so the
    /// fonts embedded hold them.
    pub fn add_chars(&mut self, chars: &[CharSet; 3]) {
        for (all, page) in self.chars.iter_mut().zip(chars) {
            all.extend_from(page);
        }
    }

    /// Adds a page after the pages added before: its content stream
    /// (deflated) and the forms it places. The characters it draws are
    /// given to [`PdfFile::add_chars`].
    pub fn add_page(&mut self, compressed: Vec<u8>, forms: &[Arc<Form>]) {
        for form in forms {
            self.add_form(form);
        }
        let content_id = self.doc.add_object(flate(Dictionary::new(), compressed));
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference(self.pages_id));
        page.set("MediaBox", media_box());
        page.set("TrimBox", media_box());
        page.set("Resources", Object::Reference(self.resources_id));
        page.set("Contents", Object::Reference(content_id));
        self.kids.push(Object::Reference(self.doc.add_object(page)));
    }

    fn add_form(&mut self, form: &Form) {
        if self.forms.contains_key(&form.name) {
            return;
        }
        let mut dict = Dictionary::new();
        dict.set("Type", Object::Name(b"XObject".to_vec()));
        dict.set("Subtype", Object::Name(b"Form".to_vec()));
        // Generous bounds: a form's items lie below its top edge (y 0),
        // a watermark turns about the page's centre.
        let bbox = [
            -PAGE_WIDTH_PT,
            -2.0 * PAGE_HEIGHT_PT,
            2.0 * PAGE_WIDTH_PT,
            2.0 * PAGE_HEIGHT_PT,
        ];
        dict.set("BBox", Object::Array(bbox.into_iter().map(real).collect()));
        dict.set("Resources", Object::Reference(self.resources_id));
        let id = self.doc.add_object(flate(dict, form.compressed().to_vec()));
        self.forms.insert(form.name.clone(), id);
    }

    /// Pages added so far.
    pub fn pages(&self) -> usize {
        self.kids.len()
    }

    /// Embeds the fonts, writes the resources, page tree, catalog, the
    /// document information `info` and the trailer `/ID`, and writes the
    /// file to `out`.
    pub fn write(
        mut self,
        info: &[(&str, &str)],
        id: [u8; 16],
        out: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        self.finish(info, id);
        self.doc.save_to(out)
    }

    fn finish(&mut self, info: &[(&str, &str)], id: [u8; 16]) {
        let mut font_dict = Dictionary::new();
        for face in Face::ALL {
            let chars = &self.chars[face as usize];
            if chars.chars().next().is_none() {
                continue;
            }
            let blocks: BTreeSet<u32> = chars.chars().map(subset_block).collect();
            let font = fonts().letter_font(face, &blocks);
            let dict = font_dictionary(&mut self.doc, face, &font, chars);
            let font_id = self.font_ids[face as usize];
            self.doc.objects.insert(font_id, Object::Dictionary(dict));
            font_dict.set(face.pdf_id().0.into_bytes(), Object::Reference(font_id));
        }
        let mut resources = Dictionary::new();
        resources.set("Font", Object::Dictionary(font_dict));
        if !self.forms.is_empty() {
            let mut xobjects = Dictionary::new();
            for (name, id) in &self.forms {
                xobjects.set(name.as_bytes().to_vec(), Object::Reference(*id));
            }
            resources.set("XObject", Object::Dictionary(xobjects));
        }
        self.doc
            .objects
            .insert(self.resources_id, Object::Dictionary(resources));
        let kids = std::mem::take(&mut self.kids);
        self.finish_document(kids, info, id);
    }

    /// The page tree, catalog, document information and trailer `/ID`.
    fn finish_document(&mut self, kids: Vec<Object>, info: &[(&str, &str)], id: [u8; 16]) {
        let doc = &mut self.doc;
        let mut pages = Dictionary::new();
        pages.set("Type", Object::Name(b"Pages".to_vec()));
        pages.set("Count", Object::Integer(kids.len() as i64));
        pages.set("Kids", Object::Array(kids));
        doc.objects.insert(self.pages_id, Object::Dictionary(pages));
        let mut catalog = Dictionary::new();
        catalog.set("Type", Object::Name(b"Catalog".to_vec()));
        catalog.set("Pages", Object::Reference(self.pages_id));
        let catalog_id = doc.add_object(catalog);
        let mut dict = Dictionary::new();
        for (key, value) in info {
            dict.set(*key, text_string(value));
        }
        let info_id = doc.add_object(dict);
        let id = Object::String(hex::encode(id).into_bytes(), StringFormat::Literal);
        doc.trailer.set("Root", Object::Reference(catalog_id));
        doc.trailer.set("Info", Object::Reference(info_id));
        doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    }
}
