//! Every change to a ticket. Each function runs in one transaction (a
//! savepoint when the caller already opened one, as `Db::write` does):
//! it checks the transition, updates the ticket row and appends its events,
//! plus an outbox row when mail must go out.

use diesel::prelude::*;
use serde_json::json;

use super::attachments::{self, NewAttachment};
use super::csat::{self, Survey};
use super::model::{NewEvent, NewMessage, Ticket};
use super::notify::{self, Notice};
use super::state::{self, Action, Outcome};
use super::types::{Actor, Channel, EventKind, MessageKind, Priority, Status};
use super::TicketError;
use crate::db::schema::{
    attachments as attachment_rows, customers, delivery_failures, messages, outbox, participants,
    tickets,
};
use crate::db::DbConn;
use crate::mail::message_id::MessageIdSigner;
use crate::people::{self, EmailAddress};

pub const MAX_SUBJECT_CHARS: usize = 1000;
pub const MAX_BODY_BYTES: usize = 1 << 20;
pub const MAX_REASON_CHARS: usize = 1000;
pub const MAX_ATTACHMENTS: usize = 50;

/// A message's content and, for mail, its threading identifiers.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub text: String,
    pub html: Option<String>,
    pub mail_message_id: Option<String>,
    pub mail_in_reply_to: Option<String>,
    pub raw_mail_id: Option<i64>,
    /// Files stored with the message, in the same transaction.
    pub attachments: Vec<NewAttachment>,
}

