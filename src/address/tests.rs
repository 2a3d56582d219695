use super::*;

const FIT: WindowFit = DEFAULT_WINDOW_FIT;

/// [`super::name_line`] in the default envelope's window.
fn name_line(given: &str, middle: Option<&str>, family: &str) -> Result<String, FieldProblem> {
    super::name_line(given, middle, family, &FIT)
}
use proptest::prelude::*;

fn raw<'a>(
    line1: &'a str,
    line2: &'a str,
    city: &'a str,
    state: &'a str,
    zip: &'a str,
) -> RawAddress<'a> {
    RawAddress {
        in_care_of: "",
        line1,
        line2,
        city,
        state,
        zip,
    }
}

fn ok(r: RawAddress<'_>) -> Address {
    match normalize_address(&r, &FIT) {
        Ok(a) => a,
        Err(p) => panic!("expected {r:?} to be accepted, got {p}"),
    }
}

fn problem(r: RawAddress<'_>) -> FieldProblem {
    match normalize_address(&r, &FIT) {
        Ok(a) => panic!("expected {r:?} to be rejected, got {a:?}"),
        Err(p) => p,
    }
}

#[test]
fn line_normalisation_before_and_after() {
    let pairs = [
        ("123 Main St.", "123 MAIN ST"),
        ("  45   Elm   Street ", "45 ELM STREET"),
        ("Apt. 4B,", "APT 4B"),
        ("Apartment 12", "APT 12"),
        ("Suite 300", "STE 300"),
        ("Building C", "BLDG C"),
        ("Unit 5", "UNIT 5"),
        ("P.O. Box 1234", "PO BOX 1234"),
        ("p o box 77", "PO BOX 77"),
        ("Post Office Box 9", "PO BOX 9"),
        ("POBox 12", "PO BOX 12"),
        ("123-45 Queens Blvd", "123-45 QUEENS BLVD"),
        ("12 1/2 Oak St", "12 1/2 OAK ST"),
        ("12½ Oak St", "12 1/2 OAK ST"),
        ("700 Wilkes-Barre Blvd", "700 WILKES-BARRE BLVD"),
        ("10 Main St - Rear", "10 MAIN ST REAR"),
        ("1 Main St #4", "1 MAIN ST # 4"),
        ("1 Main St Apt #4", "1 MAIN ST APT 4"),
        ("2 O'Hare Way", "2 OHARE WAY"),
        ("St.Louis", "ST LOUIS"),
        ("12.5 Mile Rd", "12.5 MILE RD"),
        ("1600 Pennsylvania Ave., N.W.", "1600 PENNSYLVANIA AVE NW"),
        ("Calle Nuñez 5", "CALLE NUÑEZ 5"),
        ("ul. Wróblewskiego 3", "UL WRÓBLEWSKIEGO 3"),
        ("Straße 1", "STRASSE 1"),
        ("Zero\u{200B}width", "ZEROWIDTH"),
        ("USS Nimitz (CVN 68)", "USS NIMITZ CVN 68"),
        ("PSC 3 Box 4120", "PSC 3 BOX 4120"),
        ("", ""),
        ("...", ""),
    ];
    for (input, want) in pairs {
        assert_eq!(normalize_line(input), want, "input {input:?}");
    }
}

#[test]
fn decomposed_input_becomes_nfc() {
    // "Nguyễn" typed with combining marks: e + circumflex + tilde.
    let decomposed = "Nguye\u{0302}\u{0303}n";
    assert_eq!(normalize_line(decomposed), "NGUY\u{1EC4}N");
}

#[test]
fn state_codes() {
    for code in [
        "CA", "DC", "NY", "PR", "GU", "VI", "AS", "MP", "FM", "MH", "PW", "AA", "AE", "AP",
    ] {
        assert!(is_state_code(code), "{code}");
    }
    for code in ["XX", "ca", "", "USA", "UK", "PI"] {
        assert!(!is_state_code(code), "{code}");
    }
    assert_eq!(STATE_CODES.len(), 51);
}

#[test]
fn domestic_address_with_zip4_and_merged_unit() {
    let a = ok(raw(
        "1234 Elm Street",
        "Apt. 4B",
        "Springfield",
        "il",
        "62704-1234",
    ));
    assert_eq!(a.line1, "1234 ELM STREET APT 4B");
    assert_eq!(a.line2, None);
    assert_eq!(a.city, "SPRINGFIELD");
    assert_eq!(a.state, "IL");
    assert_eq!(a.zip5, "62704");
    assert_eq!(a.zip4.as_deref(), Some("1234"));
    assert_eq!(a.last_line(), "SPRINGFIELD IL 62704-1234");
}

