//! `--config` and `--templates`: the agency's settings and wording.
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use access_letters::config::Config;
use access_letters::ledger::{AttemptLimit, GuessLimit};
use access_letters::letter::Templates;
use access_letters::ops::{attempt_limit, guess_limit, Clock};
use access_letters::render::Renderer;

/// Wording and agency settings.
#[derive(Args, Clone, Debug)]
pub struct Look {
    /// Agency configuration (TOML) [default: the built-in templates/agency.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder with letter.en.tera and letter.es.tera [default: the built-in templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

impl Look {
    pub fn renderer(&self) -> Result<Renderer> {
        let config = agency_config(self.config.as_deref())?;
        let templates = match &self.templates {
            Some(d) => Templates::from_dir(d)?,
            None => Templates::builtin(),
        };
        Ok(Renderer::new(templates, config))
    }

    /// The system clock, today in the agency's time zone (`[agency] time_zone`).
    pub fn clock(&self) -> Result<Clock> {
        Ok(Clock::in_zone(self.zone()?))
    }

    /// The agency's time zone (`[agency] time_zone`).
    pub fn zone(&self) -> Result<chrono_tz::Tz> {
        Ok(agency_config(self.config.as_deref())?.agency.time_zone)
    }
}

/// The agency configuration at `path`, else the built-in one.
pub fn agency_config(path: Option<&Path>) -> Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default_config(),
    })
}

/// `--config` on commands that need only the wrong-code limit from it.
#[derive(Args, Clone, Debug)]
pub struct LimitConfig {
    /// Agency configuration (TOML), for the wrong-code limit [default: the built-in templates/agency.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl LimitConfig {
    /// The wrong-code limit of `[codes]` (the CLI doors': per receipt).
    pub fn limit(&self) -> Result<AttemptLimit> {
        Ok(attempt_limit(&agency_config(self.config.as_deref())?.codes))
    }
    /// The service's limit on the one guessing, from `[codes]`.
    pub fn guess_limit(&self) -> Result<GuessLimit> {
        Ok(guess_limit(&agency_config(self.config.as_deref())?.codes))
    }

    /// The system clock, today in the agency's time zone (`[agency] time_zone`).
    pub fn clock(&self) -> Result<Clock> {
        Ok(Clock::in_zone(self.zone()?))
    }

    /// The agency's time zone (`[agency] time_zone`).
    pub fn zone(&self) -> Result<chrono_tz::Tz> {
        Ok(agency_config(self.config.as_deref())?.agency.time_zone)
    }
}
