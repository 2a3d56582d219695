//! Tests of the encoder against the published USPS examples, the table rules and
//! properties of the whole encoding.

use super::steps::*;
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

#[test]
fn serial_length_follows_the_mailer_id_length() {
    assert_eq!(serial_digits("123456"), 9);
    assert_eq!(serial_digits("901234567"), 6);
    assert_eq!(serial_modulus("123456"), 1_000_000_000);
    assert_eq!(serial_modulus("901234567"), 1_000_000);
    // Mailer ID and serial always fill the 15 digits between service type and routing.
    for mailer_id in ["123456", "901234567"] {
        let fields = ImbFields {
            mailer_id: mailer_id.into(),
            serial: "7".repeat(serial_digits(mailer_id)),
            ..spec_fields("")
        };
        assert_eq!(encode(&fields).unwrap().tracking.len(), 20);
        let short = ImbFields {
            serial: "7".repeat(serial_digits(mailer_id) - 1),
            ..fields
        };
        assert!(matches!(
            encode(&short),
            Err(ImbError::SerialLength { expected, .. }) if expected == serial_digits(mailer_id)
        ));
    }
}
