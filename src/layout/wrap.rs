//! Words into lines, and the small item builders every block uses.
//!
//! Widths come from the real glyph advances of the embedded fonts, so a line
//! that fits here fits on paper.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::{Item, BLACK};
use crate::envelope::Rect;
use crate::fonts::{fonts, Face};
use crate::letter::Span;

/// A positioned run of words on one line.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Run {
    /// Offset of the run's start from the line's start, in points.
    pub dx: f32,
    pub face: Face,
    pub text: String,
}

/// One wrapped line: runs of one face each, left to right.
pub(super) type Line = Vec<Run>;

fn face_for(bold: bool, base_bold: bool) -> Face {
    if bold || base_bold {
        Face::SerifBold
    } else {
        Face::Serif
    }
}

/// Wrapped fixed text, by what was wrapped: the template's own paragraphs
/// are the same on every letter of a run, so each is wrapped once per
/// thread. Each entry keeps its key, so a hit is checked, not trusted to
/// the hash.
type WrapCache = rustc_hash::FxHashMap<u64, Vec<(WrapKey, Arc<Vec<Line>>)>>;

#[derive(PartialEq)]
struct WrapKey {
    spans: Vec<Span>,
    width: u32,
    size: u32,
    base_bold: bool,
}

/// Entries a thread keeps before it starts again.
const WRAP_CACHE_ENTRIES: usize = 512;

/// [`wrap`], kept for the next letter: for text that is the same on every
/// letter (see `LetterText::fixed_blocks`).
pub(super) fn wrap_fixed(spans: &[Span], width: f32, size: f32, base_bold: bool) -> Arc<Vec<Line>> {
    thread_local! {
        static CACHE: RefCell<WrapCache> = RefCell::new(WrapCache::default());
    }
    let mut h = rustc_hash::FxHasher::default();
    spans.hash(&mut h);
    (width.to_bits(), size.to_bits(), base_bold).hash(&mut h);
    let hash = h.finish();
    let same = |k: &WrapKey| {
        k.spans == spans
            && k.width == width.to_bits()
            && k.size == size.to_bits()
            && k.base_bold == base_bold
    };
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, lines)) = cache
            .get(&hash)
            .and_then(|b| b.iter().find(|(k, _)| same(k)))
        {
            return Arc::clone(lines);
        }
        if cache.len() >= WRAP_CACHE_ENTRIES {
            cache.clear();
        }
        let lines = Arc::new(wrap(spans, width, size, base_bold));
        let key = WrapKey {
            spans: spans.to_vec(),
            width: width.to_bits(),
            size: size.to_bits(),
            base_bold,
        };
        cache
            .entry(hash)
            .or_default()
            .push((key, Arc::clone(&lines)));
        lines
    })
}

