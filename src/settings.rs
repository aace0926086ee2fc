//! Key/value settings kept in the database, and the server secret.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use rand::RngCore;

use crate::db::schema::settings;
use crate::db::{Db, DbConn, DbError};

const SECRET_KEY: &str = "server_secret";

pub fn get(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()
}

pub fn set(conn: &mut DbConn, key: &str, value: &str, at: i64) -> QueryResult<()> {
    let updated = diesel::update(settings::table.find(key))
        .set((settings::value.eq(value), settings::updated_at.eq(at)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(key),
                settings::value.eq(value),
                settings::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The signing secret: the configured one, else the one generated on first
/// start and kept in the database (so every process of an installation agrees).
pub fn server_secret(db: &Db, configured: Option<&str>) -> Result<Vec<u8>, DbError> {
    if let Some(s) = configured {
        return Ok(s.as_bytes().to_vec());
    }
    db.write(|conn| {
        if let Some(existing) = get(conn, SECRET_KEY)? {
            return Ok(existing.into_bytes());
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = STANDARD_NO_PAD.encode(bytes);
        set(conn, SECRET_KEY, &secret, crate::time::now_ms())?;
        tracing::info!("generated a new server secret and stored it in the database");
        Ok(secret.into_bytes())
    })
}
