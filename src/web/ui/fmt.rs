//! How times and durations read on a page.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `2026-12-01 18:30 UTC`
pub fn datetime(ms: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    // Written field by field: chrono's `format` parses its pattern on every
    // call, which was the ticket page's costliest formatting (two per
    // message and one per event). Years outside 0..=9999 take chrono's
    // signed form.
    if !(0..=9999).contains(&t.year()) {
        return t.format("%Y-%m-%d %H:%M UTC").to_string();
    }
    let mut out = String::with_capacity(20);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    );
    out
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

/// An SLA due time as a badge: its text and its class (ok; warning once
/// 80 % of the target is used; breached).
pub fn due(now: i64, due_ms: i64, warn_ms: Option<i64>, breached: bool) -> (String, &'static str) {
    let left = due_ms - now;
    if left < 0 {
        (format!("overdue {}", span(left)), "breached")
    } else if breached {
        (format!("due in {} (breached)", span(left)), "breached")
    } else if warn_ms.is_some_and(|w| w <= now) {
        (format!("due in {}", span(left)), "warning")
    } else {
        (format!("due in {}", span(left)), "ok")
    }
}

/// `3 h 20 min`: business time, in hours so a day of open hours is not
/// mistaken for a calendar day.
pub fn hours_minutes(ms: i64) -> String {
    let m = ms.abs() / 60_000;
    match (m / 60, m % 60) {
        (0, 0) => "<1 min".into(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// An SLA clock as one line of a badge.
pub fn clock(v: &crate::tickets::sla::ClockView) -> String {
    use crate::tickets::sla::ClockState as S;
    let what = match v.target {
        crate::tickets::SlaTarget::FirstResponse => "First response",
        crate::tickets::SlaTarget::Resolution => "Resolution",
    };
    let due = v.due_at.map(datetime).unwrap_or_default();
    let left = v.remaining_ms.map(hours_minutes).unwrap_or_default();
    match v.state {
        S::Ok | S::Warning => format!("{what} due {due} ({left} business time left)"),
        S::Breached => match v.remaining_ms {
            Some(r) if r < 0 => format!("{what} overdue since {due} ({left} business time over)"),
            _ => format!("{what} breached (due {due})"),
        },
        S::Paused => format!("{what} paused while pending ({left} business time left)"),
        S::Met => format!("{what} target met"),
        S::Missed if due.is_empty() => format!("{what} target missed"),
        S::Missed => format!("{what} target missed (due {due})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_reads_as_chrono_formats_it() {
        for ms in [
            0,
            1_764_613_800_123,
            -1,
            951_782_400_000,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
            i64::MAX,
        ] {
            let want = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap_or_default()
                .format("%Y-%m-%d %H:%M UTC")
                .to_string();
            assert_eq!(datetime(ms), want, "{ms}");
        }
        assert_eq!(datetime(1_764_613_800_123), "2025-12-01 18:30 UTC");
    }

    #[test]
    fn spans_and_badges() {
        assert_eq!(span(90_000), "1 min");
        assert_eq!(span(7_200_000), "2 h");
        assert_eq!(span(3 * 86_400_000), "3 d");
        assert_eq!(
            due(0, -7_200_000, None, true),
            ("overdue 2 h".into(), "breached")
        );
        assert_eq!(due(0, 600_000, Some(-1), false).1, "warning");
        assert_eq!(due(0, 600_000, Some(1), false).1, "ok");
        assert_eq!(due(0, 86_400_000, None, false).1, "ok");
        assert_eq!(due(0, 86_400_000, None, true).1, "breached");
        assert_eq!(datetime(0), "1970-01-01 00:00 UTC");
    }
}
