//! The figures of METRICS.md from per-ticket histories (pure: no database).
//!
//! Feed tickets to an `Acc` one at a time (`cohort` for tickets created in
//! the period, `backlog` for every ticket that may be active during it,
//! `flow` for the period's resolutions and surveys), then `finish`.
//!
//! Decisions where METRICS.md is silent:
//! - Cohort figures see the history before the period's end instant `to`.
//! - Durations are measured in milliseconds; medians and p90s are reported
//!   as whole seconds (truncated), means as fractional seconds.
//! - Business seconds use the calendar of the ticket's SLA policy (its
//!   group's, else the default); without a policy, `Calendar::always()`, so
//!   business seconds equal calendar seconds. The first resolution time's
//!   business seconds do not pause while pending (that is the SLA clock's
//!   rule, not the metric's).
//! - SLA: the policy and target come from the ticket's current group and
//!   priority (as `tickets::sla`). A clock counts as missed when its due
//!   instant came before it stopped, or, still running, when it is at or
//!   before the earlier of `to` and now. First response is met when the
//!   first agent reply stopped the clock in time; a ticket resolved without
//!   any reply before its due instant is not counted. Resolution is met when
//!   the first resolution (or closure, which also stops the clock) came in
//!   time. Agent-opened tickets have no first-response target.
//! - Reopen rate: the numerator is the tickets of the denominator (resolved
//!   at least once) that were reopened, so the rate stays within [0, 1].
//! - CSAT response rate is ratings received / surveys sent in the period; a
//!   rating for a survey sent before the period can make it exceed 1.

use chrono::NaiveDate;

use super::series::{Facts, Series, SeriesAcc};
use super::{
    Backlog, ByAge, ByChannel, Csat, Day, FirstResponse, MetMissed, Rate, Report, Resolution, Sla,
    Stats, Volume,
};
use crate::sla::calendar::Calendar;
use crate::sla::clock::{self, Change};
use crate::sla::policy::Book;
use crate::tickets::{Channel, Priority, Status};

const HOUR_MS: i64 = 3_600_000;

/// The events the figures read; notes, automatic messages and the rest are
/// never loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CustomerMessage,
    AgentReply,
    /// `status_changed` with its `to`.
    Status(Status),
    Reopened,
    Escalated,
    CsatSent,
    CsatReceived(u8),
}

