//! The ticket domain against a real store: every action from every status,
//! the events it writes, and rollback of refused changes.

use diesel::prelude::*;
use helpdesk::db::schema::{events, outbox, tickets as tickets_table};
use helpdesk::db::{Db, DbConn};
use helpdesk::people::EmailAddress;
use helpdesk::tickets::state::{self, Action, Outcome};
use helpdesk::tickets::{
    ops, query, Actor, Assignment, Body, Channel, NewTicket, Priority, Status, TicketError,
};
use helpdesk::time::now_ms;

use crate::helpers::{signer, staff, test_db};
use helpdesk::tickets::Role;

fn new_ticket(subject: &str, group_id: Option<i64>) -> NewTicket {
    NewTicket {
        subject: subject.into(),
        body: Body::text("It is on fire."),
        requester: EmailAddress::parse("ann@example.com").unwrap(),
        requester_name: Some("Ann".into()),
        channel: Channel::Email,
        priority: Priority::Normal,
        group_id,
        assignee_id: None,
        mailbox_id: None,
        actor: Actor::System,
    }
}

fn create(db: &Db) -> i64 {
    db.write(|c| ops::create(c, new_ticket("Printer on fire", None), now_ms()))
        .unwrap()
        .ticket_id
}

fn status(db: &Db, id: i64) -> Status {
    db.query(|c| query::ticket(c, id))
        .unwrap()
        .unwrap()
        .status()
}

