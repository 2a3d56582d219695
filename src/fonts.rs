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

/// The face cut down, once per process, to the characters intake accepts
/// ([`crate::address::FONT_RANGES`]: Latin, Greek, Cyrillic, diacritics,
/// punctuation). Every letter's own subset is then cut from this much
/// smaller font, which is most of the cost of a letter.
fn repertoire_subset(full: &ParsedFont) -> ParsedFont {
    let mut glyphs = BTreeMap::new();
    for &(start, end) in crate::address::FONT_RANGES.iter() {
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
            parsed,
        };
        for b in 0u8..128 {
            let c = char::from(b);
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
        let from_blocks = crate::address::FONT_RANGES
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
        let bytes = crate::sfnt::for_embedding(&subset.bytes).unwrap_or(subset.bytes);
        let mut parsed =
            ParsedFont::from_bytes(&bytes, 0, &mut Vec::new()).expect("a DejaVu subset parses");
        let name = source.font_name.clone().unwrap_or_default();
        parsed.font_name = Some(format!("{}+{name}", subset_tag(face, blocks)));
        LetterFont { parsed }
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
}
