//! The typefaces letters are set in, parsed once per process.
//!
//! Letters use three faces of DejaVu (shipped as bytes by the `dejavu` crate,
//! so nothing depends on the fonts installed on the machine): Serif for the
//! body, Serif Bold for headings and emphasis, and Sans for the address block
//! (USPS prefers a sans-serif there), the access code and the footer. Sans
//! Mono would suit the code but lacks the Vietnamese letters, and every extra
//! face costs subsetting time on every letter; the code is instead set in
//! fixed-width cells (see [`crate::layout`]). DejaVu covers Latin (with the
//! Vietnamese extensions), Greek and Cyrillic, so every name intake accepts
//! prints as typed.
//!
//! Widths come from the font's own advance table, the same numbers the PDF
//! viewer uses, so wrapped lines never overrun their column. printpdf does no
//! shaping on the path we use (no kerning or ligatures), which is why names
//! are NFC-normalised at intake: precomposed letters have their own glyphs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use printpdf::{FontId, ParsedFont};

/// A face used on the letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Face {
    Serif,
    SerifBold,
    Sans,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::Serif, Face::SerifBold, Face::Sans];

    /// The PDF resource name. It is fixed (not drawn from printpdf's counter)
    /// and its first six letters become the subset tag, so the bytes of a
    /// letter never depend on what the process rendered before.
    pub fn pdf_id(self) -> FontId {
        FontId(
            match self {
                Face::Serif => "ALSERF",
                Face::SerifBold => "ALSRFB",
                Face::Sans => "ALSANS",
            }
            .to_string(),
        )
    }

    fn bytes(self) -> &'static [u8] {
        match self {
            Face::Serif => dejavu::serif::regular(),
            Face::SerifBold => dejavu::serif::bold(),
            Face::Sans => dejavu::sans::regular(),
        }
    }
}

/// glyph for, restricted to the Latin, Greek and Cyrillic blocks, combining
/// diacritics, general punctuation and the euro sign. Computed from the
/// fonts' cmap tables (dejavu 2.37); `tests::font_table_matches_dejavu`
/// re-checks it against the embedded font bytes. Intake accepts only these
/// characters ([`font_can_print`]), so a name never prints as an empty box,
/// and every font is cut down to them once per process.
pub const FONT_RANGES: [(char, char); 53] = [
    ('\u{0020}', '\u{007E}'),
    ('\u{00A0}', '\u{00AC}'),
    ('\u{00AE}', '\u{02CD}'),
    ('\u{02D0}', '\u{02D3}'),
    ('\u{02D6}', '\u{02DE}'),
    ('\u{02E0}', '\u{02E9}'),
    ('\u{02EC}', '\u{02EC}'),
    ('\u{02EE}', '\u{02EE}'),
    ('\u{02F3}', '\u{02F3}'),
    ('\u{02F7}', '\u{02F7}'),
    ('\u{0300}', '\u{033F}'),
    ('\u{0343}', '\u{0343}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0358}', '\u{0358}'),
    ('\u{0360}', '\u{0361}'),
    ('\u{0370}', '\u{0377}'),
    ('\u{037A}', '\u{037F}'),
    ('\u{0384}', '\u{038A}'),
    ('\u{038C}', '\u{038C}'),
    ('\u{038E}', '\u{03A1}'),
    ('\u{03A3}', '\u{03E1}'),
    ('\u{03F0}', '\u{045F}'),
    ('\u{0462}', '\u{0465}'),
    ('\u{046A}', '\u{046D}'),
    ('\u{0470}', '\u{0477}'),
    ('\u{048C}', '\u{048D}'),
    ('\u{0490}', '\u{049B}'),
    ('\u{049E}', '\u{04A7}'),
    ('\u{04AA}', '\u{04B7}'),
    ('\u{04BA}', '\u{04BB}'),
    ('\u{04C0}', '\u{04C4}'),
    ('\u{04C7}', '\u{04C8}'),
    ('\u{04CB}', '\u{04CC}'),
    ('\u{04CF}', '\u{04F9}'),
    ('\u{1E00}', '\u{1EFB}'),
    ('\u{1F00}', '\u{1F15}'),
    ('\u{1F18}', '\u{1F1D}'),
    ('\u{1F20}', '\u{1F45}'),
    ('\u{1F48}', '\u{1F4D}'),
    ('\u{1F50}', '\u{1F57}'),
    ('\u{1F59}', '\u{1F59}'),
    ('\u{1F5B}', '\u{1F5B}'),
    ('\u{1F5D}', '\u{1F5D}'),
    ('\u{1F5F}', '\u{1F7D}'),
    ('\u{1F80}', '\u{1FB4}'),
    ('\u{1FB6}', '\u{1FC4}'),
    ('\u{1FC6}', '\u{1FD3}'),
    ('\u{1FD6}', '\u{1FDB}'),
    ('\u{1FDD}', '\u{1FEF}'),
    ('\u{1FF2}', '\u{1FF4}'),
    ('\u{1FF6}', '\u{1FFE}'),
    ('\u{2010}', '\u{2026}'),
    ('\u{20AC}', '\u{20AC}'),
];

