//! The pools generated rows draw from: names by origin, receipt prefixes,
//! cities, streets, territories and military post offices.

/// Name pools by origin: (given names, family names). Middle names are
/// drawn from the given-name pool of the same origin.
pub(super) const NAME_POOLS: [(&[&str], &[&str]); 8] = [
    (
        &[
            "Minh",
            "Khai",
            "Hương",
            "Thảo",
            "Dũng",
            "Phương",
            "Linh",
            "Tuấn",
            "Ngọc Ánh",
            "Bảo",
        ],
        &[
            "Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
        ],
    ),
    (
        &[
            "Łukasz",
            "Małgorzata",
            "Wojciech",
            "Agnieszka",
            "Paweł",
            "Elżbieta",
            "Krzysztof",
        ],
        &[
            "Wróblewski",
            "Kowalczyk",
            "Wiśniewska",
            "Zieliński",
            "Dąbrowska",
            "Grzegorczyk",
        ],
    ),
    (
        &["Jiří", "Antonín", "Zdeněk", "Markéta", "Tomáš", "Kateřina"],
        &[
            "Dvořák",
            "Novák",
            "Černý",
            "Procházková",
            "Kučera",
            "Svoboda",
        ],
    ),
    (
        &[
            "João",
            "Conceição",
            "Gonçalo",
            "Inês",
            "Sebastião",
            "Thiago",
        ],
        &[
            "Gonçalves",
            "Magalhães",
            "Araújo",
            "Simões",
            "Conceição",
            "Brandão",
        ],
    ),
    (
        &[
            "François",
            "Zoë",
            "Chloé",
            "Hélène",
            "Jérôme",
            "Renée",
            "Anaïs",
        ],
        &["Lefèvre", "Bélanger", "Côté", "Gagné", "Dubois", "Lévesque"],
    ),
    (
        &["Jürgen", "Björn", "Jörg", "Lena", "Günter", "Käthe"],
        &["Müller", "Schäfer", "Köhler", "Groß", "Weiß", "Bäcker"],
    ),
    (
        &[
            "James", "Emily", "Michael", "Aisha", "Priya", "Wei", "Kwame", "Fatima", "Siobhán",
        ],
        &[
            "Smith", "Johnson", "O'Connor", "Patel", "Chen", "Mensah", "Haddad", "Okafor",
        ],
    ),
    (
        &[
            "Mehmet",
            "Ayşe",
            "Oleksandr",
            "Nadia",
            "Dmitri",
            "Ingrid",
            "Søren",
        ],
        &[
            "Yılmaz",
            "Shevchenko",
            "Petrov",
            "Sørensen",
            "Åström",
            "Popescu",
        ],
    ),
];

pub(super) const SPANISH_GIVEN: [&str; 20] = [
    "José",
    "María",
    "Juan Carlos",
    "Guadalupe",
    "Jesús",
    "Ana Sofía",
    "Luis",
    "Carmen",
    "Alejandro",
    "Lucía",
    "Fernando",
    "Valentina",
    "Andrés",
    "Camila",
    "Raúl",
    "Inés",
    "Sebastián",
    "Ximena",
    "Martín",
    "Begoña",
];

pub(super) const SPANISH_FAMILY: [&str; 20] = [
    "Ramírez",
    "Núñez",
    "García",
    "Hernández",
    "López",
    "Martínez",
    "González",
    "Pérez",
    "Sánchez",
    "Rodríguez",
    "Muñoz",
    "Ibáñez",
    "Peña",
    "Castañeda",
    "Villaseñor",
    "Gómez",
    "Díaz",
    "Ortiz",
    "Chávez",
    "Jiménez",
];

pub(super) const VIETNAMESE_MIDDLE: [&str; 6] = ["Văn", "Thị", "Ngọc", "Hoàng", "Thị Minh", "Đức"];

pub(super) const RECEIPT_PREFIXES: [&str; 10] = [
    "IOE", "IOE", "IOE", "IOE", "MSC", "EAC", "WAC", "LIN", "SRC", "NBC",
];

