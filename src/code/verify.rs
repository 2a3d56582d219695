//! Verification: is this typed code good for this receipt today?

use chrono::{DateTime, NaiveDate, Utc};
use subtle::ConstantTimeEq;

use super::fingerprint::{fingerprint, Fingerprint};
use super::typed::{parse_typed, TypedCodeError};
use crate::filing::IssuanceStatus;
use crate::key::KeyRing;

/// What verification needs to know about one past issuance: never the code,
/// only its keyed fingerprint and the key that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuanceView {
    pub issue_no: u32,
    pub key_id: String,
    /// The keyed fingerprint of the code (see [`crate::code`]).
    pub fingerprint: Fingerprint,
    pub status: IssuanceStatus,
    /// The letter's date: the code is not valid before it.
    pub notice_date: NaiveDate,
    pub expires_on: NaiveDate,
    /// When the code was redeemed, for a redeemed issuance.
    pub redeemed_at: Option<DateTime<Utc>>,
}

/// The answer to "is this typed code good for this receipt today?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The code of the active issuance, not yet expired.
    Valid { issue_no: u32 },
    /// The input is not a well-formed code; nothing was looked up.
    Mistyped(TypedCodeError),
    /// Well-formed, but not a code issued for this receipt.
    WrongCode,
    /// A code this receipt had, replaced by a newer letter.
    Superseded { issue_no: u32 },
    /// A code this receipt had, cancelled by an operator.
    Revoked { issue_no: u32 },
    /// The letter carrying the code came back as undeliverable, so the code
    /// was stopped: whoever holds that letter now is not the applicant.
    Returned { issue_no: u32 },
    /// The code was used: it linked the case to an account then, and works
    /// only once.
    Redeemed { issue_no: u32, on: DateTime<Utc> },
    /// The active code, asked about before its notice date (the date on the
    /// letter): a code cannot be good before the letter carrying it exists.
    NotValidYet {
        issue_no: u32,
        valid_from: NaiveDate,
    },
    /// The active code, past its last valid day.
    Expired {
        issue_no: u32,
        expired_on: NaiveDate,
    },
    /// No code was ever issued for this receipt.
    Unknown,
    /// The code matched nothing checkable, and an issuance was made under a
    /// key that is not loaded, so it may belong to that one.
    UnknownKey { key_id: String },
}

impl Verdict {
    /// True only for [`Verdict::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid { .. })
    }

    /// The sentence a support agent reads.
    pub fn message(&self) -> String {
        match self {
            Verdict::Valid { issue_no } => {
                format!("valid: this is the current code for this receipt (letter issue {issue_no})")
            }
            Verdict::Mistyped(e) => format!("mistyped: {e}"),
            Verdict::WrongCode => "wrong code: this is not a code issued for this receipt; check the receipt number and the code against the newest letter".into(),
            Verdict::Superseded { issue_no } => format!(
                "superseded: a newer code was mailed for this receipt; use the newest letter (this code is from letter issue {issue_no})"
            ),
            Verdict::Revoked { issue_no } => format!(
                "revoked: the code from letter issue {issue_no} was cancelled; the applicant needs a new letter"
            ),
            Verdict::Returned { issue_no } => format!(
                "returned: letter issue {issue_no} came back as undeliverable, so its code was stopped; the applicant needs a new letter at a corrected address"
            ),
            Verdict::Redeemed { issue_no, on } => format!(
                "used on {}: the code from letter issue {issue_no} already linked this case to an online account, and a code works only once",
                on.format("%Y-%m-%d")
            ),
            Verdict::NotValidYet { issue_no, valid_from } => format!(
                "not valid yet: this code is not valid before {valid_from} (the date of letter issue {issue_no}); check today's date, or wait until then"
            ),
            Verdict::Expired { issue_no, expired_on } => format!(
                "expired: the code from letter issue {issue_no} could be used until {expired_on}; the applicant needs a new letter"
            ),
            Verdict::Unknown => "unknown: no access code has been issued for this receipt number; check the receipt number".into(),
            Verdict::UnknownKey { key_id } => format!(
                "cannot check: a code for this receipt was issued under key '{key_id}', which is not loaded; load that key file and try again"
            ),
        }
    }
}

