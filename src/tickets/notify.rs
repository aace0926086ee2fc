//! Agent notifications: short mails to staff about ticket changes, queued by
//! `ops` in the transaction of the change. Each staff user can turn each
//! kind off; no row in `notification_prefs` means on.

use diesel::prelude::*;
use rand::RngCore;

use super::model::Ticket;
use crate::db::schema::{mailboxes, notification_prefs};
use crate::db::DbConn;
use crate::mail::outbox::{self, Standalone};
use crate::people;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A new ticket in one of my groups.
    NewTicket,
    /// The customer wrote on a ticket assigned to me.
    CustomerReply,
    /// Someone else assigned a ticket to me.
    Assigned,
    /// An SLA target was missed on my ticket (or, unassigned, in my group).
    SlaBreach,
    /// A customer rated a ticket of my group 1 or 2 (managers).
    CsatLow,
}

impl Notice {
    pub const ALL: [Notice; 5] = [
        Notice::NewTicket,
        Notice::CustomerReply,
        Notice::Assigned,
        Notice::SlaBreach,
        Notice::CsatLow,
    ];

    /// The preference key (checked by the table's CHECK constraint).
    pub fn key(self) -> &'static str {
        match self {
            Notice::NewTicket => "new_ticket",
            Notice::CustomerReply => "customer_reply",
            Notice::Assigned => "assigned",
            Notice::SlaBreach => "sla_breach",
            Notice::CsatLow => "csat_low",
        }
    }

    /// The outbox row kind.
    pub fn outbox_kind(self) -> &'static str {
        match self {
            Notice::NewTicket => "notify_new_ticket",
            Notice::CustomerReply => "notify_customer_reply",
            Notice::Assigned => "notify_assigned",
            Notice::SlaBreach => "notify_sla_breach",
            Notice::CsatLow => "notify_csat_low",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Notice::NewTicket => "A new ticket arrives in one of my groups",
            Notice::CustomerReply => "A customer replies on a ticket assigned to me",
            Notice::Assigned => "Someone assigns a ticket to me",
            Notice::SlaBreach => {
                "An SLA target is missed on my ticket (or an unassigned one in my group)"
            }
            Notice::CsatLow => {
                "A customer rates a ticket of my group 1 or 2 out of 5 (managers only)"
            }
        }
    }
}

/// Whether `user_id` wants `notice` (default: yes).
pub fn wants(conn: &mut DbConn, user_id: i64, notice: Notice) -> QueryResult<bool> {
    let row: Option<bool> = notification_prefs::table
        .find((user_id, notice.key()))
        .select(notification_prefs::enabled)
        .first(conn)
        .optional()?;
    Ok(row.unwrap_or(true))
}

/// Every kind with the user's choice, in `Notice::ALL` order.
pub fn prefs(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<(Notice, bool)>> {
    Notice::ALL
        .iter()
        .map(|&n| wants(conn, user_id, n).map(|w| (n, w)))
        .collect()
}

/// Stores one choice per kind (a transaction: all or nothing).
pub fn set_prefs(conn: &mut DbConn, user_id: i64, choices: &[(Notice, bool)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for &(n, enabled) in choices {
            diesel::delete(notification_prefs::table.find((user_id, n.key()))).execute(conn)?;
            diesel::insert_into(notification_prefs::table)
                .values((
                    notification_prefs::user_id.eq(user_id),
                    notification_prefs::kind.eq(n.key()),
                    notification_prefs::enabled.eq(enabled),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Queues `notice` about `ticket` for each of `recipients` who is active
/// staff with a login, is not the actor and has not turned it off.
pub(super) fn notify(
    conn: &mut DbConn,
    ticket: &Ticket,
    notice: Notice,
    recipients: &[i64],
    actor_user: Option<i64>,
    who: &str,
    at: i64,
) -> QueryResult<()> {
    let mut seen = Vec::new();
    for &uid in recipients {
        if Some(uid) == actor_user || seen.contains(&uid) {
            continue;
        }
        seen.push(uid);
        let Some(user) = people::find_user(conn, uid)? else {
            continue;
        };
        if !user.can_login() || !wants(conn, uid, notice)? {
            continue;
        }
        let what = match notice {
            Notice::NewTicket => "New ticket",
            Notice::CustomerReply => "Customer reply",
            Notice::Assigned => "Assigned to you",
            Notice::SlaBreach => "SLA breached",
            Notice::CsatLow => "Low satisfaction rating",
        };
        let subject = format!("{what}: [#{}] {}", ticket.id, ticket.subject);
        let action = match notice {
            Notice::NewTicket => format!("{who} opened a new ticket."),
            Notice::CustomerReply => format!("{who} replied on a ticket assigned to you."),
            Notice::Assigned => format!("{who} assigned this ticket to you."),
            Notice::SlaBreach => format!("{who} was missed."),
            Notice::CsatLow => format!(
                "{who} rated this ticket low. It waits on the CSAT follow-up view until someone follows up."
            ),
        };
        // The sender turns the relative path into a link with the public
        // base URL, which the domain layer does not know.
        let body = format!(
            "Ticket #{}: {}\n\n{action}\n\n{}{}",
            ticket.id,
            ticket.subject,
            LINK_PREFIX,
            ticket_path(ticket.id)
        );
        let mail_id = message_id(conn, ticket)?;
        outbox::queue(
            conn,
            Standalone {
                kind: notice.outbox_kind(),
                to: &user.email,
                subject: &subject,
                body_text: &body,
                mail_message_id: &mail_id,
            },
            at,
        )?;
    }
    Ok(())
}

/// Marks the line of a notification body that carries the ticket's path.
pub const LINK_PREFIX: &str = "Open it: ";

pub fn ticket_path(ticket_id: i64) -> String {
    format!("/tickets/{ticket_id}")
}

/// A fresh Message-ID: ops have no signer, so a random token under the
/// ticket's mailbox domain (notifications never thread into a ticket).
fn message_id(conn: &mut DbConn, ticket: &Ticket) -> QueryResult<String> {
    let address: Option<String> = match ticket.mailbox_id {
        Some(m) => mailboxes::table
            .find(m)
            .select(mailboxes::address)
            .first(conn)
            .optional()?,
        None => None,
    };
    let domain = address
        .as_deref()
        .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>')))
        .filter(|d| !d.is_empty())
        .unwrap_or("helpdesk.invalid")
        .to_string();
    let mut token = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut token);
    Ok(format!(
        "<hd.notify.{}.{}@{domain}>",
        ticket.id,
        hex::encode(token)
    ))
}
