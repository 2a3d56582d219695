//! The values that flow between pipeline stages.
//!
//! `Filing` is a validated input row: every field has been checked and
//! normalised by [`crate::intake`], so later stages never re-validate. A row
//! that fails validation becomes a [`Reject`] instead, carrying the input line
//! number and a sentence a clerk can act on.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A USCIS-style receipt number: three uppercase letters and ten digits,
/// for example `IOE0912345678`. Construct it through [`ReceiptNumber::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReceiptNumber(String);

impl ReceiptNumber {
    /// Accepts three letters and ten digits; spaces and hyphens are dropped
    /// and letters uppercased. Returns a sentence describing the problem.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\t'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.is_empty() {
            return Err("receipt number is missing".into());
        }
        let ok = cleaned.len() == 13
            && cleaned.bytes().take(3).all(|b| b.is_ascii_uppercase())
            && cleaned.bytes().skip(3).all(|b| b.is_ascii_digit());
        if ok {
            Ok(ReceiptNumber(cleaned))
        } else {
            // Quote at most this much of what was typed: a runaway cell
            // must not be copied whole into a message.
            const QUOTED_MAX_CHARS: usize = 40;
            let typed = raw.trim();
            let mut quoted: String = typed.chars().take(QUOTED_MAX_CHARS).collect();
            if typed.chars().count() > QUOTED_MAX_CHARS {
                quoted.push('…');
            }
            Err(format!(
                "receipt number '{quoted}' is not three letters followed by ten digits (like IOE0912345678)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReceiptNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ReceiptNumber::parse(&s)
    }
}

impl From<ReceiptNumber> for String {
    fn from(r: ReceiptNumber) -> String {
        r.0
    }
}

impl fmt::Display for ReceiptNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ReceiptNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptNumber({})", self.0)
    }
}

/// The forms whose receipt triggers an access-code letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FormType {
    #[serde(rename = "I-485")]
    I485,
    #[serde(rename = "I-131")]
    I131,
    #[serde(rename = "I-765")]
    I765,
}

impl FormType {
    /// The canonical spelling, `I-485`.
    pub fn code(self) -> &'static str {
        match self {
            FormType::I485 => "I-485",
            FormType::I131 => "I-131",
            FormType::I765 => "I-765",
        }
    }

    /// The form's official title.
    pub fn title(self) -> &'static str {
        match self {
            FormType::I485 => "Application to Register Permanent Residence or Adjust Status",
            FormType::I131 => "Application for Travel Document",
            FormType::I765 => "Application for Employment Authorization",
        }
    }
}

impl fmt::Display for FormType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Letter language; one template per language in `templates/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Es,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }
}

/// A mailing address already normalised to USPS Publication 28 style:
/// uppercase, no punctuation except the ZIP+4 hyphen, each line at most
/// [`crate::address::MAX_LINE_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// `C/O ...` line, when the filing has one.
    pub in_care_of: Option<String>,
    /// Delivery address line (street, PO box, or military unit line);
    /// a secondary unit may have been merged into it when it fits.
    pub line1: String,
    /// Secondary line, only when it could not be merged into `line1`.
    pub line2: Option<String>,
    /// City, or APO/FPO/DPO for military mail.
    pub city: String,
    /// USPS state, territory or military (AA/AE/AP) code.
    pub state: String,
    pub zip5: String,
    pub zip4: Option<String>,
}

impl Address {
    /// `ZIP` or `ZIP-PLUS4`.
    pub fn zip(&self) -> String {
        match &self.zip4 {
            Some(p4) => format!("{}-{}", self.zip5, p4),
            None => self.zip5.clone(),
        }
    }

    /// The last line: `CITY ST ZIP` (two spaces are not used; Pub 28 allows one).
    pub fn last_line(&self) -> String {
        format!("{} {} {}", self.city, self.state, self.zip())
    }
}

/// A validated filing: one row of the input that passed every check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    /// 1-based physical line number in the input file (header is line 1).
    pub line: u64,
    pub receipt: ReceiptNumber,
    pub form: FormType,
    pub received_date: NaiveDate,
    /// Names as given, NFC-normalised, trimmed, mixed case kept for the letter body.
    pub given_name: String,
    pub middle_name: Option<String>,
    pub family_name: String,
    /// `A` followed by 9 digits, when present.
    pub a_number: Option<String>,
    /// The recipient name line as printed in the window (uppercase, at most 40 chars).
    pub name_line: String,
    pub address: Address,
    pub language: Language,
}

impl Filing {
    /// Full name for the letter body ("Dear ..."), mixed case.
    pub fn full_name(&self) -> String {
        match &self.middle_name {
            Some(m) => format!("{} {} {}", self.given_name, m, self.family_name),
            None => format!("{} {}", self.given_name, self.family_name),
        }
    }

    /// The lines of the recipient block, top to bottom, as printed in the window.
    pub fn address_lines(&self) -> Vec<String> {
        let mut lines = vec![self.name_line.clone()];
        if let Some(c) = &self.address.in_care_of {
            lines.push(c.clone());
        }
        lines.push(self.address.line1.clone());
        if let Some(l2) = &self.address.line2 {
            lines.push(l2.clone());
        }
        lines.push(self.address.last_line());
        lines
    }
}

/// A row that could not become a [`Filing`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// 1-based physical line number in the input file.
    pub line: u64,
    /// The receipt number as typed, when one could be read.
    pub receipt_number: Option<String>,
    /// The input column at fault (`receipt_number`, `zip`, ...), or `row`.
    pub field: String,
    /// A plain-English sentence a clerk can act on.
    pub reason: String,
}

/// Status of one issuance in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssuanceStatus {
    Active,
    Superseded,
    Revoked,
    /// Used once, by one account: the code's one use is spent.
    Redeemed,
    /// The letter came back as undeliverable: its code never reached the
    /// applicant, so it was stopped the day the return was recorded.
    Returned,
}

impl IssuanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuanceStatus::Active => "active",
            IssuanceStatus::Superseded => "superseded",
            IssuanceStatus::Revoked => "revoked",
            IssuanceStatus::Redeemed => "redeemed",
            IssuanceStatus::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(IssuanceStatus::Active),
            "superseded" => Some(IssuanceStatus::Superseded),
            "revoked" => Some(IssuanceStatus::Revoked),
            "redeemed" => Some(IssuanceStatus::Redeemed),
            "returned" => Some(IssuanceStatus::Returned),
            _ => None,
        }
    }
}

/// The mail piece ID of an issuance: the receipt number and the two-digit
/// issue number, so it never depends on the order rows were processed in.
pub fn piece_id(receipt: &ReceiptNumber, issue_no: u32) -> String {
    format!("{}-{:02}", receipt.as_str(), issue_no)
}
