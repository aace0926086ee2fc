//! SLA clocks and the breach job, driven through the domain with chosen
//! timestamps (the job's `tick` takes its clock as an argument), plus one
//! run of the real `serve` to show the job runs there on its own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::db::schema::{events, outbox, tickets};
use helpdesk::db::{Db, DbError};
use helpdesk::people::{self, EmailAddress};
use helpdesk::sla::job;
use helpdesk::sla::policy::{self, Book, CalendarInput, PolicyInput};
use helpdesk::tickets::sla::{self as clocks, ClockState};
use helpdesk::tickets::{ops, Actor, Body, Channel, NewTicket, Priority, Role, Status, Ticket};
use serde_json::Value;

use crate::helpers::{fresh_database_url, signer, spawn_app, staff, test_db};

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
/// 2026-01-05T10:00:00Z, a Monday.
const T0: i64 = 1_767_607_200_000;

fn group(db: &Db, name: &str) -> i64 {
    db.write(|c| people::find_or_create_group(c, name, T0))
        .map(|(g, _)| g.id)
        .unwrap()
}

#[derive(Clone, Copy)]
struct Actions {
    level: bool,
    to_group: Option<i64>,
    priority: bool,
    notify: bool,
}

const ESCALATE_ONLY: Actions = Actions {
    level: true,
    to_group: None,
    priority: false,
    notify: false,
};

/// Targets per priority (low, normal, high, urgent) as the admin form takes them.
fn policy(
    db: &Db,
    name: &str,
    group: Option<i64>,
    calendar: Option<i64>,
    fr: [&str; 4],
    res: [&str; 4],
    a: Actions,
) -> i64 {
    let input = PolicyInput {
        name: name.into(),
        group_id: group,
        calendar_id: calendar,
        first_response: fr.map(String::from),
        resolution: res.map(String::from),
        breach_raise_level: a.level,
        breach_group_id: a.to_group,
        breach_raise_priority: a.priority,
        breach_notify: a.notify,
    };
    let id = db
        .write(|c| policy::save_policy(c, None, &input, T0).map_err(DbError::from))
        .unwrap()
        .unwrap();
    helpdesk::tickets::sla::refresh_open(db).unwrap();
    id
}

fn open(db: &Db, group: Option<i64>, priority: Priority, channel: Channel, at: i64) -> i64 {
    let new = NewTicket {
        subject: "Printer on fire".into(),
        body: Body::text("It is on fire."),
        requester: EmailAddress::parse("ann@example.com").unwrap(),
        requester_name: Some("Ann".into()),
        channel,
        priority,
        group_id: group,
        assignee_id: None,
        mailbox_id: None,
        actor: Actor::System,
    };
    db.write(|c| ops::create(c, new, at)).unwrap().ticket_id
}

fn ticket(db: &Db, id: i64) -> Ticket {
    db.query(|c| tickets::table.find(id).select(Ticket::as_select()).first(c))
        .unwrap()
}

/// (type, at, to, data) of every event, oldest first.
fn events_of(db: &Db, id: i64) -> Vec<(String, i64, Option<String>, Value)> {
    db.query(|c| {
        events::table
            .filter(events::ticket_id.eq(id))
            .order((events::at, events::id))
            .select((events::kind, events::at, events::to_value, events::data))
            .load::<(String, i64, Option<String>, String)>(c)
    })
    .unwrap()
    .into_iter()
    .map(|(k, at, to, d)| (k, at, to, serde_json::from_str(&d).unwrap()))
    .collect()
}

fn of_kind(db: &Db, id: i64, kind: &str) -> Vec<(i64, Option<String>, Value)> {
    events_of(db, id)
        .into_iter()
        .filter(|e| e.0 == kind)
        .map(|e| (e.1, e.2, e.3))
        .collect()
}

fn tick(db: &Db, now: i64) -> job::Tick {
    job::tick(db, now).unwrap()
}

fn states(db: &Db, id: i64, now: i64) -> Vec<(&'static str, ClockState)> {
    let t = ticket(db, id);
    let book = db.query(Book::load).unwrap();
    clocks::view(&t, t.sla_policy_id.and_then(|p| book.by_id(p)), now)
        .into_iter()
        .map(|v| (v.target.as_str(), v.state))
        .collect()
}

fn reply(db: &Db, id: i64, agent: i64, then: Option<Status>, at: i64) {
    db.write(|c| {
        ops::reply(
            c,
            &signer(),
            id,
            agent,
            Body::text("On it."),
            then,
            helpdesk::tickets::csat::Survey::OFF,
            at,
        )
    })
    .unwrap();
}