#[test]
fn nine_digit_zip_is_split() {
    let a = ok(raw("1 Main St", "", "Boston", "MA", "021081234"));
    assert_eq!(a.zip(), "02108-1234");
}

#[test]
fn unit_that_does_not_fit_stays_on_line2() {
    let a = ok(raw(
        "12345 North Martin Luther King Jr Blvd",
        "Apt 1204",
        "Las Vegas",
        "NV",
        "89106",
    ));
    assert_eq!(a.line1, "12345 NORTH MARTIN LUTHER KING JR BLVD");
    assert_eq!(a.line2.as_deref(), Some("APT 1204"));
}

#[test]
fn non_unit_second_line_is_not_merged() {
    let a = ok(raw(
        "Urb Las Gladiolas",
        "150 Calle A",
        "San Juan",
        "PR",
        "00926-3232",
    ));
    assert_eq!(a.line1, "URB LAS GLADIOLAS");
    assert_eq!(a.line2.as_deref(), Some("150 CALLE A"));
}

#[test]
fn puerto_rico_urbanization_on_one_line() {
    let a = ok(raw(
        "Urb Las Gladiolas 150 Calle A",
        "",
        "San Juan",
        "PR",
        "00926",
    ));
    assert_eq!(a.line1, "URB LAS GLADIOLAS 150 CALLE A");
    assert_eq!(a.last_line(), "SAN JUAN PR 00926");
}

#[test]
fn guam_and_virgin_islands() {
    let gu = ok(raw(
        "167 Marine Corps Dr",
        "Ste 201",
        "Hagåtña",
        "GU",
        "96910",
    ));
    assert_eq!(gu.line1, "167 MARINE CORPS DR STE 201");
    assert_eq!(gu.last_line(), "HAGÅTÑA GU 96910");
    let vi = ok(raw(
        "5000 Estate Enighed",
        "",
        "St. Thomas",
        "VI",
        "00802-1234",
    ));
    assert_eq!(vi.last_line(), "ST THOMAS VI 00802-1234");
    let as_ = ok(raw("PO Box 997", "", "Pago Pago", "AS", "96799"));
    assert_eq!(as_.state, "AS");
}

#[test]
fn territory_zip_mismatches() {
    let p = problem(raw("1 Calle Sol", "", "San Juan", "PR", "10001"));
    assert_eq!(p.field, "zip");
    assert!(p.reason.contains("does not belong to PR"), "{}", p.reason);
    let p = problem(raw("1 Main St", "", "New York", "NY", "00926"));
    assert_eq!(p.field, "zip");
    assert_eq!(p.reason, "ZIP 00926 belongs to PR, but the state is NY");
    let p = problem(raw("1 Main St", "", "Honolulu", "HI", "96910"));
    assert!(
        p.reason.contains("GU or MP or FM or MH or PW"),
        "{}",
        p.reason
    );
    assert_eq!(
        problem(raw("1 Main St", "", "Christiansted", "VI", "00926")).field,
        "zip"
    );
    assert_eq!(
        problem(raw("1 Rd", "", "Tamuning", "GU", "96799")).field,
        "zip"
    );
    assert_eq!(
        problem(raw("1 Rd", "", "Pago Pago", "AS", "96910")).field,
        "zip"
    );
}

#[test]
fn military_addresses() {
    let ae = ok(raw("PSC 3 Box 4120", "", "APO", "AE", "09021"));
    assert_eq!(ae.line1, "PSC 3 BOX 4120");
    assert_eq!(ae.last_line(), "APO AE 09021");
    let ap = ok(raw("USS Nimitz (CVN 68)", "", "fpo", "ap", "96620-2820"));
    assert_eq!(ap.last_line(), "FPO AP 96620-2820");
    let aa = ok(raw("Unit 2050 Box 4190", "", "DPO", "AA", "34025"));
    assert_eq!(aa.last_line(), "DPO AA 34025");
}

#[test]
fn military_mismatches() {
    let p = problem(raw("PSC 3 Box 4120", "", "APO", "TX", "09021"));
    assert_eq!(p.field, "state");
    assert_eq!(
        p.reason,
        "city APO is military mail and needs state AA, AE or AP, not TX"
    );
    let p = problem(raw("1 Main St", "", "Houston", "AE", "09021"));
    assert_eq!(p.field, "state");
    assert_eq!(
        p.reason,
        "military state code AE needs city APO, FPO or DPO, not 'HOUSTON'"
    );
    let p = problem(raw("PSC 3 Box 4120", "", "APO", "AE", "96201"));
    assert_eq!(p.field, "zip");
    assert!(
        p.reason.contains("military AE ZIPs start with 090 to 098"),
        "{}",
        p.reason
    );
    assert_eq!(
        problem(raw("Unit 1 Box 2", "", "APO", "AP", "34001")).field,
        "zip"
    );
    assert_eq!(
        problem(raw("Unit 1 Box 2", "", "FPO", "AA", "09001")).field,
        "zip"
    );
    // A mainland state using a military prefix.
    assert_eq!(
        problem(raw("1 Main St", "", "Miami", "FL", "34001")).field,
        "zip"
    );
}

