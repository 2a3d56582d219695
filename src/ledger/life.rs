//! A receipt's life, decided in one place: every change to a receipt's
//! codes (reissue, redeem, revoke, return, unlink; a wrong code counted by
//! a redemption) is decided here, by one pure function ([`decide`]) over
//! the receipt's state ([`Life`]), and applied by one runner
//! ([`change`]) that each backend drives inside its own write transaction.
//!
//! # The invariants
//!
//! Checked from the ledger alone, under any interleaving of commands and
//! doors (the randomized test in `tests/it/races.rs` runs them on both
//! backends):
//!
//! 1. **A receipt has at most one live code.** Schema: the partial unique
//!    index `issuances_one_active` (`WHERE status = 'active'`).
//! 2. **A receipt is linked to at most one account, ever, unless the desk
//!    records an unlink** (with its reason). A link is a redeemed issuance
//!    not unlinked. Schema: the partial unique index `issuances_one_link`
//!    (`WHERE status = 'redeemed' AND unlinked_at IS NULL`); rule: a
//!    redemption of a linked receipt by another account is refused.
//! 3. **A linked receipt is never reissued**, not even when forced, until
//!    it is unlinked ([`Refusal::Linked`]).
//! 4. **Every change is decided on the state read inside the write
//!    transaction that records it**, serialised per receipt on both
//!    backends: SQLite's write transaction (`BEGIN IMMEDIATE`); on
//!    PostgreSQL one transaction-scoped advisory lock on the receipt that
//!    every path takes ([`LifeStore::lock_and_read`]) before reading.
//! 5. **A write that finds the state changed under it is an error**
//!    ([`LedgerError::StateChanged`]), never a 0-row update that passes.
//! 6. **What a caller is told is what the ledger holds afterwards**: the
//!    answer is made from the decision the writes carried out, never from a
//!    read taken before the transaction.
//!
//! The backends hold SQL only ([`LifeStore`]): reading the state, moving a
//! row from `active` to an end, unlinking, inserting, counting an attempt.

use chrono::{DateTime, Utc};

use super::attempts::{AttemptKind, AttemptLimit, Gate};
use super::redeem::{redeem_action, RedeemAction, RedeemStep, Revocation};
use super::{check_next_issue, LedgerError, NewIssuance};
use crate::filing::{IssuanceStatus, ReceiptNumber};

/// One issuance of a receipt as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::ledger) struct Issue {
    pub issue_no: u32,
    pub status: IssuanceStatus,
    pub changed_at: Option<DateTime<Utc>>,
    /// When and by which account, once redeemed.
    pub redeemed: Option<(DateTime<Utc>, String)>,
    /// The desk removed the account link (a redeemed issuance only).
    pub unlinked: bool,
}

/// Every issuance of one receipt, by issue number, read inside the write
/// transaction that will record the change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::ledger) struct Life {
    pub issues: Vec<Issue>,
}

impl Life {
    fn latest(&self) -> Option<&Issue> {
        self.issues.iter().max_by_key(|i| i.issue_no)
    }

    fn active(&self) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.status == IssuanceStatus::Active)
    }

    /// The issuance that links the receipt to an account, if one does.
    fn link(&self) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.status == IssuanceStatus::Redeemed && !i.unlinked)
    }

    fn issue(&self, issue_no: u32) -> Option<&Issue> {
        self.issues.iter().find(|i| i.issue_no == issue_no)
    }
}

