//! Run configuration: the agency's details, code validity, mail options and
//! the envelope geometry.
//!
//! The shipped defaults live in `templates/agency.toml` and are compiled into
//! the binary, so a first run needs no configuration file. An operator may
//! point `--config` at an edited copy; every field must then be present, so a
//! typo fails loudly instead of silently falling back to a default.

use std::path::Path;

use serde::Deserialize;

/// The envelope geometry is plain data owned by [`crate::envelope`]; it is
/// re-exported here because it is read as part of the configuration.
pub use crate::envelope::{Envelope, Window};

/// The agency configuration shipped with the program.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../templates/agency.toml");

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub agency: Agency,
    pub codes: Codes,
    pub mail: Mail,
    pub envelope: Envelope,
    /// The print vendor's SFTP server, for `deliver`; optional, since a
    /// batch can be made (and tested) without one.
    #[serde(default)]
    pub vendor: Option<Vendor>,
}

/// `[vendor]`: where `deliver` hands a finished batch, and how long the
/// vendor has to acknowledge it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    pub host: String,
    #[serde(default = "default_sftp_port")]
    pub port: u16,
    pub user: String,
    /// The private key `deliver` logs in with (OpenSSH format). A relative
    /// path is read from the configuration file's folder.
    pub key_file: std::path::PathBuf,
    /// The vendor's host key must be in this OpenSSH known_hosts file; an
    /// unknown or changed host key is refused. Relative as `key_file`.
    pub known_hosts: std::path::PathBuf,
    /// The folder on the server the vendor takes batches from.
    pub remote_dir: String,
    /// Whether the vendor mails what it receives (`production = true`): a
    /// batch made with a test key is never delivered to a production press.
    #[serde(rename = "production", deserialize_with = "vendor_kind")]
    pub kind: VendorKind,
    /// Days the vendor has to acknowledge a delivered piece (printed or
    /// mailed) before `status --mail` lists it.
    #[serde(default = "default_ack_within_days")]
    pub ack_within_days: u32,
    /// Seconds one SFTP step (connect, write, rename) may take before
    /// `deliver` gives up: a stalled server never hangs the night.
    #[serde(default = "default_vendor_timeout_seconds")]
    pub timeout_seconds: u64,
}

/// What a vendor does with the letters it receives: `production = true` or
/// `false` in `[vendor]`, read once into this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendorKind {
    /// A production press: it prints and mails what it receives.
    Production,
    /// A test vendor (a proofing folder, the vendor's test line): nothing
    /// it receives is mailed.
    Test,
}

impl VendorKind {
    /// The word the operator's messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            VendorKind::Production => "production",
            VendorKind::Test => "test",
        }
    }
}

/// `production = true | false`, the stored form of a [`VendorKind`].
fn vendor_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<VendorKind, D::Error> {
    Ok(match bool::deserialize(d)? {
        true => VendorKind::Production,
        false => VendorKind::Test,
    })
}

fn default_sftp_port() -> u16 {
    22
}

/// Days the vendor has to acknowledge a piece when `[vendor]` says not.
pub const DEFAULT_ACK_WITHIN_DAYS: u32 = 5;

fn default_ack_within_days() -> u32 {
    DEFAULT_ACK_WITHIN_DAYS
}

fn default_vendor_timeout_seconds() -> u64 {
    60
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub name: String,
    pub department: String,
    pub return_address: Vec<String>,
    pub portal_url: String,
    pub contact_center: String,
    pub contact_center_tty: String,
    /// The agency's time zone (an IANA name): "today" (the default batch
    /// date, the date checks, the day a code is checked for) is the date
    /// there, whatever zone the host runs in.
    #[serde(default = "default_time_zone", deserialize_with = "time_zone")]
    pub time_zone: chrono_tz::Tz,
}

/// The time zone when agency.toml names none: the agency's offices.
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::America::New_York;

fn default_time_zone() -> chrono_tz::Tz {
    DEFAULT_TIME_ZONE
}

