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

    fn from_halves(ascender: bool, descender: bool) -> Self {
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
    let expected = 15 - mailer.len();
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

/// Step 1 of USPS-B-3200: routing code and tracking code as one integer below 2^102.
fn to_binary(tracking: &[u8; 20], routing: &[u8]) -> Result<u128, ImbError> {
    let routing_number = routing
        .iter()
        .fold(0u128, |acc, &d| acc * 10 + u128::from(d));
    // The offsets give each routing length its own range of values (0; 1..=100000;
    // 100001..; 1000100001..), so a shorter routing code never collides with a longer one.
    let mut value = match routing.len() {
        0 => 0,
        5 => routing_number + 1,
        9 => routing_number + 100_000 + 1,
        11 => routing_number + 1_000_000_000 + 100_000 + 1,
        other => return Err(ImbError::RoutingLength(other)),
    };
    // The barcode ID's second digit is 0-4, hence base 5 for it and base 10 elsewhere.
    value = value * 10 + u128::from(tracking[0]);
    value = value * 5 + u128::from(tracking[1]);
    for &d in &tracking[2..] {
        value = value * 10 + u128::from(d);
    }
    Ok(value)
}

/// The 13 big-endian bytes of the 102-bit binary value, as the CRC reads them.
fn to_bytes(value: u128) -> [u8; 13] {
    let mut bytes = [0u8; 13];
    bytes.copy_from_slice(&value.to_be_bytes()[3..]);
    bytes
}

const CRC_POLYNOMIAL: u16 = 0x0F35;
const CRC_MASK: u16 = 0x07FF;

/// Step 2: the 11-bit frame check sequence of USPS-B-3200 over the 13-byte binary value.
/// The first byte's two top bits lie above the 102 data bits and are skipped.
pub(crate) fn crc11(bytes: &[u8; 13]) -> u16 {
    let mut fcs = CRC_MASK;
    for (index, &byte) in bytes.iter().enumerate() {
        let skip = if index == 0 { 2 } else { 0 };
        // Align the byte's next bit with bit 10, the top of the 11-bit register.
        let mut data = u16::from(byte) << 3;
        data <<= skip;
        for _ in skip..8 {
            fcs = if (fcs ^ data) & 0x400 != 0 {
                (fcs << 1) ^ CRC_POLYNOMIAL
            } else {
                fcs << 1
            };
            fcs &= CRC_MASK;
            data <<= 1;
        }
    }
    fcs
}

/// Step 3: ten codewords A..J from the binary value, before the orientation and CRC
/// adjustments. A is below 659 for every valid input; B..I below 1365; J below 636.
fn codewords(mut value: u128) -> [u16; 10] {
    let mut words = [0u16; 10];
    // Remainders are below their divisor, so the narrowing casts cannot lose bits.
    words[9] = (value % 636) as u16;
    value /= 636;
    for word in words[1..9].iter_mut().rev() {
        *word = (value % 1365) as u16;
        value /= 1365;
    }
    // Bounded by 658 because the binary value is below 2^102 (min keeps the cast lossless
    // even for a value the validated inputs cannot produce).
    words[0] = value.min(658) as u16;
    words
}

/// Size of the 5-of-13 character table (codewords 0..=1286).
const TABLE_5_OF_13_LEN: usize = 1287;
/// Size of the 2-of-13 character table (codewords 1287..=1364).
const TABLE_2_OF_13_LEN: usize = 78;

/// 13-bit characters with exactly 5 bits set, in the specification's order.
static TABLE_5_OF_13: [u16; TABLE_5_OF_13_LEN] = n_of_13_table(5);
/// 13-bit characters with exactly 2 bits set, in the specification's order.
static TABLE_2_OF_13: [u16; TABLE_2_OF_13_LEN] = n_of_13_table(2);

/// The specification's table-generation rule: walk 0..8192; for every value with `bits`
/// bits set whose 13-bit mirror image is not smaller, put the value and its mirror in the
/// next two free slots from the front, or, if the value is its own mirror (palindromic),
/// in the next free slot from the back. Evaluated at compile time.
const fn n_of_13_table<const N: usize>(bits: u32) -> [u16; N] {
    let mut table = [0u16; N];
    let mut lower = 0;
    let mut upper = N;
    let mut count: u16 = 0;
    while count < 8192 {
        if count.count_ones() == bits {
            let mirror = count.reverse_bits() >> 3;
            if mirror == count {
                upper -= 1;
                table[upper] = count;
            } else if mirror > count {
                table[lower] = count;
                table[lower + 1] = mirror;
                lower += 2;
            }
        }
        count += 1;
    }
    // A compile-time check: the two ends must meet exactly.
    assert!(lower == upper, "n-of-13 table ends did not meet");
    table
}

/// Step 4: codewords (after orientation/CRC adjustment) to 13-bit characters, with the
/// low ten CRC bits inverting the characters they select.
fn characters(words: &[u16; 10], fcs: u16) -> [u16; 10] {
    let mut chars = [0u16; 10];
    for (i, (&word, ch)) in words.iter().zip(chars.iter_mut()).enumerate() {
        let word = usize::from(word);
        let base = match TABLE_5_OF_13.get(word) {
            Some(&c) => c,
            None => TABLE_2_OF_13
                .get(word - TABLE_5_OF_13_LEN)
                .copied()
                .unwrap_or(0),
        };
        *ch = if fcs & (1 << i) != 0 {
            !base & 0x1FFF
        } else {
            base
        };
    }
    chars
}

/// Names of the ten characters, as Table 22 of USPS-B-3200 writes them.
mod ch {
    pub const A: u8 = 0;
    pub const B: u8 = 1;
    pub const C: u8 = 2;
    pub const D: u8 = 3;
    pub const E: u8 = 4;
    pub const F: u8 = 5;
    pub const G: u8 = 6;
    pub const H: u8 = 7;
    pub const I: u8 = 8;
    pub const J: u8 = 9;
}

/// USPS-B-3200 Table 22, "Bar-to-Character Mapping": for bars 1..=65 from the left,
/// (descender character, descender bit, ascender character, ascender bit). Data, not a
/// rule: the specification scatters the bits so that damage to neighbouring bars hits
/// different characters. Cross-checked against the USPS reference encoder's arrays.
#[rustfmt::skip]
const BAR_TO_CHARACTER: [(u8, u8, u8, u8); BAR_COUNT] = {
    use ch::*;
    [
        (H,  2, E,  3), (B, 10, A,  0), (J, 12, C,  8), (F,  5, G, 11),
        (I,  9, D,  1), (A,  1, F, 12), (C,  5, B,  8), (E,  4, J, 11),
        (G,  3, I, 10), (D,  9, H,  6), (F, 11, B,  4), (I,  5, C, 12),
        (J, 10, A,  2), (H,  1, G,  7), (D,  6, E,  9), (A,  3, I,  6),
        (G,  4, C,  7), (B,  1, J,  9), (H, 10, F,  2), (E,  0, D,  8),
        (G,  2, A,  4), (I, 11, B,  0), (J,  8, D, 12), (C,  6, H,  7),
        (F,  1, E, 10), (B, 12, G,  9), (H,  3, I,  0), (F,  8, J,  7),
        (E,  6, C, 10), (D,  4, A,  5), (I,  4, F,  7), (H, 11, B,  9),
        (G,  0, J,  6), (A,  6, E,  8), (C,  1, D,  2), (F,  9, I, 12),
        (E, 11, G,  1), (J,  5, H,  4), (D,  3, B,  2), (A,  7, C,  0),
        (B,  3, E,  1), (G, 10, D,  5), (I,  7, J,  4), (C, 11, F,  6),
        (A,  8, H, 12), (E,  2, I,  1), (F, 10, D,  0), (J,  3, A,  9),
        (G,  5, C,  4), (H,  8, B,  7), (F,  0, E,  5), (C,  3, A, 10),
        (G, 12, J,  2), (D, 11, B,  6), (I,  8, H,  9), (F,  4, A, 11),
        (B,  5, C,  2), (J,  1, E, 12), (I,  3, G,  6), (H,  0, D,  7),
        (E,  7, H,  5), (A, 12, B, 11), (C,  9, J,  0), (G,  8, F,  3),
        (D, 10, I,  2),
    ]
};

/// Steps 2-5 from the binary value to the bars.
fn bars_for(value: u128) -> [BarKind; BAR_COUNT] {
    let fcs = crc11(&to_bytes(value));
    let mut words = codewords(value);
    // Doubling J makes the rightmost codeword even, which tells a reader the orientation.
    words[9] *= 2;
    if fcs & 0x400 != 0 {
        words[0] += 659;
    }
    let chars = characters(&words, fcs);
    let bit = |character: u8, bit: u8| (chars[usize::from(character)] >> bit) & 1 == 1;
    BAR_TO_CHARACTER.map(|(dc, db, ac, ab)| BarKind::from_halves(bit(ac, ab), bit(dc, db)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPEC_TRACKING: &str = "01234567094987654321";

    /// USPS-B-3200 Appendix C examples: routing, binary value, FCS, codewords (before
    /// adjustment), bars. Confirmed by the USPS reference encoder's self-test and by
    /// independent encoders (barcode4j, ReportLab).
    const SPEC_EXAMPLES: [(&str, u128, u16, [u16; 10], &str); 4] = [
        (
            "",
            0x1122103B5C2004B1,
            0x051,
            [0, 0, 0, 0, 559, 202, 508, 451, 124, 17],
            "ATTFATTDTTADTAATTDTDTATTDAFDDFADFDFTFFFFFTATFAAAATDFFTDAADFTFDTDT",
        ),
        (
            "01234",
            0x0D138A87BAB5CF3804B1,
            0x065,
            [0, 0, 15, 14, 290, 567, 385, 48, 388, 333],
            "DTTAFADDTTFTDTFTFDTDDADADAFADFATDDFTAAAFDTTADFAAATDFDTDFADDDTDFFT",
        ),
        (
            "012345678",
            0x0202BDC097711204D21804B1,
            0x606,
            [0, 110, 1113, 1363, 198, 413, 470, 468, 1333, 513],
            "ADFTTAFDTTTTFATTADTAAATFTFTATDAAAFDDADATATDTDTTDFDTDATADADTDFFTFA",
        ),
        (
            "01234567891",
            0x016907B2A24ABC16A2E5C004B1,
            0x751,
            [14, 787, 607, 1022, 861, 19, 816, 1294, 35, 301],
            "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA",
        ),
    ];

    fn spec_fields(routing: &str) -> ImbFields {
        ImbFields {
            barcode_id: "01".into(),
            service_type: "234".into(),
            mailer_id: "567094".into(),
            serial: "987654321".into(),
            routing: routing.into(),
        }
    }

    fn binary_of(tracking: &str, routing: &str) -> u128 {
        let t: Vec<u8> = tracking.bytes().map(|b| b - b'0').collect();
        let r: Vec<u8> = routing.bytes().map(|b| b - b'0').collect();
        to_binary(&t.try_into().unwrap(), &r).unwrap()
    }

    #[test]
    fn spec_examples_encode_to_published_bars() {
        for (routing, _, _, _, bars) in SPEC_EXAMPLES {
            let barcode = encode(&spec_fields(routing)).unwrap();
            assert_eq!(barcode.bars, bars, "routing '{routing}'");
            assert_eq!(barcode.tracking, SPEC_TRACKING);
            assert_eq!(barcode.routing, routing);
            assert_eq!(barcode.digits(), format!("{SPEC_TRACKING}{routing}"));
            assert_eq!(encode_raw(SPEC_TRACKING, routing).unwrap(), bars);
        }
    }

    #[test]
    fn spec_examples_match_every_intermediate_step() {
        for (routing, binary, fcs, words, _) in SPEC_EXAMPLES {
            let value = binary_of(SPEC_TRACKING, routing);
            assert_eq!(value, binary, "binary for routing '{routing}'");
            assert_eq!(crc11(&to_bytes(value)), fcs, "FCS for routing '{routing}'");
            assert_eq!(codewords(value), words, "codewords for routing '{routing}'");
        }
    }

    #[test]
    fn spec_example_characters_for_eleven_digit_routing() {
        // USPS-B-3200 Appendix C, 11-digit routing: codewords after adjustment, characters.
        let words = [673, 787, 607, 1022, 861, 19, 816, 1294, 35, 602];
        let expected = [
            0x0DCB, 0x085C, 0x08E4, 0x0B06, 0x06DD, 0x1740, 0x17C6, 0x1200, 0x123F, 0x1B2B,
        ];
        assert_eq!(characters(&words, 0x751), expected);
    }

    #[test]
    fn character_tables_follow_the_generation_rule() {
        assert_eq!(TABLE_5_OF_13.len(), 1287);
        assert_eq!(TABLE_2_OF_13.len(), 78);
        for (table, bits) in [(&TABLE_5_OF_13[..], 5), (&TABLE_2_OF_13[..], 2)] {
            let mut seen = std::collections::HashSet::new();
            for &c in table {
                assert_eq!(c.count_ones(), bits, "{c:#06x}");
                assert!(c < 0x2000, "{c:#06x} is wider than 13 bits");
                assert!(seen.insert(c), "{c:#06x} appears twice");
                // Closed under mirroring: a reader facing the other way finds a character.
                assert!(
                    table.contains(&(c.reverse_bits() >> 3)),
                    "{c:#06x} has no mirror"
                );
            }
            // Every 13-bit value with that many bits set is present (C(13,5), C(13,2)).
            let all = (0u16..0x2000).filter(|v| v.count_ones() == bits).count();
            assert_eq!(seen.len(), all);
        }
        // Spot values printed in the specification's tables.
        assert_eq!(TABLE_5_OF_13[..4], [31, 7936, 47, 7808]);
        assert_eq!(TABLE_5_OF_13[1284..], [856, 744, 496]);
        assert_eq!(TABLE_2_OF_13[..4], [3, 6144, 5, 5120]);
        assert_eq!(TABLE_2_OF_13[75..], [520, 272, 160]);
    }

    #[test]
    fn bar_table_uses_every_character_bit_exactly_once() {
        let mut used = [[false; 13]; 10];
        for (dc, db, ac, ab) in BAR_TO_CHARACTER {
            for (c, b) in [(dc, db), (ac, ab)] {
                let slot = &mut used[usize::from(c)][usize::from(b)];
                assert!(!*slot, "character {c} bit {b} is mapped twice");
                *slot = true;
            }
        }
        assert!(used.iter().flatten().all(|&u| u));
    }

    #[test]
    fn bar_kinds_follow_the_letters() {
        let barcode = encode(&spec_fields("01234")).unwrap();
        let kinds: Vec<BarKind> = barcode.bar_kinds().collect();
        assert_eq!(kinds.len(), BAR_COUNT);
        assert_eq!(
            kinds[..5],
            [
                BarKind::Descender,
                BarKind::Tracker,
                BarKind::Tracker,
                BarKind::Ascender,
                BarKind::Full
            ]
        );
        let letters: String = kinds.iter().map(|k| k.letter()).collect();
        assert_eq!(letters, barcode.bars);
    }

    #[test]
    fn geometry_is_within_the_specification() {
        assert!((BAR_PITCH_IN - 0.04545).abs() < 1e-4);
        assert!((ASCENDER_HEIGHT_IN - 0.0965).abs() < 1e-9);
        assert!((BARCODE_LENGTH_IN - 2.929).abs() < 1e-3);
        assert!((BARCODE_LENGTH_MIN_IN..=BARCODE_LENGTH_MAX_IN).contains(&BARCODE_LENGTH_IN));
        // The extremes of pitch (24 and 20 bars per inch) reproduce the length limits.
        assert!((64.0 / 24.0 - BARCODE_LENGTH_MIN_IN).abs() < 1e-3);
        assert!((64.0 / 20.0 + 0.025 - BARCODE_LENGTH_MAX_IN).abs() < 1e-9);
        assert!((bar_left_in(64) + BAR_WIDTH_IN - BARCODE_LENGTH_IN).abs() < 1e-12);

        let (full_bottom, full_top) = bar_extent(BarKind::Full);
        let (asc_bottom, asc_top) = bar_extent(BarKind::Ascender);
        let (desc_bottom, desc_top) = bar_extent(BarKind::Descender);
        let (trk_bottom, trk_top) = bar_extent(BarKind::Tracker);
        assert_eq!((full_bottom, full_top), (0.0, 0.145));
        assert!((trk_top - trk_bottom - TRACKER_HEIGHT_IN).abs() < 1e-12);
        // The tracker is centred, and the ascender/descender share it.
        assert!((trk_bottom - (full_top - trk_top)).abs() < 1e-12);
        assert_eq!((asc_bottom, asc_top), (trk_bottom, full_top));
        assert_eq!((desc_bottom, desc_top), (full_bottom, trk_top));
        assert!((desc_top - ASCENDER_HEIGHT_IN).abs() < 1e-12);
        assert!((asc_top - asc_bottom - ASCENDER_HEIGHT_IN).abs() < 1e-12);
    }

    #[test]
    fn every_validation_error_names_field_and_rule() {
        let ok = spec_fields("01234");
        let with = |edit: fn(&mut ImbFields)| {
            let mut f = ok.clone();
            edit(&mut f);
            encode(&f).unwrap_err()
        };
        let cases: Vec<(ImbError, ImbField, &str)> = vec![
            (
                with(|f| f.barcode_id = "15".into()),
                ImbField::BarcodeId,
                "barcode ID '15': the second digit must be 0-4",
            ),
            (
                with(|f| f.barcode_id = "1".into()),
                ImbField::BarcodeId,
                "barcode ID '1' must be 2 digits",
            ),
            (
                with(|f| f.barcode_id = "0A".into()),
                ImbField::BarcodeId,
                "barcode ID '0A' must contain only the digits 0-9",
            ),
            (
                with(|f| f.service_type = "2345".into()),
                ImbField::ServiceType,
                "service type ID '2345' must be 3 digits",
            ),
            (
                with(|f| f.service_type = "2 4".into()),
                ImbField::ServiceType,
                "service type ID '2 4' must contain only the digits 0-9",
            ),
            (
                with(|f| f.mailer_id = "5670941".into()),
                ImbField::MailerId,
                "mailer ID '5670941' must be 6 digits, or 9 digits starting with 9",
            ),
            (
                with(|f| f.mailer_id = "967094".into()),
                ImbField::MailerId,
                "mailer ID '967094': a 6-digit mailer ID cannot start with 9 \
                 (a leading 9 marks a 9-digit mailer ID)",
            ),
            (
                with(|f| {
                    f.mailer_id = "867094123".into();
                    f.serial = "654321".into();
                }),
                ImbField::MailerId,
                "mailer ID '867094123': a 9-digit mailer ID must start with 9",
            ),
            (
                with(|f| f.mailer_id = "56709४".into()),
                ImbField::MailerId,
                "mailer ID '56709४' must contain only the digits 0-9",
            ),
            (
                with(|f| f.serial = "98765432".into()),
                ImbField::Serial,
                "serial number must be 9 digits with a 6-digit mailer ID; got 8",
            ),
            (
                with(|f| f.mailer_id = "967094123".into()),
                ImbField::Serial,
                "serial number must be 6 digits with a 9-digit mailer ID; got 9",
            ),
            (
                with(|f| f.serial = "98765432-".into()),
                ImbField::Serial,
                "serial number '98765432-' must contain only the digits 0-9",
            ),
            (
                with(|f| f.routing = "0123456".into()),
                ImbField::Routing,
                "routing code must be empty or 5, 9 or 11 digits; got 7",
            ),
            (
                with(|f| f.routing = "01234-5678".into()),
                ImbField::Routing,
                "routing code '01234-5678' must contain only the digits 0-9",
            ),
        ];
        for (err, field, message) in cases {
            assert_eq!(err.to_string(), message);
            assert_eq!(err.field(), field, "{message}");
        }

        let raw = [
            (
                encode_raw("0123456709498765432", "").unwrap_err(),
                "tracking code must be 20 digits; got 19",
            ),
            (
                encode_raw("06234567094987654321", "").unwrap_err(),
                "tracking code '06234567094987654321': the second digit (of the barcode ID) \
                 must be 0-4",
            ),
            (
                encode_raw("0123456709498765432x", "").unwrap_err(),
                "tracking code '0123456709498765432x' must contain only the digits 0-9",
            ),
        ];
        for (err, message) in raw {
            assert_eq!(err.to_string(), message);
            assert_eq!(err.field(), ImbField::Tracking);
        }
    }

    #[test]
    fn nine_digit_mailer_id_is_accepted() {
        let fields = ImbFields {
            mailer_id: "901234567".into(),
            serial: "000001".into(),
            ..spec_fields("")
        };
        let barcode = encode(&fields).unwrap();
        assert_eq!(barcode.tracking, "01234901234567000001");
        assert_eq!(barcode.bars, encode_raw(&barcode.tracking, "").unwrap());
    }

    #[test]
    fn a_digit_change_can_keep_the_crc_but_never_the_bars() {
        // The CRC guards bits, not digits: a one-digit change alters the binary value
        // arithmetically (with carries), and about 1 in 2,000 such changes lands on the same
        // 11-bit CRC. This pair was found by search. The bars still differ, because the
        // codewords do; that is what `changing_one_digit_changes_the_bars` checks.
        let routing = "75965559798";
        let (a, b) = ("83059640235925634168", "83059640205925634168");
        let crc_of = |t: &str| crc11(&to_bytes(binary_of(t, routing)));
        assert_eq!(crc_of(a), crc_of(b));
        assert_ne!(
            encode_raw(a, routing).unwrap(),
            encode_raw(b, routing).unwrap()
        );
    }

    /// A valid (tracking, routing) pair for `encode_raw`.
    fn raw_input() -> impl Strategy<Value = (String, String)> {
        let tracking = ("[0-9][0-4]", "[0-9]{18}").prop_map(|(a, b)| format!("{a}{b}"));
        let routing = prop_oneof![Just(String::new()), "[0-9]{5}", "[0-9]{9}", "[0-9]{11}"];
        (tracking, routing)
    }

    /// Replaces the digit at `pos` in `s` with a different one allowed there.
    fn change_digit(s: &str, pos: usize, step: u8, max: u8) -> String {
        let mut bytes = s.as_bytes().to_vec();
        let old = bytes[pos] - b'0';
        bytes[pos] = b'0' + (old + 1 + step % max) % (max + 1);
        String::from_utf8(bytes).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn valid_fields_give_65_bars(
            bid in "[0-9][0-4]",
            stid in "[0-9]{3}",
            long_mailer in any::<bool>(),
            mid6 in "[0-8][0-9]{5}",
            mid9 in "9[0-9]{8}",
            serial9 in "[0-9]{9}",
            (_, routing) in raw_input(),
        ) {
            let (mailer_id, serial) = if long_mailer {
                (mid9, serial9[..6].to_owned())
            } else {
                (mid6, serial9)
            };
            let fields = ImbFields { barcode_id: bid, service_type: stid, mailer_id, serial, routing };
            let barcode = encode(&fields).unwrap();
            prop_assert_eq!(barcode.bars.len(), BAR_COUNT);
            prop_assert_eq!(barcode.bar_kinds().count(), BAR_COUNT);
            prop_assert_eq!(barcode.tracking.len(), 20);
        }

        #[test]
        fn changing_one_digit_changes_the_bars(
            (tracking, routing) in raw_input(),
            pos in 0usize..31,
            step in 0u8..9,
        ) {
            let before = encode_raw(&tracking, &routing).unwrap();
            let (tracking2, routing2) = if pos < 20 {
                // The barcode ID's second digit only ranges over 0-4.
                let max = if pos == 1 { 4 } else { 9 };
                (change_digit(&tracking, pos, step, max), routing.clone())
            } else if routing.is_empty() {
                (tracking.clone(), "00000".to_owned())
            } else {
                let p = (pos - 20) % routing.len();
                (tracking.clone(), change_digit(&routing, p, step, 9))
            };
            prop_assert_ne!((&tracking, &routing), (&tracking2, &routing2));
            prop_assert_ne!(before, encode_raw(&tracking2, &routing2).unwrap());
        }

        #[test]
        fn crc_changes_when_any_data_bit_flips(
            (tracking, routing) in raw_input(),
            bit in 0u32..102,
        ) {
            let value = binary_of(&tracking, &routing);
            prop_assert!(value < 1u128 << 102);
            let flipped = value ^ (1u128 << bit);
            prop_assert_ne!(crc11(&to_bytes(value)), crc11(&to_bytes(flipped)));
        }
    }
}
