//! A validated, normalized email address.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Accepts `local@domain` (trimmed, lower-cased); rejects anything a
    /// mail server could not deliver to.
    pub fn parse(raw: &str) -> Result<EmailAddress, String> {
        let s = raw.trim();
        let err = || format!("{s:?} is not an email address");
        if s.is_empty() {
            return Err("an email address is required".into());
        }
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(err)?;
        if local.is_empty()
            || local.len() > 64
            || domain.is_empty()
            || local.contains(['<', '>', ',', ';', '"'])
            || !domain.contains('.') && domain != "localhost"
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
        {
            return Err(err());
        }
        Ok(EmailAddress(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// The part before `@`, a fallback display name.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalizes() {
        assert_eq!(
            EmailAddress::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        assert!(EmailAddress::parse("bob+tag@mail.example.org").is_ok());
        assert!(EmailAddress::parse("root@localhost").is_ok());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@@x",
            "a b@x.com",
            "ann@example",
            "ann@x..com",
            "<ann@x.com>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
