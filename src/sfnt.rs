//! Slimming TrueType font programs before they are embedded.
//!
//! A letter embeds three DejaVu subsets. Two parts of them are never used
//! when a PDF is printed or viewed, and were over half of every letter:
//!
//! * the `name` table: DejaVu's licence text and names (the PDF names the
//!   font in its font dictionary);
//! * TrueType hinting: the instructions inside every glyph and the `fpgm`,
//!   `prep` and `cvt ` tables they use. Hinting snaps outlines to a coarse
//!   pixel grid; printers at 600 dpi and viewers that scale do not need it.
//!
//! [`for_embedding`] returns the same font without them: the same glyphs, in
//! the same order, with the same outlines and advance widths.

type Tables = Vec<([u8; 4], Vec<u8>)>;

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, c| {
        let mut word = [0u8; 4];
        word[..c.len()].copy_from_slice(c);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// The tables of an sfnt font, or `None` if it is not well formed.
fn tables(font: &[u8]) -> Option<Tables> {
    let count = usize::from(be16(font, 4)?);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let rec = 12 + 16 * i;
        let tag: [u8; 4] = font.get(rec..rec + 4)?.try_into().ok()?;
        let offset = be32(font, rec + 8)? as usize;
        let length = be32(font, rec + 12)? as usize;
        out.push((tag, font.get(offset..offset.checked_add(length)?)?.to_vec()));
    }
    Some(out)
}

/// Lays tables out as an sfnt font with correct checksums.
fn build(version: &[u8], mut tables: Tables) -> Vec<u8> {
    tables.sort_by_key(|(tag, _)| *tag);
    let n = tables.len() as u16;
    let entry_selector = 15 - n.leading_zeros() as u16;
    let search_range = (1u16 << entry_selector) * 16;
    let mut out = Vec::new();
    out.extend_from_slice(version);
    for v in [n, search_range, entry_selector, n * 16 - search_range] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, data) in &mut tables {
        if tag == b"head" && data.len() >= 12 {
            data[8..12].fill(0); // checkSumAdjustment, set below
            head_at = Some(offset);
        }
        out.extend_from_slice(tag.as_slice());
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().div_ceil(4) * 4;
    }
    for (_, data) in &tables {
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    if let Some(at) = head_at {
        let adjust = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[at + 8..at + 12].copy_from_slice(&adjust.to_be_bytes());
    }
    out
}

/// One glyph without its instructions.
fn strip_glyph(glyph: &[u8]) -> Option<Vec<u8>> {
    if glyph.is_empty() {
        return Some(Vec::new());
    }
    let contours = be16(glyph, 0)? as i16;
    if contours >= 0 {
        // Simple glyph: header, end points, instruction length, instructions, outline.
        let at = 10 + 2 * usize::from(contours as u16);
        let len = usize::from(be16(glyph, at)?);
        let mut out = glyph.get(..at)?.to_vec();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(glyph.get(at + 2 + len..)?);
        return Some(out);
    }
    // Composite glyph: components, then instructions if any component says so.
    const ARGS_ARE_WORDS: u16 = 0x0001;
    const HAVE_SCALE: u16 = 0x0008;
    const MORE_COMPONENTS: u16 = 0x0020;
    const HAVE_XY_SCALE: u16 = 0x0040;
    const HAVE_TWO_BY_TWO: u16 = 0x0080;
    const HAVE_INSTRUCTIONS: u16 = 0x0100;
    let mut out = glyph.get(..10)?.to_vec();
    let mut at = 10;
    loop {
        let flags = be16(glyph, at)?;
        let mut size = 4 + if flags & ARGS_ARE_WORDS != 0 { 4 } else { 2 };
        if flags & HAVE_SCALE != 0 {
            size += 2;
        } else if flags & HAVE_XY_SCALE != 0 {
            size += 4;
        } else if flags & HAVE_TWO_BY_TWO != 0 {
            size += 8;
        }
        let component = glyph.get(at..at + size)?;
        out.extend_from_slice(&(flags & !HAVE_INSTRUCTIONS).to_be_bytes());
        out.extend_from_slice(&component[2..]);
        at += size;
        if flags & MORE_COMPONENTS == 0 {
            return Some(out);
        }
    }
}