/// A change asked of one receipt.
#[derive(Clone, Copy, Debug)]
pub(in crate::ledger) enum Change<'a> {
    /// A new code: supersede the live one and record `row` as active.
    Reissue { row: &'a NewIssuance },
    /// The one use of issue `issue_no`'s code (already checked) by
    /// `account`, under the receipt's wrong-code limit when one is given
    /// (the CLI door: a locked receipt is refused, another account's try is
    /// counted against the receipt). Without one (the service), the one
    /// guessing is limited by the caller instead.
    Redeem {
        issue_no: u32,
        account: &'a str,
        limit: Option<AttemptLimit>,
    },
    /// The live code stops at once.
    Revoke { reason: &'a str },
    /// Issue `issue_no`'s letter came back undeliverable.
    Return { issue_no: u32, reason: &'a str },
    /// The desk removes the receipt's account link.
    Unlink { reason: &'a str },
}

/// How an active issuance ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::ledger) enum End<'a> {
    Superseded,
    Revoked { reason: &'a str },
    Returned { reason: &'a str },
    Redeemed { account: &'a str },
}

impl End<'_> {
    pub(in crate::ledger) fn status(self) -> IssuanceStatus {
        match self {
            End::Superseded => IssuanceStatus::Superseded,
            End::Revoked { .. } => IssuanceStatus::Revoked,
            End::Returned { .. } => IssuanceStatus::Returned,
            End::Redeemed { .. } => IssuanceStatus::Redeemed,
        }
    }
}

/// One write a decision asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::ledger) enum Write<'a> {
    /// Issue `issue_no`, which must still be active, ends.
    End { issue_no: u32, end: End<'a> },
    /// Record the reissue's row as active.
    Insert,
    /// Issue `issue_no`, which must still be linked, is unlinked.
    Unlink { issue_no: u32, reason: &'a str },
    /// Count a wrong code against the limit.
    CountWrong,
}

/// Why a change is refused (nothing is written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::ledger) enum Refusal {
    /// A reissue of a receipt linked to an account (by issue `issue_no`).
    Linked { issue_no: u32, at: DateTime<Utc> },
    /// No such issuance.
    NoSuchIssuance { issue_no: u32 },
}

/// What a change did, as its caller is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A reissue recorded; the issue that was live and is now superseded.
    Reissued {
        superseded: Option<u32>,
    },
    Redeem(RedeemStep),
    Revoke(Revocation),
    Return(ReturnStep),
    Unlink(Unlinking),
}

impl Answer {
    /// A change answered with another change's answer: a program error,
    /// said as one rather than a panic.
    fn mismatch(self, label: &str) -> LedgerError {
        LedgerError::Damaged {
            ledger: label.to_string(),
            detail: format!("a change was answered with {self:?}; this is a program error"),
        }
    }

    /// A redemption's step.
    pub(in crate::ledger) fn into_redeem(self, label: &str) -> Result<RedeemStep, LedgerError> {
        match self {
            Answer::Redeem(step) => Ok(step),
            other => Err(other.mismatch(label)),
        }
    }

    /// A revocation's outcome.
    pub(in crate::ledger) fn into_revoke(self, label: &str) -> Result<Revocation, LedgerError> {
        match self {
            Answer::Revoke(r) => Ok(r),
            other => Err(other.mismatch(label)),
        }
    }

    /// An unlink's outcome.
    pub(in crate::ledger) fn into_unlink(self, label: &str) -> Result<Unlinking, LedgerError> {
        match self {
            Answer::Unlink(u) => Ok(u),
            other => Err(other.mismatch(label)),
        }
    }

    /// The issue a reissue superseded, if one was live.
    pub(in crate::ledger) fn into_superseded(
        self,
        label: &str,
    ) -> Result<Option<u32>, LedgerError> {
        match self {
            Answer::Reissued { superseded } => Ok(superseded),
            other => Err(other.mismatch(label)),
        }
    }
}

/// What a returned letter did to its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnStep {
    /// The code was live and is stopped now.
    Stopped,
    /// The code had already been redeemed: someone the letter never reached
    /// used it. Flagged (`status`, `status --mail`, the report, metrics).
    AfterRedeemed,
    /// The code had already stopped otherwise (superseded, revoked,
    /// returned before).
    AlreadyStopped { status: IssuanceStatus },
}

/// What an unlink did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unlinking {
    /// Issue `issue_no`'s account link is removed as of `at`.
    Unlinked { issue_no: u32, at: DateTime<Utc> },
    /// No account is linked to the receipt.
    NotLinked,
}

/// What to write, and what the caller is told once the writes are done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::ledger) struct Decision<'a> {
    pub writes: Vec<Write<'a>>,
    pub plan: Plan,
}

/// The answer to give, before the writes fill in what only they know
/// (the time, a counted wrong code's gate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::ledger) enum Plan {
    Reissued { superseded: Option<u32> },
    Redeem(RedeemAction),
    Revoke(Revocation),
    Return(ReturnStep),
    Unlink(Unlinking),
}