/// Checks a typed code against a receipt's issuances (the caller selects
/// them by receipt: a fingerprint binds a code to its key, not to the
/// receipt). Pure: the ledger rows, the keys and the date are passed in.
///
/// Each issuance is compared by fingerprinting the typed code under the key
/// that issuance names and comparing in constant time. A match decides the
/// verdict by the issuance's status (an active one before its
/// `notice_date` is not valid yet, one past `expires_on` is expired). An issuance under a key that is not loaded only matters when
/// nothing else matched: then the answer is [`Verdict::UnknownKey`], because
/// the code may be that issuance's.
pub fn verify(
    ring: &KeyRing,
    typed: &str,
    issuances: &[IssuanceView],
    today: NaiveDate,
) -> Verdict {
    let code = match parse_typed(typed) {
        Ok(code) => code,
        Err(e) => return Verdict::Mistyped(e),
    };
    if issuances.is_empty() {
        return Verdict::Unknown;
    }
    let mut missing_key: Option<&str> = None;
    for issuance in issuances {
        let Some(key) = ring.get(&issuance.key_id) else {
            missing_key.get_or_insert(&issuance.key_id);
            continue;
        };
        let typed_fp = fingerprint(key, &code);
        let stored = issuance.fingerprint.as_str().as_bytes();
        if !bool::from(typed_fp.as_str().as_bytes().ct_eq(stored)) {
            continue;
        }
        let issue_no = issuance.issue_no;
        return match issuance.status {
            IssuanceStatus::Active if today < issuance.notice_date => Verdict::NotValidYet {
                issue_no,
                valid_from: issuance.notice_date,
            },
            IssuanceStatus::Active if today > issuance.expires_on => Verdict::Expired {
                issue_no,
                expired_on: issuance.expires_on,
            },
            IssuanceStatus::Active => Verdict::Valid { issue_no },
            IssuanceStatus::Superseded => Verdict::Superseded { issue_no },
            IssuanceStatus::Revoked => Verdict::Revoked { issue_no },
            IssuanceStatus::Returned => Verdict::Returned { issue_no },
            IssuanceStatus::Redeemed => Verdict::Redeemed {
                issue_no,
                // A redeemed row always has its time (a CHECK on both
                // backends); the notice date stands in for a damaged one.
                on: issuance.redeemed_at.unwrap_or_else(|| {
                    issuance
                        .notice_date
                        .and_time(chrono::NaiveTime::MIN)
                        .and_utc()
                }),
            },
        };
    }
    match missing_key {
        Some(key_id) => Verdict::UnknownKey {
            key_id: key_id.to_string(),
        },
        None => Verdict::WrongCode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::test_support::{date, fixture_key, receipt, text};
    use crate::code::{derive, AccessCode};
    use crate::key::Key;

    fn issuance(
        key: &Key,
        code: &AccessCode,
        issue_no: u32,
        status: IssuanceStatus,
    ) -> IssuanceView {
        IssuanceView {
            issue_no,
            key_id: key.id().to_string(),
            fingerprint: fingerprint(key, code),
            status,
            notice_date: date(2026, 11, 25),
            expires_on: date(2027, 2, 23),
            redeemed_at: None,
        }
    }

    /// Issue 12, finding 7: a code verified as valid before its notice date.
    #[test]
    fn code_is_not_valid_before_its_notice_date() {
        let key = fixture_key();
        let ring = KeyRing::single(key.clone());
        let r = receipt(778);
        let code = derive(&key, &r, 1);
        let history = vec![issuance(&key, &code, 1, IssuanceStatus::Active)];
        let typed = code.reveal_for_letter();
        let on = |today| verify(&ring, &typed, &history, today);
        let day_before = on(date(2026, 11, 24));
        assert_eq!(
            day_before,
            Verdict::NotValidYet {
                issue_no: 1,
                valid_from: date(2026, 11, 25)
            }
        );
        assert!(!day_before.is_valid());
        assert!(day_before
            .message()
            .contains("this code is not valid before 2026-11-25"));
        assert_eq!(on(date(2026, 11, 25)), Verdict::Valid { issue_no: 1 });
        assert_eq!(on(date(2027, 2, 23)), Verdict::Valid { issue_no: 1 });
        // Before its notice date a superseded code is still just superseded.
        let old = vec![issuance(&key, &code, 1, IssuanceStatus::Superseded)];
        assert_eq!(
            verify(&ring, &typed, &old, date(2020, 1, 1)),
            Verdict::Superseded { issue_no: 1 }
        );
    }

    #[test]
    fn verify_returns_each_verdict() {
        let old_key = Key::from_parts("prod-old", [1; 32]).unwrap();
        let key = Key::from_parts("prod-new", [2; 32]).unwrap();
        let ring = KeyRing::new(key.clone(), vec![old_key.clone()]).unwrap();
        let r = receipt(777);
        let c1 = derive(&old_key, &r, 1);
        let c2 = derive(&key, &r, 2);
        let c3 = derive(&key, &r, 3);
        let history = vec![
            issuance(&old_key, &c1, 1, IssuanceStatus::Superseded),
            issuance(&key, &c2, 2, IssuanceStatus::Active),
        ];
        let before = date(2027, 2, 23);
        let after = date(2027, 2, 24);
        let v = |typed: &str, history: &[IssuanceView], today| verify(&ring, typed, history, today);

        assert_eq!(
            v(&c2.reveal_for_letter(), &history, before),
            Verdict::Valid { issue_no: 2 }
        );
        assert_eq!(
            v(&c2.reveal_for_letter().to_lowercase(), &history, after),
            Verdict::Expired {
                issue_no: 2,
                expired_on: date(2027, 2, 23)
            }
        );
        assert_eq!(
            v(&c1.reveal_for_letter(), &history, before),
            Verdict::Superseded { issue_no: 1 }
        );
        assert_eq!(
            v(&c3.reveal_for_letter(), &history, before),
            Verdict::WrongCode
        );
        // A code derived for the right issue but under the wrong key is wrong.
        assert_eq!(
            v(
                &derive(&old_key, &r, 2).reveal_for_letter(),
                &history,
                before
            ),
            Verdict::WrongCode
        );
        assert_eq!(v(&c2.reveal_for_letter(), &[], before), Verdict::Unknown);
        assert_eq!(
            v("", &history, before),
            Verdict::Mistyped(TypedCodeError::Empty)
        );
        let typo = {
            let mut t = c2.ascii();
            t.swap(0, 1);
            if t == c2.ascii() {
                t[0] = if t[0] == b'0' { b'1' } else { b'0' };
            }
            String::from_utf8(t.to_vec()).unwrap()
        };
        assert_eq!(
            v(&typo, &history, before),
            Verdict::Mistyped(TypedCodeError::CheckFailed)
        );

        let revoked = vec![issuance(&key, &c3, 3, IssuanceStatus::Revoked)];
        assert_eq!(
            v(&c3.reveal_for_letter(), &revoked, before),
            Verdict::Revoked { issue_no: 3 }
        );

        // Issued under a key that is not loaded: cannot say "wrong".
        let gone = Key::from_parts("prod-gone", [4; 32]).unwrap();
        let c4 = derive(&gone, &r, 4);
        let with_gone = vec![
            issuance(&key, &c2, 2, IssuanceStatus::Superseded),
            issuance(&gone, &c4, 4, IssuanceStatus::Active),
        ];
        assert_eq!(
            v(&c4.reveal_for_letter(), &with_gone, before),
            Verdict::UnknownKey {
                key_id: "prod-gone".into()
            }
        );
        // ...but a match under a loaded key still decides.
        assert_eq!(
            v(&c2.reveal_for_letter(), &with_gone, before),
            Verdict::Superseded { issue_no: 2 }
        );
        // Stored fingerprints in uppercase still match (read through the
        // one parser, which keeps them lowercase).
        let mut upper = history.clone();
        upper[1].fingerprint =
            Fingerprint::from_hex(upper[1].fingerprint.as_str().to_uppercase()).unwrap();
        assert_eq!(
            v(&c2.reveal_for_letter(), &upper, before),
            Verdict::Valid { issue_no: 2 }
        );
    }

    #[test]
    fn verdict_messages_start_with_the_verdict_word() {
        let cases = [
            (Verdict::Valid { issue_no: 2 }, "valid: "),
            (
                Verdict::Mistyped(TypedCodeError::CheckFailed),
                "mistyped: the code does not check out",
            ),
            (Verdict::WrongCode, "wrong code: "),
            (
                Verdict::Superseded { issue_no: 1 },
                "superseded: a newer code was mailed for this receipt; use the newest letter",
            ),
            (Verdict::Revoked { issue_no: 1 }, "revoked: "),
            (
                Verdict::Expired {
                    issue_no: 1,
                    expired_on: date(2027, 2, 23),
                },
                "expired: the code from letter issue 1 could be used until 2027-02-23",
            ),
            (
                Verdict::NotValidYet {
                    issue_no: 1,
                    valid_from: date(2026, 11, 25),
                },
                "not valid yet: this code is not valid before 2026-11-25",
            ),
            (Verdict::Unknown, "unknown: "),
            (
                Verdict::UnknownKey {
                    key_id: "prod-x".into(),
                },
                "cannot check: a code for this receipt was issued under key 'prod-x'",
            ),
        ];
        for (verdict, start) in cases {
            assert!(
                verdict.message().starts_with(start),
                "{}",
                verdict.message()
            );
            assert_eq!(verdict.is_valid(), matches!(verdict, Verdict::Valid { .. }));
        }
    }

    // ---- nothing prints a code -------------------------------------------

    #[test]
    fn debug_output_never_shows_a_code_or_secret() {
        let key = fixture_key();
        let ring = KeyRing::single(key.clone());
        let code = derive(&key, &receipt(5), 1);
        let grouped = code.reveal_for_letter();
        let bare = text(&code);
        let history = vec![issuance(&key, &code, 1, IssuanceStatus::Active)];
        let verdicts = [
            verify(&ring, &grouped, &history, date(2027, 1, 1)),
            verify(&ring, &grouped, &history, date(2028, 1, 1)),
            verify(&ring, &grouped[..13], &history, date(2027, 1, 1)),
            verify(
                &ring,
                &grouped.replacen('-', "U", 1),
                &history,
                date(2027, 1, 1),
            ),
        ];
        assert_eq!(format!("{code:?}"), "AccessCode(<redacted>)");
        let mut shown = vec![
            format!("{code:?}"),
            format!("{code:#?}"),
            format!("{key:?}"),
            format!("{ring:?}"),
        ];
        for verdict in &verdicts {
            shown.push(format!("{verdict:?}"));
            shown.push(verdict.message());
        }
        let secret_hex = "d9698b6bf16838f7";
        for s in &shown {
            assert!(!s.contains(&grouped) && !s.contains(&bare), "{s}");
            assert!(!s.contains(&bare[..6]) && !s.contains(&bare[6..]), "{s}");
            assert!(!s.contains(secret_hex), "{s}");
        }
    }
}