#[test]
fn the_breach_job_records_each_breach_once_at_the_due_instant_and_escalates() {
    let (db, _g) = test_db();
    let support = group(&db, "Support");
    let tier2 = group(&db, "Tier 2");
    let (a1, _) = staff(&db, "a1@example.com", Role::Agent, &["Support"]);
    let (lead, _) = staff(&db, "lead@example.com", Role::Agent, &["Tier 2"]);
    policy(
        &db,
        "Standard",
        None,
        None,
        ["", "1h", "30m", "15m"],
        ["", "8h", "4h", "2h"],
        Actions {
            level: true,
            to_group: Some(tier2),
            priority: true,
            notify: true,
        },
    );
    let id = open(&db, Some(support), Priority::Normal, Channel::Email, T0);
    let t = ticket(&db, id);
    assert_eq!(t.first_response_due_at, Some(T0 + H));
    assert_eq!(t.first_response_warn_at, Some(T0 + 48 * MIN));
    assert_eq!(t.resolution_due_at, Some(T0 + 8 * H));
    assert_eq!(t.sla_next_at, Some(T0 + H));
    assert_eq!(
        states(&db, id, T0 + 10 * MIN),
        [
            ("first_response", ClockState::Ok),
            ("resolution", ClockState::Ok)
        ]
    );
    assert_eq!(states(&db, id, T0 + 50 * MIN)[0].1, ClockState::Warning);

    // Before the due instant nothing happens, however often the job runs.
    assert_eq!(tick(&db, T0 + H - 1).breaches, 0);
    assert!(of_kind(&db, id, "sla_breached").is_empty());

    let done = tick(&db, T0 + H + 3_000);
    assert_eq!((done.breaches, done.escalated), (1, 1));
    let breached = of_kind(&db, id, "sla_breached");
    assert_eq!(breached.len(), 1);
    assert_eq!(breached[0].0, T0 + H, "stamped at the moment of breach");
    assert_eq!(breached[0].1.as_deref(), Some("first_response"));
    let esc = of_kind(&db, id, "escalated");
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0].1.as_deref(), Some("1"));
    assert_eq!(esc[0].2["reason"], "sla_breach");
    assert_eq!(esc[0].2["target"], "first_response");
    let moved = of_kind(&db, id, "assigned");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].2["to_group"], tier2);
    assert_eq!(
        of_kind(&db, id, "priority_changed")[0].1.as_deref(),
        Some("high")
    );
    let t = ticket(&db, id);
    assert_eq!((t.escalation_level, t.group_id), (1, Some(tier2)));
    assert_eq!(t.priority, "high");
    assert_eq!(t.first_response_breached_at, Some(T0 + H));
    // The higher priority's shorter resolution target now applies.
    assert_eq!(t.resolution_due_at, Some(T0 + 4 * H));
    // The unassigned ticket's new group hears about it; the old one does not.
    let notes: Vec<String> = db
        .query(|c| {
            outbox::table
                .filter(outbox::kind.eq("notify_sla_breach"))
                .select(outbox::to_addrs)
                .load(c)
        })
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("lead@example.com"), "{notes:?}");
    let _ = (a1, lead);

    // Running again (or in a second process) records nothing twice.
    assert_eq!(tick(&db, T0 + H + 6_000).breaches, 0);
    assert_eq!(tick(&db, T0 + 2 * H).breaches, 0);
    assert_eq!(of_kind(&db, id, "sla_breached").len(), 1);
    assert_eq!(
        states(&db, id, T0 + 2 * H)[0],
        ("first_response", ClockState::Breached)
    );

    // The resolution target breaches separately and raises the level again.
    let done = tick(&db, T0 + 4 * H);
    assert_eq!(done.breaches, 1);
    let breached = of_kind(&db, id, "sla_breached");
    assert_eq!(breached[1].0, T0 + 4 * H);
    assert_eq!(breached[1].1.as_deref(), Some("resolution"));
    let t = ticket(&db, id);
    assert_eq!((t.escalation_level, t.priority.as_str()), (2, "urgent"));
    assert_eq!(t.sla_next_at, None, "nothing left to look at");
    // A late reply is recorded as missed, not met.
    reply(&db, id, lead, None, T0 + 5 * H);
    assert_eq!(
        states(&db, id, T0 + 5 * H)[0],
        ("first_response", ClockState::Missed)
    );
}

