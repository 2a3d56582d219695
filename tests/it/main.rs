//! The integration tests, one binary (as rust-analyzer and cargo lay theirs
//! out): each `tests/*.rs` file used to be a binary of its own linking every
//! dependency, which made a clean `cargo test` slow and `target/` huge.
//!
//! One module per area of the program; the shared work-folder helper, the
//! PDF reader and the PostgreSQL schema helper live in [`support`]. Run one
//! area with `cargo test --test it <module>::`, for example
//! `cargo test --test it print_run::`.

mod support;

mod architecture;
mod audit;
mod backup;
mod conformance;
mod crash;
mod deliver;
mod deploy;
mod earlier_letters;
mod flags;
mod golden_look;
mod guessing;
mod hardening;
mod key_files;
mod keygen;
mod ledger_backends;
mod ledger_deadline;
mod letters;
mod lifecycle;
mod mail;
mod mail_trail;
mod operations;
mod operator_safety;
mod preview;
mod print;
mod print_run;
mod proof;
mod races;
mod reissue;
mod reprint;
mod run;
mod secrets;
mod serve;
mod sftp;
mod shared_ledger;
mod status;
mod verify;
