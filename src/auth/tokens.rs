//! API bearer tokens: shown once, stored only as a SHA-256 hash (they carry
//! 256 random bits, so a slow hash adds nothing).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::schema::{api_tokens, users};
use crate::db::DbConn;
use crate::people::User;

const PREFIX: &str = "hd_";

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token for `user_id`; returns the plaintext, which is never stored.
pub fn create(conn: &mut DbConn, user_id: i64, name: &str, at: i64) -> QueryResult<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(hash_token(&token)),
            api_tokens::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(token)
}

pub struct TokenOwner {
    pub user: User,
    pub token_id: i64,
    /// Whether `touch` should record a use (at most once a minute).
    pub stale: bool,
}

/// The active staff user a token belongs to, or None. Reads only.
pub fn authenticate(conn: &mut DbConn, token: &str, at: i64) -> QueryResult<Option<TokenOwner>> {
    if !token.starts_with(PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    let found: Option<(i64, Option<i64>, User)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(hash_token(token)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::active.eq(true))
        .select((api_tokens::id, api_tokens::last_used_at, User::as_select()))
        .first(conn)
        .optional()?;
    Ok(found.map(|(token_id, last_used, user)| TokenOwner {
        user,
        token_id,
        stale: last_used.is_none_or(|t| at - t > 60_000),
    }))
}

pub fn touch(conn: &mut DbConn, token_id: i64, at: i64) -> QueryResult<()> {
    diesel::update(api_tokens::table.find(token_id))
        .set(api_tokens::last_used_at.eq(at))
        .execute(conn)
        .map(|_| ())
}