impl Kind {
    /// From an event's stored kind and `to_value`, as `load` reads them.
    pub fn from_stored(kind: &str, to: Option<&str>) -> Option<Kind> {
        Some(match kind {
            "customer_message" => Kind::CustomerMessage,
            "agent_reply" => Kind::AgentReply,
            "reopened" => Kind::Reopened,
            "escalated" => Kind::Escalated,
            "csat_sent" => Kind::CsatSent,
            "status_changed" => Kind::Status(to?.parse().ok()?),
            "csat_received" => match to?.parse::<u8>().ok()? {
                r @ 1..=5 => Kind::CsatReceived(r),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Read with a ticket's history (the cohort and backlog rules); the
    /// surveys only count as flows.
    pub fn in_history(self) -> bool {
        !matches!(self, Kind::CsatSent | Kind::CsatReceived(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ev {
    pub at: i64,
    pub kind: Kind,
}

/// One ticket and its (relevant) events in history order.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketHistory {
    pub ticket: TicketRef,
    pub events: Vec<Ev>,
}

/// When the report looks.
#[derive(Debug, Clone)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz_name: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub now_ms: i64,
    /// Each day of the period with the instant the next day begins.
    pub day_ends: Vec<(NaiveDate, i64)>,
}

impl Window {
    pub fn new(p: &super::ReportParams, now_ms: i64) -> Window {
        let starts = p.day_starts();
        let day_ends = starts
            .windows(2)
            .map(|w| (w[0].0, w[1].1))
            .collect::<Vec<_>>();
        let from_ms = starts.first().map_or(0, |s| s.1);
        let to_ms = starts.last().map_or(from_ms, |s| s.1);
        Window {
            from: p.from,
            to: p.to,
            tz_name: p.tz.name().to_string(),
            from_ms,
            to_ms,
            now_ms,
            day_ends,
        }
    }
}

/// Nearest-rank percentile of sorted values: the value at rank
/// ceil(pct/100 × n), integer arithmetic so 90 % of 10 is exactly rank 9.
pub fn nearest_rank(sorted: &[i64], pct: u64) -> Option<i64> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (pct * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
    Some(sum as f64 / values.len() as f64)
}

/// Stats over durations in ms (sorted here), reported in seconds.
fn stats(calendar: &mut [i64], business: &mut [i64]) -> Stats {
    calendar.sort_unstable();
    business.sort_unstable();
    let s = |v: Option<i64>| v.map(|ms| ms / 1000);
    let m = |v: Option<f64>| v.map(|ms| ms / 1000.0);
    Stats {
        median_s: s(nearest_rank(calendar, 50)),
        mean_s: m(mean(calendar)),
        p90_s: s(nearest_rank(calendar, 90)),
        business_median_s: s(nearest_rank(business, 50)),
        business_mean_s: m(mean(business)),
        business_p90_s: s(nearest_rank(business, 90)),
    }
}

/// The status at instant `t` replayed from the events at or before it.
pub fn status_at(events: &[Ev], t: i64) -> Status {
    let mut s = Status::New;
    for e in events.iter().take_while(|e| e.at <= t) {
        match e.kind {
            Kind::Status(to) => s = to,
            Kind::Reopened => s = Status::Open,
            _ => {}
        }
    }
    s
}

fn is_active(s: Status) -> bool {
    matches!(s, Status::New | Status::Open | Status::Pending)
}

/// An active stretch of a ticket: from (inclusive) until (exclusive), or
/// still active.
pub type Stretch = (i64, Option<i64>);

/// A ticket's active stretches from its status events (all of them, from
/// its creation): each status holds from its event (or the creation) until
/// the next one. Empty stretches are left out.
pub fn stretches(created_at: i64, events: &[Ev]) -> Vec<Stretch> {
    let mut out = Vec::new();
    let mut status = Status::New;
    let mut since = created_at;
    for e in events {
        let next = match e.kind {
            Kind::Status(to) => to,
            Kind::Reopened => Status::Open,
            _ => continue,
        };
        let at = e.at.max(created_at);
        if is_active(status) && since < at {
            out.push((since, Some(at)));
        }
        status = next;
        since = at;
    }
    if is_active(status) {
        out.push((since, None));
    }
    out
}

/// When the ticket was resolved (each `status_changed` to resolved).
pub fn resolved_ats(events: &[Ev]) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e.kind == Kind::Status(Status::Resolved))
        .map(|e| e.at)
        .collect()
}

/// The columns of a ticket the figures group and filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketRef {
    pub id: i64,
    pub created_at: i64,
    pub channel: Channel,
    pub priority: Priority,
    pub group: Option<i64>,
    pub assignee: Option<i64>,
}

/// How an SLA clock stands at the end of the history it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockEnd {
    pub due: Option<i64>,
    pub stopped: Option<i64>,
    /// Counts as met unless missed: the first reply stopped the
    /// first-response clock; any stop for the resolution clock.
    pub met_if_on_time: bool,
}

impl ClockEnd {
    fn of(c: clock::Clock, met_if_on_time: bool) -> ClockEnd {
        ClockEnd {
            due: c.due,
            stopped: c.stopped,
            met_if_on_time,
        }
    }

    /// Met (true), missed (false) or not counted yet, as seen at `asof`.
    pub fn outcome(&self, asof: i64) -> Option<bool> {
        let c = clock::Clock {
            due: self.due,
            stopped: self.stopped,
            ..Default::default()
        };
        if c.missed(asof) {
            Some(false)
        } else if self.met_if_on_time {
            Some(true)
        } else {
            None
        }
    }
}

/// What a cohort ticket's history (its events before the period's end)
/// says, independent of the period: `Acc::cohort_facts` turns it into
/// figures. Stored per ticket in `ticket_facts` (computed over the whole
/// history, usable for any period ending after its last event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CohortFacts {
    pub first_reply: Option<i64>,
    pub first_resolved: Option<i64>,
    /// Resolved or closed after the last event.
    pub finished: bool,
    pub replies: u32,
    pub customer_messages: u32,
    pub reopened: bool,
    pub escalated: bool,
    /// A customer message came after the first agent reply.
    pub customer_after_reply: bool,
    /// Business ms to the first reply (not for agent-opened tickets) and to
    /// the first resolution, in the calendar of the ticket's SLA policy.
    pub fr_business: Option<i64>,
    pub res_business: Option<i64>,
    pub sla_fr: Option<ClockEnd>,
    pub sla_res: Option<ClockEnd>,
}

impl CohortFacts {
    /// From `events` (the ticket's, in history order, possibly cut short).
    pub fn of(t: &TicketRef, events: &[Ev], book: &Book) -> CohortFacts {
        let rules = book.rules_for(t.group);
        let cal = rules.map_or(Calendar::always_shared(), |r| &r.calendar);
        let agent_opened = t.channel == Channel::Agent;
        let first_reply = events
            .iter()
            .find(|e| e.kind == Kind::AgentReply)
            .map(|e| e.at);
        let first_resolved = events
            .iter()
            .find(|e| e.kind == Kind::Status(Status::Resolved))
            .map(|e| e.at);
        let count = |k: Kind| events.iter().filter(|e| e.kind == k).count() as u32;
        let mut f = CohortFacts {
            first_reply,
            first_resolved,
            finished: matches!(
                status_at(events, i64::MAX),
                Status::Resolved | Status::Closed
            ),
            replies: count(Kind::AgentReply),
            customer_messages: count(Kind::CustomerMessage),
            reopened: events.iter().any(|e| e.kind == Kind::Reopened),
            escalated: events.iter().any(|e| e.kind == Kind::Escalated),
            customer_after_reply: events
                .iter()
                .skip_while(|e| e.kind != Kind::AgentReply)
                .any(|e| e.kind == Kind::CustomerMessage),
            fr_business: first_reply
                .filter(|_| !agent_opened)
                .map(|r| cal.between(t.created_at, r)),
            res_business: first_resolved.map(|r| cal.between(t.created_at, r)),
            sla_fr: None,
            sla_res: None,
        };
        if let Some(rules) = rules {
            let target = rules.target(t.priority);
            let history: Vec<Change> = events
                .iter()
                .filter_map(|e| match e.kind {
                    Kind::Status(to) => Some(Change { at: e.at, to }),
                    Kind::Reopened => Some(Change {
                        at: e.at,
                        to: Status::Open,
                    }),
                    _ => None,
                })
                .collect();
            let fr_minutes = if agent_opened {
                None
            } else {
                target.first_response_minutes
            };
            f.sla_fr = clock::first_response(cal, t.created_at, first_reply, &history, fr_minutes)
                .map(|c| {
                    let by_reply = first_reply.is_some() && c.stopped == first_reply;
                    ClockEnd::of(c, by_reply)
                });
            f.sla_res = clock::resolution(cal, t.created_at, &history, target.resolution_minutes)
                .map(|c| ClockEnd::of(c, c.stopped.is_some()));
        }
        f
    }
}

#[derive(Debug, Default)]
struct Counter {
    met: u64,
    missed: u64,
}

/// The running totals.
pub struct Acc<'a> {
    w: &'a Window,
    book: &'a Book,
    created: u64,
    by_channel: ByChannel,
    resolved_tickets: Vec<i64>,
    fr_pending: u64,
    fr: (Vec<i64>, Vec<i64>),
    res: (Vec<i64>, Vec<i64>),
    fcr: (u64, u64),
    reopen: (u64, u64),
    escalation: (u64, u64),
    interactions: (u64, u64),
    sla_fr: Counter,
    sla_res: Counter,
    backlog_open: u64,
    by_age: ByAge,
    /// Differences: the backlog at day end i is the sum of daily[..=i].
    daily: Vec<i64>,
    csat_sent: u64,
    ratings: Vec<u8>,
    /// The page's breakdowns, collected only when asked for.
    series: Option<SeriesAcc>,
}

