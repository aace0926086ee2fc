//! Conformance over Request Tracker's mail corpus (`../shared/corpus/rt-emails`,
//! present in CI; skipped with a note when missing): every row of its
//! EXPECTED.tsv is checked against what ingestion stored, plus the README's
//! two special cases (a delivery-status bounce; a file without headers).
//!
//! Each file goes to its own mailbox: the corpus reuses Message-IDs across
//! files, and deduplication is per mailbox. Addresses are compared without
//! case (we store them lower-cased). An empty expected display name means
//! the mail gives none; the customer is then named after the address's
//! local part.

use std::path::PathBuf;

use diesel::prelude::*;
use helpdesk::db::schema::{attachments, customers, delivery_failures, tickets};
use helpdesk::mail::inbound::{self, Ingest, Outcome};
use helpdesk::mailboxes::{self, MailboxInput};
use helpdesk::people::EmailAddress;
use helpdesk::tickets::query;
use helpdesk::time::now_ms;

use crate::helpers::test_db;
use crate::ingest::ctx;

fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rt-emails");
    dir.join("EXPECTED.tsv").is_file().then_some(dir)
}

struct Row {
    file: String,
    subject: String,
    from_address: String,
    from_name: String,
    attachments: usize,
    names: Vec<String>,
}

fn rows(dir: &std::path::Path) -> Vec<Row> {
    let tsv = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let mut lines = tsv.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "file\tsubject\tfrom_address\tfrom_name\tattachments\tattachment_names"
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            f.resize(6, "");
            Row {
                file: f[0].to_string(),
                subject: f[1].to_string(),
                from_address: f[2].to_string(),
                from_name: f[3].to_string(),
                attachments: f[4].parse().unwrap(),
                names: f[5]
                    .split('|')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn rt_corpus_conformance() {
    let Some(dir) = corpus_dir() else {
        eprintln!("../shared/corpus/rt-emails not found: corpus conformance skipped");
        return;
    };
    let (db, _g) = test_db();
    let rows = rows(&dir);
    assert!(rows.len() >= 26, "{} rows", rows.len());
    let mut failures: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let raw = std::fs::read(dir.join(&row.file)).unwrap();
        let now = now_ms();
        let mailbox = db
            .write(|c| -> Result<_, helpdesk::db::DbError> {
                Ok(mailboxes::create(
                    c,
                    MailboxInput {
                        address: &EmailAddress::parse(&format!("corpus{i}@support.example.com"))
                            .unwrap(),
                        name: &row.file,
                        group_id: None,
                        ack_enabled: true,
                    },
                    now,
                )
                .unwrap())
            })
            .unwrap();
        let ctx = Ingest {
            mailbox: Some(mailbox),
            ..ctx(&db)
        };
        let outcome = inbound::ingest(&db, &ctx, &raw, now).unwrap();
        let mut fail = |what: String| failures.push(format!("{}: {what}", row.file));
        match row.file.as_str() {
            "lorem-ipsum" => {
                let Outcome::Quarantined { quarantine_id, .. } = outcome else {
                    fail(format!("expected quarantine, got {outcome:?}"));
                    continue;
                };
                let listed = db.query(|c| inbound::quarantined(c, false, 100)).unwrap();
                if !listed.iter().any(|q| q.id == quarantine_id) {
                    fail("not in the quarantine list admins see".into());
                }
                let kept = db
                    .query(|c| inbound::quarantined_raw(c, quarantine_id))
                    .unwrap();
                if kept.as_deref() != Some(raw.as_slice()) {
                    fail("raw bytes not kept".into());
                }
                continue;
            }
            "multipart-report" => {
                let Outcome::Bounce {
                    failure_id,
                    ticket_id,
                } = outcome
                else {
                    fail(format!("expected a bounce, got {outcome:?}"));
                    continue;
                };
                if outcome.ack_allowed() {
                    fail("a bounce allows an acknowledgement".into());
                }
                if ticket_id.is_some() {
                    fail(format!("attached to ticket {ticket_id:?}"));
                }
                let (rcpt, status): (Option<String>, Option<String>) = db
                    .query(|c| {
                        delivery_failures::table
                            .find(failure_id)
                            .select((delivery_failures::recipient, delivery_failures::status))
                            .first(c)
                    })
                    .unwrap();
                if rcpt.as_deref() != Some("jesmund@mailbox.other.example.com")
                    || status.as_deref() != Some("5.1.1")
                {
                    fail(format!("delivery failure {rcpt:?} {status:?}"));
                }
                let opened: i64 = db
                    .query(|c| {
                        tickets::table
                            .filter(tickets::mailbox_id.eq(ctx.mailbox.as_ref().unwrap().id))
                            .count()
                            .get_result(c)
                    })
                    .unwrap();
                if opened != 0 {
                    fail("a bounce opened a ticket".into());
                }
                continue;
            }
            _ => {}
        }
        let Outcome::NewTicket {
            ticket_id,
            message_id,
            ..
        } = outcome
        else {
            fail(format!("expected a new ticket, got {outcome:?}"));
            continue;
        };
        let ticket = db.query(|c| query::ticket(c, ticket_id)).unwrap().unwrap();
        if ticket.subject != row.subject {
            fail(format!(
                "subject {:?}, expected {:?}",
                ticket.subject, row.subject
            ));
        }
        let (email, name): (String, String) = db
            .query(|c| {
                customers::table
                    .find(ticket.requester_id)
                    .select((customers::email, customers::name))
                    .first(c)
            })
            .unwrap();
        if !email.eq_ignore_ascii_case(&row.from_address) {
            fail(format!("from {email:?}, expected {:?}", row.from_address));
        }
        let expected_name = if row.from_name.is_empty() {
            row.from_address
                .rsplit_once('@')
                .map(|(l, _)| l.to_lowercase())
                .unwrap_or_default()
        } else {
            row.from_name.clone()
        };
        if name != expected_name {
            fail(format!("name {name:?}, expected {expected_name:?}"));
        }
        let mut names: Vec<String> = db
            .query(|c| {
                attachments::table
                    .filter(attachments::message_id.eq(message_id))
                    .order(attachments::id)
                    .select(attachments::filename)
                    .load(c)
            })
            .unwrap();
        if names.len() != row.attachments {
            fail(format!(
                "{} attachments {names:?}, expected {}",
                names.len(),
                row.attachments
            ));
        }
        names.sort();
        let mut want = row.names.clone();
        want.sort();
        if names != want {
            fail(format!("attachment names {names:?}, expected {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus rows differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn rt_corpus_bodies_are_decoded() {
    let Some(dir) = corpus_dir() else { return };
    let body = |file: &str| {
        let raw = std::fs::read(dir.join(file)).unwrap();
        inbound::parse::parse(&raw).unwrap().text
    };
    let cases = [
        ("8859-15-message-series/msg1", "äöüßÄÖÜß€"),
        ("text-html-with-umlaut", "Mit freundlichen Grüßen"),
        (
            "multipart-alternative-with-umlaut",
            "Mit freundlichen Grüßen",
        ),
        ("new-ticket-from-gb18030", "测试"),
        ("nested-rfc-822", "Material för att uppdatera"),
        ("nested-rfc-822", "Om du går in på Hemsidan"),
        ("outlook-rfc822", "Could this look more spammy"),
        ("notes-uuencoded", "from Lotus Notes"),
    ];
    let mut bad = Vec::new();
    for (file, want) in cases {
        let text = body(file);
        if !text.contains(want) {
            bad.push(format!(
                "{file}: {want:?} not in {:?}",
                text.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
