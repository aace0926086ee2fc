//! The breakdowns the reports page draws next to the headline figures:
//! daily and weekly series, the first-response distribution, per-agent and
//! per-group rows. Collected by `compute::Acc` in the same pass (never one
//! engine run per day or per agent), from the same per-ticket facts as the
//! headline figures.
//!
//! Decisions where METRICS.md is silent:
//! - Resolved per day counts each ticket once, on the day of its first
//!   resolution in the period, so the days add up to `volume.resolved`.
//! - Weeks begin on Monday in the report's time zone; a week cut by the
//!   period's edge holds only the period's days.
//! - Agent and group rows use the ticket's current assignee and group (as
//!   the filters do); `resolved` there is the volume figure, by ticket.

use chrono::{Datelike, NaiveDate};

use super::compute::{nearest_rank, Window};

const HOUR_MS: i64 = 3_600_000;

/// Upper bounds (exclusive) of the first-response buckets, in ms; the last
/// bucket is open.
const FRT_BOUNDS: [i64; 5] = [
    HOUR_MS,
    4 * HOUR_MS,
    8 * HOUR_MS,
    24 * HOUR_MS,
    72 * HOUR_MS,
];
pub const FRT_LABELS: [&str; 6] = ["< 1 h", "1–4 h", "4–8 h", "8–24 h", "1–3 d", "> 3 d"];

/// Backlog age buckets as [lower, upper) ages in ms.
const AGE_BOUNDS: [(i64, i64); 4] = [
    (0, 24 * HOUR_MS),
    (24 * HOUR_MS, 72 * HOUR_MS),
    (72 * HOUR_MS, 168 * HOUR_MS),
    (168 * HOUR_MS, i64::MAX),
];

/// One day of the period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayPoint {
    pub date: String,
    pub created: u64,
    pub resolved: u64,
    /// Backlog at the day's end by age: lt_1d, d1_3, d3_7, gt_7d.
    pub backlog: [u64; 4],
}

/// One week (Monday in the report's zone).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeekPoint {
    pub week: String,
    pub sla_fr_met: u64,
    pub sla_fr_missed: u64,
    pub sla_res_met: u64,
    pub sla_res_missed: u64,
    pub csat_count: u64,
    pub csat_good: u64,
}

impl WeekPoint {
    pub fn sla_fr_rate(&self) -> Option<f64> {
        super::ratio(self.sla_fr_met, self.sla_fr_met + self.sla_fr_missed)
    }
    pub fn sla_res_rate(&self) -> Option<f64> {
        super::ratio(self.sla_res_met, self.sla_res_met + self.sla_res_missed)
    }
    pub fn csat_score(&self) -> Option<f64> {
        super::ratio(self.csat_good, self.csat_count)
    }
}

/// One agent's or group's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// The agent or group id; `None` for "Unassigned" / "No group".
    pub id: Option<i64>,
    pub name: String,
    pub tickets: u64,
    pub resolved: u64,
    pub frt_median_s: Option<i64>,
    pub resolution_median_s: Option<i64>,
    pub fcr_rate: Option<f64>,
    pub sla_fr_rate: Option<f64>,
    pub csat_count: u64,
    pub csat_score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub days: Vec<DayPoint>,
    pub frt_buckets: [u64; 6],
    pub weeks: Vec<WeekPoint>,
    pub agents: Vec<Row>,
    pub groups: Vec<Row>,
}

/// What the cohort rules found for one ticket (computed once in
/// `compute::Acc::cohort`, added to the totals and to these rows).
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    pub frt_ms: Option<i64>,
    pub resolution_ms: Option<i64>,
    /// FCR-eligible, and whether it counts.
    pub fcr: Option<bool>,
    /// SLA met (true) or missed (false); `None` when not counted.
    pub sla_fr: Option<bool>,
    pub sla_res: Option<bool>,
}

#[derive(Debug, Default)]
struct RowAcc {
    tickets: u64,
    resolved: u64,
    frt: Vec<i64>,
    res: Vec<i64>,
    fcr: (u64, u64),
    sla_fr: (u64, u64),
    ratings: (u64, u64),
}

impl RowAcc {
    fn add(&mut self, f: &Facts) {
        self.tickets += 1;
        self.frt.extend(f.frt_ms);
        self.res.extend(f.resolution_ms);
        if let Some(c) = f.fcr {
            self.fcr.0 += 1;
            self.fcr.1 += u64::from(c);
        }
        if let Some(m) = f.sla_fr {
            self.sla_fr.0 += 1;
            self.sla_fr.1 += u64::from(m);
        }
    }

