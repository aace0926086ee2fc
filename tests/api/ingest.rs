//! Mail ingestion through `mail::inbound`: classification and threading
//! rules, deduplication (also under concurrency), quarantine, bounces,
//! loops, content (HTML, inline images, charsets) and participants.

use diesel::prelude::*;
use helpdesk::config::Config;
use helpdesk::db::schema::{
    attachments, delivery_failures, events, messages, outbox, participants, quarantine, raw_mails,
    tickets,
};
use helpdesk::db::Db;
use helpdesk::mail::inbound::classify::{classify, Class};
use helpdesk::mail::inbound::{self, parse, Ingest, Outcome};
use helpdesk::mailboxes::{self, MailboxInput};
use helpdesk::people::EmailAddress;
use helpdesk::tickets::{ops, query, Actor, Body, Role, Status};
use helpdesk::time::now_ms;

use crate::helpers::{signer, staff, test_db};

pub const SUPPORT: &str = "help@support.example.com";

pub fn config() -> Config {
    Config::from_sources(None, |k| {
        (k == "HELPDESK_SUPPORT_ADDRESS").then(|| SUPPORT.to_string())
    })
    .unwrap()
}

pub fn ctx(db: &Db) -> Ingest {
    Ingest::new(signer(), &config(), None)
        .load_mailboxes(db)
        .unwrap()
}

/// A plain-text mail; `headers` are extra header lines.
pub fn mail(from: &str, subject: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut m = format!("From: {from}\nTo: {SUPPORT}\nSubject: {subject}\n");
    for h in headers {
        m.push_str(h);
        m.push('\n');
    }
    m.push_str("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n");
    m.push_str(body);
    m.push('\n');
    m.into_bytes()
}

fn ingest(db: &Db, raw: &[u8]) -> Outcome {
    inbound::ingest(db, &ctx(db), raw, now_ms()).unwrap()
}