fn kinds(db: &Db, id: i64) -> Vec<String> {
    db.query(|c| query::events(c, id))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn requester(db: &Db, id: i64) -> i64 {
    db.query(|c| query::ticket(c, id))
        .unwrap()
        .unwrap()
        .requester_id
}

/// Brings a new ticket to `target` through legal actions.
fn reach(db: &Db, agent: i64, target: Status) -> i64 {
    let id = create(db);
    let s = signer();
    let w = |f: &dyn Fn(&mut DbConn) -> Result<(), TicketError>| db.write(|c| f(c)).unwrap();
    match target {
        Status::New => {}
        Status::Open => w(&|c| {
            ops::reply(
                c,
                &s,
                id,
                agent,
                Body::text("hi"),
                None,
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
            .map(|_| ())
        }),
        Status::Pending => w(&|c| {
            ops::reply(
                c,
                &s,
                id,
                agent,
                Body::text("which model?"),
                Some(Status::Pending),
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
            .map(|_| ())
        }),
        Status::Resolved => w(&|c| {
            ops::resolve(
                c,
                id,
                Actor::Agent(agent),
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
            .map(|_| ())
        }),
        Status::Closed => {
            w(&|c| {
                ops::resolve(
                    c,
                    id,
                    Actor::Agent(agent),
                    helpdesk::tickets::csat::Survey::OFF,
                    now_ms(),
                )
                .map(|_| ())
            });
            w(&|c| ops::close(c, id, Actor::Agent(agent), now_ms()).map(|_| ()));
        }
    }
    assert_eq!(status(db, id), target);
    id
}

fn run(db: &Db, id: i64, agent: i64, action: Action) -> Result<(), TicketError> {
    let s = signer();
    let actor = Actor::Agent(agent);
    let now = now_ms();
    let customer = requester(db, id);
    db.write(|c| match action {
        Action::CustomerMessage => {
            ops::customer_message(c, id, customer, Body::text("any news?"), now).map(|_| ())
        }
        Action::AgentReply { then } => ops::reply(
            c,
            &s,
            id,
            agent,
            Body::text("on it"),
            then,
            helpdesk::tickets::csat::Survey::OFF,
            now,
        )
        .map(|_| ()),
        Action::Note => ops::note(c, id, agent, Body::text("internal"), now).map(|_| ()),
        Action::AutoMessage => {
            ops::auto_message(c, &s, id, "ack", Body::text("We got it."), now).map(|_| ())
        }
        Action::Assign => ops::assign(
            c,
            id,
            Assignment {
                agent: Some(Some(agent)),
                group: None,
            },
            actor,
            now,
        )
        .map(|_| ()),
        Action::SetPriority => ops::set_priority(c, id, Priority::High, actor, now).map(|_| ()),
        Action::Escalate => ops::escalate(c, id, "customer is a VIP", actor, now).map(|_| ()),
        Action::Resolve => {
            ops::resolve(c, id, actor, helpdesk::tickets::csat::Survey::OFF, now).map(|_| ())
        }
        Action::Reopen => ops::reopen(c, id, actor, now).map(|_| ()),
        Action::Close => ops::close(c, id, actor, now).map(|_| ()),
    })
}

#[test]
fn every_action_from_every_status_follows_the_state_machine() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "bob@example.com", Role::Agent, &[]);
    let actions = [
        Action::CustomerMessage,
        Action::AgentReply { then: None },
        Action::AgentReply {
            then: Some(Status::Pending),
        },
        Action::AgentReply {
            then: Some(Status::Resolved),
        },
        Action::AgentReply {
            then: Some(Status::Closed),
        },
        Action::Note,
        Action::AutoMessage,
        Action::Assign,
        Action::SetPriority,
        Action::Escalate,
        Action::Resolve,
        Action::Reopen,
        Action::Close,
    ];
    for from in Status::ALL {
        for action in actions {
            let id = reach(&db, agent, *from);
            let before = kinds(&db, id);
            let result = run(&db, id, agent, action);
            let after = kinds(&db, id);
            match state::apply(*from, action) {
                Ok(Outcome::Stay { to }) => {
                    assert!(result.is_ok(), "{from} {action:?}: {result:?}");
                    assert_eq!(status(&db, id), to, "{from} {action:?}");
                    assert!(
                        after.len() > before.len(),
                        "{from} {action:?} wrote no event"
                    );
                    let expect = state::status_event(*from, to).map(|k| k.as_str().to_string());
                    if let Some(k) = expect {
                        assert!(
                            after[before.len()..].contains(&k),
                            "{from} {action:?}: {after:?}"
                        );
                    }
                }
                Ok(Outcome::FollowUp) => {
                    assert!(result.is_ok(), "{from} {action:?}: {result:?}");
                    assert_eq!(status(&db, id), *from, "a closed ticket never changes");
                    assert_eq!(after, before);
                }
                Err(_) => {
                    assert!(
                        matches!(result, Err(TicketError::Transition { .. })),
                        "{from} {action:?} should be refused: {result:?}"
                    );
                    assert_eq!(status(&db, id), *from);
                    assert_eq!(after, before, "a refused change must leave no event");
                }
            }
        }
    }
}

#[test]
fn customer_reply_reopens_a_resolved_ticket() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "bob@example.com", Role::Agent, &[]);
    let id = reach(&db, agent, Status::Resolved);
    run(&db, id, agent, Action::CustomerMessage).unwrap();
    assert_eq!(status(&db, id), Status::Open);
    let k = kinds(&db, id);
    assert_eq!(&k[k.len() - 2..], ["customer_message", "reopened"]);
    let ev = db.query(|c| query::events(c, id)).unwrap();
    let reopened = ev.last().unwrap();
    assert_eq!(
        (reopened.from_value.as_deref(), reopened.to_value.as_deref()),
        (Some("resolved"), Some("open"))
    );
}