fn time_zone<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.trim().parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "agency.time_zone '{name}' is not a time zone of the IANA database (such as America/New_York or America/Chicago)"
        ))
    })
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Codes {
    /// Days after the notice date during which a code may be used.
    pub valid_days: u32,
    /// Wrong or mistyped codes `verify` takes for a receipt within
    /// `lockout_minutes` before it locks the receipt for that long.
    #[serde(default = "default_max_wrong_codes")]
    pub max_wrong_codes: u32,
    /// The window wrong codes are counted in, and the length of a lock.
    #[serde(default = "default_lockout_minutes")]
    pub lockout_minutes: u32,
    /// The service's limit on the one guessing (see `ledger::guesses`):
    /// wrong codes one portal account may try within `lockout_minutes`.
    #[serde(default = "default_max_wrong_per_account")]
    pub max_wrong_per_account: u32,
    /// Wrong codes one client (address, or the portal's sign-in id) may try.
    #[serde(default = "default_max_wrong_per_client")]
    pub max_wrong_per_client: u32,
    /// A receipt guessed at from more distinct sources than this within
    /// the window is flagged as targeted.
    #[serde(default = "default_targeted_sources")]
    pub targeted_sources: u32,
}

fn default_max_wrong_per_account() -> u32 {
    5
}

fn default_max_wrong_per_client() -> u32 {
    20
}

fn default_targeted_sources() -> u32 {
    3
}

fn default_max_wrong_codes() -> u32 {
    5
}

fn default_lockout_minutes() -> u32 {
    10
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub mail_class: String,
    /// Intelligent Mail mailer ID; empty means no barcode.
    pub mailer_id: String,
    pub barcode_id: String,
    pub service_type: String,
}

impl Mail {
    /// The mailer ID when a barcode is to be printed.
    pub fn mailer_id(&self) -> Option<&str> {
        let id = self.mailer_id.trim();
        (!id.is_empty()).then_some(id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// The compiled-in defaults.
    pub fn default_config() -> Config {
        Config::parse(DEFAULT_CONFIG_TOML, "built-in templates/agency.toml")
            .expect("the shipped agency.toml is valid (checked by a test)")
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        if let (Some(v), Some(folder)) = (config.vendor.as_mut(), path.parent()) {
            v.key_file = folder.join(&v.key_file);
            v.known_hosts = folder.join(&v.known_hosts);
        }
        Ok(config)
    }

    /// Parses configuration text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if config.codes.valid_days == 0 || config.codes.valid_days > 365 {
            return Err(invalid(format!(
                "codes.valid_days is {}; it must be between 1 and 365",
                config.codes.valid_days
            )));
        }
        if !(1..=100).contains(&config.codes.max_wrong_codes)
            || !(1..=24 * 60).contains(&config.codes.lockout_minutes)
        {
            return Err(invalid(format!(
                "codes.max_wrong_codes is {} and codes.lockout_minutes is {}; they must be 1 to 100 codes and 1 to 1440 minutes",
                config.codes.max_wrong_codes, config.codes.lockout_minutes
            )));
        }
        let c = &config.codes;
        if !(1..=100).contains(&c.max_wrong_per_account)
            || !(1..=10_000).contains(&c.max_wrong_per_client)
            || !(1..=1_000).contains(&c.targeted_sources)
        {
            return Err(invalid(format!(
                "codes.max_wrong_per_account is {}, codes.max_wrong_per_client {} and codes.targeted_sources {}; they must be 1 to 100, 1 to 10000 and 1 to 1000",
                c.max_wrong_per_account, c.max_wrong_per_client, c.targeted_sources
            )));
        }
        if config.agency.return_address.is_empty() || config.agency.return_address.len() > 4 {
            return Err(invalid(
                "agency.return_address must have 1 to 4 lines to fit the return window".into(),
            ));
        }
        crate::envelope::PageWindows::from_envelope(&config.envelope).map_err(invalid)?;
        if let Some(v) = &config.vendor {
            check_remote_dir(&v.remote_dir).map_err(|e| invalid(format!("vendor.{e}")))?;
        }
        if let Some(mailer_id) = config.mail.mailer_id() {
            // Check the barcode fields now, not at the first letter of a run.
            crate::imb::encode(&crate::imb::ImbFields {
                barcode_id: config.mail.barcode_id.clone(),
                service_type: config.mail.service_type.clone(),
                mailer_id: mailer_id.to_string(),
                serial: "0".repeat(crate::imb::serial_digits(mailer_id)),
                routing: String::new(),
            })
            .map_err(|e| invalid(format!("mail: {e}")))?;
        }
        Ok(config)
    }
}