/// The rule: what `change` does to a receipt in state `life` at `now`.
pub(in crate::ledger) fn decide<'a>(
    life: &Life,
    change: Change<'a>,
    now: DateTime<Utc>,
) -> Result<Decision<'a>, Refusal> {
    let one = |writes: Vec<Write<'a>>, plan| Ok(Decision { writes, plan });
    match change {
        Change::Reissue { .. } => decide_reissue(life, now),
        Change::Redeem {
            issue_no, account, ..
        } => decide_redeem(life, issue_no, account),
        Change::Revoke { reason } => match (life.active(), life.latest()) {
            (Some(active), _) => one(
                vec![Write::End {
                    issue_no: active.issue_no,
                    end: End::Revoked { reason },
                }],
                Plan::Revoke(Revocation::Revoked {
                    issue_no: active.issue_no,
                    at: now,
                }),
            ),
            (None, Some(latest)) => one(
                vec![],
                Plan::Revoke(Revocation::NothingLive {
                    issue_no: latest.issue_no,
                    status: latest.status,
                    since: latest.changed_at,
                }),
            ),
            (None, None) => one(vec![], Plan::Revoke(Revocation::NeverIssued)),
        },
        Change::Return { issue_no, reason } => {
            let issue = life
                .issue(issue_no)
                .ok_or(Refusal::NoSuchIssuance { issue_no })?;
            match issue.status {
                IssuanceStatus::Active => one(
                    vec![Write::End {
                        issue_no,
                        end: End::Returned { reason },
                    }],
                    Plan::Return(ReturnStep::Stopped),
                ),
                IssuanceStatus::Redeemed => one(vec![], Plan::Return(ReturnStep::AfterRedeemed)),
                status => one(vec![], Plan::Return(ReturnStep::AlreadyStopped { status })),
            }
        }
        Change::Unlink { reason } => match life.link() {
            Some(link) => one(
                vec![Write::Unlink {
                    issue_no: link.issue_no,
                    reason,
                }],
                Plan::Unlink(Unlinking::Unlinked {
                    issue_no: link.issue_no,
                    at: now,
                }),
            ),
            None => one(vec![], Plan::Unlink(Unlinking::NotLinked)),
        },
    }
}

/// A reissue: refused while an account is linked to the receipt; the live
/// code, if any, is superseded by the new issue.
fn decide_reissue<'a>(life: &Life, now: DateTime<Utc>) -> Result<Decision<'a>, Refusal> {
    if let Some(link) = life.link() {
        let at = link.redeemed.as_ref().map_or(now, |(at, _)| *at);
        return Err(Refusal::Linked {
            issue_no: link.issue_no,
            at,
        });
    }
    let superseded = life.active().map(|i| i.issue_no);
    let mut writes: Vec<Write<'a>> = superseded
        .map(|issue_no| Write::End {
            issue_no,
            end: End::Superseded,
        })
        .into_iter()
        .collect();
    writes.push(Write::Insert);
    Ok(Decision {
        writes,
        plan: Plan::Reissued { superseded },
    })
}

/// A redemption: only a live code of a receipt no other account is linked
/// to is marked; the account already linked hears its redemption again.
fn decide_redeem<'a>(
    life: &Life,
    issue_no: u32,
    account: &'a str,
) -> Result<Decision<'a>, Refusal> {
    let issue = life
        .issue(issue_no)
        .ok_or(Refusal::NoSuchIssuance { issue_no })?;
    let link = life
        .link()
        .and_then(|l| l.redeemed.clone().map(|(at, by)| (l.issue_no, at, by)));
    let action = match link {
        // This code made the link: its account hears the redemption
        // again, anyone else is counted as a wrong code.
        Some((linked, at, by)) if linked == issue_no => match by == account {
            true => RedeemAction::Again(at),
            false => RedeemAction::Other(at),
        },
        // Linked through another code: another account is counted as a
        // wrong code; the linked account is told this code is not live
        // (never "redeemed" for an issuance it did not redeem).
        Some((_, at, by)) if by != account => RedeemAction::Other(at),
        Some(_) => RedeemAction::NotLive(issue.status),
        // A code redeemed once and then unlinked by the desk stays used.
        None if issue.unlinked => RedeemAction::NotLive(IssuanceStatus::Redeemed),
        None => redeem_action(
            issue.status,
            issue.redeemed.as_ref().map(|(at, by)| (*at, by.as_str())),
            account,
        ),
    };
    let writes = match action {
        RedeemAction::Mark => vec![Write::End {
            issue_no,
            end: End::Redeemed { account },
        }],
        RedeemAction::Other(_) => vec![Write::CountWrong],
        RedeemAction::Again(_) | RedeemAction::NotLive(_) => vec![],
    };
    Ok(Decision {
        writes,
        plan: Plan::Redeem(action),
    })
}

/// The SQL a backend runs for [`change`], inside one write transaction it
/// opened and will commit.
pub(in crate::ledger) trait LifeStore {
    /// The ledger as named in messages.
    fn label(&self) -> &str;

