//! Outbox rows for mail that belongs to no ticket message (a customer's
//! portal sign-in link). Ticket mail is queued by `tickets::ops` in the
//! transaction that writes the message.

use diesel::prelude::*;

use crate::db::schema::outbox;
use crate::db::DbConn;

pub struct Standalone<'a> {
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub mail_message_id: &'a str,
}

pub fn queue(conn: &mut DbConn, m: Standalone<'_>, at: i64) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(m.kind),
            outbox::to_addrs.eq(m.to),
            outbox::subject.eq(m.subject),
            outbox::body_text.eq(m.body_text),
            outbox::mail_message_id.eq(m.mail_message_id),
            outbox::status.eq("queued"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// (message id, status, last error) of one outbox row.
pub type DeliveryState = (Option<i64>, String, Option<String>);

/// Delivery state of a ticket's outgoing mail, per message.
pub fn states_for_ticket(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<DeliveryState>> {
    outbox::table
        .filter(outbox::ticket_id.eq(ticket_id))
        .select((outbox::message_id, outbox::status, outbox::last_error))
        .load(conn)
}
