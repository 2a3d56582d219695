//! The hand-off of one finished batch to the print vendor, exactly once.
//!
//! What goes: the print files (or, for a batch of single letters, the
//! letter files) and the manifest, each named after the batch, then a
//! control file (`<batch>.control.json`: every file with its bytes and
//! sha256, and the batch's piece, page and sheet totals), then the
//! `<batch>.ready` marker. The vendor takes a batch only once its marker is
//! there, so it never sees half a batch. `rejects.csv` stays home: it holds
//! the names and addresses of rows that were not mailed.
//!
//! How: every file goes up under a temporary name, its size on the server
//! is checked, and it is renamed into place (the transport's job); the
//! ledger records each file once it is in place, and the hand-off once the
//! marker is. A run killed at any point is resumed by running it again:
//! files already in place with the recorded digest and size are not sent
//! again, the rest are, and the marker goes last. A batch already handed
//! off is refused unless `again` (recorded as such). A hand-off `again`, or
//! one resumed, first removes the batch's marker from the server, then
//! sends, then puts a new marker last: the vendor never sees a marker over
//! files being replaced.
//!
//! Never delivered: a batch without its `batch.json` (incomplete or
//! failed), a batch the ledger does not know as complete, a batch whose
//! files differ from what `batch.json` lists, and a batch made with a test
//! key when the vendor mails what it receives: a SPECIMEN letter must never
//! reach a production press.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::VendorKind;
use crate::key::KeyMode;
use crate::ledger::{DeliveredFile, Delivery, Ledger, LedgerError, Sha256Hex};
use crate::manifest::{read_file_list, read_summary, BatchSummary};
use crate::output::file_sha256;

/// What a hand-off needs from the vendor's server: the SFTP session does
/// this, and the tests use a folder.
pub trait Transport {
    type Error: std::error::Error + Send + Sync + 'static;
    /// The size of a file in the vendor's folder, `None` if absent.
    fn remote_size(&mut self, name: &str) -> Result<Option<u64>, Self::Error>;
    /// Puts a local file in place under `name`: temporary name, size
    /// checked, renamed. `rate` limits bytes per second.
    fn upload(&mut self, local: &Path, name: &str, rate: Option<u64>) -> Result<u64, Self::Error>;
    /// The same for a small file made in memory.
    fn upload_bytes(&mut self, bytes: &[u8], name: &str) -> Result<u64, Self::Error>;
    /// Removes a file from the vendor's folder; one already absent is not
    /// an error.
    fn remove(&mut self, name: &str) -> Result<(), Self::Error>;
}

/// Where the batch goes, as the ledger and the operator see it.
#[derive(Clone, Debug)]
pub struct Vendor {
    /// `user@host:port/remote_dir`: recorded with the hand-off.
    pub label: String,
    /// Whether the vendor mails what it receives.
    pub kind: VendorKind,
}

/// The one rule between a batch's letters and the vendor they go to: a
/// test key's SPECIMEN letters never reach a production press. Every
/// pairing is named, so a new kind of key or of vendor is decided here.
pub fn may_deliver(letters: KeyMode, vendor: VendorKind) -> bool {
    match (letters, vendor) {
        (KeyMode::Test, VendorKind::Production) => false,
        (KeyMode::Test, VendorKind::Test) => true,
        (KeyMode::Production, VendorKind::Production) => true,
        // A test vendor mails nothing, whatever the key.
        (KeyMode::Production, VendorKind::Test) => true,
    }
}

/// One hand-off to make.
#[derive(Clone, Debug)]
pub struct DeliverRequest<'a> {
    pub batch_dir: &'a Path,
    pub vendor: &'a Vendor,
    /// Send a batch that was already handed off (recorded as such).
    pub again: bool,
    /// Bytes per second, when the line is shared.
    pub rate: Option<u64>,
    /// The audit clock (hand-off times in the ledger).
    pub clock: fn() -> DateTime<Utc>,
}