#[test]
fn zip_forms() {
    assert_eq!(parse_zip("02108"), Ok(("02108".into(), None)));
    assert_eq!(
        parse_zip(" 02108-1234 "),
        Ok(("02108".into(), Some("1234".into())))
    );
    assert_eq!(
        parse_zip("021081234"),
        Ok(("02108".into(), Some("1234".into())))
    );
    let p = parse_zip("2108").unwrap_err();
    assert!(p.reason.contains("leading zero"), "{}", p.reason);
    for bad in [
        "1234",
        "123456",
        "12345-12",
        "ABCDE",
        "12345 6789",
        "00000",
        "12345-0000",
    ] {
        assert_eq!(parse_zip(bad).map_err(|p| p.field), Err("zip"), "{bad}");
    }
    assert_eq!(parse_zip("").unwrap_err().reason, "ZIP code is missing");
}

#[test]
fn state_problems() {
    let p = problem(raw("1 Main St", "", "Springfield", "XX", "62704"));
    assert_eq!(p.field, "state");
    assert_eq!(
        p.reason,
        "state 'XX' is not a USPS state, territory or military code"
    );
    let p = problem(raw("1 Main St", "", "Springfield", "Illinois", "62704"));
    assert!(p.reason.contains("two-letter"), "{}", p.reason);
    assert_eq!(
        problem(raw("1 Main St", "", "Springfield", " ", "62704")).reason,
        "state is missing"
    );
}

#[test]
fn long_lines_are_rejected_never_cut() {
    let long = "12345 North Martin Luther King Junior Boulevard";
    let p = problem(raw(long, "", "Las Vegas", "NV", "89106"));
    assert_eq!(p.field, "address_line1");
    assert!(p.reason.contains("is 47 characters"), "{}", p.reason);
    let p = problem(raw(
        "1 Main St",
        "Building C Suite 300 Attention Receiving Dock North",
        "X",
        "NV",
        "89106",
    ));
    assert_eq!(p.field, "address_line2");
    // Exactly 40 characters is accepted.
    let forty = "1234 ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHI";
    assert_eq!(forty.chars().count(), 40);
    assert_eq!(ok(raw(forty, "", "Reno", "NV", "89501")).line1, forty);
    let p = problem(raw(
        "1 Main St",
        "",
        "Llanfairpwllgwyngyllgogerychwyrndrob",
        "NV",
        "89501",
    ));
    assert_eq!(p.field, "city");
    // City fits alone but not with a ZIP+4.
    let city30 = "ABCDEFGHIJ ABCDEFGHIJ ABCDEFGH";
    assert_eq!(ok(raw("1 Main St", "", city30, "NV", "89501")).city, city30);
    let p = problem(raw("1 Main St", "", city30, "NV", "89501-1234"));
    assert_eq!(p.field, "city");
    assert_eq!(
        p.reason,
        "the city-state-ZIP line 'ABCDEFGHIJ ABCDEFGHIJ ABCDEFGH NV 89501-1234' is 44 characters after normalisation; the envelope window shows at most 40"
    );
}

#[test]
fn missing_fields() {
    assert_eq!(
        problem(raw("", "", "Reno", "NV", "89501")).field,
        "address_line1"
    );
    assert_eq!(
        problem(raw("...", "", "Reno", "NV", "89501")).reason,
        "address line 1 is missing"
    );
    assert_eq!(
        problem(raw("1 Main St", "", "", "NV", "89501")).reason,
        "city is missing"
    );
}

#[test]
fn unprintable_characters_in_address() {
    let p = problem(raw("1 Main St 🏠", "", "Reno", "NV", "89501"));
    assert_eq!(p.field, "address_line1");
    assert_eq!(
        p.reason,
        "the font used for letters cannot print '🏠' (U+1F3E0) in address_line1"
    );
    let p = problem(raw("1 Main St", "", "東京", "NV", "89501"));
    assert_eq!(p.field, "city");
    let p = problem(raw("1 Main St\nApt 2", "", "Reno", "NV", "89501"));
    assert!(p.reason.contains("line break"), "{}", p.reason);
    let p = problem(raw("1 Main\u{7}St", "", "Reno", "NV", "89501"));
    assert!(p.reason.contains("U+0007"), "{}", p.reason);
    assert_eq!(
        ok(raw("1\tMain St", "", "Reno", "NV", "89501")).line1,
        "1 MAIN ST"
    );
}

