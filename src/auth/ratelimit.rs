//! Rate limits kept in the database, so every `serve` process of an
//! installation sees the same counts: failed sign-ins per account and per
//! client address, web-form requests and portal sign-in links per client
//! address (and links per email address), each over a sliding window. The
//! rows live in `login_failures` (named for its first use): a key and a
//! time per counted event. The API's per-token limit is in memory
//! (`web::api::limit`): it is checked on every API call.

use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::DbConn;

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failures allowed per account within the window.
pub const PER_ACCOUNT: i64 = 5;
/// Failures allowed per client address within the window (a shared office
/// NAT gets some room; a password sprayer does not).
pub const PER_ADDRESS: i64 = 20;

/// The longest window of any limit here: older rows are deleted.
const LONGEST_WINDOW_MS: i64 = 60 * 60 * 1000;

/// A limit: at most `max` events under `key` within `window_ms`.
pub struct Limit {
    pub key: String,
    pub max: i64,
    pub window_ms: i64,
}

impl Limit {
    /// Web-form tickets from one client address: 20 per 15 minutes.
    pub fn web_form(ip: &str) -> Limit {
        Limit {
            key: format!("webform:{ip}"),
            max: 20,
            window_ms: WINDOW_MS,
        }
    }

    /// Portal sign-in links requested from one client address: 10 per 15
    /// minutes.
    pub fn link_address(ip: &str) -> Limit {
        Limit {
            key: format!("link-address:{ip}"),
            max: 10,
            window_ms: WINDOW_MS,
        }
    }

    /// Portal sign-in links for one email address, whether or not it is a
    /// customer's (so the answer tells no one which addresses are): 8 an
    /// hour, against mail-bombing someone with links (a customer has at
    /// most `portal_links::MAX_OPEN` links open, so few of these are sent).
    pub fn link_email(email: &str) -> Limit {
        Limit {
            key: format!("link-email:{}", email.trim().to_lowercase()),
            max: 8,
            window_ms: LONGEST_WINDOW_MS,
        }
    }
}

/// Milliseconds until the first of `limits` that is full frees a place, or
/// None when none is full.
pub fn wait_for(conn: &mut DbConn, limits: &[Limit], at: i64) -> QueryResult<Option<i64>> {
    for l in limits {
        let since = at - l.window_ms;
        let (count, oldest): (i64, Option<i64>) = login_failures::table
            .filter(login_failures::key.eq(&l.key))
            .filter(login_failures::at.gt(since))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(login_failures::at),
            ))
            .first(conn)?;
        if count >= l.max {
            // The window frees up when the oldest counted event ages out.
            return Ok(Some(
                oldest
                    .map_or(l.window_ms, |o| o + l.window_ms - at)
                    .max(1000),
            ));
        }
    }
    Ok(None)
}

/// Counts one event against every limit unless one is full: None when
/// counted, else the wait. Run it inside a write transaction, so two
/// requests cannot both take the last place.
pub fn take(conn: &mut DbConn, limits: &[Limit], at: i64) -> QueryResult<Option<i64>> {
    if let Some(wait) = wait_for(conn, limits, at)? {
        return Ok(Some(wait));
    }
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    record(conn, &keys, at)?;
    Ok(None)
}

fn record(conn: &mut DbConn, keys: &[&str], at: i64) -> QueryResult<()> {
    for key in keys {
        diesel::insert_into(login_failures::table)
            .values((login_failures::key.eq(key), login_failures::at.eq(at)))
            .execute(conn)?;
    }
    // Old rows are of no use; trimming here keeps the table small.
    diesel::delete(login_failures::table.filter(login_failures::at.le(at - LONGEST_WINDOW_MS)))
        .execute(conn)?;
    Ok(())
}

pub fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

pub fn address_key(ip: &str) -> String {
    format!("address:{ip}")
}

fn login_limits(account: &str, address: &str) -> [Limit; 2] {
    [
        Limit {
            key: account.to_string(),
            max: PER_ACCOUNT,
            window_ms: WINDOW_MS,
        },
        Limit {
            key: address.to_string(),
            max: PER_ADDRESS,
            window_ms: WINDOW_MS,
        },
    ]
}

/// Milliseconds until another sign-in attempt is allowed, or None when
/// allowed now.
pub fn blocked_for(
    conn: &mut DbConn,
    account: &str,
    address: &str,
    at: i64,
) -> QueryResult<Option<i64>> {
    wait_for(conn, &login_limits(account, address), at)
}

pub fn record_failure(conn: &mut DbConn, account: &str, address: &str, at: i64) -> QueryResult<()> {
    record(conn, &[account, address], at)
}

/// A successful sign-in clears the account's count (not the address's).
pub fn clear_account(conn: &mut DbConn, account: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::key.eq(account)))
        .execute(conn)
        .map(|_| ())
}
