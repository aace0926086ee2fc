//! The queries that feed `compute`, on both backends.
//!
//! Three ticket sets, each read with two queries (the tickets, then their
//! events streamed in the same order and merged), so nothing is loaded per
//! ticket and no id list is sent back:
//! - the cohort: created in [from, to] (`tickets_created`); a ticket created
//!   exactly at `to` is only in the backlog at `to`;
//! - older tickets still active now (`tickets_status_updated`);
//! - older tickets no longer active that changed status after `from`
//!   (`events_kind_at`). An older ticket in neither set was inactive at
//!   `from` and has not changed since, so it is in no backlog of the period.
//!   These two use the current status column only to choose candidates; the
//!   status at each instant is replayed from the events.
//!
//! Then the period's resolutions and surveys (`events_kind_at`).

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Integer;

use std::collections::HashMap;

use super::compute::{Acc, Ev, Kind, TicketHistory, Window};
use super::series::Series;
use super::{Report, ReportParams};
use crate::db::schema::{events, tickets};
use crate::db::DbConn;
use crate::people;
use crate::sla::policy::Book;
use crate::tickets::{Channel, Priority, Status};

const COHORT_KINDS: [&str; 5] = [
    "customer_message",
    "agent_reply",
    "status_changed",
    "reopened",
    "escalated",
];
const STATUS_KINDS: [&str; 2] = ["status_changed", "reopened"];
const ACTIVE: [&str; 3] = ["new", "open", "pending"];
const FLOW_KINDS: [&str; 3] = ["status_changed", "csat_sent", "csat_received"];

/// A ticket: id, created_at, channel and priority codes, group, assignee.
type TicketRow = (i64, i64, i32, i32, Option<i64>, Option<i64>);
/// An event: its ticket's created_at and id, the event code, at.
type EventRow = (i64, i64, i32, i64);
/// A flow event: its ticket, the event code, at, the ticket's group and
/// assignee.
type FlowRow = (i64, i32, i64, Option<i64>, Option<i64>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Cohort,
    OlderActive,
    OlderTouched,
}

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

