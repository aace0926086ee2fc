//! Timestamps are UTC milliseconds since the Unix epoch everywhere in the store.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// RFC 3339 with milliseconds and a `Z`, as every API answer shows time.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp with any offset into UTC milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{s:?} is not an RFC 3339 timestamp ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_offsets() {
        let ms = parse_rfc3339("2026-01-05T10:00:00+01:00").unwrap();
        assert_eq!(format_ms(ms), "2026-01-05T09:00:00.000Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