/// The font without hinting and without its `name` table, or `None` if it is
/// not a TrueType font this understands (the caller then keeps it as it is).
pub fn for_embedding(font: &[u8]) -> Option<Vec<u8>> {
    let all = tables(font)?;
    let get = |tag: &[u8; 4]| all.iter().find(|(t, _)| t == tag).map(|(_, d)| d);
    let (head, maxp, loca, glyf) = (get(b"head")?, get(b"maxp")?, get(b"loca")?, get(b"glyf")?);
    let long_offsets = be16(head, 50)? == 1;
    let glyphs = usize::from(be16(maxp, 4)?);
    let offset = |i: usize| -> Option<usize> {
        if long_offsets {
            Some(be32(loca, 4 * i)? as usize)
        } else {
            Some(usize::from(be16(loca, 2 * i)?) * 2)
        }
    };
    let mut new_glyf = Vec::with_capacity(glyf.len());
    let mut new_loca = Vec::with_capacity(4 * (glyphs + 1));
    for i in 0..glyphs {
        new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
        let glyph = glyf.get(offset(i)?..offset(i + 1)?)?;
        new_glyf.extend_from_slice(&strip_glyph(glyph)?);
        new_glyf.resize(new_glyf.len().div_ceil(4) * 4, 0);
    }
    new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
    let mut out: Tables = Vec::with_capacity(all.len());
    for (tag, data) in all {
        match &tag {
            b"name" | b"fpgm" | b"prep" | b"cvt " => {}
            b"glyf" => out.push((tag, std::mem::take(&mut new_glyf))),
            b"loca" => out.push((tag, std::mem::take(&mut new_loca))),
            b"head" => {
                let mut head = data;
                head.get_mut(50..52)?.copy_from_slice(&1u16.to_be_bytes()); // long loca
                out.push((tag, head));
            }
            b"maxp" => {
                let mut maxp = data;
                if maxp.len() >= 32 {
                    // No glyph has instructions any more.
                    maxp[26..28].fill(0);
                }
                out.push((tag, maxp));
            }
            _ => out.push((tag, data)),
        }
    }
    Some(build(font.get(0..4)?, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dejavu() -> &'static [u8] {
        dejavu::serif::regular()
    }

    #[test]
    fn hinting_and_names_are_gone_and_the_font_is_well_formed() {
        let slim = for_embedding(dejavu()).expect("DejaVu is a TrueType font");
        let name_len = tables(dejavu())
            .unwrap()
            .iter()
            .find(|(t, _)| t == b"name")
            .unwrap()
            .1
            .len();
        assert!(
            slim.len() + name_len < dejavu().len(),
            "{} vs {}",
            slim.len(),
            dejavu().len()
        );
        let t = tables(&slim).unwrap();
        let tags: Vec<&[u8; 4]> = t.iter().map(|(tag, _)| tag).collect();
        for gone in [b"name", b"fpgm", b"prep", b"cvt "] {
            assert!(!tags.contains(&gone), "{gone:?} kept");
        }
        assert_eq!(checksum(&slim), 0xB1B0_AFBA);
    }

    #[test]
    fn every_glyph_keeps_its_outline_and_loses_only_instructions() {
        let before = tables(dejavu()).unwrap();
        let after = tables(&for_embedding(dejavu()).unwrap()).unwrap();
        let get = |t: &Tables, tag: &[u8; 4]| t.iter().find(|(x, _)| x == tag).unwrap().1.clone();
        assert_eq!(
            get(&before, b"hmtx"),
            get(&after, b"hmtx"),
            "advance widths change"
        );
        assert_eq!(get(&before, b"cmap"), get(&after, b"cmap"));
        let glyphs = usize::from(be16(&get(&before, b"maxp"), 4).unwrap());
        let (old_glyf, old_loca) = (get(&before, b"glyf"), get(&before, b"loca"));
        let (new_glyf, new_loca) = (get(&after, b"glyf"), get(&after, b"loca"));
        let old_long = be16(&get(&before, b"head"), 50).unwrap() == 1;
        let old_at = |i: usize| {
            if old_long {
                be32(&old_loca, 4 * i).unwrap() as usize
            } else {
                usize::from(be16(&old_loca, 2 * i).unwrap()) * 2
            }
        };
        let new_at = |i: usize| be32(&new_loca, 4 * i).unwrap() as usize;
        let mut simple = 0;
        for i in 0..glyphs {
            let old = &old_glyf[old_at(i)..old_at(i + 1)];
            let new = &new_glyf[new_at(i)..new_at(i + 1)];
            if old.is_empty() {
                assert!(new.is_empty());
                continue;
            }
            // Same contour count and bounding box.
            assert_eq!(old[..10], new[..10], "glyph {i}");
            let contours = be16(old, 0).unwrap() as i16;
            if contours >= 0 {
                simple += 1;
                let at = 10 + 2 * contours as usize;
                let len = usize::from(be16(old, at).unwrap());
                assert_eq!(old[..at], new[..at], "glyph {i} end points");
                assert_eq!(be16(new, at), Some(0), "glyph {i} keeps instructions");
                let outline = &old[at + 2 + len..];
                assert_eq!(
                    &new[at + 2..at + 2 + outline.len()],
                    outline,
                    "glyph {i} outline"
                );
            } else {
                assert!(new.len() <= old.len(), "glyph {i}");
            }
        }
        assert!(simple > 1000, "{simple} simple glyphs checked");
    }

    #[test]
    fn what_is_not_truetype_is_left_alone() {
        assert_eq!(for_embedding(b"not a font"), None);
        assert_eq!(for_embedding(&[]), None);
    }
}
