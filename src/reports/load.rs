//! The queries that feed `compute`, on both backends.
//!
//! Tickets come from their stored facts (`facts`, one row each): those
//! created in [from, to] (`ticket_facts_created`; a ticket created exactly
//! at `to` is only in the backlog at `to`) and older ones that may be active
//! during the period or resolved in it: still active, or settled after
//! `from` (`ticket_facts_settled`). The facts give the period's resolutions
//! too. A row the report cannot use (dirty, made with another SLA book, or
//! with events at or after `to` for the cohort) has its ticket's events read
//! instead, in batches of ids, with the same rules, so the figures never
//! depend on whether the facts job has caught up.
//!
//! Then the period's surveys and ratings (`events_kind_at`).

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Integer;

use std::collections::HashMap;

use diesel::connection::DefaultLoadingMode;

use super::compute::{resolved_ats, Acc, Ev, Kind, TicketHistory, TicketRef, Window};
use super::facts::{self, Summary};
use super::series::Series;
use super::{Report, ReportParams};
use crate::db::schema::{events, ticket_facts, tickets};
use crate::db::DbConn;
use crate::people;
use crate::sla::policy::Book;
use crate::tickets::{Channel, Priority, Status};

const FLOW_KINDS: [&str; 2] = ["csat_sent", "csat_received"];

/// A ticket: id, created_at, channel and priority codes, group, assignee.
type TicketRow = (i64, i64, i32, i32, Option<i64>, Option<i64>);
/// An event: its ticket, the event code, at.
type EventRow = (i64, i32, i64);
/// A flow event: its ticket, the event code, at, the ticket's group and
/// assignee.
type FlowRow = (i64, i32, i64, Option<i64>, Option<i64>);

/// Narrows a query on `tickets` by the report's filters.
macro_rules! narrow {
    ($q:expr, $p:expr) => {{
        let mut q = $q;
        if let Some(g) = $p.group {
            q = q.filter(tickets::group_id.eq(g));
        }
        if let Some(a) = $p.agent {
            q = q.filter(tickets::assignee_id.eq(a));
        }
        if let Some(pr) = $p.priority {
            q = q.filter(tickets::priority.eq(pr.as_str()));
        }
        if let Some(c) = $p.channel {
            q = q.filter(tickets::channel.eq(c.as_str()));
        }
        q
    }};
}

/// Narrows a query on `ticket_facts` by the report's filters; dirty rows
/// always pass, since their copied columns may be out of date (their
/// tickets are read and filtered instead).
macro_rules! narrow_facts {
    ($q:expr, $p:expr) => {{
        let mut q = $q;
        if let Some(g) = $p.group {
            q = q.filter(ticket_facts::group_id.eq(g).or(ticket_facts::dirty));
        }
        if let Some(a) = $p.agent {
            q = q.filter(ticket_facts::assignee_id.eq(a).or(ticket_facts::dirty));
        }
        if let Some(pr) = $p.priority {
            let code = facts::code_of(Priority::ALL, &pr);
            q = q.filter(ticket_facts::priority.eq(code).or(ticket_facts::dirty));
        }
        if let Some(c) = $p.channel {
            let code = facts::code_of(Channel::ALL, &c);
            q = q.filter(ticket_facts::channel.eq(code).or(ticket_facts::dirty));
        }
        q
    }};
}

// Small integer codes computed by the database, so the millions of event
// rows carry no text to allocate and compare.
const EVENT_CODE: &str = "CASE events.kind \
    WHEN 'customer_message' THEN 1 WHEN 'agent_reply' THEN 2 \
    WHEN 'reopened' THEN 3 WHEN 'escalated' THEN 4 WHEN 'csat_sent' THEN 5 \
    WHEN 'status_changed' THEN (CASE events.to_value WHEN 'new' THEN 10 WHEN 'open' THEN 11 \
        WHEN 'pending' THEN 12 WHEN 'resolved' THEN 13 WHEN 'closed' THEN 14 ELSE 0 END) \
    WHEN 'csat_received' THEN (CASE events.to_value WHEN '1' THEN 21 WHEN '2' THEN 22 \
        WHEN '3' THEN 23 WHEN '4' THEN 24 WHEN '5' THEN 25 ELSE 0 END) \
    ELSE 0 END";
const CHANNEL_CODE: &str = "CASE tickets.channel WHEN 'email' THEN 0 WHEN 'web' THEN 1 \
    WHEN 'agent' THEN 2 WHEN 'api' THEN 3 WHEN 'import' THEN 4 ELSE 0 END";
const PRIORITY_CODE: &str = "CASE tickets.priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 \
    WHEN 'high' THEN 2 WHEN 'urgent' THEN 3 ELSE 1 END";

