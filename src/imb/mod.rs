//! USPS Intelligent Mail barcode (IMb) encoder, after specification USPS-B-3200.
//!
//! An IMb carries a 20-digit *tracking code* (barcode ID, service type ID, mailer ID and
//! serial number) and an optional *routing code* (the delivery-point ZIP: 0, 5, 9 or 11
//! digits) in 65 bars of four kinds: full, ascender, descender and tracker. The encoder
//! follows the specification's steps exactly:
//!
//! 1. the routing code and the tracking digits become one integer below 2^102 (the
//!    routing code's length is folded in by an offset, so "01234" and "000001234" differ);
//! 2. an 11-bit CRC (frame check sequence) is taken over that integer's 13 big-endian bytes;
//! 3. the integer is split into ten codewords (one in base 636, nine in base 1365); the
//!    last codeword is doubled (orientation) and the first carries the CRC's top bit;
//! 4. each codeword picks a 13-bit character from the 5-of-13 or 2-of-13 table (generated
//!    here by the specification's own rule, at compile time), and the other ten CRC bits
//!    invert chosen characters;
//! 5. the 130 character bits are spread over the 65 bars by the specification's Table 22:
//!    each bar takes one bit for its descender half and one for its ascender half.
//!
//! Guarantees: [`encode`] is a pure function; it never panics; every accepted input yields
//! exactly 65 bars; different inputs yield different bars (every step above is one-to-one),
//! which the tests check against the four published USPS examples and by property tests.
//! Invalid fields are refused with an [`ImbError`] that names the field and the rule.
//!
//! The module also fixes the printed geometry (nominal dimensions, in inches) so that a
//! renderer can draw each bar as a rectangle: see [`bar_extent`] and [`bar_left_in`].

use std::fmt;

mod steps;
mod tracking;
pub use tracking::{parse_tracking, Tracking};
#[cfg(test)]
mod tests;

use steps::{bars_for, to_binary};

/// Bars in every Intelligent Mail barcode.
pub const BAR_COUNT: usize = 65;

/// Nominal bar width: 0.020 in. USPS-B-3200 allows 0.015–0.025 in (0.020 ± 0.005).
pub const BAR_WIDTH_IN: f64 = 0.020;

/// Nominal bar pitch (left edge to left edge): 22 bars per inch, 1/22 ≈ 0.0455 in.
/// USPS-B-3200 allows 20–24 bars per inch (pitch 0.0417–0.050 in).
pub const BAR_PITCH_IN: f64 = 1.0 / 22.0;

/// Nominal height of a full bar, which is also the height of the whole bar field:
/// 0.145 in. USPS-B-3200 allows 0.125–0.165 in.
pub const FULL_BAR_HEIGHT_IN: f64 = 0.145;

/// Nominal height of a tracker (the short centre bar): 0.048 in. USPS-B-3200 allows
/// 0.039–0.057 in. The tracker is centred in the bar field.
pub const TRACKER_HEIGHT_IN: f64 = 0.048;

/// Height of the bar field below the tracker: the tracker is centred, so this is half of
/// what the full bar has beyond the tracker (0.0485 in nominal).
pub const TRACKER_BOTTOM_IN: f64 = (FULL_BAR_HEIGHT_IN - TRACKER_HEIGHT_IN) / 2.0;

/// Nominal length of an ascender or a descender: 0.0965 in. It follows from the two
/// heights above, because an ascender runs from the tracker's lower edge to the top of the
/// field and a descender from the bottom of the field to the tracker's upper edge; at the
/// specification's extremes it spans about 0.082–0.111 in. Measured from the bottom of the
/// bar field, this is also where a descender ends.
pub const ASCENDER_HEIGHT_IN: f64 = TRACKER_BOTTOM_IN + TRACKER_HEIGHT_IN;

/// Clear zone to the left and to the right of the bars: at least 0.125 in (1/8 in), free
/// of any printing or window edge (USPS-B-3200; DMM 202.5).
pub const CLEAR_ZONE_HORIZONTAL_IN: f64 = 0.125;

/// Clear zone above and below the bars: at least 0.028 in for an IMb (USPS-B-3200;
/// DMM 202.5). The larger 0.040 in figure in the DMM belongs to the retired POSTNET code.
pub const CLEAR_ZONE_VERTICAL_IN: f64 = 0.028;

