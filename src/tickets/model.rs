//! Rows as stored.

use diesel::prelude::*;

use super::types::{Channel, EventKind, MessageKind, Priority, Status};
use crate::db::schema::{events, messages, tickets};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub requester_id: i64,
    pub escalation_level: i32,
    pub channel: String,
    pub external_id: Option<String>,
    pub parent_id: Option<i64>,
    pub mailbox_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_responded_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub sla_policy_id: Option<i64>,
    pub first_response_warn_at: Option<i64>,
    pub first_response_breached_at: Option<i64>,
    pub resolution_warn_at: Option<i64>,
    pub resolution_breached_at: Option<i64>,
    pub resolution_remaining_ms: Option<i64>,
    pub sla_next_at: Option<i64>,
}

// The text columns carry CHECK constraints, so parsing cannot fail on rows
// this program wrote; a fallback keeps a hand-edited row from crashing a page.
fn status_of(text: &str) -> Status {
    text.parse().unwrap_or(Status::Open)
}

fn priority_of(text: &str) -> Priority {
    text.parse().unwrap_or(Priority::Normal)
}

impl Ticket {
    pub fn status(&self) -> Status {
        status_of(&self.status)
    }
    pub fn priority(&self) -> Priority {
        priority_of(&self.priority)
    }
    pub fn channel(&self) -> Channel {
        self.channel.parse().unwrap_or(Channel::Email)
    }
}

/// The columns of a ticket the queue shows, sorts by or badges (17 of 26).
/// Reading all 26 for a page's 51 rows (the select list built, the rows
/// decoded) was nearly half of the queue page's instructions on
/// PostgreSQL; with these 17 and the list written once the listing costs a
/// third less (callgrind, 2026-12-07), and the database sends less.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct QueueTicket {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub requester_id: i64,
    pub escalation_level: i32,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_responded_at: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub first_response_warn_at: Option<i64>,
    pub first_response_breached_at: Option<i64>,
    pub resolution_warn_at: Option<i64>,
    pub resolution_breached_at: Option<i64>,
}

impl QueueTicket {
    pub fn status(&self) -> Status {
        status_of(&self.status)
    }
    pub fn priority(&self) -> Priority {
        priority_of(&self.priority)
    }
}

impl From<Ticket> for QueueTicket {
    fn from(t: Ticket) -> QueueTicket {
        QueueTicket {
            id: t.id,
            subject: t.subject,
            status: t.status,
            priority: t.priority,
            group_id: t.group_id,
            assignee_id: t.assignee_id,
            requester_id: t.requester_id,
            escalation_level: t.escalation_level,
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_responded_at: t.first_responded_at,
            first_response_due_at: t.first_response_due_at,
            resolution_due_at: t.resolution_due_at,
            first_response_warn_at: t.first_response_warn_at,
            first_response_breached_at: t.first_response_breached_at,
            resolution_warn_at: t.resolution_warn_at,
            resolution_breached_at: t.resolution_breached_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub author_user_id: Option<i64>,
    pub author_customer_id: Option<i64>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub mail_message_id: Option<String>,
    pub mail_in_reply_to: Option<String>,
    pub raw_mail_id: Option<i64>,
    pub created_at: i64,
}

impl Message {
    pub fn kind(&self) -> MessageKind {
        self.kind.parse().unwrap_or(MessageKind::Note)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor_customer_id: Option<i64>,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub data: String,
}

impl Event {
    pub fn kind(&self) -> Option<EventKind> {
        self.kind.parse().ok()
    }
}

// NULL, not DEFAULT, for None: lets SQLite take many rows in one statement.
#[derive(Debug, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct NewEvent<'a> {
    pub ticket_id: i64,
    pub kind: &'a str,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor_customer_id: Option<i64>,
    pub from_value: Option<&'a str>,
    pub to_value: Option<&'a str>,
    pub data: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub kind: &'a str,
    pub author_user_id: Option<i64>,
    pub author_customer_id: Option<i64>,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub mail_message_id: Option<&'a str>,
    pub mail_in_reply_to: Option<&'a str>,
    pub raw_mail_id: Option<i64>,
    pub created_at: i64,
}
