//! Failed sign-ins, counted per account and per client address over a
//! sliding window. Kept in the database so every `serve` process of an
//! installation sees the same counts.

use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::DbConn;

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failures allowed per account within the window.
pub const PER_ACCOUNT: i64 = 5;
/// Failures allowed per client address within the window (a shared office
/// NAT gets some room; a password sprayer does not).
pub const PER_ADDRESS: i64 = 20;

pub fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

pub fn address_key(ip: &str) -> String {
    format!("address:{ip}")
}

fn count(conn: &mut DbConn, key: &str, at: i64) -> QueryResult<i64> {
    login_failures::table
        .filter(login_failures::key.eq(key))
        .filter(login_failures::at.gt(at - WINDOW_MS))
        .count()
        .get_result(conn)
}

/// Milliseconds until another attempt is allowed, or None when allowed now.
pub fn blocked_for(
    conn: &mut DbConn,
    account: &str,
    address: &str,
    at: i64,
) -> QueryResult<Option<i64>> {
    for (key, limit) in [(account, PER_ACCOUNT), (address, PER_ADDRESS)] {
        if count(conn, key, at)? >= limit {
            // The window frees up when the oldest counted failure ages out.
            let oldest: Option<i64> = login_failures::table
                .filter(login_failures::key.eq(key))
                .filter(login_failures::at.gt(at - WINDOW_MS))
                .select(diesel::dsl::min(login_failures::at))
                .first(conn)?;
            let wait = oldest.map_or(WINDOW_MS, |o| o + WINDOW_MS - at).max(1000);
            return Ok(Some(wait));
        }
    }
    Ok(None)
}

pub fn record_failure(conn: &mut DbConn, account: &str, address: &str, at: i64) -> QueryResult<()> {
    for key in [account, address] {
        diesel::insert_into(login_failures::table)
            .values((login_failures::key.eq(key), login_failures::at.eq(at)))
            .execute(conn)?;
    }
    // Old rows are of no use; trimming here keeps the table small.
    diesel::delete(login_failures::table.filter(login_failures::at.le(at - WINDOW_MS)))
        .execute(conn)?;
    Ok(())
}

/// A successful sign-in clears the account's count (not the address's).
pub fn clear_account(conn: &mut DbConn, account: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::key.eq(account)))
        .execute(conn)
        .map(|_| ())
}