/// Overall length of the printed bars at the nominal pitch and width: 64 pitches plus one
/// bar, ≈ 2.929 in. Must lie within [`BARCODE_LENGTH_MIN_IN`]..=[`BARCODE_LENGTH_MAX_IN`].
pub const BARCODE_LENGTH_IN: f64 = (BAR_COUNT - 1) as f64 * BAR_PITCH_IN + BAR_WIDTH_IN;

/// Shortest overall length USPS-B-3200 allows: 2.667 in.
pub const BARCODE_LENGTH_MIN_IN: f64 = 2.667;

/// Longest overall length USPS-B-3200 allows: 3.225 in.
pub const BARCODE_LENGTH_MAX_IN: f64 = 3.225;

// The nominal geometry must itself be printable: bars separated, length within limits.
const _: () = assert!(BAR_WIDTH_IN < BAR_PITCH_IN, "bars would touch");
const _: () = assert!(
    BARCODE_LENGTH_IN >= BARCODE_LENGTH_MIN_IN && BARCODE_LENGTH_IN <= BARCODE_LENGTH_MAX_IN,
    "nominal length outside USPS-B-3200 limits"
);

/// The four bar shapes, in the letters USPS uses for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarKind {
    /// `F`: spans the whole bar field.
    Full,
    /// `A`: tracker plus the upper part.
    Ascender,
    /// `D`: tracker plus the lower part.
    Descender,
    /// `T`: the short centre part only.
    Tracker,
}

impl BarKind {
    /// The USPS letter for this bar: F, A, D or T.
    pub fn letter(self) -> char {
        match self {
            BarKind::Full => 'F',
            BarKind::Ascender => 'A',
            BarKind::Descender => 'D',
            BarKind::Tracker => 'T',
        }
    }

    /// The bar for a USPS letter, or `None` for any other character.
    pub fn from_letter(letter: char) -> Option<Self> {
        match letter {
            'F' => Some(BarKind::Full),
            'A' => Some(BarKind::Ascender),
            'D' => Some(BarKind::Descender),
            'T' => Some(BarKind::Tracker),
            _ => None,
        }
    }

    pub(super) fn from_halves(ascender: bool, descender: bool) -> Self {
        match (ascender, descender) {
            (true, true) => BarKind::Full,
            (true, false) => BarKind::Ascender,
            (false, true) => BarKind::Descender,
            (false, false) => BarKind::Tracker,
        }
    }
}

/// Vertical extent `(bottom_in, top_in)` of a bar at nominal size, in inches above the
/// bottom of the bar field (the bottom of a full bar). Draw bar `i` as the rectangle
/// from `bar_left_in(i)` to `bar_left_in(i) + BAR_WIDTH_IN` across this extent.
pub fn bar_extent(kind: BarKind) -> (f64, f64) {
    let tracker_top = TRACKER_BOTTOM_IN + TRACKER_HEIGHT_IN;
    match kind {
        BarKind::Full => (0.0, FULL_BAR_HEIGHT_IN),
        BarKind::Ascender => (TRACKER_BOTTOM_IN, FULL_BAR_HEIGHT_IN),
        BarKind::Descender => (0.0, tracker_top),
        BarKind::Tracker => (TRACKER_BOTTOM_IN, tracker_top),
    }
}

/// Left edge of bar `index` (0 = leftmost, the specification's bar 1), in inches from the
/// left edge of the first bar, at the nominal pitch.
pub fn bar_left_in(index: usize) -> f64 {
    index as f64 * BAR_PITCH_IN
}

/// The fields of an Intelligent Mail barcode, as decimal digit strings (leading zeros kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImbFields {
    /// Barcode identifier: 2 digits, the second 0-4 (usually "00").
    pub barcode_id: String,
    /// Service type identifier (STID): 3 digits.
    pub service_type: String,
    /// Mailer ID: 6 digits (not starting with 9), or 9 digits starting with 9.
    pub mailer_id: String,
    /// Serial number: 9 digits with a 6-digit mailer ID, 6 digits with a 9-digit one.
    pub serial: String,
    /// Delivery-point routing code: empty, or a 5-digit ZIP, ZIP+4 (9) or ZIP+4+delivery
    /// point (11), without hyphen.
    pub routing: String,
}

