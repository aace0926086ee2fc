//! The ticket's stored SLA clock: recomputed by `ops` inside every change
//! that can move it, by `refresh_open` when policies or calendars change,
//! and acted on by the breach job through `breach`.

use diesel::prelude::*;
use serde_json::json;

use super::model::Ticket;
use super::notify::{self, Notice};
use super::ops::{lock, record, EventSpec};
use super::{Actor, EventKind, Priority, SlaTarget, Status, TicketError};
use crate::db::schema::{events, tickets};
use crate::db::{Db, DbConn, DbError};
use crate::people;
use crate::sla::clock::{self, Change, Clock};
use crate::sla::policy::{Book, Rules};

/// What the clock columns of a ticket should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stored {
    pub policy_id: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub first_response_warn_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub resolution_warn_at: Option<i64>,
    pub resolution_remaining_ms: Option<i64>,
    pub sla_next_at: Option<i64>,
}

impl Stored {
    fn of(t: &Ticket) -> Stored {
        Stored {
            policy_id: t.sla_policy_id,
            first_response_due_at: t.first_response_due_at,
            first_response_warn_at: t.first_response_warn_at,
            resolution_due_at: t.resolution_due_at,
            resolution_warn_at: t.resolution_warn_at,
            resolution_remaining_ms: t.resolution_remaining_ms,
            sla_next_at: t.sla_next_at,
        }
    }

    fn set_on(self, t: &mut Ticket) {
        t.sla_policy_id = self.policy_id;
        t.first_response_due_at = self.first_response_due_at;
        t.first_response_warn_at = self.first_response_warn_at;
        t.resolution_due_at = self.resolution_due_at;
        t.resolution_warn_at = self.resolution_warn_at;
        t.resolution_remaining_ms = self.resolution_remaining_ms;
        t.sla_next_at = self.sla_next_at;
    }
}

/// Both clocks of a ticket under its policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clocks {
    pub first_response: Option<Clock>,
    pub resolution: Option<Clock>,
}

