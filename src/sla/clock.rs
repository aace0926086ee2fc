//! A ticket's SLA clocks computed from its history (pure: no database).
//!
//! - First response: from creation, never pauses (METRICS.md); it stops at
//!   the first agent reply, or when the ticket is first resolved or closed.
//! - Resolution: runs while the ticket is `new` or `open`, pauses while it
//!   is `pending`, and stops at the first resolution or closure (compliance
//!   is about the first resolution). A later reopen starts no new clock.
//!
//! Replaying the history (rather than adjusting stored values) means a
//! changed policy or calendar gives every open ticket exactly the due times
//! it would have had from the start.

use super::calendar::Calendar;
use crate::tickets::Status;

/// The share of a target after which a clock shows a warning.
pub const WARN_AT: f64 = 0.8;

/// A status change in the history, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: i64,
    pub to: Status,
}

/// One target's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    /// When the target is (or was) reached in business time. While paused
    /// before reaching it: `None`.
    pub due: Option<i64>,
    /// When 80 % of the target is used.
    pub warn: Option<i64>,
    /// Business milliseconds left while paused.
    pub paused_remaining: Option<i64>,
    /// When the clock stopped (the target's event happened, or the ticket
    /// was resolved or closed).
    pub stopped: Option<i64>,
}

impl Clock {
    /// The target was missed: its due instant came before the clock stopped.
    /// `now` decides for running clocks.
    pub fn missed(&self, now: i64) -> bool {
        match (self.due, self.stopped) {
            (Some(d), Some(s)) => d < s,
            (Some(d), None) => d <= now,
            (None, _) => false,
        }
    }

    /// The instant a breach job must act on, if it still can happen or has
    /// happened unrecorded.
    pub fn breach_at(&self) -> Option<i64> {
        match (self.due, self.stopped) {
            (Some(d), Some(s)) if d < s => Some(d),
            (Some(_), Some(_)) => None,
            (d, None) => d,
            (None, Some(_)) => None,
        }
    }
}

/// Where `amount` business ms are used up over `segments` of running time
/// (`[start, end)`, the last one possibly open). `Err(used)` when the
/// segments end before: the clock is paused or stopped with `used` spent.
fn reach(cal: &Calendar, segments: &[(i64, Option<i64>)], amount: i64) -> Result<Option<i64>, i64> {
    let mut used = 0i64;
    for &(start, end) in segments {
        match end {
            Some(end) => {
                let b = cal.between(start, end);
                if used + b >= amount {
                    return Ok(cal.add(start, amount - used));
                }
                used += b;
            }
            None => return Ok(cal.add(start, amount - used)),
        }
    }
    Err(used)
}

/// Running segments of the resolution clock, and when it stopped.
fn resolution_segments(created: i64, history: &[Change]) -> (Vec<(i64, Option<i64>)>, Option<i64>) {
    let mut segments = Vec::new();
    let mut running_since = Some(created);
    for c in history {
        match c.to {
            Status::Pending => {
                if let Some(s) = running_since.take() {
                    segments.push((s, Some(c.at.max(s))));
                }
            }
            Status::Resolved | Status::Closed => {
                if let Some(s) = running_since.take() {
                    segments.push((s, Some(c.at.max(s))));
                }
                return (segments, Some(c.at));
            }
            Status::New | Status::Open => {
                if running_since.is_none() {
                    running_since = Some(c.at);
                }
            }
        }
    }
    if let Some(s) = running_since {
        segments.push((s, None));
    }
    (segments, None)
}

fn clock_over(
    cal: &Calendar,
    segments: &[(i64, Option<i64>)],
    stopped: Option<i64>,
    minutes: i64,
) -> Clock {
    let amount = minutes.saturating_mul(60_000);
    let warn_amount = (amount as f64 * WARN_AT) as i64;
    let (due, paused_remaining) = match reach(cal, segments, amount) {
        Ok(d) => (d, None),
        Err(used) => (None, stopped.is_none().then_some(amount - used)),
    };
    let warn = reach(cal, segments, warn_amount).ok().flatten();
    Clock {
        due,
        warn,
        paused_remaining,
        stopped,
    }
}

/// The first-response clock; `None` when there is no target.
pub fn first_response(
    cal: &Calendar,
    created: i64,
    first_reply: Option<i64>,
    history: &[Change],
    minutes: Option<i64>,
) -> Option<Clock> {
    let minutes = minutes?;
    let closed = history
        .iter()
        .find(|c| matches!(c.to, Status::Resolved | Status::Closed))
        .map(|c| c.at);
    let stopped = match (first_reply, closed) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Some(clock_over(cal, &[(created, None)], stopped, minutes))
}

