//! `deliver` against a real OpenSSH server on a localhost port: a finished
//! batch lands as print files, manifest, control file and `.ready` marker,
//! each whole and with the digest batch.json lists; a second hand-off is
//! refused unless `--again`; a test batch never reaches a production
//! vendor; a changed host key is refused; a run killed with SIGKILL in the
//! middle of an upload is resumed and every file ends up there once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::sshd::Sshd;
use crate::support::*;

/// The fixtures' agency.toml with a [vendor] section for `sshd`.
fn vendor_config(w: &Workdir, sshd: &Sshd, production: bool, known_hosts: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo_file("templates/agency.toml")).unwrap();
    let vendor = sshd.vendor_section(production, known_hosts);
    w.write(
        if production {
            "vendor-prod.toml"
        } else {
            "vendor.toml"
        },
        text + &vendor,
    )
}

fn deliver(w: &Workdir, batch: &Batch, config: &Path, extra: &[&str]) -> Output {
    let id = batch.id();
    let mut args = vec!["deliver", id.as_str(), "--config", config.to_str().unwrap()];
    args.extend(extra);
    w.cmd(args)
}

/// The files on the server, by name, with their sha256.
fn remote_files(sshd: &Sshd) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(sshd.remote_dir())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name, file_sha256(&e.path()))
        })
        .collect();
    files.sort();
    files
}

/// What the server must hold after a hand-off of `batch`: each file
/// batch.json lists (but rejects.csv) with that digest, the control file
/// and the marker; nothing else (no temporary names).
#[track_caller]
fn assert_delivered(sshd: &Sshd, batch: &Batch) {
    let id = batch.id();
    let files = remote_files(sshd);
    let names: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let summary = batch.summary();
    let mut expected = BTreeSet::new();
    for f in summary["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        if path == "rejects.csv" {
            continue;
        }
        let base = path.rsplit('/').next().unwrap();
        let name = if base.starts_with(&id) {
            base.to_string()
        } else {
            format!("{id}.{base}")
        };
        let on_server = files.iter().find(|(n, _)| *n == name);
        assert_eq!(
            on_server.map(|(_, d)| d.as_str()),
            Some(f["sha256"].as_str().unwrap()),
            "{name} on the server: {files:?}"
        );
        expected.insert(name);
    }
    expected.insert(format!("{id}.control.json"));
    expected.insert(format!("{id}.ready"));
    let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(names, expected, "exactly the batch's files, once each");
    let control: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sshd.remote_dir().join(format!("{id}.control.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(control["pieces"], summary["letters"]);
    assert_eq!(control["pages"], summary["pages"]);
    for f in control["files"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let local = file_sha256(&sshd.remote_dir().join(name));
        assert_eq!(f["sha256"].as_str().unwrap(), local, "{name}");
    }
    let marker = std::fs::read_to_string(sshd.remote_dir().join(format!("{id}.ready"))).unwrap();
    assert!(marker.starts_with(&file_sha256(
        &sshd.remote_dir().join(format!("{id}.control.json"))
    )));
}

#[test]
fn a_finished_batch_is_delivered_once_and_again_only_when_asked() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let config = vendor_config(&w, &sshd, false, &sshd.known_hosts());
    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_OK);
    assert!(
        out.stdout.contains(&format!("delivered {}", batch.id())),
        "{out:?}"
    );
    assert_delivered(&sshd, &batch);

    // Seen by the desk and in the report.
    let receipt = "IOE0912345601";
    let status = w.cmd(["status", receipt]);
    assert!(
        status.stdout.contains("delivered to the print vendor"),
        "{status:?}"
    );
    let report = String::from_utf8(batch.read("report.html")).unwrap();
    assert!(
        report.contains("Delivered to the print vendor: 20"),
        "report: {report}"
    );

    // A second hand-off is refused and sends nothing.
    let before = remote_files(&sshd);
    let again = deliver(&w, &batch, &config, &[]);
    again.expect_code(EXIT_NOT_VALID);
    assert!(again.stderr.contains("already delivered"), "{again:?}");
    assert_eq!(remote_files(&sshd), before);

    // --again sends it once more, and says so in the ledger's trail.
    deliver(&w, &batch, &config, &["--again"]).expect_code(EXIT_OK);
    assert_delivered(&sshd, &batch);
    let status = w.cmd(["status", receipt]);
    assert!(status.stdout.contains("sent again"), "{status:?}");
}

#[test]
fn a_test_batch_never_reaches_a_production_vendor() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let config = vendor_config(&w, &sshd, true, &sshd.known_hosts());
    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("SPECIMEN"), "{out:?}");
    assert!(out.stderr.contains("production"), "{out:?}");
    assert!(remote_files(&sshd).is_empty(), "nothing was sent");
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_is_recorded() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let config = vendor_config(&w, &sshd, false, &sshd.wrong_known_hosts());
    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.to_lowercase().contains("host key"), "{out:?}");
    assert!(remote_files(&sshd).is_empty());
    let status = w.cmd(["status", "IOE0912345601"]);
    assert!(!status.stdout.contains("vendor"), "{status:?}");
    // With the right known_hosts it goes.
    let good = vendor_config(&w, &sshd, false, &sshd.known_hosts());
    deliver(&w, &batch, &good, &[]).expect_code(EXIT_OK);
    assert_delivered(&sshd, &batch);
}

