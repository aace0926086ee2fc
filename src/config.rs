//! Configuration: built-in defaults, then `helpdesk.toml`, then `HELPDESK_*`
//! environment variables (highest precedence).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::mail::sources::imap::account::{ImapAccount, Options as ImapOptions};
use crate::mail::sources::imap::DEFAULT_POLL_SECONDS;
use crate::mail::subject_tag::{SubjectTag, DEFAULT_SUBJECT_TAG};
use crate::people::EmailAddress;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/helpdesk.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "helpdesk.toml";
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 10 << 20;
pub const DEFAULT_MAX_MAIL_BYTES: usize = 25 << 20;
pub const DEFAULT_API_REQUESTS_PER_MINUTE: u32 = 1200;
/// Seconds after which a mail a sender claimed but never marked is taken
/// over (its sender died). Above the SMTP timeout (30 s), so a live
/// sender is never overtaken.
pub const DEFAULT_OUTBOX_RECLAIM_SECONDS: u64 = 120;
pub const DEFAULT_CSAT_DELAY_HOURS: u64 = 24;
pub const DEFAULT_CSAT_REMINDER_DAYS: u64 = 3;
/// See `crate::background`.
pub const DEFAULT_BACKGROUND_NICE: u64 = crate::background::DEFAULT_NICE as u64;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The settings file: every key optional, unknown keys rejected (typos must not pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    base_url: Option<String>,
    smtp_url: Option<String>,
    support_address: Option<String>,
    secret: Option<String>,
    log_format: Option<String>,
    max_attachment_bytes: Option<u64>,
    api_requests_per_minute: Option<u64>,
    outbox_reclaim_seconds: Option<u64>,
    max_mail_bytes: Option<u64>,
    subject_tag: Option<String>,
    maildirs: Option<Vec<String>>,
    imap: Option<Vec<ImapFileEntry>>,
    imap_poll_seconds: Option<u64>,
    csat_enabled: Option<bool>,
    csat_delay_hours: Option<u64>,
    csat_reminder_days: Option<u64>,
    background_nice: Option<u64>,
}

/// One `[[imap]]` table: the URL, and its options as keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImapFileEntry {
    url: String,
    mailbox: Option<String>,
    after: Option<String>,
    tls: Option<String>,
    ca_file: Option<String>,
}

/// `HELPDESK_IMAP_URLS`: URLs separated by white space or by commas (a
/// comma splits only where the next URL starts: passwords may hold one).
fn split_imap_urls(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in v.split_whitespace() {
        let mut rest = piece;
        loop {
            let next = [",imap://", ",imaps://"]
                .iter()
                .filter_map(|p| rest.find(p))
                .min();
            match next {
                Some(i) => {
                    out.push(rest[..i].to_string());
                    rest = &rest[i + 1..];
                }
                None => {
                    out.push(rest.to_string());
                    break;
                }
            }
        }
    }
    out.into_iter()
        .map(|u| u.trim_matches(',').to_string())
        .filter(|u| !u.is_empty())
        .collect()
}

/// A maildir `serve` watches and `fetch` reads, and the mailbox (support
/// address) its mail arrives at, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirSource {
    pub path: PathBuf,
    pub mailbox: Option<EmailAddress>,
}

