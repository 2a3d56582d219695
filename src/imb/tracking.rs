//! Reading a barcode's digits back: the tracking code that USPS scan data
//! and vendor return files name a piece by.

/// The fields of a 20-digit tracking code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracking {
    pub barcode_id: String,
    pub service_type: String,
    /// 6 digits, or 9 digits starting with 9.
    pub mailer_id: String,
    pub serial: u64,
}

/// Digits of a tracking code.
const TRACKING_DIGITS: usize = 20;

/// Splits an IMb's digits (the 20-digit tracking code, optionally followed
/// by a routing code of 5, 9 or 11 digits, as IV-MTR and manifests list
/// them) into its fields. Says what is wrong otherwise.
pub fn parse_tracking(digits: &str) -> Result<Tracking, String> {
    let digits = digits.trim();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{digits}' is not an Intelligent Mail barcode: only digits are allowed"
        ));
    }
    if ![20, 25, 29, 31].contains(&digits.len()) {
        return Err(format!(
            "'{digits}' is not an Intelligent Mail barcode: it has {} digits, not 20 (tracking code) or 25, 29 or 31 (with the routing ZIP)",
            digits.len()
        ));
    }
    let tracking = &digits[..TRACKING_DIGITS];
    let mailer_len = if tracking.as_bytes()[5] == b'9' { 9 } else { 6 };
    let serial_at = 5 + mailer_len;
    Ok(Tracking {
        barcode_id: tracking[..2].to_string(),
        service_type: tracking[2..5].to_string(),
        mailer_id: tracking[5..serial_at].to_string(),
        // At most 9 digits: always fits.
        serial: tracking[serial_at..].parse().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imb::{encode, ImbFields};

    #[test]
    fn reads_back_what_the_encoder_prints_for_both_mailer_id_lengths() {
        for (mailer_id, serial) in [("123456", "000004711"), ("912345678", "004711")] {
            let barcode = encode(&ImbFields {
                barcode_id: "00".into(),
                service_type: "270".into(),
                mailer_id: mailer_id.into(),
                serial: serial.into(),
                routing: "900123456".into(),
            })
            .expect("encode");
            for digits in [barcode.tracking.clone(), barcode.digits()] {
                let t = parse_tracking(&digits).expect("parse");
                assert_eq!(t.mailer_id, mailer_id);
                assert_eq!(t.serial, 4711);
                assert_eq!(
                    (t.barcode_id.as_str(), t.service_type.as_str()),
                    ("00", "270")
                );
            }
        }
    }

    #[test]
    fn refuses_what_is_not_a_barcode() {
        assert!(parse_tracking("0027012345600000471")
            .unwrap_err()
            .contains("19 digits"));
        assert!(parse_tracking("0027012345600000471X")
            .unwrap_err()
            .contains("only digits"));
        assert!(parse_tracking("").is_err());
    }
}