/// True when every text face of the letter font has a glyph for `c`.
pub fn font_can_print(c: char) -> bool {
    // The table is sorted and disjoint: binary search by range start.
    let idx = FONT_RANGES.partition_point(|&(start, _)| start <= c);
    idx > 0 && c <= FONT_RANGES[idx - 1].1
}

/// The face cut down, once per process, to the characters intake accepts
/// ([`FONT_RANGES`]: Latin, Greek, Cyrillic, diacritics,
/// punctuation). Every letter's own subset is then cut from this much
/// smaller font, which is most of the cost of a letter.
fn repertoire_subset(full: &ParsedFont) -> ParsedFont {
    let mut glyphs = BTreeMap::new();
    for &(start, end) in FONT_RANGES.iter() {
        for c in start..=end {
            if let Some(gid) = full.lookup_glyph_index(c as u32).filter(|&g| g != 0) {
                glyphs.entry(gid).or_insert_with(|| c.to_string());
            }
        }
    }
    let subset = printpdf::subset_font(full, &glyphs)
        .expect("the DejaVu fonts subset to the letter repertoire");
    ParsedFont::from_bytes(&subset.bytes, 0, &mut Vec::new()).expect("a DejaVu subset parses")
}

/// One parsed face with the metrics layout needs, in ems.
pub struct FaceMetrics {
    pub parsed: ParsedFont,
    /// Distance from baseline to the top of the tallest glyph, in ems.
    pub ascent_em: f32,
    /// Distance from baseline to the bottom of the lowest glyph, in ems (positive).
    pub descent_em: f32,
    units_per_em: f32,
    ascii_advance_em: [f32; 128],
    ascii_present: [bool; 128],
    /// The glyph of each ASCII character in `parsed` (0 when none).
    ascii_glyphs: [u16; 128],
}

impl FaceMetrics {
    fn load(face: Face) -> FaceMetrics {
        let mut warnings = Vec::new();
        let full = ParsedFont::from_bytes(face.bytes(), 0, &mut warnings)
            .expect("the DejaVu fonts shipped in the dejavu crate parse");
        let parsed = repertoire_subset(&full);
        let m = parsed.pdf_font_metrics;
        let units_per_em = f32::from(m.units_per_em);
        let mut metrics = FaceMetrics {
            ascent_em: f32::from(m.ascender) / units_per_em,
            descent_em: -f32::from(m.descender) / units_per_em,
            units_per_em,
            ascii_advance_em: [0.0; 128],
            ascii_present: [false; 128],
            ascii_glyphs: [0; 128],
            parsed,
        };
        for b in 0u8..128 {
            let c = char::from(b);
            metrics.ascii_glyphs[b as usize] =
                metrics.parsed.lookup_glyph_index(u32::from(b)).unwrap_or(0);
            metrics.ascii_advance_em[b as usize] = metrics.advance_slow(c).unwrap_or(0.0);
            metrics.ascii_present[b as usize] = metrics.has_glyph_slow(c);
        }
        metrics
    }

