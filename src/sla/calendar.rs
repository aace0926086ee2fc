//! Business-time arithmetic for SLA calendars: weekly open hours in a time zone,
//! minus holidays. All instants are i64 UTC milliseconds.
//!
//! Between 1800 and 2101 (where the tz database has transitions) the code walks
//! local days one by one. Outside that window every zone keeps one fixed offset,
//! so time there is a plain weekly pattern and is computed arithmetically; this
//! keeps extreme timestamps cheap and panic-free.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
};
use chrono_tz::Tz;

/// Minutes after local midnight; end may be 1440 (= 24:00). Sorted, non-overlapping, start < end.
pub type Interval = (u16, u16);

/// Weekday names Monday..Sunday for forms and messages.
pub const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const MIN_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;
/// 1800-01-01T00:00Z: chrono-tz has no transition before 1845.
const LO_MS: i64 = -5_364_662_400_000;
/// 2101-01-01T00:00Z: chrono-tz has no transition after 2099.
const HI_MS: i64 = 4_133_980_800_000;
/// How long `add` looks for open time before giving up.
const MAX_IDLE_DAYS: u32 = 3_660;

#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    week: [Vec<Interval>; 7],
    holidays: BTreeSet<NaiveDate>,
    /// The holidays as days since 1970-01-01, sorted, for the fixed-offset arithmetic.
    holiday_days: Vec<i64>,
    /// Open ms per weekday, and their running sums (prefix[d] = days before d).
    prefix: [i64; 8],
    /// Open around the clock with no holidays: every span is fully open.
    all_open: bool,
    /// The zone's fixed offset (ms) before LO_MS and after HI_MS.
    off_lo: i64,
    off_hi: i64,
}

impl Default for Calendar {
    fn default() -> Calendar {
        Calendar::always()
    }
}

/// How far `walk_add` got: the answer, the time still owed at HI_MS, or no open time.
enum Walked {
    Done(i64),
    Rest(i64),
    Never,
}

impl Calendar {
    /// Open around the clock, in UTC, no holidays (the default calendar).
    pub fn always() -> Calendar {
        Calendar::build(
            Tz::UTC,
            std::array::from_fn(|_| vec![(0, 1440)]),
            BTreeSet::new(),
        )
    }