fn new_ticket(o: &Outcome) -> i64 {
    match o {
        Outcome::NewTicket {
            ticket_id,
            linked_to: None,
            ..
        } => *ticket_id,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn count<T>(db: &Db, f: impl FnOnce(&mut helpdesk::db::DbConn) -> QueryResult<T>) -> T {
    db.query(f).unwrap()
}

fn status(db: &Db, t: i64) -> Status {
    db.query(|c| query::ticket(c, t)).unwrap().unwrap().status()
}

fn kinds(db: &Db, t: i64) -> Vec<String> {
    db.query(|c| query::events(c, t))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// An agent reply on ticket `t`; returns the signed Message-ID it carries.
fn agent_reply(db: &Db, t: i64) -> String {
    let (agent, _) = staff(db, &format!("agent{t}@example.com"), Role::Agent, &[]);
    db.write(|c| {
        ops::reply(
            c,
            &signer(),
            t,
            agent,
            Body::text("Try this."),
            None,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    })
    .unwrap();
    db.query(|c| {
        outbox::table
            .filter(outbox::ticket_id.eq(t))
            .order(outbox::id.desc())
            .select(outbox::mail_message_id)
            .first::<String>(c)
    })
    .unwrap()
}

#[test]
fn a_new_mail_opens_a_ticket_and_cc_becomes_participant() {
    let (db, _g) = test_db();
    let raw = mail(
        "Ann Example <Ann@Example.com>",
        "Printer on fire",
        &[
            "Message-ID: <a1@example.com>",
            "Cc: Bob <bob@example.org>, help@support.example.com",
        ],
        "It is burning.",
    );
    let o = ingest(&db, &raw);
    assert!(o.ack_allowed(), "{o:?}");
    let t = new_ticket(&o);
    let ticket = db.query(|c| query::ticket(c, t)).unwrap().unwrap();
    assert_eq!(ticket.subject, "Printer on fire");
    assert_eq!(ticket.channel, "email");
    let people = db.query(|c| query::participants(c, t)).unwrap();
    let emails: Vec<&str> = people.iter().map(|p| p.email.as_str()).collect();
    assert_eq!(
        emails,
        vec!["bob@example.org"],
        "our own address is no participant"
    );
    let msgs = db.query(|c| query::messages(c, t)).unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body_text, "It is burning.");
    assert_eq!(msgs[0].mail_message_id.as_deref(), Some("<a1@example.com>"));
    let raw_id = msgs[0].raw_mail_id.expect("raw mail linked");
    let stored: Vec<u8> = count(&db, |c| {
        raw_mails::table
            .find(raw_id)
            .select(raw_mails::data)
            .first(c)
    });
    assert_eq!(stored, raw, "the raw bytes are kept as received");
}

#[test]
fn the_same_mail_three_times_is_one_message() {
    let (db, _g) = test_db();
    let raw = mail(
        "ann@example.com",
        "Hello",
        &["Message-ID: <dup@example.com>"],
        "once",
    );
    let first = ingest(&db, &raw);
    new_ticket(&first);
    // A re-delivery differs in its trace headers; the Message-ID decides.
    let mut again = b"Received: from mx2 by mx1; Mon, 1 Jan 2026 00:00:00 +0000\n".to_vec();
    again.extend_from_slice(&raw);
    for r in [&raw, &again] {
        assert!(matches!(ingest(&db, r), Outcome::Duplicate { .. }));
    }
    assert_eq!(
        count(&db, |c| raw_mails::table.count().get_result::<i64>(c)),
        1
    );
    assert_eq!(
        count(&db, |c| messages::table.count().get_result::<i64>(c)),
        1
    );
    assert_eq!(
        count(&db, |c| tickets::table.count().get_result::<i64>(c)),
        1
    );
}

#[test]
fn without_message_id_the_content_hash_dedupes() {
    let (db, _g) = test_db();
    let raw = mail("ann@example.com", "No id", &[], "body");
    new_ticket(&ingest(&db, &raw));
    assert!(matches!(ingest(&db, &raw), Outcome::Duplicate { .. }));
    let other = mail("ann@example.com", "No id", &[], "another body");
    new_ticket(&ingest(&db, &other));
    assert_eq!(
        count(&db, |c| raw_mails::table.count().get_result::<i64>(c)),
        2
    );
}

#[test]
fn dedupe_is_per_mailbox() {
    let (db, _g) = test_db();
    let now = now_ms();
    let make = |addr: &str| {
        db.write(|c| -> Result<_, helpdesk::db::DbError> {
            Ok(mailboxes::create(
                c,
                MailboxInput {
                    address: &EmailAddress::parse(addr).unwrap(),
                    name: addr,
                    group_id: None,
                    ack_enabled: true,
                },
                now,
            )
            .unwrap())
        })
        .unwrap()
    };
    let (a, b) = (make("sales@example.com"), make("billing@example.com"));
    let raw = mail("ann@example.com", "Both", &["Message-ID: <both@x>"], "hi");
    let ctx_a = Ingest {
        mailbox: Some(a),
        ..ctx(&db)
    };
    let ctx_b = Ingest {
        mailbox: Some(b),
        ..ctx(&db)
    };
    new_ticket(&inbound::ingest(&db, &ctx_a, &raw, now).unwrap());
    assert!(matches!(
        inbound::ingest(&db, &ctx_a, &raw, now).unwrap(),
        Outcome::Duplicate { .. }
    ));
    new_ticket(&inbound::ingest(&db, &ctx_b, &raw, now).unwrap());
    assert_eq!(
        count(&db, |c| raw_mails::table.count().get_result::<i64>(c)),
        2
    );
}

#[test]
fn concurrent_deliveries_of_one_mail_store_it_once() {
    let (db, _g) = test_db();
    let raw = mail("ann@example.com", "Race", &["Message-ID: <race@x>"], "go");
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (db, raw) = (db.clone(), raw.clone());
                s.spawn(move || inbound::ingest(&db, &ctx(&db), &raw, now_ms()).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let fresh = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Duplicate { .. }))
        .count();
    assert_eq!(fresh, 1, "{outcomes:?}");
    assert_eq!(
        count(&db, |c| raw_mails::table.count().get_result::<i64>(c)),
        1
    );
    assert_eq!(
        count(&db, |c| messages::table.count().get_result::<i64>(c)),
        1
    );
}

#[test]
fn rule_1_a_reply_to_our_signed_message_id_threads() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(&db, &mail("ann@example.com", "Help", &[], "x")));
    let ours = agent_reply(&db, t);
    assert!(ours.starts_with(&format!("<hd.{t}.")), "{ours}");
    // Another subject, another sender, no tag: the signature is enough.
    let reply = mail(
        "colleague@example.com",
        "Something else entirely",
        &[&format!("In-Reply-To: {ours}")],
        "thanks",
    );
    match ingest(&db, &reply) {
        Outcome::Appended {
            ticket_id,
            reopened: false,
            ack_allowed: true,
            ..
        } => assert_eq!(ticket_id, t),
        other => panic!("{other:?}"),
    }
    let people = db.query(|c| query::participants(c, t)).unwrap();
    assert!(people.iter().any(|p| p.email == "colleague@example.com"));
}

