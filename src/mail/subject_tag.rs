//! The ticket tag in mail subjects, `[#1234]` by default. Configurable as a
//! pattern with one `{id}` placeholder (`subject_tag = "[ACME #{id}]"`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTag {
    prefix: String,
    suffix: String,
}

pub const DEFAULT_SUBJECT_TAG: &str = "[#{id}]";

impl Default for SubjectTag {
    fn default() -> Self {
        SubjectTag::parse(DEFAULT_SUBJECT_TAG).unwrap_or(SubjectTag {
            prefix: "[#".into(),
            suffix: "]".into(),
        })
    }
}

impl SubjectTag {
    /// Exactly one `{id}`, with something before it (a bare number in a
    /// subject would match order numbers and dates), at most 40 characters,
    /// no digits right next to the number and no line breaks.
    pub fn parse(pattern: &str) -> Result<SubjectTag, String> {
        let (prefix, suffix) = pattern
            .split_once("{id}")
            .ok_or_else(|| format!("{pattern:?} has no {{id}} placeholder"))?;
        if suffix.contains("{id}") {
            return Err(format!("{pattern:?} has more than one {{id}}"));
        }
        if prefix.trim().is_empty() {
            return Err(format!(
                "{pattern:?} needs text before {{id}}, like \"[#{{id}}]\""
            ));
        }
        if pattern.chars().count() > 40 || pattern.chars().any(char::is_control) {
            return Err(format!(
                "{pattern:?} must be at most 40 characters on one line"
            ));
        }
        if prefix.ends_with(|c: char| c.is_ascii_digit())
            || suffix.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!("{pattern:?}: no digit may touch {{id}}"));
        }
        Ok(SubjectTag {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }

    pub fn format(&self, ticket_id: i64) -> String {
        format!("{}{ticket_id}{}", self.prefix, self.suffix)
    }

    /// The ticket number of the first tag in `subject` (case-insensitive on
    /// the tag's text).
    pub fn find(&self, subject: &str) -> Option<i64> {
        let hay = subject.to_lowercase();
        let prefix = self.prefix.to_lowercase();
        let suffix = self.suffix.to_lowercase();
        let mut from = 0;
        while let Some(i) = hay[from..].find(&prefix) {
            let start = from + i + prefix.len();
            let digits: String = hay[start..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if !digits.is_empty()
                && digits.len() <= 18
                && hay[start + digits.len()..].starts_with(&suffix)
            {
                if let Ok(id) = digits.parse() {
                    return Some(id);
                }
            }
            from = start;
        }
        None
    }
}

impl fmt::Display for SubjectTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{id}}{}", self.prefix, self.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tag_round_trips() {
        let t = SubjectTag::default();
        assert_eq!(t.format(1234), "[#1234]");
        assert_eq!(t.find("Re: [#1234] Printer"), Some(1234));
        assert_eq!(t.find("RE: printer [#7]"), Some(7));
        assert_eq!(t.find("Order #1234"), None);
        assert_eq!(t.find("[#] [#12x] [#99]"), Some(99));
        assert_eq!(t.find("[#99999999999999999999]"), None);
    }

    #[test]
    fn custom_tags_and_bad_patterns() {
        let t = SubjectTag::parse("[ACME #{id}]").unwrap();
        assert_eq!(t.find("Re: [acme #55] x"), Some(55));
        assert_eq!(t.find("Re: [#55] x"), None);
        assert_eq!(t.to_string(), "[ACME #{id}]");
        for bad in [
            "",
            "#",
            "{id}",
            "[#{id}] {id}",
            "[1{id}]",
            "[#{id}2]",
            "[#{id}]\n",
        ] {
            assert!(SubjectTag::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