/// The status history the clocks replay.
pub fn history(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Change>> {
    Ok(histories(conn, &[ticket_id])?
        .remove(&ticket_id)
        .unwrap_or_default())
}

/// The clocks of `t` under `rules`.
pub fn clocks(t: &Ticket, rules: &Rules, history: &[Change]) -> Clocks {
    let target = rules.target(t.priority());
    let cal = &rules.calendar;
    // An agent-opened ticket starts with the agent's message: nothing to answer.
    let fr_minutes = if t.channel() == super::Channel::Agent {
        None
    } else {
        target.first_response_minutes
    };
    Clocks {
        first_response: clock::first_response(
            cal,
            t.created_at,
            t.first_responded_at,
            history,
            fr_minutes,
        ),
        resolution: clock::resolution(cal, t.created_at, history, target.resolution_minutes),
    }
}

fn stored(t: &Ticket, rules: &Rules, c: &Clocks) -> Stored {
    // The job looks again at the first unrecorded breach.
    let pending_breach = |clock: Option<Clock>, recorded: Option<i64>| {
        clock
            .and_then(|c| c.breach_at())
            .filter(|_| recorded.is_none())
    };
    let next = [
        pending_breach(c.first_response, t.first_response_breached_at),
        pending_breach(c.resolution, t.resolution_breached_at),
    ]
    .into_iter()
    .flatten()
    .min();
    Stored {
        policy_id: Some(rules.policy.id),
        first_response_due_at: c.first_response.and_then(|c| c.due),
        first_response_warn_at: c.first_response.and_then(|c| c.warn),
        resolution_due_at: c.resolution.and_then(|c| c.due),
        resolution_warn_at: c.resolution.and_then(|c| c.warn),
        resolution_remaining_ms: c.resolution.and_then(|c| c.paused_remaining),
        sla_next_at: next,
    }
}

impl Stored {
    #[allow(clippy::type_complexity)]
    fn columns(
        self,
    ) -> (
        diesel::dsl::Eq<tickets::sla_policy_id, Option<i64>>,
        diesel::dsl::Eq<tickets::first_response_due_at, Option<i64>>,
        diesel::dsl::Eq<tickets::first_response_warn_at, Option<i64>>,
        diesel::dsl::Eq<tickets::resolution_due_at, Option<i64>>,
        diesel::dsl::Eq<tickets::resolution_warn_at, Option<i64>>,
        diesel::dsl::Eq<tickets::resolution_remaining_ms, Option<i64>>,
        diesel::dsl::Eq<tickets::sla_next_at, Option<i64>>,
    ) {
        (
            tickets::sla_policy_id.eq(self.policy_id),
            tickets::first_response_due_at.eq(self.first_response_due_at),
            tickets::first_response_warn_at.eq(self.first_response_warn_at),
            tickets::resolution_due_at.eq(self.resolution_due_at),
            tickets::resolution_warn_at.eq(self.resolution_warn_at),
            tickets::resolution_remaining_ms.eq(self.resolution_remaining_ms),
            tickets::sla_next_at.eq(self.sla_next_at),
        )
    }
}

fn write(conn: &mut DbConn, ticket_id: i64, s: Stored) -> QueryResult<()> {
    diesel::update(tickets::table.find(ticket_id))
        .set(s.columns())
        .execute(conn)
        .map(|_| ())
}

/// Recomputes one ticket's clock columns with `book`; writes only on change.
/// Returns the ticket as stored afterwards.
pub(crate) fn refresh_with(conn: &mut DbConn, ticket_id: i64, book: &Book) -> QueryResult<Ticket> {
    let mut t: Ticket = tickets::table
        .find(ticket_id)
        .select(Ticket::as_select())
        .first(conn)?;
    refresh_row(conn, &mut t, book)?;
    Ok(t)
}

/// `apply` with the ticket's history read here.
fn refresh_row(conn: &mut DbConn, t: &mut Ticket, book: &Book) -> QueryResult<Option<Clocks>> {
    let h = match book.rules_for(t.group_id) {
        Some(_) => history(conn, t.id)?,
        None => Vec::new(),
    };
    apply(conn, t, &h, book)
}

/// Writes the clock columns `t` should have under `book` (if they differ)
/// and updates `t` to match. Returns the clocks (None: no policy applies).
fn apply(
    conn: &mut DbConn,
    t: &mut Ticket,
    h: &[Change],
    book: &Book,
) -> QueryResult<Option<Clocks>> {
    let (want, computed) = match book.rules_for(t.group_id) {
        Some(r) => {
            let c = clocks(t, r, h);
            (stored(t, r, &c), Some(c))
        }
        None => (Stored::default(), None),
    };
    if want != Stored::of(t) {
        write(conn, t.id, want)?;
        want.set_on(t);
    }
    Ok(computed)
}

/// The histories of many tickets in one query, by ticket id.
fn histories(
    conn: &mut DbConn,
    ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Vec<Change>>> {
    let rows: Vec<(i64, String, Option<String>, i64)> = events::table
        .filter(events::ticket_id.eq_any(ids))
        .filter(events::kind.eq_any(["status_changed", "reopened"]))
        .order((events::ticket_id, events::at, events::id))
        .select((
            events::ticket_id,
            events::kind,
            events::to_value,
            events::at,
        ))
        .load(conn)?;
    let mut out: std::collections::HashMap<i64, Vec<Change>> = std::collections::HashMap::new();
    for (id, kind, to, at) in rows {
        let to = if kind == "reopened" {
            Some(Status::Open)
        } else {
            to.and_then(|t| t.parse().ok())
        };
        if let Some(to) = to {
            out.entry(id).or_default().push(Change { at, to });
        }
    }
    Ok(out)
}

/// Recomputes one ticket's clock (called by `ops` inside its transaction).
pub(crate) fn refresh(conn: &mut DbConn, ticket_id: i64) -> QueryResult<()> {
    type Cols = (
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let (group, policy, fr_due, res_due, paused): Cols = tickets::table
        .find(ticket_id)
        .select((
            tickets::group_id,
            tickets::sla_policy_id,
            tickets::first_response_due_at,
            tickets::resolution_due_at,
            tickets::resolution_remaining_ms,
        ))
        .first(conn)?;
    let book = Book::for_group(conn, group)?;
    // The common case without any policy: nothing to compute or clear.
    let clocked = policy.or(fr_due).or(res_due).or(paused).is_some();
    if book.is_empty() && !clocked {
        return Ok(());
    }
    refresh_with(conn, ticket_id, &book).map(|_| ())
}

/// Recomputes every open ticket (after a policy or calendar changed), one
/// write transaction per batch so other writers (mail ingestion on SQLite)
/// are not held up for the whole run. Returns how many tickets were looked at.
pub fn refresh_open(db: &Db) -> Result<usize, DbError> {
    const BATCH: i64 = 500;
    let book = db.query(Book::load)?;
    if book.is_empty() {
        // No policy: clear whatever clocks a deleted one left, in one
        // statement (a deleted policy already set `sla_policy_id` NULL, so
        // look at the clocks too).
        return db.write(|conn| {
            diesel::update(
                tickets::table
                    .filter(
                        tickets::sla_policy_id
                            .is_not_null()
                            .or(tickets::first_response_due_at.is_not_null())
                            .or(tickets::resolution_due_at.is_not_null())
                            .or(tickets::resolution_remaining_ms.is_not_null())
                            .or(tickets::sla_next_at.is_not_null()),
                    )
                    .filter(tickets::status.eq_any(["new", "open", "pending"])),
            )
            .set(Stored::default().columns())
            .execute(conn)
            .map_err(DbError::from)
        });
    }
    let mut after = 0i64;
    let mut seen = 0usize;
    loop {
        // Rows and histories of a batch in two queries; the writes (only
        // where something changed) in one transaction. The rows are read
        // inside it, so a ticket changed meanwhile is not overwritten.
        let n = db.write(|conn| {
            let mut rows: Vec<Ticket> = tickets::table
                .filter(tickets::id.gt(after))
                .filter(tickets::status.eq_any(["new", "open", "pending"]))
                .order(tickets::id)
                .limit(BATCH)
                .select(Ticket::as_select())
                .load(conn)?;
            let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
            let mut hist = histories(conn, &ids)?;
            for t in &mut rows {
                let h = hist.remove(&t.id).unwrap_or_default();
                apply(conn, t, &h, &book)?;
            }
            Ok::<_, DbError>((rows.len(), ids.last().copied()))
        })?;
        let (count, last) = n;
        let Some(last) = last else {
            break;
        };
        seen += count;
        after = last;
        if (count as i64) < BATCH {
            break;
        }
    }
    Ok(seen)
}

/// What the breach job did to one ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breached {
    pub targets: Vec<SlaTarget>,
    pub escalated: bool,
}

fn raised(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

/// Records the breaches of `ticket_id` that are due at `now` (each once,
/// stamped at its due instant) and applies the policy's escalation. Safe to
/// run from several processes: the breach column is claimed with a
/// conditional update, so only one of them writes the event.
pub fn breach(
    conn: &mut DbConn,
    ticket_id: i64,
    book: &Book,
    now: i64,
) -> Result<Breached, TicketError> {
    conn.transaction(|conn| {
        let mut t = lock(conn, ticket_id)?;
        let computed = refresh_row(conn, &mut t, book)?;
        let (Some(rules), Some(c)) = (t.sla_policy_id.and_then(|p| book.by_id(p)), computed) else {
            return Ok(Breached::default());
        };
        let mut out = Breached::default();
        for (target, clock, recorded) in [
            (
                SlaTarget::FirstResponse,
                c.first_response,
                t.first_response_breached_at,
            ),
            (
                SlaTarget::Resolution,
                c.resolution,
                t.resolution_breached_at,
            ),
        ] {
            let Some(at) = clock.and_then(|c| c.breach_at()).filter(|&at| at <= now) else {
                continue;
            };
            if recorded.is_some() {
                continue;
            }
            let claimed = match target {
                SlaTarget::FirstResponse => diesel::update(
                    tickets::table
                        .find(t.id)
                        .filter(tickets::first_response_breached_at.is_null()),
                )
                .set(tickets::first_response_breached_at.eq(at))
                .execute(conn)?,
                SlaTarget::Resolution => diesel::update(
                    tickets::table
                        .find(t.id)
                        .filter(tickets::resolution_breached_at.is_null()),
                )
                .set(tickets::resolution_breached_at.eq(at))
                .execute(conn)?,
            };
            if claimed == 0 {
                continue;
            }
            record(
                conn,
                t.id,
                Actor::System,
                at,
                EventSpec {
                    kind: EventKind::SlaBreached,
                    from: None,
                    to: Some(target.as_str()),
                    data: json!({ "target": target.as_str(), "policy": rules.policy.name }),
                },
            )?;
            out.targets.push(target);
            // A ticket that is already resolved or closed only gets the record.
            let current: Ticket = lock(conn, t.id)?;
            if current.status().is_active() {
                escalate_on_breach(conn, &current, rules, target, now)?;
                out.escalated = true;
            }
        }
        if !out.targets.is_empty() {
            refresh(conn, t.id)?;
        } else if t.sla_next_at.is_some_and(|n| n <= now) {
            // Nothing to record although the job was pointed here: make sure
            // the ticket does not come back every tick.
            let s = Stored {
                sla_next_at: None,
                ..Stored::of(&t)
            };
            write(conn, t.id, s)?;
        }
        Ok(out)
    })
}

/// The policy's breach actions, each written as its usual event by the system.
fn escalate_on_breach(
    conn: &mut DbConn,
    t: &Ticket,
    rules: &Rules,
    target: SlaTarget,
    now: i64,
) -> Result<(), TicketError> {
    let p = &rules.policy;
    let id = t.id;
    if p.breach_raise_level {
        let level = t.escalation_level + 1;
        diesel::update(tickets::table.find(id))
            .set(tickets::escalation_level.eq(level))
            .execute(conn)?;
        let (from, to) = (t.escalation_level.to_string(), level.to_string());
        record(
            conn,
            id,
            Actor::System,
            now,
            EventSpec::change(EventKind::Escalated, &from, &to)
                .data(json!({ "reason": "sla_breach", "target": target.as_str() })),
        )?;
    }
    let mut group = t.group_id;
    let mut assignee = t.assignee_id;
    if let Some(g) = p.breach_group_id.filter(|&g| Some(g) != t.group_id) {
        // The assignee stays only if they belong to the escalation group.
        if let Some(a) = assignee {
            if !people::is_member(conn, g, a)? {
                assignee = None;
            }
        }
        diesel::update(tickets::table.find(id))
            .set((tickets::group_id.eq(g), tickets::assignee_id.eq(assignee)))
            .execute(conn)?;
        let data = json!({
            "from_agent": t.assignee_id, "to_agent": assignee,
            "from_group": t.group_id, "to_group": g, "reason": "sla_breach",
        });
        record(
            conn,
            id,
            Actor::System,
            now,
            EventSpec::new(EventKind::Assigned).data(data),
        )?;
        group = Some(g);
    }
    if p.breach_raise_priority {
        let from = t.priority();
        let to = raised(from);
        if to != from {
            diesel::update(tickets::table.find(id))
                .set(tickets::priority.eq(to.as_str()))
                .execute(conn)?;
            record(
                conn,
                id,
                Actor::System,
                now,
                EventSpec::change(EventKind::PriorityChanged, from.as_str(), to.as_str())
                    .data(json!({ "reason": "sla_breach" })),
            )?;
        }
    }
    diesel::update(tickets::table.find(id))
        .set(tickets::updated_at.eq(now))
        .execute(conn)?;
    if p.breach_notify {
        // The assignee, else everyone in the (new) group.
        let recipients: Vec<i64> = match (assignee, group) {
            (Some(a), _) => vec![a],
            (None, Some(g)) => people::group_members(conn, g)?
                .into_iter()
                .map(|u| u.id)
                .collect(),
            (None, None) => Vec::new(),
        };
        let what = match target {
            SlaTarget::FirstResponse => "first response",
            SlaTarget::Resolution => "resolution",
        };
        let fresh = lock(conn, id)?;
        notify::notify(
            conn,
            &fresh,
            Notice::SlaBreach,
            &recipients,
            None,
            &format!("The {what} target of {:?}", p.name),
            now,
        )?;
    }
    Ok(())
}

/// How a clock stands, for pages and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Running, less than 80 % of the target used.
    Ok,
    /// Running, 80 % or more used.
    Warning,
    /// Running past its due time.
    Breached,
    /// Paused while the ticket is pending.
    Paused,
    /// Stopped within the target.
    Met,
    /// Stopped after the target.
    Missed,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Ok => "ok",
            ClockState::Warning => "warning",
            ClockState::Breached => "breached",
            ClockState::Paused => "paused",
            ClockState::Met => "met",
            ClockState::Missed => "missed",
        }
    }
}