#[test]
fn a_forged_signed_reference_does_not_attach() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(&db, &mail("ann@example.com", "Mine", &[], "x")));
    let ours = agent_reply(&db, t);
    // Same shape as ours, but the MAC is not made with our secret.
    let forged = format!("<hd.{t}.0011223344556677.00112233445566778899aabb@support.example.com>");
    let other_secret =
        helpdesk::mail::message_id::MessageIdSigner::new(b"not ours", "support.example.com")
            .generate(t);
    for fake in [
        forged,
        other_secret,
        ours.replacen(&format!("hd.{t}."), &format!("hd.{}.", t + 1), 1),
    ] {
        let o = ingest(
            &db,
            &mail(
                "mallory@example.net",
                "Let me in",
                &[&format!("References: {fake}")],
                "x",
            ),
        );
        assert_ne!(o.ticket_id(), Some(t), "{fake} attached: {o:?}");
        new_ticket(&o);
    }
    assert_eq!(db.query(|c| query::messages(c, t)).unwrap().len(), 2);
}

#[test]
fn rule_2_a_known_message_id_in_references_threads() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(
        &db,
        &mail("ann@example.com", "Order", &["Message-ID: <orig@ann>"], "x"),
    ));
    let reply = mail(
        "ann@example.com",
        "Re: Order",
        &["Message-ID: <r1@ann>", "References: <unknown@x> <orig@ann>"],
        "more",
    );
    assert_eq!(ingest(&db, &reply).ticket_id(), Some(t));
    // And a reply to that reply, by In-Reply-To alone.
    let again = mail(
        "ann@example.com",
        "Re: Order",
        &["In-Reply-To: <r1@ann>"],
        "and more",
    );
    assert_eq!(ingest(&db, &again).ticket_id(), Some(t));
}

#[test]
fn rule_3_subject_tag_from_requester_threads_from_stranger_links() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(&db, &mail("ann@example.com", "Tagged", &[], "x")));
    let o = ingest(
        &db,
        &mail("ann@example.com", &format!("Re: [#{t}] Tagged"), &[], "y"),
    );
    assert!(
        matches!(o, Outcome::Appended { ticket_id, .. } if ticket_id == t),
        "{o:?}"
    );

    let o = ingest(
        &db,
        &mail("eve@example.net", &format!("Re: [#{t}] Tagged"), &[], "z"),
    );
    let Outcome::NewTicket {
        ticket_id: other,
        linked_to: Some(linked),
        follow_up: false,
        ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(linked, t);
    let ticket = db.query(|c| query::ticket(c, other)).unwrap().unwrap();
    assert_eq!(ticket.parent_id, Some(t));
    let created = db.query(|c| query::events(c, other)).unwrap();
    assert!(
        created[0].data.contains(&format!("\"related_to\":{t}")),
        "{}",
        created[0].data
    );
    // A tag for a ticket that does not exist is just text.
    new_ticket(&ingest(
        &db,
        &mail("ann@example.com", "Re: [#99999] old", &[], "q"),
    ));
    // A participant may use the tag too.
    let p = db.query(|c| query::participants(c, t)).unwrap();
    assert!(p.is_empty());
}

#[test]
fn a_custom_subject_tag_is_honoured() {
    let (db, _g) = test_db();
    let custom = Ingest {
        subject_tag: helpdesk::mail::subject_tag::SubjectTag::parse("[ACME #{id}]").unwrap(),
        ..ctx(&db)
    };
    let t = new_ticket(
        &inbound::ingest(
            &db,
            &custom,
            &mail("ann@example.com", "Hi", &[], "x"),
            now_ms(),
        )
        .unwrap(),
    );
    let o = inbound::ingest(
        &db,
        &custom,
        &mail("ann@example.com", &format!("Re: [ACME #{t}] Hi"), &[], "y"),
        now_ms(),
    )
    .unwrap();
    assert_eq!(o.ticket_id(), Some(t));
    // Mail tagged before the setting changed still threads.
    let o = inbound::ingest(
        &db,
        &custom,
        &mail("ann@example.com", &format!("Re: [#{t}] Hi"), &[], "z"),
        now_ms(),
    )
    .unwrap();
    assert_eq!(o.ticket_id(), Some(t));
}

