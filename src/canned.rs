//! Canned responses: saved replies agents insert into the reply box,
//! managed by admins.

use diesel::prelude::*;

use crate::db::schema::canned_responses;
use crate::db::DbConn;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = canned_responses)]
pub struct Canned {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What is wrong with a title and body, per field.
pub fn validate(title: &str, body: &str) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    let t = title.trim();
    if t.is_empty() {
        errors.push(("title", "a title is required".to_string()));
    } else if t.chars().count() > MAX_TITLE_CHARS {
        errors.push((
            "title",
            format!("a title is at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if body.trim().is_empty() {
        errors.push(("body", "the response text is required".to_string()));
    } else if body.len() > MAX_BODY_BYTES {
        errors.push(("body", "the response text is at most 64 KB".to_string()));
    }
    errors
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Canned>> {
    canned_responses::table
        .order(canned_responses::title)
        .select(Canned::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Canned>> {
    canned_responses::table
        .find(id)
        .select(Canned::as_select())
        .first(conn)
        .optional()
}

pub fn title_taken(conn: &mut DbConn, title: &str, except: Option<i64>) -> QueryResult<bool> {
    let mut q = canned_responses::table
        .filter(canned_responses::title.eq(title.trim()))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(canned_responses::id.ne(id));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

pub fn create(conn: &mut DbConn, title: &str, body: &str, at: i64) -> QueryResult<i64> {
    diesel::insert_into(canned_responses::table)
        .values((
            canned_responses::title.eq(title.trim()),
            canned_responses::body.eq(body),
            canned_responses::created_at.eq(at),
            canned_responses::updated_at.eq(at),
        ))
        .returning(canned_responses::id)
        .get_result(conn)
}

pub fn update(conn: &mut DbConn, id: i64, title: &str, body: &str, at: i64) -> QueryResult<usize> {
    diesel::update(canned_responses::table.find(id))
        .set((
            canned_responses::title.eq(title.trim()),
            canned_responses::body.eq(body),
            canned_responses::updated_at.eq(at),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(canned_responses::table.find(id)).execute(conn)
}