/// An encoded barcode: its digits and its 65 bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    /// The 20-digit tracking code: barcode ID, service type, mailer ID, serial number.
    pub tracking: String,
    /// The routing code as given: empty, 5, 9 or 11 digits.
    pub routing: String,
    /// The 65 bars from left to right, as the letters F, A, D and T.
    pub bars: String,
}

impl Barcode {
    /// The bars from left to right. Letters other than F, A, D, T (possible only if `bars`
    /// was edited after encoding) are skipped.
    pub fn bar_kinds(&self) -> impl Iterator<Item = BarKind> + '_ {
        self.bars.chars().filter_map(BarKind::from_letter)
    }

    /// Tracking code followed by routing code (20 to 31 digits): the barcode's human-readable
    /// content, as a mailing manifest lists it.
    pub fn digits(&self) -> String {
        format!("{}{}", self.tracking, self.routing)
    }
}

/// Which barcode field an [`ImbError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImbField {
    BarcodeId,
    ServiceType,
    MailerId,
    Serial,
    Routing,
    /// The whole 20-digit tracking code, as given to [`encode_raw`].
    Tracking,
}

impl fmt::Display for ImbField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImbField::BarcodeId => "barcode ID",
            ImbField::ServiceType => "service type ID",
            ImbField::MailerId => "mailer ID",
            ImbField::Serial => "serial number",
            ImbField::Routing => "routing code",
            ImbField::Tracking => "tracking code",
        })
    }
}

/// Why a set of barcode fields cannot be encoded. Each message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImbError {
    #[error("{field} '{value}' must contain only the digits 0-9")]
    NotDigits { field: ImbField, value: String },
    #[error("barcode ID '{0}' must be 2 digits")]
    BarcodeIdLength(String),
    #[error("barcode ID '{0}': the second digit must be 0-4")]
    BarcodeIdSecondDigit(String),
    #[error("service type ID '{0}' must be 3 digits")]
    ServiceTypeLength(String),
    #[error("mailer ID '{0}' must be 6 digits, or 9 digits starting with 9")]
    MailerIdLength(String),
    #[error("mailer ID '{0}': a 6-digit mailer ID cannot start with 9 (a leading 9 marks a 9-digit mailer ID)")]
    MailerIdSixStartsWithNine(String),
    #[error("mailer ID '{0}': a 9-digit mailer ID must start with 9")]
    MailerIdNineWithoutNine(String),
    #[error(
        "serial number must be {expected} digits with a {mailer_digits}-digit mailer ID; got {got}"
    )]
    SerialLength {
        expected: usize,
        mailer_digits: usize,
        got: usize,
    },
    #[error("routing code must be empty or 5, 9 or 11 digits; got {0}")]
    RoutingLength(usize),
    #[error("tracking code must be 20 digits; got {0}")]
    TrackingLength(usize),
    #[error("tracking code '{0}': the second digit (of the barcode ID) must be 0-4")]
    TrackingSecondDigit(String),
}

impl ImbError {
    /// The field the error is about, for callers that report rejects per column.
    pub fn field(&self) -> ImbField {
        match self {
            ImbError::NotDigits { field, .. } => *field,
            ImbError::BarcodeIdLength(_) | ImbError::BarcodeIdSecondDigit(_) => ImbField::BarcodeId,
            ImbError::ServiceTypeLength(_) => ImbField::ServiceType,
            ImbError::MailerIdLength(_)
            | ImbError::MailerIdSixStartsWithNine(_)
            | ImbError::MailerIdNineWithoutNine(_) => ImbField::MailerId,
            ImbError::SerialLength { .. } => ImbField::Serial,
            ImbError::RoutingLength(_) => ImbField::Routing,
            ImbError::TrackingLength(_) | ImbError::TrackingSecondDigit(_) => ImbField::Tracking,
        }
    }
}