#[test]
fn an_incomplete_batch_is_not_delivered() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    std::fs::remove_file(batch.path("batch.json")).unwrap();
    let config = vendor_config(&w, &sshd, false, &sshd.known_hosts());
    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("not complete"), "{out:?}");
    assert!(remote_files(&sshd).is_empty());
}

#[test]
fn a_hand_off_killed_mid_upload_is_resumed_and_every_file_lands_once() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let config = vendor_config(&w, &sshd, false, &sshd.known_hosts());
    // Slowly, so it can be killed in the middle of the print file, after
    // the manifest (listed first in batch.json) is in place.
    let id = batch.id();
    let mut child = w
        .command([
            "deliver",
            id.as_str(),
            "--config",
            config.to_str().unwrap(),
            "--limit-kbps",
            "8",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once part of the print file is on the server (not a fixed
    // time after its upload began, which a slow machine may not reach).
    let uploading = wait_until(Duration::from_secs(30), || {
        std::fs::read_dir(sshd.remote_dir()).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".pdf.part")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    });
    assert!(uploading, "part of the print file was sent: {}", sshd.log());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let half = remote_files(&sshd);
    assert!(
        !half.iter().any(|(n, _)| n.ends_with(".ready")),
        "no marker yet: {half:?}"
    );

    // The desk sees a hand-off that is not finished.
    let status = w.cmd(["status", "IOE0912345601"]);
    assert!(status.stdout.contains("not finished"), "{status:?}");

    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_OK);
    assert!(
        out.stdout
            .contains("1 already there from an interrupted run"),
        "the manifest was not sent twice: {out:?}"
    );
    assert_delivered(&sshd, &batch);
    // One hand-off, resumed, not a second one.
    let again = deliver(&w, &batch, &config, &[]);
    again.expect_code(EXIT_NOT_VALID);
}

#[test]
fn deliver_again_takes_the_marker_down_first_and_puts_it_back_last() {
    let Some(sshd) = Sshd::start("deliver --again over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let config = vendor_config(&w, &sshd, false, &sshd.known_hosts());
    deliver(&w, &batch, &config, &[]).expect_code(EXIT_OK);
    let id = batch.id();
    let ready = sshd.remote_dir().join(format!("{id}.ready"));
    assert!(ready.is_file());

    // Sent again slowly, the server's folder watched meanwhile: once a file
    // is being replaced, the marker must be gone until the end.
    let mut child = w
        .command([
            "deliver",
            id.as_str(),
            "--config",
            config.to_str().unwrap(),
            "--again",
            "--limit-kbps",
            "64",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut uploads_seen, mut marker_over_upload) = (0, BTreeSet::new());
    let ended = wait_until(Duration::from_secs(120), || {
        let names: Vec<String> = std::fs::read_dir(sshd.remote_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        if let Some(part) = names.iter().find(|n| n.ends_with(".part")) {
            uploads_seen += 1;
            if names.iter().any(|n| *n == format!("{id}.ready")) {
                marker_over_upload.insert(part.clone());
            }
        }
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !ended {
        child.kill().unwrap();
    }
    assert!(child.wait().unwrap().success(), "{}", sshd.log());
    assert!(uploads_seen > 0, "an upload was seen in progress");
    assert!(
        marker_over_upload.is_empty(),
        "the marker stood while these were being replaced: {marker_over_upload:?}"
    );
    assert_delivered(&sshd, &batch);
}

#[test]
fn a_remote_dir_that_climbs_out_is_refused_and_nothing_is_sent() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let remote = sshd.remote_dir();
    let climbing = format!(
        "{}/../{}",
        remote.display(),
        remote.file_name().unwrap().to_str().unwrap()
    );
    let text = std::fs::read_to_string(repo_file("templates/agency.toml")).unwrap()
        + &sshd.vendor_section(false, &sshd.known_hosts()).replace(
            &format!("\"{}\"", remote.display()),
            &format!("\"{climbing}\""),
        );
    assert!(text.contains(&climbing));
    let config = w.write("vendor-climbing.toml", text);
    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr.contains("vendor.remote_dir") && out.stderr.contains("contains `..`"),
        "{out:?}"
    );
    assert!(remote_files(&sshd).is_empty());
}

#[test]
fn a_full_disk_on_the_server_is_said_with_the_file_it_refused() {
    let Some(sshd) = Sshd::start("deliver over SFTP") else {
        return;
    };
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    let config = vendor_config(&w, &sshd, false, &sshd.known_hosts());
    let id = batch.id();
    // The manifest goes first; its temporary file is /dev/full, as a full
    // disk answers every write.
    let part = format!(".{id}.manifest.csv.part");
    std::os::unix::fs::symlink("/dev/full", sshd.remote_dir().join(&part)).unwrap();
    let out = deliver(&w, &batch, &config, &[]);
    out.expect_code(EXIT_FAILED);
    for said in [
        part.as_str(),
        "refused the write of",
        "disk is full or the account's quota is used up",
        "run deliver again",
    ] {
        assert!(out.stderr.contains(said), "{said:?}: {out:?}");
    }
}