impl MaildirSource {
    /// `PATH` or `PATH=ADDRESS`.
    pub fn parse(spec: &str) -> Result<MaildirSource, String> {
        let spec = spec.trim();
        let (path, mailbox) = match spec.rsplit_once('=') {
            Some((p, a)) if a.contains('@') => (p.trim(), Some(EmailAddress::parse(a)?)),
            _ => (spec, None),
        };
        if path.is_empty() {
            return Err(format!("{spec:?}: a maildir path is required"));
        }
        Ok(MaildirSource {
            path: PathBuf::from(path),
            mailbox,
        })
    }
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub base_url: Option<String>,
    pub smtp_url: Option<String>,
    pub support_address: Option<String>,
    /// Signing key; when unset one is generated and stored in the database.
    pub secret: Option<String>,
    pub log_format: LogFormat,
    /// Largest file a web form accepts (each); the whole upload may hold a few.
    pub max_attachment_bytes: usize,
    /// API requests each token may make per minute (a burst of as many,
    /// refilled evenly); 0 turns the limit off.
    pub api_requests_per_minute: u32,
    /// See `DEFAULT_OUTBOX_RECLAIM_SECONDS`.
    pub outbox_reclaim_seconds: u64,
    /// Largest mail ingestion processes; a bigger one is quarantined.
    pub max_mail_bytes: usize,
    /// The ticket tag mail subjects carry.
    pub subject_tag: SubjectTag,
    pub maildirs: Vec<MaildirSource>,
    /// IMAP accounts `serve` polls and `fetch` reads.
    pub imap: Vec<ImapAccount>,
    /// How much lower than the requests background work runs (nice
    /// steps, 0 to 19; 0: the same priority). See `crate::background`.
    pub background_nice: i32,
    /// Seconds between IMAP polls in `serve` (the longest IDLE, too).
    pub imap_poll_seconds: u64,
    /// Satisfaction surveys after resolution.
    pub csat_enabled: bool,
    /// Hours between resolution and the survey mail (0: the job's next pass).
    pub csat_delay_hours: u64,
    /// Days after the survey for its one reminder (0: no reminder).
    pub csat_reminder_days: u64,
}

impl fmt::Debug for Config {
    // Secrets and credentials in URLs never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("support_address", &self.support_address)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("log_format", &self.log_format)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("api_requests_per_minute", &self.api_requests_per_minute)
            .field("outbox_reclaim_seconds", &self.outbox_reclaim_seconds)
            .field("max_mail_bytes", &self.max_mail_bytes)
            .field("subject_tag", &self.subject_tag.to_string())
            .field("maildirs", &self.maildirs)
            .field("imap", &self.imap)
            .field("imap_poll_seconds", &self.imap_poll_seconds)
            .field("csat_enabled", &self.csat_enabled)
            .field("csat_delay_hours", &self.csat_delay_hours)
            .field("csat_reminder_days", &self.csat_reminder_days)
            .field("background_nice", &self.background_nice)
            .finish()
    }
}

/// Hides the password in `scheme://user:password@host`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_string(),
    }
}