fn kind_of(code: i32) -> Option<Kind> {
    Some(match code {
        1 => Kind::CustomerMessage,
        2 => Kind::AgentReply,
        3 => Kind::Reopened,
        4 => Kind::Escalated,
        5 => Kind::CsatSent,
        10 => Kind::Status(Status::New),
        11 => Kind::Status(Status::Open),
        12 => Kind::Status(Status::Pending),
        13 => Kind::Status(Status::Resolved),
        14 => Kind::Status(Status::Closed),
        21..=25 => Kind::CsatReceived((code - 20) as u8),
        _ => return None,
    })
}

fn channel_of(code: i32) -> Channel {
    Channel::ALL
        .get(code as usize)
        .copied()
        .unwrap_or(Channel::Email)
}

fn priority_of(code: i32) -> Priority {
    Priority::ALL
        .get(code as usize)
        .copied()
        .unwrap_or(Priority::Normal)
}

/// The tickets `ids` (narrowed by `p`'s filters, if given) with their
/// events up to `upto` (inclusive) to `each`, ticket by ticket in id order:
/// the tickets first, then their events in the same order, merged.
pub(super) fn histories(
    conn: &mut DbConn,
    ids: &[i64],
    p: Option<&ReportParams>,
    upto: i64,
    mut each: impl FnMut(&TicketHistory),
) -> QueryResult<()> {
    let mut q = tickets::table.filter(tickets::id.eq_any(ids)).into_boxed();
    if let Some(p) = p {
        q = narrow!(q, p);
    }
    let rows: Vec<TicketRow> = q
        .order(tickets::id)
        .select((
            tickets::id,
            tickets::created_at,
            sql::<Integer>(CHANNEL_CODE),
            sql::<Integer>(PRIORITY_CODE),
            tickets::group_id,
            tickets::assignee_id,
        ))
        .load(conn)?;
    if rows.is_empty() {
        return Ok(());
    }
    let wanted: Vec<i64> = rows.iter().map(|r| r.0).collect();
    // No condition on the kind: with one, SQLite prefers `events_kind_at`
    // and reads every such event of every ticket for each batch. The kinds
    // the figures ignore are dropped below.
    let events: Vec<EventRow> = events::table
        .filter(events::ticket_id.eq_any(&wanted))
        .filter(events::at.le(upto))
        .order((events::ticket_id, events::at, events::id))
        .select((events::ticket_id, sql::<Integer>(EVENT_CODE), events::at))
        .load(conn)?;
    let mut events = events.into_iter().peekable();
    for r in rows {
        let mut t = TicketHistory {
            ticket: TicketRef {
                id: r.0,
                created_at: r.1,
                channel: channel_of(r.2),
                priority: priority_of(r.3),
                group: r.4,
                assignee: r.5,
            },
            events: Vec::new(),
        };
        while let Some(&(ticket, code, at)) = events.peek() {
            if ticket > t.ticket.id {
                break;
            }
            events.next();
            if ticket == t.ticket.id {
                if let Some(kind) = kind_of(code).filter(|k| k.in_history()) {
                    t.events.push(Ev { at, kind });
                }
            }
        }
        each(&t);
    }
    Ok(())
}

