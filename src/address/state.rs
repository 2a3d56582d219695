//! USPS state, territory and military codes, and the rule that military
//! mail (APO, FPO, DPO) goes with a military "state" (AA, AE, AP).

use super::FieldProblem;

/// The 50 states and the District of Columbia.
pub const STATE_CODES: [&str; 51] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
];

/// US territories and the freely associated states that the USPS serves
/// with domestic ZIP codes.
pub const TERRITORY_CODES: [&str; 8] = ["AS", "FM", "GU", "MH", "MP", "PR", "PW", "VI"];

/// Armed Forces Americas, Europe and Pacific.
pub const MILITARY_STATE_CODES: [&str; 3] = ["AA", "AE", "AP"];

/// The only "cities" military mail may carry.
pub const MILITARY_CITIES: [&str; 3] = ["APO", "FPO", "DPO"];

/// True for a USPS state, DC, territory, freely associated state or
/// military code, uppercase as printed (`CA`, `PR`, `AE`).
pub fn is_state_code(code: &str) -> bool {
    STATE_CODES.contains(&code)
        || TERRITORY_CODES.contains(&code)
        || MILITARY_STATE_CODES.contains(&code)
}

/// True for `AA`, `AE` and `AP`.
pub fn is_military_state(code: &str) -> bool {
    MILITARY_STATE_CODES.contains(&code)
}

/// The state cell, trimmed and uppercased, checked against the USPS codes
/// and against the (already normalised) city for military mail.
pub(super) fn check_state(raw: &str, city: &str) -> Result<String, FieldProblem> {
    let state = raw.trim().to_ascii_uppercase();
    if state.is_empty() {
        return Err(FieldProblem::new("state", "state is missing"));
    }
    if !is_state_code(&state) {
        let shown = super::shown(raw.trim());
        let reason = if shown.chars().count() > 2 {
            format!("state '{shown}' is not a two-letter USPS code (like CA, PR or AE)")
        } else {
            format!("state '{shown}' is not a USPS state, territory or military code")
        };
        return Err(FieldProblem::new("state", reason));
    }
    let military_city = MILITARY_CITIES.contains(&city);
    if is_military_state(&state) && !military_city {
        return Err(FieldProblem::new(
            "state",
            format!("military state code {state} needs city APO, FPO or DPO, not '{city}'"),
        ));
    }
    if military_city && !is_military_state(&state) {
        return Err(FieldProblem::new(
            "state",
            format!("city {city} is military mail and needs state AA, AE or AP, not {state}"),
        ));
    }
    Ok(state)
}