#[test]
fn pending_pauses_the_resolution_clock_and_the_first_reply_stops_the_other() {
    let (db, _g) = test_db();
    let (agent, _) = staff(&db, "a1@example.com", Role::Agent, &[]);
    policy(
        &db,
        "Default",
        None,
        None,
        ["1h", "1h", "1h", "1h"],
        ["4h", "4h", "4h", "4h"],
        ESCALATE_ONLY,
    );
    let id = open(&db, None, Priority::Low, Channel::Web, T0);
    // Answered after 10 minutes, waiting for the customer.
    reply(&db, id, agent, Some(Status::Pending), T0 + 10 * MIN);
    let t = ticket(&db, id);
    assert_eq!(t.first_responded_at, Some(T0 + 10 * MIN));
    assert_eq!(t.resolution_due_at, None);
    assert_eq!(t.resolution_remaining_ms, Some(4 * H - 10 * MIN));
    assert_eq!(t.sla_next_at, None, "nothing can breach while paused");
    assert_eq!(
        states(&db, id, T0 + 5 * H),
        [
            ("first_response", ClockState::Met),
            ("resolution", ClockState::Paused)
        ]
    );
    assert_eq!(tick(&db, T0 + 10 * H).breaches, 0);

    // The customer answers ten hours later: the clock resumes where it stopped.
    let customer = ticket(&db, id).requester_id;
    db.write(|c| ops::customer_message(c, id, customer, Body::text("Still broken."), T0 + 10 * H))
        .unwrap();
    let due = T0 + 10 * H + 4 * H - 10 * MIN;
    let t = ticket(&db, id);
    assert_eq!(t.status, "open");
    assert_eq!(t.resolution_due_at, Some(due));
    assert_eq!(t.resolution_remaining_ms, None);
    assert_eq!(tick(&db, due - 1).breaches, 0);
    assert_eq!(tick(&db, due).breaches, 1);
    assert_eq!(of_kind(&db, id, "sla_breached")[0].0, due);
    assert_eq!(
        of_kind(&db, id, "sla_breached")[0].1.as_deref(),
        Some("resolution")
    );
}

#[test]
fn business_hours_holidays_and_time_zones_shape_due_times() {
    let (db, _g) = test_db();
    let input = CalendarInput::weekdays(
        "Berlin office",
        "Europe/Berlin",
        "09:00-17:00",
        "2026-01-12 Company day",
    );
    let cal = db
        .write(|c| policy::save_calendar(c, None, &input, T0).map_err(DbError::from))
        .unwrap()
        .unwrap();
    policy(
        &db,
        "Office hours",
        None,
        Some(cal),
        ["", "2h", "", ""],
        ["", "16h", "", ""],
        ESCALATE_ONLY,
    );
    // Friday 2026-01-09 16:00 in Berlin (15:00 UTC): one hour left that day,
    // then Monday 2026-01-12 is a holiday; due Tuesday 10:00 Berlin (09:00 UTC).
    let friday = T0 + 4 * 24 * H + 5 * H;
    let id = open(&db, None, Priority::Normal, Channel::Email, friday);
    let tuesday = T0 + 8 * 24 * H - H;
    let t = ticket(&db, id);
    assert_eq!(t.first_response_due_at, Some(tuesday));
    // 16 business hours: 1 on Friday, 8 on Tuesday, 7 on Wednesday → 16:00 Berlin.
    assert_eq!(t.resolution_due_at, Some(T0 + 9 * 24 * H + 5 * H));
    // Over the weekend the job finds nothing to do.
    assert_eq!(tick(&db, friday + 2 * 24 * H).breaches, 0);
    // Pages show the remaining business time, not calendar time: on
    // Saturday, Friday's hour is spent and Monday is a holiday, so one hour
    // (Tuesday 09:00-10:00) is left.
    let book = db.query(Book::load).unwrap();
    let t = ticket(&db, id);
    let v = clocks::view(&t, book.by_id(t.sla_policy_id.unwrap()), friday + 24 * H);
    assert_eq!(v[0].remaining_ms, Some(H));
    assert_eq!(v[0].state, ClockState::Ok);
    assert_eq!(tick(&db, tuesday).breaches, 1);
}

