//! What `run` says when it is done: the counts that must add up.

use std::path::Path;
use std::time::Instant;

use access_letters::batch::RunReport;
use access_letters::key::KeyMode;

use super::common::*;

pub fn print_report(report: &RunReport, started: Instant) {
    let c = report.counts;
    if report.remade > 0 {
        let dir = display(&report.batch_dir);
        println!(
            "letters missing or changed in {dir}, made again: {}",
            report.remade
        );
    }
    if report.already_complete {
        let dir = display(&report.batch_dir);
        println!(
            "batch {} is already complete in {dir}: nothing to do",
            report.batch_id
        );
    } else {
        if report.stray_removed > 0 {
            let files = count(
                report.stray_removed as u64,
                "temporary file",
                "temporary files",
            );
            println!("removed {files} left by an interrupted run");
        }
        if report.issued_now < c.issued {
            let letters = count(c.issued - report.issued_now, "letter was", "letters were");
            println!("resumed: {letters} already made by an interrupted run of this batch");
        }
    }
    let test = match report.mode {
        KeyMode::Test => " (TEST: letters carry SPECIMEN)",
        KeyMode::Production => "",
    };
    println!(
        "batch {}{test}: read {} = issued {} + already issued {} + rejected {}; {}; {:.1} s",
        report.batch_id,
        c.read,
        c.issued,
        c.already_issued,
        c.rejected,
        count(report.pages, "page", "pages"),
        started.elapsed().as_secs_f64()
    );
    println!("output: {}", display(&report.batch_dir));
}

/// The exit status of a finished run, with a line on what it means.
pub fn exit_status(report: &RunReport, input: &Path) -> u8 {
    let c = report.counts;
    if c.read == 0 {
        eprintln!("no filings in {}", display(input));
        EXIT_NO_FILINGS
    } else if c.rejected > 0 {
        let rejects = display(&report.batch_dir.join("rejects.csv"));
        let rows = count(c.rejected, "row was", "rows were");
        println!("{rows} rejected; see {rejects}");
        EXIT_REJECTS
    } else {
        EXIT_OK
    }
}
