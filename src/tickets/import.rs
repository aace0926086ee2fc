//! Bulk import of tickets with their whole history (JSON Lines format of
//! METRICS.md). Records are validated one by one (`prepare`), then written
//! in batches with multi-row inserts: timestamps are kept as given, and
//! `external_id` makes a second run a no-op.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::model::{NewEvent, NewMessage};
use super::ops::validate_subject;
use super::types::{Channel, EventKind, MessageKind, Priority, SlaTarget, Status};
use super::TicketError;
use crate::db::schema::{events, messages, participants, tickets};
use crate::db::DbConn;
use crate::people::{self, EmailAddress};
use crate::reports::compute::{Ev, Kind, TicketHistory, TicketRef};
use crate::reports::facts::FactsRow;
use crate::time::parse_rfc3339;

#[derive(Debug, Deserialize)]
struct RawRecord {
    external_id: String,
    subject: String,
    channel: Option<Channel>,
    priority: Option<Priority>,
    group: Option<String>,
    assignee: Option<String>,
    requester: RawPerson,
    created_at: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Debug, Deserialize)]
struct RawPerson {
    email: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct RawEvent {
    at: String,
    #[serde(rename = "type")]
    kind: EventKind,
    agent: Option<String>,
    group: Option<String>,
    /// For customer_message: the sender when not the requester.
    from: Option<String>,
    to: Option<String>,
    body: Option<String>,
    reason: Option<String>,
    target: Option<SlaTarget>,
    rating: Option<i64>,
    comment: Option<String>,
}

/// What an imported event does, validated.
#[derive(Debug, Clone)]
enum Change {
    Message {
        kind: MessageKind,
        body: String,
        from: Option<EmailAddress>,
    },
    Status(Status),
    Reopened,
    Escalated {
        reason: String,
    },
    Assigned {
        agent: Option<EmailAddress>,
        group: Option<String>,
    },
    Priority(Priority),
    SlaBreached(SlaTarget),
    CsatSent,
    CsatReceived {
        rating: i64,
        comment: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct PreparedEvent {
    at: i64,
    kind: EventKind,
    agent: Option<EmailAddress>,
    change: Change,
}

/// One validated import line.
#[derive(Debug, Clone)]
pub struct PreparedTicket {
    pub external_id: String,
    subject: String,
    channel: Channel,
    priority: Priority,
    group: Option<String>,
    assignee: Option<EmailAddress>,
    requester: EmailAddress,
    requester_name: String,
    created_at: i64,
    body: String,
    events: Vec<PreparedEvent>,
}

fn email(field: &str, raw: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(raw).map_err(|e| format!("{field}: {e}"))
}

fn group_name(field: &str, raw: &str) -> Result<String, String> {
    let g = raw.trim();
    if g.is_empty() || g.len() > 100 {
        return Err(format!("{field}: a group name is 1 to 100 characters"));
    }
    Ok(g.to_string())
}

/// Parses and validates one line. The error names the offending field.
pub fn prepare(line: &str) -> Result<PreparedTicket, String> {
    let raw: RawRecord = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let external_id = raw.external_id.trim().to_string();
    if external_id.is_empty() || external_id.len() > 200 {
        return Err("external_id: 1 to 200 characters are required".into());
    }
    let subject = validate_subject(&raw.subject).map_err(|e| e.to_string())?;
    let created_at = parse_rfc3339(&raw.created_at).map_err(|e| format!("created_at: {e}"))?;
    let requester = email("requester.email", &raw.requester.email)?;
    let group = raw
        .group
        .as_deref()
        .map(|g| group_name("group", g))
        .transpose()?;
    let assignee = raw
        .assignee
        .as_deref()
        .map(|a| email("assignee", a))
        .transpose()?;
    let mut events = Vec::with_capacity(raw.events.len());
    for (i, ev) in raw.events.into_iter().enumerate() {
        let field = |name: &str| format!("events[{i}].{name}");
        let at = parse_rfc3339(&ev.at).map_err(|e| format!("{}: {e}", field("at")))?;
        if at < created_at {
            return Err(format!("{}: {} is before created_at", field("at"), ev.at));
        }
        let agent = ev
            .agent
            .as_deref()
            .map(|a| email(&field("agent"), a))
            .transpose()?;
        let need_to = || {
            ev.to
                .clone()
                .ok_or_else(|| format!("{} is required", field("to")))
        };
        let body = ev.body.clone().unwrap_or_default();
        let change = match ev.kind {
            EventKind::Created => {
                return Err(format!(
                    "{}: \"created\" comes from created_at, not from an event",
                    field("type")
                ))
            }
            EventKind::CustomerMessage => Change::Message {
                kind: MessageKind::Customer,
                body,
                from: ev
                    .from
                    .as_deref()
                    .map(|f| email(&field("from"), f))
                    .transpose()?,
            },
            EventKind::AgentReply => {
                if agent.is_none() {
                    return Err(format!("{} is required for agent_reply", field("agent")));
                }
                Change::Message {
                    kind: MessageKind::Agent,
                    body,
                    from: None,
                }
            }
            EventKind::Note => Change::Message {
                kind: MessageKind::Note,
                body,
                from: None,
            },
            EventKind::AutoMessage => Change::Message {
                kind: MessageKind::Auto,
                body,
                from: None,
            },
            EventKind::StatusChanged => Change::Status(
                need_to()?
                    .parse()
                    .map_err(|e| format!("{}: {e}", field("to")))?,
            ),
            EventKind::Reopened => Change::Reopened,
            EventKind::Escalated => Change::Escalated {
                reason: ev
                    .reason
                    .clone()
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "imported".into()),
            },
            EventKind::Assigned => {
                let group = ev
                    .group
                    .as_deref()
                    .map(|g| group_name(&field("group"), g))
                    .transpose()?;
                if agent.is_none() && group.is_none() {
                    return Err(format!(
                        "{}: assigned needs an agent or a group",
                        field("type")
                    ));
                }
                Change::Assigned {
                    agent: agent.clone(),
                    group,
                }
            }
            EventKind::PriorityChanged => Change::Priority(
                need_to()?
                    .parse()
                    .map_err(|e| format!("{}: {e}", field("to")))?,
            ),
            EventKind::SlaBreached => Change::SlaBreached(
                ev.target
                    .ok_or_else(|| format!("{} is required for sla_breached", field("target")))?,
            ),
            EventKind::CsatSent => Change::CsatSent,
            EventKind::CsatReceived => match ev.rating {
                Some(r @ 1..=5) => Change::CsatReceived {
                    rating: r,
                    comment: ev.comment.clone(),
                },
                _ => {
                    return Err(format!(
                        "{}: a rating from 1 to 5 is required",
                        field("rating")
                    ))
                }
            },
        };
        events.push(PreparedEvent {
            at,
            kind: ev.kind,
            agent,
            change,
        });
    }
    // Histories from other systems are not always sorted; ties keep file order.
    events.sort_by_key(|e| e.at);
    Ok(PreparedTicket {
        external_id,
        subject,
        channel: raw.channel.unwrap_or(Channel::Import),
        priority: raw.priority.unwrap_or(Priority::Normal),
        group,
        assignee,
        requester,
        requester_name: raw.requester.name,
        created_at,
        body: raw.body,
        events,
    })
}

/// Lookups kept across batches, so each agent and group is resolved once.
#[derive(Debug, Default)]
pub struct ImportCache {
    groups: HashMap<String, i64>,
    agents: HashMap<String, i64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchResult {
    pub imported: usize,
    /// Already present (same external_id), in the store or earlier in the batch.
    pub skipped: usize,
}

/// The ticket row's final state, replayed from the history.
struct Replayed {
    status: Status,
    priority: Priority,
    group: Option<i64>,
    assignee: Option<i64>,
    level: i32,
    updated_at: i64,
    first_responded_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
    /// The history's own breaches: the breach job must not record them again.
    first_response_breached_at: Option<i64>,
    resolution_breached_at: Option<i64>,
}

/// Inserts many rows: binary COPY on PostgreSQL (large multi-row VALUES
/// statements plan slowly there), multi-row INSERTs of `$chunk` rows on
/// SQLite (bounded by its limit on bound parameters).
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {
        match $conn {
            DbConn::Postgres(pg) => {
                if !$rows.is_empty() {
                    diesel::copy_from($table)
                        .from_insertable($rows)
                        .execute(pg)?;
                }
            }
            DbConn::Sqlite(lite) => {
                for chunk in $rows.chunks($chunk) {
                    diesel::insert_into($table).values(chunk).execute(lite)?;
                }
            }
        }
    };
}

/// The ids a batch refers to: resolved, and created when missing, before
/// its tickets are written, so several connections can write tickets at
/// once without racing to create the same customer.
#[derive(Debug, Default)]
pub struct People {
    groups: HashMap<String, i64>,
    agents: HashMap<String, i64>,
    customers: HashMap<String, i64>,
}

fn group_error(e: people::PeopleError) -> TicketError {
    match e {
        people::PeopleError::Db(d) => TicketError::Db(d),
        other => TicketError::Invalid {
            field: "group",
            message: other.to_string(),
        },
    }
}

/// Finds or creates the groups, agents (without login rights) and customers
/// a batch names.
pub fn resolve_people(
    conn: &mut DbConn,
    batch: &[PreparedTicket],
    cache: &mut ImportCache,
    now: i64,
) -> Result<People, TicketError> {
    let mut out = People::default();
    let mut wanted: Vec<(&EmailAddress, &str)> = Vec::new();
    for t in batch {
        let groups = t
            .group
            .iter()
            .chain(t.events.iter().filter_map(|e| match &e.change {
                Change::Assigned { group, .. } => group.as_ref(),
                _ => None,
            }));
        for name in groups {
            let id = match cache.groups.get(name) {
                Some(id) => *id,
                None => {
                    let (g, _) =
                        people::find_or_create_group(conn, name, now).map_err(group_error)?;
                    cache.groups.insert(name.clone(), g.id);
                    g.id
                }
            };
            out.groups.insert(name.clone(), id);
        }
        let agents = t
            .assignee
            .iter()
            .chain(t.events.iter().filter_map(|e| e.agent.as_ref()));
        for a in agents {
            let id = match cache.agents.get(a.as_str()) {
                Some(id) => *id,
                None => {
                    let id = people::find_or_create_agent(conn, a, now)?;
                    cache.agents.insert(a.as_str().to_string(), id);
                    id
                }
            };
            out.agents.insert(a.as_str().to_string(), id);
        }
        wanted.push((&t.requester, &t.requester_name));
        for e in &t.events {
            if let Change::Message { from: Some(f), .. } = &e.change {
                wanted.push((f, ""));
            }
        }
    }
    out.customers = people::customers_by_email(conn, &wanted, now)?;
    Ok(out)
}

/// Resolves the people and writes the tickets of a batch; call inside one
/// transaction (`Db::write`).
pub fn import_batch(
    conn: &mut DbConn,
    batch: &[PreparedTicket],
    cache: &mut ImportCache,
    now: i64,
) -> Result<BatchResult, TicketError> {
    let people = resolve_people(conn, batch, cache, now)?;
    write_tickets(conn, batch, &people, now)
}

/// Writes the tickets of a batch whose people are resolved, skipping
/// external ids already stored (or repeated in the batch).
pub fn write_tickets(
    conn: &mut DbConn,
    batch: &[PreparedTicket],
    people: &People,
    now: i64,
) -> Result<BatchResult, TicketError> {
    let mut result = BatchResult::default();
    let ids: Vec<&str> = batch.iter().map(|t| t.external_id.as_str()).collect();
    let mut seen: HashSet<String> = tickets::table
        .filter(tickets::external_id.eq_any(&ids))
        .select(tickets::external_id.assume_not_null())
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut todo: Vec<&PreparedTicket> = Vec::with_capacity(batch.len());
    for t in batch {
        if seen.insert(t.external_id.clone()) {
            todo.push(t);
        } else {
            result.skipped += 1;
        }
    }
    if todo.is_empty() {
        return Ok(result);
    }
    let customer = |e: &EmailAddress| people.customers.get(e.as_str()).copied();
    let agent = |e: &Option<EmailAddress>| {
        e.as_ref()
            .and_then(|a| people.agents.get(a.as_str()).copied())
    };

    // Ticket rows with their replayed final state.
    let mut rows = Vec::with_capacity(todo.len());
    // What the reports' facts need of each final state.
    let mut finals = Vec::with_capacity(todo.len());
    for t in &todo {
        let r = replay(t, &people.groups, &people.agents);
        finals.push((r.priority, r.group, r.assignee));
        rows.push((
            tickets::subject.eq(&t.subject),
            tickets::status.eq(r.status.as_str()),
            tickets::priority.eq(r.priority.as_str()),
            tickets::group_id.eq(r.group),
            tickets::assignee_id.eq(r.assignee),
            tickets::requester_id.eq(customer(&t.requester).unwrap_or_default()),
            tickets::escalation_level.eq(r.level),
            tickets::channel.eq(t.channel.as_str()),
            tickets::external_id.eq(Some(&t.external_id)),
            tickets::created_at.eq(t.created_at),
            tickets::updated_at.eq(r.updated_at),
            tickets::first_responded_at.eq(r.first_responded_at),
            tickets::resolved_at.eq(r.resolved_at),
            tickets::closed_at.eq(r.closed_at),
            tickets::first_response_breached_at.eq(r.first_response_breached_at),
            tickets::resolution_breached_at.eq(r.resolution_breached_at),
        ));
    }
    let mut ticket_ids: HashMap<String, i64> = HashMap::with_capacity(todo.len());
    for chunk in rows.chunks(1000) {
        let insert = diesel::insert_into(tickets::table)
            .values(chunk)
            .returning((tickets::external_id.assume_not_null(), tickets::id));
        ticket_ids.extend(crate::on_backend!(conn, |c| insert.get_results::<(String, i64)>(c))?);
    }

    // Messages, events and participants.
    let mut new_messages: Vec<NewMessage> = Vec::new();
    let mut new_events: Vec<NewEvent> = Vec::new();
    let mut new_participants: HashSet<(i64, i64)> = HashSet::new();
    for t in &todo {
        let tid = ticket_ids[&t.external_id];
        let requester = customer(&t.requester);
        let opener_is_agent = t.channel == Channel::Agent;
        new_messages.push(NewMessage {
            ticket_id: tid,
            kind: if opener_is_agent {
                MessageKind::Agent
            } else {
                MessageKind::Customer
            }
            .as_str(),
            author_user_id: None,
            author_customer_id: if opener_is_agent { None } else { requester },
            body_text: &t.body,
            body_html: None,
            mail_message_id: None,
            mail_in_reply_to: None,
            raw_mail_id: None,
            created_at: t.created_at,
        });
        new_events.push(NewEvent {
            ticket_id: tid,
            kind: EventKind::Created.as_str(),
            at: t.created_at,
            actor_user_id: None,
            actor_customer_id: if opener_is_agent { None } else { requester },
            from_value: None,
            to_value: None,
            data: json!({ "channel": t.channel.as_str(), "external_id": t.external_id })
                .to_string(),
        });
        let mut status = Status::New;
        let mut priority = t.priority;
        let mut level = 0;
        for e in &t.events {
            let actor = agent(&e.agent);
            let mut ev = NewEvent {
                ticket_id: tid,
                kind: e.kind.as_str(),
                at: e.at,
                actor_user_id: actor,
                actor_customer_id: None,
                from_value: None,
                to_value: None,
                data: "{}".to_string(),
            };
            match &e.change {
                Change::Message { kind, body, from } => {
                    let sender = from.as_ref().and_then(customer).or(requester);
                    let by_customer = *kind == MessageKind::Customer;
                    if by_customer {
                        ev.actor_customer_id = sender;
                        if let (Some(s), Some(r)) = (sender, requester) {
                            if s != r {
                                new_participants.insert((tid, s));
                            }
                        }
                    }
                    new_messages.push(NewMessage {
                        ticket_id: tid,
                        kind: kind.as_str(),
                        author_user_id: if by_customer { None } else { actor },
                        author_customer_id: if by_customer { sender } else { None },
                        body_text: body,
                        body_html: None,
                        mail_message_id: None,
                        mail_in_reply_to: None,
                        raw_mail_id: None,
                        created_at: e.at,
                    });
                }
                Change::Status(to) => {
                    ev.from_value = Some(status.as_str());
                    ev.to_value = Some(to.as_str());
                    status = *to;
                }
                Change::Reopened => {
                    ev.from_value = Some(status.as_str());
                    ev.to_value = Some(Status::Open.as_str());
                    status = Status::Open;
                }
                Change::Escalated { reason } => {
                    ev.from_value = Some(level_str(level));
                    level += 1;
                    ev.to_value = Some(level_str(level));
                    ev.data = json!({ "reason": reason }).to_string();
                }
                Change::Assigned { agent: a, group } => {
                    ev.actor_user_id = None;
                    ev.data = json!({
                        "to_agent": agent(a),
                        "to_group": group.as_ref().and_then(|g| people.groups.get(g)),
                    })
                    .to_string();
                }
                Change::Priority(p) => {
                    ev.from_value = Some(priority.as_str());
                    ev.to_value = Some(p.as_str());
                    priority = *p;
                }
                Change::SlaBreached(target) => ev.to_value = Some(target.as_str()),
                Change::CsatSent => {}
                Change::CsatReceived { rating, comment } => {
                    ev.to_value = Some(level_str(*rating as i32));
                    ev.data = json!({ "rating": rating, "comment": comment }).to_string();
                }
            }
            new_events.push(ev);
        }
    }
    bulk_insert!(conn, messages::table, &new_messages, 2000);
    bulk_insert!(conn, events::table, &new_events, 3000);
    let parts: Vec<_> = new_participants
        .into_iter()
        .map(|(t, c)| {
            (
                participants::ticket_id.eq(t),
                participants::customer_id.eq(c),
                participants::created_at.eq(now),
            )
        })
        .collect();
    bulk_insert!(conn, participants::table, &parts, 5000);
    // The reports' facts of the new tickets, from the rows just written
    // (each ticket's events are contiguous in `new_events`).
    let book = crate::sla::policy::Book::load(conn)?;
    let fingerprint = book.fingerprint();
    let mut facts = Vec::with_capacity(todo.len());
    let mut rest = &new_events[..];
    for (t, &(priority, group, assignee)) in todo.iter().zip(&finals) {
        let id = ticket_ids[&t.external_id];
        let n = rest.iter().take_while(|e| e.ticket_id == id).count();
        let (mine, after) = rest.split_at(n);
        rest = after;
        let mut events: Vec<Ev> = mine
            .iter()
            .filter_map(|e| {
                let kind = Kind::from_stored(e.kind, e.to_value).filter(|k| k.in_history())?;
                Some(Ev { at: e.at, kind })
            })
            .collect();
        // Stable: the order of (at, id) the reports read them in.
        events.sort_by_key(|e| e.at);
        let history = TicketHistory {
            ticket: TicketRef {
                id,
                created_at: t.created_at,
                channel: t.channel,
                priority,
                group,
                assignee,
            },
            events,
        };
        facts.push(FactsRow::of(&history, &book, fingerprint));
    }
    crate::reports::facts::insert_rows(conn, &facts)?;
    result.imported = todo.len();
    Ok(result)
}

/// Small numbers as static text, so event rows can borrow them.
fn level_str(n: i32) -> &'static str {
    const SMALL: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    SMALL.get(n as usize).copied().unwrap_or("10+")
}

fn replay(
    t: &PreparedTicket,
    groups: &HashMap<String, i64>,
    agents: &HashMap<String, i64>,
) -> Replayed {
    let mut r = Replayed {
        status: Status::New,
        priority: t.priority,
        group: t.group.as_ref().and_then(|g| groups.get(g).copied()),
        assignee: t
            .assignee
            .as_ref()
            .and_then(|a| agents.get(a.as_str()).copied()),
        level: 0,
        updated_at: t.created_at,
        first_responded_at: None,
        resolved_at: None,
        closed_at: None,
        first_response_breached_at: None,
        resolution_breached_at: None,
    };
    for e in &t.events {
        r.updated_at = r.updated_at.max(e.at);
        match &e.change {
            Change::Message {
                kind: MessageKind::Agent,
                ..
            } => {
                r.first_responded_at.get_or_insert(e.at);
            }
            Change::Status(to) => {
                r.status = *to;
                match to {
                    Status::Resolved => r.resolved_at = Some(e.at),
                    Status::Closed => r.closed_at = Some(e.at),
                    _ => {}
                }
            }
            Change::Reopened => {
                r.status = Status::Open;
                r.closed_at = None;
            }
            Change::Escalated { .. } => r.level += 1,
            Change::Assigned { agent, group } => {
                if let Some(a) = agent {
                    r.assignee = agents.get(a.as_str()).copied();
                }
                if let Some(g) = group {
                    r.group = groups.get(g).copied();
                }
            }
            Change::Priority(p) => r.priority = *p,
            Change::SlaBreached(SlaTarget::FirstResponse) => {
                r.first_response_breached_at.get_or_insert(e.at);
            }
            Change::SlaBreached(SlaTarget::Resolution) => {
                r.resolution_breached_at.get_or_insert(e.at);
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"external_id": "Z-1001", "subject": "Printer on fire", "channel": "email",
 "priority": "normal", "group": "Support",
 "requester": {"email": "ann@example.com", "name": "Ann"},
 "created_at": "2026-01-05T09:00:00Z", "body": "It is on fire.",
 "events": [
  {"at": "2026-01-05T09:30:00Z", "type": "agent_reply", "agent": "bob@example.com", "body": "Unplug it."},
  {"at": "2026-01-05T09:40:00Z", "type": "status_changed", "to": "resolved"},
  {"at": "2026-01-06T10:00:00Z", "type": "csat_sent"},
  {"at": "2026-01-06T11:00:00Z", "type": "csat_received", "rating": 5, "comment": "Fast!"}
 ]}"#;

    #[test]
    fn the_documented_example_is_valid() {
        let t = prepare(&GOOD.replace('\n', "")).unwrap();
        assert_eq!(t.external_id, "Z-1001");
        assert_eq!(t.events.len(), 4);
        let r = replay(&t, &HashMap::new(), &HashMap::new());
        assert_eq!(r.status, Status::Resolved);
        assert_eq!(r.first_responded_at, Some(t.created_at + 30 * 60_000));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("{", "EOF"),
            (r#"{"subject":"x"}"#, "external_id"),
            (&GOOD.replace("ann@example.com", "ann"), "requester.email"),
            (
                &GOOD.replace("\"rating\": 5", "\"rating\": 9"),
                "events[3].rating",
            ),
            (
                &GOOD.replace("\"to\": \"resolved\"", "\"to\": \"solved\""),
                "events[1].to",
            ),
            (
                &GOOD.replace("2026-01-05T09:30:00Z", "2026-01-04T09:30:00Z"),
                "before created_at",
            ),
            (
                &GOOD.replace("\"csat_sent\"", "\"csat_maybe\""),
                "csat_maybe",
            ),
            (
                &GOOD.replace("\"agent\": \"bob@example.com\", ", ""),
                "events[0].agent",
            ),
            (
                &GOOD.replace("2026-01-05T09:00:00Z", "last tuesday"),
                "created_at",
            ),
        ];
        for (line, expect) in cases {
            let err = prepare(&line.replace('\n', "")).unwrap_err();
            assert!(err.contains(expect), "{expect:?} not in {err:?}");
        }
    }
}