    /// `always()`, shared: for work over many tickets without a policy.
    pub fn always_shared() -> &'static Calendar {
        static ALWAYS: std::sync::OnceLock<Calendar> = std::sync::OnceLock::new();
        ALWAYS.get_or_init(Calendar::always)
    }

    /// Validates: `tz` is an IANA name; each interval has start < end <= 1440; a
    /// day's intervals are sorted and don't overlap (adjacent is fine); the week has
    /// some open time. Errors are sentences naming the day and interval.
    pub fn new(
        tz: &str,
        week: [Vec<Interval>; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Calendar, String> {
        let zone: Tz = tz.trim().parse().map_err(|_| {
            format!("\"{tz}\" is not a known time zone (use an IANA name such as Europe/Berlin)")
        })?;
        for (name, day) in DAYS.iter().zip(&week) {
            check_day(day).map_err(|e| format!("{name}: {e}"))?;
        }
        if week.iter().all(Vec::is_empty) {
            return Err(
                "the calendar is closed every day of the week; open at least one day".into(),
            );
        }
        Ok(Calendar::build(zone, week, holidays.into_iter().collect()))
    }

    /// Builds from the stored text form: `hours` is seven `format_day_hours` lines,
    /// Monday first; `holidays` is the `parse_holidays` format.
    pub fn from_stored(tz: &str, hours: &str, holidays: &str) -> Result<Calendar, String> {
        let lines: Vec<&str> = hours.lines().collect();
        if lines.len() != 7 {
            return Err(format!(
                "opening hours need 7 lines (Monday to Sunday), found {}",
                lines.len()
            ));
        }
        let mut week: [Vec<Interval>; 7] = Default::default();
        for ((slot, line), name) in week.iter_mut().zip(lines).zip(DAYS) {
            *slot = parse_day_hours(line).map_err(|e| format!("{name}: {e}"))?;
        }
        let days = parse_holidays(holidays)?;
        Calendar::new(tz, week, days.into_iter().map(|(d, _)| d))
    }

    pub fn tz_name(&self) -> &str {
        self.tz.name()
    }

    pub fn week(&self) -> &[Vec<Interval>; 7] {
        &self.week
    }

    pub fn holidays(&self) -> impl Iterator<Item = &NaiveDate> {
        self.holidays.iter()
    }

    /// The instant at which `business_ms` of open time has elapsed after `start_ms`.
    /// `business_ms <= 0` returns `start_ms`. None when no open time exists within
    /// 3,660 days, or when the answer would not fit in an i64.
    pub fn add(&self, start_ms: i64, business_ms: i64) -> Option<i64> {
        if business_ms <= 0 {
            return Some(start_ms);
        }
        if self.all_open {
            return start_ms.checked_add(business_ms);
        }
        let mut cur = start_ms;
        let mut rem = business_ms;
        if cur < LO_MS {
            let avail = self.fixed_between(cur.into(), LO_MS.into(), self.off_lo);
            if avail >= rem.into() {
                return self.fixed_add(cur, rem, self.off_lo);
            }
            // avail < rem, so it fits.
            rem -= avail as i64;
            cur = LO_MS;
        }
        if cur < HI_MS {
            match self.walk_add(cur, rem) {
                Walked::Done(t) => return Some(t),
                Walked::Never => return None,
                Walked::Rest(r) => {
                    rem = r;
                    cur = HI_MS;
                }
            }
        }
        self.fixed_add(cur, rem, self.off_hi)
    }

    /// Open milliseconds inside [a_ms, b_ms); 0 when b_ms <= a_ms.
    pub fn between(&self, a_ms: i64, b_ms: i64) -> i64 {
        let t = self.between_wide(a_ms.into(), b_ms.into());
        i64::try_from(t).unwrap_or(i64::MAX)
    }

    pub fn is_open(&self, at_ms: i64) -> bool {
        let at = i128::from(at_ms);
        self.between_wide(at, at + 1) == 1
    }

    fn build(tz: Tz, week: [Vec<Interval>; 7], holidays: BTreeSet<NaiveDate>) -> Calendar {
        let mut prefix = [0i64; 8];
        for (d, day) in week.iter().enumerate() {
            let total: i64 = day
                .iter()
                .map(|&(s, e)| (i64::from(e) - i64::from(s)) * MIN_MS)
                .sum();
            prefix[d + 1] = prefix[d] + total;
        }
        let all_open = holidays.is_empty() && week.iter().all(|d| d[..] == [(0, 1440)]);
        let holiday_days = holidays.iter().map(|d| epoch_day(*d)).collect();
        let offset_at = |ms: i64| {
            DateTime::from_timestamp_millis(ms).map_or(0, |t| {
                i64::from(
                    tz.offset_from_utc_datetime(&t.naive_utc())
                        .fix()
                        .local_minus_utc(),
                ) * 1000
            })
        };
        Calendar {
            tz,
            week,
            holidays,
            holiday_days,
            prefix,
            all_open,
            off_lo: offset_at(LO_MS),
            off_hi: offset_at(HI_MS),
        }
    }

    fn week_total(&self) -> i64 {
        self.prefix[7]
    }

    fn between_wide(&self, a: i128, b: i128) -> i128 {
        if b <= a {
            return 0;
        }
        if self.all_open {
            return b - a;
        }
        let (lo, hi) = (i128::from(LO_MS), i128::from(HI_MS));
        let mut sum = 0;
        if a < lo {
            sum += self.fixed_between(a, b.min(lo), self.off_lo);
        }
        let (wa, wb) = (a.max(lo), b.min(hi));
        if wa < wb {
            // Both lie within [LO_MS, HI_MS], so they fit in an i64.
            sum += i128::from(self.walk_between(wa as i64, wb as i64));
        }
        if b > hi {
            sum += self.fixed_between(a.max(hi), b, self.off_hi);
        }
        sum
    }

    fn walk_between(&self, a: i64, b: i64) -> i64 {
        let Some(mut walk) = Walk::new(self, a) else {
            return 0;
        };
        let mut sum = 0;
        while walk.day_start() < b {
            let more = walk.day(&mut |s, e| {
                if s >= b {
                    return false;
                }
                let (lo, hi) = (s.max(a), e.min(b));
                if hi > lo {
                    sum += hi - lo;
                }
                true
            });
            if more != Some(true) {
                break;
            }
        }
        sum
    }

    fn walk_add(&self, start: i64, business: i64) -> Walked {
        let Some(mut walk) = Walk::new(self, start) else {
            return Walked::Never;
        };
        let mut rem = business;
        let mut idle = 0u32;
        loop {
            if walk.day_start() >= HI_MS {
                return Walked::Rest(rem);
            }
            let mut found = None;
            let mut opened = false;
            let more = walk.day(&mut |s, e| {
                let (s, e) = (s.max(start), e.min(HI_MS));
                if e <= s {
                    return s < HI_MS;
                }
                opened = true;
                if e - s >= rem {
                    found = Some(s + rem);
                    return false;
                }
                rem -= e - s;
                true
            });
            if let Some(t) = found {
                return Walked::Done(t);
            }
            if more.is_none() {
                return Walked::Never;
            }
            if opened {
                idle = 0;
            } else {
                idle += 1;
                if idle > MAX_IDLE_DAYS {
                    return Walked::Never;
                }
            }
        }
    }

    /// Open time in local [0, local) of the weekly pattern, counted from Monday 1970-01-05.
    fn cumulative(&self, local: i128) -> i128 {
        let rel = local - i128::from(4 * DAY_MS);
        let weeks = rel.div_euclid(WEEK_MS.into());
        // rem_euclid of a positive modulus is in [0, WEEK_MS).
        let r = rel.rem_euclid(WEEK_MS.into()) as i64;
        let d = (r / DAY_MS) as usize;
        let ms = r % DAY_MS;
        let partial: i64 = self.week[d]
            .iter()
            .map(|&(s, e)| {
                (ms - i64::from(s) * MIN_MS).clamp(0, (i64::from(e) - i64::from(s)) * MIN_MS)
            })
            .sum();
        weeks * i128::from(self.week_total()) + i128::from(self.prefix[d] + partial)
    }

    /// Open time in [x, y) where the zone keeps the fixed offset `off` (ms).
    fn fixed_between(&self, x: i128, y: i128, off: i64) -> i128 {
        if y <= x {
            return 0;
        }
        let (lx, ly) = (x + i128::from(off), y + i128::from(off));
        let mut total = self.cumulative(ly) - self.cumulative(lx);
        let (d0, d1) = (
            lx.div_euclid(DAY_MS.into()),
            (ly - 1).div_euclid(DAY_MS.into()),
        );
        let first = self.holiday_days.partition_point(|&h| i128::from(h) < d0);
        for &h in self.holiday_days[first..]
            .iter()
            .take_while(|&&h| i128::from(h) <= d1)
        {
            let base = i128::from(h) * i128::from(DAY_MS);
            for &(s, e) in &self.week[weekday_of(h)] {
                let s = base + i128::from(s) * i128::from(MIN_MS);
                let e = base + i128::from(e) * i128::from(MIN_MS);
                total -= (e.min(ly) - s.max(lx)).max(0);
            }
        }
        total
    }

    /// The smallest t with fixed_between(start, t) >= business, by bisection.
    fn fixed_add(&self, start: i64, business: i64, off: i64) -> Option<i64> {
        let week_total = i128::from(self.week_total());
        if week_total == 0 {
            return None;
        }
        let start = i128::from(start);
        let business = i128::from(business);
        // Any window of n weeks holds n * week_total of pattern time; each holiday
        // removes at most one day of it.
        let weeks = business / week_total + 2 + self.holiday_days.len() as i128;
        let (mut lo, mut hi) = (start, start + weeks * i128::from(WEEK_MS));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.fixed_between(start, mid, off) >= business {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        i64::try_from(hi).ok()
    }

    fn is_holiday(&self, date: NaiveDate) -> bool {
        !self.holidays.is_empty() && self.holidays.contains(&date)
    }

    /// The UTC instant of `minute` after local midnight of `date`; see `resolve`.
    fn boundary(&self, date: NaiveDate, minute: u16, end: bool) -> Option<i64> {
        let naive = date
            .and_time(NaiveTime::MIN)
            .checked_add_signed(chrono::TimeDelta::minutes(minute.into()))?;
        Some(self.resolve(naive, &self.tz.from_local_datetime(&naive), end))
    }

    /// A local time as a UTC instant: inside a spring-forward gap, the transition
    /// instant; when repeated, the earliest for a start and the latest for an end.
    fn resolve(&self, naive: NaiveDateTime, local: &LocalResult<DateTime<Tz>>, end: bool) -> i64 {
        match local {
            LocalResult::Single(t) => t.timestamp_millis(),
            LocalResult::Ambiguous(early, late) => {
                if end {
                    late.timestamp_millis()
                } else {
                    early.timestamp_millis()
                }
            }
            LocalResult::None => self.gap_end(naive),
        }
    }

    /// The first instant whose local time is at or after `naive` (a time in a gap),
    /// found by bisection over seconds: offsets never exceed ±18 h, and local time
    /// rises with UTC within a day either side of a gap.
    fn gap_end(&self, naive: NaiveDateTime) -> i64 {
        let n = naive.and_utc().timestamp();
        let local = |u: i64| {
            DateTime::from_timestamp(u, 0).map_or(u, |t| {
                u + i64::from(
                    self.tz
                        .offset_from_utc_datetime(&t.naive_utc())
                        .fix()
                        .local_minus_utc(),
                )
            })
        };
        let (mut lo, mut hi) = (n - 18 * 3600, n + 18 * 3600);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if local(mid) >= n {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi * 1000
    }
}

/// Walks local days forward and hands out each day's open spans as UTC instants,
/// in order and without overlap (a repeated midnight makes day D's 24:00 later
/// than day D+1's 00:00; the cursor clips that).
struct Walk<'a> {
    cal: &'a Calendar,
    date: NaiveDate,
    midnight: LocalResult<DateTime<Tz>>,
    cursor: i64,
}

impl<'a> Walk<'a> {
    /// Starts a day before the local date of `from_ms`: that day's 24:00 may lie after it.
    fn new(cal: &'a Calendar, from_ms: i64) -> Option<Walk<'a>> {
        let date = DateTime::from_timestamp_millis(from_ms)?
            .with_timezone(&cal.tz)
            .date_naive()
            .pred_opt()?;
        let midnight = cal.tz.from_local_datetime(&date.and_time(NaiveTime::MIN));
        Some(Walk {
            cal,
            date,
            midnight,
            cursor: i64::MIN,
        })
    }

    /// The earliest instant of the current day.
    fn day_start(&self) -> i64 {
        self.cal
            .resolve(self.date.and_time(NaiveTime::MIN), &self.midnight, false)
            .max(self.cursor)
    }

    /// Calls `f(start, end)` for each open span of the current day until it returns
    /// false, then moves to the next day. Some(false) when `f` stopped; None at the
    /// end of chrono's date range.
    fn day(&mut self, f: &mut impl FnMut(i64, i64) -> bool) -> Option<bool> {
        let next = self.date.succ_opt()?;
        let next_midnight = self
            .cal
            .tz
            .from_local_datetime(&next.and_time(NaiveTime::MIN));
        let mut more = true;
        if !self.cal.is_holiday(self.date) {
            // With one offset at both midnights the day has no transition (zones
            // change at most once a day), so boundaries are plain offsets from midnight.
            let plain = match (&self.midnight, &next_midnight) {
                (LocalResult::Single(a), LocalResult::Single(b))
                    if a.offset().fix() == b.offset().fix() =>
                {
                    Some(a.timestamp_millis())
                }
                _ => None,
            };
            let day = &self.cal.week[self.date.weekday().num_days_from_monday() as usize];
            for &(s, e) in day {
                let span = match plain {
                    Some(m0) => Some((m0 + i64::from(s) * MIN_MS, m0 + i64::from(e) * MIN_MS)),
                    None => self
                        .cal
                        .boundary(self.date, s, false)
                        .zip(self.cal.boundary(self.date, e, true)),
                };
                let Some((start, end)) = span else { continue };
                let start = start.max(self.cursor);
                if end > start {
                    self.cursor = end;
                    if !f(start, end) {
                        more = false;
                        break;
                    }
                }
            }
        }
        self.date = next;
        self.midnight = next_midnight;
        Some(more)
    }
}

fn epoch_day(d: NaiveDate) -> i64 {
    // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
    i64::from(d.num_days_from_ce()) - 719_163
}

/// Monday = 0 for a day number counted from 1970-01-01 (a Thursday).
fn weekday_of(epoch_day: i64) -> usize {
    // rem_euclid(7) is in 0..7.
    (epoch_day + 3).rem_euclid(7) as usize
}

fn fmt_minute(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn fmt_interval(&(s, e): &Interval) -> String {
    format!("{}-{}", fmt_minute(s), fmt_minute(e))
}

/// The rules `Calendar::new` enforces for one day, with messages that name the interval.
fn check_day(day: &[Interval]) -> Result<(), String> {
    for (i, iv) in day.iter().enumerate() {
        let (s, e) = *iv;
        if e > 1440 {
            return Err(format!("{} ends after 24:00", fmt_interval(iv)));
        }
        if e < s {
            return Err(format!("{} ends before it starts", fmt_interval(iv)));
        }
        if e == s {
            return Err(format!("{} is empty", fmt_interval(iv)));
        }
        if let Some(prev) = i.checked_sub(1).and_then(|p| day.get(p)) {
            if s < prev.0 {
                return Err(format!(
                    "{} comes after {}; list the hours in order",
                    fmt_interval(iv),
                    fmt_interval(prev)
                ));
            }
            if s < prev.1 {
                return Err(format!(
                    "{} overlaps {}",
                    fmt_interval(prev),
                    fmt_interval(iv)
                ));
            }
        }
    }
    Ok(())
}

fn parse_minute(s: &str) -> Result<u16, String> {
    let bad = || format!("\"{s}\" is not a time (HH:MM, 00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// "09:00-12:00, 13:00-17:00" → intervals; "" or "closed" → empty; "24h" or
/// "00:00-24:00" → whole day. Errors name the bad piece.
pub fn parse_day_hours(s: &str) -> Result<Vec<Interval>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    if s.eq_ignore_ascii_case("24h") {
        return Ok(vec![(0, 1440)]);
    }
    let mut day = Vec::new();
    for piece in s.split(',').map(str::trim) {
        if piece.is_empty() {
            return Err(format!("\"{s}\" has an empty range between commas"));
        }
        let (a, b) = piece
            .split_once('-')
            .ok_or_else(|| format!("\"{piece}\" is not a time range (HH:MM-HH:MM)"))?;
        day.push((parse_minute(a.trim())?, parse_minute(b.trim())?));
    }
    check_day(&day)?;
    Ok(day)
}

/// Inverse of parse_day_hours: "closed" for no hours, else "HH:MM-HH:MM, HH:MM-HH:MM".
pub fn format_day_hours(day: &[Interval]) -> String {
    if day.is_empty() {
        return "closed".into();
    }
    day.iter().map(fmt_interval).collect::<Vec<_>>().join(", ")
}

/// The stored form of the opening hours: seven `format_day_hours` lines, Monday first.
pub fn stored_hours(week: &[Vec<Interval>; 7]) -> String {
    week.iter()
        .map(|d| format_day_hours(d))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines "YYYY-MM-DD optional name"; blank lines ignored; errors name the line
/// number. Duplicate dates are an error.
pub fn parse_holidays(s: &str) -> Result<Vec<(NaiveDate, String)>, String> {
    let mut out: Vec<(NaiveDate, String)> = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for (i, line) in s.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (date, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let well_formed = date.len() == 10
            && date.bytes().enumerate().all(|(j, b)| {
                if j == 4 || j == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        let day = well_formed
            .then(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| format!("line {n}: {date} is not a date (YYYY-MM-DD)"))?;
        if let Some(first) = seen.insert(day, n) {
            return Err(format!(
                "line {n}: {date} is listed twice (first on line {first})"
            ));
        }
        out.push((day, name.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    const M: i64 = MIN_MS;
    const H: i64 = 60 * M;

    /// A local wall-clock time ("2026-01-16 16:00") that exists exactly once.
    fn local(tz: &str, s: &str) -> i64 {
        let zone: Tz = tz.parse().unwrap();
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        zone.from_local_datetime(&naive)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn week_of(days: [&str; 7]) -> [Vec<Interval>; 7] {
        days.map(|d| parse_day_hours(d).unwrap())
    }

    fn office(tz: &str) -> Calendar {
        let nine_five = "09:00-17:00";
        Calendar::new(
            tz,
            week_of([
                nine_five, nine_five, nine_five, nine_five, nine_five, "", "",
            ]),
            [],
        )
        .unwrap()
    }

    /// Every day the same hours, so Sunday transitions are inside open days.
    fn daily(tz: &str, hours: &str) -> Calendar {
        Calendar::new(tz, week_of([hours; 7]), []).unwrap()
    }

    /// Open around the clock, but a holiday in 1500 switches off the shortcut so
    /// the day walk itself is exercised.
    fn walked_24_7(tz: &str) -> Calendar {
        let c = Calendar::new(tz, week_of(["24h"; 7]), [date("1500-01-01")]).unwrap();
        assert!(!c.all_open);
        c
    }

    const B: &str = "Europe/Berlin";
    const NY: &str = "America/New_York";

    // ---- Mon–Fri 09:00–17:00, Europe/Berlin (January: CET all along) ----

    #[test]
    fn add_across_the_weekend() {
        let c = office(B);
        // 2026-01-16 is a Friday.
        let fri_16 = local(B, "2026-01-16 16:00");
        assert_eq!(c.add(fri_16, 2 * H), Some(local(B, "2026-01-19 10:00")));
        // Exactly the rest of Friday lands on closing time, not on Monday.
        assert_eq!(c.add(fri_16, H), Some(local(B, "2026-01-16 17:00")));
        assert_eq!(c.add(fri_16, 9 * H), Some(local(B, "2026-01-19 17:00")));
        assert_eq!(
            c.add(fri_16, 9 * H + 1),
            Some(local(B, "2026-01-20 09:00") + 1)
        );
    }

    #[test]
    fn add_from_closed_times() {
        let c = office(B);
        assert_eq!(
            c.add(local(B, "2026-01-19 07:30"), 30 * M),
            Some(local(B, "2026-01-19 09:30"))
        );
        assert_eq!(
            c.add(local(B, "2026-01-19 18:00"), H),
            Some(local(B, "2026-01-20 10:00"))
        );
        assert_eq!(
            c.add(local(B, "2026-01-18 12:00"), 8 * H),
            Some(local(B, "2026-01-19 17:00"))
        );
        // Saturday + 2 days of work = Tuesday closing.
        assert_eq!(
            c.add(local(B, "2026-01-17 03:00"), 16 * H),
            Some(local(B, "2026-01-20 17:00"))
        );
    }

    #[test]
    fn add_of_nothing_is_the_start() {
        let c = office(B);
        let sun = local(B, "2026-01-18 12:00");
        assert_eq!(c.add(sun, 0), Some(sun));
        assert_eq!(c.add(sun, -5 * H), Some(sun));
    }

    #[test]
    fn between_within_and_across_weeks() {
        let c = office(B);
        let mon = |t: &str| local(B, &format!("2026-01-19 {t}"));
        assert_eq!(c.between(mon("08:00"), mon("20:00")), 8 * H);
        assert_eq!(c.between(mon("10:15"), mon("11:00")), 45 * M);
        assert_eq!(c.between(mon("20:00"), mon("08:00")), 0);
        assert_eq!(c.between(mon("10:00"), mon("10:00")), 0);
        // Friday 16:30 to Monday 09:45: 30 min + 45 min.
        assert_eq!(
            c.between(local(B, "2026-01-16 16:30"), mon("09:45")),
            75 * M
        );
        // Saturday to Sunday: nothing.
        assert_eq!(
            c.between(local(B, "2026-01-17 00:00"), local(B, "2026-01-19 00:00")),
            0
        );
        // Two whole weeks, Wednesday noon to Wednesday noon: 10 days of 8 h.
        assert_eq!(
            c.between(local(B, "2026-01-14 12:00"), local(B, "2026-01-28 12:00")),
            80 * H
        );
    }

    #[test]
    fn is_open_follows_the_hours() {
        let c = office(B);
        assert!(!c.is_open(local(B, "2026-01-19 08:59")));
        assert!(c.is_open(local(B, "2026-01-19 09:00")));
        assert!(c.is_open(local(B, "2026-01-19 16:59")));
        assert!(!c.is_open(local(B, "2026-01-19 17:00")));
        assert!(!c.is_open(local(B, "2026-01-17 12:00")));
    }

    #[test]
    fn holidays_are_skipped() {
        let nine_five = "09:00-17:00";
        let c = Calendar::new(
            B,
            week_of([
                nine_five, nine_five, nine_five, nine_five, nine_five, "", "",
            ]),
            [date("2026-12-25")],
        )
        .unwrap();
        // Thursday 24th 16:00 + 2 h: Friday 25th is a holiday, so Monday 28th 10:00.
        assert_eq!(
            c.add(local(B, "2026-12-24 16:00"), 2 * H),
            Some(local(B, "2026-12-28 10:00"))
        );
        // Thursday to Tuesday: Thursday and Monday only.
        assert_eq!(
            c.between(local(B, "2026-12-24 00:00"), local(B, "2026-12-29 00:00")),
            16 * H
        );
        assert!(!c.is_open(local(B, "2026-12-25 10:00")));
        assert!(c.is_open(local(B, "2026-12-24 10:00")));
        assert_eq!(c.holidays().collect::<Vec<_>>(), vec![&date("2026-12-25")]);
    }

    #[test]
    fn lunch_break_is_skipped() {
        let split = "09:00-12:00, 13:00-17:00";
        let c = Calendar::new(B, week_of([split, split, split, split, split, "", ""]), []).unwrap();
        let mon = |t: &str| local(B, &format!("2026-01-19 {t}"));
        assert_eq!(c.add(mon("11:00"), 2 * H), Some(mon("14:00")));
        assert_eq!(c.add(mon("11:00"), H), Some(mon("12:00")));
        assert_eq!(c.add(mon("12:15"), M), Some(mon("13:01")));
        assert_eq!(c.between(mon("11:30"), mon("13:30")), H);
        assert_eq!(c.between(mon("00:00"), mon("23:59")), 7 * H);
        assert!(!c.is_open(mon("12:30")));
        // Friday 16:00 + 2 h: one hour on Friday, one on Monday morning.
        assert_eq!(
            c.add(local(B, "2026-01-16 16:00"), 2 * H),
            Some(local(B, "2026-01-19 10:00"))
        );
        // A week holds 5 × 7 h.
        assert_eq!(
            c.between(mon("00:00"), local(B, "2026-01-26 00:00")),
            35 * H
        );
    }

    // ---- Daylight saving time ----

    /// (zone, local date of the transition, the day after, hours in that local day)
    const DST_DAYS: [(&str, &str, &str, i64); 4] = [
        (B, "2026-03-29", "2026-03-30", 23),
        (B, "2026-10-25", "2026-10-26", 25),
        (NY, "2026-03-08", "2026-03-09", 23),
        (NY, "2026-11-01", "2026-11-02", 25),
    ];

    #[test]
    fn round_the_clock_days_are_23_or_25_hours() {
        for (tz, day, next, hours) in DST_DAYS {
            let (a, b) = (
                local(tz, &format!("{day} 00:00")),
                local(tz, &format!("{next} 00:00")),
            );
            assert_eq!(b - a, hours * H, "{tz} {day} (test data)");
            assert_eq!(walked_24_7(tz).between(a, b), hours * H, "{tz} {day}");
            assert_eq!(daily(tz, "24h").between(a, b), hours * H, "{tz} {day}");
            // Only that day open: the 00:00-24:00 interval itself is 23 or 25 h.
            let mut week: [Vec<Interval>; 7] = Default::default();
            week[6] = vec![(0, 1440)];
            let sunday_only = Calendar::new(tz, week, []).unwrap();
            let wide = (a - 3 * 24 * H, b + 3 * 24 * H);
            assert_eq!(sunday_only.between(wide.0, wide.1), hours * H, "{tz} {day}");
        }
    }

    #[test]
    fn office_hours_stay_eight_hours_on_transition_days() {
        for (tz, day, next, _) in DST_DAYS {
            let c = daily(tz, "09:00-17:00");
            let (a, b) = (
                local(tz, &format!("{day} 00:00")),
                local(tz, &format!("{next} 00:00")),
            );
            assert_eq!(c.between(a, b), 8 * H, "{tz} {day}");
            assert_eq!(
                c.add(a, 8 * H),
                Some(local(tz, &format!("{day} 17:00"))),
                "{tz} {day}"
            );
        }
    }

    #[test]
    fn office_week_around_the_spring_change() {
        let c = office(B);
        // Friday 16:00 CET + 2 h = Monday 10:00 CEST; the weekend lost an hour.
        assert_eq!(
            c.add(local(B, "2026-03-27 16:00"), 2 * H),
            Some(local(B, "2026-03-30 10:00"))
        );
        assert_eq!(
            c.add(utc("2026-03-27T15:00:00Z"), 2 * H),
            Some(utc("2026-03-30T08:00:00Z"))
        );
        assert_eq!(
            c.between(local(B, "2026-03-27 09:00"), local(B, "2026-03-30 17:00")),
            16 * H
        );
    }

    fn sunday(tz: &str, hours: &str) -> Calendar {
        Calendar::new(tz, week_of(["", "", "", "", "", "", hours]), []).unwrap()
    }

    #[test]
    fn interval_containing_the_gap() {
        // 01:00-04:00 local on a spring-forward day: 02:00-03:00 does not exist.
        for (tz, day) in [(B, "2026-03-29"), (NY, "2026-03-08")] {
            let c = sunday(tz, "01:00-04:00");
            let midnight = local(tz, &format!("{day} 00:00"));
            assert_eq!(c.between(midnight, midnight + 24 * H), 2 * H, "{tz}");
        }
        // Berlin jumps at 01:00 UTC: a boundary in the gap maps to that instant.
        let c = sunday(B, "02:30-05:00");
        let day = (local(B, "2026-03-29 00:00"), local(B, "2026-03-30 00:00"));
        assert_eq!(c.between(day.0, day.1), 2 * H);
        assert!(c.is_open(utc("2026-03-29T01:00:00Z")));
        assert!(!c.is_open(utc("2026-03-29T00:59:59Z")));
        // An interval entirely inside the gap has no length.
        let c = Calendar::new(
            B,
            week_of(["09:00-10:00", "", "", "", "", "", "02:00-02:45"]),
            [],
        )
        .unwrap();
        assert_eq!(c.between(day.0, day.1), 0);
        assert_eq!(c.add(day.0, H), Some(local(B, "2026-03-30 10:00")));
    }

    #[test]
    fn interval_containing_the_repeated_hour() {
        // New York 2026-11-01: 01:00-02:00 happens twice. 01:00 EDT (05:00Z) to 03:00 EST (08:00Z).
        let c = sunday(NY, "01:00-03:00");
        let day = (local(NY, "2026-11-01 00:00"), local(NY, "2026-11-02 00:00"));
        assert_eq!(c.between(day.0, day.1), 3 * H);
        assert!(c.is_open(utc("2026-11-01T05:00:00Z")));
        assert!(!c.is_open(utc("2026-11-01T04:59:59Z")));
        assert!(!c.is_open(utc("2026-11-01T08:00:00Z")));
        // Ambiguous boundaries: start at the earliest 01:30 (EDT), end at the latest (EST).
        let c = sunday(NY, "01:30-01:45");
        assert_eq!(c.between(day.0, day.1), H + 15 * M);
        // Berlin 2026-10-25: an end inside the repeated hour takes the later 02:30 (01:30Z).
        let c = sunday(B, "00:00-02:30");
        let day = (local(B, "2026-10-25 00:00"), local(B, "2026-10-26 00:00"));
        assert_eq!(c.between(day.0, day.1), 3 * H + 30 * M);
        assert_eq!(
            c.add(day.0, 3 * H + 30 * M),
            Some(utc("2026-10-25T01:30:00Z"))
        );
    }

    #[test]
    fn add_lands_after_a_transition() {
        // Berlin, 24/7: 01:30 CET + 1 h = 03:30 CEST.
        let c = walked_24_7(B);
        let start = local(B, "2026-03-29 01:30");
        assert_eq!(c.add(start, H), Some(local(B, "2026-03-29 03:30")));
        assert_eq!(c.between(start, local(B, "2026-03-29 03:30")), H);
        // Berlin, Sunday 01:00-04:00 (2 h of real time): 1.5 h in is 03:30 CEST.
        let c = sunday(B, "01:00-04:00");
        assert_eq!(
            c.add(local(B, "2026-03-29 01:00"), 90 * M),
            Some(local(B, "2026-03-29 03:30"))
        );
        // New York fall back, 01:00-03:00: two hours after 01:00 EDT is 02:00 EST.
        let c = sunday(NY, "01:00-03:00");
        let start = utc("2026-11-01T05:00:00Z");
        assert_eq!(c.add(start, 2 * H), Some(utc("2026-11-01T07:00:00Z")));
        assert_eq!(c.add(start, 2 * H), Some(local(NY, "2026-11-01 02:00")));
        // New York office week across the spring change.
        let c = office(NY);
        assert_eq!(
            c.add(local(NY, "2026-03-06 16:00"), 2 * H),
            Some(local(NY, "2026-03-09 10:00"))
        );
    }

    #[test]
    fn round_the_clock_equals_wall_time_in_awkward_zones() {
        // Apia skipped 2011-12-30; Havana and Santiago change at midnight; Lord Howe
        // shifts by 30 minutes; Casablanca pauses DST for Ramadan.
        let zones = [
            B,
            NY,
            "Pacific/Apia",
            "America/Havana",
            "America/Santiago",
            "Australia/Lord_Howe",
            "Africa/Casablanca",
            "Asia/Kolkata",
        ];
        let mut rng = Lcg(7);
        for tz in zones {
            let c = walked_24_7(tz);
            for _ in 0..200 {
                let a = rng.range(utc("2010-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"));
                let b = a + rng.range(0, 40 * 24 * H);
                assert_eq!(c.between(a, b), b - a, "{tz} {a} {b}");
                assert_eq!(c.add(a, b - a), Some(b), "{tz} {a} {b}");
            }
            let apia = (utc("2011-12-25T00:00:00Z"), utc("2012-01-05T00:00:00Z"));
            assert_eq!(c.between(apia.0, apia.1), apia.1 - apia.0, "{tz}");
        }
    }

    // ---- Pause and resume ----

    #[test]
    fn pause_and_resume_compose() {
        let c = office(B);
        let target = 8 * H;
        // Opened Monday 15:00, paused Monday 16:00, resumed Wednesday 11:00.
        let opened = local(B, "2026-01-19 15:00");
        let paused = local(B, "2026-01-19 16:00");
        let resumed = local(B, "2026-01-21 11:00");
        let used = c.between(opened, paused);
        assert_eq!(used, H);
        // 7 h left: Wednesday 11:00-17:00 is 6, Thursday 09:00-10:00 the last.
        let due = c.add(resumed, target - used).unwrap();
        assert_eq!(due, local(B, "2026-01-22 10:00"));
        assert_eq!(used + c.between(resumed, due), target);
        // Without the pause it would have been due Tuesday 15:00.
        assert_eq!(c.add(opened, target), Some(local(B, "2026-01-20 15:00")));
    }

    // ---- add and between agree ----

    /// Deterministic pseudo-random numbers (Knuth's MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
        }
    }

    fn assorted_calendars() -> Vec<Calendar> {
        let split = "09:00-12:00, 13:00-17:00";
        let holidays = ["2026-12-25", "2026-12-26", "2027-01-01", "2026-05-01"].map(date);
        vec![
            office(B),
            Calendar::new(
                NY,
                week_of([split, split, split, split, split, "", ""]),
                holidays,
            )
            .unwrap(),
            walked_24_7(B),
            Calendar::new(
                NY,
                week_of([
                    "",
                    "",
                    "",
                    "",
                    "",
                    "10:00-14:00",
                    "00:30-02:30, 03:00-24:00",
                ]),
                holidays,
            )
            .unwrap(),
            Calendar::new(
                "Asia/Tokyo",
                week_of(["00:00-00:01, 12:00-12:30"; 7]),
                holidays,
            )
            .unwrap(),
            Calendar::always(),
        ]
    }

    #[test]
    fn between_and_add_agree() {
        let mut rng = Lcg(42);
        for c in assorted_calendars() {
            for _ in 0..300 {
                let s = rng.range(utc("2025-06-01T00:00:00Z"), utc("2027-06-01T00:00:00Z"));
                let x = rng.range(1, 300 * H);
                let end = c.add(s, x).unwrap();
                assert_eq!(c.between(s, end), x, "{} from {s} add {x}", c.tz_name());
                // And the instant is the first one: a millisecond earlier is short.
                assert_eq!(
                    c.between(s, end - 1),
                    x - 1,
                    "{} from {s} add {x}",
                    c.tz_name()
                );
                let e = s + rng.range(0, 60 * 24 * H);
                let used = c.between(s, e);
                assert!(c.add(s, used).unwrap() <= e, "{} {s} {e}", c.tz_name());
                assert_eq!(
                    c.between(s, e),
                    c.between(s, s + (e - s) / 2) + c.between(s + (e - s) / 2, e)
                );
            }
        }
    }

    // ---- The fixed-offset arithmetic outside 1800..2101 ----

    #[test]
    fn no_zone_changes_offset_outside_the_walked_years() {
        let offset = |tz: Tz, ms: i64| {
            let t = DateTime::from_timestamp_millis(ms).unwrap().naive_utc();
            tz.offset_from_utc_datetime(&t).fix().local_minus_utc()
        };
        let far = 200_000 * 365 * DAY_MS;
        for &tz in chrono_tz::TZ_VARIANTS.iter() {
            let before = offset(tz, LO_MS + 2 * DAY_MS);
            let after = offset(tz, HI_MS - 2 * DAY_MS);
            assert_eq!(offset(tz, -far), before, "{}", tz.name());
            assert_eq!(offset(tz, far), after, "{}", tz.name());
            let mut t = LO_MS - 20 * 365 * DAY_MS;
            while t < LO_MS + 2 * DAY_MS {
                assert_eq!(offset(tz, t), before, "{} at {t}", tz.name());
                t += 5 * DAY_MS;
            }
            let mut t = HI_MS - 2 * DAY_MS;
            while t < HI_MS + 20 * 365 * DAY_MS {
                assert_eq!(offset(tz, t), after, "{} at {t}", tz.name());
                t += 5 * DAY_MS;
            }
        }
    }

    #[test]
    fn fixed_offset_arithmetic_matches_the_day_walk() {
        // Tokyo has kept +09:00 since 1951, so both methods must agree in 2026.
        let split = "09:00-12:00, 13:00-17:30";
        let c = Calendar::new(
            "Asia/Tokyo",
            week_of([split, "24h", "", split, "08:00-08:01", "", "23:00-24:00"]),
            ["2026-02-11", "2026-02-12", "2026-04-29", "2026-05-04"].map(date),
        )
        .unwrap();
        let mut rng = Lcg(3);
        for _ in 0..500 {
            let a = rng.range(utc("2026-01-01T00:00:00Z"), utc("2026-12-01T00:00:00Z"));
            let b = a + rng.range(0, 30 * 24 * H);
            let fixed = c.fixed_between(a.into(), b.into(), 9 * H);
            assert_eq!(fixed, i128::from(c.walk_between(a, b)), "{a} {b}");
            let x = rng.range(1, 100 * H);
            assert_eq!(c.fixed_add(a, x, 9 * H), c.add(a, x), "{a} {x}");
        }
    }

    #[test]
    fn spans_crossing_the_walked_years_are_seamless() {
        let mut rng = Lcg(11);
        for c in assorted_calendars() {
            for edge in [LO_MS, HI_MS] {
                for _ in 0..50 {
                    let s = edge + rng.range(-20 * 24 * H, 20 * 24 * H);
                    let x = rng.range(1, 200 * H);
                    let end = c.add(s, x).unwrap();
                    assert_eq!(c.between(s, end), x, "{} {s} {x}", c.tz_name());
                    assert_eq!(c.between(s, end - 1), x - 1, "{} {s} {x}", c.tz_name());
                }
            }
            // A full week at both far ends holds the week's hours.
            let week: i64 = c
                .week()
                .iter()
                .flatten()
                .map(|&(s, e)| i64::from(e - s) * M)
                .sum();
            for s in [utc("1700-03-01T05:00:00Z"), utc("2500-03-01T05:00:00Z")] {
                assert_eq!(c.between(s, s + WEEK_MS), week, "{}", c.tz_name());
            }
        }
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        for c in assorted_calendars() {
            for t in [i64::MIN, -1, i64::MAX] {
                let _ = c.is_open(t);
                let _ = c.add(t, H);
                let _ = c.add(t, i64::MAX);
                let _ = c.between(t, i64::MAX);
                let _ = c.between(i64::MIN, t);
            }
            assert_eq!(c.add(i64::MAX - 1000, 7 * 24 * H), None, "{}", c.tz_name());
            assert_eq!(c.add(1, i64::MAX), None, "{}", c.tz_name());
            let s = i64::MIN;
            let end = c.add(s, 5 * H).unwrap();
            assert_eq!(c.between(s, end), 5 * H, "{}", c.tz_name());
        }
        // The whole i64 range, Mon-Fri 8 h: 40/168 of it, give or take a week.
        let c = office(B);
        let all = c.between(i64::MIN, i64::MAX);
        let expected = (u64::MAX / 168 * 40) as i64;
        assert!((all - expected).abs() < WEEK_MS, "{all} vs {expected}");
        assert_eq!(Calendar::always().between(i64::MIN, i64::MAX), i64::MAX);
        assert_eq!(Calendar::always().add(i64::MAX, 1), None);
    }

    #[test]
    fn add_gives_up_when_holidays_close_ten_years() {
        let first = date("2026-01-05");
        let mondays: Vec<NaiveDate> = (0..600)
            .map(|w| first + chrono::TimeDelta::weeks(w))
            .collect();
        let c =
            Calendar::new(B, week_of(["09:00-17:00", "", "", "", "", "", ""]), mondays).unwrap();
        assert_eq!(c.add(local(B, "2026-01-01 00:00"), H), None);
        assert_eq!(
            c.between(local(B, "2026-01-01 00:00"), local(B, "2030-01-01 00:00")),
            0
        );
        // After the last holiday Mondays open again.
        let after = first + chrono::TimeDelta::weeks(600);
        assert_eq!(
            c.add(local(B, "2037-06-01 00:00"), H),
            Some(local(B, &format!("{after} 10:00")))
        );
    }

    // ---- always() ----

    #[test]
    fn always_is_plain_arithmetic() {
        let c = Calendar::always();
        assert_eq!(c.tz_name(), "UTC");
        let mut rng = Lcg(5);
        for _ in 0..1000 {
            let a = rng.range(-4 * HI_MS, 4 * HI_MS);
            let b = rng.range(-4 * HI_MS, 4 * HI_MS);
            assert_eq!(c.between(a, b), (b - a).max(0));
            assert_eq!(c.add(a, (b - a).abs()), Some(a + (b - a).abs()));
            assert!(c.is_open(a));
        }
        assert_eq!(c.week(), &std::array::from_fn(|_| vec![(0, 1440)]));
        assert_eq!(Calendar::default().week(), c.week());
        assert_eq!(c.holidays().count(), 0);
    }

    // ---- Parsers and the stored form ----

    #[test]
    fn parse_day_hours_accepts_the_usual_forms() {
        assert_eq!(
            parse_day_hours("09:00-12:00, 13:00-17:00"),
            Ok(vec![(540, 720), (780, 1020)])
        );
        assert_eq!(
            parse_day_hours(" 9:00 - 12:00 ,12:00-12:30"),
            Ok(vec![(540, 720), (720, 750)])
        );
        for closed in ["", "  ", "closed", "Closed"] {
            assert_eq!(parse_day_hours(closed), Ok(vec![]), "{closed:?}");
        }
        for whole in ["24h", "24H", "00:00-24:00"] {
            assert_eq!(parse_day_hours(whole), Ok(vec![(0, 1440)]), "{whole:?}");
        }
    }

    #[test]
    fn parse_day_hours_names_the_bad_piece() {
        let cases = [
            ("09:00", "\"09:00\" is not a time range (HH:MM-HH:MM)"),
            ("9-17", "\"9\" is not a time (HH:MM, 00:00 to 24:00)"),
            (
                "09:00-25:00",
                "\"25:00\" is not a time (HH:MM, 00:00 to 24:00)",
            ),
            (
                "09:00-24:30",
                "\"24:30\" is not a time (HH:MM, 00:00 to 24:00)",
            ),
            (
                "09:60-10:00",
                "\"09:60\" is not a time (HH:MM, 00:00 to 24:00)",
            ),
            (
                "09:0-10:00",
                "\"09:0\" is not a time (HH:MM, 00:00 to 24:00)",
            ),
            (
                "+9:00-10:00",
                "\"+9:00\" is not a time (HH:MM, 00:00 to 24:00)",
            ),
            ("13:00-12:00", "13:00-12:00 ends before it starts"),
            ("09:00-09:00", "09:00-09:00 is empty"),
            (
                "09:00-12:00, 11:00-13:00",
                "09:00-12:00 overlaps 11:00-13:00",
            ),
            (
                "13:00-17:00, 09:00-12:00",
                "09:00-12:00 comes after 13:00-17:00; list the hours in order",
            ),
            (
                "09:00-12:00,",
                "\"09:00-12:00,\" has an empty range between commas",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                parse_day_hours(input),
                Err(message.to_string()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn format_day_hours_is_canonical() {
        assert_eq!(format_day_hours(&[]), "closed");
        assert_eq!(format_day_hours(&[(0, 1440)]), "00:00-24:00");
        assert_eq!(
            format_day_hours(&[(540, 720), (780, 1020)]),
            "09:00-12:00, 13:00-17:00"
        );
        for s in [
            "closed",
            "00:00-24:00",
            "09:00-12:00, 13:00-17:00",
            "00:05-00:10",
        ] {
            assert_eq!(format_day_hours(&parse_day_hours(s).unwrap()), s);
        }
    }

    #[test]
    fn new_rejects_bad_calendars() {
        let mut week = week_of(["09:00-17:00"; 7]);
        week[1] = vec![(780, 720)];
        assert_eq!(
            Calendar::new(B, week, []).unwrap_err(),
            "Tuesday: 13:00-12:00 ends before it starts"
        );
        let mut week = week_of(["09:00-17:00"; 7]);
        week[0] = vec![(540, 1500)];
        assert_eq!(
            Calendar::new(B, week, []).unwrap_err(),
            "Monday: 09:00-25:00 ends after 24:00"
        );
        let mut week = week_of(["09:00-17:00"; 7]);
        week[6] = vec![(540, 720), (600, 800)];
        assert_eq!(
            Calendar::new(B, week, []).unwrap_err(),
            "Sunday: 09:00-12:00 overlaps 10:00-13:20"
        );
        assert_eq!(
            Calendar::new("Mars/Olympus_Mons", week_of(["24h"; 7]), []).unwrap_err(),
            "\"Mars/Olympus_Mons\" is not a known time zone (use an IANA name such as Europe/Berlin)"
        );
        assert_eq!(
            Calendar::new(B, week_of([""; 7]), []).unwrap_err(),
            "the calendar is closed every day of the week; open at least one day"
        );
        assert_eq!(
            Calendar::new(" Europe/Berlin ", week_of(["24h"; 7]), [])
                .unwrap()
                .tz_name(),
            B
        );
    }

    #[test]
    fn parse_holidays_reads_lines() {
        let text = "2026-12-25 Christmas Day\n\n  2026-12-26\tBoxing Day  \n2027-01-01\n";
        assert_eq!(
            parse_holidays(text),
            Ok(vec![
                (date("2026-12-25"), "Christmas Day".to_string()),
                (date("2026-12-26"), "Boxing Day".to_string()),
                (date("2027-01-01"), String::new()),
            ])
        );
        assert_eq!(parse_holidays(""), Ok(vec![]));
        let bad = [
            (
                "2026-12-25\n\n2026-13-01 x",
                "line 3: 2026-13-01 is not a date (YYYY-MM-DD)",
            ),
            (
                "2026-02-30",
                "line 1: 2026-02-30 is not a date (YYYY-MM-DD)",
            ),
            (
                "2026-1-05 New Year",
                "line 1: 2026-1-05 is not a date (YYYY-MM-DD)",
            ),
            (
                "Christmas 2026-12-25",
                "line 1: Christmas is not a date (YYYY-MM-DD)",
            ),
            (
                "2026-12-25 a\n2026-12-26 b\n2026-12-25 c",
                "line 3: 2026-12-25 is listed twice (first on line 1)",
            ),
        ];
        for (input, message) in bad {
            assert_eq!(parse_holidays(input), Err(message.to_string()), "{input:?}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let week = week_of([
            "09:00-12:00, 13:00-17:00",
            "09:00-17:00",
            "closed",
            "24h",
            "08:00-08:30",
            "",
            "22:00-24:00",
        ]);
        let hours = stored_hours(&week);
        assert_eq!(
            hours,
            "09:00-12:00, 13:00-17:00\n09:00-17:00\nclosed\n00:00-24:00\n08:00-08:30\nclosed\n22:00-24:00"
        );
        let c =
            Calendar::from_stored(NY, &hours, "2026-12-25 Christmas\n2026-07-03 Observed").unwrap();
        assert_eq!(c.week(), &week);
        assert_eq!(c.tz_name(), NY);
        assert_eq!(
            c.holidays().copied().collect::<Vec<_>>(),
            vec![date("2026-07-03"), date("2026-12-25")]
        );
        assert_eq!(stored_hours(c.week()), hours);
        // A trailing newline is fine.
        assert!(Calendar::from_stored(NY, &format!("{hours}\n"), "").is_ok());
    }

    #[test]
    fn from_stored_reports_errors() {
        let good = stored_hours(&week_of(["09:00-17:00"; 7]));
        assert_eq!(
            Calendar::from_stored(B, "09:00-17:00\nclosed", "").unwrap_err(),
            "opening hours need 7 lines (Monday to Sunday), found 2"
        );
        let mut lines = ["09:00-17:00"; 7];
        lines[2] = "nine to five";
        let bad = lines.join("\n");
        assert_eq!(
            Calendar::from_stored(B, &bad, "").unwrap_err(),
            "Wednesday: \"nine to five\" is not a time range (HH:MM-HH:MM)"
        );
        assert_eq!(
            Calendar::from_stored(B, &good, "2026-12-25\nsoon").unwrap_err(),
            "line 2: soon is not a date (YYYY-MM-DD)"
        );
        assert_eq!(
            Calendar::from_stored("Nowhere", &good, "").unwrap_err(),
            "\"Nowhere\" is not a known time zone (use an IANA name such as Europe/Berlin)"
        );
        assert_eq!(DAYS[0], "Monday");
        assert_eq!(DAYS[6], "Sunday");
    }

    // ---- Cost ----

    /// `cargo test --lib sla::calendar::tests::cost -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn cost_of_between_over_90_days() {
        let c = office(B);
        let split = "09:00-12:00, 13:00-17:00";
        let with_holidays = Calendar::new(
            B,
            week_of([split, split, split, split, split, "", ""]),
            [
                "2026-04-03",
                "2026-04-06",
                "2026-05-01",
                "2026-05-14",
                "2026-05-25",
            ]
            .map(date),
        )
        .unwrap();
        for (name, c) in [("Mon-Fri 09-17", &c), ("split + holidays", &with_holidays)] {
            let n = 20_000;
            let mut sum = 0i64;
            let base = utc("2026-01-01T00:00:00Z");
            let t = std::time::Instant::now();
            for i in 0..n {
                let a = base + i * 37 * M;
                sum = sum.wrapping_add(c.between(a, a + 90 * 24 * H));
            }
            let per = t.elapsed() / n as u32;
            println!("{name}: between over 90 days: {per:?} per call (checksum {sum})");
        }
    }
}
