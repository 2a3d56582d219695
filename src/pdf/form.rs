//! Forms: the fixed parts of a page drawn once per file.
//!
//! Variable-data printing draws what every piece shares once, as a
//! reusable Form XObject, and each page places it and adds what is its own.
//! A page's items are split where they change between fixed and not (see
//! [`Page::fixed`]): each run of variable items is drawn into the page's
//! content stream, each run of fixed items becomes a [`Form`] placed there,
//! in the same painting order.
//!
//! A form's content is drawn in a space of its own whose top edge is the
//! run's first item, so a paragraph the letter's variable text pushed down
//! is still the same form, placed lower (`q 1 0 0 1 0 ty cm /Name Do Q`).
//! Positions inside the form, and the form's top, are rounded to 1/100 pt,
//! which no press or reader can see, so that the same text set from a
//! different start gives the same bytes.
//!
//! A form is named by a digest of its content (`Fm` and 16 hex digits of
//! its SHA-256), so the page content that places it is the same bytes in a
//! letter's own PDF and in any print file, whatever else the file holds.
//! Forms are kept in a small cache, keyed by their items, so a form a
//! letter shares with the letters before it is not drawn again.

use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::content::{items_content, write_real, CharSet, GlyphCodes};
use crate::envelope::PAGE_HEIGHT_PT;
use crate::layout::{Item, Page};

/// A form: the drawing of a run of fixed items.
pub struct Form {
    /// `Fm` and the first 16 hex digits of the content's SHA-256.
    pub name: String,
    /// The content stream, uncompressed.
    pub content: Vec<u8>,
    /// SHA-256 of `content`.
    pub sha256: [u8; 32],
    /// The characters the form draws, per face.
    pub chars: [CharSet; 3],
    compressed: OnceLock<Vec<u8>>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("name", &self.name)
            .field("content", &self.content.len())
            .finish()
    }
}

impl Form {
    fn new(content: Vec<u8>, chars: [CharSet; 3]) -> Form {
        let digest: [u8; 32] = Sha256::digest(&content).into();
        Form {
            name: format!("Fm{}", hex::encode(&digest[..8])),
            content,
            sha256: digest,
            chars,
            compressed: OnceLock::new(),
        }
    }

    /// The content deflated, once for every file that holds the form.
    pub fn compressed(&self) -> &[u8] {
        self.compressed
            .get_or_init(|| super::deflate_content(&self.content))
    }
}

/// A page drawn: its content stream (uncompressed) and the forms it places.
pub struct DrawnPage {
    pub content: Vec<u8>,
    /// Each form the page places, once, in the order first placed.
    pub forms: Vec<Arc<Form>>,
}

/// Draws `page`: its variable items into its content stream, its fixed
/// runs as forms placed there. Records the characters drawn per face.
pub fn draw_page(page: &Page, chars: &mut [CharSet; 3]) -> DrawnPage {
    let mut content: Vec<u8> = Vec::with_capacity(page.items.len() * 40);
    let mut forms: Vec<Arc<Form>> = Vec::new();
    let mut at = 0;
    for run in runs(page) {
        if !content.is_empty() {
            content.push(b'\n');
        }
        let items = &page.items[at..run.end];
        if run.fixed {
            let (top, form) = form_for(items);
            chars
                .iter_mut()
                .zip(&form.chars)
                .for_each(|(all, mine)| all.extend_from(mine));
            let ty = PAGE_HEIGHT_PT - top;
            // "q\n1 0 0 1 0 {ty} cm\n/{name} Do\nQ", the number as
            // `Display` writes it.
            content.extend_from_slice(b"q\n1 0 0 1 0 ");
            write_real(&mut content, ty);
            content.extend_from_slice(b" cm\n/");
            content.extend_from_slice(form.name.as_bytes());
            content.extend_from_slice(b" Do\nQ");
            if !forms.iter().any(|f| f.name == form.name) {
                forms.push(form);
            }
        } else {
            let drawn = items_content(items, PAGE_HEIGHT_PT, GlyphCodes::Repertoire, chars);
            content.extend_from_slice(&drawn);
        }
        at = run.end;
    }
    DrawnPage { content, forms }
}

/// A maximal run of items that are all fixed or all variable.
struct Run {
    end: usize,
    fixed: bool,
}

