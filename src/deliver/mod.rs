//! Handing a finished batch to the print vendor, exactly once: the rules of
//! a hand-off (what goes, in which order, what is refused, how a killed run
//! resumes) are in `handoff`; the SFTP transport in [`sftp`].

mod handoff;
pub mod sftp;

pub use handoff::{
    control_name, deliver, last_finished, ready_name, remote_name, DeliverError, DeliverRequest,
    Delivered, Transport, Vendor,
};
pub use sftp::{check_remote_dir, SftpSession, SftpTarget, TransferError};

impl Transport for SftpSession {
    type Error = TransferError;

    fn remote_size(&mut self, name: &str) -> Result<Option<u64>, TransferError> {
        SftpSession::remote_size(self, name)
    }

    fn upload(
        &mut self,
        local: &std::path::Path,
        name: &str,
        rate: Option<u64>,
    ) -> Result<u64, TransferError> {
        SftpSession::upload(self, local, name, rate)
    }

    fn upload_bytes(&mut self, bytes: &[u8], name: &str) -> Result<u64, TransferError> {
        SftpSession::upload_bytes(self, bytes, name)
    }

    fn remove(&mut self, name: &str) -> Result<(), TransferError> {
        SftpSession::remove(self, name)
    }
}

/// The SFTP target and the vendor as recorded, from `[vendor]` (whose
/// `remote_dir` the configuration checked: absolute, without `..`).
pub fn vendor_of(v: &crate::config::Vendor) -> (SftpTarget, Vendor) {
    let dir = &v.remote_dir;
    let target = SftpTarget {
        host: v.host.clone(),
        port: v.port,
        user: v.user.clone(),
        key_file: v.key_file.clone(),
        known_hosts: v.known_hosts.clone(),
        remote_dir: v.remote_dir.clone(),
        timeout: std::time::Duration::from_secs(v.timeout_seconds.max(1)),
    };
    let vendor = Vendor {
        label: format!("{}@{}:{}{dir}", v.user, v.host, v.port),
        kind: v.kind,
    };
    (target, vendor)
}