impl Body {
    pub fn text(text: impl Into<String>) -> Body {
        Body {
            text: text.into(),
            ..Body::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub subject: String,
    pub body: Body,
    pub requester: EmailAddress,
    pub requester_name: Option<String>,
    pub channel: Channel,
    pub priority: Priority,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub mailbox_id: Option<i64>,
    /// Who opened it: the requester (mail, web) or an agent (API, agent channel).
    pub actor: Actor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    pub ticket_id: i64,
    pub message_id: i64,
    /// The message went to a new ticket because the original was closed.
    pub follow_up: bool,
}

fn invalid(field: &'static str, message: impl Into<String>) -> TicketError {
    TicketError::Invalid {
        field,
        message: message.into(),
    }
}

pub fn validate_subject(subject: &str) -> Result<String, TicketError> {
    let s = subject.trim();
    if s.is_empty() {
        return Err(invalid("subject", "a subject is required"));
    }
    if s.chars().count() > MAX_SUBJECT_CHARS {
        return Err(invalid(
            "subject",
            format!("a subject is at most {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    Ok(s.to_string())
}

fn validate_body(body: &Body, required: bool) -> Result<(), TicketError> {
    if required && body.text.trim().is_empty() {
        return Err(invalid("body", "a message text is required"));
    }
    if body.text.len() > MAX_BODY_BYTES
        || body
            .html
            .as_ref()
            .is_some_and(|h| h.len() > 4 * MAX_BODY_BYTES)
    {
        return Err(invalid("body", "the message is larger than 1 MiB of text"));
    }
    if body.attachments.len() > MAX_ATTACHMENTS {
        return Err(invalid(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} files per message"),
        ));
    }
    Ok(())
}

/// Reads the ticket and, on PostgreSQL, locks its row until commit, so two
/// concurrent changes cannot both pass the transition check. (SQLite's
/// IMMEDIATE transaction already holds the database's write lock.)
pub(crate) fn lock(conn: &mut DbConn, id: i64) -> Result<Ticket, TicketError> {
    let q = tickets::table.find(id);
    let found = match conn {
        DbConn::Postgres(pg) => q
            .select(Ticket::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        sqlite => q.select(Ticket::as_select()).first(sqlite).optional()?,
    };
    found.ok_or(TicketError::NotFound(id))
}

fn transition(ticket: &Ticket, action: Action) -> Result<Outcome, TicketError> {
    state::apply(ticket.status(), action).map_err(|e| TicketError::Transition {
        ticket_id: ticket.id,
        source: e,
    })
}

fn stay(ticket: &Ticket, action: Action) -> Result<Status, TicketError> {
    match transition(ticket, action)? {
        Outcome::Stay { to } => Ok(to),
        Outcome::FollowUp => Err(TicketError::Transition {
            ticket_id: ticket.id,
            source: state::TransitionError::NotAllowed {
                action,
                status: ticket.status(),
            },
        }),
    }
}

pub(crate) struct EventSpec<'a> {
    pub kind: EventKind,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub data: serde_json::Value,
}

impl<'a> EventSpec<'a> {
    pub fn new(kind: EventKind) -> Self {
        EventSpec {
            kind,
            from: None,
            to: None,
            data: json!({}),
        }
    }
    pub fn change(kind: EventKind, from: &'a str, to: &'a str) -> Self {
        EventSpec {
            kind,
            from: Some(from),
            to: Some(to),
            data: json!({}),
        }
    }
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

pub(super) fn record(
    conn: &mut DbConn,
    ticket_id: i64,
    actor: Actor,
    at: i64,
    spec: EventSpec<'_>,
) -> QueryResult<()> {
    diesel::insert_into(crate::db::schema::events::table)
        .values(NewEvent {
            ticket_id,
            kind: spec.kind.as_str(),
            at,
            actor_user_id: actor.user_id(),
            actor_customer_id: actor.customer_id(),
            from_value: spec.from,
            to_value: spec.to,
            data: spec.data.to_string(),
        })
        .execute(conn)?;
    // The reports' copy of this ticket's history is now out of date.
    crate::reports::facts::mark_dirty(conn, ticket_id)
}

/// Moves the ticket to `to`, recording `status_changed` or `reopened`.
fn set_status(
    conn: &mut DbConn,
    ticket: &Ticket,
    to: Status,
    actor: Actor,
    at: i64,
) -> QueryResult<()> {
    let from = ticket.status();
    let Some(kind) = state::status_event(from, to) else {
        return Ok(());
    };
    let t = tickets::table.find(ticket.id);
    match to {
        Status::Resolved => diesel::update(t)
            .set((tickets::status.eq(to.as_str()), tickets::resolved_at.eq(at)))
            .execute(conn)?,
        Status::Closed => diesel::update(t)
            .set((tickets::status.eq(to.as_str()), tickets::closed_at.eq(at)))
            .execute(conn)?,
        _ => diesel::update(t)
            .set((
                tickets::status.eq(to.as_str()),
                tickets::closed_at.eq(None::<i64>),
            ))
            .execute(conn)?,
    };
    record(
        conn,
        ticket.id,
        actor,
        at,
        EventSpec::change(kind, from.as_str(), to.as_str()),
    )
}

fn touch(conn: &mut DbConn, ticket_id: i64, at: i64) -> QueryResult<()> {
    diesel::update(tickets::table.find(ticket_id))
        .set(tickets::updated_at.eq(at))
        .execute(conn)
        .map(|_| ())
}

pub(super) fn insert_message(
    conn: &mut DbConn,
    ticket_id: i64,
    kind: MessageKind,
    actor: Actor,
    body: &Body,
    at: i64,
) -> QueryResult<i64> {
    let id = diesel::insert_into(messages::table)
        .values(NewMessage {
            ticket_id,
            kind: kind.as_str(),
            author_user_id: actor.user_id(),
            author_customer_id: actor.customer_id(),
            body_text: &body.text,
            body_html: body.html.as_deref(),
            mail_message_id: body.mail_message_id.as_deref(),
            mail_in_reply_to: body.mail_in_reply_to.as_deref(),
            raw_mail_id: body.raw_mail_id,
            created_at: at,
        })
        .returning(messages::id)
        .get_result(conn)?;
    attachments::store(conn, id, &body.attachments, at)?;
    // Inline images: `cid:` links in mail HTML point at parts of the mail;
    // once the files are rows they get URLs of ours.
    if let Some(html) = body.html.as_deref() {
        if html.contains("cid:") && body.attachments.iter().any(|a| a.content_id.is_some()) {
            let files: Vec<(i64, Option<String>, String)> = attachment_rows::table
                .filter(attachment_rows::message_id.eq(id))
                .filter(attachment_rows::content_id.is_not_null())
                .select((
                    attachment_rows::id,
                    attachment_rows::content_id,
                    attachment_rows::filename,
                ))
                .load(conn)?;
            let rewritten = rewrite_cid_links(html, &files);
            if rewritten != html {
                diesel::update(messages::table.find(id))
                    .set(messages::body_html.eq(rewritten))
                    .execute(conn)?;
            }
        }
    }
    Ok(id)
}

/// `cid:ID` links replaced by `/attachments/{id}/{name}` for the stored
/// files with that Content-ID.
pub fn rewrite_cid_links(html: &str, files: &[(i64, Option<String>, String)]) -> String {
    let mut files: Vec<&(i64, Option<String>, String)> =
        files.iter().filter(|f| f.1.is_some()).collect();
    // Longest first, so `cid:a1` is not rewritten as `cid:a` plus "1".
    files.sort_by_key(|f| std::cmp::Reverse(f.1.as_ref().map(|c| c.len()).unwrap_or(0)));
    let mut out = html.to_string();
    for (id, cid, name) in files {
        let Some(cid) = cid else { continue };
        let url = format!("/attachments/{id}/{}", path_escape(name));
        out = out.replace(&format!("cid:{cid}"), &url);
    }
    out
}

fn path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Opens a ticket with its first message.
pub fn create(conn: &mut DbConn, new: NewTicket, at: i64) -> Result<Posted, TicketError> {
    create_linked(conn, new, None, at)
}

/// How a new ticket relates to an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Continues a closed ticket.
    FollowUp(i64),
    /// Mentions it (e.g. mail tagged with its number from someone who is not
    /// on it): linked for the agent, but kept apart.
    Related(i64),
}

/// Opens a ticket linked to `related_to` (which must exist), e.g. for mail
/// that carries another ticket's tag from a sender who is not on it.
pub fn create_related(
    conn: &mut DbConn,
    related_to: i64,
    new: NewTicket,
    at: i64,
) -> Result<Posted, TicketError> {
    conn.transaction(|conn| {
        let other = lock(conn, related_to)?;
        create_linked(conn, new, Some(Link::Related(other.id)), at)
    })
}

fn create_linked(
    conn: &mut DbConn,
    new: NewTicket,
    link: Option<Link>,
    at: i64,
) -> Result<Posted, TicketError> {
    let parent_id = match link {
        Some(Link::FollowUp(p) | Link::Related(p)) => Some(p),
        None => None,
    };
    let subject = validate_subject(&new.subject)?;
    validate_body(&new.body, false)?;
    conn.transaction(|conn| {
        if let Some(g) = new.group_id {
            people::find_group(conn, g)?
                .ok_or_else(|| invalid("group", format!("no group {g}")))?;
        }
        if let Some(a) = new.assignee_id {
            check_assignee(conn, a, new.group_id)?;
        }
        let requester = people::find_or_create_customer(
            conn,
            &new.requester,
            new.requester_name.as_deref(),
            at,
        )?;
        let ticket_id: i64 = diesel::insert_into(tickets::table)
            .values((
                tickets::subject.eq(&subject),
                tickets::status.eq(Status::New.as_str()),
                tickets::priority.eq(new.priority.as_str()),
                tickets::group_id.eq(new.group_id),
                tickets::assignee_id.eq(new.assignee_id),
                tickets::requester_id.eq(requester.id),
                tickets::escalation_level.eq(0),
                tickets::channel.eq(new.channel.as_str()),
                tickets::parent_id.eq(parent_id),
                tickets::mailbox_id.eq(new.mailbox_id),
                tickets::created_at.eq(at),
                tickets::updated_at.eq(at),
            ))
            .returning(tickets::id)
            .get_result(conn)?;
        // An agent-opened ticket starts with the agent's message to the customer.
        let (kind, author) = match new.channel {
            Channel::Agent => (MessageKind::Agent, new.actor),
            _ => (MessageKind::Customer, Actor::Customer(requester.id)),
        };
        let message_id = insert_message(conn, ticket_id, kind, author, &new.body, at)?;
        let mut data = json!({ "channel": new.channel.as_str() });
        match link {
            Some(Link::FollowUp(p)) => data["follow_up_of"] = json!(p),
            Some(Link::Related(p)) => data["related_to"] = json!(p),
            None => {}
        }
        record(
            conn,
            ticket_id,
            new.actor,
            at,
            EventSpec::new(EventKind::Created).data(data),
        )?;
        super::sla::refresh(conn, ticket_id)?;
        let ticket = lock(conn, ticket_id)?;
        let who = actor_name(conn, new.actor)?;
        if let Some(g) = new.group_id {
            // The assignee hears about it once, as an assignment.
            let members: Vec<i64> = people::group_members(conn, g)?
                .into_iter()
                .map(|u| u.id)
                .filter(|&u| Some(u) != new.assignee_id)
                .collect();
            notify::notify(
                conn,
                &ticket,
                Notice::NewTicket,
                &members,
                new.actor.user_id(),
                &who,
                at,
            )?;
        }
        if let Some(a) = new.assignee_id {
            notify::notify(
                conn,
                &ticket,
                Notice::Assigned,
                &[a],
                new.actor.user_id(),
                &who,
                at,
            )?;
        }
        Ok(Posted {
            ticket_id,
            message_id,
            follow_up: matches!(link, Some(Link::FollowUp(_))),
        })
    })
}

/// A new ticket linked to a closed one (closed tickets never change again).
pub fn follow_up(
    conn: &mut DbConn,
    closed_ticket_id: i64,
    new: NewTicket,
    at: i64,
) -> Result<Posted, TicketError> {
    conn.transaction(|conn| {
        let old = lock(conn, closed_ticket_id)?;
        if old.status() != Status::Closed {
            return Err(invalid(
                "ticket",
                format!(
                    "a follow-up needs a closed ticket; #{} is {}",
                    old.id, old.status
                ),
            ));
        }
        create_linked(conn, new, Some(Link::FollowUp(old.id)), at)
    })
}

/// A public message from the requester or a CC'd customer. On a resolved
/// ticket it reopens it; on a closed one it opens a linked follow-up.
pub fn customer_message(
    conn: &mut DbConn,
    ticket_id: i64,
    customer_id: i64,
    body: Body,
    at: i64,
) -> Result<Posted, TicketError> {
    validate_body(&body, false)?;
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        let actor = Actor::Customer(customer_id);
        match transition(&ticket, Action::CustomerMessage)? {
            Outcome::FollowUp => {
                let customer = people::find_customer(conn, customer_id)?
                    .ok_or_else(|| invalid("customer", format!("no customer {customer_id}")))?;
                let email =
                    EmailAddress::parse(&customer.email).map_err(|m| invalid("customer", m))?;
                let new = NewTicket {
                    subject: ticket.subject.clone(),
                    body,
                    requester: email,
                    requester_name: Some(customer.name),
                    channel: ticket.channel(),
                    priority: ticket.priority(),
                    group_id: ticket.group_id,
                    assignee_id: None,
                    mailbox_id: ticket.mailbox_id,
                    actor,
                };
                create_linked(conn, new, Some(Link::FollowUp(ticket.id)), at)
            }
            Outcome::Stay { to } => {
                let message_id =
                    insert_message(conn, ticket.id, MessageKind::Customer, actor, &body, at)?;
                record(
                    conn,
                    ticket.id,
                    actor,
                    at,
                    EventSpec::new(EventKind::CustomerMessage),
                )?;
                set_status(conn, &ticket, to, actor, at)?;
                touch(conn, ticket.id, at)?;
                super::sla::refresh(conn, ticket.id)?;
                if let Some(a) = ticket.assignee_id {
                    let who = actor_name(conn, actor)?;
                    notify::notify(conn, &ticket, Notice::CustomerReply, &[a], None, &who, at)?;
                }
                Ok(Posted {
                    ticket_id: ticket.id,
                    message_id,
                    follow_up: false,
                })
            }
        }
    })
}

/// A public reply by an agent, queued for delivery in the same transaction.
/// `then` is the status the agent leaves the ticket in (default: open); a
/// reply that resolves schedules the satisfaction survey as `survey` says.
// The arguments are the reply's plain inputs; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn reply(
    conn: &mut DbConn,
    signer: &MessageIdSigner,
    ticket_id: i64,
    agent_id: i64,
    body: Body,
    then: Option<Status>,
    survey: Survey,
    at: i64,
) -> Result<Posted, TicketError> {
    validate_body(&body, true)?;
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        let to = stay(&ticket, Action::AgentReply { then })?;
        let actor = Actor::Agent(agent_id);
        let mail_id = signer.generate(ticket.id);
        let body = Body {
            mail_message_id: Some(mail_id.clone()),
            ..body
        };
        let message_id = insert_message(conn, ticket.id, MessageKind::Agent, actor, &body, at)?;
        record(
            conn,
            ticket.id,
            actor,
            at,
            EventSpec::new(EventKind::AgentReply),
        )?;
        queue_mail(conn, &ticket, message_id, "reply", &mail_id, None, at)?;
        if ticket.first_responded_at.is_none() {
            diesel::update(tickets::table.find(ticket.id))
                .set(tickets::first_responded_at.eq(at))
                .execute(conn)?;
        }
        set_status(conn, &ticket, to, actor, at)?;
        touch(conn, ticket.id, at)?;
        super::sla::refresh(conn, ticket.id)?;
        if to == Status::Resolved && ticket.status() != Status::Resolved {
            csat::schedule(conn, ticket.id, survey, at)?;
        }
        Ok(Posted {
            ticket_id: ticket.id,
            message_id,
            follow_up: false,
        })
    })
}