/// The resolution clock; `None` when there is no target.
pub fn resolution(
    cal: &Calendar,
    created: i64,
    history: &[Change],
    minutes: Option<i64>,
) -> Option<Clock> {
    let minutes = minutes?;
    let (segments, stopped) = resolution_segments(created, history);
    Some(clock_over(cal, &segments, stopped, minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const H: i64 = 60 * MIN;

    fn ch(at: i64, to: Status) -> Change {
        Change { at, to }
    }

    #[test]
    fn first_response_never_pauses_and_stops_at_the_reply() {
        let cal = Calendar::always();
        let pending = [ch(10 * MIN, Status::Pending)];
        let c = first_response(&cal, 0, None, &pending, Some(60)).unwrap();
        assert_eq!(c.due, Some(H));
        assert_eq!(c.warn, Some(48 * MIN));
        assert_eq!(c.breach_at(), Some(H));
        assert!(!c.missed(H - 1) && c.missed(H));
        // Replied in time: nothing left to breach.
        let c = first_response(&cal, 0, Some(30 * MIN), &[], Some(60)).unwrap();
        assert_eq!((c.stopped, c.breach_at()), (Some(30 * MIN), None));
        assert!(!c.missed(10 * H));
        // Replied late: the breach happened at the due instant.
        let c = first_response(&cal, 0, Some(2 * H), &[], Some(60)).unwrap();
        assert_eq!(c.breach_at(), Some(H));
        assert!(c.missed(0));
        // Resolved without a reply also stops the clock.
        let c = first_response(&cal, 0, None, &[ch(5 * MIN, Status::Resolved)], Some(60)).unwrap();
        assert_eq!(c.stopped, Some(5 * MIN));
        assert_eq!(c.breach_at(), None);
        assert!(first_response(&cal, 0, None, &[], None).is_none());
    }

    #[test]
    fn resolution_pauses_while_pending_and_resumes() {
        let cal = Calendar::always();
        // 4 h target; 1 h open, 10 h pending, then open again.
        let h = [ch(H, Status::Pending), ch(11 * H, Status::Open)];
        let c = resolution(&cal, 0, &h, Some(240)).unwrap();
        assert_eq!(c.due, Some(14 * H));
        // 80 % = 3 h 12 min of running time: 1 h before the pause, 2 h 12 min after.
        assert_eq!(c.warn, Some(11 * H + 2 * H + 12 * MIN));
        assert_eq!(c.paused_remaining, None);
        // While pending: no due time, 3 h left.
        let c = resolution(&cal, 0, &h[..1], Some(240)).unwrap();
        assert_eq!((c.due, c.paused_remaining), (None, Some(3 * H)));
        assert_eq!(c.warn, None);
        assert_eq!(c.breach_at(), None);
        // A reopen (to open) after pending counts the same as a resume.
        let h2 = [ch(H, Status::Pending), ch(2 * H, Status::New)];
        assert_eq!(
            resolution(&cal, 0, &h2, Some(240)).unwrap().due,
            Some(5 * H)
        );
    }

    #[test]
    fn resolution_stops_at_the_first_resolution() {
        let cal = Calendar::always();
        let h = [ch(H, Status::Resolved), ch(2 * H, Status::Open)];
        let c = resolution(&cal, 0, &h, Some(240)).unwrap();
        assert_eq!(c.stopped, Some(H));
        assert_eq!((c.due, c.breach_at()), (None, None));
        assert!(!c.missed(100 * H));
        // Resolved after the target: missed at the due instant.
        let late = [ch(5 * H, Status::Closed)];
        let c = resolution(&cal, 0, &late, Some(240)).unwrap();
        assert_eq!((c.due, c.breach_at()), (Some(4 * H), Some(4 * H)));
        // Pending past the due instant after the breach keeps the breach.
        let h3 = [ch(5 * H, Status::Pending)];
        let c = resolution(&cal, 0, &h3, Some(240)).unwrap();
        assert_eq!(c.due, Some(4 * H));
        assert_eq!(c.breach_at(), Some(4 * H));
    }

    #[test]
    fn business_hours_shape_the_due_time() {
        // Mon-Fri 09:00-17:00 UTC. 2026-01-05 is a Monday.
        let nine = "09:00-17:00";
        let hours = [nine, nine, nine, nine, nine, "closed", "closed"].join("\n");
        let cal = Calendar::from_stored("UTC", &hours, "").unwrap();
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 1, 5)
            .and_then(|d| d.and_hms_opt(16, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap();
        // Friday 16:00 + 2 h business = Monday 10:00.
        let friday = monday + 4 * 24 * H;
        let c = first_response(&cal, friday, None, &[], Some(120)).unwrap();
        assert_eq!(c.due, Some(friday + 3 * 24 * H - 6 * H));
        // Pending over the weekend costs nothing; pending during hours pauses.
        let h = [
            ch(monday + 30 * MIN, Status::Pending),
            ch(monday + 24 * H, Status::Open),
        ];
        let c = resolution(&cal, monday, &h, Some(120)).unwrap();
        // 30 min used Monday; resumes Tuesday 16:00 with 90 min left: 1 h
        // Tuesday, 30 min Wednesday from 09:00.
        assert_eq!(c.due, Some(monday + 2 * 24 * H - 7 * H + 30 * MIN));
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap()
    }

    #[test]
    fn a_pause_across_the_new_york_dst_change() {
        // Mon-Fri 09:00-17:00 America/New_York; DST starts Sunday 2026-03-08.
        let nine = "09:00-17:00";
        let hours = [nine, nine, nine, nine, nine, "closed", "closed"].join("\n");
        let cal = Calendar::from_stored("America/New_York", &hours, "").unwrap();
        // Friday 16:00 EST = 21:00 UTC.
        let created = utc(2026, 3, 6, 21, 0);
        // First response 2 h: Friday 16-17 EST, Monday 09-10 EDT (13-14 UTC).
        let c = first_response(&cal, created, None, &[], Some(120)).unwrap();
        assert_eq!(c.due, Some(utc(2026, 3, 9, 14, 0)));
        // Resolution 2 h, pending from Friday 16:30 EST to Monday 12:00 EDT:
        // 30 min used, 90 min from Monday noon → 13:30 EDT = 17:30 UTC.
        let h = [
            ch(utc(2026, 3, 6, 21, 30), Status::Pending),
            ch(utc(2026, 3, 9, 16, 0), Status::Open),
        ];
        let c = resolution(&cal, created, &h, Some(120)).unwrap();
        assert_eq!(c.due, Some(utc(2026, 3, 9, 17, 30)));
        // While still pending, 90 minutes are left.
        let c = resolution(&cal, created, &h[..1], Some(120)).unwrap();
        assert_eq!(c.paused_remaining, Some(90 * MIN));
    }
}
