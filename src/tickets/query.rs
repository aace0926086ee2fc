//! Reads: one ticket with its conversation and history, and the queue.

use diesel::prelude::*;

use super::model::{Event, Message, Ticket};
use super::types::Status;
use crate::db::schema::{customers, events, messages, participants, tickets};
use crate::db::DbConn;
use crate::people::Customer;

diesel::define_sql_function! {
    /// Portable case folding for search (SQLite and PostgreSQL both have `lower`).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub fn ticket(conn: &mut DbConn, id: i64) -> QueryResult<Option<Ticket>> {
    tickets::table
        .find(id)
        .select(Ticket::as_select())
        .first(conn)
        .optional()
}

pub fn messages(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Message>> {
    messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order((messages::created_at, messages::id))
        .select(Message::as_select())
        .load(conn)
}

/// The history in the order it happened (id breaks ties within a millisecond).
pub fn events(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Event>> {
    events::table
        .filter(events::ticket_id.eq(ticket_id))
        .order((events::at, events::id))
        .select(Event::as_select())
        .load(conn)
}

pub fn participants(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Customer>> {
    participants::table
        .inner_join(customers::table)
        .filter(participants::ticket_id.eq(ticket_id))
        .order(participants::created_at)
        .select(Customer::as_select())
        .load(conn)
}

/// Which tickets a reader may see.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    /// An agent: tickets of their groups, without a group, or assigned to them.
    Agent {
        user_id: i64,
        group_ids: Vec<i64>,
    },
}

impl Scope {
    pub fn allows(&self, t: &Ticket) -> bool {
        match self {
            Scope::All => true,
            Scope::Agent { user_id, group_ids } => {
                t.assignee_id == Some(*user_id) || t.group_id.is_none_or(|g| group_ids.contains(&g))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter<T> {
    Is(T),
    None,
}

/// Position after the last row of a page: newest update first, id breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub updated_at: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.updated_at, self.id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (u, i) = s.split_once('.')?;
        Some(Cursor {
            updated_at: u.parse().ok()?,
            id: i.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub scope: Scope,
    pub statuses: Vec<Status>,
    pub group: Option<Filter<i64>>,
    pub assignee: Option<Filter<i64>>,
    pub text: Option<String>,
    pub after: Option<Cursor>,
    pub limit: i64,
}

/// Escapes LIKE wildcards so a search for "100%" means the literal text.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of the queue and the cursor of the next page, if any.
pub fn list(conn: &mut DbConn, q: &ListQuery) -> QueryResult<(Vec<Ticket>, Option<Cursor>)> {
    let mut query = tickets::table.select(Ticket::as_select()).into_boxed();
    if let Scope::Agent { user_id, group_ids } = &q.scope {
        query = query.filter(
            tickets::group_id
                .eq_any(group_ids.clone())
                .or(tickets::group_id.is_null())
                .or(tickets::assignee_id.eq(*user_id)),
        );
    }
    if !q.statuses.is_empty() {
        let s: Vec<&str> = q.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(tickets::status.eq_any(s));
    }
    match q.group {
        Some(Filter::Is(g)) => query = query.filter(tickets::group_id.eq(g)),
        Some(Filter::None) => query = query.filter(tickets::group_id.is_null()),
        None => {}
    }
    match q.assignee {
        Some(Filter::Is(a)) => query = query.filter(tickets::assignee_id.eq(a)),
        Some(Filter::None) => query = query.filter(tickets::assignee_id.is_null()),
        None => {}
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        let in_messages = messages::table
            .filter(messages::ticket_id.eq(tickets::id))
            .filter(
                lower(messages::body_text)
                    .like(pattern.clone())
                    .escape('\\'),
            )
            .select(messages::id);
        query = query.filter(
            lower(tickets::subject)
                .like(pattern)
                .escape('\\')
                .or(diesel::dsl::exists(in_messages)),
        );
    }
    if let Some(c) = q.after {
        query = query.filter(
            tickets::updated_at.lt(c.updated_at).or(tickets::updated_at
                .eq(c.updated_at)
                .and(tickets::id.lt(c.id))),
        );
    }
    let limit = q.limit.clamp(1, 500);
    let mut rows = query
        .order((tickets::updated_at.desc(), tickets::id.desc()))
        .limit(limit + 1)
        .load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|t| Cursor {
            updated_at: t.updated_at,
            id: t.id,
        })
    } else {
        None
    };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor {
            updated_at: 1_700_000_000_123,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("1.x"), None);
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("100%_A"), "%100\\%\\_a%");
    }
}
