//! Operator and portal commands as library functions: reissue, reprint,
//! verify, redeem, revoke, unlink, preview.
//!
//! Each takes plain values (a request, the keys, the renderer, the ledger and,
//! where policy needs it, the [`Clock`]) and returns what it did or a typed
//! error that is a sentence for the operator. The CLI only parses flags,
//! calls one of these and prints; the policy lives here, where it can be
//! tested without a process and reused by another front end.
//!
//! This is the last library stage: it may use every stage before it
//! (intake, issue, ledger, batch, manifest), and nothing but the CLI uses it.

pub mod audit;
pub mod dates;
pub mod history;
pub mod preview;
pub mod redeem;
pub mod redeem_service;
pub mod reissue;
pub mod reprint;
pub mod revoke;
pub mod status;
pub mod test_key;
pub mod unlink;
pub mod verify;

pub use audit::{audit, Audit, AuditError};
pub use dates::{Clock, DateError};
pub use history::{receipt_history, ReceiptHistory};
pub use preview::{preview, PreviewError, PreviewRequest, Previewed};
pub use redeem::{
    answer_of_step, finish_redeem, plan_redeem, redeem, AccountRef, AccountRefError, RedeemAnswer,
    RedeemPlan, RedeemRequest,
};
pub use redeem_service::{redeem_at_service, GroupCommit, LentLedger, ServiceRedeem};
pub use reissue::{reissue, ReissueError, ReissueRequest, Reissued};
pub use reprint::{reprint, ReprintError, ReprintRequest, Reprinted};
pub use revoke::{revoke, RevokeError, RevokeRequest, Revoked};
pub use status::history_table;
pub use test_key::builtin_test_key;
pub use unlink::{unlink, UnlinkError, UnlinkRequest, Unlinked};
pub use verify::{attempt_limit, guess_limit, verify_code, Answer, Door, Guessing, VerifyRequest};

/// Rendering threads per core at most: more only adds memory and switching.
pub const MAX_JOBS_PER_CORE: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the number of rendering threads must be between 1 and {max} ({MAX_JOBS_PER_CORE} per core on this machine's {cores} cores), not {jobs}")]
pub struct JobsError {
    pub jobs: usize,
    pub max: usize,
    pub cores: usize,
}

/// Checks a thread count against the machine: between 1 and
/// [`MAX_JOBS_PER_CORE`] times `cores`.
pub fn check_jobs(jobs: usize, cores: usize) -> Result<usize, JobsError> {
    let max = MAX_JOBS_PER_CORE * cores.max(1);
    if (1..=max).contains(&jobs) {
        Ok(jobs)
    } else {
        Err(JobsError { jobs, max, cores })
    }
}

/// The number of cores the process may use (1 when it cannot be told).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_bounded_by_the_cores() {
        assert_eq!(check_jobs(1, 2), Ok(1));
        assert_eq!(check_jobs(8, 2), Ok(8));
        let e = check_jobs(9, 2).unwrap_err();
        assert!(e.to_string().contains("between 1 and 8"), "{e}");
        assert!(check_jobs(0, 2).is_err());
        assert!(check_jobs(100_000, 2).is_err());
    }
}