#[test]
fn customer_reply_to_a_closed_ticket_opens_a_linked_follow_up() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "bob@example.com", Role::Agent, &[]);
    let id = reach(&db, agent, Status::Closed);
    let customer = requester(&db, id);
    let posted = db
        .write(|c| {
            ops::customer_message(c, id, customer, Body::text("it is on fire again"), now_ms())
        })
        .unwrap();
    assert!(posted.follow_up);
    assert_ne!(posted.ticket_id, id);
    let follow = db
        .query(|c| query::ticket(c, posted.ticket_id))
        .unwrap()
        .unwrap();
    assert_eq!(follow.parent_id, Some(id));
    assert_eq!(follow.status(), Status::New);
    assert_eq!(follow.requester_id, customer);
    let created = &db.query(|c| query::events(c, posted.ticket_id)).unwrap()[0];
    assert_eq!(created.kind, "created");
    assert!(
        created.data.contains(&format!("\"follow_up_of\":{id}")),
        "{}",
        created.data
    );
    // An agent can open one too, but only from a closed ticket.
    let open = reach(&db, agent, Status::Open);
    let refused = db.write(|c| ops::follow_up(c, open, new_ticket("again", None), now_ms()));
    assert!(
        matches!(
            refused,
            Err(TicketError::Invalid {
                field: "ticket",
                ..
            })
        ),
        "{refused:?}"
    );
    let ok = db
        .write(|c| ops::follow_up(c, id, new_ticket("again", None), now_ms()))
        .unwrap();
    assert!(ok.follow_up);
}

/// to, cc, subject, Message-ID, In-Reply-To, References, status
type OutboxRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