/// What a hand-off did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Where it went.
    pub vendor: String,
    pub batch_id: String,
    /// Files now in place (data files and the control file; not the marker).
    pub files: Vec<DeliveredFile>,
    /// Of those, files a killed run had already put in place.
    pub already_there: usize,
    /// Bytes sent by this run.
    pub bytes_sent: u64,
    /// The ledger's id of the hand-off.
    pub delivery_id: i64,
    /// A hand-off that an earlier run started was finished.
    pub resumed: bool,
    pub again: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("batch {batch} is not complete (no batch.json in {dir}): it was interrupted or failed; run it again to finish it, then deliver")]
    Incomplete { batch: String, dir: PathBuf },
    #[error("batch {batch} cannot be delivered: {reason}")]
    Refused { batch: String, reason: String },
    /// The folder's batch is not one of the opened ledger's.
    #[error("batch {batch} cannot be delivered: {why}")]
    OtherLedger { batch: String, why: &'static str },
    #[error("batch {batch} was already delivered to {vendor} at {at} UTC; nothing was sent (sending it once more must be asked for, and is recorded)")]
    AlreadyDelivered {
        batch: String,
        vendor: String,
        at: String,
    },
    #[error("batch {batch} was made with the test key {key_id}: its letters are SPECIMENs and the vendor {vendor} is marked production, so nothing was sent")]
    TestBatch {
        batch: String,
        key_id: String,
        vendor: String,
    },
    #[error("batch {batch}: {file} differs from what batch.json lists (sha256 {found}, listed {listed}); nothing more was sent")]
    Tampered {
        batch: String,
        file: String,
        found: String,
        listed: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("hand-off of batch {batch} to {vendor} failed at {file}: {source}; run deliver again to resume (files already in place are not sent twice)")]
    Transfer {
        batch: String,
        vendor: String,
        file: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One file to send: where it is, what it is called on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outgoing {
    local: PathBuf,
    remote: String,
    bytes: u64,
    sha256: Sha256Hex,
}

/// The control file's content.
#[derive(Serialize)]
struct Control<'a> {
    batch_id: &'a str,
    batch_date: String,
    pieces: u64,
    pages: u64,
    sheets: u64,
    files: Vec<ControlFile<'a>>,
}

#[derive(Serialize)]
struct ControlFile<'a> {
    name: &'a str,
    bytes: u64,
    sha256: &'a str,
}

/// The name a batch's file has on the vendor's server: its own name when
/// it already starts with the batch id (print files), else prefixed with it.
pub fn remote_name(batch_id: &str, path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    if base.starts_with(batch_id) {
        base.to_string()
    } else {
        format!("{batch_id}.{base}")
    }
}

/// The marker that tells the vendor the batch is all there.
pub fn ready_name(batch_id: &str) -> String {
    format!("{batch_id}.ready")
}

/// The control file's name.
pub fn control_name(batch_id: &str) -> String {
    format!("{batch_id}.control.json")
}

/// Checks the batch, then (only if every check passed) connects with
/// `connect` and hands the batch off. See the module docs.
pub fn deliver<T: Transport>(
    req: &DeliverRequest<'_>,
    ledger: &mut dyn Ledger,
    connect: impl FnOnce() -> Result<T, T::Error>,
) -> Result<Delivered, DeliverError> {
    let summary = check_batch(req, ledger)?;
    let batch = summary.batch_id.clone();
    let outgoing = outgoing(req.batch_dir, &summary)?;
    let control = control_bytes(&summary, &outgoing);
    let control_sha = Sha256Hex::of(&control);
    let open = check_history(req, &batch, &ledger.deliveries(&batch)?, &control_sha)?;

    let mut session = connect().map_err(|e| transfer_err(req, &batch, "connecting", e))?;
    let (delivery_id, resumed, placed) = match open {
        Some(o) => (o.id, true, o.files),
        None => {
            let now = (req.clock)();
            let id =
                ledger.begin_delivery(&batch, &req.vendor.label, req.again, &control_sha, now)?;
            (id, false, Vec::new())
        }
    };
    // A batch sent again (or a hand-off resumed) replaces files the vendor
    // may already have taken as complete: its marker comes down first, so
    // the vendor never picks up a batch whose files are being replaced.
    let ready = ready_name(&batch);
    if req.again || resumed {
        session
            .remove(&ready)
            .map_err(|e| transfer_err(req, &batch, &ready, e))?;
    }
    let mut sent = Sent::default();
    for f in &outgoing {
        send_file(
            &mut session,
            req,
            ledger,
            (&batch, delivery_id),
            &placed,
            f,
            &mut sent,
        )?;
    }
    let control_file = DeliveredFile {
        name: control_name(&batch),
        bytes: control.len() as u64,
        sha256: control_sha.clone(),
    };
    sent.bytes += session
        .upload_bytes(&control, &control_file.name)
        .map_err(|e| transfer_err(req, &batch, &control_file.name, e))?;
    ledger.record_delivered_file(delivery_id, &control_file, (req.clock)())?;
    sent.files.push(control_file);
    // Last: the marker. Its content names the control file's digest, so
    // the vendor can check it took the files this marker is about.
    let marker = format!("{} {}\n", control_sha.as_str(), control_name(&batch));
    session
        .upload_bytes(marker.as_bytes(), &ready)
        .map_err(|e| transfer_err(req, &batch, &ready, e))?;
    ledger.finish_delivery(delivery_id, (req.clock)())?;
    Ok(Delivered {
        vendor: req.vendor.label.clone(),
        batch_id: batch,
        files: sent.files,
        already_there: sent.already_there,
        bytes_sent: sent.bytes,
        delivery_id,
        resumed,
        again: req.again,
    })
}

