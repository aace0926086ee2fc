//! An IMAP account as configured: one folder of one account, how to reach
//! it, and what to do with a message once it is committed.
//!
//! Written as a URL, in `helpdesk.toml` (`[[imap]] url = ...` with optional
//! `mailbox`, `after`, `tls`, `ca_file` keys) or in `HELPDESK_IMAP_URLS`
//! (the same keys as query parameters):
//!
//! ```text
//! imaps://support%40example.com:secret@imap.example.com/INBOX?mailbox=support@example.com&after=move:Processed
//! ```
//!
//! `imaps://` is TLS from the first byte (port 993), `imap://` upgrades with
//! STARTTLS (port 143) and fails when the server does not offer it;
//! `tls=none` sends everything in the clear (for a server on loopback).

use std::fmt;
use std::path::PathBuf;

use crate::config::redact_url;
use crate::people::EmailAddress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (imaps://).
    Implicit,
    /// Plain connect, then STARTTLS before anything else is sent.
    StartTls,
    /// No TLS at all: the password crosses the network in the clear.
    None,
}

/// What happens to a message on the server after the commit that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Set a flag: `\Seen` (`after = "mark"`) or a keyword (`"mark:$Helpdesk"`).
    Mark(String),
    /// Move it into another folder (`"move:Processed"`).
    Move(String),
    /// Delete and expunge it (`"delete"`).
    Delete,
}

impl After {
    pub fn parse(s: &str) -> Result<After, String> {
        let s = s.trim();
        let (verb, arg) = match s.split_once(':') {
            Some((v, a)) => (v, Some(a.trim())),
            None => (s, None),
        };
        match (verb.to_ascii_lowercase().as_str(), arg) {
            ("mark", None) => Ok(After::Mark("\\Seen".into())),
            ("mark", Some(flag)) => {
                // A keyword is an IMAP atom; of the system flags only \Seen
                // and \Flagged make sense here.
                let system = ["\\Seen", "\\Flagged"]
                    .iter()
                    .find(|f| f.eq_ignore_ascii_case(flag));
                if let Some(f) = system {
                    return Ok(After::Mark(f.to_string()));
                }
                let atom = !flag.is_empty()
                    && flag.len() <= 64
                    && flag
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !"(){%*\"\\]".contains(c));
                if atom {
                    Ok(After::Mark(flag.to_string()))
                } else {
                    Err(format!(
                        "after: {flag:?} is not a flag name like $Helpdesk or \\Flagged"
                    ))
                }
            }
            ("move", Some(folder)) if !folder.is_empty() => Ok(After::Move(folder.to_string())),
            ("delete", None) => Ok(After::Delete),
            _ => Err(format!(
                "after: {s:?} is none of \"mark\", \"mark:FLAG\", \"move:FOLDER\", \"delete\""
            )),
        }
    }
}

impl fmt::Display for After {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            After::Mark(flag) => write!(f, "mark {flag}"),
            After::Move(folder) => write!(f, "move to {folder}"),
            After::Delete => f.write_str("delete"),
        }
    }
}

/// The optional settings beside the URL (from its query or the toml table).
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub mailbox: Option<String>,
    pub after: Option<String>,
    pub tls: Option<String>,
    pub ca_file: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ImapAccount {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub user: String,
    password: String,
    /// The folder read, as configured (UTF-8; sent in modified UTF-7).
    pub folder: String,
    /// The support address its mail arrives at.
    pub mailbox: Option<EmailAddress>,
    pub after: After,
    /// Extra trusted certificates (PEM), for a server with a private CA.
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for ImapAccount {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapAccount")
            .field("url", &self.to_string())
            .field("tls", &self.tls)
            .field("mailbox", &self.mailbox)
            .field("after", &self.after)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl fmt::Display for ImapAccount {
    /// `imaps://user@host:port/folder`, without the password: the name of
    /// the account in logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls == Tls::Implicit {
            "imaps"
        } else {
            "imap"
        };
        write!(
            f,
            "{scheme}://{}@{}:{}/{}",
            self.user,
            self.host_for_url(),
            self.port,
            self.folder
        )
    }
}

/// Decodes `%XX` escapes (user names and passwords in URLs).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % escape in the URL is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a %-escaped part of the URL is not UTF-8".to_string())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