fn runs(page: &Page) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for i in 0..page.items.len() {
        let fixed = page.is_fixed(i);
        match out.last_mut() {
            Some(run) if run.fixed == fixed => run.end = i + 1,
            _ => out.push(Run { end: i + 1, fixed }),
        }
    }
    out
}

/// Rounds a position to 1/100 pt.
fn round(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// The y an item is placed by (from the page's top).
fn item_top(item: &Item) -> f32 {
    match item {
        Item::Text { baseline, .. } | Item::CellText { baseline, .. } => *baseline,
        Item::Watermark { center_y, .. } => *center_y,
        Item::Rect { rect, .. } => rect.y,
    }
}

/// A y on the page as a form placed at `top` has it: moved up and rounded.
fn form_y(y: f32, top: f32) -> f32 {
    round(y - top)
}

/// `item` as a form placed at `top` draws it ([`form_y`]).
fn relative(item: &Item, top: f32) -> Item {
    let mut item = item.clone();
    match &mut item {
        Item::Text { baseline, .. } | Item::CellText { baseline, .. } => {
            *baseline = form_y(*baseline, top)
        }
        Item::Watermark { center_y, .. } => *center_y = form_y(*center_y, top),
        Item::Rect { rect, .. } => rect.y = form_y(rect.y, top),
    }
    item
}

/// Forms already drawn, keyed by their items written field by field
/// (`id::items_key_at`): the key is the items themselves, so no two
/// different runs of items share one, and a lookup hashes the bytes once
/// (FxHash) and compares them on a hit, with no digest to take.
type FormCache = rustc_hash::FxHashMap<Box<[u8]>, Arc<Form>>;

/// How many forms the cache keeps before it starts again: a run's letters
/// share a few dozen.
const FORM_CACHE_ENTRIES: usize = 4096;

fn form_cache() -> &'static Mutex<FormCache> {
    static CACHE: OnceLock<Mutex<FormCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(FormCache::default()))
}

thread_local! {
    /// The key being looked up, kept between lookups on this thread.
    static KEY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The form drawing `items` (a fixed run) and the top it is placed at.
fn form_for(items: &[Item]) -> (f32, Arc<Form>) {
    let top = round(items.first().map_or(0.0, item_top));
    KEY.with_borrow_mut(|key| {
        // The key of the items moved into the form's space, without moving
        // them: only a form not drawn yet needs them.
        super::id::items_key_at(items, |y| form_y(y, top), key);
        if let Some(hit) = form_cache().lock().expect("form cache").get(key.as_slice()) {
            return (top, Arc::clone(hit));
        }
        let local: Vec<Item> = items.iter().map(|i| relative(i, top)).collect();
        let mut chars: [CharSet; 3] = Default::default();
        let content = items_content(&local, 0.0, GlyphCodes::Repertoire, &mut chars);
        let form = Arc::new(Form::new(content, chars));
        let mut cache = form_cache().lock().expect("form cache");
        if cache.len() >= FORM_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key.as_slice().into(), Arc::clone(&form));
        (top, form)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Rect;
    use crate::fonts::Face;

    /// The cache key computed in place is the key of the items moved
    /// into the form's space, for every kind of item.
    #[test]
    fn a_forms_key_is_the_key_of_its_items_moved() {
        let items = vec![
            Item::Text {
                x: 72.0,
                baseline: 301.337,
                face: Face::Serif,
                size: 10.5,
                text: "Your online access code".into(),
                gray: 0.0,
                stroke: 0.0,
            },
            Item::Rect {
                rect: Rect {
                    x: 70.0,
                    y: 309.004,
                    width: 200.0,
                    height: 40.0,
                },
                fill: None,
                stroke: Some(0.0),
            },
            Item::Watermark {
                text: "SPECIMEN".into(),
                face: Face::SerifBold,
                size: 96.0,
                center_x: 306.0,
                center_y: 420.25,
                angle_deg: 35.0,
                gray: 0.9,
            },
        ];
        let top = round(item_top(&items[0]));
        let moved: Vec<Item> = items.iter().map(|i| relative(i, top)).collect();
        let key = |items: &[Item], y: &dyn Fn(f32) -> f32| {
            let mut out = Vec::new();
            super::super::id::items_key_at(items, y, &mut out);
            out
        };
        let in_place = key(&items, &|y| form_y(y, top));
        assert_eq!(in_place, key(&moved, &|y| y));
        assert_ne!(in_place, key(&items, &|y| y));
    }
}