impl std::fmt::Display for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delivered {} to {}: {} files in place ({} sent now, {} KiB; {} already there from an interrupted run), then {}{}",
            self.batch_id,
            self.vendor,
            self.files.len(),
            self.files.len() - self.already_there,
            self.bytes_sent / 1024,
            self.already_there,
            ready_name(&self.batch_id),
            if self.again { "; sent again as asked, recorded" } else { "" }
        )
    }
}

/// What the files of a hand-off came to so far.
#[derive(Default)]
struct Sent {
    files: Vec<DeliveredFile>,
    already_there: usize,
    bytes: u64,
}

fn transfer_err<E: std::error::Error + Send + Sync + 'static>(
    req: &DeliverRequest<'_>,
    batch: &str,
    file: &str,
    e: E,
) -> DeliverError {
    DeliverError::Transfer {
        batch: batch.to_string(),
        vendor: req.vendor.label.clone(),
        file: file.to_string(),
        source: Box::new(e),
    }
}

/// Refuses a second hand-off unless `again`; returns the unfinished one a
/// killed run left, to resume, when it is the same files to the same place.
fn check_history(
    req: &DeliverRequest<'_>,
    batch: &str,
    past: &[Delivery],
    control_sha: &Sha256Hex,
) -> Result<Option<Delivery>, DeliverError> {
    let open = past.iter().find(|d| d.completed_at.is_none());
    if let (Some(done), None, false) = (last_finished(past), open, req.again) {
        return Err(DeliverError::AlreadyDelivered {
            batch: batch.to_string(),
            vendor: done.vendor.clone(),
            at: done
                .completed_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
        });
    }
    if let Some(o) = open {
        if o.control_sha256 != *control_sha || o.vendor != req.vendor.label {
            return Err(DeliverError::Refused {
                batch: batch.to_string(),
                reason: format!(
                    "an unfinished hand-off to {} (started {} UTC) sent other files or went elsewhere; check the batch folder and the [vendor] settings",
                    o.vendor,
                    o.started_at.format("%Y-%m-%d %H:%M:%S")
                ),
            });
        }
    }
    Ok(open.cloned())
}

/// Puts one file in place, unless a killed run already did (recorded with
/// the same digest, and the same size on the server).
fn send_file<T: Transport>(
    session: &mut T,
    req: &DeliverRequest<'_>,
    ledger: &mut dyn Ledger,
    (batch, delivery_id): (&str, i64),
    placed: &[DeliveredFile],
    f: &Outgoing,
    sent: &mut Sent,
) -> Result<(), DeliverError> {
    let recorded = placed
        .iter()
        .any(|p| p.name == f.remote && p.sha256 == f.sha256 && p.bytes == f.bytes);
    let on_server = session
        .remote_size(&f.remote)
        .map_err(|e| transfer_err(req, batch, &f.remote, e))?;
    let file = DeliveredFile {
        name: f.remote.clone(),
        bytes: f.bytes,
        sha256: f.sha256.clone(),
    };
    if recorded && on_server == Some(f.bytes) {
        sent.already_there += 1;
    } else {
        sent.bytes += session
            .upload(&f.local, &f.remote, req.rate)
            .map_err(|e| transfer_err(req, batch, &f.remote, e))?;
        ledger.record_delivered_file(delivery_id, &file, (req.clock)())?;
    }
    sent.files.push(file);
    Ok(())
}