/// Validates the fields and encodes them.
pub fn encode(fields: &ImbFields) -> Result<Barcode, ImbError> {
    let barcode_id = digits(ImbField::BarcodeId, &fields.barcode_id)?;
    if barcode_id.len() != 2 {
        return Err(ImbError::BarcodeIdLength(fields.barcode_id.clone()));
    }
    if barcode_id[1] > 4 {
        return Err(ImbError::BarcodeIdSecondDigit(fields.barcode_id.clone()));
    }
    if digits(ImbField::ServiceType, &fields.service_type)?.len() != 3 {
        return Err(ImbError::ServiceTypeLength(fields.service_type.clone()));
    }
    let mailer = digits(ImbField::MailerId, &fields.mailer_id)?;
    // The leading 9 is how a reader tells the two mailer ID lengths apart, so it must
    // agree with the length.
    match (mailer.len(), mailer.first()) {
        (6, Some(9)) => {
            return Err(ImbError::MailerIdSixStartsWithNine(
                fields.mailer_id.clone(),
            ));
        }
        (9, Some(&first)) if first != 9 => {
            return Err(ImbError::MailerIdNineWithoutNine(fields.mailer_id.clone()));
        }
        (6 | 9, _) => {}
        _ => return Err(ImbError::MailerIdLength(fields.mailer_id.clone())),
    }
    let serial = digits(ImbField::Serial, &fields.serial)?;
    let expected = serial_digits(&fields.mailer_id);
    if serial.len() != expected {
        return Err(ImbError::SerialLength {
            expected,
            mailer_digits: mailer.len(),
            got: serial.len(),
        });
    }
    let tracking = format!(
        "{}{}{}{}",
        fields.barcode_id, fields.service_type, fields.mailer_id, fields.serial
    );
    let bars = encode_raw(&tracking, &fields.routing)?;
    Ok(Barcode {
        tracking,
        routing: fields.routing.clone(),
        bars,
    })
}

/// Encodes a 20-digit tracking code and a routing code (empty, 5, 9 or 11 digits) into the
/// 65 bar letters. Checks only what the encoding itself needs (digits, lengths, the barcode
/// ID's second digit); [`encode`] also checks the mailer ID and serial number split.
pub fn encode_raw(tracking: &str, routing: &str) -> Result<String, ImbError> {
    let tracking_digits = digits(ImbField::Tracking, tracking)?;
    let tracking_digits: [u8; 20] = tracking_digits
        .try_into()
        .map_err(|d: Vec<u8>| ImbError::TrackingLength(d.len()))?;
    if tracking_digits[1] > 4 {
        return Err(ImbError::TrackingSecondDigit(tracking.to_owned()));
    }
    let routing_digits = digits(ImbField::Routing, routing)?;
    let value = to_binary(&tracking_digits, &routing_digits)?;
    Ok(bars_for(value).iter().map(|bar| bar.letter()).collect())
}

/// The digit values of `text`, or an error naming `field` if anything else is in it.
fn digits(field: ImbField, text: &str) -> Result<Vec<u8>, ImbError> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.bytes().map(|b| b - b'0').collect())
    } else {
        Err(ImbError::NotDigits {
            field,
            value: text.to_owned(),
        })
    }
}

/// Digits the mailer ID and the serial number share in the 20-digit tracking code.
const MAILER_AND_SERIAL_DIGITS: usize = 15;

/// Digits of a 9-digit mailer ID; every other mailer ID has 6 digits.
const LONG_MAILER_ID_DIGITS: usize = 9;

/// Digits of the serial number that goes with `mailer_id`: 6 with a 9-digit mailer ID,
/// 9 with a 6-digit one (the two share 15 digits of the tracking code). A mailer ID of
/// another length gets 9 here and is refused by [`encode`].
pub fn serial_digits(mailer_id: &str) -> usize {
    let mailer_digits = if mailer_id.len() == LONG_MAILER_ID_DIGITS {
        LONG_MAILER_ID_DIGITS
    } else {
        MAILER_AND_SERIAL_DIGITS - LONG_MAILER_ID_DIGITS
    };
    MAILER_AND_SERIAL_DIGITS - mailer_digits
}

/// How many serial numbers `mailer_id` allows: 10^[`serial_digits`] (serials run from 0 to
/// one less than this, zero-padded to [`serial_digits`] digits).
pub fn serial_modulus(mailer_id: &str) -> u64 {
    10u64.pow(serial_digits(mailer_id) as u32)
}