/// An automatic mail (acknowledgement, survey, reminder): recorded as
/// `auto_message`, never counted as a response, queued for delivery.
pub fn auto_message(
    conn: &mut DbConn,
    signer: &MessageIdSigner,
    ticket_id: i64,
    purpose: &str,
    body: Body,
    at: i64,
) -> Result<Posted, TicketError> {
    auto_message_mail(conn, signer, ticket_id, purpose, body, None, at)
}

/// The mail of an automatic message when it must differ from the message
/// kept on the ticket: a survey's links are personal to its recipient, so
/// the ticket keeps a copy without them and only the outbox row has them.
#[derive(Debug, Clone)]
pub struct MailBody {
    /// Instead of the ticket's subject; keep the `[#id]` tag in it.
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// To the requester alone (not the CC'd customers).
    pub requester_only: bool,
}

/// `auto_message` whose outbox row carries `mail` instead of the message text.
pub fn auto_message_mail(
    conn: &mut DbConn,
    signer: &MessageIdSigner,
    ticket_id: i64,
    purpose: &str,
    body: Body,
    mail: Option<&MailBody>,
    at: i64,
) -> Result<Posted, TicketError> {
    validate_body(&body, true)?;
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        stay(&ticket, Action::AutoMessage)?;
        let mail_id = signer.generate(ticket.id);
        let body = Body {
            mail_message_id: Some(mail_id.clone()),
            ..body
        };
        let message_id =
            insert_message(conn, ticket.id, MessageKind::Auto, Actor::System, &body, at)?;
        record(
            conn,
            ticket.id,
            Actor::System,
            at,
            EventSpec::new(EventKind::AutoMessage).data(json!({ "purpose": purpose })),
        )?;
        queue_mail(conn, &ticket, message_id, purpose, &mail_id, mail, at)?;
        Ok(Posted {
            ticket_id: ticket.id,
            message_id,
            follow_up: false,
        })
    })
}