#[test]
fn a_reply_queues_one_signed_mail_with_threading_headers() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "bob@example.com", Role::Agent, &[]);
    let id = create(&db);
    let carol = EmailAddress::parse("carol@example.com").unwrap();
    db.write(|c| {
        let cc = helpdesk::people::find_or_create_customer(c, &carol, None, now_ms())?;
        ops::add_participant(c, id, cc.id, now_ms())
    })
    .unwrap();
    let s = signer();
    db.write(|c| {
        ops::reply(
            c,
            &s,
            id,
            agent,
            Body::text("first"),
            None,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    })
    .unwrap();
    db.write(|c| ops::note(c, id, agent, Body::text("not mailed"), now_ms()))
        .unwrap();
    db.write(|c| {
        ops::reply(
            c,
            &s,
            id,
            agent,
            Body::text("second"),
            None,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    })
    .unwrap();
    let rows: Vec<OutboxRow> = db
        .query(|c| {
            outbox::table
                .filter(outbox::ticket_id.eq(id))
                .order(outbox::id)
                .select((
                    outbox::to_addrs,
                    outbox::cc_addrs,
                    outbox::subject,
                    outbox::mail_message_id,
                    outbox::mail_in_reply_to,
                    outbox::mail_references,
                    outbox::status,
                ))
                .load(c)
        })
        .unwrap();
    assert_eq!(rows.len(), 2, "a note is never mailed");
    let (to, cc, subject, first_id, irt, refs, st) = &rows[0];
    assert_eq!(
        (to.as_str(), cc.as_str(), st.as_str()),
        ("ann@example.com", "carol@example.com", "queued")
    );
    assert_eq!(subject, &format!("[#{id}] Printer on fire"));
    assert_eq!(
        s.verify(first_id),
        Some(id),
        "Message-ID must carry a valid signature"
    );
    assert_eq!(
        (irt, refs),
        (&None, &None),
        "the opening mail had no Message-ID"
    );
    let (_, _, _, second_id, irt2, refs2, _) = &rows[1];
    assert_ne!(second_id, first_id);
    assert_eq!(irt2.as_deref(), Some(first_id.as_str()));
    assert_eq!(refs2.as_deref(), Some(first_id.as_str()));
    let t = db.query(|c| query::ticket(c, id)).unwrap().unwrap();
    assert!(t.first_responded_at.is_some());
}

#[test]
fn assignment_is_validated_and_no_change_writes_no_event() {
    let (db, _g) = test_db();
    let (bob, _) = staff(&db, "bob@example.com", Role::Agent, &["Support"]);
    let (eve, _) = staff(&db, "eve@example.com", Role::Agent, &["Billing"]);
    let support = db
        .query(|c| helpdesk::people::find_group_by_name(c, "Support"))
        .unwrap()
        .unwrap()
        .id;
    let id = create(&db);
    let set = |agent: Option<Option<i64>>, group: Option<Option<i64>>| {
        db.write(|c| {
            ops::assign(
                c,
                id,
                Assignment { agent, group },
                Actor::Agent(bob),
                now_ms(),
            )
        })
    };
    assert!(set(Some(Some(bob)), Some(Some(support))).unwrap());
    assert!(!set(Some(Some(bob)), None).unwrap(), "unchanged");
    let err = set(Some(Some(eve)), None).unwrap_err();
    assert!(
        matches!(err, TicketError::Invalid { field: "agent", .. }),
        "{err:?}"
    );
    let err = set(None, Some(Some(999_999))).unwrap_err();
    assert!(
        matches!(err, TicketError::Invalid { field: "group", .. }),
        "{err:?}"
    );
    assert!(set(Some(None), Some(None)).unwrap(), "clearing both");
    assert_eq!(
        kinds(&db, id).iter().filter(|k| *k == "assigned").count(),
        2
    );
    let t = db.query(|c| query::ticket(c, id)).unwrap().unwrap();
    assert_eq!((t.assignee_id, t.group_id), (None, None));
}

#[test]
fn bad_input_gets_typed_errors_and_writes_nothing() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "bob@example.com", Role::Agent, &[]);
    let id = create(&db);
    let before = kinds(&db, id);
    let s = signer();
    let empty = db.write(|c| {
        ops::reply(
            c,
            &s,
            id,
            agent,
            Body::text("  "),
            None,
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    });
    assert!(matches!(
        empty,
        Err(TicketError::Invalid { field: "body", .. })
    ));
    let reason = db.write(|c| ops::escalate(c, id, " ", Actor::Agent(agent), now_ms()));
    assert!(matches!(
        reason,
        Err(TicketError::Invalid {
            field: "reason",
            ..
        })
    ));
    let subject = db.write(|c| ops::create(c, new_ticket("   ", None), now_ms()));
    assert!(matches!(
        subject,
        Err(TicketError::Invalid {
            field: "subject",
            ..
        })
    ));
    let missing = db.write(|c| {
        ops::resolve(
            c,
            424242,
            Actor::Agent(agent),
            helpdesk::tickets::csat::Survey::OFF,
            now_ms(),
        )
    });
    assert!(matches!(missing, Err(TicketError::NotFound(424242))));
    assert_eq!(kinds(&db, id), before);
    let count: i64 = db
        .query(|c| tickets_table::table.count().get_result(c))
        .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn concurrent_writers_never_see_a_locked_database() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "bob@example.com", Role::Agent, &[]);
    let id = create(&db);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    db.write(|c| {
                        ops::note(c, id, agent, Body::text(format!("note {t}/{i}")), now_ms())
                    })
                    .unwrap_or_else(|e| panic!("writer {t} failed: {e}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let notes: i64 = db
        .query(|c| {
            events::table
                .filter(events::ticket_id.eq(id))
                .filter(events::kind.eq("note"))
                .count()
                .get_result(c)
        })
        .unwrap();
    assert_eq!(notes, 100);
}

#[test]
fn concurrent_first_tickets_from_one_new_customer_all_succeed() {
    let (db, _g) = test_db();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut t = new_ticket(&format!("request {i}"), None);
                t.requester = EmailAddress::parse("new.person@example.com").unwrap();
                db.write(|c| ops::create(c, t, now_ms()))
                    .unwrap_or_else(|e| panic!("ticket {i}: {e}"))
            })
        })
        .collect();
    let requesters: std::collections::HashSet<i64> = threads
        .into_iter()
        .map(|t| t.join().unwrap().ticket_id)
        .map(|id| requester(&db, id))
        .collect();
    assert_eq!(requesters.len(), 1, "one customer for one address");
}
