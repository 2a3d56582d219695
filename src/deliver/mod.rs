//! Handing a finished batch to the print vendor.

pub mod sftp;