/// An automatic mail that came in (out-of-office, list or bulk mail) on a
/// ticket: stored as a message of kind `auto` by the customer, recorded as
/// `auto_message` with `{"direction":"in"}`. It never reopens the ticket,
/// never counts as a `customer_message`, and sends nothing.
pub fn incoming_auto_message(
    conn: &mut DbConn,
    ticket_id: i64,
    customer_id: i64,
    body: Body,
    at: i64,
) -> Result<Posted, TicketError> {
    validate_body(&body, false)?;
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        stay(&ticket, Action::AutoMessage)?;
        let actor = Actor::Customer(customer_id);
        let message_id = insert_message(conn, ticket.id, MessageKind::Auto, actor, &body, at)?;
        record(
            conn,
            ticket.id,
            actor,
            at,
            EventSpec::new(EventKind::AutoMessage).data(json!({ "direction": "in" })),
        )?;
        Ok(Posted {
            ticket_id: ticket.id,
            message_id,
            follow_up: false,
        })
    })
}

/// A bounce: mail to `recipient` could not be delivered.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFailure {
    /// The ticket the bounced mail belonged to, when known.
    pub ticket_id: Option<i64>,
    pub raw_mail_id: i64,
    pub recipient: Option<String>,
    pub status: Option<String>,
    pub diagnostic: String,
    pub original_message_id: Option<String>,
}

