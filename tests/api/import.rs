//! Import of JSON Lines: timestamps kept, bad lines reported and skipped,
//! a second run changes nothing.

use std::io::Write;

use diesel::prelude::*;
use helpdesk::db::schema::{events, messages, tickets, users};
use helpdesk::import::{import_file, Options};
use helpdesk::tickets::query;
use helpdesk::time::parse_rfc3339;

use crate::helpers::test_db;

fn line(id: &str, extra_events: &str) -> String {
    format!(
        r#"{{"external_id": "{id}", "subject": "Printer on fire", "channel": "email", "priority": "high", "group": "Support", "requester": {{"email": "ann@example.com", "name": "Ann"}}, "created_at": "2026-01-05T09:00:00Z", "body": "It is on fire.", "events": [{{"at": "2026-01-05T09:30:00Z", "type": "agent_reply", "agent": "bob@example.com", "body": "Unplug it."}}, {{"at": "2026-01-05T09:40:00Z", "type": "status_changed", "to": "resolved"}}{extra_events}]}}"#
    )
}

pub fn write_file(lines: &[String]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f
}

fn opts() -> Options {
    // Small batches and two writers: on PostgreSQL the repeated Z-1 can be
    // written concurrently, which must still end as one ticket.
    Options {
        batch_size: 2,
        progress: false,
        writers: Some(2),
    }
}

#[test]
fn imports_history_reports_bad_lines_and_is_idempotent() {
    let (db, _g) = test_db();
    let csat = r#", {"at": "2026-01-06T10:00:00Z", "type": "csat_sent"}, {"at": "2026-01-06T11:00:00Z", "type": "csat_received", "rating": 5, "comment": "Fast!"}"#;
    let file = write_file(&[
        line("Z-1", csat),
        "{not json".to_string(),
        line(
            "Z-2",
            r#", {"at": "2026-01-07T08:00:00Z", "type": "customer_message", "body": "again", "from": "carl@example.com"}, {"at": "2026-01-07T08:00:00Z", "type": "reopened"}"#,
        ),
        String::new(),
        line(
            "Z-3",
            r#", {"at": "2026-01-06T10:00:00Z", "type": "csat_received", "rating": 7}"#,
        ),
        line("Z-1", ""),
        line(
            "Z-4",
            r#", {"at": "2026-01-05T10:00:00Z", "type": "escalated", "reason": "VIP"}, {"at": "2026-01-05T11:00:00Z", "type": "priority_changed", "to": "urgent"}, {"at": "2026-01-05T12:00:00Z", "type": "assigned", "agent": "dan@example.com", "group": "Tier 2"}, {"at": "2026-01-05T13:00:00Z", "type": "sla_breached", "target": "resolution"}"#,
        ),
    ]);
    let mut bad = Vec::new();
    let summary = import_file(&db, file.path(), &opts(), |n, m| {
        bad.push((n, m.to_string()))
    })
    .unwrap();
    assert_eq!(
        (summary.imported, summary.skipped, summary.bad),
        (3, 1, 2),
        "{bad:?}"
    );
    assert_eq!(bad.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2, 5]);
    assert!(bad[1].1.contains("events[2].rating"), "{bad:?}");

    let id: i64 = db
        .query(|c| {
            tickets::table
                .filter(tickets::external_id.eq("Z-1"))
                .select(tickets::id)
                .first(c)
        })
        .unwrap();
    let t = db.query(|c| query::ticket(c, id)).unwrap().unwrap();
    assert_eq!(
        t.created_at,
        parse_rfc3339("2026-01-05T09:00:00Z").unwrap(),
        "timestamps are kept"
    );
    assert_eq!(t.status, "resolved");
    assert_eq!(t.priority, "high");
    assert_eq!(
        t.first_responded_at,
        Some(parse_rfc3339("2026-01-05T09:30:00Z").unwrap())
    );
    assert_eq!(t.updated_at, parse_rfc3339("2026-01-06T11:00:00Z").unwrap());
    let ev = db.query(|c| query::events(c, id)).unwrap();
    let kinds: Vec<&str> = ev.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "agent_reply",
            "status_changed",
            "csat_sent",
            "csat_received"
        ]
    );
    assert_eq!(
        (ev[2].from_value.as_deref(), ev[2].to_value.as_deref()),
        (Some("new"), Some("resolved"))
    );
    assert_eq!(ev[4].to_value.as_deref(), Some("5"));
    assert!(ev[4].data.contains("Fast!"));

    // Replayed state: reopened, escalated, reassigned, reprioritised.
    let z2 = db
        .query(|c| {
            tickets::table
                .filter(tickets::external_id.eq("Z-2"))
                .select(tickets::status)
                .first::<String>(c)
        })
        .unwrap();
    assert_eq!(z2, "open");
    let z4: (String, i32, Option<i64>) = db
        .query(|c| {
            tickets::table
                .filter(tickets::external_id.eq("Z-4"))
                .select((
                    tickets::priority,
                    tickets::escalation_level,
                    tickets::assignee_id,
                ))
                .first(c)
        })
        .unwrap();
    assert_eq!((z4.0.as_str(), z4.1), ("urgent", 1));
    let dan: (i64, Option<String>) = db
        .query(|c| {
            users::table
                .filter(users::email.eq("dan@example.com"))
                .select((users::id, users::password_hash))
                .first(c)
        })
        .unwrap();
    assert_eq!(z4.2, Some(dan.0));
    assert_eq!(dan.1, None, "imported agents cannot sign in");

    // A second run adds nothing.
    let count = |db: &helpdesk::db::Db| -> (i64, i64, i64) {
        db.query(|c| -> QueryResult<_> {
            Ok((
                tickets::table.count().get_result(c)?,
                events::table.count().get_result(c)?,
                messages::table.count().get_result(c)?,
            ))
        })
        .unwrap()
    };
    let before = count(&db);
    let again = import_file(&db, file.path(), &opts(), |_, _| {}).unwrap();
    assert_eq!((again.imported, again.skipped, again.bad), (0, 4, 2));
    assert_eq!(count(&db), before);
}

#[test]
fn a_missing_file_is_an_error() {
    let (db, _g) = test_db();
    let err = import_file(
        &db,
        std::path::Path::new("/no/such/file.jsonl"),
        &opts(),
        |_, _| {},
    );
    assert!(err.unwrap_err().to_string().contains("/no/such/file.jsonl"));
}

#[test]
fn a_line_that_is_not_utf8_is_one_bad_line() {
    let (db, _g) = test_db();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "{}", line("U-1", "")).unwrap();
    f.write_all(b"{\"external_id\": \"U-2\", \"subject\": \"caf\xe9\"}\n")
        .unwrap();
    writeln!(f, "{}", line("U-3", "")).unwrap();
    let mut bad = Vec::new();
    let summary = import_file(&db, f.path(), &opts(), |n, m| bad.push((n, m.to_string()))).unwrap();
    assert_eq!((summary.imported, summary.bad), (2, 1), "{bad:?}");
    assert_eq!(bad[0].0, 2);
    assert!(bad[0].1.contains("UTF-8"), "{bad:?}");
}