/// Mainland cities: (city, state, first three ZIP digits).
pub(super) const CITIES: [(&str, &str, &str); 30] = [
    ("Los Angeles", "CA", "900"),
    ("San Jose", "CA", "951"),
    ("Westminster", "CA", "926"),
    ("Houston", "TX", "770"),
    ("El Paso", "TX", "799"),
    ("Miami", "FL", "331"),
    ("Orlando", "FL", "328"),
    ("Chicago", "IL", "606"),
    ("New York", "NY", "100"),
    ("Brooklyn", "NY", "112"),
    ("Newark", "NJ", "071"),
    ("Boston", "MA", "021"),
    ("Seattle", "WA", "981"),
    ("Phoenix", "AZ", "850"),
    ("Denver", "CO", "802"),
    ("Atlanta", "GA", "303"),
    ("Charlotte", "NC", "282"),
    ("Minneapolis", "MN", "554"),
    ("Detroit", "MI", "482"),
    ("Philadelphia", "PA", "191"),
    ("Arlington", "VA", "222"),
    ("Silver Spring", "MD", "209"),
    ("Washington", "DC", "200"),
    ("Las Vegas", "NV", "891"),
    ("Salt Lake City", "UT", "841"),
    ("Portland", "OR", "972"),
    ("Honolulu", "HI", "968"),
    ("Anchorage", "AK", "995"),
    ("Omaha", "NE", "681"),
    ("Nashville", "TN", "372"),
];

pub(super) const STREET_NAMES: [&str; 20] = [
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Martin Luther King Jr",
    "Cesar Chavez",
    "Broadway",
    "Park",
    "Lake",
    "Hill",
    "Sunset",
    "Bolsa",
    "Pulaski",
    "Milwaukee",
    "Commerce",
    "Story",
];

pub(super) const STREET_SUFFIXES: [&str; 12] = [
    "St", "St.", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Ct", "Pl", "Street", "Avenue",
];

pub(super) const DIRECTIONS: [&str; 6] = ["N", "S", "E", "W", "NW", "SE"];

pub(super) const UNITS: [&str; 6] = ["Apt", "Apt.", "Unit", "Ste", "#", "Apartment"];

/// Territory places: (city, state, ZIPs).
pub(super) const TERRITORY_PLACES: [(&str, &str, &[&str]); 8] = [
    ("San Juan", "PR", &["00926", "00907", "00917"]),
    ("Ponce", "PR", &["00730", "00716"]),
    ("Bayamón", "PR", &["00956", "00961"]),
    ("Mayagüez", "PR", &["00680", "00682"]),
    ("St. Thomas", "VI", &["00802"]),
    ("Christiansted", "VI", &["00820"]),
    ("Tamuning", "GU", &["96913"]),
    ("Dededo", "GU", &["96929"]),
];

pub(super) const PR_STREETS: [&str; 6] = [
    "Luna",
    "Sol",
    "Loíza",
    "San Francisco",
    "Fortaleza",
    "Acacia",
];
pub(super) const PR_URBANIZATIONS: [&str; 4] = [
    "Las Gladiolas",
    "Santa Juanita",
    "Villa Carolina",
    "Los Maestros",
];

/// Military: (line-1 pattern, city, state, ZIPs). `{n}` and `{m}` are
/// replaced by numbers.
pub(super) const MILITARY: [(&str, &str, &str, &[&str]); 6] = [
    (
        "PSC {n} Box {m}",
        "APO",
        "AE",
        &["09021", "09096", "09107", "09136", "09180", "09630"],
    ),
    (
        "Unit {n} Box {m}",
        "APO",
        "AP",
        &["96205", "96218", "96267", "96319", "96362"],
    ),
    ("USS Nimitz (CVN 68)", "FPO", "AP", &["96620"]),
    ("PSC {n} Box {m}", "DPO", "AE", &["09498", "09777"]),
    ("Unit {n} Box {m}", "APO", "AA", &["34020", "34038"]),
    ("Unit {n} Box {m}", "FPO", "AA", &["34090"]),
];

pub(super) const CARE_OF: [&str; 5] = [
    "c/o Catholic Charities",
    "c/o Refugee Services",
    "María López",
    "c/o Legal Aid Society",
    "James Okafor",
];
