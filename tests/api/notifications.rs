//! Agent notifications: which agents get a mail for a new ticket in their
//! group, a customer's reply on their ticket and an assignment; the
//! preferences page; and one notification delivered over real SMTP.

use diesel::prelude::*;
use helpdesk::db::schema::{outbox, tickets};
use helpdesk::db::Db;
use helpdesk::tickets::notify::{self, Notice};
use helpdesk::tickets::{ops, Actor, Assignment, Body, Role};
use helpdesk::time::now_ms;
use mail_parser::MessageParser;
use serde_json::json;

use crate::helpers::{spawn_app, staff, test_db, Browser, TestApp};
use crate::outbound::{block, config_for, sender, SmtpServer};

/// (kind, to) of every notification row, oldest first.
fn notifications(db: &Db) -> Vec<(String, String)> {
    db.query(|c| {
        outbox::table
            .filter(outbox::kind.like("notify_%"))
            .order(outbox::id)
            .select((outbox::kind, outbox::to_addrs))
            .load(c)
    })
    .unwrap()
}

fn turn_off(db: &Db, user: i64, n: Notice) {
    db.query(|c| notify::set_prefs(c, user, &[(n, false)]))
        .unwrap();
}

async fn ticket_by(app: &TestApp, token: &str, group: &str) -> i64 {
    let r = app
        .post(
            "/api/v1/tickets",
            token,
            json!({
                "subject": "Printer on fire", "body": "Please help.", "group": group,
                "requester": {"email": "ann@example.com", "name": "Ann"},
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let j: serde_json::Value = r.json().await.unwrap();
    j["ticket"]["id"].as_i64().unwrap()
}

fn assign(db: &Db, t: i64, agent: Option<i64>, actor: Actor) {
    db.write(|c| {
        ops::assign(
            c,
            t,
            Assignment {
                agent: Some(agent),
                group: None,
            },
            actor,
            now_ms(),
        )
    })
    .unwrap();
}

#[actix_web::test]
async fn a_new_ticket_notifies_the_groups_other_members_who_want_it() {
    let app = spawn_app().await;
    let (_a1, t1) = staff(&app.db, "a1@example.com", Role::Agent, &["Sales"]);
    let (_a2, _) = staff(&app.db, "a2@example.com", Role::Agent, &["Sales"]);
    let (a3, _) = staff(&app.db, "a3@example.com", Role::Agent, &["Sales"]);
    staff(&app.db, "other@example.com", Role::Agent, &["Support"]);
    turn_off(&app.db, a3, Notice::NewTicket);

    ticket_by(&app, &t1, "Sales").await;
    assert_eq!(
        notifications(&app.db),
        vec![("notify_new_ticket".into(), "a2@example.com".into())],
        "not the creator, not who turned it off, not other groups"
    );
    let body: String = app
        .db
        .query(|c| {
            outbox::table
                .filter(outbox::kind.eq("notify_new_ticket"))
                .select(outbox::body_text.assume_not_null())
                .first(c)
        })
        .unwrap();
    assert!(body.contains("Printer on fire"), "{body}");
    assert!(body.contains("/tickets/"), "{body}");

    // A ticket without a group notifies nobody.
    app.create_ticket("No group", None).await;
    assert_eq!(notifications(&app.db).len(), 1);
}

#[actix_web::test]
async fn a_customer_reply_notifies_the_assignee_unless_turned_off() {
    let app = spawn_app().await;
    let (a1, _) = staff(&app.db, "a1@example.com", Role::Agent, &["Sales"]);
    let (a2, _) = staff(&app.db, "a2@example.com", Role::Agent, &["Sales"]);
    turn_off(&app.db, a1, Notice::NewTicket);
    turn_off(&app.db, a2, Notice::NewTicket);
    let t = app.create_ticket("Invoice", Some("Sales")).await;
    assign(&app.db, t, Some(a1), Actor::Agent(a2));
    let requester: i64 = app
        .db
        .query(|c| {
            tickets::table
                .find(t)
                .select(tickets::requester_id)
                .first(c)
        })
        .unwrap();
    let before = notifications(&app.db).len();
    app.db
        .write(|c| ops::customer_message(c, t, requester, Body::text("Any news?"), now_ms()))
        .unwrap();
    let rows = notifications(&app.db);
    assert_eq!(
        rows[before..],
        [(
            "notify_customer_reply".to_string(),
            "a1@example.com".to_string()
        )]
    );

    turn_off(&app.db, a1, Notice::CustomerReply);
    app.db
        .write(|c| ops::customer_message(c, t, requester, Body::text("Hello?"), now_ms()))
        .unwrap();
    assert_eq!(notifications(&app.db).len(), rows.len());
}

#[test]
fn an_assignment_notifies_the_new_assignee_but_not_who_assigned_themselves() {
    let (db, _g) = test_db();
    let (a1, _) = staff(&db, "a1@example.com", Role::Agent, &[]);
    let (a2, _) = staff(&db, "a2@example.com", Role::Agent, &[]);
    let (a3, _) = staff(&db, "a3@example.com", Role::Agent, &[]);
    turn_off(&db, a3, Notice::Assigned);
    let t = db
        .write(|c| {
            ops::create(
                c,
                helpdesk::tickets::NewTicket {
                    subject: "Broken".into(),
                    body: Body::text("It broke."),
                    requester: helpdesk::people::EmailAddress::parse("ann@example.com").unwrap(),
                    requester_name: None,
                    channel: helpdesk::tickets::Channel::Web,
                    priority: helpdesk::tickets::Priority::Normal,
                    group_id: None,
                    assignee_id: None,
                    mailbox_id: None,
                    actor: Actor::System,
                },
                now_ms(),
            )
        })
        .unwrap()
        .ticket_id;

    assign(&db, t, Some(a2), Actor::Agent(a1));
    assert_eq!(
        notifications(&db),
        vec![("notify_assigned".into(), "a2@example.com".into())]
    );
    // Taking it yourself, or giving it to someone who turned it off: no mail.
    assign(&db, t, Some(a1), Actor::Agent(a1));
    assign(&db, t, Some(a3), Actor::Agent(a1));
    assert_eq!(notifications(&db).len(), 1);
}

#[actix_web::test]
async fn the_preferences_page_saves_and_shows_and_needs_the_csrf_token() {
    let app = spawn_app().await;
    let (a1, _) = staff(&app.db, "a1@example.com", Role::Agent, &[]);
    let mut b = Browser::new(&app);
    b.login("a1@example.com").await;

    let p = b.get("/settings/notifications").await;
    assert_eq!(p.status, 200);
    for key in ["new_ticket", "customer_reply", "assigned", "sla_breach"] {
        assert!(
            p.body.contains(&format!("<label for=\"notify-{key}\">")),
            "label for {key}"
        );
        assert!(
            p.body
                .contains(&format!("name=\"{key}\" value=\"1\" checked")),
            "{key} on by default"
        );
    }
    assert!(
        p.body.contains("href=\"/settings/notifications\""),
        "nav link"
    );

    let r = b
        .post("/settings/notifications", &[("assigned", "1")])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("/settings/notifications?done=saved")
    );
    let p = b.get("/settings/notifications?done=saved").await;
    assert!(p.body.contains("Saved."));
    assert!(p.body.contains("name=\"assigned\" value=\"1\" checked"));
    assert!(!p.body.contains("name=\"new_ticket\" value=\"1\" checked"));
    assert!(!p
        .body
        .contains("name=\"customer_reply\" value=\"1\" checked"));
    let stored = app.db.query(|c| notify::prefs(c, a1)).unwrap();
    assert_eq!(
        stored,
        vec![
            (Notice::NewTicket, false),
            (Notice::CustomerReply, false),
            (Notice::Assigned, true),
            (Notice::SlaBreach, false),
            (Notice::CsatLow, false)
        ]
    );

    let r = b
        .post_raw("/settings/notifications", "new_ticket=1".into())
        .await;
    assert_eq!(r.status, 403);
    assert!(!app
        .db
        .query(|c| notify::wants(c, a1, Notice::NewTicket))
        .unwrap());
}

#[test]
fn an_assignment_notification_arrives_by_smtp() {
    let (db, _g) = test_db();
    let smtp = SmtpServer::start();
    let mut config = config_for("help@support.example.com");
    config.base_url = Some("https://desk.example.com".into());
    let (a1, _) = staff(&db, "a1@example.com", Role::Agent, &[]);
    let (a2, _) = staff(&db, "a2@example.com", Role::Agent, &[]);
    let t = db
        .write(|c| {
            ops::create(
                c,
                helpdesk::tickets::NewTicket {
                    subject: "Broken".into(),
                    body: Body::text("It broke."),
                    requester: helpdesk::people::EmailAddress::parse("ann@example.com").unwrap(),
                    requester_name: None,
                    channel: helpdesk::tickets::Channel::Web,
                    priority: helpdesk::tickets::Priority::Normal,
                    group_id: None,
                    assignee_id: None,
                    mailbox_id: None,
                    actor: Actor::System,
                },
                now_ms(),
            )
        })
        .unwrap()
        .ticket_id;
    assign(&db, t, Some(a2), Actor::Agent(a1));

    let s = sender(&db, &smtp, &config);
    assert_eq!(block(s.drain()).unwrap(), 1);
    let got = smtp.take();
    assert_eq!(got.len(), 1);
    let m = MessageParser::default().parse(&got[0]).unwrap();
    assert_eq!(
        m.to().unwrap().first().unwrap().address(),
        Some("a2@example.com")
    );
    assert!(m.subject().unwrap().contains(&format!("[#{t}] Broken")));
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    let text = m.body_text(0).unwrap();
    assert!(text.contains("a1 assigned this ticket to you."), "{text}");
    assert!(
        text.contains(&format!("https://desk.example.com/tickets/{t}")),
        "{text}"
    );
}
