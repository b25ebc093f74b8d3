//! Daemon configuration: a TOML file with `TALKO_*` environment overrides.
//!
//! Owns: defaults, parsing and validation of settings. Must never: read settings anywhere
//! else (handlers get them through `AppState`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// All settings of `talkod`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite file and the blob store.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `sqlite://<data_dir>/talko.db`.
    pub database_url: String,
    /// Emit logs as JSON lines.
    pub log_json: bool,
    /// SMTP settings; without them verification codes are written to the log.
    pub smtp: Option<SmtpConfig>,
    /// Access-token lifetime in seconds.
    pub access_ttl_s: i64,
    /// Refresh-token lifetime in seconds.
    pub refresh_ttl_s: i64,
    /// Largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// Largest upload (photo, voice note) accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Largest contact-hash batch per lookup.
    pub contacts_max_batch: usize,
    /// Contact lookups allowed per account per minute.
    pub contacts_per_minute: u32,
    /// Bearer token for operator endpoints (pepper rotation); unset disables them.
    pub admin_token: Option<String>,
    /// Database pool size (readers on SQLite); 0 picks a default.
    pub db_pool_size: u32,
    /// Seconds to wait for in-flight requests on shutdown.
    pub drain_timeout_s: u64,
    /// `redis://host:port/`: fan live messages out to the other nodes (multi-node
    /// deployments on PostgreSQL); unset for a single node.
    pub redis_url: Option<String>,
}

/// SMTP relay settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtps://user:pass@host:465` or `smtp://host:587?tls=required` (lettre URL form).
    pub url: String,
    /// The From address of verification mail.
    pub from: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            log_json: false,
            smtp: None,
            access_ttl_s: 3600,
            refresh_ttl_s: 30 * 24 * 3600,
            max_json_bytes: 64 * 1024,
            max_upload_bytes: 25 * 1024 * 1024,
            contacts_max_batch: 1000,
            contacts_per_minute: 10,
            admin_token: None,
            db_pool_size: 0,
            drain_timeout_s: 30,
            redis_url: None,
        }
    }
}

/// A configuration problem, named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file is not valid TOML for `Config`.
    #[error("parsing config: {0}")]
    Parse(#[from] toml::de::Error),
    /// An environment override has a bad value.
    #[error("environment variable {0} has an invalid value")]
    Env(&'static str),
}

impl Config {
    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Loads `path` (if given) and applies environment overrides from `env`.
    pub fn load(
        path: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut cfg = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.to_owned(), e))?;
                Self::from_toml(&text)?
            }
            None => Self::default(),
        };
        cfg.apply_env(env)?;
        Ok(cfg)
    }

    /// Applies `TALKO_*` overrides.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            slot: &mut T,
        ) -> Result<(), ConfigError> {
            if let Some(v) = env(name) {
                *slot = v.trim().parse().map_err(|_| ConfigError::Env(name))?;
            }
            Ok(())
        }
        parse(&env, "TALKO_LISTEN", &mut self.listen)?;
        if let Some(v) = env("TALKO_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("TALKO_DATABASE_URL") {
            self.database_url = v;
        }
        parse(&env, "TALKO_LOG_JSON", &mut self.log_json)?;
        parse(&env, "TALKO_ACCESS_TTL_S", &mut self.access_ttl_s)?;
        parse(&env, "TALKO_REFRESH_TTL_S", &mut self.refresh_ttl_s)?;
        parse(&env, "TALKO_MAX_JSON_BYTES", &mut self.max_json_bytes)?;
        parse(&env, "TALKO_MAX_UPLOAD_BYTES", &mut self.max_upload_bytes)?;
        parse(
            &env,
            "TALKO_CONTACTS_MAX_BATCH",
            &mut self.contacts_max_batch,
        )?;
        parse(
            &env,
            "TALKO_CONTACTS_PER_MINUTE",
            &mut self.contacts_per_minute,
        )?;
        parse(&env, "TALKO_DB_POOL_SIZE", &mut self.db_pool_size)?;
        parse(&env, "TALKO_DRAIN_TIMEOUT_S", &mut self.drain_timeout_s)?;
        if let Some(v) = env("TALKO_REDIS_URL") {
            self.redis_url = Some(v).filter(|s| !s.is_empty());
        }
        if let Some(v) = env("TALKO_ADMIN_TOKEN") {
            self.admin_token = Some(v).filter(|s| !s.is_empty());
        }
        if let Some(url) = env("TALKO_SMTP_URL") {
            let from = env("TALKO_SMTP_FROM").ok_or(ConfigError::Env("TALKO_SMTP_FROM"))?;
            self.smtp = Some(SmtpConfig { url, from });
        }
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file under the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("talko.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values() {
        let mut cfg = Config::from_toml("listen = \"127.0.0.1:9000\"\ndata_dir = \"/x\"").unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        cfg.apply_env(|k| (k == "TALKO_LISTEN").then(|| "127.0.0.1:9100".to_owned()))
            .unwrap();
        assert_eq!(cfg.listen.port(), 9100);
        assert_eq!(cfg.database_url(), "sqlite:///x/talko.db?mode=rwc");
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let text = include_str!("../talkod.example.toml");
        let cfg = Config::from_toml(text).unwrap();
        let def = Config::default();
        assert_eq!(cfg.listen, def.listen);
        assert_eq!(cfg.max_upload_bytes, def.max_upload_bytes);
        assert_eq!(cfg.refresh_ttl_s, def.refresh_ttl_s);
        assert!(cfg.smtp.is_none() && cfg.admin_token.is_none());
    }

    #[test]
    fn unknown_keys_and_bad_env_values_are_rejected() {
        assert!(Config::from_toml("lisen = 1").is_err());
        let mut cfg = Config::default();
        let err = cfg.apply_env(|k| (k == "TALKO_LISTEN").then(|| "nope".to_owned()));
        assert!(matches!(err, Err(ConfigError::Env("TALKO_LISTEN"))));
    }
}