#[test]
fn a_reply_to_a_resolved_ticket_reopens_it_to_a_closed_one_follows_up() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(
        &db,
        &mail("ann@example.com", "Broken", &["Message-ID: <b1@ann>"], "x"),
    ));
    let ours = agent_reply(&db, t);
    db.write(|c| {
        ops::resolve(
            c,
            t,
            Actor::System,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    })
    .unwrap();
    let o = ingest(
        &db,
        &mail(
            "ann@example.com",
            "Re: Broken",
            &[&format!("In-Reply-To: {ours}")],
            "still broken",
        ),
    );
    assert!(
        matches!(o, Outcome::Appended { ticket_id, reopened: true, .. } if ticket_id == t),
        "{o:?}"
    );
    assert_eq!(status(&db, t), Status::Open);
    assert!(kinds(&db, t).contains(&"reopened".to_string()));

    db.write(|c| {
        ops::resolve(
            c,
            t,
            Actor::System,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    })
    .unwrap();
    db.write(|c| ops::close(c, t, Actor::System, now_ms()))
        .unwrap();
    let o = ingest(
        &db,
        &mail(
            "ann@example.com",
            "Re: Broken",
            &[&format!("References: {ours}")],
            "again",
        ),
    );
    let Outcome::NewTicket {
        ticket_id: f,
        linked_to: Some(l),
        follow_up: true,
        ack_allowed: true,
        ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(l, t);
    assert_eq!(
        status(&db, t),
        Status::Closed,
        "a closed ticket never changes"
    );
    assert_eq!(
        db.query(|c| query::ticket(c, f))
            .unwrap()
            .unwrap()
            .parent_id,
        Some(t)
    );
}

fn classify_raw(raw: &[u8]) -> Class {
    classify(&parse::parse(raw).unwrap(), "support.example.com")
}

#[test]
fn classification_rules() {
    let person = mail("ann@example.com", "Hi", &[], "x");
    assert_eq!(classify_raw(&person), Class::Person);
    let auto = |h: &str| classify_raw(&mail("ann@example.com", "Hi", &[h], "x"));
    assert!(matches!(
        auto("Auto-Submitted: auto-replied"),
        Class::Auto(_)
    ));
    assert!(matches!(
        auto("Auto-Submitted: auto-generated"),
        Class::Auto(_)
    ));
    assert_eq!(auto("Auto-Submitted: no"), Class::Person);
    for p in ["bulk", "junk", "list", "Bulk"] {
        assert!(
            matches!(auto(&format!("Precedence: {p}")), Class::Auto(_)),
            "{p}"
        );
    }
    assert_eq!(auto("Precedence: first-class"), Class::Person);
    assert!(matches!(
        auto("List-Id: Users <users.lists.example.org>"),
        Class::Auto(_)
    ));
    assert!(matches!(
        auto("X-Auto-Response-Suppress: All"),
        Class::Auto(_)
    ));
    assert!(matches!(auto("X-Autoreply: yes"), Class::Auto(_)));
    for s in [
        "Out of Office: back Monday",
        "Automatic reply: Hi",
        "AUTO: away",
    ] {
        assert!(
            matches!(
                classify_raw(&mail("ann@example.com", s, &[], "x")),
                Class::Auto(_)
            ),
            "{s}"
        );
    }
    // Bounces: a delivery-status report, or a mailer daemon writing.
    assert!(matches!(
        classify_raw(&mail(
            "MAILER-DAEMON@mx.example.net",
            "Undeliverable",
            &[],
            "x"
        )),
        Class::Bounce(_)
    ));
    assert!(matches!(
        classify_raw(&mail(
            "postmaster@mx.example.net",
            "Delivery failure",
            &[],
            "x"
        )),
        Class::Bounce(_)
    ));
    assert!(matches!(
        classify_raw(&dsn("a@b.example", "<x@y>")),
        Class::Bounce(_)
    ));
    // Our loop header with our domain; another help desk's is not ours.
    assert_eq!(auto("X-Helpdesk-Loop: support.example.com"), Class::Loop);
    assert_eq!(auto("X-Helpdesk-Loop: other.example.org"), Class::Person);
    assert_eq!(helpdesk::mail::LOOP_HEADER, "X-Helpdesk-Loop");
}

/// A delivery-status report about mail to `rcpt` with Message-ID `original`.
fn dsn(rcpt: &str, original: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: {SUPPORT}\n\
Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nI could not deliver it.\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n\n\
--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: {original}\nSubject: Re: Help\n\n--B--\n"
    )
    .into_bytes()
}

#[test]
fn an_auto_reply_is_stored_but_never_reopens_or_counts() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(&db, &mail("ann@example.com", "Help", &[], "x")));
    let ours = agent_reply(&db, t);
    db.write(|c| {
        ops::resolve(
            c,
            t,
            Actor::System,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    })
    .unwrap();
    let outbox_before = count(&db, |c| outbox::table.count().get_result::<i64>(c));
    let ooo = mail(
        "ann@example.com",
        "Out of Office: Re: Help",
        &[
            "Auto-Submitted: auto-replied",
            &format!("In-Reply-To: {ours}"),
        ],
        "I am away.",
    );
    let o = ingest(&db, &ooo);
    assert!(
        matches!(o, Outcome::AutoReply { ticket_id, .. } if ticket_id == t),
        "{o:?}"
    );
    assert!(!o.ack_allowed());
    assert_eq!(
        status(&db, t),
        Status::Resolved,
        "an auto-reply never reopens"
    );
    let evs = db.query(|c| query::events(c, t)).unwrap();
    let last = evs.last().unwrap();
    assert_eq!(last.kind, "auto_message");
    assert_eq!(last.data, r#"{"direction":"in"}"#);
    assert!(last.actor_customer_id.is_some());
    assert_eq!(
        evs.iter().filter(|e| e.kind == "customer_message").count(),
        0
    );
    let msgs = db.query(|c| query::messages(c, t)).unwrap();
    assert_eq!(msgs.last().unwrap().kind, "auto");
    assert_eq!(
        count(&db, |c| outbox::table.count().get_result::<i64>(c)),
        outbox_before,
        "nothing is sent"
    );
    // Unthreaded list mail opens a ticket, with no acknowledgement allowed.
    let o = ingest(
        &db,
        &mail(
            "news@lists.example.org",
            "Newsletter",
            &["List-Id: <n.example.org>"],
            "x",
        ),
    );
    assert!(
        matches!(
            o,
            Outcome::NewTicket {
                ack_allowed: false,
                ..
            }
        ),
        "{o:?}"
    );
}

#[test]
fn a_bounce_is_a_delivery_failure_on_its_ticket_never_a_ticket() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(&db, &mail("ann@example.com", "Help", &[], "x")));
    let ours = agent_reply(&db, t);
    let tickets_before = count(&db, |c| tickets::table.count().get_result::<i64>(c));
    let o = ingest(&db, &dsn("ann@example.com", &ours));
    let Outcome::Bounce {
        failure_id,
        ticket_id: Some(bt),
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(bt, t);
    assert!(!o.ack_allowed());
    let (rcpt, st, diag, orig): (Option<String>, Option<String>, String, Option<String>) =
        count(&db, |c| {
            delivery_failures::table
                .find(failure_id)
                .select((
                    delivery_failures::recipient,
                    delivery_failures::status,
                    delivery_failures::diagnostic,
                    delivery_failures::original_message_id,
                ))
                .first(c)
        });
    assert_eq!(rcpt.as_deref(), Some("ann@example.com"));
    assert_eq!(st.as_deref(), Some("5.1.1"));
    assert!(diag.contains("no such user"), "{diag}");
    assert_eq!(orig.as_deref(), Some(ours.as_str()));
    assert_eq!(
        count(&db, |c| tickets::table.count().get_result::<i64>(c)),
        tickets_before
    );
    assert_eq!(status(&db, t), Status::Open);
    // A bounce about mail we do not know is still recorded, on no ticket.
    let o = ingest(
        &db,
        &mail(
            "MAILER-DAEMON@mx.example.net",
            "failure notice",
            &["X-Failed-Recipients: x@y.example"],
            "gone",
        ),
    );
    assert!(
        matches!(
            o,
            Outcome::Bounce {
                ticket_id: None,
                ..
            }
        ),
        "{o:?}"
    );
    assert_eq!(
        count(&db, |c| tickets::table.count().get_result::<i64>(c)),
        tickets_before
    );
}

