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

/// The version 1 digest of a receipt's letter as an earlier version drew
/// it, from the ledger in `wd`.
fn digest_as_before(wd: &crate::support::Workdir, receipt: &str) -> String {
    use access_letters::config::Config;
    use access_letters::key::{Key, KeyRing};
    use access_letters::letter::Templates;
    use access_letters::render::Renderer;
    let ledger = access_letters::ledger::SqliteLedger::open_existing(&wd.ledger()).unwrap();
    let keys = KeyRing::single(Key::load(&crate::support::test_key()).unwrap());
    let renderer = Renderer::new(Templates::builtin(), Config::default_config());
    let receipt = ReceiptNumber::parse(receipt).unwrap();
    let recorded = access_letters::rebuild::find(&ledger, &keys, &receipt, None).unwrap();
    let before =
        access_letters::issue::issue_as_before(&recorded.context(&renderer), &recorded.planned())
            .unwrap();
    digest_v1_of_letter_pdf(&before.bytes).unwrap().to_string()
}

/// A print batch that an earlier version printed and recorded (version 1
/// digests), whose print file is then lost, is finished by this version:
/// the file is drawn again with forms, the recorded proof is accepted as
/// the same letter's, and a reprint is still proven by it. A digest that
/// is neither version's is still refused.
#[test]
fn a_batch_printed_by_an_earlier_version_is_written_again_and_still_proven() {
    use crate::support::*;
    let wd = Workdir::new();
    let (_, batch) = crate::print_run::print_fixtures(&wd, &[]);
    let row = batch.manifest()[3].clone();
    let piece = row["piece_id"].clone();
    let receipt = piece[..13].to_string();
    let set_digest = |digest: &str| {
        let conn = rusqlite::Connection::open(wd.ledger()).unwrap();
        let n = conn
            .execute(
                "UPDATE issuances SET proof_digest = ?1 WHERE piece_id = ?2",
                [digest, piece.as_str()],
            )
            .unwrap();
        assert_eq!(n, 1);
    };
    let file = batch.path(&row["print_file"]);
    let written = fs::read(&file).unwrap();
    set_digest(&digest_as_before(&wd, &receipt));
    fs::remove_file(&file).unwrap();
    let (again, _) = crate::print_run::print_fixtures(&wd, &[]);
    assert!(again.stdout.contains("issued"), "{again:?}");
    assert!(
        fs::read(&file).unwrap() == written,
        "the same file, drawn again"
    );
    let out = wd.cmd(["reprint", &receipt]);
    out.expect_code(EXIT_OK);

    set_digest(&Sha256Hex::of(b"not this letter").to_string());
    fs::remove_file(&file).unwrap();
    let refused = wd.cmd(crate::print_run::print_args(&fixtures_csv(), "10"));
    refused.expect_code(EXIT_FAILED);
    assert!(refused.stderr.contains("differs"), "{refused:?}");
}