#[test]
fn agent_opened_tickets_have_no_first_response_clock_and_groups_pick_their_policy() {
    let (db, _g) = test_db();
    let vip = group(&db, "VIP");
    let other = group(&db, "Other");
    policy(
        &db,
        "Default",
        None,
        None,
        ["8h"; 4],
        [""; 4],
        ESCALATE_ONLY,
    );
    let vip_policy = policy(
        &db,
        "VIP",
        Some(vip),
        None,
        ["15m"; 4],
        [""; 4],
        ESCALATE_ONLY,
    );

    let by_agent = open(&db, Some(vip), Priority::Normal, Channel::Agent, T0);
    let t = ticket(&db, by_agent);
    assert_eq!(t.sla_policy_id, Some(vip_policy));
    assert_eq!((t.first_response_due_at, t.sla_next_at), (None, None));

    let mail = open(&db, Some(other), Priority::Normal, Channel::Email, T0);
    assert_eq!(ticket(&db, mail).first_response_due_at, Some(T0 + 8 * H));
    // Moving it to VIP gives it VIP's target, counted from creation.
    db.write(|c| {
        ops::assign(
            c,
            mail,
            helpdesk::tickets::Assignment {
                agent: None,
                group: Some(Some(vip)),
            },
            Actor::System,
            T0 + MIN,
        )
    })
    .unwrap();
    let t = ticket(&db, mail);
    assert_eq!(t.sla_policy_id, Some(vip_policy));
    assert_eq!(t.first_response_due_at, Some(T0 + 15 * MIN));
}

#[test]
fn a_ticket_resolved_after_its_due_time_gets_the_record_but_no_escalation() {
    let (db, _g) = test_db();
    policy(
        &db,
        "Default",
        None,
        None,
        ["1h"; 4],
        [""; 4],
        ESCALATE_ONLY,
    );
    let id = open(&db, None, Priority::Normal, Channel::Email, T0);
    // Resolved without a reply, but only after the target had passed (the
    // job had not run in between, e.g. the server was down).
    db.write(|c| {
        ops::resolve(
            c,
            id,
            Actor::System,
            helpdesk::tickets::csat::Survey::OFF,
            T0 + 2 * H,
        )
    })
    .unwrap();
    assert_eq!(ticket(&db, id).sla_next_at, Some(T0 + H));
    let done = tick(&db, T0 + 3 * H);
    assert_eq!((done.breaches, done.escalated), (1, 0));
    assert_eq!(of_kind(&db, id, "sla_breached")[0].0, T0 + H);
    assert!(of_kind(&db, id, "escalated").is_empty());
    assert_eq!(ticket(&db, id).sla_next_at, None);

    // Resolved in time: nothing to record, ever.
    let ok = open(&db, None, Priority::Normal, Channel::Email, T0);
    db.write(|c| {
        ops::resolve(
            c,
            ok,
            Actor::System,
            helpdesk::tickets::csat::Survey::OFF,
            T0 + 30 * MIN,
        )
    })
    .unwrap();
    assert_eq!(ticket(&db, ok).sla_next_at, None);
    assert_eq!(tick(&db, T0 + 10 * H).breaches, 0);
}

#[actix_web::test]
async fn the_api_shows_the_policy_and_each_clock() {
    let app = spawn_app().await;
    policy(
        &app.db,
        "Default",
        None,
        None,
        ["4h"; 4],
        ["2h"; 4],
        ESCALATE_ONLY,
    );
    let id = app.create_ticket("Printer on fire", None).await;
    let (status, j) = app.get_json(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, 200);
    let sla = &j["ticket"]["sla"];
    assert_eq!(sla["policy"]["name"], "Default", "{j}");
    assert_eq!(sla["clocks"][0]["target"], "first_response");
    assert_eq!(sla["clocks"][0]["state"], "ok");
    let left = sla["clocks"][0]["remaining_business_s"].as_i64().unwrap();
    assert!((4 * 3600 - 60..=4 * 3600).contains(&left), "{left}");
    assert_eq!(sla["clocks"][1]["target"], "resolution");
    assert!(j["ticket"]["first_response_due_at"].is_string());
    app.stop().await;
}

