//! Customers sign in to the portal by a link mailed to them: single use,
//! short-lived, stored only as a hash.

use diesel::prelude::*;

use super::tokens::hash_token;
use crate::db::schema::portal_links;
use crate::db::DbConn;

pub const LIFETIME_MS: i64 = 30 * 60 * 1000;
/// At most this many unused links per customer per lifetime (no mail flood).
pub const MAX_OPEN: i64 = 5;

/// Creates a link token for `customer_id`, or None when too many are open.
pub fn create(conn: &mut DbConn, customer_id: i64, at: i64) -> QueryResult<Option<String>> {
    let open: i64 = portal_links::table
        .filter(portal_links::customer_id.eq(customer_id))
        .filter(portal_links::used_at.is_null())
        .filter(portal_links::expires_at.gt(at))
        .count()
        .get_result(conn)?;
    if open >= MAX_OPEN {
        return Ok(None);
    }
    let token = super::random_token();
    diesel::insert_into(portal_links::table)
        .values((
            portal_links::token_hash.eq(hash_token(&token)),
            portal_links::customer_id.eq(customer_id),
            portal_links::created_at.eq(at),
            portal_links::expires_at.eq(at + LIFETIME_MS),
        ))
        .execute(conn)?;
    Ok(Some(token))
}

#[derive(Debug, PartialEq, Eq)]
pub enum LinkState {
    Valid(i64),
    Used,
    Expired,
    Unknown,
}

/// What a link token is, without using it.
pub fn check(conn: &mut DbConn, token: &str, at: i64) -> QueryResult<LinkState> {
    if token.len() > 100 {
        return Ok(LinkState::Unknown);
    }
    let row: Option<(i64, i64, Option<i64>)> = portal_links::table
        .filter(portal_links::token_hash.eq(hash_token(token)))
        .select((
            portal_links::customer_id,
            portal_links::expires_at,
            portal_links::used_at,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => LinkState::Unknown,
        Some((_, _, Some(_))) => LinkState::Used,
        Some((_, exp, None)) if exp <= at => LinkState::Expired,
        Some((customer, _, None)) => LinkState::Valid(customer),
    })
}

/// Uses the link: returns its customer once; a second use gets `Used`.
/// The conditional update makes two concurrent uses yield one session.
pub fn consume(conn: &mut DbConn, token: &str, at: i64) -> QueryResult<LinkState> {
    let state = check(conn, token, at)?;
    if let LinkState::Valid(customer) = state {
        let n = diesel::update(
            portal_links::table
                .filter(portal_links::token_hash.eq(hash_token(token)))
                .filter(portal_links::used_at.is_null()),
        )
        .set(portal_links::used_at.eq(at))
        .execute(conn)?;
        return Ok(if n == 1 {
            LinkState::Valid(customer)
        } else {
            LinkState::Used
        });
    }
    Ok(state)
}