/// Records a delivery failure against its ticket (flagged on the ticket
/// page). It is not a ticket event: the ticket's state and the report
/// figures do not change because a mail bounced. Returns the row id.
pub fn delivery_failure(
    conn: &mut DbConn,
    failure: DeliveryFailure,
    at: i64,
) -> Result<i64, TicketError> {
    let clip = |s: String, n: usize| s.chars().take(n).collect::<String>();
    conn.transaction(|conn| {
        if let Some(t) = failure.ticket_id {
            lock(conn, t)?;
        }
        let id = diesel::insert_into(delivery_failures::table)
            .values((
                delivery_failures::ticket_id.eq(failure.ticket_id),
                delivery_failures::raw_mail_id.eq(failure.raw_mail_id),
                delivery_failures::recipient.eq(failure.recipient.map(|r| clip(r, 320))),
                delivery_failures::status.eq(failure.status.map(|s| clip(s, 40))),
                delivery_failures::diagnostic.eq(clip(failure.diagnostic, 2000)),
                delivery_failures::original_message_id.eq(failure.original_message_id),
                delivery_failures::created_at.eq(at),
            ))
            .returning(delivery_failures::id)
            .get_result(conn)?;
        Ok(id)
    })
}

/// An internal note: never sent, never changes the status.
pub fn note(
    conn: &mut DbConn,
    ticket_id: i64,
    agent_id: i64,
    body: Body,
    at: i64,
) -> Result<Posted, TicketError> {
    validate_body(&body, true)?;
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        stay(&ticket, Action::Note)?;
        let actor = Actor::Agent(agent_id);
        let message_id = insert_message(conn, ticket.id, MessageKind::Note, actor, &body, at)?;
        record(conn, ticket.id, actor, at, EventSpec::new(EventKind::Note))?;
        touch(conn, ticket.id, at)?;
        Ok(Posted {
            ticket_id: ticket.id,
            message_id,
            follow_up: false,
        })
    })
}