/// Greedy word wrap with real glyph advances. A word wider than the column
/// (a long web address) is put on its own line rather than cut.
pub(super) fn wrap(spans: &[Span], width: f32, size: f32, base_bold: bool) -> Vec<Line> {
    let f = fonts();
    // Words with their face and whether white space stood before them.
    let mut tokens: Vec<(&str, Face, bool)> = Vec::new();
    let mut space_pending = false;
    for span in spans {
        let face = face_for(span.bold, base_bold);
        let mut first = true;
        for word in span.text.split_whitespace() {
            let before = !first || space_pending || span.text.starts_with(char::is_whitespace);
            tokens.push((word, face, before));
            first = false;
        }
        space_pending = span.text.ends_with(char::is_whitespace) || (first && space_pending);
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Line = Vec::new();
    let mut x = 0.0f32;
    for (word, face, space_before) in tokens {
        let w = f.get(face).width_pt(word, size);
        // The space belongs to the run it joins, so measure it in that face.
        let space = f.get(face).width_pt(" ", size);
        let gap = if space_before && !line.is_empty() {
            space
        } else {
            0.0
        };
        if !line.is_empty() && x + gap + w > width {
            lines.push(std::mem::take(&mut line));
            x = 0.0;
        }
        let gap = if line.is_empty() { 0.0 } else { gap };
        match line.last_mut() {
            Some(run) if run.face == face => {
                if gap > 0.0 {
                    run.text.push(' ');
                }
                run.text.push_str(word);
            }
            _ => line.push(Run {
                dx: x + gap,
                face,
                text: word.to_string(),
            }),
        }
        x += gap + w;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Sets a wrapped line with its baseline at `baseline`, starting at `x`.
pub(super) fn push_line(items: &mut Vec<Item>, line: &Line, x: f32, baseline: f32, size: f32) {
    for run in line {
        items.push(Item::Text {
            x: x + run.dx,
            baseline,
            face: run.face,
            size,
            text: run.text.clone(),
            gray: BLACK,
            stroke: 0.0,
        });
    }
}

/// Black text with its baseline at `baseline`, starting at `x`.
pub(super) fn text(x: f32, baseline: f32, face: Face, size: f32, s: &str) -> Item {
    gray_text(x, baseline, face, size, s, BLACK)
}

/// Text in gray `gray` (0 black, 1 white).
pub(super) fn gray_text(x: f32, baseline: f32, face: Face, size: f32, s: &str, gray: f32) -> Item {
    Item::Text {
        x,
        baseline,
        face,
        size,
        text: s.to_string(),
        gray,
        stroke: 0.0,
    }
}

/// A black horizontal rule with its top edge at `y`.
pub(super) fn rule(x: f32, y: f32, width: f32, thickness: f32) -> Item {
    Item::Rect {
        rect: Rect {
            x,
            y,
            width,
            height: thickness,
        },
        fill: Some(BLACK),
        stroke: None,
    }
}

/// The largest size from `sizes` at which every line fits `width` and the
/// block fits `height`.
pub(super) fn fit_size(
    lines: &[(Face, &str)],
    sizes: &[f32],
    width: f32,
    height: f32,
    leading: f32,
) -> Option<f32> {
    let f = fonts();
    sizes.iter().copied().find(|&size| {
        let widest = lines
            .iter()
            .map(|(face, s)| f.get(*face).width_pt(s, size))
            .fold(0.0, f32::max);
        let first = lines.first().map(|(face, _)| *face).unwrap_or(Face::Sans);
        let last = lines.last().map(|(face, _)| *face).unwrap_or(Face::Sans);
        let block = f.get(first).ascent_em * size
            + (lines.len().saturating_sub(1)) as f32 * leading * size
            + f.get(last).descent_em * size;
        widest <= width && block <= height
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(t: &str, bold: bool) -> Span {
        Span {
            text: t.into(),
            bold,
        }
    }

    fn line_text(line: &Line) -> String {
        line.iter()
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>()
            .join("|")
    }

    fn run_width(run: &Run, size: f32) -> f32 {
        fonts().get(run.face).width_pt(&run.text, size)
    }

    #[test]
    fn wrap_respects_width_and_keeps_words() {
        let words = "the quick brown fox jumps over the lazy dog ".repeat(8);
        let lines = wrap(&[span(&words, false)], 200.0, 10.0, false);
        assert!(lines.len() > 3);
        let mut rebuilt = Vec::new();
        for l in &lines {
            let last = l.last().unwrap();
            assert!(last.dx + run_width(last, 10.0) <= 200.0 + 0.01);
            rebuilt.push(line_text(l));
        }
        assert_eq!(rebuilt.join(" "), words.trim());
    }

    #[test]
    fn wrap_switches_faces_for_bold_runs() {
        let lines = wrap(
            &[
                span("Your ", false),
                span("receipt number", true),
                span(", then", false),
            ],
            500.0,
            10.0,
            false,
        );
        assert_eq!(lines.len(), 1);
        let faces: Vec<Face> = lines[0].iter().map(|r| r.face).collect();
        assert_eq!(faces, vec![Face::Serif, Face::SerifBold, Face::Serif]);
        assert_eq!(line_text(&lines[0]), "Your|receipt number|, then");
        let (a, b, c) = (&lines[0][0], &lines[0][1], &lines[0][2]);
        // A space stands between "Your" and "receipt", none before the comma.
        let space = fonts().get(Face::SerifBold).width_pt(" ", 10.0);
        assert!((b.dx - (a.dx + run_width(a, 10.0)) - space).abs() < 0.01);
        assert!((c.dx - (b.dx + run_width(b, 10.0))).abs() < 0.01);
    }
}