#[test]
fn care_of_lines() {
    assert_eq!(care_of_line("", &FIT), Ok(None));
    assert_eq!(
        care_of_line("María López", &FIT),
        Ok(Some("C/O MARÍA LÓPEZ".into()))
    );
    assert_eq!(
        care_of_line("c/o Catholic Charities", &FIT),
        Ok(Some("C/O CATHOLIC CHARITIES".into()))
    );
    assert_eq!(
        care_of_line("Care of J. Smith", &FIT),
        Ok(Some("C/O J SMITH".into()))
    );
    let p = care_of_line("Immigrant Legal Resource Center Attn Intake", &FIT).unwrap_err();
    assert_eq!(p.field, "in_care_of");
    assert!(p.reason.contains("is 47 characters"), "{}", p.reason);
    let mut r = raw("1 Main St", "", "Reno", "NV", "89501");
    r.in_care_of = "Ana Ruiz";
    assert_eq!(ok(r).in_care_of.as_deref(), Some("C/O ANA RUIZ"));
}

#[test]
fn name_lines() {
    assert_eq!(
        name_line("José", Some("Luis"), "Ramírez Núñez"),
        Ok("JOSÉ LUIS RAMÍREZ NÚÑEZ".into())
    );
    assert_eq!(name_line("", None, "Nguyễn"), Ok("NGUYỄN".into()));
    assert_eq!(
        name_line("Mary", Some("J."), "O’Brien"),
        Ok("MARY J O'BRIEN".into())
    );
    assert_eq!(
        name_line("Łukasz", None, "Wróblewski"),
        Ok("ŁUKASZ WRÓBLEWSKI".into())
    );
    // 43 characters in full: the middle names become initials.
    let n = name_line("Khai", Some("Thị Minh Hoàng Phương"), "Nguyễn Trần Phạm");
    assert_eq!(n, Ok("KHAI T M H P NGUYỄN TRẦN PHẠM".into()));
    // Initials still too long: the middle name is left out.
    let n = name_line(
        "Maximiliano José",
        Some("De La Santísima Trinidad"),
        "Hernández Villalobos",
    );
    assert_eq!(n, Ok("MAXIMILIANO JOSÉ HERNÁNDEZ VILLALOBOS".into()));
    let p = name_line(
        "Maximiliano Alejandro",
        Some("José"),
        "Hernández Villalobos",
    )
    .unwrap_err();
    assert_eq!(p.field, "family_name");
    assert_eq!(
        p.reason,
        "the name 'MAXIMILIANO ALEJANDRO JOSÉ HERNÁNDEZ VILLALOBOS' is 47 characters, and 42 even without the middle name; the envelope window shows at most 40"
    );
    let p = name_line(
        "Wolfeschlegelsteinhausen",
        None,
        "Bergerdorffvoralternwaren",
    )
    .unwrap_err();
    assert_eq!(p.field, "family_name");
    assert_eq!(
        p.reason,
        "the name 'WOLFESCHLEGELSTEINHAUSEN BERGERDORFFVORALTERNWAREN' is 50 characters; the envelope window shows at most 40"
    );
}

#[test]
fn characters_whose_capital_cannot_print_are_refused() {
    // The address block prints capitals: a letter the font has only in
    // lower case must be refused, not printed as an empty box.
    for &(start, end) in &crate::fonts::FONT_RANGES {
        for c in start..=end {
            if c.to_uppercase().any(|u| !font_can_print(u)) {
                let s = c.to_string();
                assert!(check_printable("f", "f", &s).is_err(), "{}", code_point(c));
            }
        }
    }
}

proptest! {
    #[test]
    fn normalisation_is_idempotent_and_clean(s in "\\PC{0,60}") {
        let once = normalize_line(&s);
        prop_assert_eq!(normalize_line(&once), once.clone());
        prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        prop_assert!(!once.contains([',', '\'', '(', ';']));
        prop_assert!(!once.contains('.') || once.contains(|c: char| c.is_ascii_digit()));
    }

    #[test]
    fn accepted_addresses_always_fit(l1 in "[A-Za-z0-9 .#/-]{0,60}", l2 in "[A-Za-z0-9 .#]{0,30}", city in "[A-Za-z .]{0,40}") {
        if let Ok(a) = normalize_address(&raw(&l1, &l2, &city, "CA", "94105-1234"), &FIT) {
            let lines = [Some(a.line1.clone()), a.line2.clone(), Some(a.last_line())];
            for l in lines.iter().flatten() {
                prop_assert!(l.chars().count() <= MAX_LINE_CHARS, "{l}");
            }
        }
    }
}