/// What an assignment changes: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Assignment {
    pub agent: Option<Option<i64>>,
    pub group: Option<Option<i64>>,
}

fn check_assignee(
    conn: &mut DbConn,
    agent_id: i64,
    group_id: Option<i64>,
) -> Result<(), TicketError> {
    let user = people::find_user(conn, agent_id)?
        .filter(|u| u.active)
        .ok_or_else(|| invalid("agent", format!("no active staff user {agent_id}")))?;
    if let Some(g) = group_id {
        if !people::is_member(conn, g, user.id)? {
            return Err(invalid(
                "agent",
                format!("{} is not a member of the ticket's group", user.email),
            ));
        }
    }
    Ok(())
}

/// Changes the assignee and/or group. Returns false when nothing changed
/// (no event is written then).
pub fn assign(
    conn: &mut DbConn,
    ticket_id: i64,
    change: Assignment,
    actor: Actor,
    at: i64,
) -> Result<bool, TicketError> {
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        stay(&ticket, Action::Assign)?;
        let group = change.group.unwrap_or(ticket.group_id);
        let agent = change.agent.unwrap_or(ticket.assignee_id);
        if group == ticket.group_id && agent == ticket.assignee_id {
            return Ok(false);
        }
        if let Some(g) = group {
            people::find_group(conn, g)?
                .ok_or_else(|| invalid("group", format!("no group {g}")))?;
        }
        if let Some(a) = agent {
            check_assignee(conn, a, group)?;
        }
        diesel::update(tickets::table.find(ticket.id))
            .set((
                tickets::group_id.eq(group),
                tickets::assignee_id.eq(agent),
                tickets::updated_at.eq(at),
            ))
            .execute(conn)?;
        let data = json!({
            "from_agent": ticket.assignee_id, "to_agent": agent,
            "from_group": ticket.group_id, "to_group": group,
        });
        record(
            conn,
            ticket.id,
            actor,
            at,
            EventSpec::new(EventKind::Assigned).data(data),
        )?;
        if group != ticket.group_id {
            super::sla::refresh(conn, ticket.id)?;
        }
        if let Some(a) = agent.filter(|&a| Some(a) != ticket.assignee_id) {
            let who = actor_name(conn, actor)?;
            notify::notify(
                conn,
                &ticket,
                Notice::Assigned,
                &[a],
                actor.user_id(),
                &who,
                at,
            )?;
        }
        Ok(true)
    })
}

