//! How times and durations read on a page.

use chrono::{DateTime, Utc};

/// `2026-12-01 18:30 UTC`
pub fn datetime(ms: i64) -> String {
    // Written digit by digit: through `write!` with padded fields it cost
    // about 2,000 instructions a call, an eighth of the 300-message ticket
    // page (two per message, one per event; callgrind, 2026-12-07).
    // Years outside 0..=9999 take chrono's signed form.
    const FIRST: i64 = -62_167_219_200_000; // 0000-01-01T00:00Z
    const PAST_LAST: i64 = 253_402_300_800_000; // 10000-01-01T00:00Z
    if !(FIRST..PAST_LAST).contains(&ms) {
        return DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M UTC")
            .to_string();
    }
    let days = ms.div_euclid(86_400_000);
    let minute_of_day = ms.rem_euclid(86_400_000) / 60_000;
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"0000-00-00 00:00 UTC";
    let mut put = |at: usize, width: usize, mut n: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, minute_of_day / 60);
    put(14, 2, minute_of_day % 60);
    // Only ASCII digits were written into an ASCII template.
    String::from_utf8_lossy(&out).into_owned()
}

/// Year, month, day of the proleptic Gregorian calendar for days since
/// 1970-01-01 (the "civil from days" algorithm: eras of 400 years, each
/// 146,097 days, with March as the first month so leap days come last).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
        // Every leap-year rule and month end: each day's first and last
        // minute around 1600 and 2400 (leap centuries) and from 1899 to
        // 2101 (1900 and 2100 are not leap years), then a pseudo-random
        // sweep of the whole range the digits cover.
        let day = 86_400_000_i64;
        let days_to = |year: i64| (year - 1970) * 146_097 / 400; // about Jan 1st
        let ranges = [
            (days_to(1598), days_to(1602)),
            (days_to(1898), days_to(2102)),
            (days_to(2398), days_to(2402)),
        ];
        for (from, to) in ranges {
            for d in from..to {
                for ms in [d * day, d * day + day - 1] {
                    assert_eq!(datetime(ms), chrono_form(ms), "{ms}");
                }
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = -62_167_219_200_000 + (x % 315_569_520_000_000) as i64;
            assert_eq!(datetime(ms), chrono_form(ms), "{ms}");
        }
    }

    fn chrono_form(ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
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