/// Restricts a boxed query on `tickets` to one set.
macro_rules! in_set {
    ($q:expr, $set:expr, $w:expr) => {{
        // The candidate subquery reads `events` beside a joined one.
        let later = diesel::alias!(events as later_events);
        match $set {
            Set::Cohort => $q
                .filter(tickets::created_at.ge($w.from_ms))
                .filter(tickets::created_at.le($w.to_ms)),
            Set::OlderActive => $q
                .filter(tickets::created_at.lt($w.from_ms))
                .filter(tickets::status.eq_any(ACTIVE)),
            Set::OlderTouched => $q
                .filter(tickets::created_at.lt($w.from_ms))
                .filter(tickets::status.ne_all(ACTIVE))
                .filter(
                    tickets::id.eq_any(
                        later
                            .filter(later.field(events::kind).eq_any(STATUS_KINDS))
                            .filter(later.field(events::at).gt($w.from_ms))
                            .select(later.field(events::ticket_id)),
                    ),
                ),
        }
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

/// Streams one set's tickets with their events to `each`, ticket by ticket:
/// the tickets first, then their events in the same order, merged.
fn stream(
    conn: &mut DbConn,
    set: Set,
    p: &ReportParams,
    w: &Window,
    mut each: impl FnMut(&TicketHistory),
) -> QueryResult<()> {
    let kinds: &[&str] = match set {
        Set::Cohort => &COHORT_KINDS,
        Set::OlderActive | Set::OlderTouched => &STATUS_KINDS,
    };
    let cohort = set == Set::Cohort;
    let q = in_set!(narrow!(tickets::table.into_boxed(), p), set, w);
    let q = if cohort {
        q.order((tickets::created_at, tickets::id))
    } else {
        q.order(tickets::id)
    };
    let rows: Vec<TicketRow> = q
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
    let key = |created_at: i64, id: i64| if cohort { (created_at, id) } else { (0, id) };

    let q = events::table.inner_join(tickets::table).into_boxed();
    let q = in_set!(narrow!(q, p), set, w)
        .filter(events::kind.eq_any(kinds))
        .filter(events::at.le(w.to_ms));
    // A ticket's events come at or after its creation, so the cohort's are
    // all in [from, to]. On PostgreSQL the bound lets the planner read only
    // the period's events (`events_kind_at`) instead of scanning them all;
    // SQLite already walks `tickets_created` then `events_ticket` in order.
    let q = if cohort && matches!(conn, DbConn::Postgres(_)) {
        q.filter(events::at.ge(w.from_ms))
    } else {
        q
    };
    let q = if cohort {
        q.order((tickets::created_at, tickets::id, events::at, events::id))
    } else {
        q.order((tickets::id, events::at, events::id))
    };
    let q = q.select((
        tickets::created_at,
        tickets::id,
        sql::<Integer>(EVENT_CODE),
        events::at,
    ));
    let mut tickets_left = rows.into_iter();
    let mut current: Option<TicketHistory> = None;
    let open = |r: TicketRow| TicketHistory {
        id: r.0,
        created_at: r.1,
        channel: channel_of(r.2),
        priority: priority_of(r.3),
        group: r.4,
        assignee: r.5,
        events: Vec::new(),
    };
    for row in q.load_iter::<EventRow, diesel::connection::DefaultLoadingMode>(conn)? {
        let (created_at, ticket_id, code, at) = row?;
        let want = key(created_at, ticket_id);
        // Finish the tickets before this event's (those without events too).
        loop {
            match &current {
                Some(t) if key(t.created_at, t.id) >= want => break,
                _ => {}
            }
            if let Some(t) = current.take() {
                each(&t);
            }
            match tickets_left.next() {
                Some(r) => current = Some(open(r)),
                None => break,
            }
        }
        // An event whose ticket is not in the list (it changed between the
        // two queries) is skipped.
        if let Some(t) = current.as_mut().filter(|t| key(t.created_at, t.id) == want) {
            if let Some(kind) = kind_of(code) {
                t.events.push(Ev { at, kind });
            }
        }
    }
    if let Some(t) = current.take() {
        each(&t);
    }
    for r in tickets_left {
        each(&open(r));
    }
    Ok(())
}

/// The period's resolutions, surveys and ratings. Joined to their ticket
/// only when a filter needs its columns.
fn flows(conn: &mut DbConn, p: &ReportParams, w: &Window, acc: &mut Acc) -> QueryResult<()> {
    let unfiltered =
        p.group.is_none() && p.agent.is_none() && p.priority.is_none() && p.channel.is_none();
    let select = (events::ticket_id, sql::<Integer>(EVENT_CODE));
    let rows: Vec<(i64, i32)> = if unfiltered {
        events::table
            .filter(events::kind.eq_any(FLOW_KINDS))
            .filter(events::at.ge(w.from_ms))
            .filter(events::at.lt(w.to_ms))
            .select(select)
            .load(conn)?
    } else {
        narrow!(events::table.inner_join(tickets::table).into_boxed(), p)
            .filter(events::kind.eq_any(FLOW_KINDS))
            .filter(events::at.ge(w.from_ms))
            .filter(events::at.lt(w.to_ms))
            .select(select)
            .load(conn)?
    };
    for (ticket, code) in rows {
        if let Some(k) = kind_of(code) {
            acc.flow(ticket, k);
        }
    }
    Ok(())
}

/// The whole report.
pub fn run(conn: &mut DbConn, p: &ReportParams, now: i64) -> QueryResult<Report> {
    let w = Window::new(p, now);
    let book = Book::load(conn)?;
    let acc = Acc::new(&w, &book);
    Ok(pass(conn, p, &w, acc, false)?.finish())
}

/// The report and the page's series, from the same single pass; the rows
/// are named from the users and groups.
pub fn run_full(conn: &mut DbConn, p: &ReportParams, now: i64) -> QueryResult<(Report, Series)> {
    let w = Window::new(p, now);
    let book = Book::load(conn)?;
    let acc = Acc::with_series(&w, &book);
    let (report, mut series) = pass(conn, p, &w, acc, true)?.finish_full();
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
    p: &ReportParams,
    w: &Window,
    mut acc: Acc<'a>,
    detail: bool,
) -> QueryResult<Acc<'a>> {
    stream(conn, Set::Cohort, p, w, |t| {
        if t.created_at < w.to_ms {
            acc.cohort(t);
        }
        acc.backlog(t);
    })?;
    for set in [Set::OlderActive, Set::OlderTouched] {
        stream(conn, set, p, w, |t| acc.backlog(t))?;
    }
    if detail {
        flows_detail(conn, p, w, &mut acc)?;
    } else {
        flows(conn, p, w, &mut acc)?;
    }
    Ok(acc)
}

/// `flows` with each event's instant and its ticket's group and assignee,
/// for the series.
fn flows_detail(conn: &mut DbConn, p: &ReportParams, w: &Window, acc: &mut Acc) -> QueryResult<()> {
    let rows: Vec<FlowRow> = narrow!(events::table.inner_join(tickets::table).into_boxed(), p)
        .filter(events::kind.eq_any(FLOW_KINDS))
        .filter(events::at.ge(w.from_ms))
        .filter(events::at.lt(w.to_ms))
        .select((
            events::ticket_id,
            sql::<Integer>(EVENT_CODE),
            events::at,
            tickets::group_id,
            tickets::assignee_id,
        ))
        .load(conn)?;
    for (ticket, code, at, group, assignee) in rows {
        if let Some(k) = kind_of(code) {
            acc.flow_of(ticket, k, at, group, assignee);
        }
    }
    Ok(())
}