impl<'a> Acc<'a> {
    pub fn new(w: &'a Window, book: &'a Book) -> Acc<'a> {
        Acc {
            w,
            book,
            created: 0,
            by_channel: ByChannel::default(),
            resolved_tickets: Vec::new(),
            fr_pending: 0,
            fr: Default::default(),
            res: Default::default(),
            fcr: (0, 0),
            reopen: (0, 0),
            escalation: (0, 0),
            interactions: (0, 0),
            sla_fr: Counter::default(),
            sla_res: Counter::default(),
            backlog_open: 0,
            by_age: ByAge::default(),
            daily: vec![0; w.day_ends.len() + 1],
            csat_sent: 0,
            ratings: Vec::new(),
            series: None,
        }
    }

    /// An `Acc` that also collects the `Series` (`finish_full`).
    pub fn with_series(w: &'a Window, book: &'a Book) -> Acc<'a> {
        let mut acc = Acc::new(w, book);
        acc.series = Some(SeriesAcc::new(w));
        acc
    }

    /// A fresh `Acc` for the same window and book, collecting the series
    /// when this one does (for a part of the tickets, `merge`d back).
    pub fn empty_like(&self) -> Acc<'a> {
        let mut acc = Acc::new(self.w, self.book);
        acc.series = self.series.as_ref().map(|_| SeriesAcc::new(self.w));
        acc
    }

    pub fn window(&self) -> &'a Window {
        self.w
    }

    /// Adds what `other` counted (other tickets, same window and book).
    pub fn merge(&mut self, other: Acc<'a>) {
        self.created += other.created;
        let (c, o) = (&mut self.by_channel, &other.by_channel);
        c.email += o.email;
        c.web += o.web;
        c.agent += o.agent;
        c.api += o.api;
        c.import += o.import;
        self.resolved_tickets.extend(other.resolved_tickets);
        self.fr_pending += other.fr_pending;
        self.fr.0.extend(other.fr.0);
        self.fr.1.extend(other.fr.1);
        self.res.0.extend(other.res.0);
        self.res.1.extend(other.res.1);
        for (mine, theirs) in [
            (&mut self.fcr, other.fcr),
            (&mut self.reopen, other.reopen),
            (&mut self.escalation, other.escalation),
            (&mut self.interactions, other.interactions),
        ] {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
        for (mine, theirs) in [
            (&mut self.sla_fr, &other.sla_fr),
            (&mut self.sla_res, &other.sla_res),
        ] {
            mine.met += theirs.met;
            mine.missed += theirs.missed;
        }
        self.backlog_open += other.backlog_open;
        let (a, o) = (&mut self.by_age, &other.by_age);
        a.lt_1d += o.lt_1d;
        a.d1_3 += o.d1_3;
        a.d3_7 += o.d3_7;
        a.gt_7d += o.gt_7d;
        for (mine, theirs) in self.daily.iter_mut().zip(&other.daily) {
            *mine += theirs;
        }
        self.csat_sent += other.csat_sent;
        self.ratings.extend(other.ratings);
        if let (Some(mine), Some(theirs)) = (self.series.as_mut(), other.series) {
            mine.merge(theirs);
        }
    }

    /// A ticket created in [from, to): every cohort figure and its volume.
    /// Only its events before `to` are read.
    pub fn cohort(&mut self, t: &TicketHistory) {
        let end = t.events.partition_point(|e| e.at < self.w.to_ms);
        let f = CohortFacts::of(&t.ticket, &t.events[..end], self.book);
        self.cohort_facts(&t.ticket, &f);
    }

    /// A cohort ticket from what its history says (`CohortFacts::of` over
    /// its events before `to`, here or stored in `ticket_facts`).
    pub fn cohort_facts(&mut self, t: &TicketRef, f: &CohortFacts) {
        self.created += 1;
        self.by_channel.add(t.channel);
        let agent_opened = t.channel == Channel::Agent;
        // What this ticket adds, for the totals and the series' rows.
        let mut facts = Facts::default();

        // First response: agent-opened tickets have nothing to answer.
        if !agent_opened {
            match (f.first_reply, f.fr_business) {
                (Some(r), Some(b)) => {
                    facts.frt_ms = Some(r - t.created_at);
                    self.fr.0.push(r - t.created_at);
                    self.fr.1.push(b);
                }
                _ => self.fr_pending += 1,
            }
        }
        if let (Some(r), Some(b)) = (f.first_resolved, f.res_business) {
            facts.resolution_ms = Some(r - t.created_at);
            self.res.0.push(r - t.created_at);
            self.res.1.push(b);
        }

        let replies = u64::from(f.replies);
        if f.finished && replies >= 1 {
            self.fcr.0 += 1;
            let counts = !f.reopened && replies == 1 && !f.customer_after_reply;
            facts.fcr = Some(counts);
            if counts {
                self.fcr.1 += 1;
            }
        }
        if f.first_resolved.is_some() {
            self.reopen.0 += 1;
            if f.reopened {
                self.reopen.1 += 1;
            }
        }
        self.escalation.0 += 1;
        if f.escalated {
            self.escalation.1 += 1;
        }
        if f.finished {
            let opening = u64::from(!agent_opened);
            self.interactions.0 += 1;
            self.interactions.1 += opening + u64::from(f.customer_messages) + replies;
        }

        let asof = self.w.to_ms.min(self.w.now_ms);
        facts.sla_fr = f.sla_fr.and_then(|c| c.outcome(asof));
        facts.sla_res = f.sla_res.and_then(|c| c.outcome(asof));
        for (outcome, counter) in [
            (facts.sla_fr, &mut self.sla_fr),
            (facts.sla_res, &mut self.sla_res),
        ] {
            match outcome {
                Some(true) => counter.met += 1,
                Some(false) => counter.missed += 1,
                None => {}
            }
        }
        if let Some(s) = self.series.as_mut() {
            s.cohort(self.w, t.created_at, t.group, t.assignee, &facts);
        }
    }

    /// A ticket that may be in the backlog during the period (any ticket
    /// created at or before `to`; the others are simply not counted). Its
    /// status events must all be there, from its creation.
    pub fn backlog(&mut self, t: &TicketHistory) {
        let created_at = t.ticket.created_at;
        self.backlog_stretches(created_at, &stretches(created_at, &t.events));
    }

    /// `backlog` from the ticket's active stretches (`stretches`).
    pub fn backlog_stretches(&mut self, created_at: i64, stretches: &[Stretch]) {
        // An active stretch [a, b) covers the day ends inside it, added as a
        // difference array (no loop over every day per ticket).
        let w = self.w;
        let ends = &w.day_ends;
        let to = w.to_ms;
        let mut active_at_to = false;
        for &(a, b) in stretches {
            let lo = ends.partition_point(|&(_, at)| at < a);
            let hi = b.map_or(ends.len(), |b| ends.partition_point(|&(_, at)| at < b));
            if lo < hi {
                self.daily[lo] += 1;
                self.daily[hi] -= 1;
                if let Some(s) = self.series.as_mut() {
                    s.stretch(w, created_at, a, b);
                }
            }
            active_at_to |= a <= to && b.is_none_or(|b| to < b);
        }
        // The snapshot at `to` is the last day's end.
        if created_at <= to && active_at_to {
            self.backlog_open += 1;
            let age = to - created_at;
            if age < 24 * HOUR_MS {
                self.by_age.lt_1d += 1;
            } else if age < 72 * HOUR_MS {
                self.by_age.d1_3 += 1;
            } else if age < 168 * HOUR_MS {
                self.by_age.d3_7 += 1;
            } else {
                self.by_age.gt_7d += 1;
            }
        }
    }

    /// A ticket's resolutions (`resolved_ats`): those in the period count
    /// for the volume, the ticket once.
    pub fn resolutions(&mut self, t: &TicketRef, ats: &[i64]) {
        for &at in ats {
            if at >= self.w.from_ms && at < self.w.to_ms {
                self.flow_of(
                    t.id,
                    Kind::Status(Status::Resolved),
                    at,
                    t.group,
                    t.assignee,
                );
            }
        }
    }

    /// An event of the period (`from` <= at < `to`) counted as a flow:
    /// resolutions, surveys sent and ratings received.
    pub fn flow(&mut self, ticket_id: i64, kind: Kind) {
        match kind {
            Kind::Status(Status::Resolved) => self.resolved_tickets.push(ticket_id),
            Kind::CsatSent => self.csat_sent += 1,
            Kind::CsatReceived(r) => self.ratings.push(r),
            _ => {}
        }
    }

    /// `n` flow events of one kind (surveys sent, ratings), counted by the
    /// database.
    pub fn counted(&mut self, kind: Kind, n: u64) {
        match kind {
            Kind::CsatSent => self.csat_sent += n,
            Kind::CsatReceived(r) => self.ratings.extend(std::iter::repeat_n(r, n as usize)),
            _ => {}
        }
    }

    /// A flow event with what the series need: when, and the ticket's
    /// current group and assignee.
    pub fn flow_of(
        &mut self,
        ticket_id: i64,
        kind: Kind,
        at: i64,
        group: Option<i64>,
        assignee: Option<i64>,
    ) {
        self.flow(ticket_id, kind);
        let w = self.w;
        if let Some(s) = self.series.as_mut() {
            match kind {
                Kind::Status(Status::Resolved) => s.resolved(w, ticket_id, at, group, assignee),
                Kind::CsatReceived(r) => s.rating(w, at, r, group, assignee),
                _ => {}
            }
        }
    }

    /// The report and the series (empty unless made `with_series`).
    pub fn finish_full(mut self) -> (Report, Series) {
        let w = self.w;
        let series = self.series.take().map(|s| s.finish(w)).unwrap_or_default();
        (self.finish(), series)
    }

    pub fn finish(mut self) -> Report {
        self.resolved_tickets.sort_unstable();
        self.resolved_tickets.dedup();
        let responses = self.ratings.len() as u64;
        let good = self.ratings.iter().filter(|&&r| r >= 4).count() as u64;
        let sum: u64 = self.ratings.iter().map(|&r| u64::from(r)).sum();
        let w = self.w;
        Report {
            from: w.from.format("%Y-%m-%d").to_string(),
            to: w.to.format("%Y-%m-%d").to_string(),
            tz: w.tz_name.clone(),
            volume: Volume {
                created: self.created,
                resolved: self.resolved_tickets.len() as u64,
                by_channel: self.by_channel,
            },
            first_response: FirstResponse {
                count: self.fr.0.len() as u64,
                pending: self.fr_pending,
                stats: stats(&mut self.fr.0, &mut self.fr.1),
            },
            resolution: Resolution {
                count: self.res.0.len() as u64,
                stats: stats(&mut self.res.0, &mut self.res.1),
            },
            fcr: Rate::new(self.fcr.0, self.fcr.1),
            backlog: Backlog {
                at: super::rfc3339_utc(w.to_ms),
                open: self.backlog_open,
                by_age: self.by_age,
                daily: w
                    .day_ends
                    .iter()
                    .zip(self.daily.iter().scan(0i64, |sum, d| {
                        *sum += d;
                        Some(*sum)
                    }))
                    .map(|((d, _), open)| Day {
                        date: d.format("%Y-%m-%d").to_string(),
                        open: open.max(0) as u64,
                    })
                    .collect(),
            },
            reopen: Rate::new(self.reopen.0, self.reopen.1),
            escalation: Rate::new(self.escalation.0, self.escalation.1),
            interactions_per_ticket: (self.interactions.0 > 0)
                .then(|| self.interactions.1 as f64 / self.interactions.0 as f64),
            sla: Sla {
                first_response: MetMissed::new(self.sla_fr.met, self.sla_fr.missed),
                resolution: MetMissed::new(self.sla_res.met, self.sla_res.missed),
            },
            csat: Csat {
                sent: self.csat_sent,
                responses,
                score: super::ratio(good, responses),
                average: (responses > 0).then(|| sum as f64 / responses as f64),
                response_rate: super::ratio(responses, self.csat_sent),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::ReportParams;

    #[test]
    fn nearest_rank_percentiles_and_lower_middle_medians() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        // Even count: the lower middle.
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4, 5], 50), Some(3));
        // p90 of 10 values is rank 9; of 11, rank ceil(9.9) = 10.
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(nearest_rank(&eleven, 90), Some(10));
        // p90 of 3 values: rank ceil(2.7) = 3.
        assert_eq!(nearest_rank(&[1, 2, 3], 90), Some(3));
    }

    fn window(days: u32) -> (Window, i64) {
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let p = ReportParams {
            from,
            to: from + chrono::Days::new(days.into()),
            tz: chrono_tz::Tz::UTC,
            group: None,
            agent: None,
            priority: None,
            channel: None,
        };
        let w = Window::new(&p, i64::MAX);
        let start = w.from_ms;
        (w, start)
    }

    fn ticket(created_at: i64, events: Vec<Ev>) -> TicketHistory {
        TicketHistory {
            ticket: TicketRef {
                id: 1,
                created_at,
                channel: Channel::Email,
                priority: Priority::Normal,
                group: None,
                assignee: None,
            },
            events,
        }
    }

    fn ev(at: i64, kind: Kind) -> Ev {
        Ev { at, kind }
    }

    #[test]
    fn backlog_replays_status_at_each_day_end() {
        let (w, t0) = window(3);
        let book = Book::default();
        let day = 24 * HOUR_MS;
        let mut acc = Acc::new(&w, &book);
        // Created before the period, resolved on day 2, reopened on day 3
        // exactly at its end (at or before T counts).
        acc.backlog(&ticket(
            t0 - 10 * day,
            vec![
                ev(t0 + day + 5, Kind::Status(Status::Resolved)),
                ev(t0 + 3 * day, Kind::Reopened),
            ],
        ));
        // Created on day 2, never touched: `new` counts.
        acc.backlog(&ticket(t0 + day + 1, vec![]));
        // Pending counts, closed does not.
        acc.backlog(&ticket(
            t0,
            vec![
                ev(t0 + 1, Kind::Status(Status::Pending)),
                ev(t0 + 2 * day + 1, Kind::Status(Status::Closed)),
            ],
        ));
        let r = acc.finish();
        let daily: Vec<u64> = r.backlog.daily.iter().map(|d| d.open).collect();
        // Day 1 end: first (open) + third (pending) = 2; day 2: second +
        // third = 2; day 3: first (reopened at T) + second = 2.
        assert_eq!(daily, vec![2, 2, 2]);
        assert_eq!(r.backlog.open, 2);
        // Ages at T: first 13 days, second 2 days - 1 ms.
        assert_eq!(r.backlog.by_age.gt_7d, 1);
        assert_eq!(r.backlog.by_age.d1_3, 1);
        assert_eq!(r.backlog.at, "2026-01-04T00:00:00Z");
    }

    #[test]
    fn cohort_rules_fcr_and_pending() {
        let (w, t0) = window(2);
        let book = Book::default();
        let mut acc = Acc::new(&w, &book);
        let m = 60_000;
        // One reply then resolved: FCR.
        acc.cohort(&ticket(
            t0,
            vec![
                ev(t0 + 10 * m, Kind::AgentReply),
                ev(t0 + 20 * m, Kind::Status(Status::Resolved)),
            ],
        ));
        // Customer wrote after the reply: not FCR.
        acc.cohort(&ticket(
            t0,
            vec![
                ev(t0 + 30 * m, Kind::AgentReply),
                ev(t0 + 40 * m, Kind::CustomerMessage),
                ev(t0 + 50 * m, Kind::Status(Status::Closed)),
            ],
        ));
        // No reply: pending; closed without a reply is not FCR-eligible.
        acc.cohort(&ticket(t0, vec![ev(t0 + m, Kind::Status(Status::Closed))]));
        // A reply after `to` is not seen.
        acc.cohort(&ticket(t0, vec![ev(w.to_ms, Kind::AgentReply)]));
        let r = acc.finish();
        assert_eq!(r.first_response.count, 2);
        assert_eq!(r.first_response.pending, 2);
        // Sorted [600 s, 1800 s]: median is the lower middle.
        assert_eq!(r.first_response.stats.median_s, Some(600));
        assert_eq!(r.first_response.stats.mean_s, Some(1200.0));
        assert_eq!(r.first_response.stats.p90_s, Some(1800));
        assert_eq!((r.fcr.eligible, r.fcr.count), (2, 1));
        // Interactions: 1+0+1, 1+1+1, 1+0+0 over the three finished tickets.
        assert_eq!(r.interactions_per_ticket, Some(6.0 / 3.0));
        assert_eq!(r.resolution.count, 1);
        assert_eq!((r.reopen.eligible, r.reopen.rate), (1, Some(0.0)));
        assert_eq!(r.escalation.rate, Some(0.0));
    }
}