    fn advance_slow(&self, c: char) -> Option<f32> {
        let glyph = self.parsed.lookup_glyph_index(c as u32)?;
        Some(f32::from(self.parsed.get_horizontal_advance(glyph)) / self.units_per_em)
    }

    fn has_glyph_slow(&self, c: char) -> bool {
        c == ' '
            || self
                .parsed
                .lookup_glyph_index(c as u32)
                .is_some_and(|g| g != 0)
    }

    /// The glyph id of `c` in the face's repertoire font (`parsed`), 0
    /// (.notdef) when it has none. Content streams use it as the character
    /// code (CID), whatever subset a file embeds (see `LetterFont`).
    pub fn glyph(&self, c: char) -> u16 {
        match self.ascii_glyphs.get(c as usize) {
            Some(&g) => g,
            None => self.parsed.lookup_glyph_index(c as u32).unwrap_or(0),
        }
    }

    /// The advance width of the repertoire glyph `gid`, in thousandths of
    /// an em (as a PDF font's widths are given), cut to a whole number as
    /// printpdf cuts it, so letters are set as they always were.
    pub fn advance_milli(&self, gid: u16) -> i64 {
        let units = f32::from(self.parsed.get_horizontal_advance(gid));
        (units * (1000.0 / self.units_per_em)) as i64
    }

    /// Whether the face has a glyph for `c`.
    pub fn has_glyph(&self, c: char) -> bool {
        if c.is_ascii() {
            self.ascii_present[c as usize]
        } else {
            self.has_glyph_slow(c)
        }
    }

    /// Width of `text` set at `size_pt`, in points.
    pub fn width_pt(&self, text: &str, size_pt: f32) -> f32 {
        let ems: f32 = text
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    self.ascii_advance_em[c as usize]
                } else {
                    self.advance_slow(c).unwrap_or(0.0)
                }
            })
            .sum();
        ems * size_pt
    }

    /// The first character of `text` this face cannot print, if any.
    pub fn missing_glyph(&self, text: &str) -> Option<char> {
        // Most of a letter is ASCII: a byte loop over the table, no decoding.
        // One pass: a byte of 128 or more (not ASCII) ends it.
        let present = |b: u8| self.ascii_present.get(usize::from(b)).copied();
        if text.bytes().all(|b| present(b) == Some(true)) {
            return None;
        }
        text.chars().find(|&c| !self.has_glyph(c))
    }
}

/// Letters embed each face as a subset, and cutting a subset is most of the
/// cost of a letter. So a letter's subset is not cut to its exact characters
/// but rounded up to every repertoire character of each block it uses:
/// 16-character blocks within ASCII (an address in capitals pulls in the
/// capitals, not the small letters), 64-character blocks beyond (a Spanish
/// letter pulls in U+00C0-U+00FF, a Vietnamese name two or three blocks of
/// U+1E00-U+1EFF).
/// Letters then share a few dozen distinct subsets, each cut once per process
/// and reused. The rounding is a pure function of the letter's text, so the
/// bytes never depend on what the cache holds.
const LETTER_FONT_CACHE_ENTRIES: usize = 256;

/// log2 of the block size within ASCII and beyond it.
pub const ASCII_BLOCK_BITS: u32 = 4;
pub const SUBSET_BLOCK_BITS: u32 = 6;
/// Marks ASCII block numbers so they never equal a 64-character block.
const ASCII_BLOCK_FLAG: u32 = 1 << 31;

/// The block of a character, for [`Fonts::letter_font`].
pub fn subset_block(c: char) -> u32 {
    if c.is_ascii() {
        ASCII_BLOCK_FLAG | (u32::from(c) >> ASCII_BLOCK_BITS)
    } else {
        u32::from(c) >> SUBSET_BLOCK_BITS
    }
}

/// Subsets already cut, by face and blocks.
type LetterFontCache = HashMap<(Face, Vec<u32>), Arc<LetterFont>>;

