//! Attachments: bytes stored once per SHA-256 (`blobs`), one row per file on
//! a message (`attachments`). Written inside the transaction that writes the
//! message, so a message never exists without its files.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::{attachments, blobs, messages};
use crate::db::DbConn;

/// A file to attach, as uploaded or parsed from mail.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: i64,
    pub message_id: i64,
    pub blob_sha256: String,
    pub filename: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub size: i64,
}

impl Attachment {
    /// Shown in the browser (`inline`) only for raster images; everything
    /// else, HTML and SVG above all, is a download so it cannot run script
    /// on our origin.
    pub fn displays_inline(&self) -> bool {
        matches!(
            self.content_type.to_ascii_lowercase().as_str(),
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        )
    }

    pub fn human_size(&self) -> String {
        human_size(self.size)
    }
}

pub fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A file name safe to show and to put in a header: no path, no control
/// characters, not empty, at most 200 characters.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "attachment".to_string()
    } else {
        cleaned
    }
}

/// A MIME type of the form `type/subtype`, lower-cased; anything else is
/// treated as opaque bytes.
pub fn clean_content_type(ct: &str) -> String {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let valid = essence.split_once('/').is_some_and(|(t, s)| {
        !t.is_empty()
            && !s.is_empty()
            && essence
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c))
    });
    if valid {
        essence
    } else {
        "application/octet-stream".to_string()
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Stores the files of `message_id`; identical bytes share one blob.
pub fn store(
    conn: &mut DbConn,
    message_id: i64,
    files: &[NewAttachment],
    at: i64,
) -> QueryResult<()> {
    for f in files {
        let sha = sha256_hex(&f.data);
        let have: i64 = blobs::table.find(&sha).count().get_result(conn)?;
        if have == 0 {
            // A savepoint: a concurrent writer (PostgreSQL) may store the
            // same bytes first, which is just as good.
            let inserted = conn.transaction(|c| {
                diesel::insert_into(blobs::table)
                    .values((
                        blobs::sha256.eq(&sha),
                        blobs::size.eq(f.data.len() as i64),
                        blobs::data.eq(&f.data),
                        blobs::created_at.eq(at),
                    ))
                    .execute(c)
            });
            match inserted {
                Ok(_)
                | Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                Err(e) => return Err(e),
            }
        }
        diesel::insert_into(attachments::table)
            .values((
                attachments::message_id.eq(message_id),
                attachments::blob_sha256.eq(&sha),
                attachments::filename.eq(clean_filename(&f.filename)),
                attachments::content_type.eq(clean_content_type(&f.content_type)),
                attachments::content_id.eq(f.content_id.as_deref()),
                attachments::inline.eq(f.inline),
                attachments::size.eq(f.data.len() as i64),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The attachments of a ticket's messages, in message order.
pub fn of_ticket(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Attachment>> {
    attachments::table
        .inner_join(messages::table)
        .filter(messages::ticket_id.eq(ticket_id))
        .order((attachments::message_id, attachments::id))
        .select(Attachment::as_select())
        .load(conn)
}

/// One attachment with the ticket and message kind it belongs to (for
/// authorization), without its bytes.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<(Attachment, i64, String)>> {
    attachments::table
        .inner_join(messages::table)
        .filter(attachments::id.eq(id))
        .select((Attachment::as_select(), messages::ticket_id, messages::kind))
        .first(conn)
        .optional()
}

pub fn data(conn: &mut DbConn, sha256: &str) -> QueryResult<Vec<u8>> {
    blobs::table.find(sha256).select(blobs::data).first(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_and_types_are_cleaned() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\x\\a\"b.txt"), "ab.txt");
        assert_eq!(clean_filename(".htaccess"), "htaccess");
        assert_eq!(clean_filename("\u{0}\n"), "attachment");
        assert_eq!(clean_content_type("Text/HTML; charset=utf-8"), "text/html");
        assert_eq!(clean_content_type("nonsense"), "application/octet-stream");
        assert_eq!(clean_content_type("a/b\"<"), "application/octet-stream");
    }

    #[test]
    fn only_raster_images_display_inline() {
        let mk = |ct: &str| Attachment {
            id: 1,
            message_id: 1,
            blob_sha256: String::new(),
            filename: "f".into(),
            content_type: ct.into(),
            content_id: None,
            inline: false,
            size: 1,
        };
        assert!(mk("image/png").displays_inline());
        assert!(!mk("image/svg+xml").displays_inline());
        assert!(!mk("text/html").displays_inline());
        assert!(!mk("application/pdf").displays_inline());
    }
}
