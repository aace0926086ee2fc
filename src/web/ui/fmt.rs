//! How times and durations read on a page.

use chrono::{DateTime, Utc};

/// `2026-12-01 18:30 UTC`
pub fn datetime(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// `3 h`, `2 d`: a short, human span.
pub fn span(ms: i64) -> String {
    let s = ms.abs() / 1000;
    match s {
        s if s < 60 => "<1 min".into(),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// `5 min ago`
pub fn ago(now: i64, ms: i64) -> String {
    format!("{} ago", span(now - ms))
}

/// An SLA due time as a badge: its text and its class (ok, warning within
/// the last hour, breached).
pub fn due(now: i64, due_ms: i64) -> (String, &'static str) {
    let left = due_ms - now;
    if left < 0 {
        (format!("overdue {}", span(left)), "breached")
    } else if left < 3_600_000 {
        (format!("due in {}", span(left)), "warning")
    } else {
        (format!("due in {}", span(left)), "ok")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_badges() {
        assert_eq!(span(90_000), "1 min");
        assert_eq!(span(7_200_000), "2 h");
        assert_eq!(span(3 * 86_400_000), "3 d");
        assert_eq!(due(0, -7_200_000), ("overdue 2 h".into(), "breached"));
        assert_eq!(due(0, 600_000).1, "warning");
        assert_eq!(due(0, 86_400_000).1, "ok");
        assert_eq!(datetime(0), "1970-01-01 00:00 UTC");
    }
}
