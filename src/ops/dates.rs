//! Dates an operator types, checked against the clock.
//!
//! A batch date is printed on letters and starts the codes' validity, so a
//! typo can mail letters that expire too soon, too late, or never. The clock
//! decides what is plausible: a nightly run is dated within a week of today
//! unless the operator says the date is meant; a reissue is never dated ahead
//! of tomorrow unless forced (and recorded as forced); no date outside the
//! years a letter can carry is accepted at all.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::config::DEFAULT_TIME_ZONE;

/// The first and last years a letter may carry (an expiry date 90 days
/// later must still be an ordinary four-digit date).
pub const EARLIEST_YEAR: i32 = 2000;
pub const LATEST_YEAR: i32 = 2099;
/// A nightly run's batch date may be this many days before or after today
/// without `--allow-any-date`.
pub const RUN_DATE_WINDOW_DAYS: i64 = 7;
/// A reissue may be dated at most this many days after today without
/// `--force` (a letter printed late in the evening for the next morning).
pub const REISSUE_AHEAD_DAYS: i64 = 1;

/// What the clock says, read once at the edge and passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Now, for the reissue policy's real-time windows.
    pub now: DateTime<Utc>,
    /// Today's date in the agency's time zone, for batch-date checks.
    pub today: NaiveDate,
}

impl Clock {
    /// The system clock, today in the default agency time zone
    /// ([`DEFAULT_TIME_ZONE`]); commands that read agency.toml use
    /// [`Clock::in_zone`] with its `time_zone`.
    pub fn system() -> Clock {
        Clock::in_zone(DEFAULT_TIME_ZONE)
    }

    /// The system clock, today being the date in `zone` (the agency's), not
    /// the host's: a host in UTC would date a 01:30 run a day ahead.
    pub fn in_zone(zone: Tz) -> Clock {
        Clock::at(Utc::now(), zone)
    }

    /// The clock at `now`, today being the date in `zone`.
    pub fn at(now: DateTime<Utc>, zone: Tz) -> Clock {
        Clock {
            now,
            today: now.with_timezone(&zone).date_naive(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("'{text}' is not a date (use YYYY-MM-DD)")]
    NotADate { text: String },
    #[error("{date} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR} a letter can carry")]
    OutOfRange { date: NaiveDate },
    #[error(
        "the batch date {date} is {days} days {direction} today ({today}); a run is dated within \
{RUN_DATE_WINDOW_DAYS} days of today, unless any date is allowed: allow it if {date} is really meant"
    )]
    FarFromToday {
        date: NaiveDate,
        today: NaiveDate,
        days: i64,
        direction: &'static str,
    },
    #[error(
        "the date {date} is {days} days after today ({today}); a reissued letter is dated today \
or tomorrow: force it if it must carry {date} (recorded as forced)"
    )]
    AheadOfToday {
        date: NaiveDate,
        today: NaiveDate,
        days: i64,
    },
}

/// Reads a date typed as YYYY-MM-DD, within the years a letter can carry.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let date =
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| DateError::NotADate {
            text: text.to_string(),
        })?;
    check_years(date)?;
    Ok(date)
}

fn check_years(date: NaiveDate) -> Result<(), DateError> {
    if (EARLIEST_YEAR..=LATEST_YEAR).contains(&date.year()) {
        Ok(())
    } else {
        Err(DateError::OutOfRange { date })
    }
}

/// A nightly run's batch date: within [`RUN_DATE_WINDOW_DAYS`] of today,
/// unless `allow_any` (still within the years a letter can carry).
pub fn check_run_date(date: NaiveDate, today: NaiveDate, allow_any: bool) -> Result<(), DateError> {
    check_years(date)?;
    let days = (date - today).num_days();
    if allow_any || days.abs() <= RUN_DATE_WINDOW_DAYS {
        return Ok(());
    }
    Err(DateError::FarFromToday {
        date,
        today,
        days: days.abs(),
        direction: if days > 0 { "after" } else { "before" },
    })
}

/// A reissue's date: not after tomorrow unless `force`.
pub fn check_reissue_date(date: NaiveDate, today: NaiveDate, force: bool) -> Result<(), DateError> {
    check_years(date)?;
    let days = (date - today).num_days();
    if force || days <= REISSUE_AHEAD_DAYS {
        return Ok(());
    }
    Err(DateError::AheadOfToday { date, today, days })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn today_is_the_date_in_the_agency_zone_not_the_hosts() {
        // 01:30 in New York on 25 November is 06:30 UTC.
        let now: DateTime<Utc> = "2026-11-25T06:30:00Z".parse().unwrap();
        assert_eq!(
            Clock::at(now, chrono_tz::America::New_York).today,
            d("2026-11-25")
        );
        // 22:00 in New York on 24 November is already the 25th in UTC.
        let now: DateTime<Utc> = "2026-11-25T03:00:00Z".parse().unwrap();
        assert_eq!(
            Clock::at(now, chrono_tz::America::New_York).today,
            d("2026-11-24")
        );
        assert_eq!(Clock::at(now, chrono_tz::UTC).today, d("2026-11-25"));
        assert_eq!(Clock::at(now, DEFAULT_TIME_ZONE).now, now);
    }

    #[test]
    fn a_bad_date_is_a_sentence() {
        let e = parse_date("2026-02-30").unwrap_err();
        assert_eq!(e.to_string(), "'2026-02-30' is not a date (use YYYY-MM-DD)");
        assert!(parse_date("11/25/2026").is_err());
        assert_eq!(parse_date(" 2026-11-25 ").unwrap(), d("2026-11-25"));
    }

    #[test]
    fn dates_outside_the_years_a_letter_can_carry_are_refused() {
        assert!(matches!(
            parse_date("9999-12-31"),
            Err(DateError::OutOfRange { .. })
        ));
        assert!(parse_date("1999-12-31").is_err());
        assert!(check_run_date(d("9999-12-31"), d("2026-11-25"), true).is_err());
        assert!(check_reissue_date(d("9999-12-31"), d("2026-11-25"), true).is_err());
    }

    #[test]
    fn a_run_date_far_from_today_needs_the_override() {
        let today = d("2026-11-25");
        assert!(check_run_date(d("2026-12-02"), today, false).is_ok());
        assert!(check_run_date(d("2026-11-18"), today, false).is_ok());
        let e = check_run_date(d("2026-12-03"), today, false).unwrap_err();
        assert!(e.to_string().contains("8 days after today"), "{e}");
        assert!(e.to_string().contains("unless any date is allowed"), "{e}");
        assert!(!e.to_string().contains("--"), "the CLI names its flag: {e}");
        assert!(check_run_date(d("2026-11-17"), today, false).is_err());
        assert!(check_run_date(d("2027-06-01"), today, true).is_ok());
    }

    #[test]
    fn a_reissue_is_not_dated_after_tomorrow_unless_forced() {
        let today = d("2026-11-25");
        assert!(check_reissue_date(d("2026-11-26"), today, false).is_ok());
        assert!(check_reissue_date(d("2026-01-01"), today, false).is_ok());
        let e = check_reissue_date(d("2026-11-27"), today, false).unwrap_err();
        assert!(e.to_string().contains("force it"), "{e}");
        assert!(!e.to_string().contains("--"), "the CLI names its flag: {e}");
        assert!(check_reissue_date(d("2026-11-27"), today, true).is_ok());
    }
}
