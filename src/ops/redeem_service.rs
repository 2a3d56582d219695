//! `redeem` at the service: the same check, spend and answer as
//! [`super::redeem()`], in the order the service needs them.
//!
//! The service lends ledger connections one call at a time, off the async
//! threads ([`LentLedger`]). On PostgreSQL a redemption runs whole on one
//! connection: the server already groups the commits of concurrent
//! connections. On SQLite every commit is a sync to disk, so the spend goes
//! to a group writer ([`GroupCommit`]) that commits many redemptions at
//! once: the code is checked on a lent connection, which goes back before
//! the spend waits for its group (so a group can hold more redemptions than
//! there are connections), and a code that stopped being live meanwhile is
//! answered on a lent connection again. An answer "redeemed" is never given
//! before its commit. The HTTP handler calls [`redeem_at_service`] and
//! sequences none of this.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::filing::ReceiptNumber;
use crate::key::KeyRing;
use crate::ledger::{
    AttemptLimit, GuessLimit, Guesser, Ledger, LedgerError, RedeemAsk, RedeemStep,
};

use super::redeem::{
    answer_of_step, finish_redeem, plan_redeem, redeem, AccountRef, RedeemAnswer, RedeemPlan,
    RedeemRequest,
};
use super::verify::{Door, Guessing};

/// The service's ledger: a connection lent for one call, off the async
/// threads, with the keys codes are checked against.
pub trait LentLedger {
    type Error;

    /// Runs `f` on a connection of its own.
    fn with<T, F>(&self, f: F) -> impl Future<Output = Result<T, Self::Error>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Ledger, &KeyRing) -> Result<T, LedgerError> + Send + 'static;
}

/// A writer that spends checked codes in groups, one commit for many
/// (SQLite's group commit); its answer comes after the commit.
pub trait GroupCommit {
    type Error;

    /// Spends `ask`'s code with the group committed next.
    fn spend(&self, ask: RedeemAsk)
        -> impl Future<Output = Result<RedeemStep, Self::Error>> + Send;
}

/// One redemption at the service, owned, so that each step can take it to
/// the connection it runs on. The code is never logged (no `Debug`).
#[derive(Clone)]
pub struct ServiceRedeem {
    pub receipt: ReceiptNumber,
    /// The code as typed; never stored, never printed.
    pub typed: String,
    pub account: AccountRef,
    /// The date validity is judged on, in the agency's time zone.
    pub as_of: NaiveDate,
    pub now: DateTime<Utc>,
    pub limit: AttemptLimit,
    pub door: Door,
    /// Who is guessing, and the limit on the one guessing.
    pub guesser: Guesser,
    pub guess: GuessLimit,
}

impl ServiceRedeem {
    fn request(&self) -> RedeemRequest<'_> {
        RedeemRequest {
            receipt: &self.receipt,
            typed: &self.typed,
            account: &self.account,
            as_of: self.as_of,
            now: self.now,
            limit: self.limit,
            door: self.door,
            guessing: Some(Guessing {
                guesser: &self.guesser,
                limit: self.guess,
            }),
        }
    }
}

/// Checks the typed code and spends its one use: whole on one lent
/// connection without a group writer, else checked on one, spent with the
/// writer's next group, answered from the writer's step (or, for a code
/// that stopped being live meanwhile, on a lent connection again).
pub async fn redeem_at_service<L, W>(
    ledger: &L,
    writer: Option<&W>,
    ask: ServiceRedeem,
) -> Result<RedeemAnswer, L::Error>
where
    L: LentLedger,
    W: GroupCommit<Error = L::Error>,
{
    let ask = Arc::new(ask);
    let Some(writer) = writer else {
        return ledger
            .with(move |l, ring| redeem(&ask.request(), ring, l))
            .await;
    };
    let asked = Arc::clone(&ask);
    let plan = ledger
        .with(move |l, ring| plan_redeem(&asked.request(), ring, l))
        .await?;
    let (issue_no, now) = match plan {
        RedeemPlan::Answered(answer) => return Ok(answer),
        RedeemPlan::Spend { issue_no, now } => (issue_no, now),
    };
    let step = writer
        .spend(RedeemAsk {
            receipt: ask.receipt.clone(),
            issue_no,
            account: ask.account.as_str().to_string(),
            now,
        })
        .await?;
    // Another account's code counts against the guesser: finish_redeem.
    let used = matches!(step, RedeemStep::UsedByAnother { .. });
    if let Some(answer) = answer_of_step(issue_no, &step).filter(|_| !used) {
        return Ok(answer);
    }
    ledger
        .with(move |l, _| finish_redeem(&ask.request(), issue_no, now, step, l))
        .await
}