/// Returns false when the priority already was `priority`.
pub fn set_priority(
    conn: &mut DbConn,
    ticket_id: i64,
    priority: Priority,
    actor: Actor,
    at: i64,
) -> Result<bool, TicketError> {
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        stay(&ticket, Action::SetPriority)?;
        let from = ticket.priority();
        if from == priority {
            return Ok(false);
        }
        diesel::update(tickets::table.find(ticket.id))
            .set((
                tickets::priority.eq(priority.as_str()),
                tickets::updated_at.eq(at),
            ))
            .execute(conn)?;
        record(
            conn,
            ticket.id,
            actor,
            at,
            EventSpec::change(EventKind::PriorityChanged, from.as_str(), priority.as_str()),
        )?;
        super::sla::refresh(conn, ticket.id)?;
        Ok(true)
    })
}

/// Raises the escalation level by one; returns the new level.
pub fn escalate(
    conn: &mut DbConn,
    ticket_id: i64,
    reason: &str,
    actor: Actor,
    at: i64,
) -> Result<i32, TicketError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("reason", "a reason is required to escalate"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(invalid(
            "reason",
            format!("a reason is at most {MAX_REASON_CHARS} characters"),
        ));
    }
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        stay(&ticket, Action::Escalate)?;
        let level = ticket.escalation_level + 1;
        diesel::update(tickets::table.find(ticket.id))
            .set((
                tickets::escalation_level.eq(level),
                tickets::updated_at.eq(at),
            ))
            .execute(conn)?;
        let (from, to) = (ticket.escalation_level.to_string(), level.to_string());
        record(
            conn,
            ticket.id,
            actor,
            at,
            EventSpec::change(EventKind::Escalated, &from, &to).data(json!({ "reason": reason })),
        )?;
        Ok(level)
    })
}

fn move_to(
    conn: &mut DbConn,
    ticket_id: i64,
    action: Action,
    actor: Actor,
    at: i64,
) -> Result<Status, TicketError> {
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        let to = stay(&ticket, action)?;
        set_status(conn, &ticket, to, actor, at)?;
        touch(conn, ticket.id, at)?;
        super::sla::refresh(conn, ticket.id)?;
        Ok(to)
    })
}

/// Resolves the ticket and schedules its satisfaction survey as `survey`
/// says (in the same transaction).
pub fn resolve(
    conn: &mut DbConn,
    ticket_id: i64,
    actor: Actor,
    survey: Survey,
    at: i64,
) -> Result<Status, TicketError> {
    conn.transaction(|conn| {
        let to = move_to(conn, ticket_id, Action::Resolve, actor, at)?;
        csat::schedule(conn, ticket_id, survey, at)?;
        Ok(to)
    })
}

pub fn reopen(
    conn: &mut DbConn,
    ticket_id: i64,
    actor: Actor,
    at: i64,
) -> Result<Status, TicketError> {
    move_to(conn, ticket_id, Action::Reopen, actor, at)
}

pub fn close(
    conn: &mut DbConn,
    ticket_id: i64,
    actor: Actor,
    at: i64,
) -> Result<Status, TicketError> {
    move_to(conn, ticket_id, Action::Close, actor, at)
}