    fn merge(&mut self, other: RowAcc) {
        self.tickets += other.tickets;
        self.resolved += other.resolved;
        self.frt.extend(other.frt);
        self.res.extend(other.res);
        for (mine, theirs) in [
            (&mut self.fcr, other.fcr),
            (&mut self.sla_fr, other.sla_fr),
            (&mut self.ratings, other.ratings),
        ] {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
    }

    fn finish(mut self, id: Option<i64>) -> Row {
        self.frt.sort_unstable();
        self.res.sort_unstable();
        Row {
            id,
            name: String::new(),
            tickets: self.tickets,
            resolved: self.resolved,
            frt_median_s: nearest_rank(&self.frt, 50).map(|ms| ms / 1000),
            resolution_median_s: nearest_rank(&self.res, 50).map(|ms| ms / 1000),
            fcr_rate: super::ratio(self.fcr.1, self.fcr.0),
            sla_fr_rate: super::ratio(self.sla_fr.1, self.sla_fr.0),
            csat_count: self.ratings.0,
            csat_score: super::ratio(self.ratings.1, self.ratings.0),
        }
    }
}

/// The running series; `Acc` owns one when asked for.
#[derive(Debug)]
pub struct SeriesAcc {
    created: Vec<u64>,
    /// (ticket, day, group, assignee) of each resolution in the period,
    /// deduplicated by ticket at the end.
    resolutions: Vec<(i64, usize, Option<i64>, Option<i64>)>,
    /// Per age bucket, a difference array over the day ends.
    backlog: [Vec<i64>; 4],
    frt: [u64; 6],
    /// The week index of each day, and each week's Monday.
    week_of_day: Vec<usize>,
    weeks: Vec<WeekPoint>,
    agents: std::collections::BTreeMap<Option<i64>, RowAcc>,
    groups: std::collections::BTreeMap<Option<i64>, RowAcc>,
}

/// The index of the day holding instant `at`, if it is in the period.
fn day_of(w: &Window, at: i64) -> Option<usize> {
    if at < w.from_ms {
        return None;
    }
    let i = w.day_ends.partition_point(|&(_, end)| end <= at);
    (i < w.day_ends.len()).then_some(i)
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))
}

impl SeriesAcc {
    pub fn new(w: &Window) -> SeriesAcc {
        let n = w.day_ends.len();
        let mut weeks: Vec<WeekPoint> = Vec::new();
        let mut week_of_day = Vec::with_capacity(n);
        let mut last: Option<NaiveDate> = None;
        for (d, _) in &w.day_ends {
            let m = monday(*d);
            if last != Some(m) {
                weeks.push(WeekPoint {
                    week: m.format("%Y-%m-%d").to_string(),
                    ..Default::default()
                });
                last = Some(m);
            }
            week_of_day.push(weeks.len() - 1);
        }
        SeriesAcc {
            created: vec![0; n],
            resolutions: Vec::new(),
            backlog: std::array::from_fn(|_| vec![0; n + 1]),
            frt: [0; 6],
            week_of_day,
            weeks,
            agents: Default::default(),
            groups: Default::default(),
        }
    }

    /// Adds what `other` collected (other tickets, same window).
    pub fn merge(&mut self, other: SeriesAcc) {
        for (mine, theirs) in self.created.iter_mut().zip(&other.created) {
            *mine += theirs;
        }
        self.resolutions.extend(other.resolutions);
        for (mine, theirs) in self.backlog.iter_mut().zip(&other.backlog) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        for (mine, theirs) in self.frt.iter_mut().zip(&other.frt) {
            *mine += theirs;
        }
        for (mine, theirs) in self.weeks.iter_mut().zip(&other.weeks) {
            mine.sla_fr_met += theirs.sla_fr_met;
            mine.sla_fr_missed += theirs.sla_fr_missed;
            mine.sla_res_met += theirs.sla_res_met;
            mine.sla_res_missed += theirs.sla_res_missed;
            mine.csat_count += theirs.csat_count;
            mine.csat_good += theirs.csat_good;
        }
        for (rows, theirs) in [
            (&mut self.agents, other.agents),
            (&mut self.groups, other.groups),
        ] {
            for (id, row) in theirs {
                rows.entry(id).or_default().merge(row);
            }
        }
    }

    /// A cohort ticket with its facts.
    pub fn cohort(
        &mut self,
        w: &Window,
        created_at: i64,
        group: Option<i64>,
        assignee: Option<i64>,
        f: &Facts,
    ) {
        let day = day_of(w, created_at);
        if let Some(d) = day {
            self.created[d] += 1;
        }
        if let Some(ms) = f.frt_ms {
            let b = FRT_BOUNDS.partition_point(|&upper| upper <= ms);
            self.frt[b] += 1;
        }
        if let Some(wk) = day.and_then(|d| self.week_of_day.get(d)).copied() {
            let p = &mut self.weeks[wk];
            match f.sla_fr {
                Some(true) => p.sla_fr_met += 1,
                Some(false) => p.sla_fr_missed += 1,
                None => {}
            }
            match f.sla_res {
                Some(true) => p.sla_res_met += 1,
                Some(false) => p.sla_res_missed += 1,
                None => {}
            }
        }
        self.agents.entry(assignee).or_default().add(f);
        self.groups.entry(group).or_default().add(f);
    }

