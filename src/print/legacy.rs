//! The content digest as versions before print forms defined it (version
//! 1), kept so that proofs those versions recorded can still be checked
//! against the letter made as it was then (`pdf::render_legacy`).
//!
//! Version 1: SHA-256 (hex) over each page's font resources, sorted by
//! resource name (`name=subset font name`, one a line), then the length and
//! bytes of its uncompressed content stream.

use lopdf::{Document, Object, ObjectId};
use sha2::{Digest, Sha256};

use crate::letter_proof::Sha256Hex;

/// The version 1 digest of every page of a standalone letter's PDF.
pub fn digest_v1_of_letter_pdf(bytes: &[u8]) -> Result<Sha256Hex, lopdf::Error> {
    let doc = Document::load_mem(bytes)?;
    let ids: Vec<ObjectId> = doc.get_pages().into_values().collect();
    let mut h = Sha256::new();
    for id in ids {
        let mut fonts = doc
            .get_page_fonts(id)?
            .into_iter()
            .map(|(name, dict)| {
                let base = dict
                    .get(b"BaseFont")
                    .and_then(Object::as_name)
                    .unwrap_or_default();
                (name, base.to_vec())
            })
            .collect::<Vec<_>>();
        fonts.sort();
        for (name, base) in &fonts {
            h.update(name);
            h.update(b"=");
            h.update(base);
            h.update(b"\n");
        }
        let content = super::page_content_of(&doc, id);
        h.update((content.len() as u64).to_be_bytes());
        h.update(&content);
    }
    Ok(Sha256Hex::from_hasher(h))
}