/// One clock as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockView {
    pub target: SlaTarget,
    pub state: ClockState,
    pub due_at: Option<i64>,
    /// Business time left (negative: overdue by), for running and paused clocks.
    pub remaining_ms: Option<i64>,
}

fn running(
    due: i64,
    warn: Option<i64>,
    breached: bool,
    rules: &Rules,
    now: i64,
) -> (ClockState, i64) {
    let cal = &rules.calendar;
    if breached || due <= now {
        (ClockState::Breached, -cal.between(due, now))
    } else if warn.is_some_and(|w| w <= now) {
        (ClockState::Warning, cal.between(now, due))
    } else {
        (ClockState::Ok, cal.between(now, due))
    }
}

/// The ticket's clocks as they stand at `now` (stored columns only).
pub fn view(t: &Ticket, rules: Option<&Rules>, now: i64) -> Vec<ClockView> {
    let Some(rules) = rules.filter(|r| Some(r.policy.id) == t.sla_policy_id) else {
        return Vec::new();
    };
    let target = rules.target(t.priority());
    let active = t.status().is_active();
    let mut out = Vec::new();
    if let Some(due) = t.first_response_due_at {
        let (state, remaining_ms) = match t.first_responded_at {
            Some(r) if r <= due && t.first_response_breached_at.is_none() => {
                (ClockState::Met, None)
            }
            Some(_) => (ClockState::Missed, None),
            None if !active => match t.first_response_breached_at {
                Some(_) => (ClockState::Missed, None),
                None => (ClockState::Met, None),
            },
            None => {
                let (s, r) = running(
                    due,
                    t.first_response_warn_at,
                    t.first_response_breached_at.is_some(),
                    rules,
                    now,
                );
                (s, Some(r))
            }
        };
        out.push(ClockView {
            target: SlaTarget::FirstResponse,
            state,
            due_at: Some(due),
            remaining_ms,
        });
    }
    if target.resolution_minutes.is_some() {
        let first_resolved = t.resolved_at.is_some() || t.closed_at.is_some();
        let (state, due_at, remaining_ms) = match (t.resolution_remaining_ms, t.resolution_due_at) {
            (Some(left), _) if active => (ClockState::Paused, None, Some(left)),
            (_, Some(due)) if active && !first_resolved => {
                let (s, r) = running(
                    due,
                    t.resolution_warn_at,
                    t.resolution_breached_at.is_some(),
                    rules,
                    now,
                );
                (s, Some(due), Some(r))
            }
            (_, due) => {
                let state = if t.resolution_breached_at.is_some() || due.is_some() {
                    ClockState::Missed
                } else {
                    ClockState::Met
                };
                (state, due, None)
            }
        };
        out.push(ClockView {
            target: SlaTarget::Resolution,
            state,
            due_at,
            remaining_ms,
        });
    }
    out
}

/// The clock the queue's "SLA due" order sorts by (the same choice as
/// `query::Sort::Due`): due, warning instant, breach recorded.
pub fn soonest(t: &super::QueueTicket) -> Option<(i64, Option<i64>, bool)> {
    if !t.status().is_active() {
        return None;
    }
    match (t.first_responded_at, t.first_response_due_at) {
        (None, Some(d)) => Some((
            d,
            t.first_response_warn_at,
            t.first_response_breached_at.is_some(),
        )),
        _ => t
            .resolution_due_at
            .map(|d| (d, t.resolution_warn_at, t.resolution_breached_at.is_some())),
    }
}