    /// A backlog stretch: active from `a` (inclusive) to `b` (exclusive, or
    /// still active), for a ticket created at `created_at`. Each day end in
    /// the stretch falls in the age bucket of its distance from creation.
    pub fn stretch(&mut self, w: &Window, created_at: i64, a: i64, b: Option<i64>) {
        let ends = &w.day_ends;
        for (k, (lo, hi)) in AGE_BOUNDS.iter().enumerate() {
            let start = a.max(created_at.saturating_add(*lo));
            let stop = created_at.saturating_add(*hi);
            let stop = b.map_or(stop, |b| b.min(stop));
            let i = ends.partition_point(|&(_, at)| at < start);
            let j = ends.partition_point(|&(_, at)| at < stop);
            if i < j {
                self.backlog[k][i] += 1;
                self.backlog[k][j] -= 1;
            }
        }
    }

    /// A resolution of the period.
    pub fn resolved(
        &mut self,
        w: &Window,
        ticket: i64,
        at: i64,
        group: Option<i64>,
        assignee: Option<i64>,
    ) {
        if let Some(d) = day_of(w, at) {
            self.resolutions.push((ticket, d, group, assignee));
        }
    }

    /// A rating received in the period, on a ticket of these rows.
    pub fn rating(
        &mut self,
        w: &Window,
        at: i64,
        rating: u8,
        group: Option<i64>,
        assignee: Option<i64>,
    ) {
        let good = u64::from(rating >= 4);
        if let Some(wk) = day_of(w, at).and_then(|d| self.week_of_day.get(d)).copied() {
            self.weeks[wk].csat_count += 1;
            self.weeks[wk].csat_good += good;
        }
        let a = self.agents.entry(assignee).or_default();
        a.ratings.0 += 1;
        a.ratings.1 += good;
        let g = self.groups.entry(group).or_default();
        g.ratings.0 += 1;
        g.ratings.1 += good;
    }

