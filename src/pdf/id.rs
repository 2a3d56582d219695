//! The document `/ID` of a standalone letter: a hash of what the letter
//! shows and where, field by field (never `Debug` output, which may change
//! between compiler versions), so the same letter has the same ID in every
//! process and on every thread. The same field-by-field bytes, unhashed,
//! are the key of a form in the form cache ([`items_key_at`]).

use sha2::{Digest, Sha256};

use super::PdfMeta;
use crate::layout::{Item, Page};

/// Each value written with its length or width, so no two layouts share a
/// byte stream; for the `/ID` the stream is hashed whole at the end (one
/// SHA-256 update, not one per four-byte field: the same digest).
struct Id(Vec<u8>);

impl Id {
    fn new() -> Self {
        Id(Vec::with_capacity(4096))
    }
    fn text(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u64).to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn num(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    fn tag(&mut self, t: u8) {
        self.0.push(t);
    }
    fn finish(self) -> [u8; 32] {
        Sha256::digest(&self.0).into()
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

    /// One item of a page: a tag for its kind, then each of its fields.
    fn item(&mut self, item: &Item) {
        self.item_at(item, |y| y);
    }

    /// One item as if placed at `y(its y)`: what [`Id::item`] gives for the
    /// item moved there, without making the moved item.
    fn item_at(&mut self, item: &Item, y: impl Fn(f32) -> f32) {
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
                self.tag(b'T');
                self.tag(*face as u8);
                self.text(text);
                for v in [*x, y(*baseline), *size, *gray, *stroke] {
                    self.num(v);
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
                self.tag(b'C');
                self.tag(*face as u8);
                self.text(text);
                for v in [*x, y(*baseline), *size, *cell, *stroke] {
                    self.num(v);
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
                self.tag(b'W');
                self.tag(*face as u8);
                self.text(text);
                for v in [*size, *center_x, y(*center_y), *angle_deg, *gray] {
                    self.num(v);
                }
            }
            Item::Rect { rect, fill, stroke } => {
                self.tag(b'R');
                for v in [rect.x, y(rect.y), rect.width, rect.height] {
                    self.num(v);
                }
                self.opt(*fill);
                self.opt(*stroke);
            }
        }
    }
}

/// `items` field by field, each item's y mapped by `y`, written into `out`
/// (cleared first): what names a form's items in the form cache (see
/// `pdf::form`). Every field is written with its length or width, so two
/// runs of items give the same bytes only if they are the same items.
pub(super) fn items_key_at(items: &[Item], y: impl Fn(f32) -> f32, out: &mut Vec<u8>) {
    out.clear();
    let mut h = Id(std::mem::take(out));
    for item in items {
        h.item_at(item, &y);
    }
    *out = h.0;
}

/// A stable hash of the letter's content, for the trailer `/ID`.
pub(super) fn content_id(pages: &[Page], meta: &PdfMeta) -> [u8; 16] {
    let mut h = Id::new();
    for field in [&meta.title, &meta.subject, &meta.author, &meta.identifier] {
        h.text(field);
    }
    h.text(&meta.date.to_string());
    for page in pages {
        h.tag(b'P');
        for item in &page.items {
            h.item(item);
        }
    }
    let digest = h.finish();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}
