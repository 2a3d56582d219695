//! The document `/ID` of a standalone letter: a hash of what the letter
//! shows and where, field by field (never `Debug` output, which may change
//! between compiler versions), so the same letter has the same ID in every
//! process and on every thread.

use sha2::{Digest, Sha256};

use super::PdfMeta;
use crate::layout::{Item, Page};

/// A stable hash of the letter's content, for the trailer `/ID`.
pub(super) fn content_id(pages: &[Page], meta: &PdfMeta) -> [u8; 16] {
    /// Each value hashed with its length or width, so no two layouts
    /// share a byte stream.
    struct Id(Sha256);
    impl Id {
        fn text(&mut self, s: &str) {
            self.0.update((s.len() as u64).to_be_bytes());
            self.0.update(s.as_bytes());
        }
        fn num(&mut self, v: f32) {
            self.0.update(v.to_bits().to_be_bytes());
        }
        fn tag(&mut self, t: u8) {
            self.0.update([t]);
        }
        fn opt(&mut self, v: Option<f32>) {
            match v {
                Some(v) => {
                    self.tag(1);
                    self.num(v);
                }
                None => self.tag(0),
            }
        }
    }
    let mut h = Id(Sha256::new());
    for field in [&meta.title, &meta.subject, &meta.author, &meta.identifier] {
        h.text(field);
    }
    h.text(&meta.date.to_string());
    for page in pages {
        h.tag(b'P');
        for item in &page.items {
            match item {
                Item::Text {
                    x,
                    baseline,
                    face,
                    size,
                    text,
                    gray,
                    stroke,
                } => {
                    h.tag(b'T');
                    h.tag(*face as u8);
                    h.text(text);
                    for v in [*x, *baseline, *size, *gray, *stroke] {
                        h.num(v);
                    }
                }
                Item::CellText {
                    x,
                    baseline,
                    face,
                    size,
                    text,
                    cell,
                    stroke,
                } => {
                    h.tag(b'C');
                    h.tag(*face as u8);
                    h.text(text);
                    for v in [*x, *baseline, *size, *cell, *stroke] {
                        h.num(v);
                    }
                }
                Item::Watermark {
                    text,
                    face,
                    size,
                    center_x,
                    center_y,
                    angle_deg,
                    gray,
                } => {
                    h.tag(b'W');
                    h.tag(*face as u8);
                    h.text(text);
                    for v in [*size, *center_x, *center_y, *angle_deg, *gray] {
                        h.num(v);
                    }
                }
                Item::Rect { rect, fill, stroke } => {
                    h.tag(b'R');
                    for v in [rect.x, rect.y, rect.width, rect.height] {
                        h.num(v);
                    }
                    h.opt(*fill);
                    h.opt(*stroke);
                }
            }
        }
    }
    let digest = h.0.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}