/// `serve` runs the job by itself: a ticket whose target passed while no
/// server ran gets its breach recorded within seconds of starting.
#[test]
fn serve_records_breaches_without_anyone_opening_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _g) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    policy(
        &db,
        "Default",
        None,
        None,
        ["1h"; 4],
        [""; 4],
        ESCALATE_ONLY,
    );
    let id = open(
        &db,
        None,
        Priority::Normal,
        Channel::Email,
        helpdesk::time::now_ms() - 2 * H,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .current_dir(dir.path())
        .arg("serve")
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_MAILDIRS")
        .env_remove("HELPDESK_SMTP_URL")
        .env("HELPDESK_LISTEN", "127.0.0.1:0")
        .env("HELPDESK_DATABASE_URL", &url)
        .env("HELPDESK_SECRET", "serve test secret")
        .env("HELPDESK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while of_kind(&db, id, "sla_breached").is_empty() {
        assert!(Instant::now() < deadline, "no breach recorded by serve");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(of_kind(&db, id, "escalated").len(), 1);
    // Let actix install its signal handler before asking it to stop.
    std::thread::sleep(Duration::from_millis(1000));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

/// Imported open tickets are timed like the others, and a breach the
/// history already holds is not recorded a second time.
#[test]
fn imported_open_tickets_get_clocks_and_keep_their_own_breaches() {
    let (db, _g) = test_db();
    policy(
        &db,
        "Default",
        None,
        None,
        ["1h"; 4],
        ["8h"; 4],
        ESCALATE_ONLY,
    );
    let lines = [
        // Breached in the old system already.
        r#"{"external_id": "A", "subject": "Old", "channel": "email", "priority": "normal",
            "requester": {"email": "ann@example.com"}, "created_at": "2026-01-05T10:00:00Z", "body": "x",
            "events": [{"at": "2026-01-05T11:00:00Z", "type": "sla_breached", "target": "first_response"}]}"#,
        r#"{"external_id": "B", "subject": "Fresh", "channel": "email", "priority": "normal",
            "requester": {"email": "bob@example.com"}, "created_at": "2026-01-05T10:00:00Z", "body": "y", "events": []}"#,
    ];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), lines.map(|l| l.replace('\n', " ")).join("\n")).unwrap();
    let opts = helpdesk::import::Options {
        batch_size: 100,
        progress: false,
        writers: Some(1),
    };
    helpdesk::import::import_file(&db, file.path(), &opts, |n, m| panic!("line {n}: {m}")).unwrap();
    let id_of = |ext: &str| -> i64 {
        db.query(|c| {
            tickets::table
                .filter(tickets::external_id.eq(ext))
                .select(tickets::id)
                .first(c)
        })
        .unwrap()
    };
    let (a, b) = (id_of("A"), id_of("B"));
    assert_eq!(ticket(&db, a).first_response_due_at, Some(T0 + H));
    assert_eq!(ticket(&db, a).first_response_breached_at, Some(T0 + H));
    assert_eq!(ticket(&db, b).first_response_due_at, Some(T0 + H));
    let done = tick(&db, T0 + 2 * H);
    assert_eq!(done.breaches, 1, "only B's breach is new");
    assert_eq!(of_kind(&db, a, "sla_breached").len(), 1);
    assert_eq!(of_kind(&db, b, "sla_breached").len(), 1);
}

/// The ticket page and the queue show each clock with its colour: ok,
/// warning once 80 % is used, breached past the due time.
#[actix_web::test]
async fn pages_show_the_clocks_with_their_colour() {
    let app = spawn_app().await;
    let support = group(&app.db, "Support");
    staff(&app.db, "a1@example.com", Role::Agent, &["Support"]);
    policy(
        &app.db,
        "Standard",
        None,
        None,
        ["1h"; 4],
        ["10h"; 4],
        ESCALATE_ONLY,
    );
    let now = helpdesk::time::now_ms();
    let fresh = open(
        &app.db,
        Some(support),
        Priority::Normal,
        Channel::Email,
        now,
    );
    let warm = open(
        &app.db,
        Some(support),
        Priority::Normal,
        Channel::Email,
        now - 55 * MIN,
    );
    let late = open(
        &app.db,
        Some(support),
        Priority::Normal,
        Channel::Email,
        now - 2 * H,
    );
    let mut b = crate::helpers::Browser::new(&app);
    b.login("a1@example.com").await;

    let p = b.get(&format!("/tickets/{fresh}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("data-sla=\"ok\""), "{}", p.body);
    assert!(p.body.contains("business time left"));
    assert!(p.body.contains("SLA: Standard"));
    let p = b.get(&format!("/tickets/{warm}")).await;
    assert!(p.body.contains("data-sla=\"warning\""));
    let p = b.get(&format!("/tickets/{late}")).await;
    assert!(p.body.contains("data-sla=\"breached\""));
    assert!(p.body.contains("First response overdue since"));

    let q = b.get("/tickets?sort=due").await;
    assert_eq!(q.status, 200);
    let pos = |id: i64| q.body.find(&format!("href=\"/tickets/{id}\"")).unwrap();
    assert!(
        pos(late) < pos(warm) && pos(warm) < pos(fresh),
        "soonest due first"
    );
    for class in ["sla-ok", "sla-warning", "sla-breached"] {
        assert!(q.body.contains(class), "{class}");
    }
    app.stop().await;
}
