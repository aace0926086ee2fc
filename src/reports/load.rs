//! The queries that feed `compute`, on both backends.
//!
//! Three ticket sets, each read in one streamed query (a ticket row left
//! joined to the events the figures need, ordered by ticket), so nothing is
//! loaded per ticket and no id list is sent back:
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

use diesel::prelude::*;

use super::compute::{Acc, Ev, Kind, TicketHistory, Window};
use super::{Report, ReportParams};
use crate::db::schema::{events, tickets};
use crate::db::DbConn;
use crate::sla::policy::Book;
use crate::tickets::{Channel, Priority};

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

/// A ticket and one of its events (none when it has no relevant event).
type Row = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<(String, i64, Option<String>)>,
);

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

fn kind_of(kind: &str, to: Option<&str>) -> Option<Kind> {
    Some(match kind {
        "customer_message" => Kind::CustomerMessage,
        "agent_reply" => Kind::AgentReply,
        "status_changed" => Kind::Status(to?.parse().ok()?),
        "reopened" => Kind::Reopened,
        "escalated" => Kind::Escalated,
        "csat_sent" => Kind::CsatSent,
        "csat_received" => match to?.parse::<u8>().ok()? {
            r @ 1..=5 => Kind::CsatReceived(r),
            _ => return None,
        },
        _ => return None,
    })
}

/// Streams one set's tickets with their events to `each`, ticket by ticket.
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
    // The candidate subquery reads `events` beside the joined one.
    let later = diesel::alias!(events as later_events);
    let joined = tickets::table.left_join(
        events::table.on(events::ticket_id
            .eq(tickets::id)
            .and(events::kind.eq_any(kinds))
            .and(events::at.le(w.to_ms))),
    );
    let q = narrow!(joined.into_boxed(), p);
    let q = match set {
        Set::Cohort => q
            .filter(tickets::created_at.ge(w.from_ms))
            .filter(tickets::created_at.le(w.to_ms))
            .order((tickets::created_at, tickets::id, events::at, events::id)),
        Set::OlderActive => q
            .filter(tickets::created_at.lt(w.from_ms))
            .filter(tickets::status.eq_any(ACTIVE))
            .order((tickets::id, events::at, events::id)),
        Set::OlderTouched => q
            .filter(tickets::created_at.lt(w.from_ms))
            .filter(tickets::status.ne_all(ACTIVE))
            .filter(
                tickets::id.eq_any(
                    later
                        .filter(later.field(events::kind).eq_any(STATUS_KINDS))
                        .filter(later.field(events::at).gt(w.from_ms))
                        .select(later.field(events::ticket_id)),
                ),
            )
            .order((tickets::id, events::at, events::id)),
    };
    let q = q.select((
        tickets::id,
        tickets::created_at,
        tickets::channel,
        tickets::priority,
        tickets::group_id,
        tickets::assignee_id,
        (events::kind, events::at, events::to_value).nullable(),
    ));
    let mut current: Option<TicketHistory> = None;
    for row in q.load_iter::<Row, diesel::connection::DefaultLoadingMode>(conn)? {
        let (id, created_at, channel, priority, group, assignee, event) = row?;
        if current.as_ref().is_some_and(|t| t.id != id) {
            if let Some(t) = current.take() {
                each(&t);
            }
        }
        let t = current.get_or_insert_with(|| TicketHistory {
            id,
            created_at,
            channel: channel.parse().unwrap_or(Channel::Email),
            priority: priority.parse().unwrap_or(Priority::Normal),
            group,
            assignee,
            events: Vec::new(),
        });
        if let Some((kind, at, to)) = event {
            if let Some(kind) = kind_of(&kind, to.as_deref()) {
                t.events.push(Ev { at, kind });
            }
        }
    }
    if let Some(t) = current {
        each(&t);
    }
    Ok(())
}

/// The period's resolutions, surveys and ratings, with their ticket.
fn flows(conn: &mut DbConn, p: &ReportParams, w: &Window, acc: &mut Acc) -> QueryResult<()> {
    let q = narrow!(events::table.inner_join(tickets::table).into_boxed(), p)
        .filter(events::kind.eq_any(FLOW_KINDS))
        .filter(events::at.ge(w.from_ms))
        .filter(events::at.lt(w.to_ms))
        .select((events::ticket_id, events::kind, events::to_value));
    for row in
        q.load_iter::<(i64, String, Option<String>), diesel::connection::DefaultLoadingMode>(conn)?
    {
        let (ticket, kind, to) = row?;
        if let Some(k) = kind_of(&kind, to.as_deref()) {
            acc.flow(ticket, k);
        }
    }
    Ok(())
}

/// The whole report.
pub fn run(conn: &mut DbConn, p: &ReportParams, now: i64) -> QueryResult<Report> {
    let w = Window::new(p, now);
    let book = Book::load(conn)?;
    let mut acc = Acc::new(&w, &book);
    stream(conn, Set::Cohort, p, &w, |t| {
        if t.created_at < w.to_ms {
            acc.cohort(t);
        }
        acc.backlog(t);
    })?;
    for set in [Set::OlderActive, Set::OlderTouched] {
        stream(conn, set, p, &w, |t| acc.backlog(t))?;
    }
    flows(conn, p, &w, &mut acc)?;
    Ok(acc.finish())
}