/// The period's surveys sent and ratings received, counted by the database
/// (a year holds hundreds of thousands); with `detail`, each rating too,
/// with its instant and its ticket's group and assignee, for the series.
/// Narrowed by the tickets only when a filter or the detail needs them.
fn flows(
    conn: &mut DbConn,
    p: &ReportParams,
    w: &Window,
    acc: &mut Acc,
    detail: bool,
) -> QueryResult<()> {
    let unfiltered =
        p.group.is_none() && p.agent.is_none() && p.priority.is_none() && p.channel.is_none();
    let counted: &[&str] = if detail {
        &FLOW_KINDS[..1]
    } else {
        &FLOW_KINDS
    };
    let code = || sql::<Integer>(EVENT_CODE);
    if unfiltered {
        // Each kind counted on its own range of `events_kind_at`: one
        // grouping over both kinds evaluated the code per event and sorted
        // them all in a temporary b-tree (a year: 600,000 events, 0.16 s on
        // SQLite against 0.05 s this way).
        let in_period = || {
            events::table
                .filter(events::at.ge(w.from_ms))
                .filter(events::at.lt(w.to_ms))
        };
        if counted.contains(&FLOW_KINDS[0]) {
            let sent: i64 = in_period()
                .filter(events::kind.eq(FLOW_KINDS[0]))
                .count()
                .get_result(conn)?;
            acc.counted(Kind::CsatSent, sent.max(0) as u64);
        }
        if counted.contains(&FLOW_KINDS[1]) {
            let ratings: Vec<(Option<String>, i64)> = in_period()
                .filter(events::kind.eq(FLOW_KINDS[1]))
                .group_by(events::to_value)
                .select((events::to_value, diesel::dsl::count_star()))
                .load(conn)?;
            for (value, n) in ratings {
                // The same values as EVENT_CODE's: exactly "1" to "5".
                let rating = ["1", "2", "3", "4", "5"]
                    .iter()
                    .position(|r| value.as_deref() == Some(*r));
                if let Some(r) = rating {
                    acc.counted(Kind::CsatReceived(r as u8 + 1), n.max(0) as u64);
                }
            }
        }
    } else {
        // A boxed query cannot be grouped here (and a narrowed one is
        // smaller): one code per event, counted below.
        let codes: Vec<i32> = narrow!(events::table.inner_join(tickets::table).into_boxed(), p)
            .filter(events::kind.eq_any(counted))
            .filter(events::at.ge(w.from_ms))
            .filter(events::at.lt(w.to_ms))
            .select(code())
            .load(conn)?;
        let mut by_code: HashMap<i32, i64> = HashMap::new();
        for c in codes {
            *by_code.entry(c).or_default() += 1;
        }
        for (c, n) in by_code {
            if let Some(k) = kind_of(c) {
                acc.counted(k, n.max(0) as u64);
            }
        }
    }
    if !detail {
        return Ok(());
    }
    let rows: Vec<FlowRow> = narrow!(events::table.inner_join(tickets::table).into_boxed(), p)
        .filter(events::kind.eq(FLOW_KINDS[1]))
        .filter(events::at.ge(w.from_ms))
        .filter(events::at.lt(w.to_ms))
        .select((
            events::ticket_id,
            code(),
            events::at,
            tickets::group_id,
            tickets::assignee_id,
        ))
        .load(conn)?;
    for (ticket, c, at, group, assignee) in rows {
        if let Some(k) = kind_of(c) {
            acc.flow_of(ticket, k, at, group, assignee);
        }
    }
    Ok(())
}

/// The whole report.
pub fn run(conn: &mut DbConn, p: &ReportParams, now: i64) -> QueryResult<Report> {
    run_with(conn, None, p, now)
}

/// `run`, reading half of the period's tickets on `spare` at the same time
/// when there is one (`Db::spare_conn`).
pub fn run_with(
    conn: &mut DbConn,
    spare: Option<&mut DbConn>,
    p: &ReportParams,
    now: i64,
) -> QueryResult<Report> {
    let w = Window::new(p, now);
    let book = Book::load(conn)?;
    let acc = Acc::new(&w, &book);
    Ok(pass(conn, spare, p, &w, acc, book.fingerprint(), false)?.finish())
}

/// The report and the page's series, from the same single pass; the rows
/// are named from the users and groups.
pub fn run_full(conn: &mut DbConn, p: &ReportParams, now: i64) -> QueryResult<(Report, Series)> {
    run_full_with(conn, None, p, now)
}

/// `run_full` with a spare connection, as `run_with`.
pub fn run_full_with(
    conn: &mut DbConn,
    spare: Option<&mut DbConn>,
    p: &ReportParams,
    now: i64,
) -> QueryResult<(Report, Series)> {
    let w = Window::new(p, now);
    let book = Book::load(conn)?;
    let acc = Acc::with_series(&w, &book);
    let (report, mut series) =
        pass(conn, spare, p, &w, acc, book.fingerprint(), true)?.finish_full();
    let groups: HashMap<i64, String> = people::list_groups(conn)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    for r in &mut series.groups {
        r.name = match r.id {
            None => "No group".into(),
            Some(id) => groups.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
        };
    }
    for r in &mut series.agents {
        r.name = match r.id {
            None => "Unassigned".into(),
            Some(id) => match people::find_user(conn, id)? {
                Some(u) => format!("{} <{}>", u.name, u.email),
                None => format!("#{id}"),
            },
        };
    }
    Ok((report, series))
}

