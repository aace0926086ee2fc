//! Mailboxes: the support addresses mail arrives at. Each can route its new
//! tickets to a group and send an acknowledgement or not. Admins manage
//! them; mail ingestion finds one by the address a message was sent to.

use diesel::prelude::*;

use crate::db::schema::{mailboxes, raw_mails, tickets};
use crate::db::DbConn;
use crate::people::{self, is_unique_violation, EmailAddress};

pub const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct Mailbox {
    pub id: i64,
    pub address: String,
    pub name: String,
    pub group_id: Option<i64>,
    pub ack_enabled: bool,
    pub created_at: i64,
}

/// A mailbox as created or edited (the address already parsed).
pub struct MailboxInput<'a> {
    pub address: &'a EmailAddress,
    pub name: &'a str,
    pub group_id: Option<i64>,
    pub ack_enabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a mailbox for {0} already exists")]
    AddressTaken(String),
    #[error("mailbox {0} not found")]
    NotFound(i64),
    #[error(
        "this mailbox cannot be deleted: {tickets} ticket(s) and {mails} stored mail(s) \
         came in through it; keep it, or change its name and group instead"
    )]
    InUse { tickets: i64, mails: i64 },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> MailboxError {
    MailboxError::Invalid {
        field,
        message: message.into(),
    }
}

/// The name and group of `input` checked; returns the trimmed name.
fn check<'a>(conn: &mut DbConn, input: &MailboxInput<'a>) -> Result<&'a str, MailboxError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(invalid("name", "a name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            "name",
            format!("a name is at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if let Some(g) = input.group_id {
        if people::find_group(conn, g)?.is_none() {
            return Err(invalid(
                "group",
                format!("group {g} does not exist (any more); choose another"),
            ));
        }
    }
    Ok(name)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Mailbox>> {
    mailboxes::table
        .order((mailboxes::address, mailboxes::id))
        .select(Mailbox::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Mailbox>> {
    mailboxes::table
        .find(id)
        .select(Mailbox::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_address(conn: &mut DbConn, address: &EmailAddress) -> QueryResult<Option<Mailbox>> {
    mailboxes::table
        .filter(mailboxes::address.eq(address.as_str()))
        .select(Mailbox::as_select())
        .first(conn)
        .optional()
}

fn address_taken(
    conn: &mut DbConn,
    address: &EmailAddress,
    except: Option<i64>,
) -> QueryResult<bool> {
    Ok(find_by_address(conn, address)?.is_some_and(|m| Some(m.id) != except))
}

pub fn create(
    conn: &mut DbConn,
    input: MailboxInput<'_>,
    at: i64,
) -> Result<Mailbox, MailboxError> {
    let name = check(conn, &input)?;
    let address = input.address;
    if address_taken(conn, address, None)? {
        return Err(MailboxError::AddressTaken(address.to_string()));
    }
    // In a savepoint: on PostgreSQL a concurrent request may take the
    // address first; that is "taken", not an aborted transaction.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(mailboxes::table)
            .values((
                mailboxes::address.eq(address.as_str()),
                mailboxes::name.eq(name),
                mailboxes::group_id.eq(input.group_id),
                mailboxes::ack_enabled.eq(input.ack_enabled),
                mailboxes::created_at.eq(at),
            ))
            .returning(mailboxes::id)
            .get_result::<i64>(c)
    });
    let id = match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(MailboxError::AddressTaken(address.to_string()))
        }
        other => other?,
    };
    Ok(Mailbox {
        id,
        address: address.to_string(),
        name: name.to_string(),
        group_id: input.group_id,
        ack_enabled: input.ack_enabled,
        created_at: at,
    })
}

pub fn update(
    conn: &mut DbConn,
    id: i64,
    input: MailboxInput<'_>,
) -> Result<Mailbox, MailboxError> {
    let current = find(conn, id)?.ok_or(MailboxError::NotFound(id))?;
    let name = check(conn, &input)?;
    let address = input.address;
    if address_taken(conn, address, Some(id))? {
        return Err(MailboxError::AddressTaken(address.to_string()));
    }
    let updated = conn.transaction(|c| {
        diesel::update(mailboxes::table.find(id))
            .set((
                mailboxes::address.eq(address.as_str()),
                mailboxes::name.eq(name),
                mailboxes::group_id.eq(input.group_id),
                mailboxes::ack_enabled.eq(input.ack_enabled),
            ))
            .execute(c)
    });
    match updated {
        Err(e) if is_unique_violation(&e) => Err(MailboxError::AddressTaken(address.to_string())),
        other => {
            other?;
            Ok(Mailbox {
                address: address.to_string(),
                name: name.to_string(),
                group_id: input.group_id,
                ack_enabled: input.ack_enabled,
                ..current
            })
        }
    }
}

/// Deletes a mailbox no ticket or stored mail refers to: the history of
/// where a ticket came from is kept.
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), MailboxError> {
    find(conn, id)?.ok_or(MailboxError::NotFound(id))?;
    let tickets: i64 = tickets::table
        .filter(tickets::mailbox_id.eq(id))
        .count()
        .get_result(conn)?;
    let mails: i64 = raw_mails::table
        .filter(raw_mails::mailbox_id.eq(id))
        .count()
        .get_result(conn)?;
    if tickets > 0 || mails > 0 {
        return Err(MailboxError::InUse { tickets, mails });
    }
    diesel::delete(mailboxes::table.find(id)).execute(conn)?;
    Ok(())
}