/// A face cut down to the characters one letter uses (and printable ASCII).
pub struct LetterFont {
    /// The subset, named `TAG+PostScriptName` so readers know it is a subset.
    pub parsed: ParsedFont,
    /// The glyph of each ASCII character (0 when none), looked up once.
    ascii_glyphs: [u16; 128],
    /// The font program compressed, once for every letter that embeds it.
    compressed: std::sync::OnceLock<std::sync::Arc<Vec<u8>>>,
    /// The subset's glyph for each repertoire glyph id (0 when the subset
    /// lacks it): the font's `/CIDToGIDMap`, since content streams use
    /// repertoire glyph ids as codes.
    to_subset: Vec<u16>,
    /// `to_subset` as the map's stream bytes, compressed once.
    cid_map: std::sync::OnceLock<std::sync::Arc<Vec<u8>>>,
}

impl LetterFont {
    fn new(parsed: ParsedFont, to_subset: Vec<u16>) -> Self {
        let mut ascii_glyphs = [0u16; 128];
        for (c, g) in ascii_glyphs.iter_mut().enumerate() {
            *g = parsed.lookup_glyph_index(c as u32).unwrap_or(0);
        }
        LetterFont {
            parsed,
            ascii_glyphs,
            compressed: std::sync::OnceLock::new(),
            to_subset,
            cid_map: std::sync::OnceLock::new(),
        }
    }

    /// Whether the subset holds the repertoire glyph `gid`.
    pub fn has_cid(&self, gid: u16) -> bool {
        gid == 0
            || self
                .to_subset
                .get(usize::from(gid))
                .is_some_and(|&g| g != 0)
    }

    /// The `/CIDToGIDMap` stream (two bytes, big-endian, per repertoire
    /// glyph id), compressed by `compress` on first use and kept.
    pub fn cid_to_gid_map(
        &self,
        compress: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> std::sync::Arc<Vec<u8>> {
        std::sync::Arc::clone(self.cid_map.get_or_init(|| {
            let raw: Vec<u8> = self
                .to_subset
                .iter()
                .flat_map(|g| g.to_be_bytes())
                .collect();
            std::sync::Arc::new(compress(&raw))
        }))
    }

    /// Whether `bytes` are this font's program as embedded (the subset's
    /// bytes).
    pub fn program_is(&self, bytes: &[u8]) -> bool {
        self.parsed
            .source_bytes()
            .is_some_and(|b| b.as_slice() == bytes)
    }

    /// The font program compressed by `compress`, made on first use and
    /// kept with the font.
    pub fn compressed_program(
        &self,
        compress: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> std::sync::Arc<Vec<u8>> {
        std::sync::Arc::clone(self.compressed.get_or_init(|| {
            let program = self.parsed.source_bytes();
            std::sync::Arc::new(compress(program.as_ref().map_or(&[], |b| b.as_slice())))
        }))
    }

    /// The glyph id of `c` in this subset, 0 (.notdef) when it has none:
    /// what printpdf writes for `c` in a content stream.
    pub fn glyph(&self, c: char) -> u16 {
        match self.ascii_glyphs.get(c as usize) {
            Some(&g) => g,
            None => self.parsed.lookup_glyph_index(c as u32).unwrap_or(0),
        }
    }
}

/// All faces, parsed once and shared by every thread.
pub struct Fonts {
    faces: [FaceMetrics; 3],
    letter_fonts: Mutex<LetterFontCache>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Fonts {
    pub fn get(&self, face: Face) -> &FaceMetrics {
        &self.faces[face as usize]
    }

    /// The font to embed for `face` in a letter whose text in that face uses
    /// characters from the blocks `blocks` (see [`subset_block`]).
    pub fn letter_font(&self, face: Face, blocks: &BTreeSet<u32>) -> Arc<LetterFont> {
        let key = (face, blocks.iter().copied().collect::<Vec<u32>>());
        if let Some(hit) = self.letter_fonts.lock().expect("font cache").get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let font = Arc::new(self.cut(face, blocks));
        let mut cache = self.letter_fonts.lock().expect("font cache");
        if cache.len() >= LETTER_FONT_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&font));
        font
    }

    /// How often [`Fonts::letter_font`] found its subset ready, and how
    /// often it had to cut one: for the benchmark.
    pub fn cache_stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn cut(&self, face: Face, blocks: &BTreeSet<u32>) -> LetterFont {
        let source = &self.get(face).parsed;
        let mut glyphs = BTreeMap::new();
        let from_blocks = FONT_RANGES
            .iter()
            .flat_map(|&(start, end)| start..=end)
            .filter(|c| blocks.contains(&subset_block(*c)));
        for c in std::iter::once(' ').chain(from_blocks) {
            if let Some(gid) = source.lookup_glyph_index(c as u32).filter(|&g| g != 0) {
                glyphs.entry(gid).or_insert_with(|| c.to_string());
            }
        }
        let subset = printpdf::subset_font(source, &glyphs)
            .expect("a DejaVu face subsets to the characters of a letter");
        let last = subset
            .glyph_mapping
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0);
        let mut to_subset = vec![0u16; usize::from(last) + 1];
        for (&from, &(to, _)) in &subset.glyph_mapping {
            to_subset[usize::from(from)] = to;
        }
        let bytes = crate::sfnt::for_embedding(&subset.bytes).unwrap_or(subset.bytes);
        let mut parsed =
            ParsedFont::from_bytes(&bytes, 0, &mut Vec::new()).expect("a DejaVu subset parses");
        let name = source.font_name.clone().unwrap_or_default();
        parsed.font_name = Some(format!("{}+{name}", subset_tag(face, blocks)));
        LetterFont::new(parsed, to_subset)
    }
}