#[test]
fn our_own_mail_coming_back_is_dropped() {
    let (db, _g) = test_db();
    let raw = mail(
        "ann@example.com",
        "Loop",
        &["X-Helpdesk-Loop: support.example.com"],
        "x",
    );
    assert_eq!(ingest(&db, &raw), Outcome::Loop);
    let batch = inbound::ingest_batch(
        &db,
        &ctx(&db),
        &[raw.clone(), mail("a@example.com", "ok", &[], "x")],
        now_ms(),
    )
    .unwrap();
    assert_eq!(batch[0], Outcome::Loop);
    assert_eq!(
        count(&db, |c| raw_mails::table.count().get_result::<i64>(c)),
        1,
        "only the other one"
    );
}

#[test]
fn unparsable_and_oversized_mail_is_quarantined_once_and_retried() {
    let (db, _g) = test_db();
    let junk =
        b"Lorem ipsum dolor sit amet, consectetur adipisicing elit\nno headers at all\n".to_vec();
    let o = ingest(&db, &junk);
    let Outcome::Quarantined {
        quarantine_id,
        reason,
    } = &o
    else {
        panic!("{o:?}")
    };
    assert!(!reason.is_empty());
    for _ in 0..2 {
        assert!(matches!(ingest(&db, &junk), Outcome::Duplicate { .. }));
    }
    let list = db.query(|c| inbound::quarantined(c, false, 50)).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        db.query(|c| inbound::quarantined_raw(c, *quarantine_id))
            .unwrap()
            .unwrap(),
        junk
    );
    // A retry that fails again keeps it, counting the attempt.
    let again = inbound::retry(&db, &ctx(&db), *quarantine_id, now_ms())
        .unwrap()
        .unwrap();
    assert!(matches!(again, Outcome::Quarantined { .. }));
    let attempts: i32 = count(&db, |c| {
        quarantine::table
            .find(*quarantine_id)
            .select(quarantine::attempts)
            .first(c)
    });
    assert_eq!(attempts, 1);

    // Over the size limit: quarantined with the reason; a retry with a
    // larger limit processes it and resolves the entry.
    let small = Ingest {
        max_bytes: 100,
        ..ctx(&db)
    };
    let big = mail(
        "ann@example.com",
        "Big",
        &["Message-ID: <big@x>"],
        &"y".repeat(500),
    );
    let o = inbound::ingest(&db, &small, &big, now_ms()).unwrap();
    let Outcome::Quarantined {
        quarantine_id: q,
        reason,
    } = o
    else {
        panic!("{o:?}")
    };
    assert!(reason.contains("over the limit"), "{reason}");
    let fixed = inbound::retry(&db, &ctx(&db), q, now_ms())
        .unwrap()
        .unwrap();
    assert!(matches!(fixed, Outcome::NewTicket { .. }), "{fixed:?}");
    let resolved: Option<i64> = count(&db, |c| {
        quarantine::table
            .find(q)
            .select(quarantine::resolved_at)
            .first(c)
    });
    assert!(resolved.is_some());
    assert_eq!(
        db.query(|c| inbound::quarantined(c, false, 50))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn html_inline_images_and_attachments() {
    let (db, _g) = test_db();
    let raw = b"From: Ann <ann@example.com>\nTo: help@support.example.com\nSubject: Screenshot\n\
Message-ID: <img@ann>\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=R\n\n\
--R\nContent-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain; charset=utf-8\n\nSee the picture.\n\
--A\nContent-Type: text/html; charset=utf-8\n\n<p>See <img src=\"cid:pic1@ann\"> the <b>picture</b>.</p><script>x()</script>\n--A--\n\
--R\nContent-Type: image/png; name=\"shot.png\"\nContent-ID: <pic1@ann>\nContent-Disposition: inline; filename=\"shot.png\"\n\
Content-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n\
--R\nContent-Type: application/pdf; name=\"invoice.pdf\"\nContent-Disposition: attachment; filename=\"invoice.pdf\"\n\
Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--R--\n";
    let t = new_ticket(&ingest(&db, raw));
    let msg = &db.query(|c| query::messages(c, t)).unwrap()[0];
    assert_eq!(msg.body_text, "See the picture.");
    let files: Vec<(i64, String, bool, Option<String>)> = count(&db, |c| {
        attachments::table
            .filter(attachments::message_id.eq(msg.id))
            .order(attachments::id)
            .select((
                attachments::id,
                attachments::filename,
                attachments::inline,
                attachments::content_id,
            ))
            .load(c)
    });
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!((files[0].1.as_str(), files[0].2), ("shot.png", true));
    assert_eq!(files[1].1, "invoice.pdf");
    let html = msg.body_html.as_deref().unwrap();
    assert!(
        html.contains(&format!("src=\"/attachments/{}/shot.png\"", files[0].0)),
        "{html}"
    );
    assert!(!html.contains("cid:"), "{html}");
    assert!(
        html.contains("<script>"),
        "the original HTML is kept; display sanitizes it"
    );
    let shown = helpdesk::mail::sanitize::html(html);
    assert!(
        !shown.contains("script")
            && shown.contains(&format!("/attachments/{}/shot.png", files[0].0)),
        "{shown}"
    );
}

#[test]
fn html_only_mail_gets_a_text_body() {
    let (db, _g) = test_db();
    let raw = b"From: ann@example.com\nTo: help@support.example.com\nSubject: H\nMIME-Version: 1.0\n\
Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n<p>Gr=FC=DFe<br>Ann</p>\n";
    let t = new_ticket(&ingest(&db, raw));
    let msg = &db.query(|c| query::messages(c, t)).unwrap()[0];
    assert!(msg.body_text.contains("Grüße"), "{:?}", msg.body_text);
    assert!(msg.body_html.as_deref().unwrap().contains("Grüße"));
}

#[test]
fn undeclared_8bit_headers_and_bodies_are_guessed() {
    let (db, _g) = test_db();
    let raw = b"From: \"Dmitry S.\" <mitya@example.com>\nTo: help@support.example.com\nSubject: \xd4\xc5\xd3\xd4 \xd4\xc5\xd3\xd4\n\n\xd4\xc5\xd3\xd4 \xd4\xc5\xd3\xd4 \xd4\xc5\xd3\xd4\n";
    let t = new_ticket(&ingest(&db, raw));
    let ticket = db.query(|c| query::ticket(c, t)).unwrap().unwrap();
    assert_eq!(ticket.subject, "тест тест");
    let msg = &db.query(|c| query::messages(c, t)).unwrap()[0];
    assert_eq!(msg.body_text, "тест тест тест");
}

#[test]
fn a_mail_without_a_sender_is_quarantined_not_lost() {
    let (db, _g) = test_db();
    let o = ingest(
        &db,
        b"Subject: who am I\nTo: help@support.example.com\n\nbody\n",
    );
    assert!(
        matches!(&o, Outcome::Quarantined { reason, .. } if reason.contains("sender")),
        "{o:?}"
    );
    assert_eq!(
        count(&db, |c| raw_mails::table.count().get_result::<i64>(c)),
        1
    );
}

#[test]
fn participants_come_from_to_and_cc_but_not_from_auto_mail() {
    let (db, _g) = test_db();
    let t = new_ticket(&ingest(
        &db,
        &mail(
            "ann@example.com",
            "Team",
            &["Cc: a@example.com, b@example.com, ann@example.com"],
            "x",
        ),
    ));
    let mut emails: Vec<String> = db
        .query(|c| query::participants(c, t))
        .unwrap()
        .into_iter()
        .map(|c| c.email)
        .collect();
    emails.sort();
    assert_eq!(emails, vec!["a@example.com", "b@example.com"]);
    let n: i64 = count(&db, |c| {
        participants::table
            .filter(participants::ticket_id.eq(t))
            .count()
            .get_result(c)
    });
    assert_eq!(n, 2);
    let o = ingest(
        &db,
        &mail(
            "ann@example.com",
            &format!("Auto: [#{t}]"),
            &["Auto-Submitted: auto-replied", "Cc: c@example.com"],
            "away",
        ),
    );
    assert!(matches!(o, Outcome::AutoReply { .. }), "{o:?}");
    assert_eq!(db.query(|c| query::participants(c, t)).unwrap().len(), 2);
    let n: i64 = count(&db, |c| {
        events::table
            .filter(events::ticket_id.eq(t))
            .count()
            .get_result(c)
    });
    assert!(n >= 2);
}