impl Config {
    /// Loads from `path` (or `helpdesk.toml` when it exists) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("HELPDESK_CONFIG").map(PathBuf::from));
        let file = match explicit {
            Some(p) => Some(read_file(&p)?),
            None => {
                let p = PathBuf::from(DEFAULT_CONFIG_FILE);
                if p.exists() {
                    Some(read_file(&p)?)
                } else {
                    None
                }
            }
        };
        Self::from_sources(file, |key| std::env::var(key).ok())
    }

    pub fn from_sources(
        file: Option<(PathBuf, String)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file_cfg = match file {
            Some((path, text)) => {
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                    path,
                    message: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let pick = |env_key: &str, file_value: Option<String>| {
            env(env_key).filter(|v| !v.trim().is_empty()).or(file_value)
        };
        let database_url = pick("HELPDESK_DATABASE_URL", file_cfg.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        let listen_raw =
            pick("HELPDESK_LISTEN", file_cfg.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_raw
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::Invalid {
                key: "listen",
                message: format!("{listen_raw:?} is not an address like 127.0.0.1:8080"),
            })?;
        let base_url = pick("HELPDESK_BASE_URL", file_cfg.base_url)
            .map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &base_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    key: "base_url",
                    message: format!("{u:?} must start with http:// or https://"),
                });
            }
        }
        let log_format = match pick("HELPDESK_LOG_FORMAT", file_cfg.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "log_format",
                    message: format!("{other:?} is neither \"text\" nor \"json\""),
                })
            }
        };
        let max_attachment_bytes =
            match env("HELPDESK_MAX_ATTACHMENT_BYTES").filter(|v| !v.trim().is_empty()) {
                Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    key: "max_attachment_bytes",
                    message: format!("{v:?} is not a number of bytes"),
                })?,
                None => file_cfg
                    .max_attachment_bytes
                    .unwrap_or(DEFAULT_MAX_ATTACHMENT_BYTES as u64),
            };
        if !(1024..=(1u64 << 30)).contains(&max_attachment_bytes) {
            return Err(ConfigError::Invalid {
                key: "max_attachment_bytes",
                message: "must be between 1024 bytes and 1 GiB".into(),
            });
        }
        let api_requests_per_minute =
            match env("HELPDESK_API_REQUESTS_PER_MINUTE").filter(|v| !v.trim().is_empty()) {
                Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    key: "api_requests_per_minute",
                    message: format!("{v:?} is not a number of requests"),
                })?,
                None => file_cfg
                    .api_requests_per_minute
                    .unwrap_or(DEFAULT_API_REQUESTS_PER_MINUTE as u64),
            };
        if api_requests_per_minute > 1_000_000 {
            return Err(ConfigError::Invalid {
                key: "api_requests_per_minute",
                message: "must be at most 1000000 (0 turns the limit off)".into(),
            });
        }
        let outbox_reclaim_seconds =
            match env("HELPDESK_OUTBOX_RECLAIM_SECONDS").filter(|v| !v.trim().is_empty()) {
                Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    key: "outbox_reclaim_seconds",
                    message: format!("{v:?} is not a number of seconds"),
                })?,
                None => file_cfg
                    .outbox_reclaim_seconds
                    .unwrap_or(DEFAULT_OUTBOX_RECLAIM_SECONDS),
            };
        if !(35..=86_400).contains(&outbox_reclaim_seconds) {
            return Err(ConfigError::Invalid {
                key: "outbox_reclaim_seconds",
                message: "must be between 35 (above the 30 s SMTP timeout) and 86400".into(),
            });
        }
        let max_mail_bytes = match env("HELPDESK_MAX_MAIL_BYTES").filter(|v| !v.trim().is_empty()) {
            Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                key: "max_mail_bytes",
                message: format!("{v:?} is not a number of bytes"),
            })?,
            None => file_cfg
                .max_mail_bytes
                .unwrap_or(DEFAULT_MAX_MAIL_BYTES as u64),
        };
        if !(64 * 1024..=(1u64 << 30)).contains(&max_mail_bytes) {
            return Err(ConfigError::Invalid {
                key: "max_mail_bytes",
                message: "must be between 64 KiB and 1 GiB".into(),
            });
        }
        let tag = pick("HELPDESK_SUBJECT_TAG", file_cfg.subject_tag)
            .unwrap_or_else(|| DEFAULT_SUBJECT_TAG.to_string());
        let subject_tag = SubjectTag::parse(&tag).map_err(|message| ConfigError::Invalid {
            key: "subject_tag",
            message,
        })?;
        let maildir_specs: Vec<String> =
            match env("HELPDESK_MAILDIRS").filter(|v| !v.trim().is_empty()) {
                Some(v) => v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                None => file_cfg.maildirs.unwrap_or_default(),
            };
        let maildirs = maildir_specs
            .iter()
            .map(|s| MaildirSource::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| ConfigError::Invalid {
                key: "maildirs",
                message,
            })?;
        let imap = match env("HELPDESK_IMAP_URLS").filter(|v| !v.trim().is_empty()) {
            Some(v) => split_imap_urls(&v)
                .iter()
                .map(|u| ImapAccount::from_url(u))
                .collect::<Result<Vec<_>, _>>(),
            None => file_cfg
                .imap
                .unwrap_or_default()
                .into_iter()
                .map(|e| {
                    ImapAccount::parse(
                        &e.url,
                        ImapOptions {
                            mailbox: e.mailbox,
                            after: e.after,
                            tls: e.tls,
                            ca_file: e.ca_file,
                        },
                    )
                })
                .collect(),
        }
        .map_err(|message| ConfigError::Invalid {
            key: "imap",
            message,
        })?;
        let imap_poll_seconds =
            match env("HELPDESK_IMAP_POLL_SECONDS").filter(|v| !v.trim().is_empty()) {
                Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    key: "imap_poll_seconds",
                    message: format!("{v:?} is not a number of seconds"),
                })?,
                None => file_cfg.imap_poll_seconds.unwrap_or(DEFAULT_POLL_SECONDS),
            };
        if !(1..=86_400).contains(&imap_poll_seconds) {
            return Err(ConfigError::Invalid {
                key: "imap_poll_seconds",
                message: "must be between 1 and 86400 seconds".into(),
            });
        }
        let csat_enabled = match env("HELPDESK_CSAT_ENABLED").filter(|v| !v.trim().is_empty()) {
            Some(v) => parse_bool(&v).ok_or_else(|| ConfigError::Invalid {
                key: "csat_enabled",
                message: format!("{v:?} is neither true nor false"),
            })?,
            None => file_cfg.csat_enabled.unwrap_or(true),
        };
        let number =
            |env_key: &str, key: &'static str, file: Option<u64>, default: u64| match env(env_key)
                .filter(|v| !v.trim().is_empty())
            {
                Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    key,
                    message: format!("{v:?} is not a whole number"),
                }),
                None => Ok(file.unwrap_or(default)),
            };
        let csat_delay_hours = number(
            "HELPDESK_CSAT_DELAY_HOURS",
            "csat_delay_hours",
            file_cfg.csat_delay_hours,
            DEFAULT_CSAT_DELAY_HOURS,
        )?;
        if csat_delay_hours > 24 * 365 {
            return Err(ConfigError::Invalid {
                key: "csat_delay_hours",
                message: "must be between 0 and 8760 hours (a year)".into(),
            });
        }
        let csat_reminder_days = number(
            "HELPDESK_CSAT_REMINDER_DAYS",
            "csat_reminder_days",
            file_cfg.csat_reminder_days,
            DEFAULT_CSAT_REMINDER_DAYS,
        )?;
        // The reminder must come while the link still works.
        if csat_reminder_days >= crate::tickets::csat::LINK_LIFETIME_DAYS {
            return Err(ConfigError::Invalid {
                key: "csat_reminder_days",
                message: format!(
                    "must be between 0 (no reminder) and {} days: survey links expire after {} days",
                    crate::tickets::csat::LINK_LIFETIME_DAYS - 1,
                    crate::tickets::csat::LINK_LIFETIME_DAYS
                ),
            });
        }
        let background_nice = number(
            "HELPDESK_BACKGROUND_NICE",
            "background_nice",
            file_cfg.background_nice,
            DEFAULT_BACKGROUND_NICE,
        )?;
        if background_nice > 19 {
            return Err(ConfigError::Invalid {
                key: "background_nice",
                message: "must be between 0 (background work at the requests' priority) and 19"
                    .into(),
            });
        }
        Ok(Config {
            background_nice: background_nice as i32,
            csat_enabled,
            csat_delay_hours,
            csat_reminder_days,
            imap,
            imap_poll_seconds,
            max_attachment_bytes: max_attachment_bytes as usize,
            api_requests_per_minute: api_requests_per_minute as u32,
            outbox_reclaim_seconds,
            max_mail_bytes: max_mail_bytes as usize,
            subject_tag,
            maildirs,
            database_url,
            listen,
            base_url,
            smtp_url: pick("HELPDESK_SMTP_URL", file_cfg.smtp_url),
            support_address: pick("HELPDESK_SUPPORT_ADDRESS", file_cfg.support_address),
            secret: pick("HELPDESK_SECRET", file_cfg.secret),
            log_format,
        })
    }

    /// The host part used in our Message-IDs.
    pub fn mail_domain(&self) -> String {
        if let Some((_, domain)) = self
            .support_address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
        {
            return domain.trim_end_matches('>').to_ascii_lowercase();
        }
        if let Some(url) = &self.base_url {
            let host = url.split("://").nth(1).unwrap_or("");
            let host = host.split(['/', ':']).next().unwrap_or("");
            if !host.is_empty() {
                return host.to_ascii_lowercase();
            }
        }
        "helpdesk.localhost".to_string()
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn read_file(path: &Path) -> Result<(PathBuf, String), ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| (path.to_path_buf(), text))
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_without_file_or_env() {
        let c = Config::from_sources(None, no_env).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn env_overrides_file() {
        let file = Some((
            PathBuf::from("h.toml"),
            "listen = \"127.0.0.1:9000\"\nsupport_address = \"help@example.com\"\n".to_string(),
        ));
        let c = Config::from_sources(file, |k| {
            (k == "HELPDESK_LISTEN").then(|| "0.0.0.0:7000".to_string())
        })
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(c.mail_domain(), "example.com");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let file = Some((PathBuf::from("h.toml"), "lisen = \"x\"".to_string()));
        assert!(matches!(
            Config::from_sources(file, no_env),
            Err(ConfigError::Parse { .. })
        ));
        let bad = Config::from_sources(None, |k| (k == "HELPDESK_LISTEN").then(|| "nope".into()));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid { key: "listen", .. })
        ));
    }

    #[test]
    fn mail_settings() {
        let c = Config::from_sources(None, no_env).unwrap();
        assert_eq!(c.subject_tag.format(5), "[#5]");
        assert_eq!(c.max_mail_bytes, DEFAULT_MAX_MAIL_BYTES);
        assert!(c.maildirs.is_empty());
        let file = Some((
            PathBuf::from("h.toml"),
            "subject_tag = \"[ACME #{id}]\"\nmaildirs = [\"/var/mail/a\", \"/var/mail/b=Help@Example.com\"]\n"
                .to_string(),
        ));
        let c = Config::from_sources(file, no_env).unwrap();
        assert_eq!(c.subject_tag.format(5), "[ACME #5]");
        assert_eq!(c.maildirs[0].path, PathBuf::from("/var/mail/a"));
        assert_eq!(c.maildirs[0].mailbox, None);
        assert_eq!(
            c.maildirs[1].mailbox.as_ref().map(|m| m.as_str()),
            Some("help@example.com")
        );
        let c = Config::from_sources(None, |k| {
            (k == "HELPDESK_MAILDIRS").then(|| "/m1, /m2=b@example.org".to_string())
        })
        .unwrap();
        assert_eq!(c.maildirs.len(), 2);
        let bad = Config::from_sources(None, |k| {
            (k == "HELPDESK_SUBJECT_TAG").then(|| "no placeholder".into())
        });
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                key: "subject_tag",
                ..
            })
        ));
        let bad = Config::from_sources(None, |k| {
            (k == "HELPDESK_MAILDIRS").then(|| "/m=not an address@".into())
        });
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                key: "maildirs",
                ..
            })
        ));
    }

    #[test]
    fn imap_accounts_from_the_file_and_the_environment() {
        let c = Config::from_sources(None, no_env).unwrap();
        assert!(c.imap.is_empty());
        assert_eq!(c.imap_poll_seconds, 60);
        let file = Some((
            PathBuf::from("h.toml"),
            r#"
imap_poll_seconds = 30
[[imap]]
url = "imaps://support%40example.com:hunter2@imap.example.com/INBOX"
mailbox = "support@example.com"
after = "move:Processed"

[[imap]]
url = "imap://billing:pw@127.0.0.1:1143/"
tls = "none"
after = "delete"
"#
            .to_string(),
        ));
        let c = Config::from_sources(file, no_env).unwrap();
        assert_eq!(c.imap_poll_seconds, 30);
        assert_eq!(c.imap.len(), 2);
        assert_eq!(c.imap[0].user, "support@example.com");
        assert_eq!(
            c.imap[0].mailbox.as_ref().map(|m| m.as_str()),
            Some("support@example.com")
        );
        assert_eq!(c.imap[1].folder, "INBOX");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");

        let c = Config::from_sources(None, |k| match k {
            "HELPDESK_IMAP_URLS" => Some(
                "imaps://a:p,w@h1/INBOX,imaps://b:x@h2/Support imap://c:y@127.0.0.1/?tls=none"
                    .into(),
            ),
            "HELPDESK_IMAP_POLL_SECONDS" => Some("5".into()),
            _ => None,
        })
        .unwrap();
        let users: Vec<&str> = c.imap.iter().map(|a| a.user.as_str()).collect();
        assert_eq!(users, ["a", "b", "c"]);
        assert_eq!(c.imap[0].password(), "p,w");
        assert_eq!(c.imap_poll_seconds, 5);

        for (key, value) in [
            ("HELPDESK_IMAP_URLS", "imaps://u@h/"),
            ("HELPDESK_IMAP_URLS", "https://u:hunter2@h/"),
            ("HELPDESK_IMAP_POLL_SECONDS", "0"),
            ("HELPDESK_IMAP_POLL_SECONDS", "soon"),
        ] {
            let e = Config::from_sources(None, |k| (k == key).then(|| value.to_string()))
                .err()
                .unwrap_or_else(|| panic!("{value} accepted"));
            let text = e.to_string();
            assert!(text.starts_with("imap"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        let file = Some((
            PathBuf::from("h.toml"),
            "[[imap]]\nurl = \"imaps://u:p@h/\"\nfolder = \"INBOX\"\n".to_string(),
        ));
        assert!(matches!(
            Config::from_sources(file, no_env),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn csat_settings() {
        let c = Config::from_sources(None, no_env).unwrap();
        assert!(c.csat_enabled);
        assert_eq!((c.csat_delay_hours, c.csat_reminder_days), (24, 3));
        let file = Some((
            PathBuf::from("h.toml"),
            "csat_enabled = false\ncsat_delay_hours = 0\ncsat_reminder_days = 0\n".to_string(),
        ));
        let c = Config::from_sources(file, no_env).unwrap();
        assert!(!c.csat_enabled);
        assert_eq!((c.csat_delay_hours, c.csat_reminder_days), (0, 0));
        let c = Config::from_sources(None, |k| match k {
            "HELPDESK_CSAT_ENABLED" => Some("no".into()),
            "HELPDESK_CSAT_DELAY_HOURS" => Some("2".into()),
            "HELPDESK_CSAT_REMINDER_DAYS" => Some("7".into()),
            _ => None,
        })
        .unwrap();
        assert!(!c.csat_enabled);
        assert_eq!((c.csat_delay_hours, c.csat_reminder_days), (2, 7));
        for (key, value) in [
            ("HELPDESK_CSAT_ENABLED", "maybe"),
            ("HELPDESK_CSAT_DELAY_HOURS", "-1"),
            ("HELPDESK_CSAT_DELAY_HOURS", "100000"),
            ("HELPDESK_CSAT_REMINDER_DAYS", "30"),
            ("HELPDESK_CSAT_REMINDER_DAYS", "soon"),
        ] {
            let e = Config::from_sources(None, |k| (k == key).then(|| value.to_string()))
                .err()
                .unwrap_or_else(|| panic!("{key}={value} accepted"));
            assert!(e.to_string().starts_with("csat_"), "{e}");
        }
    }

    #[test]
    fn background_nice_setting() {
        let c = Config::from_sources(None, no_env).unwrap();
        assert_eq!(c.background_nice, 0);
        let file = Some((
            PathBuf::from("h.toml"),
            "background_nice = 10\n".to_string(),
        ));
        assert_eq!(
            Config::from_sources(file, no_env).unwrap().background_nice,
            10
        );
        let c = Config::from_sources(None, |k| {
            (k == "HELPDESK_BACKGROUND_NICE").then(|| "19".to_string())
        })
        .unwrap();
        assert_eq!(c.background_nice, 19);
        for value in ["20", "-1", "low"] {
            let e = Config::from_sources(None, |k| {
                (k == "HELPDESK_BACKGROUND_NICE").then(|| value.to_string())
            })
            .err()
            .unwrap_or_else(|| panic!("background_nice={value} accepted"));
            assert!(e.to_string().starts_with("background_nice"), "{e}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Config::from_sources(None, |k| match k {
            "HELPDESK_SECRET" => Some("topsecret".into()),
            "HELPDESK_DATABASE_URL" => Some("postgres://app:hunter2@db/helpdesk".into()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@db/helpdesk"));
    }
}