    /// Takes the receipt's serialisation (PostgreSQL: its advisory lock,
    /// the one every path takes; SQLite: the write transaction already
    /// holds it), then reads every issuance of the receipt.
    fn lock_and_read(&mut self, receipt: &ReceiptNumber) -> Result<Life, LedgerError>;

    /// Moves issue `issue_no` from `active` to `end`; the number of rows
    /// changed (0 when it was no longer active).
    fn end(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        end: End<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, LedgerError>;

    /// Unlinks issue `issue_no` (redeemed, linked); rows changed.
    fn unlink(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, LedgerError>;

    /// Inserts `row` as active.
    fn insert(&mut self, row: &NewIssuance, now: DateTime<Utc>) -> Result<(), LedgerError>;

    /// Decides and records one attempt against the wrong-code limit.
    fn gate(
        &mut self,
        receipt: &ReceiptNumber,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<Gate, LedgerError>;
}

/// Reads the receipt's state under its lock, decides `change`, and writes
/// what was decided, each write checked. The caller commits on `Ok` and
/// rolls back on `Err`.
pub(in crate::ledger) fn change(
    store: &mut dyn LifeStore,
    receipt: &ReceiptNumber,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, LedgerError> {
    let life = store.lock_and_read(receipt)?;
    if let Change::Reissue { row } = change {
        let max = life.issues.iter().map(|i| i.issue_no).max();
        check_next_issue(store.label(), row, max)?;
    }
    let limit = match change {
        Change::Redeem { limit, .. } => limit,
        _ => None,
    };
    if let Some(limit) = limit {
        let open = store.gate(receipt, AttemptKind::NotCounted, now, limit)?;
        if let Gate::Locked { until } = open {
            return Ok(Answer::Redeem(RedeemStep::Locked { until }));
        }
    }
    let decision = decide(&life, change, now).map_err(|r| refusal(store.label(), receipt, r))?;
    let mut gate = None;
    for write in &decision.writes {
        match *write {
            Write::End { issue_no, end } => {
                let changed = store.end(receipt, issue_no, end, now)?;
                expect_one(store.label(), receipt, changed, issue_no, end.status())?;
            }
            Write::Unlink { issue_no, reason } => {
                let changed = store.unlink(receipt, issue_no, reason, now)?;
                expect_one(
                    store.label(),
                    receipt,
                    changed,
                    issue_no,
                    IssuanceStatus::Redeemed,
                )?;
            }
            Write::Insert => {
                if let Change::Reissue { row } = change {
                    store.insert(row, now)?;
                }
            }
            Write::CountWrong => {
                gate = Some(match limit {
                    Some(limit) => store.gate(receipt, AttemptKind::Wrong, now, limit)?,
                    // Counted against the guesser by the caller.
                    None => Gate::Open {
                        wrong_in_window: 0,
                        locked_until: None,
                    },
                });
            }
        }
    }
    Ok(match decision.plan {
        Plan::Reissued { superseded } => Answer::Reissued { superseded },
        Plan::Redeem(action) => Answer::Redeem(action.step(now, gate)),
        Plan::Revoke(r) => Answer::Revoke(r),
        Plan::Return(r) => Answer::Return(r),
        Plan::Unlink(u) => Answer::Unlink(u),
    })
}

/// A write that changed no row found the state changed under it.
fn expect_one(
    label: &str,
    receipt: &ReceiptNumber,
    changed: u64,
    issue_no: u32,
    to: IssuanceStatus,
) -> Result<(), LedgerError> {
    if changed == 1 {
        return Ok(());
    }
    Err(LedgerError::StateChanged {
        ledger: label.to_string(),
        receipt: receipt.clone(),
        issue_no,
        to: to.as_str(),
    })
}

fn refusal(label: &str, receipt: &ReceiptNumber, refusal: Refusal) -> LedgerError {
    match refusal {
        Refusal::Linked { issue_no, at } => LedgerError::Linked {
            receipt: receipt.clone(),
            issue_no,
            at,
        },
        Refusal::NoSuchIssuance { issue_no } => LedgerError::NoSuchIssuance {
            ledger: label.to_string(),
            receipt: receipt.clone(),
            issue_no,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn issue(issue_no: u32, status: IssuanceStatus) -> Issue {
        Issue {
            issue_no,
            status,
            changed_at: None,
            redeemed: None,
            unlinked: false,
        }
    }

    fn redeemed(issue_no: u32, by: &str) -> Issue {
        Issue {
            redeemed: Some((at("2026-12-01T10:00:00Z"), by.to_string())),
            ..issue(issue_no, IssuanceStatus::Redeemed)
        }
    }

    fn now() -> DateTime<Utc> {
        at("2026-12-02T10:00:00Z")
    }

    fn redeem(issue_no: u32, account: &str) -> Change<'_> {
        Change::Redeem {
            issue_no,
            account,
            limit: Some(AttemptLimit {
                max_wrong: 5,
                window: chrono::TimeDelta::minutes(10),
            }),
        }
    }

    #[test]
    fn a_redemption_links_once_and_only_its_account_hears_success_again() {
        let life = Life {
            issues: vec![issue(1, IssuanceStatus::Active)],
        };
        let d = decide(&life, redeem(1, "a"), now()).unwrap();
        assert_eq!(d.plan, Plan::Redeem(RedeemAction::Mark));
        // Linked by issue 1; a stray live issue 2 (an old ledger) is not
        // redeemable by anyone else.
        let life = Life {
            issues: vec![redeemed(1, "a"), issue(2, IssuanceStatus::Active)],
        };
        let other = decide(&life, redeem(2, "b"), now()).unwrap();
        assert_eq!(other.writes, vec![Write::CountWrong]);
        let same = decide(&life, redeem(2, "a"), now()).unwrap();
        assert!(same.writes.is_empty());
        // The linked account typing an older, used code of the receipt is
        // told it is not live, never "redeemed" (found by tests/it/races.rs).
        let mut relinked = Life {
            issues: vec![redeemed(1, "a"), redeemed(2, "b")],
        };
        relinked.issues[0].unlinked = true;
        let old = decide(&relinked, redeem(1, "b"), now()).unwrap();
        assert_eq!(
            old.plan,
            Plan::Redeem(RedeemAction::NotLive(IssuanceStatus::Redeemed))
        );
        let again = decide(&relinked, redeem(2, "b"), now()).unwrap();
        assert!(matches!(again.plan, Plan::Redeem(RedeemAction::Again(_))));
    }

    #[test]
    fn unlink_removes_the_link_and_an_unlinked_code_stays_used() {
        let linked = Life {
            issues: vec![redeemed(1, "a")],
        };
        let refused = decide(&linked, Change::Unlink { reason: "x" }, now()).unwrap();
        assert_eq!(
            refused.writes,
            vec![Write::Unlink {
                issue_no: 1,
                reason: "x"
            }]
        );
        let mut unlinked = linked.clone();
        unlinked.issues[0].unlinked = true;
        let again = decide(&unlinked, redeem(1, "a"), now()).unwrap();
        assert_eq!(
            again.plan,
            Plan::Redeem(RedeemAction::NotLive(IssuanceStatus::Redeemed))
        );
        let none = decide(&unlinked, Change::Unlink { reason: "x" }, now()).unwrap();
        assert_eq!(none.plan, Plan::Unlink(Unlinking::NotLinked));
    }

    #[test]
    fn a_return_after_a_redemption_is_flagged_and_writes_nothing() {
        let life = Life {
            issues: vec![redeemed(1, "a")],
        };
        let d = decide(
            &life,
            Change::Return {
                issue_no: 1,
                reason: "r",
            },
            now(),
        )
        .unwrap();
        assert_eq!(d.plan, Plan::Return(ReturnStep::AfterRedeemed));
        assert!(d.writes.is_empty());
        let live = Life {
            issues: vec![issue(1, IssuanceStatus::Active)],
        };
        let d = decide(
            &live,
            Change::Return {
                issue_no: 1,
                reason: "r",
            },
            now(),
        )
        .unwrap();
        assert_eq!(d.plan, Plan::Return(ReturnStep::Stopped));
    }

    #[test]
    fn revoking_ends_only_the_live_code() {
        let life = Life {
            issues: vec![
                issue(1, IssuanceStatus::Superseded),
                issue(2, IssuanceStatus::Active),
            ],
        };
        let d = decide(&life, Change::Revoke { reason: "stolen" }, now()).unwrap();
        assert_eq!(
            d.writes,
            vec![Write::End {
                issue_no: 2,
                end: End::Revoked { reason: "stolen" }
            }]
        );
        let none = decide(&Life::default(), Change::Revoke { reason: "x" }, now()).unwrap();
        assert_eq!(none.plan, Plan::Revoke(Revocation::NeverIssued));
    }
}
