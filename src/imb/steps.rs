//! The encoding steps of USPS-B-3200 from the tracking and routing digits to the 65 bars,
//! with the character tables they use (see the [module documentation](super)).

use super::{BarKind, ImbError, BAR_COUNT};

/// Step 1 of USPS-B-3200: routing code and tracking code as one integer below 2^102.
pub(super) fn to_binary(tracking: &[u8; 20], routing: &[u8]) -> Result<u128, ImbError> {
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
pub(super) fn to_bytes(value: u128) -> [u8; 13] {
    let mut bytes = [0u8; 13];
    bytes.copy_from_slice(&value.to_be_bytes()[3..]);
    bytes
}

const CRC_POLYNOMIAL: u16 = 0x0F35;
const CRC_MASK: u16 = 0x07FF;

/// Step 2: the 11-bit frame check sequence of USPS-B-3200 over the 13-byte binary value.
/// The first byte's two top bits lie above the 102 data bits and are skipped.
pub(super) fn crc11(bytes: &[u8; 13]) -> u16 {
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
pub(super) fn codewords(mut value: u128) -> [u16; 10] {
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
pub(super) static TABLE_5_OF_13: [u16; TABLE_5_OF_13_LEN] = n_of_13_table(5);
/// 13-bit characters with exactly 2 bits set, in the specification's order.
pub(super) static TABLE_2_OF_13: [u16; TABLE_2_OF_13_LEN] = n_of_13_table(2);

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
pub(super) fn characters(words: &[u16; 10], fcs: u16) -> [u16; 10] {
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
pub(super) const BAR_TO_CHARACTER: [(u8, u8, u8, u8); BAR_COUNT] = {
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
pub(super) fn bars_for(value: u128) -> [BarKind; BAR_COUNT] {
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