fn pass<'a>(
    conn: &mut DbConn,
    spare: Option<&mut DbConn>,
    p: &ReportParams,
    w: &Window,
    mut acc: Acc<'a>,
    fingerprint: i64,
    detail: bool,
) -> QueryResult<Acc<'a>> {
    // Tickets whose events are read instead: for every figure (dirty rows),
    // or for the cohort's only (the backlog needs no book and no cut).
    let mut slow_all: Vec<i64> = Vec::new();
    let mut slow_cohort: Vec<i64> = Vec::new();
    let columns = (
        ticket_facts::ticket_id,
        ticket_facts::dirty,
        ticket_facts::summary,
    );

    // The period's tickets are most of the work (a million rows for a
    // year at a million tickets), nearly all of it stepping the database
    // through their rows and decoding them: with a spare connection the
    // later half of the period is read on it, on another thread, into an
    // accumulator of its own, merged at the end.
    let (from, to) = (w.from_ms, w.to_ms);
    match spare {
        Some(spare) if to - from > 1 => {
            let mid = from + (to - from) / 2;
            let mut later = acc.empty_like();
            let (mut all_later, mut cohort_later) = (Vec::new(), Vec::new());
            std::thread::scope(|scope| -> QueryResult<()> {
                let reader = scope.spawn(|| {
                    cohort_rows(
                        spare,
                        p,
                        (mid, to),
                        fingerprint,
                        &mut later,
                        &mut all_later,
                        &mut cohort_later,
                    )
                });
                let ours = cohort_rows(
                    conn,
                    p,
                    (from, mid - 1),
                    fingerprint,
                    &mut acc,
                    &mut slow_all,
                    &mut slow_cohort,
                );
                let theirs = reader
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                ours.and(theirs)
            })?;
            acc.merge(later);
            slow_all.extend(all_later);
            slow_cohort.extend(cohort_later);
        }
        _ => cohort_rows(
            conn,
            p,
            (from, to),
            fingerprint,
            &mut acc,
            &mut slow_all,
            &mut slow_cohort,
        )?,
    }

    // Older tickets: still active, settled after `from`, or dirty.
    for older in [Older::Active, Older::Settled, Older::Dirty] {
        let q = narrow_facts!(ticket_facts::table.into_boxed(), p)
            .filter(ticket_facts::created_at.lt(w.from_ms));
        let q = match older {
            Older::Active => q.filter(ticket_facts::settled_at.is_null()),
            Older::Settled => q.filter(ticket_facts::settled_at.ge(w.from_ms)),
            Older::Dirty => q.filter(ticket_facts::dirty),
        };
        for row in q
            .select(columns)
            .load_iter::<(i64, bool, Vec<u8>), DefaultLoadingMode>(conn)?
        {
            let (id, dirty, bytes) = row?;
            if dirty {
                // Counted once, from the query that asks for them.
                if older == Older::Dirty {
                    slow_all.push(id);
                }
            } else if let Some(s) = Summary::decode(id, &bytes) {
                acc.backlog_stretches(s.ticket.created_at, &s.stretches);
                acc.resolutions(&s.ticket, &s.resolutions);
            } else {
                slow_all.push(id);
            }
        }
    }

    for chunk in slow_all.chunks(facts::BATCH) {
        histories(conn, chunk, Some(p), w.to_ms, |t| {
            let created_at = t.ticket.created_at;
            if created_at >= w.from_ms && created_at < w.to_ms {
                acc.cohort(t);
            }
            acc.backlog(t);
            acc.resolutions(&t.ticket, &resolved_ats(&t.events));
        })?;
    }
    for chunk in slow_cohort.chunks(facts::BATCH) {
        histories(conn, chunk, Some(p), w.to_ms, |t| acc.cohort(t))?;
    }
    flows(conn, p, w, &mut acc, detail)?;
    Ok(acc)
}

/// The tickets created in `created` (both ends included) from their
/// facts: every figure from a usable row, the others' ids set aside to be
/// read from their events (`slow_all`: every figure; `slow_cohort`: the
/// cohort's, when the row was made with another SLA book or has events at
/// or after `to`).
fn cohort_rows(
    conn: &mut DbConn,
    p: &ReportParams,
    created: (i64, i64),
    fingerprint: i64,
    acc: &mut Acc,
    slow_all: &mut Vec<i64>,
    slow_cohort: &mut Vec<i64>,
) -> QueryResult<()> {
    let to = acc.window().to_ms;
    let q = narrow_facts!(ticket_facts::table.into_boxed(), p)
        .filter(ticket_facts::created_at.ge(created.0))
        .filter(ticket_facts::created_at.le(created.1))
        .select((
            ticket_facts::ticket_id,
            ticket_facts::dirty,
            ticket_facts::summary,
        ));
    for row in q.load_iter::<(i64, bool, Vec<u8>), DefaultLoadingMode>(conn)? {
        let (id, dirty, bytes) = row?;
        let Some(s) = Summary::decode(id, &bytes).filter(|_| !dirty) else {
            slow_all.push(id);
            continue;
        };
        acc.backlog_stretches(s.ticket.created_at, &s.stretches);
        acc.resolutions(&s.ticket, &s.resolutions);
        if s.ticket.created_at < to {
            if s.book == fingerprint && s.last_at < to {
                acc.cohort_facts(&s.ticket, &s.facts);
            } else {
                slow_cohort.push(id);
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Older {
    Active,
    Settled,
    Dirty,
}
