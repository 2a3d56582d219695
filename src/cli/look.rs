//! `--config` and `--templates`: the agency's settings and wording.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::config::Config;
use access_letters::letter::Templates;
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
        let config = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default_config(),
        };
        let templates = match &self.templates {
            Some(d) => Templates::from_dir(d)?,
            None => Templates::builtin(),
        };
        Ok(Renderer::new(templates, config))
    }
}