/// Six capital letters naming a subset (ISO 32000-1, 9.6.4), derived from
/// the face and the character set so that different subsets differ.
fn subset_tag(face: Face, blocks: &BTreeSet<u32>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update([face as u8]);
    for b in blocks {
        h.update(b.to_be_bytes());
    }
    h.finalize()[..6]
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

/// The process-wide parsed fonts.
pub fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        faces: Face::ALL.map(FaceMetrics::load),
        letter_fonts: Mutex::new(HashMap::new()),
        hits: AtomicU64::new(0),
        misses: AtomicU64::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_many_languages_have_glyphs_in_every_face() {
        for face in Face::ALL {
            let m = fonts().get(face);
            for name in [
                "NGUYỄN THỊ MINH KHAI",
                "Łukasz Wróblewski",
                "Dvořák",
                "Núñez",
                "Ødegård",
            ] {
                assert_eq!(m.missing_glyph(name), None, "{face:?} {name}");
            }
            assert_eq!(m.missing_glyph("漢"), Some('漢'));
        }
    }

    #[test]
    fn letter_fonts_are_slimmed_and_still_parse() {
        let blocks = [subset_block('é')].into_iter().collect();
        let font = fonts().letter_font(Face::Serif, &blocks);
        let bytes = font.parsed.source_bytes().expect("subset keeps its bytes");
        let bytes = bytes.as_slice();
        let count = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        let tags: Vec<&[u8]> = (0..count)
            .map(|i| &bytes[12 + 16 * i..16 + 16 * i])
            .collect();
        for gone in [b"name", b"fpgm", b"prep", b"cvt "] {
            assert!(!tags.contains(&gone.as_slice()), "{gone:?} kept");
        }
        for needed in [b"glyf", b"head", b"hmtx", b"loca", b"maxp"] {
            assert!(tags.contains(&needed.as_slice()), "{needed:?} missing");
        }
        // The whole-font checksum is the magic number the format requires.
        let sum = bytes.chunks(4).fold(0u32, |s, c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            s.wrapping_add(u32::from_be_bytes(w))
        });
        assert_eq!(sum, 0xB1B0_AFBA);
        assert!(font
            .parsed
            .lookup_glyph_index('é' as u32)
            .is_some_and(|g| g != 0));
        assert!(font
            .parsed
            .font_name
            .as_deref()
            .unwrap()
            .ends_with("+DejaVuSerif"));
    }

    #[test]
    fn widths_come_from_the_advance_table() {
        let sans = fonts().get(Face::Sans);
        let w = sans.width_pt("W", 10.0);
        assert!(w > 8.0 && w < 11.0, "{w}");
        assert!(sans.width_pt("i", 10.0) < w / 2.0);
        let serif = fonts().get(Face::Serif);
        assert!(serif.width_pt("W", 10.0) > serif.width_pt("i", 10.0) * 2.0);
        assert!(
            (serif.width_pt("ab", 12.0) - serif.width_pt("a", 12.0) - serif.width_pt("b", 12.0))
                .abs()
                < 1e-4
        );
    }

    #[test]
    fn font_table() {
        for c in ['A', 'é', 'ñ', 'Ł', 'ř', 'ễ', 'Ω', 'Ж', '\u{0301}', '’', '€'] {
            assert!(font_can_print(c), "{c}");
        }
        for c in [
            '\u{1F600}',
            '中',
            '\u{0378}',
            '\u{2027}',
            '\t',
            '\u{00AD}',
            'ᴀ',
        ] {
            assert!(!font_can_print(c), "{c:?}");
        }
        // Sorted, disjoint ranges: the binary search depends on it.
        for w in FONT_RANGES.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:?}");
        }
    }

    /// Glyph id of `c` from a TrueType font's format-4 (BMP) cmap, or 0.
    fn glyph_id(font: &[u8], c: char) -> u16 {
        let u16_at = |o: usize| u16::from_be_bytes([font[o], font[o + 1]]);
        let u32_at =
            |o: usize| u32::from_be_bytes([font[o], font[o + 1], font[o + 2], font[o + 3]]);
        let tables = u16_at(4) as usize;
        let cmap = (0..tables)
            .map(|i| 12 + 16 * i)
            .find(|&rec| &font[rec..rec + 4] == b"cmap")
            .map(|rec| u32_at(rec + 8) as usize)
            .expect("font has a cmap table");
        let sub = (0..u16_at(cmap + 2) as usize)
            .map(|i| cmap + 4 + 8 * i)
            .find(|&rec| u16_at(rec) == 3 && u16_at(rec + 2) == 1)
            .map(|rec| cmap + u32_at(rec + 4) as usize)
            .expect("font has a Windows Unicode BMP cmap");
        assert_eq!(u16_at(sub), 4);
        let seg_x2 = u16_at(sub + 6) as usize;
        let ends = sub + 14;
        let starts = ends + seg_x2 + 2;
        let deltas = starts + seg_x2;
        let range_offsets = deltas + seg_x2;
        let code = u32::from(c) as u16;
        for seg in 0..seg_x2 / 2 {
            if code > u16_at(ends + 2 * seg) {
                continue;
            }
            let start = u16_at(starts + 2 * seg);
            if code < start {
                return 0;
            }
            let delta = u16_at(deltas + 2 * seg);
            let ro_at = range_offsets + 2 * seg;
            let ro = u16_at(ro_at) as usize;
            if ro == 0 {
                return code.wrapping_add(delta);
            }
            let g = u16_at(ro_at + ro + 2 * (code - start) as usize);
            return if g == 0 { 0 } else { g.wrapping_add(delta) };
        }
        0
    }

    #[test]
    fn font_table_matches_dejavu() {
        let faces = [
            dejavu::sans::regular(),
            dejavu::sans::bold(),
            dejavu::serif::regular(),
            dejavu::serif::bold(),
        ];
        for &(start, end) in &FONT_RANGES {
            for c in start..=end {
                for face in faces {
                    assert_ne!(glyph_id(face, c), 0, "no glyph for U+{:04X}", u32::from(c));
                }
            }
        }
        assert_eq!(glyph_id(faces[0], '\u{4E2D}'), 0);
    }
}
