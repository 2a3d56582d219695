//! access-letters: the nightly job that mails one-time online access codes.
//!
//! Data flows through one module per stage:
//!
//! | stage | module |
//! |---|---|
//! | read and validate the filings CSV | [`intake`] (addresses: [`address`]) |
//! | keys and access codes | [`key`], [`code`] |
//! | the words of a letter | [`letter`] (templates in `templates/`) |
//! | where things go on the page | [`layout`] (windows: [`envelope`]; barcode: [`imb`]) |
//! | PDF bytes | [`pdf`] (fonts: [`fonts`], [`sfnt`]); one letter end to end: [`render`]; many letters in one print file: [`print`](mod@print) |
//! | what was issued, and each code's life after the envelope (redeemed, revoked) | [`ledger`] (a letter's proof: [`ledger::LetterProof`]) |
//! | the nightly batch and its outputs | [`batch`], [`manifest`], [`output`] |
//! | operator and portal commands (reissue, reprint, verify, redeem, revoke, preview) | [`ops`] |
//! | a mailed letter rebuilt from the ledger and proven the same (reprints, pictures) | [`rebuild`] |
//! | pictures of letters (PNG proofs, code masked) | [`picture`] |
//! | the same operations over HTTP, for the account portal and the desk | [`serve`] |
//! | after the envelope: the hand-off to the print vendor, its acknowledgements, USPS scans, returned mail | [`deliver`], [`ingest`] |
//!
//! Every stage is a plain function of values; only intake and the batch's
//! output step touch the disk, and the clock, key and configuration are passed
//! in. The CLI in `src/cli/` is a thin layer over this library.

pub mod address;
pub mod batch;
pub mod code;
pub mod config;
pub mod deliver;
pub mod envelope;
pub mod filing;
pub mod fonts;
pub mod gen;
pub mod imb;
pub mod ingest;
pub mod intake;
pub mod issue;
pub mod key;
pub mod layout;
pub mod ledger;
pub mod letter;
pub mod letter_proof;
pub mod manifest;
pub mod metrics;
pub mod ops;
pub mod output;
pub mod pdf;
pub mod picture;
pub mod print;
pub mod rebuild;
pub mod render;
pub mod report;
pub mod serve;
pub mod sfnt;
