//! Browser sessions, kept server-side so signing out (or disabling a user)
//! ends them at once. The cookie carries a random token; only its SHA-256 is
//! stored.

use diesel::prelude::*;

use super::tokens::hash_token;
use crate::db::schema::{customers, directory_version, sessions, users};
use crate::db::DbConn;
use crate::people::{Customer, User};

/// Staff sessions end after this long without a request.
pub const STAFF_IDLE_MS: i64 = 12 * 3600 * 1000;
/// Customer sessions (signed in by a link) last a little longer.
pub const CUSTOMER_IDLE_MS: i64 = 24 * 3600 * 1000;
/// How often a session's last use is written (not on every request).
const TOUCH_EVERY_MS: i64 = 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Staff(i64),
    Customer(i64),
}

/// Starts a session and returns the cookie value (shown once).
pub fn create(conn: &mut DbConn, who: Who, at: i64) -> QueryResult<String> {
    let token = super::random_token();
    let (user_id, customer_id, idle) = match who {
        Who::Staff(id) => (Some(id), None, STAFF_IDLE_MS),
        Who::Customer(id) => (None, Some(id), CUSTOMER_IDLE_MS),
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(hash_token(&token)),
            sessions::user_id.eq(user_id),
            sessions::customer_id.eq(customer_id),
            sessions::created_at.eq(at),
            sessions::last_seen_at.eq(at),
            sessions::expires_at.eq(at + idle),
        ))
        .execute(conn)?;
    Ok(token)
}

pub enum Found {
    Staff(User),
    Customer(Customer),
}

pub struct Session {
    pub id: i64,
    pub found: Found,
    /// Whether `touch` should extend it (at most once a minute).
    pub stale: bool,
    /// The store's `directory_version` as this lookup read it, so the
    /// page can tell whether its copy of the staff and groups is current
    /// (`people::directory`) without a statement of its own.
    pub directory_version: i64,
}

/// A session's id and last use, its user or customer, the directory's
/// version.
type LookupRow = (i64, i64, Option<User>, Option<Customer>, Option<i64>);

/// The live session behind a cookie value, if any. Reads only: one
/// statement with its user or customer (every page starts with it).
pub fn lookup(conn: &mut DbConn, token: &str, at: i64) -> QueryResult<Option<Session>> {
    if token.len() > 100 {
        return Ok(None);
    }
    let directory = directory_version::table
        .select(directory_version::n)
        .single_value();
    let row: Option<LookupRow> = sessions::table
        .left_join(
            users::table.on(users::id
                .nullable()
                .eq(sessions::user_id)
                .and(users::active.eq(true))),
        )
        .left_join(customers::table.on(customers::id.nullable().eq(sessions::customer_id)))
        .filter(sessions::token_hash.eq(hash_token(token)))
        .filter(sessions::expires_at.gt(at))
        .select((
            sessions::id,
            sessions::last_seen_at,
            Option::<User>::as_select(),
            Option::<Customer>::as_select(),
            directory,
        ))
        .first(conn)
        .optional()?;
    let Some((id, last_seen, user, customer, directory_version)) = row else {
        return Ok(None);
    };
    let stale = at - last_seen > TOUCH_EVERY_MS;
    // A staff session of a deactivated user finds no user (and no customer).
    let found = match (user, customer) {
        (Some(u), _) => Found::Staff(u),
        (None, Some(c)) => Found::Customer(c),
        (None, None) => return Ok(None),
    };
    Ok(Some(Session {
        id,
        found,
        stale,
        directory_version: directory_version.unwrap_or(0),
    }))
}

/// Slides the idle expiry forward.
pub fn touch(conn: &mut DbConn, session: &Session, at: i64) -> QueryResult<()> {
    let idle = match session.found {
        Found::Staff(_) => STAFF_IDLE_MS,
        Found::Customer(_) => CUSTOMER_IDLE_MS,
    };
    diesel::update(sessions::table.find(session.id))
        .set((
            sessions::last_seen_at.eq(at),
            sessions::expires_at.eq(at + idle),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut DbConn, token: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(hash_token(token))))
        .execute(conn)
        .map(|_| ())
}

/// Ends every session of a staff user (password change, deactivation).
pub fn delete_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
        .execute(conn)
        .map(|_| ())
}

pub fn purge_expired(conn: &mut DbConn, at: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(at))).execute(conn)
}