/// Checks that `dir` names one folder on the server plainly: an absolute
/// path (the login folder differs between servers and accounts), with no
/// `..` (which would leave the folder the vendor agreed to) and no
/// control characters.
pub fn check_remote_dir(dir: &str) -> Result<(), String> {
    let why = if !dir.starts_with('/') {
        "it is not an absolute path (start it with /)"
    } else if dir.split('/').any(|part| part == "..") {
        "it contains `..`"
    } else if dir.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(format!(
        "remote_dir {dir:?} is refused: {why}; write the folder on the vendor's server as an absolute path without `..`, such as /incoming/access-letters"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guesser_limits_are_read_and_bounded() {
        let c = Config::parse(DEFAULT_CONFIG_TOML, "built-in").expect("the defaults");
        assert_eq!(
            (
                c.codes.max_wrong_per_account,
                c.codes.max_wrong_per_client,
                c.codes.targeted_sources
            ),
            (5, 20, 3)
        );
        let zero =
            DEFAULT_CONFIG_TOML.replace("max_wrong_per_client = 20", "max_wrong_per_client = 0");
        let e = Config::parse(&zero, "agency.toml").expect_err("0 is refused");
        assert!(
            e.to_string().contains("codes.max_wrong_per_client 0"),
            "{e}"
        );
    }

    #[test]
    fn remote_dirs_are_absolute_without_dot_dot() {
        for dir in ["/in", "/incoming/access-letters/", "/", "/a..b/c"] {
            check_remote_dir(dir).unwrap();
        }
        for (dir, why) in [
            ("in", "not an absolute path"),
            ("", "not an absolute path"),
            ("/in/../etc", "contains `..`"),
            ("/in/..", "contains `..`"),
            ("/in\n", "control character"),
        ] {
            let err = check_remote_dir(dir).unwrap_err();
            assert!(err.contains(why), "{dir:?}: {err}");
        }
    }

    #[test]
    fn shipped_defaults_parse() {
        let c = Config::default_config();
        assert_eq!(c.codes.valid_days, 90);
        assert_eq!(c.agency.contact_center, "800-375-5283");
        assert_eq!(c.agency.contact_center_tty, "800-767-1833");
        assert_eq!(c.mail.mailer_id(), None);
    }

    #[test]
    fn time_zone_defaults_to_new_york_and_is_checked() {
        assert_eq!(
            Config::default_config().agency.time_zone,
            chrono_tz::America::New_York
        );
        let without = DEFAULT_CONFIG_TOML.replace("time_zone = \"America/New_York\"\n", "");
        assert!(!without.contains("time_zone"));
        let c = Config::parse(&without, "old agency.toml").expect("parses");
        assert_eq!(c.agency.time_zone, DEFAULT_TIME_ZONE);
        let chicago = DEFAULT_CONFIG_TOML.replace("America/New_York", "America/Chicago");
        let c = Config::parse(&chicago, "x.toml").unwrap();
        assert_eq!(c.agency.time_zone, chrono_tz::America::Chicago);
        let typo = DEFAULT_CONFIG_TOML.replace("America/New_York", "America/NewYork");
        let err = Config::parse(&typo, "x.toml").unwrap_err().to_string();
        assert!(
            err.contains("'America/NewYork' is not a time zone"),
            "{err}"
        );
    }

    #[test]
    fn shipped_envelope_is_the_design_cards_number_10() {
        let env = Config::default_config().envelope;
        assert_eq!(env, crate::envelope::tests::number_10());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = DEFAULT_CONFIG_TOML.replace("valid_days = 90", "valid_dayz = 90");
        let err = Config::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("valid_dayz"), "{err}");
    }

    #[test]
    fn barcode_settings_are_checked_when_a_mailer_id_is_set() {
        let good = DEFAULT_CONFIG_TOML.replace("mailer_id = \"\"", "mailer_id = \"123456\"");
        assert_eq!(
            Config::parse(&good, "x.toml").unwrap().mail.mailer_id(),
            Some("123456")
        );
        let bad = DEFAULT_CONFIG_TOML.replace("mailer_id = \"\"", "mailer_id = \"12345\"");
        let err = Config::parse(&bad, "x.toml").unwrap_err().to_string();
        assert!(err.contains("mail:") && err.contains("mailer ID"), "{err}");
        let bad_id = good.replace("barcode_id = \"00\"", "barcode_id = \"07\"");
        let err = Config::parse(&bad_id, "x.toml").unwrap_err().to_string();
        assert!(err.contains("barcode ID"), "{err}");
    }

    #[test]
    fn a_remote_dir_that_is_relative_or_climbs_is_refused() {
        let vendor = |dir: &str| {
            format!(
                "{DEFAULT_CONFIG_TOML}\n[vendor]\nhost = \"sftp.vendor.example\"\nuser = \"agency\"\nkey_file = \"k\"\nknown_hosts = \"kh\"\nremote_dir = \"{dir}\"\nproduction = false\n"
            )
        };
        let ok = Config::parse(&vendor("/incoming/access-letters"), "x.toml").unwrap();
        assert_eq!(ok.vendor.unwrap().remote_dir, "/incoming/access-letters");
        for (dir, why) in [
            ("/incoming/../../etc", "contains `..`"),
            ("incoming", "not an absolute path"),
        ] {
            let err = Config::parse(&vendor(dir), "x.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("x.toml") && err.contains("vendor.remote_dir"),
                "{err}"
            );
            assert!(err.contains(why), "{dir}: {err}");
        }
    }

    #[test]
    fn the_vendor_production_key_is_read_as_its_kind() {
        let vendor = |production: &str| {
            format!(
                "{DEFAULT_CONFIG_TOML}\n[vendor]\nhost = \"h\"\nuser = \"u\"\nkey_file = \"k\"\nknown_hosts = \"kh\"\nremote_dir = \"/in\"\n{production}"
            )
        };
        let kind = |production: &str| {
            Config::parse(&vendor(production), "x.toml").map(|c| c.vendor.expect("a vendor").kind)
        };
        assert_eq!(kind("production = true\n").unwrap(), VendorKind::Production);
        assert_eq!(kind("production = false\n").unwrap(), VendorKind::Test);
        for bad in ["", "production = \"yes\"\n"] {
            let err = kind(bad).unwrap_err().to_string();
            assert!(err.contains("production"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn validity_bounds_are_checked() {
        // An agency.toml from before the wrong-code limit gets the defaults.
        let old = DEFAULT_CONFIG_TOML
            .replace("max_wrong_codes = 5\n", "")
            .replace("lockout_minutes = 10\n", "");
        assert!(!old.contains("lockout_minutes ="));
        let c = Config::parse(&old, "old agency.toml").expect("parses");
        assert_eq!((c.codes.max_wrong_codes, c.codes.lockout_minutes), (5, 10));
        let text = DEFAULT_CONFIG_TOML.replace("lockout_minutes = 10", "lockout_minutes = 0");
        let err = Config::parse(&text, "agency.toml").unwrap_err().to_string();
        assert!(err.contains("lockout_minutes is 0"), "{err}");
        let text = DEFAULT_CONFIG_TOML.replace("valid_days = 90", "valid_days = 0");
        let err = Config::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("valid_days is 0"), "{err}");
    }
}
