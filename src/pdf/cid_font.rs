//! A face embedded in a PDF: one subset for every letter in the file.
//!
//! Content streams give each glyph by its id in the face's repertoire font
//! (see `FaceMetrics::glyph`), whichever subset the file embeds, so a
//! letter's page content does not depend on the letters beside it. The
//! font is a `Type0` font with `Identity-H` encoding over a `CIDFontType2`
//! whose `/CIDToGIDMap` stream maps each repertoire glyph id (the CID) to
//! the embedded subset's glyph; widths (`/W`) and the `ToUnicode` map are
//! given by CID, for the characters the file draws.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Document, Object, Stream, StringFormat};

use super::content::CharSet;
use super::{deflate, FONT_DEFLATE_LEVEL};
use crate::fonts::{fonts, Face, LetterFont};

/// The CIDs `chars` are drawn with in `face`, each with its character.
fn cids(face: Face, chars: &CharSet) -> BTreeMap<u16, char> {
    let m = fonts().get(face);
    let mut out = BTreeMap::new();
    for c in chars.chars() {
        let gid = m.glyph(c);
        if gid != 0 {
            out.entry(gid).or_insert(c);
        }
    }
    out
}

/// `/W`: the widths of `cids`, runs of consecutive CIDs in one array each.
fn widths(face: Face, cids: &BTreeMap<u16, char>) -> Vec<Object> {
    let m = fonts().get(face);
    let mut w: Vec<Object> = Vec::new();
    let mut run: Vec<Object> = Vec::new();
    let mut next: Option<u16> = None;
    for &cid in cids.keys() {
        if next != Some(cid) {
            if !run.is_empty() {
                w.push(Object::Array(std::mem::take(&mut run)));
            }
            w.push(Object::Integer(i64::from(cid)));
        }
        run.push(Object::Integer(m.advance_milli(cid)));
        next = cid.checked_add(1);
    }
    if !run.is_empty() {
        w.push(Object::Array(run));
    }
    w
}

fn name(s: &str) -> Object {
    Object::Name(s.as_bytes().to_vec())
}

fn compressed_stream(dict: Dictionary, bytes: Vec<u8>) -> Stream {
    let mut dict = dict;
    dict.set("Filter", name("FlateDecode"));
    Stream::new(dict, bytes).with_compression(false)
}

/// The font descriptor of `font` (a subset of `face`), its program added.
fn descriptor(doc: &mut Document, face: Face, font: &LetterFont, base: &str) -> Object {
    let metrics = &fonts().get(face).parsed.pdf_font_metrics;
    let scale = |v: i16| (f32::from(v) * 1000.0 / f32::from(metrics.units_per_em)).round() as i64;
    let program = font
        .parsed
        .source_bytes()
        .map_or(0, |b| b.as_slice().len() as i64);
    let mut file_dict = Dictionary::new();
    file_dict.set("Length1", Object::Integer(program));
    let compressed = font.compressed_program(|raw| deflate(raw, FONT_DEFLATE_LEVEL));
    let file = doc.add_object(compressed_stream(file_dict, compressed.as_ref().clone()));
    let ascent = scale(metrics.ascender);
    let bbox = [metrics.x_min, metrics.y_min, metrics.x_max, metrics.y_max]
        .map(|v| Object::Integer(scale(v)));
    let mut d = Dictionary::new();
    d.set("Type", name("FontDescriptor"));
    d.set("FontName", name(base));
    d.set("Flags", Object::Integer(32));
    d.set("FontBBox", Object::Array(bbox.to_vec()));
    d.set("ItalicAngle", Object::Integer(0));
    d.set("Ascent", Object::Integer(ascent));
    d.set("Descent", Object::Integer(scale(metrics.descender)));
    d.set("CapHeight", Object::Integer(ascent));
    d.set("StemV", Object::Integer(80));
    d.set("FontFile2", Object::Reference(file));
    Object::Reference(doc.add_object(d))
}

/// The `Type0` font dictionary for `face`, embedded as `font` (a subset
/// holding every glyph of `chars`), with its descendant, descriptor, map
/// streams and program added to `doc`.
pub fn font_dictionary(
    doc: &mut Document,
    face: Face,
    font: &LetterFont,
    chars: &CharSet,
) -> Dictionary {
    let base = font.parsed.font_name.clone().unwrap_or_default();
    let cids = cids(face, chars);
    debug_assert!(
        cids.keys().all(|&g| font.has_cid(g)),
        "subset lacks a glyph"
    );
    let pairs: Vec<(u16, String)> = cids.iter().map(|(g, c)| (*g, c.to_string())).collect();
    let cmap = printpdf::generate_cmap_string(&font.parsed, &face.pdf_id(), &pairs);
    let to_unicode = doc.add_object(compressed_stream(
        Dictionary::new(),
        super::deflate_content(cmap.as_bytes()),
    ));
    let map = font.cid_to_gid_map(|raw| deflate(raw, FONT_DEFLATE_LEVEL));
    let cid_map = doc.add_object(compressed_stream(Dictionary::new(), map.as_ref().clone()));
    let mut info = Dictionary::new();
    info.set(
        "Registry",
        Object::String(b"Adobe".to_vec(), StringFormat::Literal),
    );
    info.set(
        "Ordering",
        Object::String(b"Identity".to_vec(), StringFormat::Literal),
    );
    info.set("Supplement", Object::Integer(0));
    let mut cid_font = Dictionary::new();
    cid_font.set("Type", name("Font"));
    cid_font.set("Subtype", name("CIDFontType2"));
    cid_font.set("BaseFont", name(&base));
    cid_font.set("CIDSystemInfo", Object::Dictionary(info));
    cid_font.set("FontDescriptor", descriptor(doc, face, font, &base));
    cid_font.set("W", Object::Array(widths(face, &cids)));
    cid_font.set("DW", Object::Integer(1000));
    cid_font.set("CIDToGIDMap", Object::Reference(cid_map));
    let mut type0 = Dictionary::new();
    type0.set("Type", name("Font"));
    type0.set("Subtype", name("Type0"));
    type0.set("BaseFont", name(&base));
    type0.set("Encoding", name("Identity-H"));
    type0.set(
        "DescendantFonts",
        Object::Array(vec![Object::Dictionary(cid_font)]),
    );
    type0.set("ToUnicode", Object::Reference(to_unicode));
    type0
}