/// Everything that must hold before anything is sent.
fn check_batch(
    req: &DeliverRequest<'_>,
    ledger: &dyn Ledger,
) -> Result<BatchSummary, DeliverError> {
    let dir_name = req
        .batch_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !req.batch_dir.join("batch.json").is_file() {
        return Err(DeliverError::Incomplete {
            batch: dir_name,
            dir: req.batch_dir.to_path_buf(),
        });
    }
    let summary = read_summary(req.batch_dir).map_err(|e| DeliverError::Refused {
        batch: dir_name.clone(),
        reason: e.to_string(),
    })?;
    let batch = summary.batch_id.clone();
    let refused = |reason: String| DeliverError::Refused {
        batch: batch.clone(),
        reason,
    };
    match ledger.batch(&batch)? {
        None => {
            return Err(DeliverError::OtherLedger {
                batch: batch.clone(),
                why: "the ledger has no such batch: this folder belongs to another ledger",
            })
        }
        Some((_, None)) => {
            return Err(refused(
                "the ledger does not record it as complete; run it again to finish it".into(),
            ))
        }
        Some(_) => {}
    }
    if !summary.ledger_id.is_empty() && summary.ledger_id != ledger.ledger_id()? {
        return Err(DeliverError::OtherLedger {
            batch,
            why: "batch.json names another ledger than the one opened",
        });
    }
    if !may_deliver(summary.mode, req.vendor.kind) {
        return Err(DeliverError::TestBatch {
            batch,
            key_id: summary.key_id.clone(),
            vendor: req.vendor.label.clone(),
        });
    }
    if summary.letters == 0 {
        return Err(refused("it has no letters".into()));
    }
    Ok(summary)
}

/// The files to send, each checked against batch.json's digest.
fn outgoing(dir: &Path, summary: &BatchSummary) -> Result<Vec<Outgoing>, DeliverError> {
    let batch = &summary.batch_id;
    let listed = read_file_list(dir).map_err(|e| DeliverError::Refused {
        batch: batch.clone(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for entry in listed.iter().filter(|f| f.path != "rejects.csv") {
        let local = dir.join(&entry.path);
        let read = |source| DeliverError::Read {
            path: local.clone(),
            source,
        };
        let bytes = std::fs::metadata(&local).map_err(read)?.len();
        let found = file_sha256(&local).map_err(read)?;
        if found.as_str() != entry.sha256 {
            return Err(DeliverError::Tampered {
                batch: batch.clone(),
                file: entry.path.clone(),
                found: found.to_string(),
                listed: entry.sha256.clone(),
            });
        }
        out.push(Outgoing {
            remote: remote_name(batch, &entry.path),
            local,
            bytes,
            sha256: found,
        });
    }
    if !out.iter().any(|f| f.remote.ends_with(".manifest.csv")) {
        return Err(DeliverError::Refused {
            batch: batch.clone(),
            reason: "batch.json lists no manifest.csv".into(),
        });
    }
    Ok(out)
}

fn control_bytes(summary: &BatchSummary, files: &[Outgoing]) -> Vec<u8> {
    let control = Control {
        batch_id: &summary.batch_id,
        batch_date: summary.batch_date.to_string(),
        pieces: summary.letters,
        pages: summary.pages,
        sheets: summary.sheets,
        files: files
            .iter()
            .map(|f| ControlFile {
                name: &f.remote,
                bytes: f.bytes,
                sha256: f.sha256.as_str(),
            })
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&control).expect("plain data serialises");
    bytes.push(b'\n');
    bytes
}

/// The last finished hand-off of a list, for messages.
pub fn last_finished(deliveries: &[Delivery]) -> Option<&Delivery> {
    deliveries.iter().rev().find(|d| d.completed_at.is_some())
}

#[cfg(test)]
mod tests;
