//! Handing a finished batch to the print vendor, exactly once: the rules of
//! a hand-off (what goes, in which order, what is refused, how a killed run
//! resumes) are in [`handoff`]; the SFTP transport in [`sftp`].

mod handoff;
pub mod sftp;

pub use handoff::{
    control_name, deliver, last_finished, ready_name, remote_name, DeliverError, DeliverRequest,
    Delivered, Transport, Vendor,
};
pub use sftp::{SftpSession, SftpTarget, TransferError};

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
}
