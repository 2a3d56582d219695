//! ZIP codes: their shapes, and the prefixes reserved for territories and
//! military mail, checked against the state both ways.

use super::FieldProblem;

/// Splits and checks a ZIP code: `12345`, `12345-6789` or `123456789`.
pub fn parse_zip(raw: &str) -> Result<(String, Option<String>), FieldProblem> {
    const FIELD: &str = "zip";
    let z = raw.trim();
    if z.is_empty() {
        return Err(FieldProblem::new(FIELD, "ZIP code is missing"));
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (zip5, zip4) = if digits(z, 5) {
        (z, None)
    } else if digits(z, 9) {
        (&z[..5], Some(&z[5..]))
    } else if let Some((a, b)) = z
        .split_once('-')
        .filter(|(a, b)| digits(a, 5) && digits(b, 4))
    {
        (a, Some(b))
    } else {
        let hint = if z.bytes().all(|b| b.is_ascii_digit()) && z.len() < 5 {
            "; a spreadsheet may have dropped a leading zero"
        } else {
            ""
        };
        return Err(FieldProblem::new(
            FIELD,
            format!(
                "ZIP '{}' is not 5 digits or ZIP+4 (like 12345-6789){hint}",
                super::shown(z)
            ),
        ));
    };
    if zip5 == "00000" {
        return Err(FieldProblem::new(FIELD, "ZIP 00000 is not a real ZIP code"));
    }
    if zip4 == Some("0000") {
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP+4 add-on 0000 in '{z}' is not assigned; leave the +4 out"),
        ));
    }
    Ok((zip5.to_string(), zip4.map(str::to_string)))
}

/// ZIP prefixes reserved for territories and military mail: (state, what
/// the prefix covers, 3-digit prefixes). American Samoa shares Hawaii's 967
/// and is matched on its single ZIP 96799 instead.
const RESERVED_PREFIXES: [(&str, &str, &[&str]); 10] = [
    (
        "PR",
        "Puerto Rico ZIPs start with 006, 007 or 009",
        &["006", "007", "009"],
    ),
    ("VI", "US Virgin Islands ZIPs start with 008", &["008"]),
    ("GU", "Guam ZIPs start with 969", &["969"]),
    (
        "MP",
        "Northern Mariana Islands ZIPs start with 969",
        &["969"],
    ),
    ("FM", "Micronesia ZIPs start with 969", &["969"]),
    ("MH", "Marshall Islands ZIPs start with 969", &["969"]),
    ("PW", "Palau ZIPs start with 969", &["969"]),
    ("AA", "military AA ZIPs start with 340", &["340"]),
    (
        "AE",
        "military AE ZIPs start with 090 to 098",
        &[
            "090", "091", "092", "093", "094", "095", "096", "097", "098",
        ],
    ),
    (
        "AP",
        "military AP ZIPs start with 962 to 966",
        &["962", "963", "964", "965", "966"],
    ),
];

const AMERICAN_SAMOA_ZIP: &str = "96799";

/// Territory and military ZIPs must match their state, both ways.
pub(super) fn check_state_zip(state: &str, zip5: &str) -> Result<(), FieldProblem> {
    const FIELD: &str = "zip";
    let prefix = &zip5[..3];
    if state == "AS" {
        if zip5 == AMERICAN_SAMOA_ZIP {
            return Ok(());
        }
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP {zip5} does not belong to AS (American Samoa's ZIP is 96799)"),
        ));
    }
    if zip5 == AMERICAN_SAMOA_ZIP {
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP 96799 is American Samoa's, but the state is {state}"),
        ));
    }
    if let Some((_, rule, prefixes)) = RESERVED_PREFIXES.iter().find(|(s, _, _)| *s == state) {
        if !prefixes.contains(&prefix) {
            return Err(FieldProblem::new(
                FIELD,
                format!("ZIP {zip5} does not belong to {state} ({rule})"),
            ));
        }
        return Ok(());
    }
    let owners: Vec<&str> = RESERVED_PREFIXES
        .iter()
        .filter(|(_, _, prefixes)| prefixes.contains(&prefix))
        .map(|(s, _, _)| *s)
        .collect();
    if !owners.is_empty() {
        return Err(FieldProblem::new(
            FIELD,
            format!(
                "ZIP {zip5} belongs to {}, but the state is {state}",
                owners.join(" or ")
            ),
        ));
    }
    Ok(())
}