    pub fn finish(mut self, w: &Window) -> Series {
        // First resolution in the period per ticket: sort by (ticket, day).
        self.resolutions.sort_unstable();
        self.resolutions.dedup_by_key(|r| r.0);
        let mut resolved = vec![0u64; w.day_ends.len()];
        for (_, d, group, assignee) in &self.resolutions {
            resolved[*d] += 1;
            self.agents.entry(*assignee).or_default().resolved += 1;
            self.groups.entry(*group).or_default().resolved += 1;
        }
        let mut sums = [0i64; 4];
        let days = w
            .day_ends
            .iter()
            .enumerate()
            .map(|(i, (d, _))| {
                let mut backlog = [0u64; 4];
                for k in 0..4 {
                    sums[k] += self.backlog[k][i];
                    backlog[k] = sums[k].max(0) as u64;
                }
                DayPoint {
                    date: d.format("%Y-%m-%d").to_string(),
                    created: self.created[i],
                    resolved: resolved[i],
                    backlog,
                }
            })
            .collect();
        Series {
            days,
            frt_buckets: self.frt,
            weeks: self.weeks,
            agents: self
                .agents
                .into_iter()
                .map(|(id, r)| r.finish(id))
                .collect(),
            groups: self
                .groups
                .into_iter()
                .map(|(id, r)| r.finish(id))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::compute::{Acc, Ev, Kind, TicketHistory, TicketRef};
    use crate::reports::ReportParams;
    use crate::sla::policy::Book;
    use crate::tickets::{Channel, Priority, Status};

    const DAY: i64 = 24 * HOUR_MS;

    fn ticket(
        id: i64,
        created_at: i64,
        group: Option<i64>,
        assignee: Option<i64>,
        events: Vec<Ev>,
    ) -> TicketHistory {
        TicketHistory {
            ticket: TicketRef {
                id,
                created_at,
                channel: Channel::Email,
                priority: Priority::Normal,
                group,
                assignee,
            },
            events,
        }
    }

    fn ev(at: i64, kind: Kind) -> Ev {
        Ev { at, kind }
    }

    #[test]
    fn days_weeks_buckets_and_rows_in_one_pass() {
        // 2026-01-01 is a Thursday: days 0-3 are in the week of Monday
        // 2025-12-29, days 4-7 in the week of 2026-01-05.
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let p = ReportParams {
            from,
            to: from + chrono::Days::new(8),
            tz: chrono_tz::Tz::UTC,
            group: None,
            agent: None,
            priority: None,
            channel: None,
        };
        let w = Window::new(&p, i64::MAX);
        let t0 = w.from_ms;
        let book = Book::default();
        let mut acc = Acc::with_series(&w, &book);
        let resolved = Kind::Status(Status::Resolved);
        // T1 (agent 7, group 3): day 0, answered in 30 min, resolved at 2 h.
        let t1 = ticket(
            1,
            t0 + HOUR_MS,
            Some(3),
            Some(7),
            vec![
                ev(t0 + HOUR_MS + 30 * 60_000, Kind::AgentReply),
                ev(t0 + 2 * HOUR_MS, resolved),
            ],
        );
        // T2 (nobody): day 4, answered after 5 h, still open.
        let t2 = ticket(
            2,
            t0 + 4 * DAY + HOUR_MS,
            None,
            None,
            vec![ev(t0 + 4 * DAY + 6 * HOUR_MS, Kind::AgentReply)],
        );
        // T3 (agent 7, group 3): 10 days old, resolved on day 2.
        let t3 = ticket(
            3,
            t0 - 10 * DAY,
            Some(3),
            Some(7),
            vec![ev(t0 + 2 * DAY + 5, resolved)],
        );
        for t in [&t1, &t2] {
            acc.cohort(t);
            acc.backlog(t);
        }
        acc.backlog(&t3);
        acc.flow_of(1, resolved, t0 + 2 * HOUR_MS, Some(3), Some(7));
        acc.flow_of(3, resolved, t0 + 2 * DAY + 5, Some(3), Some(7));
        // A second resolution of T1 counts neither in volume nor per day.
        acc.flow_of(1, resolved, t0 + 3 * DAY, Some(3), Some(7));
        acc.flow_of(2, Kind::CsatReceived(2), t0 + DAY, None, None);
        acc.flow_of(1, Kind::CsatReceived(5), t0 + 5 * DAY, Some(3), Some(7));
        let (r, s) = acc.finish_full();

        let created: Vec<u64> = s.days.iter().map(|d| d.created).collect();
        assert_eq!(created, [1, 0, 0, 0, 1, 0, 0, 0]);
        let per_day: Vec<u64> = s.days.iter().map(|d| d.resolved).collect();
        assert_eq!(per_day, [1, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(per_day.iter().sum::<u64>(), r.volume.resolved);
        // T3 is over 7 days old until resolved; T2 ages 23 h, 47 h, 71 h,
        // 95 h at the ends of days 4 to 7.
        let backlog: Vec<[u64; 4]> = s.days.iter().map(|d| d.backlog).collect();
        assert_eq!(
            backlog,
            [
                [0, 0, 0, 1],
                [0, 0, 0, 1],
                [0, 0, 0, 0],
                [0, 0, 0, 0],
                [1, 0, 0, 0],
                [0, 1, 0, 0],
                [0, 1, 0, 0],
                [0, 0, 1, 0],
            ]
        );
        // The buckets add up to the headline daily backlog.
        for (d, day) in s.days.iter().zip(&r.backlog.daily) {
            assert_eq!(d.backlog.iter().sum::<u64>(), day.open, "{}", d.date);
        }
        assert_eq!(s.frt_buckets, [1, 0, 1, 0, 0, 0]);

        let weeks: Vec<(&str, u64, Option<f64>)> = s
            .weeks
            .iter()
            .map(|w| (w.week.as_str(), w.csat_count, w.csat_score()))
            .collect();
        assert_eq!(
            weeks,
            [("2025-12-29", 1, Some(0.0)), ("2026-01-05", 1, Some(1.0))]
        );

        // Rows: unassigned first, then agent 7; each ticket in one row.
        let a = &s.agents;
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].id, a[0].tickets, a[0].resolved), (None, 1, 0));
        assert_eq!(a[0].frt_median_s, Some(5 * 3600));
        assert_eq!((a[0].resolution_median_s, a[0].fcr_rate), (None, None));
        assert_eq!((a[0].csat_count, a[0].csat_score), (1, Some(0.0)));
        assert_eq!((a[1].id, a[1].tickets, a[1].resolved), (Some(7), 1, 2));
        assert_eq!(a[1].frt_median_s, Some(1800));
        assert_eq!(a[1].resolution_median_s, Some(3600));
        assert_eq!(a[1].fcr_rate, Some(1.0));
        assert_eq!(a[1].sla_fr_rate, None, "no policy, no SLA");
        assert_eq!((a[1].csat_count, a[1].csat_score), (1, Some(1.0)));
        let g: Vec<(Option<i64>, u64, u64)> = s
            .groups
            .iter()
            .map(|g| (g.id, g.tickets, g.resolved))
            .collect();
        assert_eq!(g, [(None, 1, 0), (Some(3), 1, 2)]);
        assert_eq!(
            s.agents.iter().map(|r| r.tickets).sum::<u64>(),
            r.volume.created
        );
    }
}
