//! Letters recorded before print forms can still be proven.
//!
//! Issue 29 changed how a letter is drawn (forms, repertoire glyph codes,
//! one subset per file) and so its bytes and its content digest. A ledger
//! written by an earlier version holds proofs of letters drawn the old
//! way: `reprint` must still find them the same letter. The letters as
//! earlier versions made them are kept in `tests/golden/earlier/` (the
//! golden letters as they stood before the change, never rewritten).

use std::fs;

use access_letters::filing::{piece_id, ReceiptNumber};
use access_letters::letter_proof::{LetterProof, Sha256Hex};
use access_letters::pdf::RenderedLetter;
use access_letters::print::{compare_rebuilt, digest_v1_of_letter_pdf, Rebuilt};

use crate::letters::{golden_dir, golden_letter, golden_letter_as_before, GOLDEN};

fn letter(bytes: Vec<u8>) -> RenderedLetter {
    RenderedLetter {
        sha256: Sha256Hex::of(&bytes),
        bytes,
        pages: 1,
    }
}

#[test]
fn letters_made_as_before_are_the_bytes_earlier_versions_made() {
    for &(receipt, barcode, _) in GOLDEN {
        let piece = piece_id(&ReceiptNumber::parse(receipt).unwrap(), 1);
        let stored = fs::read(golden_dir().join(format!("earlier/{piece}.pdf"))).unwrap();
        let before = golden_letter_as_before(receipt, barcode);
        assert!(
            before == stored,
            "{piece}: not the bytes of the earlier version"
        );
        assert_ne!(before, golden_letter(receipt, barcode), "{piece}");
    }
}

#[test]
fn a_proof_recorded_before_forms_is_checked_against_the_letter_as_it_was() {
    let (receipt, barcode, _) = GOLDEN[0];
    let now = letter(golden_letter(receipt, barcode));
    let before = letter(golden_letter_as_before(receipt, barcode));
    let earlier = || Some(before.clone());

    // A letter file recorded by its SHA-256.
    let file = LetterProof::File(before.sha256.clone());
    assert_eq!(
        compare_rebuilt(&file, &now, earlier),
        Rebuilt::SameAsEarlier(before.clone())
    );
    // A printed letter recorded by its version 1 content digest.
    let v1 = digest_v1_of_letter_pdf(&before.bytes).unwrap();
    let printed = LetterProof::Printed(v1);
    assert_eq!(
        compare_rebuilt(&printed, &now, earlier),
        Rebuilt::SameAsEarlier(before.clone())
    );
    // Today's proofs match today's letter without looking back.
    let today = LetterProof::File(now.sha256.clone());
    assert_eq!(
        compare_rebuilt(&today, &now, || panic!("not needed")),
        Rebuilt::Same
    );
    // Another letter is another letter, by today's measure.
    let other = LetterProof::File(Sha256Hex::of(b"another letter"));
    assert_eq!(
        compare_rebuilt(&other, &now, earlier),
        Rebuilt::Differs(LetterProof::File(now.sha256.clone()))
    );
    let (other_receipt, other_barcode, _) = GOLDEN[1];
    let other_before = golden_letter_as_before(other_receipt, other_barcode);
    let other_v1 = digest_v1_of_letter_pdf(&other_before).unwrap();
    assert!(matches!(
        compare_rebuilt(&LetterProof::Printed(other_v1), &now, earlier),
        Rebuilt::Differs(LetterProof::Printed(_))
    ));
}