/// Adds a CC'd customer; returns false when they already were one.
pub fn add_participant(
    conn: &mut DbConn,
    ticket_id: i64,
    customer_id: i64,
    at: i64,
) -> Result<bool, TicketError> {
    conn.transaction(|conn| {
        let ticket = lock(conn, ticket_id)?;
        if ticket.requester_id == customer_id {
            return Ok(false);
        }
        let exists: i64 = participants::table
            .find((ticket.id, customer_id))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Ok(false);
        }
        diesel::insert_into(participants::table)
            .values((
                participants::ticket_id.eq(ticket.id),
                participants::customer_id.eq(customer_id),
                participants::created_at.eq(at),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// How a notification names who made the change.
fn actor_name(conn: &mut DbConn, actor: Actor) -> QueryResult<String> {
    Ok(match actor {
        Actor::Agent(id) => people::find_user(conn, id)?
            .map(|u| if u.name.is_empty() { u.email } else { u.name })
            .unwrap_or_else(|| "An agent".into()),
        Actor::Customer(id) => people::find_customer(conn, id)?
            .map(|c| {
                if c.name.is_empty() {
                    c.email
                } else {
                    format!("{} <{}>", c.name, c.email)
                }
            })
            .unwrap_or_else(|| "A customer".into()),
        Actor::System => "The helpdesk".into(),
    })
}

/// The subject tag customers' replies carry back to us.
pub fn tagged_subject(subject: &str, ticket_id: i64) -> String {
    let tag = format!("[#{ticket_id}]");
    if subject.contains(&tag) {
        subject.to_string()
    } else {
        format!("{tag} {subject}")
    }
}

/// Writes the outbox row for a message to the requester and CC'd customers.
/// The Message-ID is fixed here, so a resend after a crash is recognisable.
fn queue_mail(
    conn: &mut DbConn,
    ticket: &Ticket,
    message_id: i64,
    kind: &str,
    mail_id: &str,
    mail: Option<&MailBody>,
    at: i64,
) -> QueryResult<()> {
    let to: String = customers::table
        .find(ticket.requester_id)
        .select(customers::email)
        .first(conn)?;
    let cc: Vec<String> = if mail.is_some_and(|m| m.requester_only) {
        Vec::new()
    } else {
        participants::table
            .inner_join(customers::table)
            .filter(participants::ticket_id.eq(ticket.id))
            .select(customers::email)
            .order(customers::email)
            .load(conn)?
    };
    // Threading: In-Reply-To is the newest message we know an id for;
    // References the first and the latest few of the thread.
    let mut known: Vec<String> = messages::table
        .filter(messages::ticket_id.eq(ticket.id))
        .filter(messages::mail_message_id.is_not_null())
        .filter(messages::id.ne(message_id))
        .order((messages::created_at, messages::id))
        .select(messages::mail_message_id.assume_not_null())
        .load(conn)?;
    if known.len() > 11 {
        known.drain(1..known.len() - 10);
    }
    let in_reply_to = known.last().cloned();
    let references = (!known.is_empty()).then(|| known.join(" "));
    diesel::insert_into(outbox::table)
        .values((
            outbox::ticket_id.eq(ticket.id),
            outbox::message_id.eq(message_id),
            outbox::kind.eq(kind),
            outbox::to_addrs.eq(to),
            outbox::cc_addrs.eq(cc.join(", ")),
            outbox::subject.eq(mail
                .and_then(|m| m.subject.clone())
                .unwrap_or_else(|| tagged_subject(&ticket.subject, ticket.id))),
            outbox::mail_message_id.eq(mail_id),
            outbox::mail_in_reply_to.eq(in_reply_to),
            outbox::mail_references.eq(references),
            outbox::status.eq("queued"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(at),
            outbox::body_text.eq(mail.map(|m| m.text.as_str())),
            outbox::body_html.eq(mail.and_then(|m| m.html.as_deref())),
        ))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_links_become_attachment_urls() {
        let files = vec![
            (7, Some("a".to_string()), "logo one.png".to_string()),
            (8, Some("a1".to_string()), "x.gif".to_string()),
            (9, None, "plain.txt".to_string()),
        ];
        let html = r#"<img src="cid:a"><img src="cid:a1"><td background=cid:a>"#;
        assert_eq!(
            rewrite_cid_links(html, &files),
            r#"<img src="/attachments/7/logo%20one.png"><img src="/attachments/8/x.gif"><td background=/attachments/7/logo%20one.png>"#
        );
        assert_eq!(rewrite_cid_links("<p>cid:zz</p>", &files), "<p>cid:zz</p>");
    }
}