impl ImapAccount {
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The host as the network wants it (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Which account the stored sync state belongs to: user and host. Not
    /// the password, nor the port: switching between 993 and STARTTLS on
    /// 143 must not read the whole folder again (and were it another
    /// server, its UIDVALIDITY would differ and force just that).
    pub fn state_key(&self) -> String {
        format!("{}@{}", self.user, self.host_for_url().to_ascii_lowercase())
    }

    pub fn sends_password_in_clear(&self) -> bool {
        self.tls == Tls::None && !is_loopback(&self.host)
    }

    /// The env form: everything in one URL, the options in its query.
    pub fn from_url(url: &str) -> Result<ImapAccount, String> {
        Self::parse(url, Options::default())
    }

    /// A URL plus the options given beside it (a toml table); an option
    /// given in both places is an error, not a silent choice.
    pub fn parse(spec: &str, extra: Options) -> Result<ImapAccount, String> {
        let shown = redact_url(spec.trim());
        Self::parse_inner(spec.trim(), extra).map_err(|m| format!("{shown}: {m}"))
    }

    fn parse_inner(spec: &str, extra: Options) -> Result<ImapAccount, String> {
        let url = url::Url::parse(spec).map_err(|e| format!("not a URL ({e})"))?;
        let (default_port, default_tls) = match url.scheme() {
            "imaps" => (993, Tls::Implicit),
            "imap" => (143, Tls::StartTls),
            other => {
                return Err(format!(
                    "the scheme is {other:?}; use imaps:// (TLS) or imap:// (STARTTLS)"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("a host name is required")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(default_port);
        let user = percent_decode(url.username())?;
        if user.is_empty() {
            return Err("a user name is required (imaps://USER:PASSWORD@host/FOLDER; write @ in the user name as %40)".into());
        }
        let password = percent_decode(url.password().unwrap_or(""))?;
        if password.is_empty() {
            return Err("a password is required (imaps://USER:PASSWORD@host/FOLDER)".into());
        }
        let folder = percent_decode(url.path().trim_start_matches('/'))?;
        let folder = if folder.is_empty() {
            "INBOX".to_string()
        } else {
            folder
        };
        if folder.chars().any(|c| c.is_control()) {
            return Err("the folder name has control characters".into());
        }
        let mut opts = Options::default();
        for (k, v) in url.query_pairs() {
            let slot = match k.as_ref() {
                "mailbox" => &mut opts.mailbox,
                "after" => &mut opts.after,
                "tls" => &mut opts.tls,
                "ca_file" => &mut opts.ca_file,
                other => {
                    return Err(format!(
                        "unknown option {other:?} (known: mailbox, after, tls, ca_file)"
                    ))
                }
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(format!("option {k:?} given twice"));
            }
        }
        fn merge(
            name: &str,
            a: Option<String>,
            b: Option<String>,
        ) -> Result<Option<String>, String> {
            match (a, b) {
                (Some(_), Some(_)) => Err(format!(
                    "{name} is given both in the URL and beside it; keep one"
                )),
                (a, b) => Ok(a.or(b).filter(|v| !v.trim().is_empty())),
            }
        }
        let mailbox = merge("mailbox", opts.mailbox, extra.mailbox)?
            .map(|m| EmailAddress::parse(&m).map_err(|e| format!("mailbox: {e}")))
            .transpose()?;
        let after = match merge("after", opts.after, extra.after)? {
            Some(a) => After::parse(&a)?,
            None => After::Mark("\\Seen".into()),
        };
        if let After::Move(target) = &after {
            if *target == folder {
                return Err(format!(
                    "after: moving into {target:?}, the folder it reads, would fetch nothing new"
                ));
            }
        }
        let tls = match merge("tls", opts.tls, extra.tls)?.as_deref() {
            None => default_tls,
            Some("none") if default_tls == Tls::StartTls => Tls::None,
            Some("starttls") if default_tls == Tls::StartTls => Tls::StartTls,
            Some("implicit") if default_tls == Tls::Implicit => Tls::Implicit,
            Some(other) => {
                return Err(format!(
                    "tls: {other:?} does not fit {}:// (imaps:// is always TLS; imap:// takes tls=starttls, the default, or tls=none)",
                    url.scheme()
                ))
            }
        };
        let ca_file = merge("ca_file", opts.ca_file, extra.ca_file)?.map(PathBuf::from);
        if ca_file.is_some() && tls == Tls::None {
            return Err("ca_file is given but tls=none uses no certificates".into());
        }
        Ok(ImapAccount {
            host,
            port,
            tls,
            user,
            password,
            folder,
            mailbox,
            after,
            ca_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_with_defaults_and_escapes() {
        let a = ImapAccount::from_url(
            "imaps://support%40example.com:p%40ss%3Aw0rd@imap.example.com/INBOX",
        )
        .unwrap();
        assert_eq!(a.host(), "imap.example.com");
        assert_eq!(a.port, 993);
        assert_eq!(a.tls, Tls::Implicit);
        assert_eq!(a.user, "support@example.com");
        assert_eq!(a.password(), "p@ss:w0rd");
        assert_eq!(a.folder, "INBOX");
        assert_eq!(a.after, After::Mark("\\Seen".into()));
        assert_eq!(
            a.to_string(),
            "imaps://support@example.com@imap.example.com:993/INBOX"
        );
        assert_eq!(a.state_key(), "support@example.com@imap.example.com");

        let a = ImapAccount::from_url(
            "imap://u:p@127.0.0.1:1143/Support%20Desk?tls=none&after=move:Done&mailbox=Help@Example.com",
        )
        .unwrap();
        assert_eq!((a.port, a.tls), (1143, Tls::None));
        assert_eq!(a.folder, "Support Desk");
        assert_eq!(a.after, After::Move("Done".into()));
        assert_eq!(a.mailbox.unwrap().as_str(), "help@example.com");
        assert!(!ImapAccount::from_url("imap://u:p@127.0.0.1/?tls=none")
            .unwrap()
            .sends_password_in_clear());
        assert!(
            ImapAccount::from_url("imap://u:p@mail.example.com/?tls=none")
                .unwrap()
                .sends_password_in_clear()
        );

        let a = ImapAccount::from_url("imap://u:p@[::1]/").unwrap();
        assert_eq!((a.host(), a.port, a.tls), ("::1", 143, Tls::StartTls));
        assert_eq!(a.folder, "INBOX");
        assert_eq!(a.to_string(), "imap://u@[::1]:143/INBOX");
    }

    #[test]
    fn after_values() {
        assert_eq!(
            After::parse("mark:$Helpdesk").unwrap(),
            After::Mark("$Helpdesk".into())
        );
        assert_eq!(
            After::parse("mark:\\flagged").unwrap(),
            After::Mark("\\Flagged".into())
        );
        assert_eq!(After::parse("delete").unwrap(), After::Delete);
        for bad in [
            "",
            "archive",
            "move:",
            "mark:\\Deleted",
            "mark:a b",
            "delete:x",
        ] {
            assert!(After::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_are_clear_and_never_show_the_password() {
        let cases = [
            ("pop3://u:hunter2@h/", "scheme"),
            ("imaps://someone@h/", "password is required"),
            ("imaps://:hunter2@h/", "user name is required"),
            ("imaps://u:hunter2@h/?tls=none", "tls"),
            ("imap://u:hunter2@h/?tls=bogus", "tls"),
            ("imap://u:hunter2@h/?after=archive", "after"),
            (
                "imap://u:hunter2@h/INBOX?after=move:INBOX",
                "would fetch nothing",
            ),
            ("imap://u:hunter2@h/?colour=red", "unknown option"),
            ("imap://u:hunter2@h/?mailbox=nope", "mailbox"),
            ("imap://u:hunter2@h/?tls=none&ca_file=/x.pem", "ca_file"),
            ("imap://u:hunter2@h:99999/", "URL"),
        ];
        for (url, want) in cases {
            let e = ImapAccount::from_url(url).unwrap_err();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{url}: {e}");
        }
        let e = ImapAccount::parse(
            "imap://u:hunter2@h/?after=delete",
            Options {
                after: Some("mark".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("both"), "{e}");
        let shown = format!(
            "{:?} {}",
            ImapAccount::from_url("imaps://u:hunter2@h/").unwrap(),
            ImapAccount::from_url("imaps://u:hunter2@h/").unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
